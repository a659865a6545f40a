"""tessera.encode_dataset against `tessera encode -o FOLDER`, workers and resume."""

import json
import shutil

import pytest

import tessera

from conftest import DEMO_MODEL, IMAGES, ROOT, read_jsonl

VIDEO = ROOT / "Assets/video/sample.mp4"
# Fields that legitimately differ between two runs (times, the run's own statistics).
VOLATILE = {"elapsed", "started", "finished", "created", "seconds", "images_per_second", "timestamp_utc"}


def folder_contents(folder):
    """Every file of a shard folder, JSON parsed with run-dependent fields dropped."""

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    out = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".json", ".jsonl"):
            text = path.read_text()
            out[path.name] = clean([json.loads(l) for l in text.splitlines() if l.strip()] if path.suffix == ".jsonl"
                                   else json.loads(text))
        else:
            out[path.name] = path.read_bytes()
    return out


def assert_same_folder(a, b):
    ca, cb = folder_contents(a), folder_contents(b)
    assert sorted(ca) == sorted(cb)
    for name in ca:
        assert ca[name] == cb[name], name


@pytest.mark.parametrize("fmt", ["jsonl", "bin"])
def test_same_folder_as_the_cli(demo, cli, tmp_path, fmt):
    inputs = [*IMAGES, VIDEO]
    cli("encode", "--model", DEMO_MODEL, *inputs, "-o", tmp_path / "cli", "--format", fmt,
        "--uniform", "3", "--shard-samples", "4")
    summary = tessera.encode_dataset(demo, inputs, tmp_path / "py", format=fmt, sampling={"uniform": 3},
                                     shard_samples=4)
    assert summary["inputs_done"] == 6 and summary["samples"] == 8 and summary["failed_inputs"] == 0
    assert summary["shards"] == 2
    assert_same_folder(tmp_path / "cli", tmp_path / "py")


def test_workers_share_a_folder_like_the_cli(demo, cli, tmp_path):
    for i in range(2):
        cli("encode", "--model", DEMO_MODEL, *IMAGES, "-o", tmp_path / "cli", "--shard-index", i, "--num-shards", 2)
        tessera.encode_dataset(DEMO_MODEL, IMAGES, tmp_path / "py", shard_index=i, num_shards=2)
    assert_same_folder(tmp_path / "cli", tmp_path / "py")
    assert (tmp_path / "py/w001-manifest.jsonl").exists()


def test_failures_are_recorded_and_resume_continues(demo, tmp_path):
    bad = tmp_path / "in/bad.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really")
    inputs = [*IMAGES[:2], bad, *IMAGES[2:]]
    summary = tessera.encode_dataset(demo, inputs, tmp_path / "full", shard_samples=2)
    assert summary["failed_inputs"] == 1 and summary["samples"] == 5
    errors = read_jsonl(tmp_path / "full/errors.jsonl")
    assert [e["input"] for e in errors] == [str(bad)] and str(bad) in errors[0]["reason"]
    # a partial run (the first shard only), then resume: the same folder as one clean run
    shutil.copytree(tmp_path / "full", tmp_path / "partial")
    journal = (tmp_path / "partial/shards.jsonl").read_text().splitlines()
    committed = json.loads(journal[0])
    for path in (tmp_path / "partial").iterdir():
        if "shard-" in path.name and committed["shard"] not in path.name:
            path.unlink()
    (tmp_path / "partial/shards.jsonl").write_text(journal[0] + "\n")
    manifest = read_jsonl(tmp_path / "partial/manifest.jsonl")
    keep = [json.dumps(r) for r in manifest if r.get("shard") == committed["shard"]]
    (tmp_path / "partial/manifest.jsonl").write_text("".join(k + "\n" for k in keep))
    done = committed["inputs"][1]
    kept_errors = [json.dumps(e) for e in errors if e["input_index"] < done]
    (tmp_path / "partial/errors.jsonl").write_text("".join(e + "\n" for e in kept_errors))
    tessera.encode_dataset(demo, inputs, tmp_path / "partial", shard_samples=2, resume=True)
    assert_same_folder(tmp_path / "full", tmp_path / "partial")


def test_bad_requests(demo, tmp_path):
    with pytest.raises(tessera.ArgumentError, match="shard_index"):
        tessera.encode_dataset(demo, IMAGES, tmp_path / "o", shard_index=2, num_shards=2)
    with pytest.raises(tessera.ArgumentError, match="format"):
        tessera.encode_dataset(demo, IMAGES, tmp_path / "o", format="zip")
    with pytest.raises(tessera.ArgumentError, match="sampling"):
        tessera.encode_dataset(demo, IMAGES, tmp_path / "o", sampling={"every": 2, "fps": 1})
    summary = tessera.encode_dataset(demo, [tmp_path / "nothing-here.png"], tmp_path / "o")
    assert summary["failed_inputs"] == 1 and summary["samples"] == 0
    assert read_jsonl(tmp_path / "o/errors.jsonl")[0]["input"] == str(tmp_path / "nothing-here.png")


def test_a_stop_request_commits_the_shard_and_resume_finishes(demo, tmp_path):
    import threading
    import time

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        for p in IMAGES:
            shutil.copy(p, folder / f"{i:02d}_{p.name}")
    out, outcome = tmp_path / "stopped", {}

    def run():
        try:
            outcome["summary"] = tessera.encode_dataset(demo, [folder], out, shard_samples=2, batch=1)
        except tessera.StoppedError as e:
            outcome["stopped"] = e

    worker = threading.Thread(target=run)
    worker.start()
    journal = out / "shards.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (journal.exists() and journal.read_text().strip()):
        time.sleep(0.005)
    tessera._lib.lib.tess_request_stop()
    worker.join()
    assert "stopped" in outcome, outcome
    assert "resume" in str(outcome["stopped"]) and outcome["stopped"].path == str(out)
    done = len(journal.read_text().splitlines())
    assert 1 <= done < 30
    tessera.encode_dataset(demo, [folder], out, shard_samples=2, batch=1, resume=True)
    tessera.encode_dataset(demo, [folder], tmp_path / "clean", shard_samples=2, batch=1)
    assert_same_folder(tmp_path / "clean", out)
