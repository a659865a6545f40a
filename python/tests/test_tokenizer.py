"""Tokenizer.encode / decode against the `tessera` command on the same inputs."""

import json
import threading
import time

import numpy as np
import pytest

import tessera

from conftest import DEMO_MODEL, IMAGES, ROOT, read_jsonl

FLEXTOK = ROOT / "Tests/Fixtures/flextok/zero_null"


def cli_ids(cli, tmp_path, model, images, *extra):
    out = tmp_path / "cli.jsonl"
    cli("encode", "--model", model, *images, "-o", out, *extra)
    return np.array([r["ids"] for r in read_jsonl(out)], dtype=np.int32)


def test_descriptor(demo):
    d = demo.descriptor
    assert d["family"].lower().startswith("titok") and d["token_shape"] == [32]
    assert d["vocabulary_sizes"] == [1024] and d["input_size"] == [128, 128]
    assert "titok-demo" in repr(demo)


def test_encode_paths_bytes_and_arrays_match_the_cli(demo, cli, tmp_path):
    expected = cli_ids(cli, tmp_path, DEMO_MODEL, IMAGES)
    assert expected.shape == (len(IMAGES), 32)
    np.testing.assert_array_equal(demo.encode(IMAGES), expected)
    np.testing.assert_array_equal(demo.encode([p.read_bytes() for p in IMAGES]), expected)
    pixels = [tessera.decode_image(p) for p in IMAGES]
    np.testing.assert_array_equal(demo.encode(pixels), expected)
    # mixed kinds in one call keep their order
    mixed = [IMAGES[0], IMAGES[1].read_bytes(), pixels[2], str(IMAGES[3]), pixels[4]]
    np.testing.assert_array_equal(demo.encode(mixed), expected)
    # one stacked array of equal-size images
    same = np.stack([pixels[1], pixels[1]])
    np.testing.assert_array_equal(demo.encode(same), expected[[1, 1]])


def test_encode_pil_images(demo, cli, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    expected = cli_ids(cli, tmp_path, DEMO_MODEL, IMAGES[1:2])
    with Image.open(IMAGES[1]) as image:
        np.testing.assert_array_equal(demo.encode(image), expected)


def test_decode_matches_the_cli(demo, cli, tmp_path):
    ids = demo.encode(IMAGES[:3])
    tokens = tmp_path / "tokens.jsonl"
    cli("encode", "--model", DEMO_MODEL, *IMAGES[:3], "-o", tokens)
    cli("decode", "--model", DEMO_MODEL, tokens, "-o", tmp_path / "png")
    images = demo.decode(ids)
    assert images.shape == (3, 128, 128, 3) and images.dtype == np.uint8
    for image, path in zip(images, IMAGES[:3]):
        np.testing.assert_array_equal(image, tessera.decode_image(tmp_path / "png" / (path.stem + ".png")))


def test_flextok_decode_with_noise_and_budgets_matches_the_cli(cli, tmp_path):
    with tessera.Tokenizer(FLEXTOK) as tok:
        d = tok.descriptor
        assert d["variable_length"] and d["noise_shape"]
        images = IMAGES[:2]
        ids = tok.encode(images)
        np.testing.assert_array_equal(ids, cli_ids(cli, tmp_path, FLEXTOK, images))
        noise = np.random.default_rng(0).standard_normal((2, *d["noise_shape"])).astype(np.float32)
        np.save(tmp_path / "noise.npy", noise)
        cli("encode", "--model", FLEXTOK, *images, "-o", tmp_path / "t.jsonl")
        cli("decode", "--model", FLEXTOK, tmp_path / "t.jsonl", "--tokens", "4", "--steps", "3",
            "--guidance", "2", "--guidance-mode", "cfg", "--noise", tmp_path / "noise.npy", "-o", tmp_path / "png")
        out = tok.decode(ids, limit=4, steps=3, guidance=2, guidance_mode="cfg", noise=noise)
        for image, path in zip(out, images):
            np.testing.assert_array_equal(image, tessera.decode_image(tmp_path / "png" / (path.stem + ".png")))
        # seeded noise is the same in any batch (the images then differ only by GEMM rounding)
        a = tok.decode(ids[:1], steps=2, seed=7)
        b = tok.decode(ids, steps=2, seed=7, batch=2)
        c = tok.decode(ids[:1], steps=2, seed=8)
        assert np.abs(a[0].astype(int) - b[0]).max() <= 1 < np.abs(a[0].astype(int) - c[0]).max()


def test_errors_name_the_file(demo, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(tessera.InputError) as e:
        demo.encode([IMAGES[0], bad])
    assert e.value.path == str(bad) and str(bad) in str(e.value)
    with pytest.raises(tessera.InputError) as e:
        demo.encode(tmp_path / "missing.jpg")
    assert "missing.jpg" in e.value.path
    with pytest.raises(tessera.ModelError):
        tessera.Tokenizer(tmp_path)
    with pytest.raises(tessera.TesseraError):
        tessera.Tokenizer(tmp_path / "nowhere")


def test_bad_arguments_raise_and_never_crash(demo):
    with pytest.raises(tessera.ArgumentError, match="unknown option"):
        tessera._lib.call_result(tessera._lib.lib.tess_tokenizer_encode, demo.handle, None, 0, b'{"tokns": 3}')
    with pytest.raises(tessera.ArgumentError, match="tokens must be in 1...32"):
        demo.encode(IMAGES[0], tokens=33)
    assert demo.encode(IMAGES[0], tokens=4).shape == (1, 4)
    with pytest.raises(tessera.ArgumentError, match="batch"):
        demo.encode(IMAGES[0], batch=0)
    with pytest.raises(tessera.ArgumentError, match="uint8"):
        demo.encode(np.zeros((2, 8, 8, 3), dtype=np.float32))
    with pytest.raises(tessera.ArgumentError):
        demo.encode(np.zeros((8, 8, 5), dtype=np.uint8))
    with pytest.raises(tessera.TesseraError, match="1024|outside"):
        demo.decode(np.full((1, 32), 5000))
    with pytest.raises(tessera.TesseraError):
        demo.decode(np.zeros((1, 33), dtype=np.int32))
    with pytest.raises(tessera.ArgumentError, match="sampling"):
        demo.decode(np.zeros((1, 32), dtype=np.int32), steps=4)
    with pytest.raises(tessera.ArgumentError):
        demo.decode(np.zeros((1, 32), dtype=np.float32))
    # the raw ABI refuses NULL pointers, negative and overflowing sizes with a status, not a trap
    lib, ctypes, TessImage = tessera._lib.lib, tessera._lib.ctypes, tessera._images.TessImage
    out = ctypes.c_void_p()
    ref = ctypes.byref(out)
    bad = tessera._lib.ERROR_ARGUMENT
    assert lib.tess_tokenizer_encode(demo.handle, None, 1, None, ref) == bad
    assert lib.tess_tokenizer_encode(None, None, 0, None, ref) == bad
    assert lib.tess_tokenizer_encode(demo.handle, None, -1, None, ref) == bad
    assert lib.tess_tokenizer_encode(demo.handle, None, 0, None, None) == bad
    for image in [TessImage(None, 0, None, 0, 0, 0), TessImage(None, -5, b"x", 0, 0, 0),
                  TessImage(None, 0, b"x", 8, 8, 3), TessImage(None, 0, b"x", -8, 8, 3),
                  TessImage(None, 0, b"x", 8, 8, 2), TessImage(None, 0, b"x", 1 << 40, 1 << 40, 3)]:
        assert lib.tess_tokenizer_encode(demo.handle, ctypes.byref(image), 1, None, ref) in (
            bad, tessera._lib.ERROR_MEMORY), (image.height, image.width, image.channels)
    shape = (ctypes.c_int64 * 2)(1 << 62, 1 << 62)
    assert lib.tess_tokenizer_decode(demo.handle, None, 1, 4, shape, 2, None, None, 0, None, ref) == bad
    assert lib.tess_tokenizer_decode(demo.handle, None, 1, 1, shape, 0, None, None, 0, None, ref) == bad
    assert lib.tess_result_copy(None, 0, None, 0) == bad
    assert lib.tess_result_count(None) == 0
    lib.tess_result_free(None)
    lib.tess_tokenizer_free(None)


def test_memory_limit_refuses_work(demo):
    tessera.set_memory_limit(1 << 20)
    try:
        with pytest.raises(tessera.MemoryLimitError, match="memory limit"):
            demo.encode(IMAGES, batch=8)
    finally:
        tessera.set_memory_limit(None)


def test_handles_are_closed_and_not_picklable(tmp_path):
    import pickle

    tok = tessera.Tokenizer(DEMO_MODEL)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(tok)
    tok.close()
    tok.close()
    with pytest.raises(ValueError, match="closed"):
        tok.encode(IMAGES[0])


def test_threads_share_one_handle(demo):
    expected = demo.encode(IMAGES)
    results, errors = {}, []

    def work(i):
        try:
            for _ in range(3):
                results.setdefault(i, []).append(demo.encode(IMAGES[i % 5 :] + IMAGES[: i % 5]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    [w.start() for w in workers]
    [w.join() for w in workers]
    assert not errors
    for i, runs in results.items():
        for got in runs:
            np.testing.assert_array_equal(got, np.roll(expected, -(i % 5), axis=0))


def test_calls_release_the_gil(demo):
    ticks, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1

    counter = threading.Thread(target=count)
    counter.start()
    start = time.perf_counter()
    images = demo.decode(np.zeros((16, 32), dtype=np.int32))
    elapsed = time.perf_counter() - start
    stop.set()
    counter.join()
    assert images.shape[0] == 16
    # a thread holding the GIL for the whole call would leave the counter near zero
    assert ticks[0] > 10_000 * elapsed, (ticks[0], elapsed)


def test_a_forked_child_keeps_working(demo):
    """Spark's daemon and DataLoader workers fork after the parent used the library."""
    import multiprocessing

    expected = demo.encode(IMAGES[:2])
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        got = pool.apply(_encode_in_child, (str(DEMO_MODEL), [str(p) for p in IMAGES[:2]]))
    np.testing.assert_array_equal(np.array(got), expected)


def _encode_in_child(model, paths):
    with tessera.Tokenizer(model) as tok:
        return tok.encode(paths).tolist()


def test_a_handle_of_another_kind_is_refused(demo):
    lib, ctypes = tessera._lib.lib, tessera._lib.ctypes
    q = tessera.Quantizer("fsq:8,5,5,5")
    out = ctypes.c_void_p()
    status = lib.tess_tokenizer_encode(q.handle, None, 0, None, ctypes.byref(out))
    assert status == tessera._lib.ERROR_ARGUMENT
    assert "not a tokenizer handle" in tessera._lib._string(lib.tess_last_error)
    assert lib.tess_result_count(demo.handle) == 0


def test_tatitok_decodes_with_text_conditioning_as_the_official_code(cli, tmp_path):
    from test_vision import read_safetensors

    model = ROOT / "Tests/Fixtures/titok/tatitok"
    expected = read_safetensors(model / "expected.safetensors")
    with tessera.Tokenizer(model) as tok:
        assert tok.descriptor["conditioning"] == [77, 32]
        ids, text = expected["ids"], expected["text_guidance"]
        # one text per token set: the official decode's 8-bit output
        np.testing.assert_array_equal(tok.decode(ids, conditioning=text), expected["reconstruction_u8"])
        # one text shared by every set, against the command line's --text
        np.save(tmp_path / "text.npy", text[0])
        tokens = tmp_path / "t.jsonl"
        tokens.write_text("".join(
            json.dumps({"source": f"s{i}", "model": "tatitok", "shape": [8], "vocab": tok.descriptor["vocabulary_sizes"],
                        "ids": row.tolist()}) + "\n" for i, row in enumerate(ids)))
        cli("decode", "--model", model, tokens, "--text", tmp_path / "text.npy", "-o", tmp_path / "png")
        shared = tok.decode(ids, conditioning=text[0])
        for i, image in enumerate(shared):
            np.testing.assert_array_equal(image, tessera.decode_image(tmp_path / "png" / f"s{i}.png"))
        with pytest.raises(tessera.ArgumentError, match="conditioning"):
            tok.decode(ids, conditioning=text[:, :5])
