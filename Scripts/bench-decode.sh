#!/usr/bin/env bash
# Decode + preprocess throughput: Tessera vs Pillow/torchvision and PyAV, same files, same run.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-decode.sh [images…]
# Needs a Python with pillow and av (torchvision optional) — see Tests/Reference/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SIZE=${SIZE:-256}
REPEATS=${REPEATS:-4}
VIDEO=${VIDEO:-Assets/video/sample.mp4}
if [ $# -gt 0 ]; then images=("$@"); else images=(Assets/images/*.png Assets/images/*.jpg); fi
swift build -c release --product tessera >/dev/null
ours=$(.build/release/tessera bench decode --json --size "$SIZE" --repeats "$REPEATS" --video "$VIDEO" "${images[@]}")
theirs=$("$PYTHON" Scripts/bench_decode.py --size "$SIZE" --repeats "$REPEATS" --video "$VIDEO" "${images[@]}")
"$PYTHON" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{a['images']} images, resize shorter side + centre crop {a['size']}, {a['cores']} cores; reference resize by {b['resize_by']}")
print(f"{'':34}{'tessera':>12}{'python':>12}{'ratio':>8}")
for key, label in [("sequential_images_per_s", "images/s, 1 thread"), ("parallel_images_per_s", "images/s, all cores"),
                   ("video_frames_per_s", "video frames/s (decode + RGB)")]:
    if key in a and key in b:
        print(f"{label:34}{a[key]:12.1f}{b[key]:12.1f}{a[key] / b[key]:7.2f}x")
PY
