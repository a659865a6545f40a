"""Tessera on Ray: a callable class for ``Dataset.map_batches`` and a shard-folder job.

:class:`Tokenize` puts one tokenizer in each actor of a Ray Data pipeline (images in, token
columns out, into whatever sink the pipeline has). :func:`encode_dataset` runs the command line's
folder mode (``tessera encode -o FOLDER``) on a Ray cluster instead: the inputs are split into
partitions, each run by an actor as worker ``i`` of ``n`` of :func:`tessera.encode_dataset` into
one shared folder. Shard names are deterministic, every file is written atomically and each
worker keeps a journal, so a retried task, a killed actor (restarted by Ray) or a rerun of the
whole job after a crash resumes after the last committed shard: every input lands exactly once.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

import tessera


class Tokenize:
    """``ds.map_batches(Tokenize, fn_constructor_kwargs={"model": DIR}, compute=ActorPoolStrategy(size=n),
    num_cpus=1, batch_size=32, batch_format="numpy")``: adds a ``tokens`` column.

    Args:
        model: the tokenizer's directory (loaded once per actor).
        column: the images: paths (``ray.data.from_items([{"path": p} ...])``, column ``path``: the
            actor reads the files, the fastest on shared storage), encoded bytes
            (``ray.data.read_binary_files``: column ``bytes``) or uint8 arrays (``ray.data.read_images``).
        output_column: where the tokens go (int32 [N, *token_shape]).
        threads: Tessera's threads per actor (1: Ray runs one actor per CPU).
        keep_images: keep the image column in the output (default: keep paths, drop pixels and bytes).
        **encode_options: ``tokens``, ``batch``, ``seed`` of :meth:`tessera.Tokenizer.encode`.
    """

    def __init__(
        self,
        model: str,
        *,
        column: str = "image",
        output_column: str = "tokens",
        threads: int = 1,
        keep_images: bool | None = None,
        **encode_options: Any,
    ):
        tessera.set_threads(threads)
        self.tokenizer = tessera.Tokenizer(model)
        self.column, self.output_column = column, output_column
        self.keep_images, self.options = keep_images, encode_options

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        images = batch[self.column]
        items = list(images) if images.dtype == object or images.ndim != 4 else images
        tokens = self.tokenizer.encode(items, **self.options)
        if isinstance(tokens, list):  # shapes differ (Emu3's smart resize): one object per row
            column = np.empty(len(tokens), dtype=object)
            column[:] = tokens
            tokens = column
        keep = self.keep_images
        if keep is None:  # paths are worth keeping; pixels and bytes are not
            keep = images.dtype.kind in "US" or (images.dtype == object and len(images) and isinstance(images[0], str))
        out = dict(batch) if keep else {k: v for k, v in batch.items() if k != self.column}
        out[self.output_column] = tokens
        return out


def _worker_class(ray):
    @ray.remote(max_restarts=-1, max_task_retries=-1)
    class ShardWorker:
        """One tokenizer per actor; runs partitions of the job (Ray retries a task whose actor died)."""

        def __init__(self, model: str, threads: int):
            tessera.set_threads(threads)
            self.tokenizer = tessera.Tokenizer(model)

        def pid(self) -> int:
            return os.getpid()

        def run(self, index: int, count: int, inputs: list[str], output: str, options: dict) -> dict:
            # resume=True: a fresh folder starts from nothing; a retry continues after its journal
            summary = tessera.encode_dataset(
                self.tokenizer, inputs, output, shard_index=index, num_shards=count, resume=True, **options
            )
            return {"partition": index, **summary}

    return ShardWorker


def encode_dataset(
    model: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    partitions: int | None = None,
    actors: int | None = None,
    threads: int = 1,
    progress: bool = True,
    **options: Any,
) -> list[dict]:
    """``tessera encode -o FOLDER`` on a Ray cluster (``ray.init`` first, or a local one is started).

    Args:
        model: the tokenizer's directory (visible to every node).
        inputs: files and folders (visible to every node: a shared filesystem).
        output: the shard folder (shared too).
        partitions: workers of the job (default: 4 per actor, for balance); fixed for the folder's
            life: a rerun must use the same number (the folder refuses another).
        actors: actors running partitions (default: the cluster's CPUs / ``threads``).
        threads: Tessera's threads per actor.
        progress: print one line per finished partition.
        **options: as :func:`tessera.encode_dataset` (``format``, ``shard_samples``, ``vocabulary``,
            ``sampling``, ``tokens``, ``batch``, ...).

    Returns:
        each partition's summary, in partition order.
    """
    import ray
    from ray.util import ActorPool

    if not ray.is_initialized():
        ray.init()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = actors or max(1, cpus // max(1, threads))
    partitions = partitions or 4 * actors
    worker = _worker_class(ray).options(num_cpus=threads)
    pool = ActorPool([worker.remote(os.fspath(model), threads) for _ in range(actors)])
    files = [os.fspath(p) for p in inputs]
    jobs = [(i, partitions, files, os.fspath(output), options) for i in range(partitions)]
    summaries: dict[int, dict] = {}
    for summary in pool.map_unordered(lambda actor, job: actor.run.remote(*job), jobs):
        summaries[summary["partition"]] = summary
        if progress:
            done = sum(s["inputs_done"] for s in summaries.values())
            failed = sum(s["failed_inputs"] for s in summaries.values())
            print(
                f"tessera.ray: partition {summary['partition']} done ({len(summaries)}/{partitions}): "
                f"{done} inputs, {failed} failed so far",
                flush=True,
            )
    return [summaries[i] for i in range(partitions)]
