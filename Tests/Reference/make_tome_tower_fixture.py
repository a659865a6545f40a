#!/usr/bin/env python3
"""Generate the ToMe-inside-a-CLIP/SigLIP-tower reference fixture for Tessera's Swift tests.

Writes (see the "ToMe tower fixture" section of Tests/Reference/README.md):

    Tests/Fixtures/towers/tome_expected.safetensors   per config: hidden_states.{i}, last_hidden_state,
                                                      pooler_output, size, source
    Tests/Fixtures/towers/tome_expected.json          manifest: per-layer r, token counts, ToMe commit, versions

transformers has no ToMe patch, so this script patches transformers' CLIPVisionModel / SiglipVisionModel
encoder layers exactly the way facebookresearch/ToMe's `tome/patch/timm.py` patches timm's `Block` and
`Attention` (the layer's class is swapped for a subclass whose forward is ToMe's `ToMeBlock.forward` /
`ToMeAttention.forward` written against the HF module names q_proj/k_proj/v_proj/out_proj, layer_norm1/2, mlp).
The merge functions (`bipartite_soft_matching`, `merge_wavg`, `merge_source`) and `parse_r` are ToMe's own,
read from the local git mirror at run time (not vendored). Models: Tests/Fixtures/towers/{clip,siglip}; input:
`pixel_values` of their expected.safetensors. CPU, float32, 1 thread, deterministic.

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_tome_tower_fixture.py [--tome-git DIR]
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
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import CLIPVisionModel, SiglipVisionModel

ROOT = Path(__file__).resolve().parents[2]
TOWERS = ROOT / "Tests/Fixtures/towers"
DEFAULT_TOME_GIT = "/work/.mirror/facebookresearch+ToMe/repo"
TOME_FILES = ["tome/merge.py", "tome/utils.py"]


def git(d: str, *args: str) -> str:
    return subprocess.run(["git", "-C", d, *args], check=True, capture_output=True, text=True).stdout


def import_tome(git_dir: str, tmp: Path):
    for rel in TOME_FILES:
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(git(git_dir, "show", f"HEAD:{rel}"))
    (tmp / "tome/__init__.py").write_text("")
    sys.path.insert(0, str(tmp))
    import tome.merge
    import tome.utils
    return tome


def patch_tower(tome, model, class_token: bool, prop_attn: bool):
    """tome.patch.timm.apply_patch, for an HF vision tower."""
    info = {"r": 0, "size": None, "source": None, "trace_source": True, "prop_attn": prop_attn,
            "class_token": class_token, "distill_token": False}
    bsm, merge_wavg, merge_source = tome.merge.bipartite_soft_matching, tome.merge.merge_wavg, tome.merge.merge_source

    def tome_attention(attn, x, size):
        # ToMeAttention.forward with HF projections: proportional attention, returns k.mean(1)
        B, N, C = x.shape
        H = attn.num_heads
        q = attn.q_proj(x).reshape(B, N, H, C // H).transpose(1, 2)
        k = attn.k_proj(x).reshape(B, N, H, C // H).transpose(1, 2)
        v = attn.v_proj(x).reshape(B, N, H, C // H).transpose(1, 2)
        a = (q @ k.transpose(-2, -1)) * attn.scale
        if size is not None:
            a = a + size.log()[:, None, None, :, 0]
        a = a.softmax(dim=-1)
        x = (a @ v).transpose(1, 2).reshape(B, N, C)
        return attn.out_proj(x), k.mean(1)

    layers = model.vision_model.encoder.layers if hasattr(model, "vision_model") else model.encoder.layers
    base = type(layers[0])

    class ToMeLayer(base):
        def forward(self, hidden_states, attention_mask=None, **kwargs):
            # ToMeBlock.forward: attention residual, merge, MLP residual
            x = hidden_states
            attn_size = info["size"] if info["prop_attn"] else None
            x_attn, metric = tome_attention(self.self_attn, self.layer_norm1(x), attn_size)
            x = x + x_attn
            r = info["r"].pop(0)
            if r > 0:
                merge, _ = bsm(metric, r, info["class_token"], info["distill_token"])
                if info["trace_source"]:
                    info["source"] = merge_source(merge, x, info["source"])
                x, info["size"] = merge_wavg(merge, x, info["size"])
            x = x + self.mlp(self.layer_norm2(x))
            return x

    for layer in layers:
        layer.__class__ = ToMeLayer
    return info, layers


def run_config(tome, name, model_cls, r, prop_attn):
    d = TOWERS / name
    model = model_cls.from_pretrained(d, attn_implementation="eager").eval()
    pixel_values = load_file(str(d / "expected.safetensors"))["pixel_values"].float()
    info, layers = patch_tower(tome, model, class_token=(name == "clip"), prop_attn=prop_attn)
    depth = len(layers)
    # ToMeVisionTransformer.forward: reset r list, size, source
    info["r"] = tome.utils.parse_r(depth, r)
    r_list = list(info["r"])
    info["size"] = None
    info["source"] = None
    hidden = []
    hooks = [layers[0].register_forward_pre_hook(lambda m, a, kw=None: hidden.append(a[0].detach().clone()))]
    hooks += [l.register_forward_hook(lambda m, a, o: hidden.append((o[0] if isinstance(o, tuple) else o).detach().clone()))
              for l in layers]
    with torch.no_grad():
        out = model(pixel_values=pixel_values)
    for h in hooks:
        h.remove()
    assert len(hidden) == depth + 1
    size, source = info["size"], info["source"]
    if size is None:  # nothing merged
        return {f"hidden_states.{i}": h for i, h in enumerate(hidden)}, {}
    assert torch.allclose(size[..., 0], source.sum(-1))
    assert torch.all(source.sum(1) == 1)
    tokens = [h.shape[1] for h in hidden]
    res = {f"hidden_states.{i}": h for i, h in enumerate(hidden)}
    res["last_hidden_state"] = out.last_hidden_state
    res["pooler_output"] = out.pooler_output
    res["size"] = size
    res["source"] = source
    meta = {"r_requested": r if not isinstance(r, tuple) else list(r), "parse_r": r_list,
            "r_applied": [tokens[i] - tokens[i + 1] for i in range(depth)], "tokens_per_layer": tokens,
            "prop_attn": prop_attn, "class_token": name == "clip"}
    return res, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tome-git", default=DEFAULT_TOME_GIT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    commit = git(args.tome_git, "rev-parse", "HEAD").strip()
    configs = [("clip", CLIPVisionModel, "r3", 3, True), ("clip", CLIPVisionModel, "sched", (4, -0.5), True),
               ("clip", CLIPVisionModel, "noprop", 3, False), ("clip", CLIPVisionModel, "r8", 8, True),
               ("siglip", SiglipVisionModel, "r3", 3, True), ("siglip", SiglipVisionModel, "sched", (4, -0.5), True),
               ("siglip", SiglipVisionModel, "noprop", 3, False)]
    tensors, meta = {}, {}
    with tempfile.TemporaryDirectory() as td:
        tome = import_tome(args.tome_git, Path(td))
        # self-check: with r = 0 the patched layers reproduce transformers' own hidden states
        for name, cls in [("clip", CLIPVisionModel), ("siglip", SiglipVisionModel)]:
            out, _ = run_config(tome, name, cls, 0, True)
            ref = load_file(str(TOWERS / name / "expected.safetensors"))
            for i in range(3):
                err = (out[f"hidden_states.{i}"] - ref[f"hidden_states.{i}"]).abs().max().item()
                assert err < 1e-5, (name, i, err)
        for name, cls, suffix, r, prop in configs:
            out, info = run_config(tome, name, cls, r, prop)
            for k, v in out.items():
                tensors[f"{name}_{suffix}/{k}"] = v.detach().float().contiguous()
            meta[f"{name}_{suffix}"] = info
    save_file(tensors, str(TOWERS / "tome_expected.safetensors"), metadata={"generator": "Tests/Reference/make_tome_tower_fixture.py"})
    manifest = {
        "tome": {"repo": "https://github.com/facebookresearch/ToMe", "commit": commit, "files_used": TOME_FILES},
        "models": "Tests/Fixtures/towers/clip (CLIPVisionModel) and siglip (SiglipVisionModel), 2 layers, 64 wide, "
                  "2 heads, 56 px / patch 14 -> 16 patches (+ CLS for CLIP); from_pretrained(attn_implementation='eager')",
        "input": "pixel_values of Tests/Fixtures/towers/<tower>/expected.safetensors [2,3,56,56]",
        "procedure": "every encoder layer's class is swapped for a subclass whose forward is ToMeBlock.forward "
                     "(attention with proportional attention -> residual -> bipartite_soft_matching on k.mean over heads "
                     "-> merge_source, merge_wavg -> MLP residual); _tome_info reset before the forward as "
                     "ToMeVisionTransformer.forward does (r = parse_r(depth, R)). class_token = True for CLIP, False for "
                     "SigLIP. hidden_states.0 = encoder input (pre-hook on layer 0), hidden_states.{i+1} = output of "
                     "layer i; last_hidden_state / pooler_output are the unmodified model outputs (CLIP: encoder output, "
                     "post_layernorm on token 0; SigLIP: post_layernorm on all tokens, attention-pooling head over the "
                     "merged tokens). size = _tome_info['size'] [B,T,1], source = _tome_info['source'] one-hot [B,T,T0].",
        "configs": meta,
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "safetensors": safetensors.__version__},
        "generator": "Tests/Reference/make_tome_tower_fixture.py",
    }
    (TOWERS / "tome_expected.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
