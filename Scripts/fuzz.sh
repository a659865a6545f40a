#!/usr/bin/env bash
# Coverage-guided fuzzing of one input kind with libFuzzer (Fuzz/FuzzTargets.swift).
#   bash Scripts/fuzz.sh TARGET [SECONDS]     # default 60 s
#   bash Scripts/fuzz.sh all [SECONDS]        # every target in turn
# Targets: image video npy safetensors torch tokens vocabulary quantizer quantizer-spec model-config.
# Seeds come from the committed fixtures; the growing corpus lives in .build/fuzz/corpus/TARGET and
# anything that crashes, hangs (20 s) or passes 2 GB of memory is saved as
# .build/fuzz/crashes/TARGET-*: rerun one with `bash Scripts/fuzz.sh TARGET --reproduce FILE`, minimize
# it, commit it under Tests/Fixtures/hostile and add a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: Scripts/fuzz.sh TARGET [SECONDS | --reproduce FILE]}
seconds=${2:-60}
root=.build/fuzz
swift build -c release --product tessera-fuzz --scratch-path "$root/build" \
  -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -DTESSERA_FUZZ \
  -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >&2
binary="$root/build/release/tessera-fuzz"
export TESSERA_REPO=$PWD SWIFT_BACKTRACE=enable=no TESSERA_THREADS=1

if [ "$seconds" = --reproduce ]; then
  TESSERA_FUZZ_TARGET=$target exec "$binary" "${3:?a crash file}"
fi

# Seeds: files of the fixtures that this target reads (the model configs with their selector byte).
seeds() {
  local dir=$root/seeds/$1
  rm -rf "$dir" && mkdir -p "$dir"
  case $1 in
    image) cp Tests/Fixtures/media/images/*.{png,jpg} Assets/images/* "$dir"/ 2>/dev/null || true ;;
    video) find Tests/Fixtures/media -name '*.mp4' -size -300k -exec cp {} "$dir"/ \; ;;
    npy) find Tests/Fixtures -name '*.npy' -size -64k -exec cp --backup=numbered {} "$dir"/ \; ;;
    safetensors) find Tests/Fixtures -name '*.safetensors' -size -64k -exec cp --backup=numbered {} "$dir"/ \; ;;
    torch)
      find Tests/Fixtures \( -name '*.pt' -o -name '*.bin' -o -name '*.ckpt' \) -size -2048k \
        -exec cp --backup=numbered {} "$dir"/ \; ;;
    tokens)
      local i=0
      for f in Tests/Fixtures/hostile/tokens/*.jsonl $(find Tests/Fixtures/streams -name '*.jsonl' -size -16k); do
        { printf '\x00'; cat "$f"; } > "$dir/seed$((i++))"
      done ;;
    vocabulary)  # as `tessera tokens vocabulary --from-model Tests/Fixtures/vqgan/chameleon` writes it
      printf '%s' '{"codebook_sizes": [512], "layout": "chameleon", "lm_vocabulary_size": 524, "offset": 4,
        "special": {"image_end": 516, "image_start": 517},
        "text": {"image_end": "<eoss>", "image_start": "<racm3:break>", "visual": "IMGIMG%AZ"}}' > "$dir/chameleon" ;;
    quantizer)
      printf '%s' '{"type": "residual_vq", "weights": "weights.safetensors", "dim": 16, "codebook_size": 32, "num_quantizers": 3}' > "$dir/rvq"
      printf '%s' '{"type": "residual_fsq", "levels": [8, 5, 5, 5], "num_quantizers": 2}' > "$dir/rfsq"
      printf '%s' '{"type": "residual_lfq", "dim": 8, "num_quantizers": 2}' > "$dir/rlfq" ;;
    quantizer-spec)
      for s in fsq:8,5,5,5 fsq-sym:2,3,4 lfq:16,codebooks=2,scale=1 bsq:16 dimwise:bits=6,range=-5:5,std=3; do
        printf '%s' "$s" > "$dir/${s%%:*}"
      done ;;
    model-config)
      local models=(Assets/models/titok-demo Tests/Fixtures/titok/vq_pixel Tests/Fixtures/titok/vae
        Tests/Fixtures/titok/tatitok Tests/Fixtures/vqgan/chameleon Tests/Fixtures/vqgan/janus Tests/Fixtures/vqgan/emu3
        Tests/Fixtures/flextok/vae_c16 Tests/Fixtures/towers/clip Tests/Fixtures/towers/siglip Tests/Fixtures/vit/model)
      for i in "${!models[@]}"; do
        { printf "\\x$(printf %02x "$i")"; cat "${models[$i]}/config.json"; } > "$dir/model$i"
      done ;;
    *) echo "fuzz: unknown target $1" >&2; exit 2 ;;
  esac
  echo "$dir"
}

run() {
  local name=$1 corpus=$root/corpus/$1
  mkdir -p "$corpus" "$root/crashes"
  local seed_dir
  seed_dir=$(seeds "$name")
  echo "fuzz: $name for ${seconds}s (seeds: $(ls "$seed_dir" | wc -l))" >&2
  TESSERA_FUZZ_TARGET=$name "$binary" "$corpus" "$seed_dir" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$root/crashes/$name-" 2>&1 | grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss|cov:|==ERROR|SUMMARY|Test unit written|crash|deadly' | tail -6
}

if [ "$target" = all ]; then
  for t in image video npy safetensors torch tokens vocabulary quantizer quantizer-spec model-config; do run "$t"; done
else
  run "$target"
fi
