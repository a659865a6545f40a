"""Ray: the map_batches class, and the shard-folder job against the CLI, with a killed actor."""

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import DEMO_MODEL, IMAGES, ROOT
from test_dataset import assert_same_folder

ray = pytest.importorskip("ray")
import tessera.ray  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    ray.init(
        num_cpus=2, include_dashboard=False, object_store_memory=256 << 20, log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT / "python")}},
    )
    yield
    ray.shutdown()


def test_map_batches_adds_tokens(cluster, demo):
    expected = demo.encode(IMAGES)
    ds = ray.data.read_binary_files([str(p) for p in IMAGES], include_paths=True)
    ds = ds.map_batches(
        tessera.ray.Tokenize, fn_constructor_kwargs={"model": str(DEMO_MODEL), "column": "bytes"},
        compute=ray.data.ActorPoolStrategy(size=1), num_cpus=1, batch_size=2, batch_format="numpy",
    )
    rows = sorted(ds.take_all(), key=lambda r: r["path"])
    assert [r["path"] for r in rows] == [str(p) for p in IMAGES]
    np.testing.assert_array_equal(np.stack([r["tokens"] for r in rows]), expected)
    assert "bytes" not in rows[0]
    # paths: the actors read the files
    ds = ray.data.from_items([{"path": str(p)} for p in IMAGES]).map_batches(
        tessera.ray.Tokenize, fn_constructor_kwargs={"model": str(DEMO_MODEL), "column": "path"},
        compute=ray.data.ActorPoolStrategy(size=1), num_cpus=1, batch_size=3, batch_format="numpy",
    )
    rows = sorted(ds.take_all(), key=lambda r: r["path"])
    np.testing.assert_array_equal(np.stack([r["tokens"] for r in rows]), expected)
    # decoded arrays (read_images decodes with Pillow, which Tessera's decoder matches bit for bit)
    ds = ray.data.read_images([str(p) for p in IMAGES], include_paths=True, mode="RGB")
    ds = ds.map_batches(
        tessera.ray.Tokenize, fn_constructor_kwargs={"model": str(DEMO_MODEL)},
        compute=ray.data.ActorPoolStrategy(size=1), num_cpus=1, batch_size=1, batch_format="numpy",
    )
    rows = sorted(ds.take_all(), key=lambda r: r["path"])
    np.testing.assert_array_equal(np.stack([r["tokens"] for r in rows]), expected)


def many_images(folder: Path, copies: int) -> Path:
    folder.mkdir()
    for i in range(copies):
        for p in IMAGES:
            shutil.copy(p, folder / f"{i:03d}_{p.name}")
    return folder


def test_shard_folder_matches_the_cli(cluster, cli, tmp_path):
    inputs = many_images(tmp_path / "in", 2)
    summaries = tessera.ray.encode_dataset(DEMO_MODEL, [inputs], tmp_path / "ray", partitions=3, shard_samples=2,
                                           progress=False)
    assert sum(s["inputs_done"] for s in summaries) == 10 and [s["partition"] for s in summaries] == [0, 1, 2]
    for i in range(3):
        cli("encode", "--model", DEMO_MODEL, inputs, "-o", tmp_path / "cli", "--shard-index", i,
            "--num-shards", 3, "--shard-samples", 2)
    assert_same_folder(tmp_path / "cli", tmp_path / "ray")


def worker_pids() -> list[int]:
    """Processes of Ray actors running tessera's shard workers (their title names the class)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ShardWorker" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_a_killed_actor_resumes_and_each_input_lands_once(cluster, cli, tmp_path):
    inputs = many_images(tmp_path / "in", 12)  # 60 images
    out = tmp_path / "ray"
    result = {}

    def job():
        result["summaries"] = tessera.ray.encode_dataset(
            DEMO_MODEL, [inputs], out, partitions=2, actors=1, shard_samples=2, batch=1, progress=False
        )

    runner = threading.Thread(target=job)
    runner.start()
    killed = None
    deadline = time.time() + 120
    while time.time() < deadline and runner.is_alive() and killed is None:
        journal = out / "w000-shards.jsonl"
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            pids = worker_pids()
            if pids:
                os.kill(pids[0], signal.SIGKILL)  # as the OOM killer would
                killed = pids[0]
        time.sleep(0.01)
    runner.join(300)
    assert killed is not None, "the job finished before a worker could be killed"
    assert "summaries" in result
    assert sum(s["inputs_done"] for s in result["summaries"]) == 60
    for i in range(2):
        cli("encode", "--model", DEMO_MODEL, inputs, "-o", tmp_path / "cli", "--shard-index", i,
            "--num-shards", 2, "--shard-samples", 2, "--batch", 1)
    assert_same_folder(tmp_path / "cli", out)
    # a rerun after everything is done changes nothing
    tessera.ray.encode_dataset(DEMO_MODEL, [inputs], out, partitions=2, shard_samples=2, batch=1, progress=False)
    assert_same_folder(tmp_path / "cli", out)
