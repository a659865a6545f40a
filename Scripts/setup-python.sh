#!/usr/bin/env bash
# Creates the virtualenv the Python tests and benchmarks use (outside the repository) and installs
# what they need: numpy, pytest, Pillow, hatchling and auditwheel for the wheel, Ray for the engine
# tests. python3 and venv come from apt when missing.
#   bash Scripts/setup-python.sh [VENV]      (default ~/.cache/tessera/venv)
set -euo pipefail
venv=${1:-$HOME/.cache/tessera/venv}
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup-python: installing python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -r "$(dirname "$0")/../python/requirements-dev.txt"
echo "setup-python: $venv ready"
