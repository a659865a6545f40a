"""VisionEncoder.features and tessera.reduce against `tessera features` / `tessera prune`."""

import json
import struct

import numpy as np
import pytest

import tessera

from conftest import ROOT

CLIP = ROOT / "Tests/Fixtures/towers/clip"
IMAGES = sorted((ROOT / "Tests/Fixtures/towers/images").iterdir())


def read_safetensors(path):
    """The tensors of a safetensors file (enough of the format for the test outputs)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    dtypes = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + size + start : 8 + size + end], dtype=dtypes[info["dtype"]]).reshape(
            info["shape"]
        )
    return out


@pytest.fixture(scope="module")
def clip():
    with tessera.VisionEncoder(CLIP) as encoder:
        yield encoder


def test_features_match_the_cli(clip, cli, tmp_path):
    assert clip.descriptor["has_class_token"]
    for layer, pool in [(-2, "none"), (None, "cls"), (0, "mean")]:
        out = tmp_path / f"f{layer}{pool}.npy"
        cli("features", "--model", CLIP, *IMAGES, "-o", out, "--pool", pool,
            *(["--layer", str(layer)] if layer is not None else []))
        expected = np.load(out)
        got = clip.features(IMAGES, layer=layer, pool=pool)
        np.testing.assert_array_equal(got, expected)
    assert got.shape == (2, clip.descriptor["width"])


@pytest.mark.parametrize("method,keep", [("visionzip", 8), ("divprune", 6), ("tome", 8), ("prumerge", None)])
def test_reduce_matches_the_cli(clip, cli, tmp_path, method, keep):
    out = tmp_path / "reduced.safetensors"
    cli("prune", "--encoder", CLIP, *IMAGES, "--method", method, *(["--keep", str(keep)] if keep else []), "-o", out)
    expected = read_safetensors(out)
    reduced = tessera.reduce(clip, IMAGES, method=method, keep=keep)
    assert len(reduced) == len(IMAGES)
    for i, r in enumerate(reduced):
        np.testing.assert_array_equal(r.features, expected[f"features.{i}"])
        np.testing.assert_array_equal(r.indices, expected[f"indices.{i}"])
        np.testing.assert_array_equal(r.positions, expected[f"positions.{i}"])
        if f"sizes.{i}" in expected:
            np.testing.assert_array_equal(r.sizes, expected[f"sizes.{i}"])


def test_vision_errors(clip):
    with pytest.raises(tessera.ArgumentError, match="method"):
        tessera.reduce(clip, IMAGES, method="nonsense")
    with pytest.raises(tessera.TesseraError, match="layer"):
        clip.features(IMAGES, layer=99)
    with pytest.raises(tessera.ArgumentError, match="pool"):
        clip.features(IMAGES, pool="max")
