#!/usr/bin/env bash
# Builds libTesseraC.so, the C ABI (Sources/CTesseraABI/include/tessera.h) the Python package
# loads, with the Swift runtime linked in statically (-static-stdlib: SwiftPM's own
# --static-swift-stdlib does not apply to dynamic libraries, SwiftPM #8198), only the tess_*
# symbols exported, and copies it into python/tessera/. It needs only libc, libstdc++ and the
# system media/BLAS libraries at run time: no Swift toolchain. The same build folder also gets a
# `tessera` command linked the same way (the Python tests compare the two).
#   bash Scripts/build-library.sh            release build into .build/libtessera
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build/libtessera
flags=(-c release --scratch-path "$scratch")
if [ "$(uname -s)" = Linux ]; then
    flags+=(-Xswiftc -static-stdlib -Xlinker --no-undefined
        -Xlinker "--version-script=$PWD/Scripts/libtessera-exports.map")
fi
swift build "${flags[@]}" --product TesseraC
swift build "${flags[@]}" --product tessera
lib="$scratch/release/libTesseraC.so"
[ -f "$lib" ] || lib="$scratch/release/libTesseraC.dylib"
mkdir -p python/tessera
cp "$lib" python/tessera/
[ "$(uname -s)" = Linux ] && strip --strip-unneeded "python/tessera/$(basename "$lib")"
echo "built python/tessera/$(basename "$lib") ($(du -h "python/tessera/$(basename "$lib")" | cut -f1))"
