#!/usr/bin/env bash
# The LM image tokenizers (Chameleon's VQ at 512², Janus-Pro's VQ-16 at 384², Emu3's VQ-VAE at 512²):
# Tessera vs transformers on the same random-weight checkpoints at the published sizes, same run,
# batch 1 and 8 (Emu3: 1 and 2), encode; Janus also decode; Emu3 also encodes an 8-frame 256² clip
# and decodes its codes back to 8 frames. chameleon_original is the original Chameleon release
# (facebookresearch/chameleon's own VQModel, which has the decoder: encode and decode), run when
# CHAMELEON_REPO (default /work/.mirror/facebookresearch+chameleon/repo) is a git mirror of it.
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-lm-tokenizers.sh
# Needs torch and transformers (5.x). Takes about 35 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export TESSERA_THREADS=${TESSERA_THREADS:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
swift build -c release --product tessera >/dev/null
"$PYTHON" Scripts/bench_lm_tokenizers.py --save "$dir"
for model in ${MODELS:-chameleon chameleon_original janus emu3}; do
  [ -d "$dir/$model" ] || { echo "$model: skipped (no checkpoint; see CHAMELEON_REPO)"; continue; }
  batches=(1 8) clip=()
  # Emu3's encoder is ~10× heavier (base 256 at full resolution); it also encodes an 8-frame 256² clip.
  [ "$model" = emu3 ] && batches=(1 2) clip=(--clip-frames 8 --clip-size 256)
  ours=$(.build/release/tessera bench tokenizer --model "$dir/$model" --batch "${batches[0]}" --batch "${batches[1]}" \
    --seconds 4 --json "${clip[@]}")
  theirs=$("$PYTHON" Scripts/bench_lm_tokenizers.py --model "$dir/$model" --batch "${batches[@]}" "${clip[@]}" \
    2>/dev/null)
  "$PYTHON" - "$model" "$ours" "$theirs" <<'PY'
import json, sys
name, a, b = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{name} ({a['threads']} threads, {a['blas']}, SGEMM peak {a['sgemm_peak_gflops']:.0f} GFLOP/s; "
      f"torch {b['torch']})")
print(f"{'batch':>5} {'stage':>7} {'tessera img/s':>14} {'reference img/s':>16} {'ratio':>6} {'GFLOP/s':>8}")
for ra, rb in zip(a["results"], b["results"]):
    for stage in ("encode", "decode"):
        if f"{stage}_ms" not in rb or ra.get(f"{stage}_ms") is None:
            continue
        ta, tb = ra[f"{stage}_images_per_s"], rb[f"{stage}_images_per_s"]
        g = ra.get(f"{stage}_gflops") or 0
        print(f"{ra['batch']:>5} {stage:>7} {ta:14.2f} {tb:16.2f} {ta / tb:5.2f}x {g:8.0f}")
ca, cb = a.get("clip"), b.get("clip")
if ca and cb:
    print(f"clip of {ca['frames']} frames at {ca['size']}²: encode tessera {ca['frames_per_s']:.2f} frames/s, "
          f"reference {cb['frames_per_s']:.2f} frames/s, {ca['frames_per_s'] / cb['frames_per_s']:.2f}x")
    if ca.get("decode_frames_per_s") and cb.get("decode_frames_per_s"):
        da, db = ca["decode_frames_per_s"], cb["decode_frames_per_s"]
        print(f"  decode back to {ca['frames']} frames: tessera {da:.3f} frames/s, reference {db:.3f} frames/s, "
              f"{da / db:.2f}x")
print(f"peak RSS: tessera {a['peak_rss_mb']:.0f} MB, reference {b['peak_rss_mb']:.0f} MB")
PY
done
