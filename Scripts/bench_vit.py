#!/usr/bin/env python3
"""PyTorch/timm side of `Scripts/bench-vit.sh`.

    python3 Scripts/bench_vit.py --save DIR     # write a random-weight vit_base_patch16_224 in timm's hub layout
    python3 Scripts/bench_vit.py --model DIR    # time timm on it; one JSON object
"""
import argparse, json, os, resource, time

import torch
import timm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--architecture", default="vit_base_patch16_224")
    ap.add_argument("--save")
    ap.add_argument("--model")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.save:
        model = timm.create_model(args.architecture, pretrained=False)
        timm.models._hub.save_for_hf(model, args.save, safe_serialization=True)
        return
    model = timm.create_model(f"local-dir:{args.model}", pretrained=True).eval()
    threads = int(os.environ.get("TESSERA_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    results = []
    with torch.inference_mode():
        for b in args.batch:
            x = torch.randn(b, 3, 224, 224)
            model(x)
            runs, start = 0, time.perf_counter()
            while time.perf_counter() - start < args.seconds:
                model(x)
                runs += 1
            elapsed = time.perf_counter() - start
            results.append({"batch": b, "images_per_s": runs * b / elapsed, "ms_per_batch": elapsed / runs * 1000})
    print(json.dumps({"torch": torch.__version__, "timm": timm.__version__, "threads": threads, "results": results,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))


if __name__ == "__main__":
    main()
