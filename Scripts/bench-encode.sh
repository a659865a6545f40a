#!/usr/bin/env bash
# End-to-end batch tokenization (read + hash + decode + preprocess + encode + write shards and
# manifest) with the bundled demo model: `tessera encode DIR -o FOLDER` vs an equivalent
# PyTorch + Pillow DataLoader script, on the same files in the same run.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-encode.sh [copies-of-each-demo-image]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
COPIES=${1:-100}
MODEL=Assets/models/titok-demo
swift build -c release --product tessera >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in"
for i in $(seq -w 1 "$COPIES"); do
  for f in Assets/images/*; do cp "$f" "$work/in/${i}_$(basename "$f")"; done
done
n=$(ls "$work/in" | wc -l)
cores=$(nproc)
measure() {   # prints "seconds cpu-seconds"
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$work/time"
}
# Warm the page cache so both read the files from memory.
cat "$work/in"/* >/dev/null
read -r t_sec t_cpu < <(measure .build/release/tessera encode "$work/in" -o "$work/tessera" --model "$MODEL")
read -r p_sec p_cpu < <(measure "$PYTHON" Scripts/bench_encode.py --model "$MODEL" --workers "$cores" "$work/in" "$work/torch")
"$PYTHON" - "$n" "$cores" "$t_sec" "$t_cpu" "$p_sec" "$p_cpu" "$work" <<'PY'
import json, sys
n, cores = int(sys.argv[1]), int(sys.argv[2])
t_sec, t_cpu, p_sec, p_cpu = map(float, sys.argv[3:7])
work = sys.argv[7]
ours = [json.loads(l) for l in open(f"{work}/tessera/shard-00000.jsonl")]
theirs = [json.loads(l) for l in open(f"{work}/torch/shard-00000.jsonl")]
same = sum(a["ids"] == b["ids"] for a, b in zip(ours, theirs))
print(f"{n} images (demo TiTok, 128², 32 tokens), {cores} cores, wall time incl. model load")
print(f"{'':>22} {'images/s':>9} {'seconds':>8} {'CPU util':>9}")
print(f"{'tessera encode':>22} {n / t_sec:9.1f} {t_sec:8.2f} {100 * t_cpu / t_sec / cores:8.0f}%")
print(f"{'PyTorch + Pillow':>22} {n / p_sec:9.1f} {p_sec:8.2f} {100 * p_cpu / p_sec / cores:8.0f}%")
print(f"ratio {p_sec / t_sec:.2f}x; identical ids for {same}/{len(ours)} images")
PY
