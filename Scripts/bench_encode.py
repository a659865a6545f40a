#!/usr/bin/env python3
"""PyTorch + Pillow side of `Scripts/bench-encode.sh`: what a user would write to tokenize a
folder with the same model — a DataLoader whose workers read, hash, decode (Pillow) and
preprocess (torchvision: shorter side bicubic + antialias, centre crop) while the main process
runs the model (Tests/Reference/titok_reference.py, checked against the official code) in
batches and writes JSONL shards with a manifest.

    python3 Scripts/bench_encode.py --model DIR --workers 2 IN_DIR OUT_DIR   # one JSON line
"""
import argparse, hashlib, io, json, os, resource, sys, time
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms import v2 as T

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "Reference"))
from titok_reference import TiTok  # noqa: E402


class Files(torch.utils.data.Dataset):
    def __init__(self, paths, size):
        self.paths = paths
        self.transform = T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                                    T.CenterCrop(size), T.ToImage(), T.ToDtype(torch.float32, scale=True)])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        data = Path(self.paths[i]).read_bytes()
        image = Image.open(io.BytesIO(data)).convert("RGB")
        return self.transform(image), self.paths[i], len(data), hashlib.sha256(data).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("inputs")
    ap.add_argument("output")
    args = ap.parse_args()
    threads = int(os.environ.get("TESSERA_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    start = time.perf_counter()
    model = TiTok.from_pretrained(args.model).eval()
    size = model.spec.image_size
    paths = sorted(str(p) for p in Path(args.inputs).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    loader = torch.utils.data.DataLoader(Files(paths, size), batch_size=args.batch, num_workers=args.workers,
                                         collate_fn=lambda items: items)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    samples = 0
    with torch.inference_mode(), open(out / "shard-00000.jsonl", "w") as shard, open(out / "manifest.jsonl", "w") as manifest:
        for batch in loader:
            x = torch.stack([b[0] for b in batch])
            _, info = model.encode(x)
            for (_, path, nbytes, sha), ids in zip(batch, info["ids"].tolist()):
                shard.write(json.dumps({"source": path, "model": out.name, "shape": [len(ids)], "ids": ids}) + "\n")
                manifest.write(json.dumps({"source": path, "source_bytes": nbytes, "sha256": sha, "tokens": len(ids)}) + "\n")
                samples += 1
    wall = time.perf_counter() - start
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    print(json.dumps({"images": samples, "seconds": wall, "images_per_s": samples / wall, "cpu_seconds": cpu,
                      "torch": torch.__version__, "workers": args.workers}))


if __name__ == "__main__":
    main()
