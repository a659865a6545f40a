#!/usr/bin/env python3
"""Tessera from Python against the `tessera` command, on the same files in the same run.

    make bench-python                                   # or: python Scripts/bench-python.py [--copies N]
    python Scripts/bench-python.py --ray --torch-python ~/venvs/ref/bin/python   # + the Ray pipelines

Rows (best of --repeats, page cache warm, TESSERA_THREADS as set or the cores):
  1. `tessera encode DIR -o tokens.jsonl` (process wall time, model load included)
  2. tessera.Tokenizer.encode(paths) in chunks of --chunk (load included)
  3. tessera.encode_dataset(DIR, FOLDER) against `tessera encode DIR -o FOLDER`
  4. the call overhead of one encode call (an empty batch: ctypes, options, result)
With --ray: a Ray Data pipeline on 2 CPUs (paths → map_batches with one model per actor, which
reads, decodes, preprocesses and encodes → materialize) with tessera.ray.Tokenize, and the same
pipeline with a PyTorch + Pillow callable (Scripts/bench_encode.py's preprocessing and model),
run by --torch-python. (Moving the bytes through Ray's object store with read_binary_files costs
both about a third of their throughput on 2 cores.)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
MODEL = ROOT / "Assets/models/titok-demo"
CLI = ROOT / ".build/libtessera/release/tessera"


def best(repeats, fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(*args):
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


RAY_PIPELINE = r"""
import json, sys, time
import ray
kind, folder, model, root, batch = sys.argv[1:6]
sys.path.insert(0, root + "/python"); sys.path.insert(0, root + "/Scripts"); sys.path.insert(0, root + "/Tests/Reference")
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
         runtime_env={"env_vars": {"PYTHONPATH": ":".join([root + "/python", root + "/Scripts", root + "/Tests/Reference"]),
                                   "TESSERA_THREADS": "1", "OMP_NUM_THREADS": "1"}})

class TorchTokenize:
    def __init__(self, model):
        import io, torch
        from PIL import Image
        from torchvision.transforms import v2 as T
        from titok_reference import TiTok
        torch.set_num_threads(1)
        self.torch, self.io, self.Image = torch, io, Image
        self.model = TiTok.from_pretrained(model).eval()
        size = self.model.spec.image_size
        self.transform = T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                                    T.CenterCrop(size), T.ToImage(), T.ToDtype(torch.float32, scale=True)])
    def __call__(self, batch):
        images = [self.Image.open(self.io.BytesIO(open(p, "rb").read())).convert("RGB") for p in batch["path"]]
        x = self.torch.stack([self.transform(image) for image in images])
        with self.torch.inference_mode():
            _, info = self.model.encode(x)
        return {"path": batch["path"], "tokens": info["ids"].numpy()}

if kind == "tessera":
    import tessera.ray
    fn, kwargs = tessera.ray.Tokenize, {"model": model, "column": "path"}
else:
    fn, kwargs = TorchTokenize, {"model": model}
files = sorted(str(p) for p in __import__("pathlib").Path(folder).iterdir())
def pipeline():
    ds = ray.data.from_items([{"path": f} for f in files])  # the actors read the files (shared storage)
    ds = ds.map_batches(fn, fn_constructor_kwargs=kwargs, compute=ray.data.ActorPoolStrategy(size=2), num_cpus=0.5,
                        batch_size=int(batch), batch_format="numpy")
    return ds.materialize()
pipeline()  # warm: actors, imports
start = time.perf_counter(); ds = pipeline(); seconds = time.perf_counter() - start
rows = sorted(ds.take_all(), key=lambda r: r["path"])
print(json.dumps({"seconds": seconds, "images": len(rows), "tokens": [r["tokens"].tolist() for r in rows]}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=40, help="copies of each demo image (5 images)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=64, help="paths per Tokenizer.encode call")
    ap.add_argument("--ray", action="store_true", help="also the Ray pipelines")
    ap.add_argument("--ray-batch", type=int, default=32, help="map_batches batch size")
    ap.add_argument("--torch-python", default=sys.executable, help="a Python with torch, torchvision, Pillow and ray")
    args = ap.parse_args()

    import tessera

    work = Path(tempfile.mkdtemp())
    try:
        folder = work / "in"
        folder.mkdir()
        for i in range(args.copies):
            for p in sorted((ROOT / "Assets/images").iterdir()):
                shutil.copy(p, folder / f"{i:04d}_{p.name}")
        paths = sorted(folder.iterdir())
        n = len(paths)
        for p in paths:
            p.read_bytes()  # page cache
        print(f"{n} images (demo TiTok, 128², 32 tokens), TESSERA_THREADS={tessera.threads()}, "
              f"libTesseraC {tessera.library_version()}")

        cli_file = best(args.repeats, lambda: run(CLI, "encode", "--model", MODEL, folder, "-o", work / "c.jsonl"))

        def python_file():
            tok = tessera.Tokenizer(MODEL)
            for start in range(0, n, args.chunk):
                tok.encode(paths[start : start + args.chunk])
            tok.close()

        py_file = best(args.repeats, python_file)

        def cli_folder():
            shutil.rmtree(work / "cf", ignore_errors=True)
            run(CLI, "encode", "--model", MODEL, folder, "-o", work / "cf")

        def py_folder():
            shutil.rmtree(work / "pf", ignore_errors=True)
            tessera.encode_dataset(MODEL, [folder], work / "pf")

        cli_dir, py_dir = best(args.repeats, cli_folder), best(args.repeats, py_folder)
        tok = tessera.Tokenizer(MODEL)
        batch = tessera._images.Batch([])
        overhead = best(5, lambda: [tessera._lib.call_result(
            tessera._lib.lib.tess_tokenizer_encode, tok.handle, batch.array, 0, b"{}").arrays() for _ in range(1000)]) / 1000
        print(f"{'':38} {'images/s':>9} {'seconds':>8} {'vs CLI':>7}")
        print(f"{'tessera encode -o tokens.jsonl':38} {n / cli_file:9.1f} {cli_file:8.3f} {'':>7}")
        print(f"{'Tokenizer.encode(paths), chunks of ' + str(args.chunk):38} {n / py_file:9.1f} {py_file:8.3f} "
              f"{cli_file / py_file:6.2f}x")
        print(f"{'tessera encode -o FOLDER':38} {n / cli_dir:9.1f} {cli_dir:8.3f} {'':>7}")
        print(f"{'tessera.encode_dataset(FOLDER)':38} {n / py_dir:9.1f} {py_dir:8.3f} {cli_dir / py_dir:6.2f}x")
        print(f"call overhead per encode call (empty batch): {overhead * 1e6:.1f} µs")

        if args.ray:
            results = {}
            for kind in ("tessera", "torch"):
                python = sys.executable if kind == "tessera" else args.torch_python
                done = subprocess.run([python, "-c", RAY_PIPELINE, kind, str(folder), str(MODEL), str(ROOT),
                                       str(args.ray_batch)],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"ray {kind} failed:\n{done.stderr[-3000:]}")
                    return
                results[kind] = json.loads(done.stdout.strip().splitlines()[-1])
            t, p = results["tessera"], results["torch"]
            same = sum(a == b for a, b in zip(t["tokens"], p["tokens"]))
            print(f"Ray Data, 2 CPUs, 2 actors, batch {args.ray_batch} (paths → map_batches → materialize; "
                  "actor start and model load included):")
            print(f"{'  tessera.ray.Tokenize':38} {n / t['seconds']:9.1f} {t['seconds']:8.3f}")
            print(f"{'  PyTorch + Pillow callable':38} {n / p['seconds']:9.1f} {p['seconds']:8.3f}")
            print(f"  ratio {p['seconds'] / t['seconds']:.2f}x; identical ids for {same}/{n} images")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
