#!/usr/bin/env python3
"""Fixtures for TorchCheckpoint (Tessera's restricted reader of `torch.save` files).

Writes Tests/Fixtures/core/torch/:
  pytorch_model.bin   a state dict as torch.save writes it: F32/F16/BF16/F64/I64/I32/U8/BOOL,
                      a transposed (non-contiguous) tensor, views sharing one storage at an
                      offset, an nn.Parameter, a 0-d tensor and an empty tensor
  nested.pt           {"model": state dict, "step": 7, "optimizer": {...}, "names": [...]}
                      (training-checkpoint style: flattened with dots by the reader)
  expected.safetensors every tensor above, contiguous, under its flattened name
  hostile.bin         a torch-style zip whose data.pkl calls os.system (must be refused)
  legacy.bin          torch.save(..., _use_new_zipfile_serialization=False) (refused with a hint)

    ~/venvs/ref/bin/python Tests/Reference/make_torch_checkpoint_fixtures.py
"""
import collections, io, pickle, zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "Fixtures" / "core" / "torch"


class Hostile:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    sd = collections.OrderedDict()
    sd["encoder.weight"] = torch.randn(3, 5, generator=g)
    sd["encoder.half"] = torch.randn(7, generator=g).half()
    sd["encoder.bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    sd["encoder.double"] = torch.randn(3, generator=g).double()
    sd["decoder.transposed"] = base.t()                 # stride (1, 6)
    sd["decoder.row"] = base[2]                         # storage offset 12
    sd["decoder.block"] = base[1:3, 2:5]                # offset 8, stride (6, 1), not contiguous
    sd["decoder.param"] = torch.nn.Parameter(torch.randn(4, generator=g))
    sd["ids.long"] = torch.tensor([1, -2, 3_000_000_000])
    sd["ids.int"] = torch.tensor([5, -6], dtype=torch.int32)
    sd["ids.byte"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    torch.save(sd, OUT / "pytorch_model.bin")
    expected = {k: v.detach().contiguous().clone() for k, v in sd.items()}

    nested = {"model": {"a.weight": torch.randn(2, 2, generator=g), "a.bias": torch.randn(2, generator=g)},
              "step": 7, "names": ["x", "y"],
              "optimizer": {"state": {0: {"exp_avg": torch.randn(2, generator=g)}}, "lr": 0.1}}
    torch.save(nested, OUT / "nested.pt")
    expected["nested.model.a.weight"] = nested["model"]["a.weight"].contiguous()
    expected["nested.model.a.bias"] = nested["model"]["a.bias"].contiguous()
    expected["nested.optimizer.state.0.exp_avg"] = nested["optimizer"]["state"][0]["exp_avg"].contiguous()
    save_file(expected, OUT / "expected.safetensors")

    # A zip laid out as torch.save does, with a pickle that would run a shell command.
    with zipfile.ZipFile(OUT / "hostile.bin", "w", zipfile.ZIP_STORED) as z:
        z.writestr("hostile/data.pkl", pickle.dumps({"w": Hostile()}, protocol=2))
        z.writestr("hostile/byteorder", "little")
        z.writestr("hostile/version", "3\n")
    torch.save({"w": torch.ones(2)}, OUT / "legacy.bin", _use_new_zipfile_serialization=False)
    print("wrote", sorted(p.name for p in OUT.iterdir()))


if __name__ == "__main__":
    main()
