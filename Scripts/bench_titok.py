#!/usr/bin/env python3
"""PyTorch side of `Scripts/bench-titok.sh`, on Tests/Reference/titok_reference.py (the port
that the fixture generator checks against the official bytedance/1d-tokenizer code).

    python3 Scripts/bench_titok.py --save titok_s128 DIR   # random-weight checkpoint, official layout
    python3 Scripts/bench_titok.py --model DIR              # time encode/decode; one JSON object
"""
import argparse, json, os, resource, sys, time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "Reference"))
from titok_reference import TiTok, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--save", nargs=2, metavar=("CONFIG", "DIR"))
    ap.add_argument("--model")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.save:
        name, out = args.save
        config = json.loads((ROOT / "Tests/Fixtures/titok/official_configs" / f"{name}.json").read_text())
        model = TiTok(config)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.02)
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "config.json").write_text(json.dumps(config, indent=2))
        write_safetensors(Path(out) / "model.safetensors", {k: v.contiguous() for k, v in model.state_dict().items()})
        return
    threads = int(os.environ.get("TESSERA_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    model = TiTok.from_pretrained(args.model)
    size = model.spec.image_size if hasattr(model.spec, "image_size") else 256
    results = []

    def timed(fn):
        fn()
        runs, start = 0, time.perf_counter()
        while True:
            fn()
            runs += 1
            if time.perf_counter() - start >= args.seconds:
                return (time.perf_counter() - start) / runs

    with torch.inference_mode():
        for b in args.batch:
            x = torch.rand(b, 3, size, size)
            zq, _ = model.encode(x)
            enc = timed(lambda: model.encode(x))
            dec = timed(lambda: model.decode(zq))
            results.append({"batch": b, "encode_ms": enc * 1000, "decode_ms": dec * 1000,
                            "encode_images_per_s": b / enc, "decode_images_per_s": b / dec})
    print(json.dumps({"torch": torch.__version__, "threads": threads, "results": results,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))


if __name__ == "__main__":
    main()
