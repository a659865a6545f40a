#!/usr/bin/env python3
"""Megatron-LM indexed-dataset fixtures for Tessera's `.bin` shards.

Writes, with megatron-core's own `IndexedDatasetBuilder` (megatron.core.datasets.indexed_dataset),
two tiny datasets of fixed sequences, one sequence per document (builder.add_item + end_document),
which is how Tessera lays out a `.bin` shard (one sample = one LM stream = one document):

    Tests/Fixtures/streams/megatron/uint16.{bin,idx}   ids < 65,536 (DType.uint16 = 8)
    Tests/Fixtures/streams/megatron/int32.{bin,idx}    larger ids (Tessera's uint32 shards, declared DType.int32 = 4)
    Tests/Fixtures/streams/megatron/sequences.json     the sequences, the dtypes, versions

The Swift test (`MegatronIndexTests.megatronIndexMatchesMegatronCore`, in TokenStreamTests.swift) rebuilds both `.idx` files
from the sequence lengths and compares them byte for byte, and the `.bin` from the ids.

Usage:
    ~/venvs/ref/bin/pip install megatron-core   # needs torch
    ~/venvs/ref/bin/python Tests/Reference/make_megatron_fixtures.py
"""
import json
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings("ignore")
from megatron.core.datasets.indexed_dataset import IndexedDataset, IndexedDatasetBuilder  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "Fixtures" / "streams" / "megatron"

SEQUENCES = {
    "uint16": (np.uint16, [[8197, 4, 5, 6, 8196], [8197, 65535, 0, 12, 13, 14, 8196], [1]]),
    "int32": (np.int32, [[70000, 70001, 5], [100000], [7, 8, 9, 10, 2**31 - 1]]),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"generator": "Tests/Reference/make_megatron_fixtures.py",
              "megatron_core": version("megatron-core"), "torch": torch.__version__, "datasets": {}}
    for name, (dtype, sequences) in SEQUENCES.items():
        prefix = OUT / name
        builder = IndexedDatasetBuilder(str(prefix) + ".bin", dtype=dtype)
        for s in sequences:
            builder.add_item(torch.tensor(s, dtype=torch.int64))
            builder.end_document()
        builder.finalize(str(prefix) + ".idx")
        # read back with Megatron's reader
        ds = IndexedDataset(str(prefix))
        assert len(ds) == len(sequences)
        for i, s in enumerate(sequences):
            assert ds[i].tolist() == s, (name, i)
        assert ds.document_indices.tolist() == list(range(len(sequences) + 1))
        record["datasets"][name] = {"dtype": np.dtype(dtype).name, "sequences": sequences,
                                    "idx_bytes": (OUT / f"{name}.idx").stat().st_size}
    (OUT / "sequences.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["datasets"], indent=1))


if __name__ == "__main__":
    main()
