#!/usr/bin/env bash
# Resource bounds under load (issue 15): a batch job over a folder with a huge JPEG under the pixel
# limit, a 2-hour video (sampled, and held whole by a clip tokenizer until the memory limit refuses
# it), many tiny files, and an output disk that fills up mid-job (then --resume). Prints peak RSS
# and wall time of each; the disk case needs root (a small tmpfs) and is skipped otherwise.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/soak.sh [TINY_FILES]     # default 25000
# Needs numpy, Pillow and PyAV to write the inputs; takes about 8 minutes on 2 cores at the default.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tiny=${1:-25000}
swift build -c release --product tessera >/dev/null
tessera=$PWD/.build/release/tessera
model=$PWD/Assets/models/titok-demo
dir=$(mktemp -d)
trap 'mountpoint -q "$dir/small" && umount "$dir/small"; rm -rf "$dir"' EXIT
mkdir -p "$dir/big" "$dir/tiny" "$dir/video"
"$PYTHON" - "$dir" "$tiny" <<'PY'
import sys
import av
import numpy as np
from PIL import Image
root, tiny = sys.argv[1], int(sys.argv[2])
side = 13000  # 169 M pixels: just under the 179 M pixel limit
x = np.linspace(0, 255, side, dtype=np.float32)
row = np.stack([x, x[::-1], np.full(side, 128, np.float32)], -1).astype(np.uint8)
Image.fromarray(np.ascontiguousarray(np.broadcast_to(row[None], (side, side, 3)))).save(f"{root}/big/huge.jpg", quality=60)
video = av.open(f"{root}/video/two-hours.mp4", "w")  # 180,000 frames of 64x48 at 25 fps
stream = video.add_stream("libx264", rate=25)
stream.width, stream.height, stream.pix_fmt, stream.options = 64, 48, "yuv420p", {"preset": "ultrafast", "g": "250"}
frame = np.zeros((48, 64, 3), np.uint8)
for i in range(2 * 3600 * 25):
    frame[..., 0], frame[..., 1] = i % 256, i // 256 % 256
    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        video.mux(packet)
for packet in stream.encode():
    video.mux(packet)
video.close()
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
  printf '%-44s %8ss %8.0f MB  %s\n' "$label" "$wall" "$((kb / 1024))" "$(grep -iE 'error|image\(s\)|wrote' "$dir/log" | tail -1 | cut -c1-110)"
}

measure "13000² JPEG + the demo images" "$tessera" encode --model "$model" "$dir/big" -o "$dir/out-big"
long=$dir/video/two-hours.mp4 emu3=$PWD/Tests/Fixtures/vqgan/emu3
measure "2-hour video, --uniform 16" "$tessera" encode --model "$model" "$long" --uniform 16 -o "$dir/u.jsonl"
measure "2-hour video, --fps 0.1 (720 frames)" "$tessera" encode --model "$model" "$long" --fps 0.1 -o "$dir/f.jsonl"
measure "2-hour video, one Emu3 clip, 1 GiB limit" \
  "$tessera" encode --model "$emu3" "$long" -o "$dir/clip.jsonl" --memory-limit 1G
measure "2-hour video, Emu3 clips of 8 of 64 frames" \
  "$tessera" encode --model "$emu3" "$long" --uniform 64 --clip-frames 8 -o "$dir/clips.jsonl"
measure "$tiny tiny PNGs" "$tessera" encode --model "$model" "$dir/tiny" -o "$dir/out-tiny"

if [ "$(id -u)" = 0 ]; then
  # At most 25,000 of the tiny files: the case runs the job three times.
  mkdir -p "$dir/small" "$dir/disk"
  find "$dir/tiny" -name "*.png" | sort >"$dir/list"  # (head on the pipe would trip pipefail)
  head -25000 "$dir/list" | xargs cp -t "$dir/disk"
  mount -t tmpfs -o size=300k tmpfs "$dir/small"
  measure "disk full mid-job (300 KB)" "$tessera" encode --model "$model" "$dir/disk" -o "$dir/small/out" --shard-size 4K
  committed=$(wc -l <"$dir/small/out/shards.jsonl")
  mount -o remount,size=200m "$dir/small"
  measure "--resume after freeing space ($committed shards kept)" \
    "$tessera" encode --model "$model" "$dir/disk" -o "$dir/small/out" --shard-size 4K --resume
  "$tessera" encode --model "$model" "$dir/disk" -o "$dir/clean" --shard-size 4K >/dev/null 2>&1
  if [ "$(cat "$dir"/small/out/shard-*.jsonl | sort | md5sum)" = "$(cat "$dir"/clean/shard-*.jsonl | sort | md5sum)" ]; then
    echo "resumed shards are identical to a clean run's"
  else
    echo "resumed shards DIFFER from a clean run's" >&2
    exit 1
  fi
else
  echo "disk-full case skipped (needs root for a small tmpfs)"
fi
