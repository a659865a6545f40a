"""Tiny pure-Python PNG encoder used by make_media_fixtures.py.

Pillow can only write a subset of the PNG colour-type / bit-depth / interlace
combinations, so the fixture generator writes the rest with this encoder.
It supports every combination allowed by the PNG specification:

    colour type 0 (grey)            bit depth 1, 2, 4, 8, 16
    colour type 2 (RGB)             bit depth 8, 16
    colour type 3 (palette)         bit depth 1, 2, 4, 8
    colour type 4 (grey + alpha)    bit depth 8, 16
    colour type 6 (RGBA)            bit depth 8, 16

plus Adam7 interlacing, PLTE / tRNS / gAMA / arbitrary extra chunks and
splitting the zlib stream over several IDAT chunks.

Row filters: by default the filter type of each scanline cycles through
0 (None), 1 (Sub), 2 (Up), 3 (Average), 4 (Paeth) so a decoder under test has
to implement every unfilter path (including the "bpp < 1 byte" cases for
sub-byte depths and the first row of each Adam7 pass, where the previous row is
all zeros).

Only the standard library is needed (zlib, struct); numpy arrays are accepted
as input for convenience.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ALLOWED_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
ADAM7 = [  # (x0, y0, dx, dy)
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
]


def chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 over type+data."""
    assert len(tag) == 4
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def ihdr(width: int, height: int, bit_depth: int, color_type: int, interlace: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace))


def pack_row(samples: np.ndarray, bit_depth: int) -> bytes:
    """Pack one scanline of samples (1-D, already interleaved) to bytes."""
    samples = np.asarray(samples).astype(np.uint32).ravel()
    if bit_depth == 16:
        return samples.astype(">u2").tobytes()
    if bit_depth == 8:
        return samples.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    out = bytearray((len(samples) + per_byte - 1) // per_byte)
    for i, v in enumerate(samples.tolist()):
        assert v < (1 << bit_depth)
        shift = 8 - bit_depth * (i % per_byte + 1)
        out[i // per_byte] |= v << shift
    return bytes(out)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def filter_row(ftype: int, row: bytes, prev: bytes, bpp: int) -> bytes:
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if ftype == 0:
            p = 0
        elif ftype == 1:
            p = a
        elif ftype == 2:
            p = b
        elif ftype == 3:
            p = (a + b) // 2
        elif ftype == 4:
            p = _paeth(a, b, c)
        else:
            raise ValueError(ftype)
        out[i] = (x - p) & 0xFF
    return bytes([ftype]) + bytes(out)


def raw_image_data(samples: np.ndarray, color_type: int, bit_depth: int, interlace: bool, filters="cycle") -> bytes:
    """The filtered (uncompressed) image data stream."""
    h, w = samples.shape[:2]
    ch = CHANNELS[color_type]
    samples = samples.reshape(h, w, ch)
    bpp = max(1, ch * bit_depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    out = bytearray()
    for (x0, y0, dx, dy) in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue  # empty pass: contributes nothing, not even filter bytes
        prev = bytes(len(pack_row(sub[0], bit_depth)))
        for r in range(sub.shape[0]):
            row = pack_row(sub[r], bit_depth)
            if filters == "cycle":
                ft = r % 5
            elif isinstance(filters, int):
                ft = filters
            else:
                ft = filters(r)
            out += filter_row(ft, row, prev, bpp)
            prev = row
    return bytes(out)


def encode_png(
    samples: np.ndarray,
    color_type: int,
    bit_depth: int,
    *,
    palette: np.ndarray | None = None,
    trns: bytes | None = None,
    interlace: bool = False,
    pre_plte_chunks: list[tuple[bytes, bytes]] = (),
    post_plte_chunks: list[tuple[bytes, bytes]] = (),
    idat_size: int | None = None,
    empty_idat: bool = False,
    filters="cycle",
    level: int = 9,
) -> bytes:
    """Encode ``samples`` (H x W [x C] integer array, values in range for ``bit_depth``).

    ``palette``: N x 3 uint8 array (colour type 3).  ``trns``: raw tRNS payload.
    ``pre_plte_chunks`` are written after IHDR (e.g. gAMA), ``post_plte_chunks``
    after PLTE/tRNS and before IDAT (e.g. tEXt, private chunks).
    ``idat_size``: split the zlib stream into IDAT chunks of at most this many bytes.
    ``empty_idat``: additionally emit a zero-length IDAT chunk first (legal).
    """
    assert bit_depth in ALLOWED_DEPTHS[color_type], (color_type, bit_depth)
    samples = np.asarray(samples)
    h, w = samples.shape[:2]
    assert samples.max(initial=0) < (1 << bit_depth)
    data = zlib.compress(raw_image_data(samples, color_type, bit_depth, interlace, filters), level)
    out = bytearray(b"\x89PNG\r\n\x1a\n")
    out += ihdr(w, h, bit_depth, color_type, 1 if interlace else 0)
    for tag, payload in pre_plte_chunks:
        out += chunk(tag, payload)
    if palette is not None:
        pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
        assert 1 <= len(pal) <= 256
        out += chunk(b"PLTE", pal.tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    for tag, payload in post_plte_chunks:
        out += chunk(tag, payload)
    if empty_idat:
        out += chunk(b"IDAT", b"")
    step = idat_size or len(data) or 1
    for i in range(0, max(len(data), 1), step):
        out += chunk(b"IDAT", data[i : i + step])
    out += chunk(b"IEND", b"")
    return bytes(out)
