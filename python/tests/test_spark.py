"""Examples/python/spark_tokenize.py in local mode (skipped without pyspark: a 456 MB sdist, not in CI)."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import DEMO_MODEL, IMAGES, ROOT
from test_dataset import assert_same_folder

pytest.importorskip("pyspark")
pq = pytest.importorskip("pyarrow.parquet")
pytestmark = pytest.mark.slow
SCRIPT = ROOT / "Examples/python/spark_tokenize.py"


def spark(*args):
    done = subprocess.run([sys.executable, SCRIPT, "--model", DEMO_MODEL, *map(str, args)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-4000:]


def test_shard_folder_matches_the_cli(cli, tmp_path):
    spark("--input", ROOT / "Assets", "--output", tmp_path / "spark", "--partitions", 3, "--uniform", 3)
    for i in range(3):
        cli("encode", "--model", DEMO_MODEL, ROOT / "Assets", "-o", tmp_path / "cli", "--shard-index", i,
            "--num-shards", 3, "--uniform", 3)
    assert_same_folder(tmp_path / "cli", tmp_path / "spark")


def test_token_column(demo, tmp_path):
    spark("--input", ROOT / "Assets/images", "--parquet", tmp_path / "tokens.parquet")
    table = pq.read_table(tmp_path / "tokens.parquet").to_pylist()
    rows = sorted(table, key=lambda r: r["path"])
    assert [r["path"].removeprefix("file:") for r in rows] == [str(p) for p in IMAGES]
    np.testing.assert_array_equal(np.array([r["tokens"] for r in rows]), demo.encode(IMAGES))
