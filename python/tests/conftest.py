"""Shared fixtures: the repository, the `tessera` command built with the library, helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

DEMO_MODEL = ROOT / "Assets/models/titok-demo"
IMAGES = sorted((ROOT / "Assets/images").iterdir())


def cli_path() -> Path:
    """The `tessera` command of the same build as the library (Scripts/build-library.sh)."""
    path = Path(os.environ.get("TESSERA_CLI", ROOT / ".build/libtessera/release/tessera"))
    if not path.exists():
        pytest.skip(f"{path} is missing: run `bash Scripts/build-library.sh`")
    return path


@pytest.fixture(scope="session")
def cli():
    path = cli_path()

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(path), *map(str, args)], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"tessera {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr}")
        return done

    return run


@pytest.fixture(scope="session")
def demo():
    import tessera

    with tessera.Tokenizer(DEMO_MODEL) as tok:
        yield tok


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
