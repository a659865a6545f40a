#!/usr/bin/env python3
"""PyTorch side of `Scripts/bench-reduce.sh`: timm ViT images/s without and with facebookresearch/ToMe's
timm patch (`tome.patch.timm`, proportional attention, constant r).

    python3 Scripts/bench_reduce.py --model DIR [--r 13] [--batch 1 8] [--seconds 6] [--tome-git DIR]

ToMe is imported from an installed `tome` package when there is one, otherwise `tome/merge.py`,
`tome/utils.py` and `tome/patch/timm.py` are read from a git mirror of facebookresearch/ToMe
(--tome-git, default /work/.mirror/facebookresearch+ToMe/repo). Prints one JSON object.
"""
import argparse, copy, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

import torch
import timm


def import_tome(git_dir: str, tmp: Path):
    try:
        import tome.patch  # noqa: F401  (installed package)
        import tome
        return tome
    except ImportError:
        pass
    for rel in ["tome/merge.py", "tome/utils.py", "tome/patch/timm.py"]:
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(subprocess.run(["git", "-C", git_dir, "show", f"HEAD:{rel}"], check=True, capture_output=True, text=True).stdout)
    (tmp / "tome/__init__.py").write_text("")
    (tmp / "tome/patch/__init__.py").write_text("from .timm import apply_patch as timm\n")
    sys.path.insert(0, str(tmp))
    import tome.patch
    return tome


def throughput(model, b, seconds):
    x = torch.randn(b, 3, 224, 224)
    model(x)
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model(x)
        runs += 1
    return runs * b / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--r", type=int, default=13)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--tome-git", default="/work/.mirror/facebookresearch+ToMe/repo")
    args = ap.parse_args()
    torch.manual_seed(0)
    threads = int(os.environ.get("TESSERA_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    model = timm.create_model(f"local-dir:{args.model}", pretrained=True).eval()
    results = []
    with tempfile.TemporaryDirectory() as td, torch.inference_mode():
        tome = import_tome(args.tome_git, Path(td))
        patched = copy.deepcopy(model)
        tome.patch.timm(patched, prop_attn=True)
        patched.r = args.r
        for b in args.batch:
            # interleaved rounds, so load from other processes hits both alike
            plain = merged = 0.0
            for _ in range(3):
                plain += throughput(model, b, args.seconds / 3) / 3
                merged += throughput(patched, b, args.seconds / 3) / 3
            results.append({"batch": b, "images_per_s": plain, "tome_images_per_s": merged})
    print(json.dumps({"torch": torch.__version__, "timm": timm.__version__, "threads": threads, "r": args.r, "results": results,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))


if __name__ == "__main__":
    main()
