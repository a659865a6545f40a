"""Turning what users call images (paths, bytes, PIL images, arrays) into what the ABI takes."""

from __future__ import annotations

import ctypes
import os
from typing import Any, Iterable

import numpy as np

from . import _lib

#: One image as the public API accepts it.
ImageLike = Any  # str | os.PathLike | bytes | bytearray | memoryview | PIL.Image.Image | np.ndarray


def _pil_array(image) -> np.ndarray | None:
    """The pixels of a PIL image (RGB, or RGBA when it has alpha), or None for other objects."""
    if not (hasattr(image, "convert") and hasattr(image, "mode") and hasattr(image, "size")):
        return None
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return np.asarray(image.convert("RGBA" if has_alpha else "RGB"))


def as_pixels(array: np.ndarray, what: str) -> np.ndarray:
    """A C-contiguous uint8 [N, H, W, 3|4] view of an image array (one image [H, W, C] is N = 1)."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise _lib.ArgumentError(f"{what}: images must be uint8 (0…255), got {a.dtype}")
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] not in (3, 4):
        raise _lib.ArgumentError(f"{what}: image arrays must be [N, H, W, 3|4] or [H, W, 3|4], got {a.shape}")
    return np.ascontiguousarray(a)


class TessImage(ctypes.Structure):
    """``tess_image`` of tessera.h."""

    _fields_ = [
        ("data", ctypes.c_void_p),
        ("length", ctypes.c_int64),
        ("name", ctypes.c_char_p),
        ("height", ctypes.c_int64),
        ("width", ctypes.c_int64),
        ("channels", ctypes.c_int64),
    ]


class Batch:
    """Images as one ``tess_image`` array: what the library decodes (paths, bytes) and pixels.
    Keeps the Python objects the array points into alive as long as the batch lives."""

    def __init__(self, images: ImageLike | Iterable[ImageLike]):
        if isinstance(images, np.ndarray) and images.ndim == 4:
            images = list(as_pixels(images, "images"))
        elif isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike, np.ndarray)) or (
            _pil_array(images) is not None
        ):
            images = [images]
        self.keep: list[Any] = []
        entries = []
        for i, item in enumerate(images):
            if isinstance(item, (str, os.PathLike)):
                name = os.fsencode(item)
                self.keep.append(name)
                entries.append(TessImage(None, 0, name, 0, 0, 0))
                continue
            if isinstance(item, (bytes, bytearray, memoryview)):
                data = bytes(item)
                name = f"<image {i}>".encode()
                self.keep += [data, name]
                pointer = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
                entries.append(TessImage(pointer, len(data), name, 0, 0, 0))
                continue
            pixels = _pil_array(item)
            pixels = as_pixels(item if pixels is None else pixels, f"image {i}")
            if pixels.shape[0] != 1:
                raise _lib.ArgumentError(f"image {i}: a list holds single images [H, W, C]")
            _, h, w, c = pixels.shape
            name = f"<image {i}>".encode()
            self.keep += [pixels, name]
            entries.append(TessImage(pixels.ctypes.data, pixels.nbytes, name, h, w, c))
        self.count = len(entries)
        self.array = (TessImage * max(1, self.count))(*entries)


def decode_image(source, *, name: str | None = None) -> np.ndarray:
    """Decodes a PNG or JPEG file (a path, or its bytes) as Tessera reads inputs: uint8 [H, W, 3]
    (RGB) or [H, W, 4] (RGBA), EXIF orientation applied (bit-exact with Pillow)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fsencode(source)
        result = _lib.call_result(_lib.lib.tess_image_decode, None, 0, path)
    else:
        data = bytes(source)
        label = (name or "<bytes>").encode()
        result = _lib.call_result(_lib.lib.tess_image_decode, data, len(data), label)
    return result.array(0)
