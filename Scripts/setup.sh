#!/usr/bin/env bash
# Installs the system libraries Tessera links against, when any is missing. Silent when all
# are present. Debian/Ubuntu (apt); on macOS use Homebrew: brew install libpng jpeg-turbo ffmpeg openblas.
set -euo pipefail
packages=(libpng-dev libjpeg-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libopenblas-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
