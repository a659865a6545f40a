#!/usr/bin/env python3
"""Generate the ToMe-inside-a-timm-ViT reference fixture for Tessera's Swift tests.

Writes (see the "ToMe ViT fixture" section of Tests/Reference/README.md):

    Tests/Fixtures/vit/tome_expected.safetensors   features/pre_logits/logits/size/source for three configs
    Tests/Fixtures/vit/tome_expected.json          manifest: per-layer r, token counts, ToMe commit, versions

Uses the official ToMe code (facebookresearch/ToMe) read from the local git mirror at run time
(tome/__init__.py, tome/merge.py, tome/utils.py, tome/patch/timm.py are copied to a temp dir and imported
from there; ToMe's code is not vendored). The fixture model is Tests/Fixtures/vit/model and the input is
`pixel_values` from Tests/Fixtures/vit/expected.safetensors. CPU, float32, 1 thread, deterministic.

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_tome_vit_fixture.py [--tome-git DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import safetensors
import timm
import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
VIT = ROOT / "Tests/Fixtures/vit"
DEFAULT_TOME_GIT = "/work/.mirror/facebookresearch+ToMe/repo"
TOME_FILES = ["tome/merge.py", "tome/utils.py", "tome/patch/timm.py"]


def git(d: str, *args: str) -> str:
    return subprocess.run(["git", "-C", d, *args], check=True, capture_output=True, text=True).stdout


def import_tome(git_dir: str, tmp: Path):
    """Copy the needed ToMe files out of the mirror and import them. Only tome.patch.timm is needed, so the
    package __init__ files are replaced by minimal ones (upstream tome/__init__.py also imports tome.vis,
    which needs scipy/PIL extras; upstream tome/patch/__init__.py imports mae/swag patches)."""
    for rel in TOME_FILES:
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(git(git_dir, "show", f"HEAD:{rel}"))
    (tmp / "tome/__init__.py").write_text("")
    (tmp / "tome/patch/__init__.py").write_text("from .timm import apply_patch as timm\n")
    sys.path.insert(0, str(tmp))
    import tome.patch
    import tome.utils
    return tome


def run_config(tome, pixel_values: torch.Tensor, r, prop_attn: bool):
    model = timm.create_model(f"local-dir:{VIT / 'model'}", pretrained=True).eval()
    tome.patch.timm(model, trace_source=True, prop_attn=prop_attn)
    model.r = r
    depth = len(model.blocks)
    r_list = tome.utils.parse_r(depth, r)

    captured = {}
    h = model.norm.register_forward_hook(lambda m, i, o: captured.__setitem__("features", o.detach().clone()))
    tokens_in = []
    hooks = [blk.register_forward_pre_hook(lambda m, a: tokens_in.append(a[0].shape[1])) for blk in model.blocks]
    with torch.no_grad():
        # ToMeVisionTransformer.forward resets _tome_info (r list, size, source) then calls timm's forward
        # (forward_features -> forward_head). features are captured at the output of the final norm.
        logits = model(pixel_values)
        features = captured["features"]
        pre_logits = model.forward_head(features, pre_logits=True)
        logits2 = model.forward_head(features)
    h.remove()
    for hk in hooks:
        hk.remove()
    assert torch.equal(logits, logits2)
    size = model._tome_info["size"].clone()
    source = model._tome_info["source"].clone()
    T = features.shape[1]
    tokens = tokens_in + [T]
    applied = [tokens[i] - tokens[i + 1] for i in range(depth)]
    # sanity: sizes are source row sums, every original token is in exactly one output token
    assert torch.allclose(size[..., 0], source.sum(-1))
    assert torch.all(source.sum(1) == 1)
    return {
        "features": features, "pre_logits": pre_logits, "logits": logits, "size": size, "source": source,
    }, {"r_requested": r if not isinstance(r, tuple) else list(r), "parse_r": r_list, "r_applied": applied,
        "tokens_per_layer": tokens, "prop_attn": prop_attn}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tome-git", default=DEFAULT_TOME_GIT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    commit = git(args.tome_git, "rev-parse", "HEAD").strip()
    commit_date = git(args.tome_git, "log", "-1", "--format=%ci").strip()

    pixel_values = load_file(str(VIT / "expected.safetensors"))["pixel_values"].float()
    configs = [("r16", 16, True), ("sched", (40, -0.5), True), ("noprop", 16, False)]
    tensors, meta = {}, {}
    with tempfile.TemporaryDirectory() as td:
        tome = import_tome(args.tome_git, Path(td))
        for suffix, r, prop in configs:
            out, info = run_config(tome, pixel_values, r, prop)
            for k, v in out.items():
                tensors[f"{k}_{suffix}"] = v.contiguous()
            meta[suffix] = info
    save_file(tensors, str(VIT / "tome_expected.safetensors"))

    manifest = {
        "tome": {
            "repo": "https://github.com/facebookresearch/ToMe",
            "commit": commit, "commit_date": commit_date,
            "files_used": TOME_FILES,
            "patches": "none: tome.patch.timm runs unmodified on timm " + timm.__version__ + " for this model "
                       "(ToMeBlock.forward/ToMeAttention.forward drop timm's attn_mask/is_causal args, ls1/ls2, "
                       "q_norm/k_norm and attn.norm, which are all unused/Identity for vit_tiny_patch16_224). "
                       "Only the package __init__ files are replaced by minimal ones (no tome.vis import).",
        },
        "model": "timm.create_model('local-dir:Tests/Fixtures/vit/model', pretrained=True).eval() "
                 "(vit_tiny_patch16_224, depth 2, 10 classes, class token, global_pool='token')",
        "input": "pixel_values from Tests/Fixtures/vit/expected.safetensors [2,3,224,224] F32",
        "procedure": "tome.patch.timm(model, trace_source=True, prop_attn=P); model.r = R; logits = model(pixel_values) "
                     "(ToMe's forward resets _tome_info['r'] = parse_r(depth, R), size = source = None); "
                     "features = output of model.norm (captured with a hook, = forward_features); "
                     "pre_logits = model.forward_head(features, pre_logits=True) (CLS token, fc_norm Identity); "
                     "logits == model.forward_head(features) checked bit-exact; size = _tome_info['size'], "
                     "source = _tome_info['source'] after the forward.",
        "r_schedule": "tome.utils.parse_r(num_layers, r): int r -> [r]*L; (r, inflect) -> min_val = int(r*(1-inflect)), "
                      "max_val = 2*r - min_val, step = (max_val-min_val)/(L-1), r_i = int(min_val + step*i) "
                      "(int() truncates toward zero). Each block clamps r_i to (t - protected)//2 with protected = 1 "
                      "(class token) inside bipartite_soft_matching. For (40, -0.5), L = 2: min 60, max 20, step -40 -> [60, 20].",
        "merge_notes": "ToMe runs in each block between attention (+residual) and MLP. Metric = k.mean over heads "
                       "(pre-softmax keys, [B,N,64]), L2-normalised; A = even token indices, B = odd; CLS row (A[0]) set "
                       "to -inf; top-r A tokens by max similarity are merged into their best B by size-weighted average "
                       "(merge_wavg: sum(x*size)/sum(size)); output order = unmerged A tokens sorted by index, then all B "
                       "tokens in order. prop_attn adds log(size) to attention logits over keys.",
        "configs": meta,
        "tensors": {k: {"dtype": "F32", "shape": list(v.shape)} for k, v in tensors.items()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "timm": timm.__version__,
                     "safetensors": safetensors.__version__},
        "generator": "Tests/Reference/make_tome_vit_fixture.py",
    }
    (VIT / "tome_expected.json").write_text(json.dumps(manifest, indent=1) + "\n")
    for k, v in tensors.items():
        print(k, tuple(v.shape))
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
