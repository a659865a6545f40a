"""ctypes bindings of libTesseraC (the C ABI in Sources/CTesseraABI/include/tessera.h).

Every function returns a status; :func:`check` turns a failure into the matching
:class:`TesseraError` subclass with the library's message and the file it is about. ctypes
releases the GIL during each call, so other Python threads run while Tessera works.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from ctypes import POINTER, c_char_p, c_int32, c_int64, c_size_t, c_void_p
from pathlib import Path

#: The ABI this package speaks (TESS_ABI_VERSION in tessera.h).
ABI_VERSION = 1

OK, ERROR_ARGUMENT, ERROR_INPUT, ERROR_MODEL, ERROR_MEMORY, ERROR_BUFFER, ERROR_STOPPED = 0, 1, 2, 3, 4, 5, 6
ERROR_INTERNAL = 9
DTYPE_INT32, DTYPE_FLOAT32, DTYPE_UINT8 = 1, 2, 3


class TesseraError(Exception):
    """An error reported by Tessera: ``message`` says what, ``path`` names the file (or is "")."""

    def __init__(self, message: str, path: str = "", status: int = ERROR_INTERNAL):
        super().__init__(message)
        self.message = message
        self.path = path
        self.status = status


class ArgumentError(TesseraError, ValueError):
    """A bad argument or option: a shape, a token budget, an unknown option."""


class InputError(TesseraError, ValueError):
    """An input file or buffer that cannot be read or decoded."""


class ModelError(TesseraError):
    """A model directory, config or checkpoint that cannot be used."""


class MemoryLimitError(TesseraError, MemoryError):
    """Work refused because it would exceed the memory limit (see :func:`set_memory_limit`)."""


class StoppedError(TesseraError):
    """A dataset run stopped on request; run it again with ``resume=True``."""


_ERRORS = {
    ERROR_ARGUMENT: ArgumentError,
    ERROR_INPUT: InputError,
    ERROR_MODEL: ModelError,
    ERROR_MEMORY: MemoryLimitError,
    ERROR_BUFFER: ArgumentError,
    ERROR_STOPPED: StoppedError,
}

_handle_p = c_void_p
_size_fn = (c_size_t, [c_char_p, c_size_t])

# name: (restype, argtypes), in the order of tessera.h (a test checks this table against it).
SIGNATURES = {
    "tess_abi_version": (c_int32, []),
    "tess_version": _size_fn,
    "tess_last_error": _size_fn,
    "tess_last_error_path": _size_fn,
    "tess_set_threads": (c_int32, [c_int32]),
    "tess_threads": (c_int32, []),
    "tess_set_memory_limit": (c_int32, [c_int64]),
    "tess_memory_limit": (c_int64, []),
    "tess_result_count": (c_int64, [_handle_p]),
    "tess_result_array": (
        c_int32,
        [_handle_p, c_int64, POINTER(c_int32), POINTER(c_int64), c_int32, POINTER(c_int32)],
    ),
    "tess_result_copy": (c_int32, [_handle_p, c_int64, c_void_p, c_int64]),
    "tess_result_json": (c_size_t, [_handle_p, c_char_p, c_size_t]),
    "tess_result_free": (None, [_handle_p]),
    "tess_image_decode": (c_int32, [c_void_p, c_int64, c_char_p, POINTER(_handle_p)]),
    "tess_tokenizer_load": (c_int32, [c_char_p, c_char_p, POINTER(_handle_p)]),
    "tess_tokenizer_free": (None, [_handle_p]),
    "tess_tokenizer_descriptor": (c_size_t, [_handle_p, c_char_p, c_size_t]),
    "tess_tokenizer_encode": (c_int32, [_handle_p, c_void_p, c_int64, c_char_p, POINTER(_handle_p)]),
    "tess_tokenizer_decode": (
        c_int32,
        [
            _handle_p, c_void_p, c_int32, c_int64, POINTER(c_int64), c_int32, c_void_p, c_void_p, c_int64, c_char_p,
            POINTER(_handle_p),
        ],
    ),
    "tess_vision_encoder_load": (c_int32, [c_char_p, c_char_p, POINTER(_handle_p)]),
    "tess_vision_encoder_free": (None, [_handle_p]),
    "tess_vision_encoder_descriptor": (c_size_t, [_handle_p, c_char_p, c_size_t]),
    "tess_vision_encoder_features": (c_int32, [_handle_p, c_void_p, c_int64, c_char_p, POINTER(_handle_p)]),
    "tess_reduce": (c_int32, [_handle_p, c_void_p, c_int64, c_char_p, POINTER(_handle_p)]),
    "tess_quantizer_load": (c_int32, [c_char_p, POINTER(_handle_p)]),
    "tess_quantizer_free": (None, [_handle_p]),
    "tess_quantizer_descriptor": (c_size_t, [_handle_p, c_char_p, c_size_t]),
    "tess_quantizer_quantize": (c_int32, [_handle_p, c_void_p, c_int64, c_int64, POINTER(_handle_p)]),
    "tess_quantizer_dequantize": (c_int32, [_handle_p, c_void_p, c_int64, c_int64, c_int64, POINTER(_handle_p)]),
    "tess_vocabulary_load": (c_int32, [c_char_p, POINTER(_handle_p)]),
    "tess_vocabulary_free": (None, [_handle_p]),
    "tess_vocabulary_json": (c_size_t, [_handle_p, c_char_p, c_size_t]),
    "tess_vocabulary_to_lm": (c_int32, [_handle_p, c_void_p, c_int64, POINTER(c_int64), c_int32, POINTER(_handle_p)]),
    "tess_vocabulary_from_lm": (c_int32, [_handle_p, c_void_p, c_int64, POINTER(_handle_p)]),
    "tess_encode_dataset": (c_int32, [_handle_p, c_char_p, POINTER(_handle_p)]),
    "tess_request_stop": (None, []),
}


def _candidates() -> list[Path]:
    """Where the library may be: $TESSERA_LIBRARY, next to this file (the wheel), the build folder."""
    name = "libTesseraC.dylib" if sys.platform == "darwin" else "libTesseraC.so"
    here = Path(__file__).resolve().parent
    found = [Path(os.environ["TESSERA_LIBRARY"])] if os.environ.get("TESSERA_LIBRARY") else []
    found.append(here / name)
    root = here.parent.parent  # a source checkout: python/tessera -> the repository
    found += [root / ".build/libtessera/release" / name, root / ".build/release" / name]
    return found


def _choose_openblas_kernels() -> None:
    """OpenBLAS picks its kernels once, when it loads. On a CPU it does not know it falls back to
    generic "Prescott" kernels (several times slower); like the `tessera` command (BLASKernels),
    choose the CPU's class instead, so Python runs the command line's kernels and gets its numbers.
    A probe in a child process asks OpenBLAS what it would choose (here it is not loaded yet).
    ``OPENBLAS_CORETYPE`` or ``TESSERA_KEEP_BLAS_KERNELS=1`` in the environment skips this."""
    if not sys.platform.startswith("linux") or {"OPENBLAS_CORETYPE", "TESSERA_KEEP_BLAS_KERNELS"} & set(os.environ):
        return
    probe = (
        "import ctypes; f = ctypes.CDLL('libopenblas.so.0').openblas_get_corename; "
        "f.restype = ctypes.c_char_p; print(f().decode())"
    )
    try:
        import subprocess

        done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=60)
        flags = next(
            (line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), []
        )
    except (OSError, subprocess.SubprocessError):
        return
    if done.stdout.strip().lower() != "prescott":
        return
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= set(flags):
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif {"avx2", "fma"} <= set(flags):
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


def _load() -> ctypes.CDLL:
    _choose_openblas_kernels()
    tried = []
    for path in _candidates():
        if not path.is_file():
            tried.append(str(path))
            continue
        lib = ctypes.CDLL(str(path))
        for fn, (restype, argtypes) in SIGNATURES.items():
            f = getattr(lib, fn)
            f.restype, f.argtypes = restype, argtypes
        version = lib.tess_abi_version()
        if version != ABI_VERSION:
            raise ImportError(f"{path} speaks Tessera ABI {version}; this package needs {ABI_VERSION}")
        lib.path = str(path)
        return lib
    raise ImportError(
        "libTesseraC not found (looked in " + ", ".join(tried) + "); build it with `make python-library` "
        "or install the wheel"
    )


lib = _load()


def _string(fn, *args) -> str:
    """A string copied out with the size-returning convention of tessera.h."""
    need = fn(*args, None, 0)
    buf = ctypes.create_string_buffer(need + 1)
    fn(*args, buf, need + 1)
    return buf.value.decode("utf-8", "replace")


def check(status: int) -> None:
    """Raises the error of a failed call (this thread's last error)."""
    if status == OK:
        return
    message = _string(lib.tess_last_error)
    path = _string(lib.tess_last_error_path)
    raise _ERRORS.get(status, TesseraError)(message, path, status)


def options(values: dict) -> bytes:
    """The JSON options of a call, leaving out what is None (the library's default)."""
    return json.dumps({k: v for k, v in values.items() if v is not None}).encode()


class Result:
    """A ``tess_result``: arrays plus JSON, freed when this object goes."""

    def __init__(self, handle: c_void_p):
        self.handle = handle

    def __del__(self):
        if getattr(self, "handle", None):
            lib.tess_result_free(self.handle)
            self.handle = None

    def __len__(self) -> int:
        return lib.tess_result_count(self.handle)

    def _spec(self, index: int):
        """The numpy dtype and shape of array ``index``."""
        import numpy as np

        dtype, ndim = c_int32(), c_int32()
        shape = (c_int64 * 8)()
        check(lib.tess_result_array(self.handle, index, ctypes.byref(dtype), shape, 8, ctypes.byref(ndim)))
        np_dtype = {DTYPE_INT32: np.int32, DTYPE_FLOAT32: np.float32, DTYPE_UINT8: np.uint8}[dtype.value]
        return np_dtype, tuple(shape[: ndim.value])

    def _copy(self, index: int, out) -> None:
        check(lib.tess_result_copy(self.handle, index, out.ctypes.data, out.nbytes))

    def array(self, index: int):
        import numpy as np

        dtype, shape = self._spec(index)
        out = np.empty(shape, dtype=dtype)
        self._copy(index, out)
        return out

    def arrays(self) -> list:
        return [self.array(i) for i in range(len(self))]

    def stacked(self):
        """All arrays as one ``[N, ...]`` array, copied once, when they share a shape and dtype;
        otherwise the list of arrays (None for an empty result)."""
        import numpy as np

        specs = [self._spec(i) for i in range(len(self))]
        if not specs:
            return None
        if any(spec != specs[0] for spec in specs):
            return self.arrays()
        out = np.empty((len(specs), *specs[0][1]), dtype=specs[0][0])
        for i in range(len(specs)):
            self._copy(i, out[i])
        return out

    def json(self):
        return json.loads(_string(lib.tess_result_json, self.handle))


def call_result(fn, *args) -> Result:
    """Calls an entry point whose last argument is a ``tess_result **``."""
    out = c_void_p()
    check(fn(*args, ctypes.byref(out)))
    return Result(out)
