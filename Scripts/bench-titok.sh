#!/usr/bin/env bash
# TiTok encode/decode throughput: Tessera vs the PyTorch reference on the same random-weight
# S-128 and L-32 checkpoints (official layout and shapes), in the same run.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-titok.sh [titok_s128 titok_l32 …]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SECONDS_EACH=${SECONDS_EACH:-5}
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(titok_s128 titok_l32)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
swift build -c release --product tessera >/dev/null
for name in "${models[@]}"; do
  "$PYTHON" Scripts/bench_titok.py --save "$name" "$dir/$name"
  ours=$(.build/release/tessera bench titok --model "$dir/$name" --json --seconds "$SECONDS_EACH")
  theirs=$("$PYTHON" Scripts/bench_titok.py --model "$dir/$name" --seconds "$SECONDS_EACH")
  "$PYTHON" - "$name" "$ours" "$theirs" <<'PY'
import json, sys
name, a, b = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{name} ({a['threads']} threads, torch {b['torch']})")
print(f"{'batch':>5} {'stage':>7} {'tessera ms':>11} {'torch ms':>9} {'ratio':>6} {'tessera img/s':>14}")
for ra, rb in zip(a["results"], b["results"]):
    for stage in ("encode", "decode"):
        ta, tb = ra[f"{stage}_ms"], rb[f"{stage}_ms"]
        print(f"{ra['batch']:>5} {stage:>7} {ta:11.1f} {tb:9.1f} {tb / ta:5.2f}x {ra[f'{stage}_images_per_s']:14.2f}")
print(f"peak RSS: tessera {a['peak_rss_mb']:.0f} MB, torch {b['peak_rss_mb']:.0f} MB")
PY
  rm -rf "$dir/$name"
done
