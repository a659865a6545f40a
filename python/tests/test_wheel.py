"""The wheel installs into a clean virtualenv and works with the Swift toolchain hidden."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEMO_MODEL, IMAGES, ROOT

SCRIPT = f"""
import json, sys, tessera
tok = tessera.Tokenizer({str(DEMO_MODEL)!r})
ids = tok.encode([{str(IMAGES[0])!r}, {str(IMAGES[1])!r}])
print(json.dumps({{"ids": ids.tolist(), "library": tessera._lib.lib.path, "version": tessera.__version__}}))
"""


def toolchain() -> Path | None:
    """The Swift toolchain's root folder (…/usr/bin/swift → …), if there is one."""
    swift = shutil.which("swift")
    return Path(swift).resolve().parents[2] if swift else None


@pytest.mark.slow
def test_wheel_in_a_clean_virtualenv_without_the_toolchain(demo, tmp_path):
    wheels = sorted((ROOT / "dist").glob("tessera-*.whl"))
    if not wheels:
        pytest.skip("no wheel in dist/: run `make wheel`")
    assert "manylinux" in wheels[-1].name or sys.platform == "darwin", wheels[-1].name
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([venv / "bin/pip", "install", "-q", wheels[-1]], check=True)
    command = [str(venv / "bin/python"), "-c", SCRIPT]
    hidden = toolchain()
    if hidden and shutil.which("unshare"):
        # a private mount namespace with an empty tmpfs over the toolchain (root, or user namespaces)
        hide = ["unshare", "-m", "--map-root-user", "sh", "-c", f'mount -t tmpfs none "{hidden}" && exec "$@"', "sh"]
        probe = subprocess.run([*hide, "true"], capture_output=True)
        if probe.returncode == 0:
            command = [*hide, *command]
            check = subprocess.run([*hide, "ls", str(hidden)], capture_output=True, text=True)
            assert check.stdout.strip() == "", "the toolchain is still visible"
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert str(venv) in out["library"], out["library"]
    assert out["ids"] == demo.encode(IMAGES[:2]).tolist()
