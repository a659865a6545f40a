#!/usr/bin/env python3
"""Python reference for `tessera bench decode`: the same work with Pillow (+ torchvision
transforms when installed) and PyAV, on the same files, printed as one JSON object.

    python3 Scripts/bench_decode.py --size 256 --repeats 4 --video Assets/video/sample.mp4 Assets/images/*
"""
import argparse, io, json, os, time
from multiprocessing import Pool

from PIL import Image

try:
    import torchvision.transforms as T
    from torchvision.transforms import InterpolationMode
except Exception:  # torchvision is optional: Pillow does the same resize
    T = None


def make_pipeline(size):
    if T is not None:
        tf = T.Compose([T.Resize(size, interpolation=InterpolationMode.BICUBIC, antialias=True), T.CenterCrop(size)])
        return lambda im: tf(im)

    def pil(im):
        w, h = im.size
        nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
        im = im.resize((nw, nh), Image.BICUBIC)
        left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
        return im.crop((left, top, left + size, top + size))
    return pil


_blobs, _pipeline = None, None


def _init(blobs, size):
    global _blobs, _pipeline
    _blobs, _pipeline = blobs, make_pipeline(size)


def _one(i):
    im = Image.open(io.BytesIO(_blobs[i]))
    im = _pipeline(im.convert("RGB"))
    im.load()
    return im.size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="+")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--video")
    args = ap.parse_args()
    blobs = [open(p, "rb").read() for p in args.images]
    _init(blobs, args.size)
    passes = max(2, args.repeats)
    seq = 0.0
    for p in range(passes):
        t = time.perf_counter()
        for i in range(len(blobs)):
            _one(i)
        if p > 0:
            seq += time.perf_counter() - t
    cores = os.cpu_count()
    with Pool(cores, initializer=_init, initargs=(blobs, args.size)) as pool:
        par = 0.0
        for p in range(passes):
            t = time.perf_counter()
            pool.map(_one, range(len(blobs)))
            if p > 0:
                par += time.perf_counter() - t
    out = {"images": len(blobs), "size": args.size, "sequential_images_per_s": len(blobs) * (passes - 1) / seq,
           "parallel_images_per_s": len(blobs) * (passes - 1) / par, "cores": cores,
           "resize_by": "torchvision" if T is not None else "pillow"}
    if args.video:
        import av
        t = time.perf_counter()
        n = 0
        with av.open(args.video) as c:
            s = c.streams.video[0]
            s.thread_count = 1
            for frame in c.decode(s):
                frame.to_ndarray(format="rgb24")
                n += 1
        out["video_frames_per_s"] = n / (time.perf_counter() - t)
        out["video_frames"] = n
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
