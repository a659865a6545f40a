#!/usr/bin/env python3
"""Generate the quantizer reference fixtures for Tessera's Swift tests (TesseraQuantizers).

Produces (see the "Quantizer fixtures" section of Tests/Reference/README.md):

    Tests/Fixtures/quantizers/cases.safetensors   every tensor, keyed "<case>/<name>"
                                                  (float32 for floats, int64 for indices/ids/bits)
    Tests/Fixtures/quantizers/cases.json          list of {"case", "kind", "params", "tensors", "description"}
    Tests/Fixtures/quantizers/PROVENANCE.json     tool versions, checks, sha256 of every file

Semantics: /work/shared/reference/quantizers.md.  The reference for fsq / lfq / vq / residual_* is
the PyPI package vector-quantize-pytorch (1.31/1.32), run on the CPU in eval mode under
torch.no_grad().  `dimwise` (TokenBridge) and `binary` (Instella-T2I) are written here from the
formulas (scipy.stats.norm in float64 for TokenBridge).

Usage:
    ~/venvs/ref/bin/pip install 'vector-quantize-pytorch>=1.31,<1.33'
    ~/venvs/ref/bin/python Tests/Reference/make_quantizer_fixtures.py

Tests/Fixtures/quantizers is deleted and regenerated; with the same package versions the output is
byte-identical (module init uses torch.manual_seed(<case seed>), inputs use torch.Generator).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import math
import platform
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from scipy.stats import norm

import vector_quantize_pytorch as vqp
from vector_quantize_pytorch import (
    FSQ, LFQ, VectorQuantize, ResidualVQ, GroupedResidualVQ, ResidualFSQ, ResidualLFQ,
)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "quantizers"

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

TENSORS: dict[str, torch.Tensor] = {}
MANIFEST: list[dict] = []
CHECKS: list[dict] = []
QUIRKS: list[str] = []


# ----------------------------------------------------------------------------- helpers

def gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=torch.float32)


def _to_storable(t) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t)
    t = t.detach().cpu()
    if t.dtype.is_floating_point:
        t = t.to(torch.float32)
    else:  # bool / int32 / int64 / uint8 -> int64
        t = t.to(torch.int64)
    return t.clone().contiguous()


def add_case(case: str, kind: str, params: dict, description: str, tensors: dict):
    """tensors: name -> (tensor, doc)."""
    meta = {}
    for name, (t, doc) in tensors.items():
        st = _to_storable(t)
        key = f"{case}/{name}"
        assert key not in TENSORS, key
        TENSORS[key] = st
        meta[name] = {"shape": list(st.shape), "dtype": "float32" if st.dtype == torch.float32 else "int64",
                      "doc": doc}
    MANIFEST.append({"case": case, "kind": kind, "params": params, "tensors": meta,
                     "description": description})


def state_tensors(module, prefix="state/") -> dict:
    out = {}
    for k, v in module.state_dict().items():
        out[prefix + k] = (v, f"state_dict()['{k}'] of the module (original dtype {str(v.dtype).replace('torch.', '')}, shape {list(v.shape)})")
    return out


def check(name: str, ok: bool, detail):
    CHECKS.append({"check": name, "ok": bool(ok), "detail": detail})
    if not ok:
        print(f"CHECK FAILED: {name}: {detail}", file=sys.stderr)


def vq_gap(x_in: torch.Tensor, embed: torch.Tensor, cosine: bool) -> torch.Tensor:
    """Float64 decision margin per (b, n, head): second-best minus best score, in the package's metric
    (euclidean: sqrt(max(d2, 1e-8)); cosine: dot of l2norm(x, eps 1e-6) with the stored rows).
    x_in: [B, N, H, d] (already projected / split), embed: [H, K, d]."""
    x = x_in.double()
    e = embed.double()
    if cosine:
        x = F.normalize(x, dim=-1, eps=1e-6)
        s = torch.einsum("bnhd,hkd->bnhk", x, e)
        top = s.topk(2, dim=-1).values
        return top[..., 0] - top[..., 1]
    d2 = (x * x).sum(-1, keepdim=True) + (e * e).sum(-1)[None, None] - 2 * torch.einsum("bnhd,hkd->bnhk", x, e)
    d = d2.clamp(min=1e-8).sqrt()
    low = (-d).topk(2, dim=-1).values
    return (low[..., 0] - low[..., 1])


# ----------------------------------------------------------------------------- 1. FSQ

def fsq_cases():
    # --- levels [8,5,5,5]
    levels = [8, 5, 5, 5]
    torch.manual_seed(100)
    q = FSQ(levels=levels).eval()
    x = randn(101, 2, 7, 4) * 2
    x[0, 5] = torch.tensor([0.0, 0.0, 0.0, 0.0])
    x[0, 6] = torch.tensor([1e6, -1e6, 1e6, -1e6])
    x[1, 5] = torch.tensor([-1e6, 1e6, 0.0, -0.0])
    x[1, 6] = torch.tensor([1e6, 1e6, 1e6, 1e6])
    with torch.no_grad():
        codes, idx = q(x)
        cfi = q.indices_to_codes(idx)
        all_idx = torch.arange(q.codebook_size)
        all_codes = q.indices_to_codes(all_idx)
        lvl = q.indices_to_level_indices(idx)
    QUIRKS.append(f"FSQ.forward returns (codes float32 [B,N,D], indices {idx.dtype} [B,N]) - a tuple, indices are int32 "
                  f"(stored here as int64); codebook_size is a Python int ({q.codebook_size}); "
                  f"_basis = {q._basis.tolist()} (first dimension least significant).")
    check("fsq [8,5,5,5]: input 0 -> 500", int(idx[0, 5]) == 500, int(idx[0, 5]))
    check("fsq [8,5,5,5]: +1e6 everywhere -> 999", int(idx[1, 6]) == 999, int(idx[1, 6]))
    check("fsq [8,5,5,5]: indices_to_codes(indices) == forward codes", torch.equal(cfi, codes), None)
    check("fsq [8,5,5,5]: all_codes == implicit_codebook", torch.equal(all_codes, q.implicit_codebook), None)
    add_case("fsq_8555", "fsq", {"levels": levels, "codebook_size": q.codebook_size, "basis": q._basis.tolist(),
                                 "preserve_symmetry": False},
             "vector_quantize_pytorch.FSQ(levels=[8,5,5,5]).eval(); codes, indices = fsq(x) under torch.no_grad(); "
             "codes_from_indices = fsq.indices_to_codes(indices); all_codes = fsq.indices_to_codes(torch.arange(1000)); "
             "level_indices = fsq.indices_to_level_indices(indices).",
             {"x": (x, "input [B,N,D] = randn*2 (seed 101); x[0,5] = 0, x[0,6] = [1e6,-1e6,1e6,-1e6], "
                       "x[1,5] = [-1e6,1e6,0,-0.0], x[1,6] = 1e6"),
              "codes": (codes, "forward output (quantized codes in [-1,1]; even L asymmetric, L=8 -> -1..0.75)"),
              "indices": (idx, "forward indices [B,N] (package returns int32)"),
              "codes_from_indices": (cfi, "fsq.indices_to_codes(indices)"),
              "level_indices": (lvl, "fsq.indices_to_level_indices(indices) [B,N,D] = (idx // basis) % L"),
              "codebook_size": (torch.tensor([q.codebook_size]), "fsq.codebook_size = prod(levels) (shape [1])"),
              "all_codes": (all_codes, "fsq.indices_to_codes(arange(codebook_size)) [1000,4]")})

    # --- non-finite inputs (documented, the package does not crash)
    xn = torch.tensor([[[math.inf, math.inf, math.inf, math.inf],
                        [-math.inf, -math.inf, -math.inf, -math.inf],
                        [math.inf, -math.inf, 0.0, 0.5],
                        [math.nan, 0.0, 0.0, 0.0],
                        [0.0, math.nan, 1.0, -1.0]]], dtype=torch.float32)
    with torch.no_grad():
        cn, inn = q(xn)
        cfin = q.indices_to_codes(inn[:, :3])
    check("fsq [8,5,5,5]: +inf -> 999", int(inn[0, 0]) == 999, int(inn[0, 0]))
    check("fsq [8,5,5,5]: -inf -> 0", int(inn[0, 1]) == 0, int(inn[0, 1]))
    nan_idx = [int(v) for v in inn[0, 3:]]
    QUIRKS.append(f"FSQ with +-inf: tanh saturates, +inf -> top level (index 999), -inf -> 0, codes finite. "
                  f"NaN in any channel: that code channel is NaN and the index is (NaN).round().to(int32) = {nan_idx} "
                  f"on this x86 CPU (undefined behaviour of a float->int cast; other channels unaffected). "
                  f"No exception is raised.")
    add_case("fsq_8555_nonfinite", "fsq", {"levels": levels, "codebook_size": q.codebook_size},
             "Same FSQ(levels=[8,5,5,5]) module as fsq_8555; codes, indices = fsq(x) with +-inf / NaN inputs "
             "(the package does not crash). codes_from_indices = fsq.indices_to_codes(indices[:, :3]) (finite rows only).",
             {"x": (xn, "[1,5,4]: row 0 = +inf, row 1 = -inf, row 2 = [inf,-inf,0,0.5], row 3 = [nan,0,0,0], "
                        "row 4 = [0,nan,1,-1]"),
              "codes": (cn, "forward codes; NaN channels propagate as NaN, +-inf channels saturate to 0.75/-1 (L=8) or +-1"),
              "indices": (inn, "forward indices; rows 3-4 (NaN) hold the int32 cast of NaN observed on x86 "
                               "(platform-dependent garbage, do NOT test these two values; a Swift port should "
                               "define its own NaN policy)"),
              "codes_from_indices": (cfin, "fsq.indices_to_codes(indices[:, :3]) - rows 0..2 only")})

    # --- FlexTok levels [8,8,8,5,5,5]
    levels = [8, 8, 8, 5, 5, 5]
    torch.manual_seed(110)
    q = FSQ(levels=levels).eval()
    x = randn(111, 2, 7, 6) * 2
    x[0, 0] = 0.0
    x[1, 6] = torch.tensor([0.3, -0.3, 1e6, -1e6, 0.0, 5.0])
    with torch.no_grad():
        codes, idx = q(x)
        cfi = q.indices_to_codes(idx)
        lvl = q.indices_to_level_indices(idx)
    check("fsq FlexTok: codebook 64000", q.codebook_size == 64000, q.codebook_size)
    check("fsq FlexTok: basis [1,8,64,512,2560,12800]", q._basis.tolist() == [1, 8, 64, 512, 2560, 12800],
          q._basis.tolist())
    add_case("fsq_flextok", "fsq", {"levels": levels, "codebook_size": q.codebook_size, "basis": q._basis.tolist(),
                                    "preserve_symmetry": False},
             "vector_quantize_pytorch.FSQ(levels=[8,8,8,5,5,5]).eval() (FlexTok); codes, indices = fsq(x); "
             "codes_from_indices = fsq.indices_to_codes(indices); level_indices = fsq.indices_to_level_indices(indices).",
             {"x": (x, "[2,7,6] randn*2 (seed 111); x[0,0] = 0; x[1,6] = [0.3,-0.3,1e6,-1e6,0,5]"),
              "codes": (codes, "forward codes"),
              "indices": (idx, "forward indices (int32 in the package)"),
              "codes_from_indices": (cfi, "fsq.indices_to_codes(indices)"),
              "level_indices": (lvl, "fsq.indices_to_level_indices(indices)"),
              "codebook_size": (torch.tensor([q.codebook_size]), "64000")})

    # --- preserve_symmetry with levels [2,3,4]
    levels = [2, 3, 4]
    torch.manual_seed(120)
    q = FSQ(levels=levels, preserve_symmetry=True).eval()
    x = randn(121, 2, 7, 3) * 1.5
    x[0, 0] = 0.0
    x[0, 1] = torch.tensor([1e6, -1e6, 1e6])
    x[1, 0] = torch.tensor([-0.0, 0.0, -1e6])
    with torch.no_grad():
        codes, idx = q(x)
        cfi = q.indices_to_codes(idx)
        all_codes = q.indices_to_codes(torch.arange(q.codebook_size))
        lvl = q.indices_to_level_indices(idx)
    check("fsq [2,3,4] symmetric: indices_to_codes(indices) == codes", torch.allclose(cfi, codes, atol=1e-6),
          float((cfi - codes).abs().max()))
    add_case("fsq_234_sym", "fsq", {"levels": levels, "codebook_size": q.codebook_size, "basis": q._basis.tolist(),
                                    "preserve_symmetry": True},
             "vector_quantize_pytorch.FSQ(levels=[2,3,4], preserve_symmetry=True).eval() (constructor argument name "
             "in 1.32 is `preserve_symmetry`; required whenever any level is 2); codes, indices = fsq(x); "
             "codes_from_indices = fsq.indices_to_codes(indices); all_codes = fsq.indices_to_codes(arange(24)).",
             {"x": (x, "[2,7,3] randn*1.5 (seed 121); x[0,0] = 0; x[0,1] = [1e6,-1e6,1e6]; x[1,0] = [-0.0,0,-1e6]"),
              "codes": (codes, "forward codes: q = 2/(L-1)*floor((L-1)(tanh z+1)/2+0.5) - 1, grid {-1..1} with L points"),
              "indices": (idx, "forward indices; level k = (q+1)(L-1)/2"),
              "codes_from_indices": (cfi, "fsq.indices_to_codes(indices) (may differ from codes by float rounding)"),
              "level_indices": (lvl, "fsq.indices_to_level_indices(indices)"),
              "codebook_size": (torch.tensor([q.codebook_size]), "24"),
              "all_codes": (all_codes, "fsq.indices_to_codes(arange(24)) [24,3]")})


# ----------------------------------------------------------------------------- 2. LFQ / BSQ

def lfq_cases():
    def inputs(seed, dim):
        x = randn(seed, 2, 7, dim)
        x[0, 0] = -1.0
        x[0, 0, 0] = 1.0           # [1,-1,...,-1] -> MSB set
        x[0, 1] = -1.0
        x[0, 1, -1] = 1.0          # [-1,...,-1,1] -> 1
        x[0, 2] = 0.0              # exact zeros -> all -s, index 0
        x[1, 0] = torch.tensor([0.0, -0.0, 1e-30, -1e-30] * (dim // 4))
        return x

    # plain LFQ dim 8
    torch.manual_seed(200)
    q = LFQ(dim=8, codebook_size=256, entropy_loss_weight=0.0, codebook_scale=1.0).eval()
    x = inputs(201, 8)
    with torch.no_grad():
        ret = q(x)
        cfi = q.indices_to_codes(ret.indices)
    check("lfq: [1,-1,...,-1] -> 128 (MSB first)", int(ret.indices[0, 0]) == 128, int(ret.indices[0, 0]))
    check("lfq: [-1,...,-1,1] -> 1", int(ret.indices[0, 1]) == 1, int(ret.indices[0, 1]))
    check("lfq: zeros -> 0", int(ret.indices[0, 2]) == 0, int(ret.indices[0, 2]))
    check("lfq: indices_to_codes == quantized", torch.equal(cfi, ret.quantized), None)
    QUIRKS.append(f"LFQ.forward returns namedtuple Return(quantized, indices, entropy_aux_loss); indices dtype "
                  f"{ret.indices.dtype}; bit j of the index is 2^(d-1-j) (first channel = MSB, opposite of FSQ); "
                  f"x == 0 (and -0.0) maps to -s (bit 0). state_dict holds the persistent buffer 'mask' = 2^(d-1..0).")
    add_case("lfq_d8", "lfq", {"dim": 8, "codebook_size": 256, "num_codebooks": 1, "codebook_scale": 1.0,
                               "spherical": False, "entropy_loss_weight": 0.0},
             "vector_quantize_pytorch.LFQ(dim=8, codebook_size=256, entropy_loss_weight=0., codebook_scale=1.).eval(); "
             "ret = lfq(x) -> codes = ret.quantized, indices = ret.indices; codes_from_indices = lfq.indices_to_codes(indices).",
             {"x": (x, "[2,7,8] randn (seed 201); x[0,0] = [1,-1,..,-1]; x[0,1] = [-1,..,-1,1]; x[0,2] = 0; "
                       "x[1,0] = [0,-0.0,1e-30,-1e-30]*2"),
              "codes": (ret.quantized, "ret.quantized: +s where x>0 else -s"),
              "indices": (ret.indices, "ret.indices [B,N]: sum_j [x_j>0] 2^(7-j)"),
              "codes_from_indices": (cfi, "lfq.indices_to_codes(indices)"),
              **state_tensors(q)})

    # BSQ (spherical) with codebook_scale 2
    torch.manual_seed(210)
    s = 2.0
    q = LFQ(dim=8, codebook_size=256, entropy_loss_weight=0.0, codebook_scale=s, spherical=True).eval()
    x = inputs(211, 8)
    with torch.no_grad():
        ret = q(x)
        cfi = q.indices_to_codes(ret.indices)
    check("bsq: |code| = s/sqrt(d)", torch.allclose(ret.quantized.abs(), torch.full_like(ret.quantized, s / math.sqrt(8))),
          float(ret.quantized.abs().max()))
    add_case("lfq_bsq_d8", "lfq", {"dim": 8, "codebook_size": 256, "num_codebooks": 1, "codebook_scale": s,
                                   "spherical": True, "entropy_loss_weight": 0.0},
             "vector_quantize_pytorch.LFQ(dim=8, codebook_size=256, entropy_loss_weight=0., codebook_scale=2., "
             "spherical=True).eval() (BSQ); ret = lfq(x); codes = ret.quantized, indices = ret.indices; "
             "codes_from_indices = lfq.indices_to_codes(indices).",
             {"x": (x, "[2,7,8] randn (seed 211), same special rows as lfq_d8"),
              "codes": (ret.quantized, "ret.quantized = l2norm(+-s)*s = +-s/sqrt(8) = +-0.70711"),
              "indices": (ret.indices, "ret.indices (sign of l2norm(x)*s, same as sign of x)"),
              "codes_from_indices": (cfi, "lfq.indices_to_codes(indices)"),
              **state_tensors(q)})

    # two codebooks of 4 bits
    torch.manual_seed(220)
    q = LFQ(dim=8, codebook_size=16, num_codebooks=2, entropy_loss_weight=0.0, codebook_scale=1.0).eval()
    x = inputs(221, 8)
    with torch.no_grad():
        ret = q(x)
        cfi = q.indices_to_codes(ret.indices)
    check("lfq c2: [1,-1,...] -> [8, 0]", ret.indices[0, 0].tolist() == [8, 0], ret.indices[0, 0].tolist())
    add_case("lfq_d8_c2", "lfq", {"dim": 8, "codebook_size": 16, "num_codebooks": 2, "codebook_scale": 1.0,
                                  "spherical": False, "entropy_loss_weight": 0.0},
             "vector_quantize_pytorch.LFQ(dim=8, codebook_size=16, num_codebooks=2, entropy_loss_weight=0., "
             "codebook_scale=1.).eval(); ret = lfq(x); codes = ret.quantized, indices = ret.indices [B,N,2] "
             "(channels 0..3 -> codebook 0, 4..7 -> codebook 1, each MSB first); "
             "codes_from_indices = lfq.indices_to_codes(indices).",
             {"x": (x, "[2,7,8] randn (seed 221), same special rows as lfq_d8"),
              "codes": (ret.quantized, "ret.quantized"),
              "indices": (ret.indices, "ret.indices [B,N,C=2]; x[0,0]=[1,-1,..] -> [8,0]"),
              "codes_from_indices": (cfi, "lfq.indices_to_codes(indices)"),
              **state_tensors(q)})


# ----------------------------------------------------------------------------- 3. VQ

def run_vq(vq, x):
    with torch.no_grad():
        out, idx, _loss = vq(x)
        cfi = vq.get_output_from_indices(idx)
        raw = vq.get_codes_from_indices(idx)
    return out, idx, cfi, raw


def projected_split(vq, x):
    with torch.no_grad():
        h = vq.project_in(x)
    B, N, D = h.shape
    return h.reshape(B, N, vq.heads, D // vq.heads)


def set_codebook(vq, embed):
    with torch.no_grad():
        vq._codebook.embed.copy_(embed)
        vq._codebook.embed_avg.copy_(embed)


def vq_cases():
    # --- euclidean, dim 16, K 64
    torch.manual_seed(300)
    vq = VectorQuantize(dim=16, codebook_size=64, kmeans_init=False).eval()
    init_std = float(vq._codebook.embed.std())
    embed = randn(301, 1, 64, 16)
    # clamp demo: code 7 = code 3 + 2e-5 * unit direction (true squared distance 4e-10 < 1e-8)
    u = randn(302, 16)
    embed[0, 7] = embed[0, 3] + 2e-5 * u / u.norm()
    # clean clamp demo near the origin: codes 50, 51 with norms 1e-5 / 3e-5 (all squared distances < 1e-8)
    v = randn(304, 2, 16)
    embed[0, 50] = 1e-5 * v[0] / v[0].norm()
    embed[0, 51] = 3e-5 * v[1] / v[1].norm()
    set_codebook(vq, embed)
    x = randn(303, 2, 7, 16)
    e = embed[0]
    # code pairs (a < b) whose midpoint has a and b as its two nearest codes (closest such pairs first)
    ed = e.double()
    pairs = []
    for a in range(64):
        for b in range(a + 1, 64):
            if {a, b} & {3, 7, 50, 51}:
                continue
            m = 0.5 * (ed[a] + ed[b])
            near = (ed - m).pow(2).sum(-1).argsort()[:2].tolist()
            if sorted(near) == [a, b]:
                pairs.append(((ed[a] - ed[b]).norm().item(), a, b))
    pairs.sort()
    (_, pa, pb), (_, ta, tb) = pairs[0], pairs[1]
    # row [0,0]: midpoint of codes pa, pb nudged towards pb by 1e-3 of their difference (robust near-tie -> pb)
    x[0, 0] = 0.5 * (e[pa] + e[pb]) + 1e-3 * (e[pb] - e[pa])
    # row [0,1]: float32 midpoint of codes ta, tb (a tie up to float rounding)
    x[0, 1] = 0.5 * (e[ta] + e[tb])
    # row [0,2]: x == code 7 exactly (code 3 is 2e-5 away): both distances clamp to sqrt(1e-8) = 1e-4
    x[0, 2] = e[7]
    # row [0,3]: x == code 40 exactly
    x[0, 3] = e[40]
    x[0, 4] = 0.0
    # row [0,5]: x == code 51 exactly, but code 50 is < 1e-4 away: both clamp to 1e-4 -> tie -> 50
    x[0, 5] = e[51]
    out, idx, cfi, raw = run_vq(vq, x)
    gap = vq_gap(projected_split(vq, x), vq._codebook.embed, cosine=False)[..., 0]
    # clamp analysis
    xe = x[0, 2].double()
    d_true = [(xe - e[j].double()).pow(2).sum().item() for j in (3, 7)]
    with torch.no_grad():
        from vector_quantize_pytorch.vector_quantize_pytorch import cdist
        dpk = cdist(x[0, 2].reshape(1, 1, 16), vq._codebook.embed)[0, 0]
        dpk5 = cdist(x[0, 5].reshape(1, 1, 16), vq._codebook.embed)[0, 0]
    clamp_note = (f"(a) x[0,5] = code 51 (norm 3e-5), code 50 (norm 1e-5) at true d^2 = "
                  f"{(x[0, 5].double() - e[50].double()).pow(2).sum().item():.2e} < 1e-8: package distances "
                  f"d50 = {float(dpk5[50]):.9g}, d51 = {float(dpk5[51]):.9g} (both clamped to sqrt(1e-8)) -> tie -> "
                  f"argmin-first = {int(idx[0, 5])} although 51 is the exact match; x[0,4] = 0 likewise -> {int(idx[0, 4])}. "
                  f"(b) x[0,2] = code 7 exactly (|x|^2 = {float(x[0, 2].pow(2).sum()):.2f}), code 3 at distance 2e-5 "
                  f"(true d^2 {d_true[0]:.1e} < 1e-8): float32 cancellation in |x|^2+|e|^2-2x.e gives d3 = "
                  f"{float(dpk[3]):.6g} (d^2 = 3.8e-6 of rounding noise) and d7 = {float(dpk[7]):.6g} (exactly 0, clamped) "
                  f"-> {int(idx[0, 2])}; the clamp never engages for code 3, so this token is float-order dependent "
                  f"(gap ~0 in float64).")
    QUIRKS.append("VQ euclidean 1e-8 clamp: " + clamp_note +
                  " The clamp maps every distance below 1e-4 to exactly 1e-4, so codes within ~1e-4 of x tie and the "
                  "lowest index wins. For |x|^2 of order 1-30, float32 rounding of the expanded form (~1e-6) is "
                  "larger than 1e-8, so sub-1e-3 distances are rounding noise.")
    QUIRKS.append(f"VectorQuantize default init (kmeans_init=False) is kaiming_uniform on [C,K,d]: std {init_std:.4f} "
                  f"for K=64,d=16 - tiny vs unit inputs; the euclidean fixtures overwrite embed/embed_avg with randn.")
    check("vq euclid: get_output_from_indices == forward", torch.equal(cfi, out), None)
    check(f"vq euclid: robust near-tie between {pa} and {pb} picks {pb}", int(idx[0, 0]) == pb, int(idx[0, 0]))
    check("vq euclid: x == code 40 -> 40", int(idx[0, 3]) == 40, int(idx[0, 3]))
    check("vq euclid: clamp tie x == e51 -> 50", int(idx[0, 5]) == 50, int(idx[0, 5]))
    add_case("vq_euclid", "vq", {"dim": 16, "codebook_size": 64, "heads": 1, "codebook_dim": 16,
                                 "use_cosine_sim": False, "separate_codebook_per_head": False, "kmeans_init": False,
                                 "clamp_note": clamp_note, "near_tie_pair": [pa, pb], "tie_pair": [ta, tb]},
             "torch.manual_seed(300); vq = vector_quantize_pytorch.VectorQuantize(dim=16, codebook_size=64, "
             "kmeans_init=False).eval(); _codebook.embed and embed_avg overwritten with randn(seed 301) (code 7 = "
             "code 3 + 2e-5*unit; codes 50/51 = 1e-5/3e-5 * unit vectors from randn(seed 304)); out, indices, loss = vq(x) under no_grad; codes_from_indices = "
             "vq.get_output_from_indices(indices).",
             {"x": (x, f"[2,7,16] randn (seed 303); x[0,0] = mid(e{pa},e{pb}) + 1e-3(e{pb}-e{pa}) (near tie, -> {pb}); "
                       f"x[0,1] = mid(e{ta},e{tb}) (float32 tie, see gap); x[0,2] = e7 (e3 is 2e-5 away; float-noise decided); "
                       "x[0,3] = e40; x[0,4] = 0 (-> clamp tie 50/51); x[0,5] = e51 (clamp tie -> 50)"),
              "embed": (vq._codebook.embed, "_codebook.embed [C=1,K=64,d=16]"),
              "codes": (out, "forward quantized output = embed[indices]"),
              "indices": (idx, "forward indices [B,N] argmin_j sqrt(max(d2,1e-8)), ties -> first"),
              "codes_from_indices": (cfi, "vq.get_output_from_indices(indices)"),
              "gap": (gap, "float64 decision margin: 2nd-best minus best clamped distance; tokens with gap < 1e-5 "
                           "are float-rounding dependent (x[0,1], x[0,2]); exact clamp ties have gap 0 and resolve to the "
                           "lowest index (x[0,4], x[0,5])"),
              **state_tensors(vq)})

    # --- cosine
    torch.manual_seed(310)
    vq = VectorQuantize(dim=16, codebook_size=64, use_cosine_sim=True).eval()
    x = randn(311, 2, 7, 16)
    x[0, 0] = 0.0                                   # zero vector -> all sims 0 -> index 0
    x[0, 1] = randn(312, 16) * 1e-8                 # norm < 1e-6: divided by eps, not unit
    x[0, 2] = 5.0 * vq._codebook.embed[0, 9]        # parallel to code 9
    x[0, 3] = -vq._codebook.embed[0, 33]
    out, idx, cfi, raw = run_vq(vq, x)
    gap = vq_gap(projected_split(vq, x), vq._codebook.embed, cosine=True)[..., 0]
    rown = vq._codebook.embed.norm(dim=-1)
    check("vq cosine: zero input -> 0", int(idx[0, 0]) == 0, int(idx[0, 0]))
    check("vq cosine: 5*e9 -> 9", int(idx[0, 2]) == 9, int(idx[0, 2]))
    check("vq cosine: get_output_from_indices == forward", torch.equal(cfi, out), None)
    QUIRKS.append(f"VQ cosine: input l2norm uses F.normalize eps 1e-6 (x / max(|x|,1e-6)); zero input -> all scores 0 "
                  f"-> index 0; codebook rows are l2-normalized once at init (row norms {float(rown.min()):.7f}.."
                  f"{float(rown.max()):.7f}) and NOT at lookup; output code = stored row (not the normalized input).")
    add_case("vq_cosine", "vq", {"dim": 16, "codebook_size": 64, "heads": 1, "codebook_dim": 16,
                                 "use_cosine_sim": True, "separate_codebook_per_head": False, "l2norm_eps": 1e-6},
             "torch.manual_seed(310); vq = VectorQuantize(dim=16, codebook_size=64, use_cosine_sim=True).eval() "
             "(codebook = l2norm(kaiming_uniform) from init); out, indices, loss = vq(x); "
             "codes_from_indices = vq.get_output_from_indices(indices).",
             {"x": (x, "[2,7,16] randn (seed 311); x[0,0] = 0; x[0,1] = randn*1e-8 (norm < eps); x[0,2] = 5*e9; x[0,3] = -e33"),
              "embed": (vq._codebook.embed, "_codebook.embed [1,64,16], unit rows"),
              "codes": (out, "forward output = stored row embed[idx]"),
              "indices": (idx, "argmax_j l2norm(x, eps 1e-6) . e_j"),
              "codes_from_indices": (cfi, "vq.get_output_from_indices(indices)"),
              "gap": (gap, "float64 margin best - 2nd best cosine score (0 for the zero input)"),
              **state_tensors(vq)})

    # --- heads 2, separate codebooks, codebook_dim 8 (no projection)
    torch.manual_seed(320)
    vq = VectorQuantize(dim=16, codebook_size=64, heads=2, separate_codebook_per_head=True, codebook_dim=8).eval()
    assert isinstance(vq.project_in, torch.nn.Identity)
    set_codebook(vq, randn(321, 2, 64, 8))
    x = randn(322, 2, 7, 16)
    x[0, 0] = 0.0
    x[0, 1, :8] = vq._codebook.embed[1, 5]     # head 0 gets head-1's code 5 (must look up in codebook 0)
    x[0, 1, 8:] = vq._codebook.embed[1, 5]
    out, idx, cfi, raw = run_vq(vq, x)
    gap = vq_gap(projected_split(vq, x), vq._codebook.embed, cosine=False)
    check("vq heads2: get_output_from_indices == forward", torch.equal(cfi, out), None)
    check("vq heads2: head 1 exact code 5", int(idx[0, 1, 1]) == 5, idx[0, 1].tolist())
    add_case("vq_heads2_sep", "vq", {"dim": 16, "codebook_size": 64, "heads": 2, "codebook_dim": 8,
                                     "use_cosine_sim": False, "separate_codebook_per_head": True},
             "torch.manual_seed(320); vq = VectorQuantize(dim=16, codebook_size=64, heads=2, "
             "separate_codebook_per_head=True, codebook_dim=8).eval(); embed/embed_avg overwritten with randn(seed 321); "
             "out, indices, loss = vq(x); codes_from_indices = vq.get_output_from_indices(indices).",
             {"x": (x, "[2,7,16] randn (seed 322); x[0,0] = 0; x[0,1] = [e(h1)[5], e(h1)[5]]"),
              "embed": (vq._codebook.embed, "_codebook.embed [C=2,K=64,d=8]: head h uses embed[h]"),
              "codes": (out, "forward output: concat_h embed[h, idx[...,h]] -> [B,N,16]"),
              "indices": (idx, "[B,N,H=2] ('b n h'), head h = channels [8h, 8h+8)"),
              "codes_from_indices": (cfi, "vq.get_output_from_indices(indices)"),
              "gap": (gap, "[B,N,H] float64 margins"),
              **state_tensors(vq)})

    # --- projection: codebook_dim 8, dim 16, heads 1
    torch.manual_seed(330)
    vq = VectorQuantize(dim=16, codebook_size=64, codebook_dim=8).eval()
    set_codebook(vq, randn(331, 1, 64, 8) * 0.5)
    x = randn(332, 2, 7, 16)
    x[0, 0] = 0.0
    out, idx, cfi, raw = run_vq(vq, x)
    gap = vq_gap(projected_split(vq, x), vq._codebook.embed, cosine=False)[..., 0]
    check("vq proj: get_output_from_indices == forward", torch.allclose(cfi, out, atol=0, rtol=0), float((cfi - out).abs().max()))
    add_case("vq_proj", "vq", {"dim": 16, "codebook_size": 64, "heads": 1, "codebook_dim": 8,
                               "use_cosine_sim": False, "separate_codebook_per_head": False},
             "torch.manual_seed(330); vq = VectorQuantize(dim=16, codebook_size=64, codebook_dim=8).eval() "
             "(project_in = Linear(16,8), project_out = Linear(8,16), torch default init); embed/embed_avg overwritten "
             "with 0.5*randn(seed 331); out, indices, loss = vq(x); codes_from_indices = vq.get_output_from_indices(indices) "
             "(= project_out(embed[idx])); codes_unprojected = vq.get_codes_from_indices(indices).",
             {"x": (x, "[2,7,16] randn (seed 332); x[0,0] = 0 (-> project_in bias)"),
              "embed": (vq._codebook.embed, "_codebook.embed [1,64,8]"),
              "codes": (out, "forward output = project_out(embed[argmin over project_in(x)])"),
              "indices": (idx, "[B,N]"),
              "codes_from_indices": (cfi, "vq.get_output_from_indices(indices)"),
              "codes_unprojected": (raw, "vq.get_codes_from_indices(indices) [B,N,8] (before project_out)"),
              "gap": (gap, "float64 margins (on project_in(x) computed in float32)"),
              **state_tensors(vq)})

    # --- UniTok-like: dim 64, K 512, codebook_dim 8, heads 8, separate, cosine, pre-normalized rows
    torch.manual_seed(340)
    vq = VectorQuantize(dim=64, codebook_size=512, codebook_dim=8, heads=8, separate_codebook_per_head=True,
                        use_cosine_sim=True).eval()
    assert isinstance(vq.project_in, torch.nn.Identity)
    raw_w = randn(341, 8, 512, 8) * 0.3 + 0.05                # un-normalized "UniTok checkpoint" weights
    set_codebook(vq, F.normalize(raw_w, dim=-1, eps=1e-12))   # pre-l2-normalized rows, as UniTok uses them
    x = randn(342, 2, 6, 64)
    x[0, 0] = 0.0
    x[0, 1, 8:16] = raw_w[1, 77] * 3.0                        # head 1 parallel to raw row 77
    out, idx, cfi, raw = run_vq(vq, x)
    gap = vq_gap(projected_split(vq, x), vq._codebook.embed, cosine=True)
    # UniTok-form recomputation (normalize raw rows at use time, eps 1e-12; ids axis-first)
    xh = x.reshape(2, 6, 8, 8)
    sims = torch.einsum("bnhd,hkd->bnhk", F.normalize(xh, dim=-1, eps=1e-12), F.normalize(raw_w, dim=-1, eps=1e-12))
    uidx = sims.argmax(-1)
    agree = (uidx == idx) | (gap < 1e-6)
    check("vq unitok: UniTok-form (eps 1e-12, raw rows normalized at use) == package indices (up to near-ties)",
          bool(agree.all()), int((uidx != idx).sum()))
    check("vq unitok: head 1 of x[0,1] -> 77", int(idx[0, 1, 1]) == 77, int(idx[0, 1, 1]))
    add_case("vq_unitok", "vq", {"dim": 64, "codebook_size": 512, "codebook_dim": 8, "heads": 8,
                                 "use_cosine_sim": True, "separate_codebook_per_head": True, "l2norm_eps": 1e-6,
                                 "note": "UniTok-Large uses codebook_size 4096; 512 here to keep the fixture small"},
             "torch.manual_seed(340); vq = VectorQuantize(dim=64, codebook_size=512, codebook_dim=8, heads=8, "
             "separate_codebook_per_head=True, use_cosine_sim=True).eval(); embed/embed_avg set to "
             "F.normalize(unitok_weight_raw, dim=-1, eps=1e-12); out, indices, loss = vq(x); "
             "codes_from_indices = vq.get_output_from_indices(indices).",
             {"x": (x, "[2,6,64] randn (seed 342); x[0,0] = 0; x[0,1, 8:16] = 3*raw[1,77]"),
              "unitok_weight_raw": (raw_w, "[8,512,8] un-normalized rows (0.3*randn+0.05, seed 341), as a UniTok "
                                           "checkpoint stores quantizer.codebooks.{k}.codebook.weight"),
              "embed": (vq._codebook.embed, "_codebook.embed [8,512,8] = l2norm(raw rows)"),
              "codes": (out, "forward output: concat_k embed[k, idx_k] [B,N,64] (UniTok's z before the sqrt(8) norm)"),
              "indices": (idx, "[B,N,H=8] ('b n h'; UniTok itself returns (8, L), codebook axis first)"),
              "codes_from_indices": (cfi, "vq.get_output_from_indices(indices)"),
              "gap": (gap, "[B,N,8] float64 cosine margins"),
              **state_tensors(vq)})


# ----------------------------------------------------------------------------- 4/5. residual

def residual_cases():
    # ResidualVQ
    torch.manual_seed(400)
    rvq = ResidualVQ(dim=16, num_quantizers=3, codebook_size=32).eval()
    for qi, layer in enumerate(rvq.layers):
        set_codebook(layer, randn(401 + qi, 1, 32, 16) * (0.5 ** qi))
    x = randn(405, 2, 7, 16)
    x[0, 0] = 0.0
    with torch.no_grad():
        out, idx, losses = rvq(x)
        cfi = rvq.get_output_from_indices(idx)
        allc = rvq.get_codes_from_indices(idx)
    check("rvq: get_output_from_indices ~ forward", torch.allclose(cfi, out, atol=1e-6), float((cfi - out).abs().max()))
    add_case("residual_vq", "residual_vq", {"dim": 16, "num_quantizers": 3, "codebook_size": 32},
             "torch.manual_seed(400); rvq = vector_quantize_pytorch.ResidualVQ(dim=16, num_quantizers=3, "
             "codebook_size=32).eval(); layer q embed/embed_avg overwritten with 0.5^q * randn(seed 401+q); "
             "out, indices, losses = rvq(x); codes_from_indices = rvq.get_output_from_indices(indices); "
             "all_codes = rvq.get_codes_from_indices(indices).",
             {"x": (x, "[2,7,16] randn (seed 405); x[0,0] = 0"),
              "codes": (out, "forward output = sum_q c_q (accumulated in layer order, no projection)"),
              "indices": (idx, "[B,N,Q=3]"),
              "codes_from_indices": (cfi, "rvq.get_output_from_indices(indices) (sum over q by einops reduce; may "
                                          "differ from codes in the last ulp)"),
              "all_codes": (allc, "rvq.get_codes_from_indices(indices) [Q,B,N,16]"),
              **state_tensors(rvq)})

    # GroupedResidualVQ
    torch.manual_seed(410)
    grvq = GroupedResidualVQ(dim=16, groups=2, num_quantizers=3, codebook_size=32).eval()
    for gi, r in enumerate(grvq.rvqs):
        for qi, layer in enumerate(r.layers):
            set_codebook(layer, randn(411 + 10 * gi + qi, 1, 32, 8) * (0.5 ** qi))
    x = randn(430, 2, 7, 16)
    x[0, 0] = 0.0
    with torch.no_grad():
        out, idx, losses = grvq(x)
        cfi = grvq.get_output_from_indices(idx)
        allc = grvq.get_codes_from_indices(idx)
    check("grvq: get_output_from_indices ~ forward", torch.allclose(cfi, out, atol=1e-6), float((cfi - out).abs().max()))
    add_case("grouped_residual_vq", "grouped_residual_vq", {"dim": 16, "groups": 2, "num_quantizers": 3, "codebook_size": 32},
             "torch.manual_seed(410); g = vector_quantize_pytorch.GroupedResidualVQ(dim=16, groups=2, num_quantizers=3, "
             "codebook_size=32).eval(); group g layer q embed/embed_avg = 0.5^q * randn(seed 411+10g+q) [1,32,8]; "
             "out, indices, losses = g(x); codes_from_indices = g.get_output_from_indices(indices); "
             "all_codes = g.get_codes_from_indices(indices).",
             {"x": (x, "[2,7,16] randn (seed 430); group g = channels [8g, 8g+8)"),
              "codes": (out, "forward output, groups concatenated on the last axis"),
              "indices": (idx, "[G=2,B,N,Q=3]"),
              "codes_from_indices": (cfi, "g.get_output_from_indices(indices)"),
              "all_codes": (allc, "g.get_codes_from_indices(indices) [G,Q,B,N,8]"),
              **state_tensors(grvq)})

    # ResidualFSQ
    torch.manual_seed(440)
    rfsq = ResidualFSQ(levels=[8, 5, 5, 5], num_quantizers=2).eval()
    x = randn(441, 2, 7, 4) * 0.8
    x[0, 0] = 0.0
    x[0, 1] = torch.tensor([1e6, -1e6, 1e6, -1e6])
    with torch.no_grad():
        out, idx = rfsq(x)
        cfi = rfsq.get_output_from_indices(idx)
        allc = rfsq.get_codes_from_indices(idx)
    check("rfsq: get_output_from_indices ~ forward", torch.allclose(cfi, out, atol=1e-6), float((cfi - out).abs().max()))
    QUIRKS.append(f"ResidualFSQ 1.32: layers are FSQ(preserve_symmetry=True, bound_hard_clamp=True), input first "
                  f"squashed by tanh(x/c)*c with c = 1+1/(L-1) = {rfsq.soft_clamp_input_value.tolist()}, layer q "
                  f"quantizes residual / L^-q and scales back; forward returns (out, indices int32 [B,N,Q]).")
    add_case("residual_fsq", "residual_fsq", {"levels": [8, 5, 5, 5], "num_quantizers": 2,
                                              "scales": rfsq.scales.tolist(),
                                              "soft_clamp_input_value": rfsq.soft_clamp_input_value.tolist()},
             "vector_quantize_pytorch.ResidualFSQ(levels=[8,5,5,5], num_quantizers=2).eval(); out, indices = rfsq(x); "
             "codes_from_indices = rfsq.get_output_from_indices(indices); all_codes = rfsq.get_codes_from_indices(indices).",
             {"x": (x, "[2,7,4] 0.8*randn (seed 441); x[0,0] = 0; x[0,1] = [1e6,-1e6,1e6,-1e6]"),
              "codes": (out, "forward output"),
              "indices": (idx, "[B,N,Q=2] (int32 in the package)"),
              "codes_from_indices": (cfi, "rfsq.get_output_from_indices(indices)"),
              "all_codes": (allc, "rfsq.get_codes_from_indices(indices) [Q,B,N,4] (already scaled by L^-q)")})

    # ResidualLFQ
    torch.manual_seed(450)
    rlfq = ResidualLFQ(dim=8, num_quantizers=2, codebook_size=256, entropy_loss_weight=0.0).eval()
    x = randn(451, 2, 7, 8)
    x[0, 0] = 0.0
    x[0, 1] = torch.tensor([0.9, 1.1, -0.9, -1.1, 1.0, -1.0, 0.5, -0.5])   # residual exactly 0 on the +-1 channels
    with torch.no_grad():
        out, idx, losses = rlfq(x)
        cfi = rlfq.get_output_from_indices(idx)
        allc = rlfq.get_codes_from_indices(idx)
    check("rlfq: get_output_from_indices ~ forward", torch.allclose(cfi, out, atol=1e-6), float((cfi - out).abs().max()))
    add_case("residual_lfq", "residual_lfq", {"dim": 8, "num_quantizers": 2, "codebook_size": 256,
                                              "codebook_scales": [1.0, 0.5], "entropy_loss_weight": 0.0},
             "vector_quantize_pytorch.ResidualLFQ(dim=8, num_quantizers=2, codebook_size=256, entropy_loss_weight=0.).eval(); "
             "out, indices, losses = rlfq(x); codes_from_indices = rlfq.get_output_from_indices(indices); "
             "all_codes = rlfq.get_codes_from_indices(indices).",
             {"x": (x, "[2,7,8] randn (seed 451); x[0,0] = 0; x[0,1] = [0.9,1.1,-0.9,-1.1,1,-1,0.5,-0.5] "
                       "(residual exactly 0 on the +-1 channels -> -0.5 in layer 2)"),
              "codes": (out, "forward output = LFQ(s=1)(x) + LFQ(s=0.5)(x - c0)"),
              "indices": (idx, "[B,N,Q=2], each MSB first"),
              "codes_from_indices": (cfi, "rlfq.get_output_from_indices(indices)"),
              "all_codes": (allc, "rlfq.get_codes_from_indices(indices) [Q,B,N,8]"),
              **state_tensors(rlfq)})


# ----------------------------------------------------------------------------- 6. TokenBridge dimension-wise

def dimwise_case():
    bits, qmin, qmax, s = 6, -5.0, 5.0, 3.0
    B = 2 ** bits
    b = np.clip(norm.ppf(np.arange(B + 1) / B), -s, s)
    num = norm.pdf(b[:-1]) - norm.pdf(b[1:])
    den = norm.cdf(b[1:]) - norm.cdf(b[:-1])
    den = np.where(den == 0, 1e-10, den)
    r = num / den
    ref = {0: -2.43710, 1: -1.99424, 2: -1.76421, 31: -0.019585, 32: 0.019585}
    for i, v in ref.items():
        tol = 5e-6 if abs(v) > 0.1 else 1e-6   # r31 = -0.0195855376: the brief's -0.019585 is truncated
        check(f"dimwise r{i} = {v}", abs(r[i] - v) < tol, float(r[i]))
    check("dimwise r31 == -r32 exactly in float64", r[31] == -r[32], [float(r[31]), float(r[32])])

    deq = (r + s) / (2 * s) * (qmax - qmin) + qmin   # dequantized value of each level (float64)
    g = gen(601)
    x = (torch.randn(2, 5, 16, generator=g, dtype=torch.float64) * 1.2).numpy()
    # outside the range
    x[0, 0, :6] = [-7.0, 7.0, -5.0, 5.0, -1e6, 1e6]
    # exact midpoints between neighbouring dequantized levels (float64, then rounded to float32)
    mids = 0.5 * (deq[:-1] + deq[1:])
    x[0, 1, :] = mids[[0, 1, 2, 10, 20, 30, 31, 32, 33, 40, 50, 60, 61, 62, 5, 15]]
    x[0, 2, :] = 0.0                                  # u = 0: tie between r31 and r32 -> 31
    x[0, 3, :] = deq[np.arange(0, 64, 4)]             # exactly on representatives
    x = x.astype(np.float32)

    xd = x.astype(np.float64)
    u = np.clip((xd - qmin) / (qmax - qmin) * 2 * s - s, -s, s)
    dist = np.abs(u[..., None] - r)
    idx = dist.argmin(-1)                             # ties -> lower index
    srt = np.sort(dist, axis=-1)
    margin = srt[..., 1] - srt[..., 0]
    codes = deq[idx]
    check("dimwise x = 0 -> 31", bool((idx[0, 2] == 31).all()), idx[0, 2].tolist())
    check("dimwise on-representative rows round-trip", bool((idx[0, 3] == np.arange(0, 64, 4)).all()), idx[0, 3].tolist())
    add_case("dimwise", "dimwise", {"bits": bits, "levels": B, "qmin": qmin, "qmax": qmax, "std_range": s,
                                    "representatives_f64": [float(v) for v in r],
                                    "boundaries_f64": [float(v) for v in b],
                                    "channel_order": [8, 1, 10, 9, 6, 12, 4, 0, 3, 11, 7, 14, 2, 15, 13, 5]},
             "Written from quantizers.md (TokenBridge) with numpy/scipy.stats.norm in float64: b_i = clip(norm.ppf(i/64), "
             "-3, 3); r_i = (norm.pdf(b_i) - norm.pdf(b_{i+1})) / (norm.cdf(b_{i+1}) - norm.cdf(b_i)); "
             "u = clip((x+5)/10*6-3, -3, 3) on the float32 x promoted to float64; indices = argmin |u - r| (numpy, "
             "ties -> lower); codes = (r_idx+3)/6*10-5 (float64, stored float32).",
             {"x": (x, "[2,5,16] 1.2*randn (seed 601); x[0,0,:6] = [-7,7,-5,5,-1e6,1e6]; x[0,1] = float32 of the "
                       "float64 midpoints between dequantized levels (0,1),(1,2),(2,3),(10,11),...; x[0,2] = 0 "
                       "(exact tie r31/r32 -> 31); x[0,3] = dequantized levels 0,4,..,60"),
              "representatives": (r, "r_i [64] (float64 values in params.representatives_f64)"),
              "boundaries": (b, "b_i [65], clamped to [-3,3] (b_0 = -3, b_64 = 3)"),
              "dequantized_levels": (deq, "(r_i+3)/6*10-5 [64]"),
              "indices": (idx, "[2,5,16] in [0,64)"),
              "codes": (codes, "dequantized values [2,5,16]"),
              "margin": (margin, "float64 |u-r| gap between nearest and 2nd nearest; midpoint rows are ~1e-8 "
                                 "(depend on float rounding) except x = 0 which is an exact tie")})
    return {i: float(r[i]) for i in ref}


# ----------------------------------------------------------------------------- 7. Instella binary

def binary_case():
    x = randn(701, 2, 5, 16)
    x[0, 0, :4] = torch.tensor([0.0, -0.0, 1e-30, -1e-30])
    x[1, 4] = 0.0
    x[0, 1] = 1.0            # all bits set -> 0xFFFF
    x[0, 2] = -1.0
    x[0, 2, 0] = 1.0         # only bit j=0 -> MSB -> 32768
    E = randn(702, 16, 24)
    bits = (x > 0).to(torch.int64)
    codes = bits.to(torch.float32) @ E
    weights = torch.tensor([1 << (15 - j) for j in range(16)], dtype=torch.int64)
    ids = (bits * weights).sum(-1)
    check("binary: all set -> 65535", int(ids[0, 1]) == 65535, int(ids[0, 1]))
    check("binary: bit 0 only -> 32768", int(ids[0, 2]) == 32768, int(ids[0, 2]))
    add_case("binary", "binary", {"num_bits": 16, "embed_dim": 24, "bit_order": "bit j -> 2^(num_bits-1-j) (j=0 MSB)"},
             "Written from quantizers.md (Instella-T2I binary latents) in torch float32: bits = (x > 0).long(); "
             "codes = bits.float() @ embed; ids = sum_j bits[..., j] << (15 - j) (Tessera's UInt64-style packing, "
             "j = 0 is the most significant bit).",
             {"x": (x, "[2,5,16] logits randn (seed 701); x[0,0,:4] = [0,-0.0,1e-30,-1e-30]; x[1,4] = 0; x[0,1] = 1; "
                       "x[0,2] = [1,-1,...,-1]"),
              "embed": (E, "[16,24] randn (seed 702), Instella's quantizer.embed (64,768) in miniature"),
              "bits": (bits, "[2,5,16] in {0,1}: x > 0 (0 and -0.0 -> 0)"),
              "codes": (codes, "bits @ embed [2,5,24]"),
              "ids": (ids, "[2,5] packed ids, bit j = bits[j] at weight 2^(15-j)")})


# ----------------------------------------------------------------------------- main

def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)

    fsq_cases()
    lfq_cases()
    vq_cases()
    residual_cases()
    rvals = dimwise_case()
    binary_case()

    st = OUT / "cases.safetensors"
    save_file(TENSORS, str(st), metadata={"generator": "Tests/Reference/make_quantizer_fixtures.py"})
    (OUT / "cases.json").write_text(json.dumps(MANIFEST, indent=1) + "\n")

    def ver(p):
        try:
            return md.version(p)
        except md.PackageNotFoundError:
            return None

    prov = {
        "generator": "Tests/Reference/make_quantizer_fixtures.py",
        "semantics": "/work/shared/reference/quantizers.md",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": {p: ver(p) for p in ["vector-quantize-pytorch", "torch", "numpy", "scipy", "safetensors",
                                         "einops", "einx", "torch-einops-utils"]},
        "torch_num_threads": 1,
        "device": "cpu",
        "mode": "module.eval() + torch.no_grad()",
        "dimwise_reference_values": rvals,
        "checks": CHECKS,
        "quirks": QUIRKS,
        "files": {f.name: {"bytes": f.stat().st_size, "sha256": sha256(f)}
                  for f in sorted(OUT.iterdir()) if f.name != "PROVENANCE.json"},
    }
    (OUT / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")

    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"{len(MANIFEST)} cases, {len(TENSORS)} tensors, {total} bytes in {OUT}")
    for c in CHECKS:
        print(("ok   " if c["ok"] else "FAIL ") + c["check"] + ("" if c["detail"] is None else f"  [{c['detail']}]"))
    print("quirks:")
    for q in QUIRKS:
        print(" -", q)
    assert total <= 2 * 1024 * 1024, total
    if not all(c["ok"] for c in CHECKS):
        sys.exit(1)


if __name__ == "__main__":
    main()
