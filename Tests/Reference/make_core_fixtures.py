#!/usr/bin/env python3
"""Generate the tensor-core, layer and timm-ViT reference fixtures for Tessera's Swift tests.

Produces (see the "Tensor core and ViT fixtures" section of Tests/Reference/README.md):

    Tests/Fixtures/core/ops.safetensors + ops.json        single ops, tensors keyed "<case>/<name>"
    Tests/Fixtures/core/layers/<case>.weights.safetensors  a module's exact state_dict()
    Tests/Fixtures/core/layers/<case>.io.safetensors       its input(s) and output(s)
    Tests/Fixtures/core/layers.json                        manifest of the layer cases
    Tests/Fixtures/core/PROVENANCE.json                    tool versions, checks, sha256 of every file
    Tests/Fixtures/vit/model/{model.safetensors,config.json}   timm hub layout (timm's save_for_hf)
    Tests/Fixtures/vit/model.f16.safetensors, model.bf16.safetensors
    Tests/Fixtures/vit/images/                             the input images (PNG + JPEG)
    Tests/Fixtures/vit/expected.safetensors + expected.json

All expected tensors are what PyTorch / timm / transformers / open_clip compute in float32
on the CPU with their default kernels (torch.set_num_threads(1) for reproducible
reduction order).  Every manifest entry also records the max |float32 - float64| of the
same computation redone in float64, as a guide for test tolerances.

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_core_fixtures.py

Tests/Fixtures/core and Tests/Fixtures/vit are deleted and regenerated from scratch; with the
same package versions and CPU the output is byte-identical (the script checks nothing random
is left unseeded: every tensor comes from a torch.Generator with a fixed seed).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import platform
import shutil
import sys
from collections import OrderedDict
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "Tests" / "Fixtures" / "core"
LAYERS = CORE / "layers"
VIT = ROOT / "Tests" / "Fixtures" / "vit"

torch.set_num_threads(1)

DTYPE_NAMES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.bool: "BOOL", torch.uint8: "U8",
}


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------

def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * scale


def tensor_info(t: torch.Tensor) -> dict:
    return {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape)}


def to64(t):
    if isinstance(t, torch.Tensor) and t.dtype == torch.float32:
        return t.double()
    return t


def compare64(ref: torch.Tensor, hi: torch.Tensor):
    """max |ref - hi| over entries where both are finite; None if the non-finite pattern differs."""
    if not ref.is_floating_point():
        return bool(torch.equal(ref, hi))
    r = ref.double()
    h = hi.double()
    fin_r, fin_h = torch.isfinite(r), torch.isfinite(h)
    if not torch.equal(fin_r, fin_h) or not torch.equal(r[~fin_r], h[~fin_h]):
        return None
    if fin_r.sum() == 0:
        return 0.0
    return float((r[fin_r] - h[fin_h]).abs().max())


def perturb(module: nn.Module, g: torch.Generator) -> None:
    """Overwrite every parameter with seeded noise so that a missing bias / wrong norm shows.

    norm weights: 1 + 0.1*N(0,1); norm biases: 0.1*N(0,1); other biases: 0.2*N(0,1);
    matrices / conv kernels: N(0,1) * 1.2/sqrt(fan_in) (fan_in = numel / out dim), which keeps
    activations O(1) and attention softmaxes non-uniform; embeddings, cls_token, pos_embed:
    N(0,1) (embeddings) / 0.5*N(0,1) (tokens)."""
    norm_types = (nn.LayerNorm, nn.GroupNorm)
    with torch.no_grad():
        for mname, m in module.named_modules():
            for pname, p in m.named_parameters(recurse=False):
                if isinstance(m, norm_types):
                    new = 1.0 + randn(g, *p.shape, scale=0.1) if pname == "weight" else randn(g, *p.shape, scale=0.1)
                elif isinstance(m, nn.Embedding):
                    new = randn(g, *p.shape)
                elif pname in ("cls_token", "pos_embed", "reg_token"):
                    new = randn(g, *p.shape, scale=0.5)
                elif p.ndim >= 2:
                    fan_in = p[0].numel()
                    new = randn(g, *p.shape, scale=1.2 / math.sqrt(fan_in))
                else:
                    new = randn(g, *p.shape, scale=0.2)
                p.copy_(new)


def save_st(tensors: dict, path: Path, metadata: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(path), metadata=metadata)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------
# A. single ops
# ----------------------------------------------------------------------------------------

OPS: list[dict] = []


def op_case(case, op, params, inputs: "OrderedDict[str, torch.Tensor]", fn, description):
    OPS.append(dict(case=case, op=op, params=params, inputs=inputs, fn=fn, description=description))


def probs_of(q, k, bias=None, mask=None):
    s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if bias is not None:
        s = s + bias
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1)


def build_ops() -> None:
    # 1. matmul ---------------------------------------------------------------------------
    g = gen(101)
    op_case("matmul", "matmul", {}, OrderedDict(a=randn(g, 5, 7), b=randn(g, 7, 3)),
            lambda i: {"y": i["a"] @ i["b"]}, "y = a @ b (torch.matmul), [5,7] x [7,3]")
    g = gen(102)
    op_case("matmul_batched", "matmul", {}, OrderedDict(a=randn(g, 2, 5, 7), b=randn(g, 2, 7, 3)),
            lambda i: {"y": i["a"] @ i["b"]}, "batched y[b] = a[b] @ b[b], [2,5,7] x [2,7,3]")
    g = gen(103)
    op_case("matmul_bt", "matmul", {"transpose_b": True}, OrderedDict(a=randn(g, 5, 7), b=randn(g, 3, 7)),
            lambda i: {"y": i["a"] @ i["b"].T}, "y = a @ b.T with b stored as [3,7] (the nn.Linear weight layout)")
    g = gen(104)
    op_case("matmul_large", "matmul", {}, OrderedDict(a=randn(g, 64, 96), b=randn(g, 96, 80)),
            lambda i: {"y": i["a"] @ i["b"]}, "y = a @ b, [64,96] x [96,80] (exercises the BLAS path / blocking)")

    # 2. linear ---------------------------------------------------------------------------
    g = gen(201)
    op_case("linear", "linear", {"bias": True},
            OrderedDict(x=randn(g, 2, 5, 16), weight=randn(g, 24, 16, scale=0.25), bias=randn(g, 24, scale=0.5)),
            lambda i: {"y": F.linear(i["x"], i["weight"], i["bias"])},
            "F.linear: y = x @ weight.T + bias; weight is [out, in] = [24,16]")
    g = gen(202)
    op_case("linear_nobias", "linear", {"bias": False},
            OrderedDict(x=randn(g, 2, 5, 16), weight=randn(g, 24, 16, scale=0.25)),
            lambda i: {"y": F.linear(i["x"], i["weight"])}, "F.linear without bias: y = x @ weight.T")

    # 3. conv2d ---------------------------------------------------------------------------
    def conv_case(case, seed, x_shape, cout, k, s, p, bias=True, desc=""):
        g = gen(seed)
        cin = x_shape[1]
        scale = 1.0 / math.sqrt(cin * k * k)
        inputs = OrderedDict(x=randn(g, *x_shape), weight=randn(g, cout, cin, k, k, scale=scale))
        if bias:
            inputs["bias"] = randn(g, cout, scale=0.5)
        fn = (lambda i: {"y": F.conv2d(i["x"], i["weight"], i.get("bias"), stride=s, padding=p)})
        op_case(case, "conv2d", {"stride": s, "padding": p, "kernel": k, "in_channels": cin,
                                 "out_channels": cout, "bias": bias, "dilation": 1, "groups": 1},
                inputs, fn, f"F.conv2d (cross-correlation, NCHW, weight [out,in,kh,kw]); {desc}")

    conv_case("conv2d_k3s1p1", 301, (2, 3, 9, 11), 8, 3, 1, 1, desc="3->8 channels, k3 s1 p1 (same size)")
    conv_case("conv2d_patch16", 302, (1, 3, 32, 48), 6, 16, 16, 0, desc="patch embedding 3->6, k16 s16 p0 -> [1,6,2,3]")
    conv_case("conv2d_1x1", 303, (1, 8, 6, 7), 5, 1, 1, 0, desc="1x1 conv 8->5")
    conv_case("conv2d_k3s2p1", 304, (1, 4, 9, 10), 6, 3, 2, 1, desc="4->6, k3 s2 p1 on odd/even sizes -> [1,6,5,5]")
    conv_case("conv2d_k4s2p0", 305, (1, 3, 13, 10), 5, 4, 2, 0,
              desc="3->5, k4 s2 p0; 13 rows -> floor((13-4)/2)+1 = 5 (last input row unused)")
    conv_case("conv2d_nobias", 306, (1, 3, 7, 8), 4, 3, 1, 0, bias=False, desc="3->4, k3 s1 p0, no bias")

    # 4. layer_norm -----------------------------------------------------------------------
    def ln_case(case, seed, eps, affine):
        g = gen(seed)
        inputs = OrderedDict(x=randn(g, 2, 5, 16, scale=2.0) + 3.0)
        if affine:
            inputs["weight"] = 1.0 + randn(g, 16, scale=0.3)
            inputs["bias"] = randn(g, 16, scale=0.3)
        fn = lambda i: {"y": F.layer_norm(i["x"], (16,), i.get("weight"), i.get("bias"), eps)}
        op_case(case, "layer_norm", {"normalized_shape": [16], "eps": eps, "affine": affine}, inputs, fn,
                "F.layer_norm over the last dim: (x - mean) / sqrt(biased var + eps) * weight + bias; "
                "x has mean ~3 to exercise the centring")

    ln_case("layer_norm", 401, 1e-5, True)
    ln_case("layer_norm_eps1e-6", 402, 1e-6, True)
    ln_case("layer_norm_noaffine", 403, 1e-5, False)

    # 5. group_norm -----------------------------------------------------------------------
    g = gen(501)
    op_case("group_norm", "group_norm", {"num_groups": 4, "num_channels": 8, "eps": 1e-6, "affine": True},
            OrderedDict(x=randn(g, 2, 8, 5, 6, scale=1.5) + 1.0, weight=1.0 + randn(g, 8, scale=0.3),
                        bias=randn(g, 8, scale=0.3)),
            lambda i: {"y": F.group_norm(i["x"], 4, i["weight"], i["bias"], 1e-6)},
            "F.group_norm: 4 groups of 2 channels, stats over (C/G, H, W) per sample, per-channel affine")
    g = gen(502)
    op_case("group_norm_32", "group_norm", {"num_groups": 32, "num_channels": 32, "eps": 1e-6, "affine": True},
            OrderedDict(x=randn(g, 1, 32, 3, 3) + 0.5, weight=1.0 + randn(g, 32, scale=0.3),
                        bias=randn(g, 32, scale=0.3)),
            lambda i: {"y": F.group_norm(i["x"], 32, i["weight"], i["bias"], 1e-6)},
            "F.group_norm with 32 groups on 32 channels (one channel per group, 9 values each)")

    # 6. elementwise ----------------------------------------------------------------------
    g = gen(601)
    x = torch.rand(4, 33, generator=g) * 16.0 - 8.0
    x[0, :9] = torch.tensor([-8.0, -4.0, -1.0, -0.5, 0.0, 0.5, 1.0, 4.0, 8.0])
    x[1, ::7] = 0.0
    x[2, 5] = 0.0
    x[3, 10:14] = torch.tensor([1e-3, -1e-3, 1e-6, -1e-6])
    elem = [
        ("gelu", "gelu", {"approximate": "none"}, lambda t: F.gelu(t), "F.gelu exact: x * 0.5 * (1 + erf(x / sqrt(2)))"),
        ("gelu_tanh", "gelu", {"approximate": "tanh"}, lambda t: F.gelu(t, approximate="tanh"),
         "F.gelu(approximate='tanh'): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"),
        ("quick_gelu", "quick_gelu", {"alpha": 1.702}, lambda t: t * torch.sigmoid(1.702 * t),
         "x * torch.sigmoid(1.702 * x) (CLIP / transformers QuickGELUActivation)"),
        ("silu", "silu", {}, lambda t: F.silu(t), "F.silu: x * sigmoid(x)"),
        ("tanh", "tanh", {}, lambda t: torch.tanh(t), "torch.tanh"),
        ("sigmoid", "sigmoid", {}, lambda t: torch.sigmoid(t), "torch.sigmoid"),
        ("relu", "relu", {}, lambda t: F.relu(t), "F.relu (relu(0) = 0)"),
    ]
    for case, op, params, f, desc in elem:
        op_case(case, op, params, OrderedDict(x=x.clone()), (lambda f: lambda i: {"y": f(i["x"])})(f),
                desc + "; x [4,33] spread over [-8,8] with exact zeros and +-1e-3, +-1e-6")

    g = gen(602)
    s = randn(g, 3, 5, 17, scale=3.0)
    s[0, 1] = torch.linspace(-80.0, 80.0, 17)
    s[0, 2] = 80.0 + randn(g, 17, scale=0.5)
    s[1, 2, [0, 3, 5, 16]] = float("-inf")
    s[2, 4] = 1.25  # all equal -> uniform 1/17
    sm_desc = ("along the last dim; row [0,1] = linspace(-80,80), row [0,2] ~ 80 (needs max subtraction), "
               "row [1,2] has -inf at positions 0,3,5,16 (softmax 0 / log_softmax -inf there), row [2,4] constant")
    op_case("softmax", "softmax", {"dim": -1}, OrderedDict(x=s.clone()),
            lambda i: {"y": torch.softmax(i["x"], dim=-1)}, "torch.softmax " + sm_desc)
    op_case("log_softmax", "log_softmax", {"dim": -1}, OrderedDict(x=s.clone()),
            lambda i: {"y": torch.log_softmax(i["x"], dim=-1)}, "torch.log_softmax " + sm_desc)

    # 7. attention ------------------------------------------------------------------------
    g = gen(701)
    qkv = OrderedDict(q=randn(g, 2, 3, 7, 8), k=randn(g, 2, 3, 7, 8), v=randn(g, 2, 3, 7, 8))
    op_case("attention", "scaled_dot_product_attention", {"scale": "1/sqrt(D)", "D": 8}, qkv,
            lambda i: {"y": F.scaled_dot_product_attention(i["q"], i["k"], i["v"]),
                       "probs": probs_of(i["q"], i["k"])},
            "q,k,v [B=2,H=3,N=7,D=8]; y = F.scaled_dot_product_attention(q,k,v); "
            "probs = torch.softmax((q @ k^T) / sqrt(D), -1) computed explicitly (SDPA does not return it)")
    g = gen(702)
    inp = OrderedDict(q=randn(g, 2, 3, 7, 8), k=randn(g, 2, 3, 7, 8), v=randn(g, 2, 3, 7, 8),
                      bias=randn(g, 2, 3, 7, 7, scale=2.0))
    op_case("attention_bias", "scaled_dot_product_attention", {"scale": "1/sqrt(D)", "D": 8, "mask": "additive float"},
            inp, lambda i: {"y": F.scaled_dot_product_attention(i["q"], i["k"], i["v"], attn_mask=i["bias"]),
                            "probs": probs_of(i["q"], i["k"], bias=i["bias"])},
            "SDPA with an additive float attn_mask [2,3,7,7] added to the scaled scores before softmax")
    g = gen(703)
    inp = OrderedDict(q=randn(g, 2, 3, 7, 8), k=randn(g, 2, 3, 7, 8), v=randn(g, 2, 3, 7, 8),
                      mask=torch.tril(torch.ones(7, 7, dtype=torch.bool)))
    op_case("attention_mask", "scaled_dot_product_attention", {"scale": "1/sqrt(D)", "D": 8, "mask": "bool, True = keep"},
            inp, lambda i: {"y": F.scaled_dot_product_attention(i["q"], i["k"], i["v"], attn_mask=i["mask"]),
                            "probs": probs_of(i["q"], i["k"], mask=i["mask"])},
            "SDPA with a boolean causal attn_mask [7,7] (True = attend, stored as safetensors BOOL); "
            "probs = softmax(scores.masked_fill(~mask, -inf)), so probs are exactly 0 above the diagonal")
    g = gen(704)
    inp = OrderedDict(q=randn(g, 2, 3, 5, 8), k=randn(g, 2, 3, 9, 8), v=randn(g, 2, 3, 9, 8))
    op_case("attention_cross", "scaled_dot_product_attention", {"scale": "1/sqrt(D)", "D": 8},
            inp, lambda i: {"y": F.scaled_dot_product_attention(i["q"], i["k"], i["v"]),
                            "probs": probs_of(i["q"], i["k"])},
            "cross-attention: q [2,3,5,8], k,v [2,3,9,8] -> y [2,3,5,8], probs [2,3,5,9]")

    # 8. nn.MultiheadAttention ------------------------------------------------------------
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True)
    perturb(mha, gen(801))
    sd = mha.state_dict()
    g = gen(802)
    inp = OrderedDict(x=randn(g, 2, 7, 16))
    for k_ in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"):
        inp[k_] = sd[k_].clone()

    def mha_fn(i):
        m = nn.MultiheadAttention(16, 4, batch_first=True).to(i["x"].dtype).eval()
        m.load_state_dict({k_: i[k_] for k_ in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")})
        with torch.no_grad():
            y, w = m(i["x"], i["x"], i["x"], need_weights=True, average_attn_weights=True)
            _, wh = m(i["x"], i["x"], i["x"], need_weights=True, average_attn_weights=False)
        return {"y": y, "attn_weights": w, "attn_weights_per_head": wh}

    op_case("mha", "multihead_attention", {"embed_dim": 16, "num_heads": 4, "batch_first": True, "bias": True},
            inp, mha_fn,
            "nn.MultiheadAttention(16, 4, batch_first=True) self-attention on x [2,7,16] (eval, need_weights=True); "
            "in_proj_weight [48,16] rows = [Wq; Wk; Wv], head h uses dims h*4..h*4+3; "
            "attn_weights = mean over heads [2,7,7]; attn_weights_per_head [2,4,7,7]")

    # 9. upsample -------------------------------------------------------------------------
    g = gen(901)
    x = randn(g, 1, 3, 5, 6)
    ups = [
        ("upsample_nearest_x2", {"mode": "nearest", "scale_factor": 2},
         lambda t: F.interpolate(t, scale_factor=2, mode="nearest"), "F.interpolate nearest, scale_factor=2 -> [1,3,10,12]"),
        ("upsample_nearest_size", {"mode": "nearest", "size": [7, 9]},
         lambda t: F.interpolate(t, size=(7, 9), mode="nearest"),
         "F.interpolate nearest to size (7,9): src = min(floor(dst * (in/out)), in-1) with the float32 scale in/out "
         "(torch's legacy 'nearest', not 'nearest-exact')"),
        ("upsample_nearest_exact_size", {"mode": "nearest-exact", "size": [7, 9]},
         lambda t: F.interpolate(t, size=(7, 9), mode="nearest-exact"),
         "extra: F.interpolate nearest-exact to (7,9): src = min(floor((dst + 0.5) * in/out), in-1)"),
        ("upsample_bilinear_x2", {"mode": "bilinear", "scale_factor": 2, "align_corners": False},
         lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False),
         "F.interpolate bilinear, align_corners=False, antialias=False, scale_factor=2: "
         "src = max((dst + 0.5) * in/out - 0.5, 0)"),
        ("upsample_bilinear_size", {"mode": "bilinear", "size": [7, 9], "align_corners": False},
         lambda t: F.interpolate(t, size=(7, 9), mode="bilinear", align_corners=False),
         "F.interpolate bilinear, align_corners=False, antialias=False, to (7,9)"),
        ("upsample_bilinear_size_ac", {"mode": "bilinear", "size": [7, 9], "align_corners": True},
         lambda t: F.interpolate(t, size=(7, 9), mode="bilinear", align_corners=True),
         "F.interpolate bilinear, align_corners=True, to (7,9): src = dst * (in-1)/(out-1)"),
    ]
    for case, params, f, desc in ups:
        op_case(case, "interpolate", params, OrderedDict(x=x.clone()),
                (lambda f: lambda i: {"y": f(i["x"])})(f), desc + "; x [1,3,5,6]")

    # 10. reductions ------------------------------------------------------------------------
    g = gen(1001)
    xr = randn(g, 3, 4, 5)
    red = [
        ("reduce_sum", "sum", {"dim": 1, "keepdim": False}, lambda t: {"y": t.sum(dim=1)}, "x.sum(dim=1) -> [3,5]"),
        ("reduce_sum_last_keepdim", "sum", {"dim": -1, "keepdim": True}, lambda t: {"y": t.sum(dim=-1, keepdim=True)},
         "x.sum(dim=-1, keepdim=True) -> [3,4,1]"),
        ("reduce_mean", "mean", {"dim": 1, "keepdim": False}, lambda t: {"y": t.mean(dim=1)}, "x.mean(dim=1) -> [3,5]"),
        ("reduce_max", "max", {"dim": 1, "keepdim": False},
         lambda t: dict(zip(("values", "indices"), torch.max(t, dim=1))),
         "torch.max(x, dim=1) -> values [3,5] F32 + indices [3,5] I64 (no ties in this data)"),
        ("reduce_min", "min", {"dim": 1, "keepdim": False},
         lambda t: dict(zip(("values", "indices"), torch.min(t, dim=1))),
         "torch.min(x, dim=1) -> values + I64 indices (no ties)"),
        ("reduce_var", "var", {"dim": 1, "correction": 0, "unbiased": False, "keepdim": False},
         lambda t: {"y": torch.var(t, dim=1, correction=0)}, "torch.var(x, dim=1, correction=0) (biased, / N)"),
        ("cumsum", "cumsum", {"dim": 1}, lambda t: {"y": torch.cumsum(t, dim=1)}, "torch.cumsum(x, dim=1) -> [3,4,5]"),
    ]
    for case, op, params, f, desc in red:
        op_case(case, op, params, OrderedDict(x=xr.clone()), (lambda f: lambda i: f(i["x"]))(f), desc + "; x [3,4,5]")

    g = gen(1002)
    ties = torch.randint(0, 4, (3, 4, 5), generator=g).float()
    op_case("argmax", "argmax", {"dim": -1, "keepdim": False}, OrderedDict(x=ties.clone()),
            lambda i: {"indices": torch.argmax(i["x"], dim=-1)},
            "torch.argmax(x, dim=-1) on integer-valued floats 0..3 with many ties -> I64 [3,4]; "
            "torch (CPU) returns the FIRST index of the maximum (verified, see PROVENANCE.json)")
    op_case("argmin", "argmin", {"dim": -1, "keepdim": False}, OrderedDict(x=ties.clone()),
            lambda i: {"indices": torch.argmin(i["x"], dim=-1)},
            "torch.argmin(x, dim=-1) with ties -> I64 [3,4]; first index of the minimum")
    op_case("sort", "sort", {"dim": -1, "descending": False, "stable": True}, OrderedDict(x=ties.clone()),
            lambda i: dict(zip(("values", "indices"), torch.sort(i["x"], dim=-1, stable=True))),
            "torch.sort(x, dim=-1, stable=True) ascending with ties -> values F32 + indices I64; "
            "equal values keep their original (increasing index) order")
    g = gen(1003)
    distinct = (torch.randperm(60, generator=g).float() * 0.37 - 11.0).reshape(3, 4, 5)
    op_case("topk", "topk", {"k": 3, "dim": -1, "largest": True, "sorted": True}, OrderedDict(x=distinct),
            lambda i: dict(zip(("values", "indices"), torch.topk(i["x"], 3, dim=-1, largest=True, sorted=True))),
            "torch.topk(x, 3, dim=-1, largest=True, sorted=True) on distinct values -> values [3,4,3] F32 "
            "(descending) + indices I64")

    # 11. indexing --------------------------------------------------------------------------
    g = gen(1101)
    op_case("index_select", "index_select", {"dim": 1},
            OrderedDict(x=randn(g, 3, 6, 4), index=torch.tensor([5, 0, 2, 2], dtype=torch.int64)),
            lambda i: {"y": torch.index_select(i["x"], 1, i["index"])},
            "torch.index_select(x [3,6,4], 1, index [4] I64 with a repeat) -> [3,4,4]")
    g = gen(1102)
    op_case("gather", "gather", {"dim": 1},
            OrderedDict(x=randn(g, 3, 5, 4), index=torch.randint(0, 5, (3, 4, 4), generator=g)),
            lambda i: {"y": torch.gather(i["x"], 1, i["index"])},
            "torch.gather(x [3,5,4], 1, index [3,4,4] I64): y[a,b,c] = x[a, index[a,b,c], c]")
    g = gen(1103)
    op_case("scatter_add", "scatter_add", {"dim": 1},
            OrderedDict(x=randn(g, 3, 5, 4), index=torch.randint(0, 5, (3, 6, 4), generator=g),
                        src=randn(g, 3, 6, 4)),
            lambda i: {"y": i["x"].scatter_add(1, i["index"], i["src"])},
            "y = x.scatter_add(1, index [3,6,4] I64, src [3,6,4]): y[a, index[a,b,c], c] += src[a,b,c] "
            "(duplicate indices accumulate; x [3,5,4] is the base)")


def write_ops() -> dict:
    build_ops()
    tensors, manifest = {}, []
    for c in OPS:
        outs = c["fn"](c["inputs"])
        outs64 = c["fn"](OrderedDict((k, to64(v)) for k, v in c["inputs"].items()))
        entry = {"case": c["case"], "op": c["op"], "params": c["params"], "inputs": list(c["inputs"]),
                 "outputs": list(outs), "description": c["description"], "tensors": {}, "f64_max_abs_diff": {}}
        for name, t in list(c["inputs"].items()) + list(outs.items()):
            key = f"{c['case']}/{name}"
            assert key not in tensors, key
            tensors[key] = t.detach()
            entry["tensors"][name] = tensor_info(t)
        for name, t in outs.items():
            entry["f64_max_abs_diff"][name] = compare64(t, outs64[name])
        manifest.append(entry)
    save_st(tensors, CORE / "ops.safetensors")
    (CORE / "ops.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return {"ops_cases": len(manifest)}


# ----------------------------------------------------------------------------------------
# tie-breaking checks (recorded in PROVENANCE.json)
# ----------------------------------------------------------------------------------------

def check_ties() -> dict:
    g = gen(4242)
    res = {"argmax_first_index": True, "argmin_first_index": True, "max_dim_first_index": True,
           "min_dim_first_index": True, "sort_stable_keeps_order": True}
    # informational: how often the default (unstable) sort / topk differ from "ties in index order"
    unstable = {}
    for trial in range(300):
        shape = (3, 4, 5) if trial % 2 == 0 else (2, 3, 37)
        x = torch.randint(0, 4, shape, generator=g).float()
        xn = x.numpy()
        for dim in (-1, 1):
            if not np.array_equal(torch.argmax(x, dim=dim).numpy(), np.argmax(xn, axis=dim)):
                res["argmax_first_index"] = False
            if not np.array_equal(torch.argmin(x, dim=dim).numpy(), np.argmin(xn, axis=dim)):
                res["argmin_first_index"] = False
            if not np.array_equal(torch.max(x, dim=dim).indices.numpy(), np.argmax(xn, axis=dim)):
                res["max_dim_first_index"] = False
            if not np.array_equal(torch.min(x, dim=dim).indices.numpy(), np.argmin(xn, axis=dim)):
                res["min_dim_first_index"] = False
            si = torch.sort(x, dim=dim, stable=True).indices.numpy()
            if not np.array_equal(si, np.argsort(xn, axis=dim, kind="stable")):
                res["sort_stable_keeps_order"] = False
            key = f"shape {list(shape)} dim {dim} (length {shape[dim]})"
            u = unstable.setdefault(key, {"trials": 0, "sort_default_not_in_index_order": 0,
                                          "topk2_not_in_index_order": 0})
            u["trials"] += 1
            if not np.array_equal(torch.sort(x, dim=dim).indices.numpy(), si):
                u["sort_default_not_in_index_order"] += 1
            ti = torch.topk(x, 2, dim=dim).indices.numpy()
            ref = np.take(np.argsort(-xn, axis=dim, kind="stable"), [0, 1], axis=dim)
            if not np.array_equal(ti, ref):
                u["topk2_not_in_index_order"] += 1
    res["default_sort_and_topk_with_ties"] = unstable
    res["note"] = ("300 random integer-valued tensors (values 0..3) reduced along dim -1 and dim 1, compared with "
                   "numpy's first-occurrence argmax/argmin and stable argsort. The fixtures only rely on the first "
                   "five flags; the counts show that on this CPU build torch.sort without stable=True does not keep "
                   "ties in index order for rows of length 37 (short rows happened to), and torch.topk orders tied "
                   "values arbitrarily, so the topk case uses distinct values.")
    return res


# ----------------------------------------------------------------------------------------
# B. layers
# ----------------------------------------------------------------------------------------

def write_layers() -> dict:
    import open_clip
    import timm
    from open_clip.transformer import ResidualAttentionBlock
    from timm.layers import Mlp, SwiGLU
    from timm.models.vision_transformer import Block
    from transformers import CLIPVisionConfig, SiglipVisionConfig
    from transformers.models.clip.modeling_clip import CLIPEncoderLayer
    from transformers.models.siglip.modeling_siglip import SiglipEncoderLayer

    manifest = []

    def run_hf_layer(layer, x):
        captured = {}
        h = layer.self_attn.register_forward_hook(lambda m, a, out: captured.__setitem__("p", out[1]))
        with torch.no_grad():
            y = layer(x, attention_mask=None)
        h.remove()
        y = y[0] if isinstance(y, tuple) else y
        assert captured["p"] is not None
        return {"output": y, "attn_probs": captured["p"]}

    cases = []

    # 1. timm Block
    def mk_timm_block():
        return Block(dim=32, num_heads=4, mlp_ratio=4.0, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))
    cases.append(dict(
        case="timm_block", module="timm.models.vision_transformer.Block", make=mk_timm_block,
        config={"dim": 32, "num_heads": 4, "mlp_ratio": 4.0, "qkv_bias": True, "norm_layer": "nn.LayerNorm(eps=1e-6)",
                "act_layer": "nn.GELU (exact erf)", "layout": "(B, N, D)"},
        input_shape=(2, 9, 32), run=lambda m, x: {"output": m(x)},
        description="pre-norm ViT block: x + attn(norm1(x)); x + mlp(norm2(x)). attn.qkv.weight [96,32] rows = "
                    "[Wq; Wk; Wv], each split into 4 heads of 8; softmax(q k^T / sqrt(8)) via F.scaled_dot_product_attention; "
                    "mlp = fc1 -> GELU(erf) -> fc2. No LayerScale (ls1/ls2 Identity)."))

    # 2. open_clip ResidualAttentionBlock
    rab_batch_first = None

    def mk_openclip():
        nonlocal rab_batch_first
        m = ResidualAttentionBlock(d_model=32, n_head=4, mlp_ratio=4.0)
        rab_batch_first = bool(m.attn.batch_first)
        return m
    cases.append(dict(
        case="openclip_block", module="open_clip.transformer.ResidualAttentionBlock", make=mk_openclip,
        config={"d_model": 32, "n_head": 4, "mlp_ratio": 4.0, "act_layer": "nn.GELU (exact erf)",
                "norm_layer": "open_clip LayerNorm (eps 1e-5)", "batch_first": None, "layout": None},
        input_shape=(2, 9, 32), run=lambda m, x: {"output": m(x)},
        description="open_clip pre-norm block: x + attn(ln_1(x)) with nn.MultiheadAttention (in_proj_weight [96,32] = "
                    "[Wq; Wk; Wv], need_weights=False), then x + mlp.c_proj(GELU(mlp.c_fc(ln_2(x)))). "
                    "TiTok (bytedance/1d-tokenizer modeling/modules/blocks.py) vendors the same block with the same keys "
                    "but nn.MultiheadAttention(batch_first=False) and permutes NLD->LND around the stack: identical math."))

    # 3. transformers CLIPEncoderLayer
    def mk_clip():
        cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4, hidden_act="quick_gelu",
                               layer_norm_eps=1e-5, attn_implementation="eager")
        return CLIPEncoderLayer(cfg)
    cases.append(dict(
        case="clip_encoder_layer", module="transformers.models.clip.modeling_clip.CLIPEncoderLayer", make=mk_clip,
        config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "hidden_act": "quick_gelu",
                "layer_norm_eps": 1e-5, "attn_implementation": "eager", "layout": "(B, N, D)"},
        input_shape=(2, 9, 32), run=run_hf_layer,
        description="CLIP pre-norm layer: x + out_proj(attn(layer_norm1(x))) with separate q/k/v projections, "
                    "scores = (q k^T) * head_dim^-0.5, no mask; then x + fc2(quick_gelu(fc1(layer_norm2(x)))). "
                    "attn_probs [2,4,9,9] = eager softmax weights (captured from self_attn's second output)."))

    # 4. transformers SiglipEncoderLayer
    def mk_siglip():
        cfg = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4,
                                 hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6, attn_implementation="eager")
        return SiglipEncoderLayer(cfg)
    cases.append(dict(
        case="siglip_encoder_layer", module="transformers.models.siglip.modeling_siglip.SiglipEncoderLayer",
        make=mk_siglip,
        config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6, "attn_implementation": "eager",
                "layout": "(B, N, D)"},
        input_shape=(2, 9, 32), run=run_hf_layer,
        description="SigLIP pre-norm layer (same structure and key names as CLIP) with GELU tanh approximation "
                    "(F.gelu(approximate='tanh')) and LayerNorm eps 1e-6; attn_probs [2,4,9,9]."))

    # 5. SwiGLU and Mlp
    cases.append(dict(
        case="swiglu", module="timm.layers.SwiGLU", make=lambda: SwiGLU(in_features=32, hidden_features=48),
        config={"in_features": 32, "hidden_features": 48, "out_features": 32, "act_layer": "nn.SiLU",
                "norm_layer": None},
        input_shape=(2, 5, 32), run=lambda m, x: {"output": m(x)},
        description="y = fc2(silu(fc1_g(x)) * fc1_x(x)); norm is Identity (no norm keys)."))
    cases.append(dict(
        case="mlp", module="timm.layers.Mlp", make=lambda: Mlp(in_features=32, hidden_features=64),
        config={"in_features": 32, "hidden_features": 64, "out_features": 32, "act_layer": "nn.GELU (exact erf)"},
        input_shape=(2, 5, 32), run=lambda m, x: {"output": m(x)},
        description="y = fc2(GELU(fc1(x))); norm is Identity."))

    # 6. Embedding
    def emb_input(g):
        ids = torch.randint(0, 50, (2, 7), generator=g)
        ids[0, 0], ids[1, 6] = 0, 49
        return ids
    cases.append(dict(
        case="embedding", module="torch.nn.Embedding", make=lambda: nn.Embedding(50, 16),
        config={"num_embeddings": 50, "embedding_dim": 16},
        input_fn=emb_input, run=lambda m, x: {"output": m(x)},
        description="row lookup: output[b, n] = weight[input[b, n]]; input is I64 [2,7] and contains 0 and 49."))

    for idx, c in enumerate(cases):
        torch.manual_seed(1000 + idx)  # default init of modules (overwritten by perturb anyway)
        m = c["make"]().eval()
        perturb(m, gen(2000 + idx))
        g = gen(3000 + idx)
        x = c["input_fn"](g) if "input_fn" in c else randn(g, *c["input_shape"])
        with torch.no_grad():
            outs = c["run"](m, x)
            m64 = copy.deepcopy(m).double()
            outs64 = c["run"](m64, to64(x))
        sd = m.state_dict()
        save_st(sd, LAYERS / f"{c['case']}.weights.safetensors")
        io_t = OrderedDict(input=x)
        io_t.update(outs)
        save_st(io_t, LAYERS / f"{c['case']}.io.safetensors")
        cfg = dict(c["config"])
        if c["case"] == "openclip_block":
            cfg["batch_first"] = rab_batch_first
            cfg["layout"] = "(B, N, D) batch-first" if rab_batch_first else "(N, B, D) sequence-first"
        manifest.append({
            "case": c["case"], "module": c["module"], "config": cfg,
            "inputs": ["input"], "outputs": list(outs), "description": c["description"],
            "weights": f"layers/{c['case']}.weights.safetensors", "io": f"layers/{c['case']}.io.safetensors",
            "state_dict": {k: tensor_info(v) for k, v in sd.items()},
            "tensors": {k: tensor_info(v) for k, v in io_t.items()},
            "f64_max_abs_diff": {k: compare64(v, outs64[k]) for k, v in outs.items()},
        })
    (CORE / "layers.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return {"layer_cases": len(manifest), "openclip_residual_attention_block_batch_first": rab_batch_first,
            "open_clip": open_clip.__version__, "timm": timm.__version__}


# ----------------------------------------------------------------------------------------
# C. timm ViT
# ----------------------------------------------------------------------------------------

VIT_IMAGES = [
    # (skimage.data name, file written, format, encoder options)
    ("astronaut", "astronaut.jpg", "JPEG", {"quality": 90, "subsampling": 2}),   # 512x512 -> 320x320, 4:2:0
    ("chelsea", "chelsea.png", "PNG", {"optimize": False, "compress_level": 9}),  # 451x300 -> 320x213
]


def write_vit_images() -> list[dict]:
    import skimage.data
    out = []
    (VIT / "images").mkdir(parents=True, exist_ok=True)
    for name, fname, fmt, opts in VIT_IMAGES:
        arr = getattr(skimage.data, name)()
        im = Image.fromarray(arr).convert("RGB")
        w, h = im.size
        s = 320 / max(w, h)
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
        path = VIT / "images" / fname
        im.save(path, format=fmt, **opts)
        out.append({"file": f"images/{fname}", "source": f"skimage.data.{name}() {w}x{h}",
                    "prep": f"Pillow resize to {im.size[0]}x{im.size[1]} (LANCZOS), saved as {fmt} {opts}",
                    "size": list(im.size)})
    return out


def write_vit() -> dict:
    import timm
    from timm.data import create_transform, resolve_data_config
    from timm.models._hub import save_for_hf

    torch.manual_seed(7)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2, num_classes=10).eval()
    perturb(model, gen(5000))

    model_dir = VIT / "model"
    save_for_hf(model, str(model_dir), safe_serialization=True)
    sd = model.state_dict()

    # reduced-precision copies of the same weights (every tensor rounded, including norms / pos_embed)
    sd16 = {k: v.to(torch.float16) for k, v in sd.items()}
    sdbf = {k: v.to(torch.bfloat16) for k, v in sd.items()}
    save_st(sd16, VIT / "model.f16.safetensors")
    save_st(sdbf, VIT / "model.bf16.safetensors")

    images = write_vit_images()
    data_cfg = resolve_data_config({}, model=model)
    transform = create_transform(**data_cfg)
    batch = []
    for im in images:
        with Image.open(VIT / im["file"]) as pil:
            batch.append(transform(pil.convert("RGB")))
    pixel_values = torch.stack(batch)
    # independent re-derivation of the transform (Pillow + numpy float32), must be bit-identical
    for i, im in enumerate(images):
        with Image.open(VIT / im["file"]) as pil:
            pil = pil.convert("RGB")
            w, h = pil.size
            nw, nh = (248, int(248 * h / w)) if w <= h else (int(248 * w / h), 248)
            r = pil.resize((nw, nh), Image.Resampling.BICUBIC)
            top, left = int(round((nh - 224) / 2.0)), int(round((nw - 224) / 2.0))
            a = np.asarray(r.crop((left, top, left + 224, top + 224))).astype(np.float32) / np.float32(255)
            a = ((a - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1)
            assert np.array_equal(a, pixel_values[i].numpy()), im["file"]

    captured = {}
    hooks = [model.patch_embed.register_forward_hook(lambda m, a, o: captured.__setitem__("patch_embed", o))]
    for i, blk in enumerate(model.blocks):
        hooks.append(blk.register_forward_hook((lambda i: lambda m, a, o: captured.__setitem__(f"blocks.{i}", o))(i)))
    with torch.no_grad():
        logits = model(pixel_values)
        for h in hooks:
            h.remove()
        feats = model.forward_features(pixel_values)
        pre_logits = model.forward_head(feats, pre_logits=True)
        logits2 = model.forward_head(feats)
        assert torch.equal(logits, logits2)
        assert torch.equal(feats, model.norm(captured[f"blocks.{len(model.blocks) - 1}"]))

        m64 = copy.deepcopy(model).double()
        logits64 = m64(pixel_values.double())
        feats64 = m64.forward_features(pixel_values.double())

        def logits_with(state):
            m = copy.deepcopy(model)
            m.load_state_dict({k: v.float() for k, v in state.items()})
            return m(pixel_values)
        logits_f16w = logits_with(sd16)
        logits_bf16w = logits_with(sdbf)

    # the saved hub checkpoint must round-trip through timm's own loader
    # (config.json's model_args carry depth=2 / num_classes=10; the data config must come back unchanged)
    reloaded = timm.create_model(f"local-dir:{model_dir}", pretrained=True).eval()
    assert len(reloaded.blocks) == 2 and reloaded.num_classes == 10
    norm_cfg = lambda c: {k: (tuple(v) if isinstance(v, list) else v) for k, v in c.items()}  # JSON gives lists
    assert norm_cfg(resolve_data_config({}, model=reloaded)) == norm_cfg(data_cfg)
    with torch.no_grad():
        assert torch.equal(reloaded(pixel_values), logits)

    expected = OrderedDict([
        ("pixel_values", pixel_values),
        ("patch_embed", captured["patch_embed"]),
        ("blocks.0", captured["blocks.0"]),
        ("blocks.1", captured["blocks.1"]),
        ("forward_features", feats),
        ("pre_logits", pre_logits),
        ("logits", logits),
        ("logits_f16w", logits_f16w),
        ("logits_bf16w", logits_bf16w),
    ])
    save_st(expected, VIT / "expected.safetensors")

    descriptions = {
        "pixel_values": "timm eval transform applied to images[i] opened with PIL and .convert('RGB') [B,3,224,224]",
        "patch_embed": "model.patch_embed(pixel_values): conv k16 s16 (patch_embed.proj), flattened to [B,196,192] "
                       "(patch order row-major over the 14x14 grid), norm Identity",
        "blocks.0": "hidden state after blocks.0: input = cat(cls_token, patch_embed) + pos_embed [B,197,192] "
                    "(pos_drop/patch_drop/norm_pre are identity)",
        "blocks.1": "hidden state after blocks.1, before the final norm [B,197,192]",
        "forward_features": "model.forward_features = norm(blocks.1) (LayerNorm eps 1e-6) [B,197,192]",
        "pre_logits": "model.forward_head(feats, pre_logits=True): global_pool='token' -> CLS token feats[:,0]; "
                      "fc_norm Identity [B,192]",
        "logits": "model(pixel_values) = head(pre_logits) [B,10]",
        "logits_f16w": "logits of the float32 model after every weight was rounded to float16 "
                       "(= model.f16.safetensors upcast to float32), computed in float32",
        "logits_bf16w": "same with bfloat16 rounding (= model.bf16.safetensors upcast to float32)",
    }
    exp_json = {
        "model": "timm.create_model('vit_tiny_patch16_224', pretrained=False, depth=2, num_classes=10), every "
                 "parameter overwritten with seeded noise (see perturb() in make_core_fixtures.py), eval mode",
        "model_dir": "model/ (model.safetensors + config.json written by timm.models._hub.save_for_hf, "
                     "safe_serialization=True)",
        "reduced_precision": {"model.f16.safetensors": "same state_dict, every tensor .to(torch.float16)",
                              "model.bf16.safetensors": "same state_dict, every tensor .to(torch.bfloat16)"},
        "images": images,
        "data_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in data_cfg.items()},
        "transform_repr": repr(transform),
        "transform_notes": "torchvision Resize(248) on a PIL image resizes the SHORTER side to floor(224 / 0.9) = 248 "
                           "(the other side int(248 * long / short), truncated) with PIL BICUBIC (antialias is "
                           "Pillow's own resampling), then CenterCrop(224) (top = int(round((h - 224) / 2.0)), same "
                           "for left), MaybeToTensor (uint8 HWC -> float CHW / 255), Normalize: (x - 0.5) / 0.5.",
        "tensors": {k: {**tensor_info(v), "description": descriptions[k]} for k, v in expected.items()},
        "f64_max_abs_diff": {"logits": compare64(logits, logits64), "forward_features": compare64(feats, feats64)},
        "reduced_precision_max_abs_diff_vs_logits": {"logits_f16w": float((logits_f16w - logits).abs().max()),
                                                      "logits_bf16w": float((logits_bf16w - logits).abs().max())},
        "checks": ["pixel_values re-derived bit-exactly with Pillow resize(BICUBIC) + crop + numpy float32 "
                   "(x / 255 - 0.5) / 0.5 as described in transform_notes",
                   "torch.equal(forward_head(forward_features(x)), model(x))",
                   "torch.equal(norm(blocks.1 output), forward_features)",
                   "model/ reloads through timm.create_model('local-dir:<model dir>', pretrained=True) "
                   "(depth and num_classes from config.json model_args), resolves the same data config and gives "
                   "identical logits"],
    }
    (VIT / "expected.json").write_text(json.dumps(exp_json, indent=1) + "\n")
    return {"vit_transform": repr(transform), "vit_param_count": sum(p.numel() for p in model.parameters())}


# ----------------------------------------------------------------------------------------

def versions() -> dict:
    import huggingface_hub
    import open_clip
    import safetensors
    import skimage
    import timm
    import torchvision
    import transformers
    import PIL
    return {
        "python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
        "numpy": np.__version__, "timm": timm.__version__, "transformers": transformers.__version__,
        "open_clip_torch": open_clip.__version__, "safetensors": safetensors.__version__,
        "huggingface_hub": huggingface_hub.__version__, "Pillow": PIL.__version__,
        "scikit_image": skimage.__version__,
    }


def main() -> None:
    for d in (CORE, VIT):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    LAYERS.mkdir(parents=True)

    info = {}
    info.update(write_ops())
    info["tie_breaking"] = check_ties()
    info.update(write_layers())
    info.update(write_vit())

    files = sorted(p for d in (CORE, VIT) for p in d.rglob("*") if p.is_file())
    prov = {
        "generator": "Tests/Reference/make_core_fixtures.py",
        "command": "~/venvs/ref/bin/python Tests/Reference/make_core_fixtures.py",
        "versions": versions(),
        "torch_runtime": {"num_threads": torch.get_num_threads(),
                          "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                          "mkldnn_enabled": torch.backends.mkldnn.is_available(),
                          "platform": platform.platform(), "machine": platform.machine()},
        "numerics": "all expected tensors computed by PyTorch in float32 on the CPU (default kernels, 1 thread); "
                    "f64_max_abs_diff in the manifests = max |float32 result - same computation in float64|",
        "openclip_residual_attention_block_batch_first": info["openclip_residual_attention_block_batch_first"],
        "tie_breaking": info["tie_breaking"],
        "vit_transform": info["vit_transform"],
        "vit_param_count": info["vit_param_count"],
        "files": {str(p.relative_to(ROOT)): {"bytes": p.stat().st_size, "sha256": sha256(p)} for p in files},
    }
    prov["total_bytes"] = sum(v["bytes"] for v in prov["files"].values())
    (CORE / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")
    print(f"wrote {len(files) + 1} files, {prov['total_bytes'] / 1e6:.2f} MB (+ PROVENANCE.json)")
    print(json.dumps(info["tie_breaking"], indent=1))
    print("open_clip ResidualAttentionBlock batch_first:", info["openclip_residual_attention_block_batch_first"])
    print(info["vit_transform"])


if __name__ == "__main__":
    main()
