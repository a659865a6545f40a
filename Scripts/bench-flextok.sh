#!/usr/bin/env bash
# FlexTok encode/decode: Tessera vs the official apple/ml-flextok code on the same random-weight
# d12_d12-sized checkpoint (published layout, 1.4 GB, written to a temporary folder), same run,
# upstream's README decoding settings (20 steps, guidance 7.5, APG), batch 1 and 4. Encoding is the
# mean of runs over 10 s on both sides (after a warm-up); each decode runs once.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-flextok.sh
# Needs the official code as a git mirror (FLEXTOK_REPO, default /work/.mirror/apple+ml-flextok/repo)
# and torch, diffusers, hydra-core, einops, mup, safetensors. Takes about 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
REPO=${FLEXTOK_REPO:-/work/.mirror/apple+ml-flextok/repo}
export TESSERA_THREADS=${TESSERA_THREADS:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
swift build -c release --product tessera >/dev/null
"$PYTHON" Scripts/bench_flextok.py --flextok-repo "$REPO" --save "$dir/d12_d12"
ours=$(.build/release/tessera bench tokenizer --model "$dir/d12_d12" --batch 1 --batch 4 --seconds 10 --no-warm-up --json)
theirs=$("$PYTHON" Scripts/bench_flextok.py --flextok-repo "$REPO" --model "$dir/d12_d12" --batch 1 4 --seconds 10 2>/dev/null)
"$PYTHON" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"FlexTok d12_d12 ({a['threads']} threads, {a['blas']}, SGEMM peak {a['sgemm_peak_gflops']:.0f} GFLOP/s; "
      f"torch {b['torch']})")
print(f"{'batch':>5} {'stage':>7} {'tessera s':>10} {'official s':>11} {'ratio':>6} {'tessera GFLOP/s':>16}")
for ra, rb in zip(a["results"], b["results"]):
    for stage in ("encode", "decode"):
        ta, tb = ra[f"{stage}_ms"] / 1000, rb[f"{stage}_ms"] / 1000
        g = ra.get(f"{stage}_gflops") or 0
        print(f"{ra['batch']:>5} {stage:>7} {ta:10.2f} {tb:11.2f} {tb / ta:5.2f}x {g:16.0f}")
print(f"peak RSS: tessera {a['peak_rss_mb']:.0f} MB, official {b['peak_rss_mb']:.0f} MB")
PY
