#!/usr/bin/env python3
"""Generate the media reference fixtures for Tessera's Swift tests.

Produces (see Tests/Reference/README.md for details):

    Tests/Fixtures/media/images/      PNG/JPEG inputs + expected .npy + images.json, bad files + bad.json
    Tests/Fixtures/media/videos/      small videos + expected .npy + videos.json, bad_videos.json
    Tests/Fixtures/media/preprocess/  resize / crop / normalise sources + expected .npy + resize.json
    Tests/Fixtures/media/PROVENANCE.json   tool versions + sha256 of every generated file
    Assets/images/, Assets/video/sample.mp4, Assets/LICENSES.md

Every expected array is the output of the real reference library (Pillow, PyAV,
the ffmpeg CLI, torchvision); this script only cross-checks them against
independent models (our own source arrays, numpy re-implementations, Debian's
djpeg) and records the measured differences.

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_media_fixtures.py [--only images,videos,preprocess,assets]

The output directories owned by this script are deleted and regenerated from
scratch, so the run is reproducible (byte-identical with the same tool versions).

External tools: ffmpeg/ffprobe (5.1 CLI), ImageMagick 6 (for the YCCK JPEG), and
optionally djpeg (libjpeg-turbo-progs) and a C compiler + FFmpeg dev headers
(libavformat-dev, libavcodec-dev, libswscale-dev) for the tolerance measurements.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, features

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pngenc  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "Tests" / "Fixtures" / "media"
IMG_DIR = FIX / "images"
VID_DIR = FIX / "videos"
PRE_DIR = FIX / "preprocess"
ASSETS = ROOT / "Assets"

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFPROBE = shutil.which("ffprobe") or "ffprobe"
DJPEG = shutil.which("djpeg")


def imagemagick() -> list[str]:
    """The real ImageMagick binary (not a stand-in shim on PATH)."""
    for cand in ("magick", "convert-im6.q16", "/usr/bin/convert"):
        p = shutil.which(cand) or (cand if os.path.isabs(cand) and os.path.exists(cand) else None)
        if p:
            return [p]
    raise SystemExit("ImageMagick is required for the YCCK JPEG (apt-get install imagemagick)")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def save_npy(path: Path, arr: np.ndarray) -> str:
    """np.save with a version 1.0 header, C-order, little-endian."""
    arr = np.ascontiguousarray(arr)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    assert arr.dtype in (np.uint8, np.float32), arr.dtype
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=(1, 0), allow_pickle=False)
    return path.name


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    r = subprocess.run([str(c) for c in cmd], **kw)
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) else str(r.stderr))
        raise subprocess.CalledProcessError(r.returncode, r.args)
    return r


def natural(name: str, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """A crop (left, top, right, bottom) of a scikit-image sample, resized to size=(w, h) with LANCZOS."""
    from skimage import data

    src = Image.fromarray(getattr(data, name)())
    return np.array(src.crop(box).resize(size, Image.Resampling.LANCZOS).convert("RGB"))


def luma(rgb: np.ndarray) -> np.ndarray:
    return np.array(Image.fromarray(rgb).convert("L"))


def alpha_from(rgb: np.ndarray) -> np.ndarray:
    """A natural-looking alpha channel that contains exact 0 and 255 regions."""
    g = luma(rgb).astype(np.float64)
    a = np.clip((g - 60.0) * 1.7, 0, 255)
    a[:, :2] = 0
    a[-2:, :] = 255
    return np.round(a).astype(np.uint8)


def widen16(a8: np.ndarray, seed: int) -> np.ndarray:
    """16-bit samples whose HIGH byte is a8 and whose low byte is pseudo-random.

    The random low byte makes 'take the high byte' (v >> 8) differ from
    'round to nearest' (round(v / 257)), so a decoder that scales instead of
    truncating fails the test.
    """
    rs = np.random.RandomState(seed)
    return a8.astype(np.uint32) * 256 + rs.randint(0, 256, size=a8.shape).astype(np.uint32)


def quantize(rgb: np.ndarray, colors: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices HxW, palette Nx3) from Pillow's median-cut quantiser (deterministic)."""
    q = Image.fromarray(rgb).quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    idx = np.array(q)
    n = int(idx.max()) + 1
    pal = np.array(q.getpalette()[: 3 * n], dtype=np.uint8).reshape(n, 3)
    return idx, pal


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_pnm(data: bytes) -> np.ndarray:
    m = re.match(rb"(P[56])\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert m, data[:20]
    kind, w, h, mx = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    assert mx == 255
    ch = 3 if kind == b"P6" else 1
    arr = np.frombuffer(data[m.end() : m.end() + w * h * ch], np.uint8).reshape(h, w, ch)
    return arr


def maxdiff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return float(d.max()) if d.size else 0.0


# --------------------------------------------------------------------------------------
# 1. images
# --------------------------------------------------------------------------------------


def spec_decode(samples, color_type, bit_depth, palette=None, trns=None) -> np.ndarray:
    """Independent model of the decode rule, straight from the PNG spec + Tessera's rule.

    8-bit RGB, or RGBA when the image has alpha or a tRNS chunk; sub-byte grey is
    scaled (v * 255 / (2^d - 1)); 16-bit -> high byte; tRNS keys are compared
    against the raw samples at the file's bit depth.
    """
    s = np.asarray(samples).astype(np.int64)
    h, w = s.shape[:2]

    def to8(v):
        if bit_depth == 16:
            return v >> 8
        if bit_depth < 8 and color_type == 0:
            return v * 255 // ((1 << bit_depth) - 1)
        return v

    if color_type == 0:
        g = to8(s.reshape(h, w))
        rgb = np.stack([g, g, g], -1)
        alpha = None
        if trns is not None:
            key = struct.unpack(">H", trns[:2])[0]
            alpha = np.where(s.reshape(h, w) == key, 0, 255)
    elif color_type == 2:
        rgb = to8(s.reshape(h, w, 3))
        alpha = None
        if trns is not None:
            key = np.array(struct.unpack(">HHH", trns[:6]))
            alpha = np.where((s.reshape(h, w, 3) == key).all(-1), 0, 255)
    elif color_type == 3:
        idx = s.reshape(h, w)
        rgb = np.asarray(palette).astype(np.int64)[idx]
        alpha = None
        if trns is not None:
            lut = np.full(256, 255, np.int64)
            lut[: len(trns)] = np.frombuffer(trns, np.uint8)
            alpha = lut[idx]
    elif color_type == 4:
        v = to8(s.reshape(h, w, 2))
        rgb = np.stack([v[..., 0]] * 3, -1)
        alpha = v[..., 1]
    elif color_type == 6:
        v = to8(s.reshape(h, w, 4))
        rgb, alpha = v[..., :3], v[..., 3]
    else:
        raise ValueError(color_type)
    if alpha is not None:
        return np.dstack([rgb, alpha]).astype(np.uint8)
    return rgb.astype(np.uint8)


def pillow_png_expected(path: Path) -> tuple[np.ndarray, str, str]:
    """Pillow's decode converted to RGB / RGBA (see README for the exact rule).

    Returns (array, pillow_mode, how) where ``how`` says how it was derived.
    """
    im = Image.open(path)
    im.load()
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's convert() from I;16 clips (v > 255 -> 255); that is not a decode,
        # so take the exact 16-bit values from Pillow and keep the high byte.
        raw = np.array(im).astype(np.int64)
        g = (raw >> 8).astype(np.uint8)
        rgb = np.dstack([g, g, g])
        if "transparency" in im.info:
            a = np.where(raw == im.info["transparency"], 0, 255).astype(np.uint8)
            return np.dstack([rgb, a]), mode, "pillow-16bit-highbyte+trns"
        return rgb, mode, "pillow-16bit-highbyte"
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    return np.array(im.convert("RGBA" if has_alpha else "RGB")), mode, "pillow-convert"


def make_pngs(entries: list, notes: dict) -> None:
    # natural content
    rgb_a = natural("chelsea", (90, 20, 390, 250), (37, 29))
    rgb_b = natural("coffee", (90, 40, 420, 280), (45, 31))
    rgb_c = natural("astronaut", (120, 20, 380, 220), (33, 25))
    gray_a = luma(rgb_a)
    gray_b = luma(rgb_b)
    alpha_b = alpha_from(natural("astronaut", (100, 0, 400, 230), (45, 31)))
    alpha_a = alpha_from(natural("astronaut", (60, 40, 360, 280), (37, 29)))

    def add(name, samples, ct, bd, *, writer, description, palette=None, trns=None, pil_image=None,
            pillow_deviates=False, **encode_kw):
        path = IMG_DIR / name
        if writer == "pillow":
            buf = io.BytesIO()
            save_kw = {}
            if trns is not None and ct in (0, 2):
                key = struct.unpack(">H", trns[:2])[0] if ct == 0 else struct.unpack(">HHH", trns[:6])
                save_kw["transparency"] = key
            if trns is not None and ct == 3:
                save_kw["transparency"] = trns
            pil_image.save(buf, "PNG", optimize=False, compress_level=9, **save_kw)
            path.write_bytes(buf.getvalue())
            # verify Pillow wrote what we asked for
            with open(path, "rb") as f:
                head = f.read(33)
            assert head[24] == bd and head[25] == ct, (name, head[24], head[25], bd, ct)
        else:
            path.write_bytes(pngenc.encode_png(samples, ct, bd, palette=palette, trns=trns, **encode_kw))
        model = spec_decode(samples, ct, bd, palette, trns)
        got, mode, how = pillow_png_expected(path)
        desc = description + f" Written by {'Pillow' if writer == 'pillow' else 'pngenc.py (row filters cycle 0..4)'}."
        if got.shape != model.shape or not np.array_equal(got, model):
            if not pillow_deviates:
                raise AssertionError(f"{name}: Pillow decode != spec model (maxdiff "
                                     f"{maxdiff(got, model) if got.shape == model.shape else got.shape})")
            n_bad = int((got != model).any(-1).sum()) if got.shape == model.shape else -1
            desc += (f" PILLOW DEVIATES here: Pillow opens it as mode {mode} with info['transparency'] = the raw "
                     f"key, but compares that key with its already-reduced 8-bit samples, so "
                     f"{n_bad} pixels get the wrong alpha. Expected computed with numpy from the raw samples per the "
                     f"PNG spec (tRNS key compared at the file's bit depth; 16-bit -> high byte), which is also "
                     f"what libpng does.")
            expected = model
            how = "numpy-spec (Pillow deviates)"
            notes.setdefault("pillow_png_deviations", []).append(name)
        else:
            assert not pillow_deviates, f"{name}: expected Pillow to deviate but it matched"
            expected = got
            if how.startswith("pillow-16bit"):
                desc += (" Pillow opens 16-bit grey as mode I;16 and convert('RGB') would CLIP (v>255 -> 255), "
                         "so the expected is Pillow's exact 16-bit values >> 8 (numpy), replicated to RGB.")
        with open(path, "rb") as f:
            f.seek(16)
            w, h, bd_, ct_, _, _, il = struct.unpack(">IIBBBBB", f.read(13))
        entries.append({
            "file": name,
            "expected": save_npy(IMG_DIR / (Path(name).stem + ".npy"), expected),
            "format": "png",
            "description": desc,
            "max_abs_diff": 0,
            "width": int(expected.shape[1]),
            "height": int(expected.shape[0]),
            "channels": int(expected.shape[2]),
            "png": {"color_type": ct_, "bit_depth": bd_, "interlace": il},
            "pillow_mode": mode,
            "expected_from": how,
        })

    L = lambda a: Image.fromarray(a)  # noqa: E731

    # ---- greyscale
    g1_img = Image.fromarray(gray_a).convert("1")  # Floyd-Steinberg dither, deterministic
    g1 = (np.array(g1_img) > 0).astype(np.uint8)
    add("gray1.png", g1, 0, 1, writer="pngenc", description="Greyscale 1-bit (dithered), 37x29 (row = 5 bytes, 3 padding bits).")
    add("gray1_pillow.png", g1, 0, 1, writer="pillow", pil_image=g1_img, description="Greyscale 1-bit, same pixels as gray1.png (Pillow mode '1').")
    add("gray2.png", gray_a >> 6, 0, 2, writer="pngenc", description="Greyscale 2-bit; values scale v*85.")
    add("gray4.png", gray_b >> 4, 0, 4, writer="pngenc", description="Greyscale 4-bit, 45x31; values scale v*17.")
    add("gray8.png", gray_b, 0, 8, writer="pillow", pil_image=L(gray_b), description="Greyscale 8-bit.")
    g16 = widen16(gray_a, 1)
    add("gray16.png", g16, 0, 16, writer="pngenc", description="Greyscale 16-bit, random low byte; expected = high byte.")
    # ---- grey + alpha
    la8 = np.dstack([gray_b, alpha_b])
    add("gray_alpha8.png", la8, 4, 8, writer="pillow", pil_image=Image.fromarray(la8, "LA"),
        description="Grey+alpha 8-bit (Pillow mode LA) -> RGBA with grey replicated.")
    la16 = np.dstack([widen16(gray_a, 2), widen16(alpha_a, 3)])
    add("gray_alpha16.png", la16, 4, 16, writer="pngenc",
        description="Grey+alpha 16-bit -> RGBA, high bytes. (Pillow opens this directly as mode RGBA via rawmode LA;16B.)")
    # ---- truecolour
    add("rgb8.png", rgb_b, 2, 8, writer="pillow", pil_image=L(rgb_b), description="RGB 8-bit, 45x31.")
    add("rgb8_cyclic_filters.png", rgb_a, 2, 8, writer="pngenc", description="RGB 8-bit, 37x29, every row filter type used.")
    add("rgb16.png", widen16(rgb_a, 4), 2, 16, writer="pngenc", description="RGB 16-bit, random low byte; expected = high byte.")
    rgba8 = np.dstack([rgb_b, alpha_b])
    add("rgba8.png", rgba8, 6, 8, writer="pillow", pil_image=Image.fromarray(rgba8, "RGBA"),
        description="RGBA 8-bit; colour kept under alpha=0 (no premultiplication).")
    rgba16 = np.dstack([widen16(rgb_a, 5), widen16(alpha_a, 6)])
    add("rgba16.png", rgba16, 6, 16, writer="pngenc", description="RGBA 16-bit, random low bytes; expected = high bytes.")
    # ---- palette
    i2, p2 = quantize(rgb_a, 2)
    add("palette1.png", i2, 3, 1, writer="pngenc", palette=p2, description="Palette 1-bit (2 colours).")
    i4, p4 = quantize(rgb_b, 4)
    add("palette2.png", i4, 3, 2, writer="pngenc", palette=p4, description="Palette 2-bit (4 colours), 45x31.")
    i11, p11 = quantize(rgb_a, 11)
    add("palette4.png", i11, 3, 4, writer="pngenc", palette=p11,
        description=f"Palette 4-bit with a SHORT PLTE ({len(p11)} entries < 16).")
    i256, p256 = quantize(rgb_b, 256)
    add("palette8.png", i256, 3, 8, writer="pngenc", palette=p256, description=f"Palette 8-bit ({len(p256)} colours).")
    i64, p64 = quantize(rgb_c, 64)
    pal_img = Image.fromarray(i64.astype(np.uint8), "P")
    pal_img.putpalette(p64.flatten().tolist())
    add("palette8_pillow.png", i64, 3, 8, writer="pillow", pil_image=pal_img, palette=p64,
        description="Palette written by Pillow (64 colours, 33x25).")
    # tRNS with partial alpha, shorter than PLTE (remaining entries opaque)
    n = len(p11)
    trns_partial = bytes(int(v) for v in np.linspace(0, 255, n - 3).round())  # n-3 entries, last 3 implicit 255
    add("palette4_trns.png", i11, 3, 4, writer="pngenc", palette=p11, trns=trns_partial,
        description=f"Palette 4-bit + tRNS with partial alpha; tRNS has {len(trns_partial)} entries for a "
                    f"{n}-entry PLTE (missing entries are opaque) -> RGBA.")
    trns_single = bytes([255] * 5 + [0])
    add("palette8_trns_single.png", i64, 3, 8, writer="pngenc", palette=p64, trns=trns_single,
        description="Palette 8-bit + tRNS making only entry 5 fully transparent -> RGBA "
                    "(Pillow stores this as info['transparency']=5).")
    # ---- tRNS on grey / RGB
    key8 = int(np.bincount(gray_b.ravel()).argmax())
    add("gray8_trns.png", gray_b, 0, 8, writer="pillow", pil_image=L(gray_b), trns=struct.pack(">H", key8),
        description=f"Greyscale 8-bit + tRNS key {key8} -> RGBA, alpha 0 where grey == key.")
    g2 = gray_a >> 6
    add("gray1_trns.png", g1, 0, 1, writer="pngenc", trns=struct.pack(">H", 1),
        description="Greyscale 1-bit + tRNS key 1 -> RGBA, white pixels transparent.")
    add("gray2_trns.png", g2, 0, 2, writer="pngenc", trns=struct.pack(">H", 1), pillow_deviates=True,
        description="Greyscale 2-bit + tRNS key 1 (raw sample value) -> RGBA, alpha 0 where the 2-bit sample == 1 "
                    "(those pixels are grey 85).")
    # a 5x4 block equal to the key (transparent) and a 5x4 block with the same HIGH byte but a different
    # low byte (must stay opaque: the key is compared at 16 bits, not after reduction to 8 bits)
    g16t = g16.copy()
    key16 = int(g16t[3, 4])
    g16t[3:8, 4:8] = key16
    g16t[12:17, 20:24] = (key16 & 0xFF00) | ((key16 + 1) & 0xFF)
    add("gray16_trns.png", g16t, 0, 16, writer="pngenc", trns=struct.pack(">H", key16),
        description=f"Greyscale 16-bit + tRNS key {key16}: key compared with the full 16-bit sample, then high byte. "
                    "Rows 3-7/cols 4-7 equal the key (alpha 0); rows 12-16/cols 20-23 share its high byte but not "
                    "its low byte (alpha 255). "
                    "(Pillow's own convert('RGBA') from I;16 would clip AND ignore the key; the expected uses Pillow's "
                    "16-bit samples and its info['transparency'] with numpy.)")
    kr = tuple(int(v) for v in rgb_b[3, 5])
    add("rgb8_trns.png", rgb_b, 2, 8, writer="pillow", pil_image=L(rgb_b), trns=struct.pack(">HHH", *kr),
        description=f"RGB 8-bit + tRNS key {kr} -> RGBA.")
    r16 = widen16(rgb_a, 7)
    k16 = tuple(int(v) for v in r16[4, 6])
    r16[4:9, 6:10] = k16
    r16[15:20, 25:29] = [(v & 0xFF00) | ((v + 1) & 0xFF) for v in k16]
    add("rgb16_trns.png", r16, 2, 16, writer="pngenc", trns=struct.pack(">HHH", *k16), pillow_deviates=True,
        description=f"RGB 16-bit + tRNS key {k16}: key compared with the full 16-bit samples, then high byte. "
                    "Rows 4-8/cols 6-9 equal the key (alpha 0); rows 15-19/cols 25-28 share its high bytes but not "
                    "its low bytes (alpha 255).")
    # ---- Adam7 interlaced
    add("rgb8_interlaced.png", rgb_b, 2, 8, writer="pngenc", interlace=True, description="RGB 8-bit, Adam7, 45x31.")
    add("gray1_interlaced.png", g1, 0, 1, writer="pngenc", interlace=True, description="Greyscale 1-bit, Adam7, 37x29.")
    add("gray2_interlaced.png", g2, 0, 2, writer="pngenc", interlace=True, description="Greyscale 2-bit, Adam7.")
    add("palette4_interlaced.png", i11, 3, 4, writer="pngenc", palette=p11, interlace=True,
        description="Palette 4-bit, Adam7.")
    add("palette8_trns_interlaced.png", i256, 3, 8, writer="pngenc", palette=p256,
        trns=bytes(int(v) for v in (np.arange(len(p256)) * 7 % 256)), interlace=True,
        description="Palette 8-bit + full-length partial-alpha tRNS, Adam7 -> RGBA.")
    add("rgba16_interlaced.png", rgba16, 6, 16, writer="pngenc", interlace=True, description="RGBA 16-bit, Adam7.")
    add("gray_alpha16_interlaced.png", la16, 4, 16, writer="pngenc", interlace=True, description="Grey+alpha 16-bit, Adam7.")
    tiny = rgb_c[:2, :3]
    add("rgb8_interlaced_3x2.png", tiny, 2, 8, writer="pngenc", interlace=True,
        description="RGB 8-bit 3x2, Adam7: passes 2, 3, 5 (1-based) are EMPTY and contribute no bytes at all.")
    add("rgb8_interlaced_1x1.png", rgb_c[:1, :1], 2, 8, writer="pngenc", interlace=True,
        description="RGB 8-bit 1x1, Adam7: only pass 1 has data.")
    add("gray1_interlaced_9x1.png", g1[5:6, :9], 0, 1, writer="pngenc", interlace=True,
        description="Greyscale 1-bit 9x1, Adam7 (passes with 1-2 pixel sub-byte rows).")
    # ---- chunks
    add("rgb8_gamma.png", rgb_a, 2, 8, writer="pngenc",
        pre_plte_chunks=[(b"gAMA", struct.pack(">I", 100000)), (b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))],
        description="RGB 8-bit with gAMA=1.0 (100000) and cHRM chunks: NO gamma/colour correction is applied "
                    "(expected == raw samples, as Pillow).")
    add("rgb8_ancillary.png", rgb_c, 2, 8, writer="pngenc",
        pre_plte_chunks=[(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)), (b"sRGB", b"\x00")],
        post_plte_chunks=[(b"tEXt", b"Comment\x00Tessera fixture"), (b"prVt", b"private ancillary chunk, must be skipped"),
                          (b"zTXt", b"Note\x00\x00" + zlib.compress(b"compressed text"))],
        description="RGB 8-bit with pHYs, sRGB, tEXt, zTXt and an unknown private ancillary chunk 'prVt' to skip.")
    add("rgba8_multi_idat.png", rgba8, 6, 8, writer="pngenc", idat_size=97, empty_idat=True,
        description="RGBA 8-bit whose zlib stream is split over many 97-byte IDAT chunks, preceded by a zero-length IDAT.")
    add("rgb8_1x1.png", rgb_c[10:11, 10:11], 2, 8, writer="pngenc", description="RGB 8-bit 1x1.")
    add("palette1_interlaced_paeth.png", i2, 3, 1, writer="pngenc", palette=p2, interlace=True, filters=4,
        description="Palette 1-bit, Adam7, every row Paeth-filtered (bpp rounds up to 1 byte).")


# ---- JPEG ------------------------------------------------------------------------------

EXIF_TRANSPOSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
INVERSE = {
    None: None,
    Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
    Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
}


def jpeg_markers(data: bytes) -> dict:
    """Very small JPEG header parser: SOF type, components/sampling, DRI, Adobe transform."""
    info = {"sof": None, "components": [], "restart_interval": 0, "adobe_transform": None, "exif": False}
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            break
        m = data[i + 1]
        if m == 0xD8 or 0xD0 <= m <= 0xD7:
            i += 2
            continue
        ln = struct.unpack(">H", data[i + 2 : i + 4])[0]
        seg = data[i + 4 : i + 2 + ln]
        if m in (0xC0, 0xC1, 0xC2, 0xC3):
            info["sof"] = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive", 0xC3: "lossless"}[m]
            nc = seg[5]
            info["components"] = [
                {"id": seg[6 + 3 * k], "h": seg[7 + 3 * k] >> 4, "v": seg[7 + 3 * k] & 15} for k in range(nc)
            ]
        elif m == 0xDD:
            info["restart_interval"] = struct.unpack(">H", seg[:2])[0]
        elif m == 0xEE and seg.startswith(b"Adobe"):
            info["adobe_transform"] = seg[11]
        elif m == 0xE1 and seg.startswith(b"Exif"):
            info["exif"] = True
        if m == 0xDA:
            break
        i += 2 + ln
    return info


def djpeg_decode(path: Path) -> np.ndarray | None:
    if not DJPEG:
        return None
    out = run([DJPEG, "-dct", "int", "-pnm", path]).stdout
    return read_pnm(out)


def make_jpegs(entries: list, notes: dict) -> None:
    src = natural("coffee", (90, 40, 420, 280), (45, 31))
    src_b = natural("chelsea", (90, 20, 390, 250), (37, 29))
    im = Image.fromarray(src)
    djpeg_diffs = {}

    def add(name, data: bytes, description: str, source_rgb: np.ndarray | None, sanity_mean: float = 6.0,
            orientation: int | None = None):
        path = IMG_DIR / name
        path.write_bytes(data)
        pim = Image.open(path)
        pim.load()
        mode = pim.mode
        raw_rgb = np.array(pim.convert("RGB"))  # pre-orientation, for the djpeg comparison
        if orientation is not None:
            assert pim.getexif().get(0x0112) == orientation
            exp = np.array(ImageOps.exif_transpose(pim).convert("RGB"))
            how = "ImageOps.exif_transpose(im).convert('RGB')"
        else:
            exp = raw_rgb
            how = "im.convert('RGB')"
        if source_rgb is not None:  # sanity: the decode resembles what we encoded
            mean = float(np.abs(exp.astype(float) - source_rgb.astype(float)).mean())
            assert mean < sanity_mean, (name, mean)
        dj = djpeg_decode(path)
        if dj is not None:
            if dj.shape[2] == 1:
                dj = np.repeat(dj, 3, axis=2)
            d = maxdiff(dj, raw_rgb)
        else:
            d = None
        djpeg_diffs[name] = d
        mk = jpeg_markers(data)
        entries.append({
            "file": name,
            "expected": save_npy(IMG_DIR / (Path(name).stem + ".npy"), exp),
            "format": "jpeg",
            "description": description,
            "max_abs_diff": int(d) if d is not None else None,
            "width": int(exp.shape[1]),
            "height": int(exp.shape[0]),
            "channels": 3,
            "jpeg": {"sof": mk["sof"], "components": mk["components"], "restart_interval": mk["restart_interval"],
                     "adobe_transform": mk["adobe_transform"], "exif_orientation": orientation},
            "pillow_mode": mode,
            "expected_from": how,
            "djpeg_vs_pillow_max_abs_diff": d,
        })

    def pil_jpeg(img, **kw) -> bytes:
        b = io.BytesIO()
        kw.setdefault("quality", 90)
        img.save(b, "JPEG", **kw)
        return b.getvalue()

    add("baseline_420.jpg", pil_jpeg(im, subsampling=2), "Baseline JPEG, 4:2:0 (2x2,1x1,1x1), 45x31 (partial MCUs).", src, 8)
    add("baseline_422.jpg", pil_jpeg(im, subsampling=1), "Baseline JPEG, 4:2:2 (2x1,1x1,1x1), 45x31.", src, 8)
    add("baseline_444.jpg", pil_jpeg(im, subsampling=0), "Baseline JPEG, 4:4:4, 45x31.", src)
    add("progressive_420.jpg", pil_jpeg(im, subsampling=2, progressive=True), "Progressive JPEG, 4:2:0, 45x31.", src, 8)
    add("progressive_444.jpg", pil_jpeg(Image.fromarray(src_b), subsampling=0, progressive=True, quality=75),
        "Progressive JPEG, 4:4:4, quality 75, 37x29.", src_b, 8)
    gray = luma(src)
    add("grayscale.jpg", pil_jpeg(Image.fromarray(gray)), "Greyscale (1 component) JPEG -> RGB with grey replicated.",
        np.dstack([gray] * 3))
    add("restart_interval.jpg", pil_jpeg(im, subsampling=2, restart_marker_blocks=2),
        "Baseline 4:2:0 with DRI restart interval = 2 MCUs (3 MCUs per row, so intervals straddle rows).", src, 8)
    odd = natural("astronaut", (150, 60, 330, 220), (17, 9))
    add("odd_17x9_420.jpg", pil_jpeg(Image.fromarray(odd), subsampling=2), "4:2:0 JPEG with odd dimensions 17x9.", odd, 12)
    add("tiny_1x1_420.jpg", pil_jpeg(Image.fromarray(odd[4:5, 8:9]), subsampling=2), "1x1 4:2:0 JPEG.", odd[4:5, 8:9], 12)
    # CMYK (Pillow writes CMYK with an Adobe APP14 marker, transform 0, stored inverted)
    cmyk_data = pil_jpeg(im.convert("CMYK"))
    assert jpeg_markers(cmyk_data)["adobe_transform"] == 0
    add("cmyk_adobe.jpg", cmyk_data,
        "4-component CMYK JPEG with Adobe APP14 transform=0 (written by Pillow from im.convert('CMYK')). "
        "Expected = Pillow decode (mode CMYK, samples inverted: Pillow ALWAYS uses rawmode 'CMYK;I' for 4-component "
        "JPEGs) then convert('RGB'): with libjpeg's raw output c,m,y,k: R = round(c*k/255) etc. "
        "(Pillow: nk=255-K; R = clip(nk - MULDIV255(C, nk)) where C=255-c, MULDIV255(a,b)=((a*b+128)>>8 + a*b+128)>>8).",
        src, 8)
    # YCCK via ImageMagick (Adobe transform 2), Photoshop-style 2x2,1x1,1x1,2x2 sampling
    tmp = IMG_DIR / "_ycck_src.png"
    Image.fromarray(src).save(tmp)
    ycck = IMG_DIR / "_ycck.jpg"
    run(imagemagick() + [tmp, "-colorspace", "CMYK", "-define", "jpeg:colorspace=5",
                         "-sampling-factor", "2x2,1x1,1x1,2x2", "-quality", "92", "-strip", ycck])
    data = ycck.read_bytes()
    tmp.unlink()
    ycck.unlink()
    mk = jpeg_markers(data)
    assert mk["adobe_transform"] == 2 and len(mk["components"]) == 4, mk
    add("ycck_adobe.jpg", data,
        "4-component YCCK JPEG, Adobe APP14 transform=2, sampling 2x2,1x1,1x1,2x2 (written by ImageMagick "
        "-colorspace CMYK -define jpeg:colorspace=5). libjpeg converts YCCK->CMYK; then exactly as cmyk_adobe.jpg "
        "(Pillow inverts, convert('RGB')).", src, 10)
    # EXIF orientation 1..8: stored pixels are pre-transformed so that every file DISPLAYS upright
    up = natural("astronaut", (140, 20, 360, 190), (37, 29))
    for o in range(1, 9):
        op = EXIF_TRANSPOSE[o]
        inv = INVERSE.get(op, op)
        stored = Image.fromarray(up) if inv is None else Image.fromarray(up).transpose(inv)
        exif = Image.Exif()
        exif[0x0112] = o
        add(f"exif_orientation_{o}.jpg", pil_jpeg(stored, subsampling=0, exif=exif.tobytes()),
            f"4:4:4 JPEG with EXIF Orientation={o}; stored {stored.width}x{stored.height}, displayed 37x29 upright. "
            "Expected = ImageOps.exif_transpose(im).convert('RGB').", up, 8, orientation=o)
    notes["djpeg_vs_pillow"] = djpeg_diffs


def make_bad_images() -> list:
    bad = []

    def add(name, data: bytes, kind: str, description: str):
        (IMG_DIR / name).write_bytes(data)
        try:
            im = Image.open(IMG_DIR / name)
            im.load()
            pillow = f"opened without error ({im.mode} {im.size})"
        except Exception as e:  # noqa: BLE001
            pillow = f"{type(e).__name__}: {e}".replace(str(IMG_DIR) + os.sep, "")
        bad.append({"file": name, "kind": kind, "description": description, "pillow": pillow,
                    "pillow_rejects": not pillow.startswith("opened without error")})

    good_png = (IMG_DIR / "rgb8_cyclic_filters.png").read_bytes()
    good_jpg = (IMG_DIR / "baseline_420.jpg").read_bytes()
    add("zero-byte.png", b"", "empty", "Zero-length file.")
    # truncated PNG: cut in the middle of the IDAT data
    i = good_png.index(b"IDAT")
    ln = struct.unpack(">I", good_png[i - 4 : i])[0]
    add("truncated_idat.png", good_png[: i + 4 + ln // 2], "truncated", f"PNG cut in the middle of its IDAT chunk (after {ln // 2} of {ln} bytes).")
    # CRC broken (IDAT data intact)
    crc_pos = i + 4 + ln
    broken = bytearray(good_png)
    broken[crc_pos] ^= 0xFF
    add("bad_crc_idat.png", bytes(broken), "corrupt",
        "Valid PNG except the IDAT CRC-32 is wrong. NOTE: Pillow does NOT check IDAT CRCs and decodes this file "
        "fine; libpng (default settings) rejects it ('IDAT: CRC error').")
    broken = bytearray(good_png)
    broken[8 + 8 + 13] ^= 0x01  # first byte of the IHDR CRC (signature 8 + len/type 8 + data 13)
    add("bad_crc_ihdr.png", bytes(broken), "corrupt", "Valid PNG except the IHDR CRC-32 is wrong (Pillow and libpng reject it).")
    # garbage zlib data inside IDAT with a correct CRC
    rs = np.random.RandomState(1234)
    garbage = bytes(rs.randint(0, 256, size=ln).astype(np.uint8))
    g = good_png[: i - 4] + pngenc.chunk(b"IDAT", garbage) + good_png[crc_pos + 4 :]
    add("garbage_idat.png", g, "corrupt", "PNG whose IDAT holds random bytes (not a zlib stream) with a correct CRC.")
    # huge dimensions
    huge = (b"\x89PNG\r\n\x1a\n" + pngenc.ihdr(100000, 100000, 8, 2)
            + pngenc.chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + pngenc.chunk(b"IEND", b""))
    add("huge_dimensions.png", huge, "too_large", "Valid IHDR (correct CRC) claiming 100000x100000 RGB8, then a tiny IDAT.")
    # JPEG cut mid-scan
    sos = good_jpg.index(b"\xff\xda")
    cut = sos + (len(good_jpg) - sos) // 2
    add("truncated_scan.jpg", good_jpg[:cut], "truncated", f"JPEG cut in the middle of the entropy-coded scan (byte {cut} of {len(good_jpg)}).")
    add("garbage_after_soi.jpg", b"\xff\xd8" + bytes(np.random.RandomState(99).randint(0, 256, 300).astype(np.uint8)),
        "corrupt", "SOI marker followed by 300 random bytes.")
    add("not_an_image.jpg", b"This is a plain text file with a .jpg extension.\nIt is not an image.\n", "not_an_image",
        "Text file named .jpg.")
    # SOF claiming 60000x60000
    j = bytearray(good_jpg)
    sof = j.index(b"\xff\xc0")
    j[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    add("huge_dimensions.jpg", bytes(j), "too_large", "Baseline JPEG whose SOF0 claims 60000x60000 (scan data is for 45x31).")
    return bad


def libpng_check(entries: list, notes: dict) -> None:
    """Independent check: system libpng (png_set_expand + png_set_strip_16 + png_set_gray_to_rgb)."""
    import tempfile

    with tempfile.TemporaryDirectory() as td:
        exe = build_c_helper("libpng_decode", ["libpng"], Path(td))
        if not exe:
            notes["libpng_check"] = "skipped (no cc / libpng-dev)"
            return
        mism = []
        for e in entries:
            if e["format"] != "png":
                continue
            out = run([exe, IMG_DIR / e["file"]]).stdout
            head, _, body = out.partition(b"\n")
            w, h, c = map(int, head.split())
            arr = np.frombuffer(body, np.uint8).reshape(h, w, c)
            exp = np.load(IMG_DIR / e["expected"])
            same = arr.shape == exp.shape and np.array_equal(arr, exp)
            e["libpng_matches_expected"] = bool(same)
            if not same:
                mism.append(e["file"])
        ver = run([shutil.which("pkg-config"), "--modversion", "libpng"]).stdout.decode().strip()
        notes["libpng_check"] = {"libpng": ver, "mismatches": mism}


def make_images() -> dict:
    IMG_DIR.mkdir(parents=True)
    entries: list = []
    notes: dict = {}
    make_pngs(entries, notes)
    libpng_check(entries, notes)
    make_jpegs(entries, notes)
    write_json(IMG_DIR / "images.json", entries)
    bad = make_bad_images()
    write_json(IMG_DIR / "bad.json", bad)
    print(f"images: {len(entries)} cases, {len(bad)} bad files")
    return notes


# --------------------------------------------------------------------------------------
# 2. videos
# --------------------------------------------------------------------------------------

FF_COMMON = ["-hide_banner", "-loglevel", "error", "-y"]
FF_DET = ["-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact"]


def lavfi_src(size: str, rate: int, duration: float, kind: str = "testsrc2") -> list[str]:
    return ["-f", "lavfi", "-t", str(duration), "-i", f"{kind}=size={size}:rate={rate}"]


def ffmpeg_rgb(path: Path, n: int, w: int, h: int, sws: str | None = "bilinear", autorotate: bool = True) -> np.ndarray:
    cmd = [FFMPEG, "-v", "error", "-threads", "1"]
    if not autorotate:
        cmd += ["-noautorotate"]
    cmd += ["-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-fps_mode", "passthrough"]
    if sws:
        cmd += ["-sws_flags", sws]
    cmd += ["-"]
    raw = run(cmd).stdout
    arr = np.frombuffer(raw, np.uint8)
    assert arr.size == n * w * h * 3, (path, arr.size, n, w, h)
    return arr.reshape(n, h, w, 3)


def probe_rotation(path: Path) -> int:
    js = json.loads(run([FFPROBE, "-v", "error", "-show_streams", "-select_streams", "v:0", "-of", "json", path]).stdout)
    for sd in js["streams"][0].get("side_data_list", []):
        if "rotation" in sd:
            return int(sd["rotation"])
    return 0


def build_c_helper(name: str, pkgs: list[str], tmpdir: Path) -> Path | None:
    """Optionally compile Tests/Reference/<name>.c against system libraries (found with pkg-config)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    pkg = shutil.which("pkg-config")
    if not (cc and pkg):
        return None
    try:
        flags = run([pkg, "--cflags", "--libs"] + pkgs).stdout.decode().split()
        exe = tmpdir / name
        run([cc, "-O1", Path(__file__).resolve().parent / f"{name}.c", "-o", exe] + flags)
        return exe
    except subprocess.CalledProcessError:
        return None


def build_sws_helper(tmpdir: Path) -> Path | None:
    """sws_rgb24.c against the system FFmpeg (Debian 12: FFmpeg 5.1, libswscale 6)."""
    return build_c_helper("sws_rgb24", ["libavformat", "libavcodec", "libswscale", "libavutil"], tmpdir)


def sws_api_frames(helper: Path, path: Path, n: int, w: int, h: int) -> np.ndarray:
    arr = np.frombuffer(run([helper, path]).stdout, np.uint8)
    assert arr.size == n * w * h * 3, (path, arr.size)
    return arr.reshape(n, h, w, 3)


def describe_video(path: Path, codec_note: str, container: str) -> tuple[dict, np.ndarray]:
    import av
    from av.video.frame import PictureType

    c = av.open(str(path))
    s = c.streams.video[0]
    tb = s.time_base
    frames, arrays, rotations = [], [], set()
    for f in c.decode(s):
        arrays.append(f.to_ndarray(format="rgb24"))  # PyAV default interpolation (SWS_BILINEAR)
        rotations.add(int(f.rotation))
        frames.append({
            "index": len(frames),
            "pts": int(f.pts),
            "pts_seconds": float(f.pts * tb),
            "key": bool(f.key_frame),
            "pict_type": PictureType(int(f.pict_type)).name,
            "duration_seconds": float(f.duration * tb) if f.duration else None,
        })
    c.close()
    # decode order of packets (to show pts order != decode order when B-frames exist)
    c = av.open(str(path))
    s2 = c.streams.video[0]
    pkt_pts = [int(p.pts) for p in c.demux(s2) if p.pts is not None]
    c.close()
    c = av.open(str(path))
    s = c.streams.video[0]
    fps = s.average_rate or s.guessed_rate
    info = {
        "file": path.name,
        "codec": s.codec_context.name,
        "codec_note": codec_note,
        "container": container,
        "pix_fmt": s.codec_context.pix_fmt,
        "width": None,
        "height": None,
        "coded_width": s.width,
        "coded_height": s.height,
        "fps": [fps.numerator, fps.denominator] if fps else None,
        "time_base": [tb.numerator, tb.denominator],
        "duration": (c.duration / 1e6) if c.duration is not None else None,
        "stream_duration": float(s.duration * tb) if s.duration else None,
        "frame_count": len(frames),
        "header_frame_count": int(s.frames),
        "rotation": 0,
        "frames": frames,
        "packet_pts_decode_order": pkt_pts,
    }
    c.close()
    assert len(rotations) == 1
    rot = rotations.pop()
    info["rotation"] = rot
    return info, np.stack(arrays)


def make_videos() -> dict:
    VID_DIR.mkdir(parents=True)
    tmp = VID_DIR / "_tmp"
    tmp.mkdir()
    specs = []

    def enc(name, args, codec_note, container, size, rate, dur, src="testsrc2", vf=None):
        out = VID_DIR / name
        cmd = [FFMPEG] + FF_COMMON + lavfi_src(size, rate, dur, src)
        if vf:
            cmd += ["-vf", vf]
        run(cmd + args + FF_DET + [out])
        specs.append((out, codec_note, container))

    H264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "medium", "-crf", "20"]
    enc("h264_gop5.mp4", H264 + ["-g", "5", "-keyint_min", "5", "-sc_threshold", "0", "-bf", "0"],
        "H.264 High, yuv420p, closed GOP of 5 (key frames 0,5,10), no B-frames", "mp4", "46x30", 10, 1.5)
    enc("h264_bframes.mp4", H264 + ["-g", "12", "-keyint_min", "12", "-sc_threshold", "0", "-bf", "3", "-b_strategy", "0",
                                    "-x264-params", "b-pyramid=normal"],
        "H.264 with 3 B-frames + B-pyramid: packet (decode) order differs from presentation order; "
        "the mp4 has an edit list for the reorder delay", "mp4", "48x32", 12, 1.5)
    enc("h264_fullrange.mp4", ["-c:v", "libx264", "-pix_fmt", "yuvj420p", "-crf", "20", "-g", "5", "-bf", "0",
                               "-color_range", "pc"],
        "H.264 yuvj420p (full/JPEG range, color_range=pc): RGB conversion must use full-range coefficients",
        "mp4", "46x30", 10, 1.0)
    enc("vp9.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-b:v", "300k", "-g", "6", "-deadline", "good",
                     "-cpu-used", "4", "-row-mt", "0", "-tile-columns", "0", "-auto-alt-ref", "0", "-lag-in-frames", "0"],
        "VP9 profile 0, yuv420p, key frame every 6 frames (no alt-ref/hidden frames)", "webm", "46x30", 10, 1.2)
    enc("ffv1.mkv", ["-c:v", "ffv1", "-level", "3", "-pix_fmt", "yuv420p", "-g", "4", "-slices", "4", "-slicecrc", "1"],
        "FFV1 version 3 (lossless intra), yuv420p, 4 slices; Matroska timestamps are in ms (time base 1/1000)",
        "matroska", "46x30", 10, 1.0, src="mandelbrot")
    enc("mpeg4.avi", ["-c:v", "mpeg4", "-pix_fmt", "yuv420p", "-q:v", "3", "-g", "5", "-bf", "0"],
        "MPEG-4 Part 2 (simple profile-ish), AVI container (time base = 1/fps)", "avi", "46x30", 10, 1.2)
    enc("animated.gif",
        ["-filter_complex", "[0:v]split[a][b];[a]palettegen=max_colors=64:stats_mode=full[p];[b][p]paletteuse=dither=none",
         "-c:v", "gif", "-loop", "0"],
        "Animated GIF, 64-colour global palette, 10 fps = 10 cs delay per frame; ffmpeg's GIF encoder writes only the "
        "changed rectangle of each frame with transparency (gifflags transdiff+offsetting), so decoding requires "
        "compositing onto the previous frame. GIF delays are in 1/100 s (time base 1/100), so 12 fps could not be "
        "represented exactly; 10 fps is used.", "gif", "46x30", 10, 1.0)
    # rotation: ffmpeg 5.1 only honours 'rotate' metadata when stream-copying -> encode then remux
    base = tmp / "rot_base.mp4"
    run([FFMPEG] + FF_COMMON + lavfi_src("46x30", 10, 1.0) + H264 + ["-g", "5", "-bf", "0"] + FF_DET + [base])
    rot_path = VID_DIR / "h264_rotate90.mp4"
    run([FFMPEG] + FF_COMMON + ["-i", base, "-c", "copy", "-metadata:s:v:0", "rotate=90", "-map_metadata", "-1",
                                "-fflags", "+bitexact", rot_path])
    specs.append((rot_path, "H.264 46x30 with a display matrix (rotation 90) in tkhd; displayed 30x46", "mp4"))

    manifest = []
    notes = {}
    helper = build_sws_helper(tmp)
    if helper:
        sysver = run([FFMPEG, "-version"]).stdout.decode()
        m = re.search(r"libswscale\s+(\d+\.\s*\d+\.\s*\d+)", sysver)
        notes["system_libswscale"] = m.group(1).replace(" ", "") if m else None
    for path, note, container in specs:
        info, frames = describe_video(path, note, container)
        n, h, w, _ = frames.shape
        rot = info["rotation"]
        rot_probe = probe_rotation(path)
        assert rot_probe == rot, (rot_probe, rot)
        if rot % 180:
            info["width"], info["height"] = h, w
        else:
            info["width"], info["height"] = w, h
        cli_bilinear = ffmpeg_rgb(path, n, info["width"], info["height"], "bilinear")
        cli_default = ffmpeg_rgb(path, n, info["width"], info["height"], None)
        if rot:
            # expected = ffmpeg CLI autorotate output (what a player shows)
            k = {90: 1, 180: 2, 270: 3, -90: 3}[rot]
            rotated = np.rot90(frames, k=k, axes=(1, 2))
            expected = cli_bilinear
            info["rotation_note"] = (
                f"'rotation' is av_display_rotation_get() of the display matrix = PyAV frame.rotation = ffprobe "
                f"side_data rotation: {rot} degrees COUNTER-clockwise. Display frame = np.rot90(decoded, k={k}) "
                f"(ffmpeg CLI autorotate inserts transpose=cclock). The file was made with "
                f"`ffmpeg -c copy -metadata:s:v:0 rotate=90` (ffmpeg 5.1).")
            info["expected_from"] = ("ffmpeg CLI (autorotate on) -f rawvideo -pix_fmt rgb24 -sws_flags bilinear; "
                                     "also checked against np.rot90(PyAV frames)")
            info["pyav_rotated_vs_expected_max_abs_diff"] = maxdiff(rotated, expected)
            pyav_cmp = rotated
        else:
            expected = frames
            info["expected_from"] = "PyAV frame.to_ndarray(format='rgb24') (default interpolation SWS_BILINEAR), presentation order"
            pyav_cmp = frames
        d_bil = maxdiff(cli_bilinear, pyav_cmp)
        d_def = maxdiff(cli_default, pyav_cmp)
        info["ffmpeg_cli_vs_pyav_max_abs_diff"] = d_bil
        info["ffmpeg_cli_default_sws_vs_pyav_max_abs_diff"] = d_def
        d_api = None
        if helper:
            api = sws_api_frames(helper, path, n, w, h)  # decoded orientation
            if rot:
                api = np.rot90(api, k=k, axes=(1, 2))
            d_api = maxdiff(api, expected)
            info["system_libswscale_api_vs_expected_max_abs_diff"] = d_api
        info["max_abs_diff"] = int(max(d_bil, info.get("pyav_rotated_vs_expected_max_abs_diff", 0), d_api or 0))
        info["expected"] = save_npy(VID_DIR / (path.stem + ".npy"), expected)
        info["expected_shape"] = list(expected.shape)
        # key order: put the brief's fields first
        ordered = {k: info[k] for k in ("file", "codec", "container", "width", "height", "fps", "duration",
                                        "frame_count", "rotation", "frames", "expected")}
        ordered.update({k: v for k, v in info.items() if k not in ordered})
        manifest.append(ordered)
        notes[path.name] = {"cli_bilinear_vs_pyav": d_bil, "cli_default_vs_pyav": d_def,
                            "rot_vs_expected": info.get("pyav_rotated_vs_expected_max_abs_diff"),
                            "system_sws_api_vs_expected": d_api}
    write_json(VID_DIR / "videos.json", manifest)

    # ---- error-test files
    bad = []
    m4a = VID_DIR / "no_video_stream.m4a"
    run([FFMPEG] + FF_COMMON + ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=0.5",
                                "-c:a", "aac", "-b:a", "24k"] + ["-map_metadata", "-1", "-fflags", "+bitexact",
                                                                  "-flags:a", "+bitexact", m4a])
    bad.append({"file": m4a.name, "kind": "no_video_stream", "description": "Audio-only MP4/M4A (AAC, 0.5 s 440 Hz sine)."})
    full = tmp / "faststart.mp4"
    run([FFMPEG] + FF_COMMON + lavfi_src("46x30", 10, 2.0) + H264 + ["-g", "5", "-bf", "0", "-movflags", "+faststart"]
        + FF_DET + [full])
    data = full.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    trunc = VID_DIR / "truncated.mp4"
    trunc.write_bytes(data[: len(data) // 2])
    bad.append({"file": trunc.name, "kind": "truncated",
                "description": f"H.264 mp4 (20 frames, moov first via +faststart) cut to {len(data) // 2} of {len(data)} bytes: "
                               "the container opens and advertises 20 frames but the sample data of the later ones is missing."})
    import av

    for b in bad:
        try:
            c = av.open(str(VID_DIR / b["file"]))
            nv = len(c.streams.video)
            got = 0
            err = None
            if nv:
                try:
                    for _ in c.decode(video=0):
                        got += 1
                except Exception as e:  # noqa: BLE001
                    err = f"{type(e).__name__}: {e}"
            b["pyav"] = f"opened; {nv} video streams; decoded {got} frames" + (f"; then {err}" if err else "")
            c.close()
        except Exception as e:  # noqa: BLE001
            b["pyav"] = f"{type(e).__name__}: {e}"
    write_json(VID_DIR / "bad_videos.json", bad)
    shutil.rmtree(tmp)
    print(f"videos: {len(manifest)} videos, {len(bad)} bad files")
    return notes


# --------------------------------------------------------------------------------------
# 3. preprocessing
# --------------------------------------------------------------------------------------

PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def _pil_filter_fn(name):
    import math

    def box(x):
        return 1.0 if -0.5 < x <= 0.5 else 0.0

    def bilinear(x):
        x = abs(x)
        return 1.0 - x if x < 1.0 else 0.0

    def hamming(x):
        x = abs(x)
        if x == 0.0:
            return 1.0
        if x >= 1.0:
            return 0.0
        x = x * math.pi
        # 0.54f / 0.46f are float literals in Pillow's C source
        return math.sin(x) / x * (float(np.float32(0.54)) + float(np.float32(0.46)) * math.cos(x))

    def bicubic(x, a=-0.5):
        x = abs(x)
        if x < 1.0:
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
        if x < 2.0:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0

    def sinc(x):
        if x == 0.0:
            return 1.0
        x = x * math.pi
        return math.sin(x) / x

    def lanczos(x):
        return sinc(x) * sinc(x / 3) if -3.0 <= x < 3.0 else 0.0

    return {"box": (box, 0.5), "bilinear": (bilinear, 1.0), "hamming": (hamming, 1.0),
            "bicubic": (bicubic, 2.0), "lanczos": (lanczos, 3.0)}[name]


def pillow_resample_model(img: np.ndarray, w: int, h: int, filt: str) -> np.ndarray:
    """Independent numpy re-implementation of Pillow's ImagingResample (8-bit), used to verify
    the algorithm description in README.md. Two separable passes, each rounded + clipped to uint8;
    normally horizontal first (only on the source rows the vertical pass needs), but vertical first when
    (H - h) > 0 and (H - h) > 2 * (W - w). Coefficients: PRECISION_BITS = 22 fixed point."""
    PB = 22

    def coeffs(in_size, out_size):
        fn, sup = _pil_filter_fn(filt)
        scale = in_size / out_size
        fscale = max(scale, 1.0)
        support = sup * fscale
        out = []
        for xx in range(out_size):
            center = (xx + 0.5) * scale
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), in_size) - xmin
            ws = [fn((x + xmin - center + 0.5) / fscale) for x in range(xmax)]
            tot = sum(ws)
            if tot != 0.0:
                ws = [v / tot for v in ws]
            ki = [int(-0.5 + v * (1 << PB)) if v < 0 else int(0.5 + v * (1 << PB)) for v in ws]
            out.append((xmin, ki))
        return out

    def apply(arr, cs, axis):
        arr = np.moveaxis(arr, axis, 0).astype(np.int64)
        res = np.empty((len(cs),) + arr.shape[1:], np.uint8)
        for o, (xmin, ki) in enumerate(cs):
            acc = np.full(arr.shape[1:], 1 << (PB - 1), np.int64)
            for j, k in enumerate(ki):
                acc += arr[xmin + j] * k
            res[o] = np.clip(acc >> PB, 0, 255)  # arithmetic shift == C >> on negatives (table lookup)
        return np.moveaxis(res, 0, axis)

    H, W = img.shape[:2]
    out = img
    vc = coeffs(H, h)
    need_h, need_v = w != W, h != H
    # Pillow 13: "If height is being scaled down more than twice the amount the width is,
    # run the vertical pass first" (the order changes the result: 8-bit rounding between passes)
    horizontal_first = not ((H - h) > 0 and (H - h) > (W - w) * 2)
    if horizontal_first:
        if need_h:
            first = vc[0][0]
            last = vc[-1][0] + len(vc[-1][1])
            out = apply(out[first:last], coeffs(W, w), 1)
            vc = [(xmin - first, ki) for xmin, ki in vc]
        if need_v:
            out = apply(out, vc, 0)
    else:
        if need_v:
            out = apply(out, vc, 0)
        if need_h:
            out = apply(out, coeffs(W, w), 1)
    return out


def pillow_nearest_model(img: np.ndarray, w: int, h: int) -> np.ndarray:
    H, W = img.shape[:2]

    def idx(in_size, out_size):
        scale = in_size / out_size
        pos = scale * 0.5
        res = []
        for _ in range(out_size):
            res.append(int(pos))
            pos += scale  # accumulated, as ImagingScaleAffine does
        return np.array(res)

    return img[idx(H, h)][:, idx(W, w)]


def premultiply(rgba):
    a = rgba[..., 3:].astype(np.int64)
    c = rgba[..., :3].astype(np.int64)
    t = c * a + 128
    pm = ((t >> 8) + t) >> 8
    return np.dstack([pm, a]).astype(np.uint8)


def unpremultiply(rgba):
    a = rgba[..., 3:].astype(np.int64)
    c = rgba[..., :3].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        un = np.where((a == 0) | (a == 255), c, np.clip((255 * c) // np.maximum(a, 1), 0, 255))
    return np.dstack([un, a]).astype(np.uint8)


def torch_resample_model(x: np.ndarray, h: int, w: int, mode: str, antialias: bool) -> np.ndarray:
    """float64 numpy model of torch's CPU interpolate (align_corners=False) for CHW float input."""

    def cubic(t, a):
        t = abs(t)
        if t < 1.0:
            return ((a + 2) * t - (a + 3)) * t * t + 1
        if t < 2.0:
            return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
        return 0.0

    def mat(in_size, out_size):
        M = np.zeros((out_size, in_size))
        scale = in_size / out_size
        if antialias:  # _upsample_*_aa: Pillow-style normalised window, a=-0.5
            interp = 2 if mode == "bilinear" else 4
            support = interp / 2 * scale if scale >= 1.0 else interp / 2
            inv = 1.0 / scale if scale >= 1.0 else 1.0
            fn = (lambda t: max(0.0, 1 - abs(t))) if mode == "bilinear" else (lambda t: cubic(t, -0.5))
            for i in range(out_size):
                center = scale * (i + 0.5)
                xmin = max(int(center - support + 0.5), 0)
                xsize = min(int(center + support + 0.5), in_size) - xmin
                ws = np.array([fn((j + xmin - center + 0.5) * inv) for j in range(xsize)])
                if ws.sum() != 0:
                    ws = ws / ws.sum()
                M[i, xmin : xmin + xsize] += ws
        elif mode == "bilinear":
            for i in range(out_size):
                r = max(scale * (i + 0.5) - 0.5, 0.0)
                i0 = int(r)
                i1 = i0 + 1 if i0 < in_size - 1 else i0
                l1 = r - i0
                M[i, i0] += 1 - l1
                M[i, i1] += l1
        else:  # upsample_bicubic2d: a=-0.75, clamped (replicated) border taps
            for i in range(out_size):
                r = scale * (i + 0.5) - 0.5
                i0 = int(np.floor(r))
                t = r - i0
                cs = [cubic(t + 1, -0.75), cubic(t, -0.75), cubic(1 - t, -0.75), cubic(2 - t, -0.75)]
                for k, c in enumerate(cs):
                    M[i, min(max(i0 - 1 + k, 0), in_size - 1)] += c
        return M

    C, H, W = x.shape
    My = mat(H, h) if h != H else np.eye(H)
    Mx = mat(W, w) if w != W else np.eye(W)
    return np.einsum("oh,chw,pw->cop", My, x.astype(np.float64), Mx)


def make_preprocess() -> dict:
    import torch
    import torchvision
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    torch.set_num_threads(1)
    PRE_DIR.mkdir(parents=True)
    notes: dict = {}
    src = natural("chelsea", (60, 0, 420, 240), (69, 45))
    src_rgba = np.dstack([natural("coffee", (120, 30, 420, 240), (45, 31)),
                          alpha_from(natural("astronaut", (80, 10, 380, 220), (45, 31)))])
    Image.fromarray(src).save(PRE_DIR / "source_rgb_69x45.png")
    Image.fromarray(src_rgba, "RGBA").save(PRE_DIR / "source_rgba_45x31.png")
    # sources are read back from the PNG files (what the Swift side will read)
    S = {"source_rgb_69x45.png": Image.open(PRE_DIR / "source_rgb_69x45.png").convert("RGB"),
         "source_rgba_45x31.png": Image.open(PRE_DIR / "source_rgba_45x31.png").convert("RGBA")}
    assert np.array_equal(np.array(S["source_rgb_69x45.png"]), src)
    cases = []
    counter = {"n": 0}

    def fname(stem):
        counter["n"] += 1
        return f"{counter['n']:02d}_{stem}.npy"

    # ---- Pillow resize
    resize_cases = [
        ("source_rgb_69x45.png", "nearest", 23, 15, "integer downscale /3"),
        ("source_rgb_69x45.png", "nearest", 40, 26, "non-integer downscale"),
        ("source_rgb_69x45.png", "nearest", 101, 70, "non-integer upscale"),
        ("source_rgb_69x45.png", "nearest", 138, 90, "integer upscale x2"),
        ("source_rgb_69x45.png", "nearest", 1, 1, "1x1 output"),
        ("source_rgb_69x45.png", "bilinear", 23, 15, "integer downscale /3"),
        ("source_rgb_69x45.png", "bilinear", 40, 26, "non-integer downscale"),
        ("source_rgb_69x45.png", "bilinear", 101, 70, "non-integer upscale"),
        ("source_rgb_69x45.png", "bilinear", 100, 20, "mixed: x up, y down (Pillow 13 runs the VERTICAL pass first here)"),
        ("source_rgb_69x45.png", "bicubic", 60, 20, "both down, height reduced > 2x as much as width (Pillow 13: vertical pass first)"),
        ("source_rgb_69x45.png", "bilinear", 1, 45, "1-pixel-wide output (height unchanged: horizontal pass only)"),
        ("source_rgb_69x45.png", "bilinear", 1, 1, "1x1 output"),
        ("source_rgb_69x45.png", "bicubic", 23, 15, "integer downscale /3"),
        ("source_rgb_69x45.png", "bicubic", 40, 26, "non-integer downscale"),
        ("source_rgb_69x45.png", "bicubic", 101, 70, "non-integer upscale"),
        ("source_rgb_69x45.png", "bicubic", 30, 80, "mixed: x down, y up"),
        ("source_rgb_69x45.png", "bicubic", 69, 1, "1-pixel-high output (width unchanged: vertical pass only)"),
        ("source_rgb_69x45.png", "box", 23, 15, "integer downscale /3 (= 3x3 mean, rounded)"),
        ("source_rgb_69x45.png", "box", 40, 26, "non-integer downscale"),
        ("source_rgb_69x45.png", "hamming", 40, 26, "non-integer downscale"),
        ("source_rgb_69x45.png", "lanczos", 40, 26, "non-integer downscale"),
        ("source_rgb_69x45.png", "lanczos", 101, 70, "non-integer upscale"),
        ("source_rgb_69x45.png", "lanczos", 7, 5, "integer downscale /9"),
        ("source_rgba_45x31.png", "nearest", 20, 14, "RGBA, nearest (no premultiplication)"),
        ("source_rgba_45x31.png", "bilinear", 20, 14, "RGBA downscale (premultiplied internally)"),
        ("source_rgba_45x31.png", "bicubic", 70, 50, "RGBA upscale (premultiplied internally)"),
        ("source_rgba_45x31.png", "lanczos", 29, 21, "RGBA downscale (premultiplied internally)"),
    ]
    model_diffs = []
    for srcname, filt, w, h, what in resize_cases:
        im = S[srcname]
        out = np.array(im.resize((w, h), resample=PIL_FILTERS[filt]))
        arr = np.array(im)
        # verify the algorithm description with an independent model
        if filt == "nearest":
            model = pillow_nearest_model(arr, w, h)
        elif im.mode == "RGBA":
            model = unpremultiply(pillow_resample_model(premultiply(arr), w, h, filt))
        else:
            model = pillow_resample_model(arr, w, h, filt)
        md = maxdiff(model, out)
        assert md == 0, (srcname, filt, w, h, md)
        model_diffs.append(md)
        desc = f"Pillow {im.mode} resize {im.width}x{im.height} -> {w}x{h}, {filt}: {what}."
        if filt != "nearest" and w != im.width and h != im.height:
            vfirst = (im.height - h) > 0 and (im.height - h) > (im.width - w) * 2
            desc += f" Pass order: {'VERTICAL then horizontal' if vfirst else 'horizontal then vertical'}."
        if im.mode == "RGBA" and filt != "nearest":
            desc += (" Pillow resizes RGBA by converting to premultiplied RGBa (c' = MULDIV255(c, a)), resampling, "
                     "and converting back (c = a in {0,255} ? c' : min(255, 255*c'//a)).")
        cases.append({"source": srcname, "op": "resize", "width": w, "height": h, "filter": filt,
                      "expected": save_npy(PRE_DIR / fname(f"resize_{filt}_{w}x{h}"), out), "dtype": "uint8",
                      "layout": "HWC", "max_abs_diff": 0, "description": desc,
                      "numpy_model_max_abs_diff": md})
    notes["pillow_resize_model_max_abs_diff"] = max(model_diffs)

    pil = S["source_rgb_69x45.png"]
    # ---- torchvision shorter-side resize (PIL path) + center crop
    for filt, mode in (("bicubic", InterpolationMode.BICUBIC), ("bilinear", InterpolationMode.BILINEAR)):
        r = TF.resize(pil, 32, interpolation=mode, antialias=True)
        c = TF.center_crop(r, 32)
        iw, ih = r.size
        top, left = int(round((ih - 32) / 2.0)), int(round((iw - 32) / 2.0))
        assert np.array_equal(np.array(c), np.array(r)[top : top + 32, left : left + 32])
        assert np.array_equal(np.array(r), np.array(pil.resize((iw, ih), PIL_FILTERS[filt])))
        cases.append({
            "source": "source_rgb_69x45.png", "op": "resize_shorter_side_center_crop", "size": 32, "crop": 32,
            "filter": filt, "width": 32, "height": 32,
            "intermediate_width": iw, "intermediate_height": ih, "crop_top": top, "crop_left": left,
            "expected_intermediate": save_npy(PRE_DIR / fname(f"shorter_side_{filt}_intermediate_{iw}x{ih}"), np.array(r)),
            "expected": save_npy(PRE_DIR / fname(f"shorter_side_{filt}_crop32"), np.array(c)),
            "dtype": "uint8", "layout": "HWC", "max_abs_diff": 0,
            "description": (f"torchvision.transforms.functional.resize(pil_img, 32, interpolation={filt.upper()}, antialias=True) "
                            f"then center_crop(., 32). On a PIL image torchvision simply calls Pillow resize(({iw},{ih}), {filt}) "
                            f"(antialias flag ignored). Shorter side 45 -> 32, longer = int(32 * 69 / 45) = int(49.07) = {iw} "
                            f"(TRUNCATION). Crop left = int(round((49 - 32) / 2.0)) = round(8.5) = {left} "
                            f"(Python round-half-to-even!), top = {top}."),
        })

    # ---- center crop (uint8, PIL image) incl. padding
    for (th, tw) in ((40, 40), (42, 30), (52, 76), (40, 80)):
        c = np.array(TF.center_crop(pil, [th, tw]))
        H, W = 45, 69
        pad = [(tw - W) // 2 if tw > W else 0, (th - H) // 2 if th > H else 0,
               (tw - W + 1) // 2 if tw > W else 0, (th - H + 1) // 2 if th > H else 0]
        PH, PW = H + pad[1] + pad[3], W + pad[0] + pad[2]
        top, left = int(round((PH - th) / 2.0)), int(round((PW - tw) / 2.0))
        padded = np.zeros((PH, PW, 3), np.uint8)
        padded[pad[1] : pad[1] + H, pad[0] : pad[0] + W] = src
        assert np.array_equal(c, padded[top : top + th, left : left + tw]), (th, tw)
        t_crop = TF.center_crop(torch.from_numpy(src).permute(2, 0, 1), [th, tw]).permute(1, 2, 0).numpy()
        assert np.array_equal(t_crop, c)
        desc = (f"torchvision center_crop(img, [{th}, {tw}]) of the 69x45 source. crop_top = int(round((H - th) / 2.0)), "
                f"crop_left = int(round((W - tw) / 2.0)) with Python's round-half-to-even "
                f"(round(0.5)=0, round(1.5)=2, round(2.5)=2, round(14.5)=14, round(19.5)=20), computed on the padded size.")
        if any(pad):
            desc += (f" Crop larger than the image: first zero-pad (fill 0) with left=(tw-W)//2, top=(th-H)//2, "
                     f"right=(tw-W+1)//2, bottom=(th-H+1)//2 (only on the axes that are too small) = ltrb {pad}.")
        cases.append({"source": "source_rgb_69x45.png", "op": "center_crop", "width": tw, "height": th,
                      "pad_ltrb": pad, "crop_top": top, "crop_left": left,
                      "expected": save_npy(PRE_DIR / fname(f"center_crop_{tw}x{th}"), c),
                      "dtype": "uint8", "layout": "HWC", "max_abs_diff": 0, "description": desc})

    # ---- tensor float resize
    x = TF.to_tensor(pil)  # float32 [0,1], CHW
    assert np.array_equal(x.numpy(), (src.astype(np.float32) / np.float32(255)).transpose(2, 0, 1))
    tensor_cases = [
        ("bilinear", True, 26, 40, "downscale"),
        ("bilinear", True, 70, 101, "upscale"),
        ("bicubic", True, 26, 40, "downscale"),
        ("bicubic", True, 70, 101, "upscale"),
        ("bicubic", True, 20, 100, "mixed: y down, x up"),
        ("bicubic", False, 26, 40, "downscale, antialias=False"),
        ("bicubic", False, 70, 101, "upscale, antialias=False"),
        ("bilinear", False, 70, 101, "upscale, antialias=False"),
    ]
    finding = {}
    for filt, aa, h, w, what in tensor_cases:
        mode = InterpolationMode.BICUBIC if filt == "bicubic" else InterpolationMode.BILINEAR
        y = TF.resize(x, [h, w], interpolation=mode, antialias=aa).numpy().astype(np.float32)
        # which cubic coefficient does torch really use?  test all candidate models
        cand = {}
        if filt == "bicubic":
            for label, kw in (("aa_a=-0.5", dict(antialias=True)), ("noaa_a=-0.75", dict(antialias=False))):
                cand[label] = maxdiff(torch_resample_model(x.numpy(), h, w, "bicubic", **kw), y)
        else:
            cand["aa_triangle"] = maxdiff(torch_resample_model(x.numpy(), h, w, "bilinear", True), y)
            cand["noaa_linear"] = maxdiff(torch_resample_model(x.numpy(), h, w, "bilinear", False), y)
        best = min(cand, key=cand.get)
        finding[f"{filt}_aa{aa}_{what}"] = {"best_model": best, **cand}
        model_err = cand[best]
        desc = (f"torchvision F.resize(float32 tensor in [0,1] (3x45x69), [{h}, {w}], interpolation={filt.upper()}, "
                f"antialias={aa}) -> float32 CHW, NOT clamped: {what}. ")
        if filt == "bicubic":
            desc += ("torch dispatches antialias=True to _upsample_bicubic2d_aa for BOTH down- and up-scaling: Pillow-style "
                     "separable filter, cubic a=-0.5, support 2*max(scale,1), weights normalised over the (border-truncated) "
                     "window. antialias=False uses upsample_bicubic2d: a=-0.75, 4 taps at floor(scale*(i+0.5)-0.5)-1..+2 "
                     "with indices clamped to the border (replicate). "
                     f"Verified here: best model = {best} (max err {model_err:.2e}); the other model is off by "
                     f"{max(cand.values()):.2e}.")
        else:
            desc += (f"Bilinear: antialias=True uses a triangle filter of support max(scale,1) normalised over the window "
                     f"(Pillow-like); best model = {best} (max err {model_err:.2e}).")
        tol = float(max(1e-5, 4 * model_err))
        cases.append({"source": "source_rgb_69x45.png", "op": "tensor_resize", "width": w, "height": h, "filter": filt,
                      "antialias": aa, "input": "to_tensor(source) float32 CHW in [0,1]",
                      "expected": save_npy(PRE_DIR / fname(f"tensor_{filt}_{'aa' if aa else 'noaa'}_{w}x{h}"), y),
                      "dtype": "float32", "layout": "CHW", "max_abs_diff": tol,
                      "float64_model_max_abs_diff": model_err, "description": desc})
    notes["torch_bicubic_finding"] = finding

    # ---- normalisation
    norm = [
        ("to_tensor", x.numpy(), "to_tensor: float32(u8) / 255 (float32 division), CHW."),
        ("to_tensor_2x_minus_1", (x * 2 - 1).numpy(), "to_tensor(img) * 2 - 1 (float32) -> [-1, 1]."),
    ]
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    xn = TF.normalize(x.clone(), mean=mean, std=std)
    norm.append(("normalize_clip", xn.numpy(),
                 f"Normalize(mean={mean}, std={std}) of to_tensor(img): (x - mean) / std in float32 "
                 "(torchvision: tensor.sub_(mean).div_(std) with mean/std as float32 tensors)."))
    for op, arr, desc in norm:
        ref = (src.astype(np.float32) / np.float32(255)).transpose(2, 0, 1)
        if op == "to_tensor_2x_minus_1":
            ref = ref * np.float32(2) - np.float32(1)
        if op == "normalize_clip":
            ref = (ref - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
        d = maxdiff(ref, arr)
        case = {"source": "source_rgb_69x45.png", "op": op,
                "expected": save_npy(PRE_DIR / fname(op), arr.astype(np.float32)),
                "dtype": "float32", "layout": "CHW", "max_abs_diff": 1e-6, "numpy_float32_model_max_abs_diff": d,
                "description": desc}
        if op == "normalize_clip":
            case.update({"mean": list(mean), "std": list(std)})
        cases.append(case)
    write_json(PRE_DIR / "resize.json", cases)
    print(f"preprocess: {len(cases)} cases (torch {torch.__version__}, torchvision {torchvision.__version__})")
    return notes


# --------------------------------------------------------------------------------------
# 4. demo assets
# --------------------------------------------------------------------------------------

ASSET_LIST = [
    # (skimage file, output name, action, licence statement from skimage/data/_fetchers.py docstring)
    ("astronaut.png", "astronaut.jpg", "reencode",
     "Photograph of Eileen Collins, NASA Great Images database (https://flic.kr/p/r9qvLn). "
     "\"No known copyright restrictions, released into the public domain.\""),
    ("chelsea.png", "chelsea.png", "copy",
     "Chelsea the cat. \"No copyright restrictions. CC0 by the photographer (Stefan van der Walt).\""),
    ("coffee.png", "coffee.jpg", "reencode",
     "Coffee cup, courtesy of Pikolo Espresso Bar. \"No copyright restrictions. CC0 by the photographer (Rachel Michetti).\""),
    ("rocket.jpg", "rocket.jpg", "copy",
     "Launch photo of DSCOVR on Falcon 9 by SpaceX (https://www.flickr.com/photos/spacexphotos/16511594820/). "
     "\"The image was captured by SpaceX and released in the public domain\" "
     "(http://arstechnica.com/tech-policy/2015/03/elon-musk-puts-spacex-photos-into-the-public-domain/)."),
    ("hubble_deep_field.jpg", "hubble_deep_field.jpg", "copy",
     "Hubble eXtreme Deep Field, HubbleSite (http://hubblesite.org/newscenter/archive/releases/2012/37/image/a/). "
     "\"The image was captured by NASA and may be freely used in the public domain\" "
     "(http://www.nasa.gov/audience/formedia/features/MP_Photo_Guidelines.html)."),
]


def make_assets() -> None:
    import skimage

    data_dir = Path(skimage.__file__).parent / "data"
    img_dir = ASSETS / "images"
    vid_dir = ASSETS / "video"
    img_dir.mkdir(parents=True)
    vid_dir.mkdir(parents=True)
    rows = []
    for src, dst, action, lic in ASSET_LIST:
        sp = data_dir / src
        if action == "copy":
            shutil.copyfile(sp, img_dir / dst)
            how = "copied byte-for-byte"
        else:
            Image.open(sp).convert("RGB").save(img_dir / dst, "JPEG", quality=90)
            how = "re-encoded as JPEG quality 90 with Pillow (4:2:0)"
        w, h = Image.open(img_dir / dst).size
        rows.append((dst, w, h, (img_dir / dst).stat().st_size, src, how, lic))
    # sample video: slow pan + zoom over coffee.png (CC0)
    out = vid_dir / "sample.mp4"
    # 600x400 -> 4:3 crop 532x400, upscale x4 (sub-pixel smooth zoompan), zoom 1.0 -> 1.35 while panning right
    vf = ("crop=532:400:0:0,scale=2128:1600:flags=bicubic,"
          "zoompan=z='1+0.35*on/35':x='(iw-iw/zoom)*on/35':y='(ih-ih/zoom)*(0.5-0.3*on/35)':d=36:s=256x192:fps=12,"
          "setsar=1")
    run([FFMPEG] + FF_COMMON + ["-i", data_dir / "coffee.png",
                                "-vf", vf, "-frames:v", "36", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "24",
                                "-preset", "slow", "-g", "12", "-movflags", "+faststart"] + FF_DET + [out])
    assert out.stat().st_size <= 500_000, out.stat().st_size
    lines = [
        "# Demo assets: origin and licences",
        "",
        "All files below are derived from sample data distributed with scikit-image",
        "(`skimage/data/`, scikit-image " + skimage.__version__ + "). The licence / copyright statement of each image",
        "is quoted from the docstring of the corresponding loader in `skimage/data/_fetchers.py`.",
        "(scikit-image's *code* is BSD-3-Clause; the images carry the statements below.)",
        "Regenerate with `Tests/Reference/make_media_fixtures.py --only assets`.",
        "",
        "| File | Size (px) | Bytes | Source | Processing | Licence / origin as stated by the source |",
        "|---|---|---|---|---|---|",
    ]
    for dst, w, h, size, src, how, lic in rows:
        lines.append(f"| `images/{dst}` | {w}x{h} | {size} | skimage `data/{src}` | {how} | {lic} |")
    lines.append(f"| `video/sample.mp4` | 256x192, 12 fps, 3 s, H.264 | {out.stat().st_size} | made from skimage "
                 f"`data/coffee.png` | ffmpeg slow pan + zoom (zoompan, 36 frames), libx264 crf 24, yuv420p | "
                 f"Derived from coffee.png: \"No copyright restrictions. CC0 by the photographer (Rachel Michetti).\" |")
    lines.append("")
    (ASSETS / "LICENSES.md").write_text("\n".join(lines))
    print(f"assets: {len(rows)} images + sample.mp4 ({out.stat().st_size} bytes)")


# --------------------------------------------------------------------------------------
# provenance
# --------------------------------------------------------------------------------------


def versions() -> dict:
    import av
    import skimage

    v = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "python_zlib_runtime": zlib.ZLIB_RUNTIME_VERSION,
        "numpy": np.__version__,
        "Pillow": Image.__version__,
        "Pillow_libjpeg_turbo": features.version("libjpeg_turbo"),
        "Pillow_zlib": features.version("zlib"),
        "PyAV": av.__version__,
        "PyAV_ffmpeg": av.ffmpeg_version_info,
        "PyAV_libraries": {k: ".".join(map(str, t)) for k, t in av.library_versions.items()},
        "scikit_image": skimage.__version__,
        "ffmpeg_cli": run([FFMPEG, "-version"]).stdout.decode().splitlines()[0],
        "djpeg": (run([DJPEG, "-version"]).stderr.decode().strip().splitlines() or ["?"])[0] if DJPEG else None,
        "system_libswscale": (re.search(r"libswscale\s+(\d+\.\s*\d+\.\s*\d+)", run([FFMPEG, "-version"]).stdout.decode())
                              or [None, None])[1],
    }
    try:
        import torch
        import torchvision

        v["torch"] = torch.__version__
        v["torchvision"] = torchvision.__version__
    except ImportError:
        v["torch"] = v["torchvision"] = None
    try:
        v["imagemagick"] = run(imagemagick() + ["-version"]).stdout.decode().splitlines()[0]
    except Exception:  # noqa: BLE001
        v["imagemagick"] = None
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="images,videos,preprocess,assets",
                    help="comma-separated subset of: images,videos,preprocess,assets")
    args = ap.parse_args()
    groups = set(args.only.split(","))
    FIX.mkdir(parents=True, exist_ok=True)
    prov_path = FIX / "PROVENANCE.json"
    old = json.loads(prov_path.read_text()) if prov_path.exists() else {}
    measurements = old.get("measurements", {})
    owned = {"images": [IMG_DIR], "videos": [VID_DIR], "preprocess": [PRE_DIR],
             "assets": [ASSETS / "images", ASSETS / "video", ASSETS / "LICENSES.md"]}
    for g in groups:
        for p in owned[g]:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    if "images" in groups:
        measurements["images"] = make_images()
    if "videos" in groups:
        measurements["videos"] = make_videos()
    if "preprocess" in groups:
        measurements["preprocess"] = make_preprocess()
    if "assets" in groups:
        make_assets()
    files = {}
    for base in (FIX, ASSETS):
        if base.exists():
            for p in sorted(base.rglob("*")):
                if p.is_file() and p != prov_path:
                    files[str(p.relative_to(ROOT))] = {"bytes": p.stat().st_size, "sha256": sha256(p)}
    prov = {
        "generator": "Tests/Reference/make_media_fixtures.py",
        "command": "~/venvs/ref/bin/python Tests/Reference/make_media_fixtures.py",
        "versions": versions(),
        "measurements": measurements,
        "files": files,
    }
    write_json(prov_path, prov)
    total_fix = sum(v["bytes"] for k, v in files.items() if k.startswith("Tests/"))
    total_assets = sum(v["bytes"] for k, v in files.items() if k.startswith("Assets/"))
    print(f"Tests/Fixtures/media: {total_fix} bytes; Assets: {total_assets} bytes")


if __name__ == "__main__":
    main()
