#!/usr/bin/env bash
# Resource bounds under load (issue 15): a batch job over a folder with a huge JPEG under the pixel
# limit, many tiny files, and an output disk that fills up mid-job (then --resume). Prints peak RSS
# and wall time of each; the disk case needs root (a small tmpfs) and is skipped otherwise.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/soak.sh [TINY_FILES]     # default 25000
# Needs numpy and Pillow to write the inputs; takes about 7 minutes on 2 cores at the default.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tiny=${1:-25000}
swift build -c release --product tessera >/dev/null
tessera=$PWD/.build/release/tessera
model=$PWD/Assets/models/titok-demo
dir=$(mktemp -d)
trap 'mountpoint -q "$dir/small" && umount "$dir/small"; rm -rf "$dir"' EXIT
mkdir -p "$dir/big" "$dir/tiny"
"$PYTHON" - "$dir" "$tiny" <<'PY'
import sys
import numpy as np
from PIL import Image
root, tiny = sys.argv[1], int(sys.argv[2])
side = 13000  # 169 M pixels: just under the 179 M pixel limit
x = np.linspace(0, 255, side, dtype=np.float32)
row = np.stack([x, x[::-1], np.full(side, 128, np.float32)], -1).astype(np.uint8)
Image.fromarray(np.ascontiguousarray(np.broadcast_to(row[None], (side, side, 3)))).save(f"{root}/big/huge.jpg", quality=60)
rng = np.random.default_rng(0)
for i in range(tiny):
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(f"{root}/tiny/t{i:06d}.png")
PY
cp Assets/images/* "$dir/big/"

measure() {  # label, then the command: prints wall time and peak RSS
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$dir/time" "$@" >"$dir/log" 2>&1 || true
  read -r wall kb < <(tail -1 "$dir/time")  # after "Command exited with non-zero status" if it failed
  printf '%-44s %8ss %8.0f MB  %s\n' "$label" "$wall" "$((kb / 1024))" "$(grep -E 'Error|image\(s\)' "$dir/log" | tail -1)"
}

measure "13000² JPEG + the demo images" "$tessera" encode --model "$model" "$dir/big" -o "$dir/out-big"
measure "$tiny tiny PNGs" "$tessera" encode --model "$model" "$dir/tiny" -o "$dir/out-tiny"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$dir/small"
  mount -t tmpfs -o size=300k tmpfs "$dir/small"
  measure "disk full mid-job (300 KB)" "$tessera" encode --model "$model" "$dir/tiny" -o "$dir/small/out" --shard-size 4K
  committed=$(wc -l <"$dir/small/out/shards.jsonl")
  mount -o remount,size=200m "$dir/small"
  measure "--resume after freeing space ($committed shards kept)" \
    "$tessera" encode --model "$model" "$dir/tiny" -o "$dir/small/out" --shard-size 4K --resume
  "$tessera" encode --model "$model" "$dir/tiny" -o "$dir/clean" --shard-size 4K >/dev/null 2>&1
  if [ "$(cat "$dir"/small/out/shard-*.jsonl | sort | md5sum)" = "$(cat "$dir"/clean/shard-*.jsonl | sort | md5sum)" ]; then
    echo "resumed shards are identical to a clean run's"
  else
    echo "resumed shards DIFFER from a clean run's" >&2
    exit 1
  fi
else
  echo "disk-full case skipped (needs root for a small tmpfs)"
fi
