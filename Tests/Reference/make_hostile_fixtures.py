#!/usr/bin/env python3
"""Extreme-aspect images of Tests/Fixtures/hostile and their Pillow reference preprocessing.

A 1×51452 JPEG and a 65500×1 PNG (both under the pixel limit) resized to a 128-pixel shorter side
used to allocate the whole resize (843 M and 838 M pixels) before the centre crop. The expected
crops come from Pillow's own resize (the full 3 GB one) and torchvision's centre-crop rule:

    python3 Tests/Reference/make_hostile_fixtures.py
"""
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parents[1] / "Fixtures" / "hostile"


def reference_crop(image: Image.Image, size: int, filt) -> Image.Image:
    w, h = image.size
    target = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    resized = image.resize(target, filt)
    top = int(round((target[1] - size) / 2.0))
    left = int(round((target[0] - size) / 2.0))
    return resized.crop((left, top, left + size, top + size))


def main():
    h = 51452
    a = np.zeros((h, 1, 3), np.uint8)
    a[:, 0, 0] = (np.arange(h) * 7) % 256
    a[:, 0, 1] = (np.arange(h) // 200) % 256
    a[:, 0, 2] = 128
    Image.fromarray(a).save(OUT / "tall-1x51452.jpg", quality=75)
    b = np.zeros((1, 65500, 3), np.uint8)
    b[0, :, 0] = (np.arange(65500) * 3) % 256
    b[0, :, 1] = 77
    Image.fromarray(b).save(OUT / "wide-65500x1.png")
    for name in ["tall-1x51452.jpg", "wide-65500x1.png"]:
        image = Image.open(OUT / name).convert("RGB")
        for filt, label in [(Image.BICUBIC, "bicubic"), (Image.BILINEAR, "bilinear")]:
            reference_crop(image, 128, filt).save(OUT / f"{Path(name).stem}-{label}-128.png")


if __name__ == "__main__":
    main()
