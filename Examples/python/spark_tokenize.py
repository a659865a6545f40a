#!/usr/bin/env python3
"""Tokenize a folder of images and videos on Spark.

    python Examples/python/spark_tokenize.py --model Assets/models/titok-demo --input Assets/ --output out/spark
    python Examples/python/spark_tokenize.py ... --master spark://host:7077
    python Examples/python/spark_tokenize.py ... --parquet out/tokens.parquet     # a token column instead

By default it writes the shard folder `tessera encode -o` writes: a DataFrame of --partitions
partition indices goes through mapInArrow, and each task runs worker i of n of
tessera.encode_dataset into the shared folder (wNNN- prefixes, deterministic shard names, atomic
writes, a journal). A task Spark retries (spark.task.maxFailures; locally use --master local[2,4])
or a rerun of the command resumes after the worker's last committed shard, so every input lands
once. Side-effect writes from a UDF are exactly what Spark's output committer does not protect,
hence the journal instead of Spark's writer.

With --parquet, images are read as binaryFile rows and mapInArrow adds a token column (one
tokenizer per Python worker), written by Spark's own parquet writer.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))  # a source checkout

import tessera  # noqa: E402

_TOKENIZERS: dict = {}  # per Python worker: Spark reuses workers between tasks


def tokenizer(model: str):
    if model not in _TOKENIZERS:
        tessera.set_threads(1)  # Spark runs one Python worker per task slot
        _TOKENIZERS[model] = tessera.Tokenizer(model)
    return _TOKENIZERS[model]


def shard_folder(spark, args, request: dict) -> list[dict]:
    """One task per partition index, each running tessera.encode_dataset as worker i of n."""
    import pyarrow as pa

    n = args.partitions or 4 * spark.sparkContext.defaultParallelism
    model, inputs, output = args.model, args.input, args.output

    def run(batches):
        for batch in batches:
            for index in batch.column("id").to_pylist():
                summary = tessera.encode_dataset(
                    tokenizer(model), inputs, output, shard_index=index, num_shards=n, resume=True, **request
                )
                yield pa.RecordBatch.from_pylist([{"partition": index, "summary": json.dumps(summary)}])

    rows = spark.range(n, numPartitions=n).mapInArrow(run, "partition long, summary string").collect()
    return [json.loads(r["summary"]) for r in sorted(rows, key=lambda r: r["partition"])]


def token_column(spark, args, request: dict) -> int:
    """binaryFile rows → mapInArrow (tokens per image) → Spark's parquet writer."""
    import pyarrow as pa

    model, options = args.model, {k: request[k] for k in ("batch",) if k in request}

    def encode(batches):
        for batch in batches:
            contents = batch.column("content").to_pylist()
            ids = tokenizer(model).encode(contents, **options) if contents else []
            yield pa.RecordBatch.from_arrays(
                [batch.column("path"), pa.array([row.ravel().tolist() for row in ids], type=pa.list_(pa.int32()))],
                names=["path", "tokens"],
            )

    files = spark.read.format("binaryFile").option("recursiveFileLookup", "true")
    files = files.option("pathGlobFilter", "*.{png,jpg,jpeg,PNG,JPG,JPEG}")
    df = files.load(args.input).select("path", "content").mapInArrow(encode, "path string, tokens array<int>")
    df.write.mode("overwrite").parquet(args.parquet)
    return spark.read.parquet(args.parquet).count()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="tokenizer directory (see `tessera models`)")
    p.add_argument("--input", required=True, nargs="+", help="image/video files or folders")
    p.add_argument("--output", help="shard folder")
    p.add_argument("--parquet", help="instead: a parquet dataset of (path, tokens) for the images")
    p.add_argument("--master", default="local[2,4]", help="Spark master (default local[2,4]: 2 cores, 4 attempts)")
    p.add_argument("--partitions", type=int, help="workers of the job (default: 4 per core; keep it on reruns)")
    p.add_argument("--format", default="jsonl", choices=["jsonl", "npy", "safetensors", "bin", "tar"])
    p.add_argument("--vocabulary", help="visual vocabulary JSON for bin shards")
    p.add_argument("--shard-samples", type=int, help="samples per shard")
    p.add_argument("--batch", type=int, default=8, help="images per forward pass")
    p.add_argument("--uniform", type=int, help="videos: this many frames spread evenly")
    p.add_argument("--fps", type=float, help="videos: about this many frames per second")
    args = p.parse_args()
    if bool(args.output) == bool(args.parquet):
        p.error("give --output (a shard folder) or --parquet")

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this Python (tessera, pyarrow)

    package_root = str(Path(tessera.__file__).resolve().parents[1])
    spark = (
        SparkSession.builder.master(args.master).appName("tessera")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "64")
        .config("spark.executorEnv.PYTHONPATH", package_root)
        .getOrCreate()
    )
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    sampling = {"uniform": args.uniform} if args.uniform else {"fps": args.fps} if args.fps else None
    request = {k: v for k, v in dict(
        format=args.format, vocabulary=args.vocabulary, shard_samples=args.shard_samples, batch=args.batch,
        sampling=sampling).items() if v is not None}
    start = time.perf_counter()
    if args.parquet:
        rows = token_column(spark, args, request)
        print(f"{rows} images -> {args.parquet} ({time.perf_counter() - start:.1f} s)")
        return
    summaries = shard_folder(spark, args, request)
    samples = sum(s["samples"] for s in summaries)
    failed = sum(s["failed_inputs"] for s in summaries)
    print(
        f"{samples} samples from {sum(s['inputs_done'] for s in summaries)} inputs in "
        f"{sum(s['shards'] for s in summaries)} shards -> {args.output} ({time.perf_counter() - start:.1f} s)"
    )
    spark.stop()
    if failed:
        print(f"{failed} input(s) failed; see {args.output}/w*-errors.jsonl", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
