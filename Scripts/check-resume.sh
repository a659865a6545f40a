#!/usr/bin/env bash
# Kills `tessera encode` with SIGKILL (and once with Ctrl-C) at random moments, resumes it
# until it finishes, and checks the output folder is byte-for-byte the one an uninterrupted
# run writes.   bash Scripts/check-resume.sh [format] [kills]
set -euo pipefail
cd "$(dirname "$0")/.."
FORMAT=${1:-jsonl}
KILLS=${2:-10}
swift build -c release --product tessera >/dev/null
T=$PWD/.build/release/tessera
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$work/in"
for i in $(seq -w 1 150); do
  for f in Assets/images/*; do cp "$f" "$work/in/${i}_$(basename "$f")"; done
done
cp Assets/video/sample.mp4 "$work/in/070_clip.mp4"
echo "not an image" > "$work/in/100_corrupt.jpg"
n=$(ls "$work/in" | wc -l)
args=(encode "$work/in" --format "$FORMAT" --shard-samples 7 --uniform 4 --batch 4)
"$T" "${args[@]}" -o "$work/ref" 2>/dev/null || true
echo "reference: $n inputs, $(ls "$work/ref" | wc -l) files"
set -m   # job control: background runs must not ignore Ctrl-C
kills=0
interrupted=0
while :; do
  "$T" "${args[@]}" -o "$work/run" --resume 2>>"$work/log" &
  pid=$!
  sleep "$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.2f", 0.05 + rand() * 0.5 }')"
  if kill -0 $pid 2>/dev/null; then
    if [ $interrupted -eq 0 ]; then kill -INT $pid || true; interrupted=1; else kill -9 $pid || true; kills=$((kills + 1)); fi
  fi
  wait $pid 2>/dev/null && status=0 || status=$?
  done_inputs=$(tail -n 1 "$work/run/shards.jsonl" 2>/dev/null | sed -E 's/.*"inputs":\[[0-9]+,([0-9]+)\].*/\1/' || true)
  echo "run ended with status $status after ${done_inputs:-0}/$n inputs"
  if [ "${done_inputs:-0}" = "$n" ] || [ $kills -ge "$KILLS" ]; then break; fi
done
"$T" "${args[@]}" -o "$work/run" --resume 2>/dev/null || true
if diff -r "$work/ref" "$work/run" >/dev/null; then
  echo "OK: $kills SIGKILLs + 1 Ctrl-C, resumed output identical to the uninterrupted run ($(ls "$work/run" | wc -l) files)"
else
  diff -r "$work/ref" "$work/run" | head -20 || true
  echo "FAIL: resumed output differs"
  exit 1
fi
