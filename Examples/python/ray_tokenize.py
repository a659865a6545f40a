#!/usr/bin/env python3
"""Tokenize a folder of images and videos on Ray into the shard folder `tessera encode -o` writes.

    python Examples/python/ray_tokenize.py --model Assets/models/titok-demo --input Assets/ --output out/ray
    python Examples/python/ray_tokenize.py ... --address auto          # an existing cluster

Each of --partitions workers writes its shards, manifest and errors with a wNNN- prefix into the
one folder (as `tessera encode --shard-index i --num-shards n`); a worker killed mid-run is
restarted by Ray and resumes after its last committed shard, and rerunning the same command
after a crash finishes only what is missing. Paths must be visible to every node.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))  # a source checkout

import ray  # noqa: E402

import tessera.ray  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="tokenizer directory (see `tessera models`)")
    p.add_argument("--input", required=True, nargs="+", help="image/video files or folders")
    p.add_argument("--output", required=True, help="shard folder")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local Ray instance (default: all)")
    p.add_argument("--address", help="an existing Ray cluster (e.g. auto)")
    p.add_argument("--partitions", type=int, help="workers of the job (default: 4 per actor; keep it on reruns)")
    p.add_argument("--format", default="jsonl", choices=["jsonl", "npy", "safetensors", "bin", "tar"])
    p.add_argument("--vocabulary", help="visual vocabulary JSON for bin shards")
    p.add_argument("--shard-samples", type=int, help="samples per shard")
    p.add_argument("--batch", type=int, default=8, help="images per forward pass")
    p.add_argument("--uniform", type=int, help="videos: this many frames spread evenly")
    p.add_argument("--fps", type=float, help="videos: about this many frames per second")
    args = p.parse_args()

    # Workers import tessera too: from a source checkout, hand them its python/ folder.
    package_root = str(Path(tessera.__file__).resolve().parents[1])
    runtime_env = {} if "site-packages" in package_root else {"env_vars": {"PYTHONPATH": package_root}}
    if args.address:
        ray.init(address=args.address, runtime_env=runtime_env)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, runtime_env=runtime_env)
    sampling = {"uniform": args.uniform} if args.uniform else {"fps": args.fps} if args.fps else None
    start = time.perf_counter()
    summaries = tessera.ray.encode_dataset(
        args.model, args.input, args.output, partitions=args.partitions, format=args.format,
        vocabulary=args.vocabulary, shard_samples=args.shard_samples, batch=args.batch, sampling=sampling,
    )
    samples = sum(s["samples"] for s in summaries)
    failed = sum(s["failed_inputs"] for s in summaries)
    elapsed = time.perf_counter() - start
    print(
        f"{samples} samples from {sum(s['inputs_done'] for s in summaries)} inputs in "
        f"{sum(s['shards'] for s in summaries)} shards -> {args.output} ({elapsed:.1f} s, {samples / elapsed:.1f}/s)"
    )
    if failed:
        print(f"{failed} input(s) failed; see {args.output}/w*-errors.jsonl", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
