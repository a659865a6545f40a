#!/usr/bin/env bash
# Regenerates every committed reference fixture under Tests/Fixtures (and the bundled demo
# assets) with the official reference code. The Swift tests never run this: they read the
# committed outputs. See Tests/Reference/README.md for what each generator owns.
#
#   PYTHON=~/venvs/ref/bin/python bash Tests/Reference/make_fixtures.sh [generator …]
#
# Needs: pip install torch timm transformers open_clip_torch safetensors numpy pillow av \
#        scikit-image 'vector-quantize-pytorch>=1.31,<1.33' megatron-core diffusers hydra-core einops mup tiktoken
# make_flextok_fixtures.py reads apple/ml-flextok from a git mirror (default /work/.mirror);
# make_vqgan_fixtures.py facebookresearch/chameleon and deepseek-ai/Janus;
# make_emu3_stream_fixtures.py, make_emu3_original_fixtures.py and make_emu3_decode_fixtures.py baaivision/Emu3
# (the first needs tiktoken); make_llamagen_fixtures.py FoundationVision/LlamaGen.
# make_reduction_fixtures.py also reads facebookresearch/ToMe, dbolya/tomesd and LunarShen/TempMe
# from git mirrors (TOME_MIRROR, TOMESD_MIRROR, TEMPME_MIRROR; defaults under /work/.mirror).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-$HOME/venvs/ref/bin/python}
generators=("$@")
if [ ${#generators[@]} -eq 0 ]; then
  # order matters only where one fixture feeds another (towers before the pipelines over them)
  generators=(make_media_fixtures make_core_fixtures make_torch_checkpoint_fixtures make_quantizer_fixtures
              make_titok_fixtures make_tower_fixtures make_siglip_so400m_fixture make_projector_fixture
              make_tome_vit_fixture make_tome_tower_fixture make_reduction_fixtures make_pipeline_fixtures
              make_anyres_fixtures make_megatron_fixtures make_flextok_fixtures make_vqgan_fixtures
              make_emu3_stream_fixtures make_emu3_original_fixtures make_emu3_decode_fixtures
              make_llamagen_fixtures make_hostile_fixtures)
fi
mirror=/work/.mirror
for name in "${generators[@]}"; do
  script="Tests/Reference/${name%.py}.py"
  [ -f "$script" ] || { echo "make_fixtures: no generator $script" >&2; exit 2; }
  echo "== $script"
  if [ "${name%.py}" = make_reduction_fixtures ]; then
    "$PYTHON" "$script" --tome-mirror "${TOME_MIRROR:-$mirror/facebookresearch+ToMe/repo}" \
      --tomesd-mirror "${TOMESD_MIRROR:-$mirror/dbolya+tomesd/repo}" \
      --tempme-mirror "${TEMPME_MIRROR:-$mirror/LunarShen+TempMe/repo}"
  else
    "$PYTHON" "$script"
  fi
done
echo "make_fixtures: done; run \`make test\`"
