#!/usr/bin/env python3
"""LLaVA mm_projector fixture: nn.Sequential(Linear, GELU, Linear) saved under LLaVA's key names
(`model.mm_projector.0.*`, `model.mm_projector.2.*`), plus an unrelated key the loader must
ignore (a LLaVA checkpoint also holds the language model). Writes Tests/Fixtures/towers/projector/.

    ~/venvs/ref/bin/python Tests/Reference/make_projector_fixture.py
"""
from pathlib import Path

import torch
from safetensors.torch import save_file

out = Path(__file__).resolve().parents[1] / "Fixtures" / "towers" / "projector"
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(7)
proj = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.GELU(), torch.nn.Linear(96, 48)).eval()
state = {f"model.mm_projector.{k}": v.contiguous() for k, v in proj.state_dict().items()}
state["model.embed_tokens.weight"] = torch.randn(10, 48)
save_file(state, out / "model.safetensors")
x = torch.randn(2, 5, 64)
with torch.no_grad():
    y = proj(x)
save_file({"features": x, "projected": y}, out / "expected.safetensors")
print("wrote", out)
