#!/usr/bin/env bash
# Quantizer throughput: Tessera vs vector-quantize-pytorch (CPU), same sizes, same run.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-quantize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
swift build -c release --product tessera >/dev/null
ours=$(.build/release/tessera bench quantize --json)
theirs=$("$PYTHON" Scripts/bench_quantize.py)
"$PYTHON" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'vectors/s':24}{'tessera':>14}{'pytorch':>14}{'ratio':>8}")
for key in ["vq_16384x256", "vq_262144x8", "fsq_888555", "lfq_16"]:
    print(f"{key:24}{a[key]:14.0f}{b[key]:14.0f}{a[key] / b[key]:7.2f}x")
print(f"peak RSS: tessera {a['peak_rss_mb']:.0f} MB, pytorch {b['peak_rss_mb']:.0f} MB")
PY
