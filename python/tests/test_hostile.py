"""Malformed calls through the ABI end in exceptions, never in a dead interpreter.

Each model family gets token sets, latents, images and options of wrong shapes, ranges and types
in a child process; a trap anywhere would kill the child (SIGILL/SIGTRAP), not just fail a call.
"""

import subprocess
import sys

import pytest

from conftest import DEMO_MODEL, ROOT

MODELS = {
    "titok": DEMO_MODEL,
    "flextok": ROOT / "Tests/Fixtures/flextok/zero_null",
    "vae": ROOT / "Tests/Fixtures/flextok/vae_c16",
    "chameleon": ROOT / "Tests/Fixtures/vqgan/chameleon_original",
}

PROBE = r"""
import itertools, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
import tessera
tok = tessera.Tokenizer(sys.argv[1])
d = tok.descriptor
errors = calls = 0
def attempt(fn, *args, **kw):
    global errors, calls
    calls += 1
    try:
        fn(*args, **kw)
    except (tessera.TesseraError, ValueError, TypeError):
        errors += 1
rng = np.random.default_rng(0)
shape = d["token_shape"]
dtype = np.float32 if d["continuous"] else np.int32
shapes = [[1], [0], [3], [1] + shape, [2] + [s + 1 for s in shape], [2] + shape[:-1] + [1], [1] + shape + [2],
          [1, 1 << 20], [2] + list(reversed(shape))]
for s in shapes:
    for value in (0, -1, 2 ** 31 - 1, (d["vocabulary_sizes"] or [1])[0]):
        attempt(tok.decode, np.full(s, value, dtype=dtype))
    attempt(tok.decode, rng.standard_normal(s).astype(np.float32) * 1e30)
for options in ({"limit": 0}, {"limit": -3}, {"limit": 10 ** 9}, {"batch": 0}, {"steps": 0}, {"steps": 10 ** 7},
                {"guidance": float("nan")}, {"guidance_mode": "x"}, {"seed": -1}):
    attempt(tok.decode, np.zeros([1] + shape, dtype=dtype), **options)
for h, w, c in itertools.product((1, 2, 3, 4097), (1, 5), (1, 2, 3, 4, 5)):
    attempt(tok.encode, np.zeros((h, w, c), dtype=np.uint8))
for data in (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", bytes(rng.integers(0, 256, 300, dtype=np.uint8))):
    attempt(tok.encode, data)
for options in ({"tokens": 0}, {"tokens": -1}, {"batch": -2}, {"seed": -5}):
    attempt(tok.encode, np.zeros((8, 8, 3), dtype=np.uint8), **options)
attempt(tok.decode, np.zeros([1] + shape, dtype=dtype), noise=np.zeros((1, 1), dtype=np.float32))
print(f"{calls} calls, {errors} errors")
"""


@pytest.mark.parametrize("family", sorted(MODELS))
def test_malformed_calls_never_kill_the_process(family):
    model = MODELS[family]
    if not model.exists():
        pytest.skip(f"{model} is missing")
    done = subprocess.run([sys.executable, "-c", PROBE, str(model), str(ROOT / "python")], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"{family}: exit {done.returncode}\n{done.stderr[-3000:]}"
    calls, errors = (int(x) for x in done.stdout.split()[::2][:2])
    assert calls > 100 and errors > calls // 2  # most calls are malformed; the rest must work, done.stdout
