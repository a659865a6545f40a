#!/usr/bin/env bash
# ViT-B/16 forward throughput: Tessera vs timm (PyTorch CPU) on the same random-weight
# checkpoint, in the same run.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-vit.sh
# Needs a Python with torch and timm (see Tests/Reference/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SECONDS_EACH=${SECONDS_EACH:-8}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$PYTHON" Scripts/bench_vit.py --save "$dir/vit"
swift build -c release --product tessera >/dev/null
ours=$(.build/release/tessera bench vit --model "$dir/vit" --json --seconds "$SECONDS_EACH")
theirs=$("$PYTHON" Scripts/bench_vit.py --model "$dir/vit" --seconds "$SECONDS_EACH")
"$PYTHON" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
g, peak = a["gflop_per_image"], a["sgemm_gflops"]
print(f"{a['architecture']}: {g:.1f} GFLOP/image; SGEMM peak measured here {peak:.0f} GFLOP/s; "
      f"{a['threads']} threads; torch {b['torch']}, timm {b['timm']}")
print(f"{'batch':>5} {'tessera img/s':>14} {'timm img/s':>11} {'ratio':>6} {'tessera GFLOP/s':>16} {'% of SGEMM':>11} {'timm GFLOP/s':>13}")
for ra, rb in zip(a["results"], b["results"]):
    ia, ib = ra["images_per_s"], rb["images_per_s"]
    print(f"{ra['batch']:>5} {ia:14.2f} {ib:11.2f} {ia / ib:5.2f}x {ia * g:16.1f} {100 * ia * g / peak:10.0f}% {ib * g:13.1f}")
print(f"peak RSS: tessera {a['peak_rss_mb']:.0f} MB, python {b['peak_rss_mb']:.0f} MB")
PY
