"""Quantizer and Vocabulary against `tessera quantize/dequantize` and `tessera tokens to-lm/from-lm`."""

import json

import numpy as np
import pytest

import tessera

from conftest import DEMO_MODEL, IMAGES, read_jsonl


@pytest.mark.parametrize("spec,dim", [("fsq:8,5,5,5", 4), ("lfq:10,codebooks=2", 10), ("dimwise:bits=3", 6)])
def test_quantizer_matches_the_cli(cli, tmp_path, spec, dim):
    latents = np.random.default_rng(1).standard_normal((3, 7, dim)).astype(np.float32)
    np.save(tmp_path / "x.npy", latents)
    cli("quantize", "--quantizer", spec, tmp_path / "x.npy", "-o", tmp_path / "ids.npy")
    q = tessera.Quantizer(spec)
    ids = q.quantize(latents)
    np.testing.assert_array_equal(ids, np.load(tmp_path / "ids.npy"))
    assert ids.shape[:2] == (3, 7) and ids.max() < q.vocabulary_size
    extra = ["--dimension", str(dim)] if spec.startswith("dimwise") else []
    cli("dequantize", "--quantizer", spec, tmp_path / "ids.npy", "-o", tmp_path / "codes.npy", *extra)
    codes = q.dequantize(ids, dimension=dim if extra else None)
    np.testing.assert_array_equal(codes, np.load(tmp_path / "codes.npy"))


def test_quantizer_errors():
    with pytest.raises(tessera.TesseraError, match="unknown quantizer"):
        tessera.Quantizer("zzz:3")
    q = tessera.Quantizer("fsq:8,5,5,5")
    with pytest.raises(tessera.TesseraError):
        q.quantize(np.zeros((2, 3), dtype=np.float32))  # FSQ over 4 levels takes 4 channels
    with pytest.raises(tessera.TesseraError):
        q.dequantize(np.array([[5000]]))
    with pytest.raises(tessera.ArgumentError):
        q.dequantize(np.zeros((2, 3), dtype=np.int32))


@pytest.mark.parametrize("layout", ["chameleon", "emu3"])
def test_vocabulary_matches_the_cli(demo, cli, tmp_path, layout):
    vocab = tmp_path / "vocab.json"
    extra = ["--text-vocabulary", "1000"] if layout == "emu3" else []
    cli("tokens", "vocabulary", "--layout", layout, "--codebooks", "1024", *extra, "-o", vocab)
    cli("encode", "--model", DEMO_MODEL, *IMAGES[:2], "-o", tmp_path / "t.jsonl")
    cli("tokens", "to-lm", "--vocabulary", vocab, tmp_path / "t.jsonl", "-o", tmp_path / "lm.jsonl")
    expected = [r["lm"] for r in read_jsonl(tmp_path / "lm.jsonl")]
    v = tessera.Vocabulary(vocab)
    ids = demo.encode(IMAGES[:2])
    streams = [v.to_lm(ids[i : i + 1]).tolist() for i in range(2)]
    assert streams == expected
    both = v.to_lm(ids)
    assert both.tolist() == expected[0] + expected[1]
    np.testing.assert_array_equal(v.from_lm(both), ids)
    assert v.info["codebook_sizes"] == [1024]
    with pytest.raises(tessera.TesseraError):
        v.to_lm(np.full((1, 32), 2000))
    with pytest.raises(tessera.TesseraError):
        tessera.Vocabulary(tmp_path / "t.jsonl")
