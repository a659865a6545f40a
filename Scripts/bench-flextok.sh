#!/usr/bin/env bash
# FlexTok encode/decode: Tessera vs the official apple/ml-flextok code on the same random-weight
# d12_d12-sized checkpoint (published layout, 1.4 GB, written to a temporary folder), same run,
# upstream's README decoding settings (20 steps, guidance 7.5, APG), batch 1 and 4. Encoding is the
# mean of runs over 10 s on both sides (after a warm-up); each decode runs once.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-flextok.sh
# Needs the official code as a git mirror (FLEXTOK_REPO, default /work/.mirror/apple+ml-flextok/repo)
# and torch, diffusers, hydra-core, einops, mup, safetensors. Takes about 15 minutes on 2 cores (ROUNDS=1: 8).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
REPO=${FLEXTOK_REPO:-/work/.mirror/apple+ml-flextok/repo}
export TESSERA_THREADS=${TESSERA_THREADS:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
swift build -c release --product tessera >/dev/null
"$PYTHON" Scripts/bench_flextok.py --flextok-repo "$REPO" --save "$dir/d12_d12"
# The two sides alternate, ROUNDS times (default 2), so a noisy machine slows both alike; each row
# reports the mean over rounds and every round's own ratio.
ours=() theirs=()
for _ in $(seq "${ROUNDS:-2}"); do
  ours+=("$(.build/release/tessera bench tokenizer --model "$dir/d12_d12" --batch 1 --batch 4 --seconds 10 \
    --no-warm-up --json)")
  theirs+=("$("$PYTHON" Scripts/bench_flextok.py --flextok-repo "$REPO" --model "$dir/d12_d12" --batch 1 4 \
    --seconds 10 2>/dev/null)")
done
"$PYTHON" - "${#ours[@]}" "${ours[@]}" "${theirs[@]}" <<'PY'
import json, sys
n = int(sys.argv[1])
ours, theirs = [json.loads(r) for r in sys.argv[2:2 + n]], [json.loads(r) for r in sys.argv[2 + n:]]
a, b = ours[0], theirs[0]
peak = max(r["sgemm_peak_gflops"] for r in ours)
print(f"FlexTok d12_d12 ({a['threads']} threads, {a['blas']}, SGEMM peak {peak:.0f} GFLOP/s; torch {b['torch']}; "
      f"{n} alternating rounds)")
print(f"{'batch':>5} {'stage':>7} {'tessera s':>10} {'official s':>11} {'ratio':>6} {'per round':>16} "
      f"{'tessera GFLOP/s':>16}")
for i, row in enumerate(a["results"]):
    for stage in ("encode", "decode"):
        ta = [r["results"][i][f"{stage}_ms"] / 1000 for r in ours]
        tb = [r["results"][i][f"{stage}_ms"] / 1000 for r in theirs]
        g = sum(r["results"][i].get(f"{stage}_gflops") or 0 for r in ours) / n
        rounds = " ".join(f"{y / x:.2f}" for x, y in zip(ta, tb))
        print(f"{row['batch']:>5} {stage:>7} {sum(ta) / n:10.2f} {sum(tb) / n:11.2f} {sum(tb) / sum(ta):5.2f}x "
              f"{rounds:>16} {g:16.0f}")
print(f"peak RSS: tessera {max(r['peak_rss_mb'] for r in ours):.0f} MB, "
      f"official {max(r['peak_rss_mb'] for r in theirs):.0f} MB")
PY
