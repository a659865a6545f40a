#!/usr/bin/env python3
"""Generate the Hugging Face CLIP / SigLIP vision-tower reference fixtures for Tessera's Swift tests.

Writes (see the "Vision tower fixtures" section of Tests/Reference/README.md):

    Tests/Fixtures/towers/images/*.png                 two small real images (inputs, from Assets/images)
    Tests/Fixtures/towers/<tower>/config.json          model.save_pretrained (transformers' own config)
    Tests/Fixtures/towers/<tower>/model.safetensors    model.save_pretrained (real HF key names, F32, perturbed)
    Tests/Fixtures/towers/<tower>/preprocessor_config.json   image processor save_pretrained
    Tests/Fixtures/towers/<tower>/expected.safetensors pixel_values, hidden_states.i, attentions.i,
                                                       last_hidden_state, pooler_output (+ extras, see manifest)
    Tests/Fixtures/towers/manifest.json                every tensor, preprocessing, numerics facts
    Tests/Fixtures/towers/PROVENANCE.json              versions

<tower> is `clip` (CLIPVisionModel) or `siglip` (SiglipVisionModel). Deterministic (seeded, 1 CPU thread).

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_tower_fixtures.py
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import PIL
import safetensors
import torch
import torchvision
import transformers
from PIL import Image
from safetensors.torch import load_file, save_file
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    CLIPVisionModel,
    SiglipImageProcessor,
    SiglipVisionConfig,
    SiglipVisionModel,
)
from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

try:  # Pillow-backend twins of the (torchvision-backed) default processors in transformers 5.x
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
except Exception:  # pragma: no cover
    CLIPImageProcessorPil = SiglipImageProcessorPil = None

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "Tests" / "Fixtures" / "towers"
ASSETS = ROOT / "Assets" / "images"
SEED = 1234

COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
              image_size=56, patch_size=14)


# ----------------------------------------------------------------------------------------------------------------
# inputs

def make_images() -> list[Path]:
    """Two real images, downscaled with Pillow LANCZOS to ~100 px long side, stored as lossless PNG.

    chelsea.png 451x300 -> 100x67 (landscape); astronaut.jpg centre 384x512 (w x h) crop -> 75x100 (portrait),
    so both branches of the shortest-edge resize are exercised and neither side is a multiple of 14.
    """
    d = OUT / "images"
    d.mkdir(parents=True, exist_ok=True)
    out = []
    im = Image.open(ASSETS / "chelsea.png").convert("RGB")
    im = im.resize((100, 67), Image.Resampling.LANCZOS)
    p = d / "chelsea_100x67.png"
    im.save(p, optimize=False)
    out.append(p)
    im = Image.open(ASSETS / "astronaut.jpg").convert("RGB")
    im = im.crop((64, 0, 448, 512)).resize((75, 100), Image.Resampling.LANCZOS)
    p = d / "astronaut_75x100.png"
    im.save(p, optimize=False)
    out.append(p)
    return out


def load_images(paths):
    ims = []
    for p in paths:
        with Image.open(p) as im:
            im.load()
            ims.append(im.convert("RGB"))
    return ims


# ----------------------------------------------------------------------------------------------------------------
# perturbation

@torch.no_grad()
def perturb(model: torch.nn.Module, seed: int) -> None:
    """Every parameter overwritten from a seeded generator, in sorted-name order.

    1-D weights of LayerNorms: 1 + 0.1 N; biases: 0.1 N; embeddings (class/position/probe): 0.5 N;
    matrices / conv kernels: N * gain / sqrt(fan_in) with gain 2.5 for q/k projections (so attention is far from
    uniform), 1.0 otherwise.
    """
    g = torch.Generator().manual_seed(seed)
    for name, p in sorted(model.named_parameters()):
        n = torch.randn(p.shape, generator=g, dtype=torch.float32)
        if p.ndim == 1 and ("norm" in name or "layrnorm" in name) and name.endswith("weight"):
            v = 1.0 + 0.1 * n
        elif name.endswith("bias"):
            v = 0.1 * n
        elif "embedding" in name and "patch_embedding" not in name or name.endswith("probe"):
            v = 0.5 * n
        else:
            fan_in = int(np.prod(p.shape[1:]))
            gain = 2.5 if ("q_proj" in name or "k_proj" in name or "in_proj_weight" in name) else 1.0
            v = n * gain / math.sqrt(fan_in)
        p.copy_(v)


# ----------------------------------------------------------------------------------------------------------------

def tinfo(t: torch.Tensor) -> dict:
    dt = "U8" if t.dtype == torch.uint8 else "F32"
    t = t.detach().float()
    return {"shape": list(t.shape), "dtype": dt, "min": float(t.min()), "max": float(t.max()),
            "mean": float(t.mean()), "std": float(t.std()) if t.numel() > 1 else 0.0}


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@torch.no_grad()
def run_tower(name, model_cls, config, processor, pil_processor, images, notes):
    d = OUT / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)

    torch.manual_seed(SEED)
    model = model_cls(config).eval()
    perturb(model, SEED + (0 if name == "clip" else 1))
    ref_sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.save_pretrained(d, safe_serialization=True)
    processor.save_pretrained(d)
    # transformers 5.x flattened CLIPVisionModel / SiglipVisionModel (no `.vision_model` submodule), so
    # save_pretrained writes `embeddings.*`, `encoder.*`, ...  Released checkpoints (and transformers 4.x
    # save_pretrained) use `vision_model.embeddings.*` etc.  Rewrite the file with the real prefixed names; the
    # loader maps them back (checked below: no missing / unexpected keys, bit-identical parameters).
    native = load_file(d / "model.safetensors")
    native_keys = sorted(native)
    prefixed = {k if k.startswith("vision_model.") else "vision_model." + k: v.contiguous() for k, v in native.items()}
    save_file(prefixed, d / "model.safetensors", metadata={"format": "pt"})
    # reload what was written, so the expected tensors come from the files the Swift side will read
    model, info = model_cls.from_pretrained(d, attn_implementation="eager", output_loading_info=True)
    model = model.eval()
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"prefixed checkpoint did not load cleanly: {bad}"
    for k, v in model.state_dict().items():
        assert torch.equal(v, ref_sd[k]), k
    sd_file = load_file(d / "model.safetensors")

    proc = processor(images=images, return_tensors="pt")
    pixel_values = proc["pixel_values"].float().contiguous()

    # re-derive pixel_values from the documented steps (bit-exact check) and keep the uint8 resize outputs
    resized = {}
    for i, im in enumerate(images):
        t = torch.from_numpy(np.array(im)).permute(2, 0, 1).contiguous()  # uint8 CHW
        h, w = t.shape[1:]
        if name == "clip":
            short, long = min(h, w), max(h, w)
            new_long = int(56 * long / short)
            size = (new_long, 56) if h > w else (56, new_long)
        else:
            size = (56, 56)
        r = torch.nn.functional.interpolate(t[None], size=size, mode="bicubic", align_corners=False,
                                            antialias=True)[0]  # torch's uint8 kernel, what tvF.resize runs
        tv = torchvision.transforms.v2.functional.resize(t, list(size), interpolation=torchvision.transforms.
                                                         InterpolationMode.BICUBIC, antialias=True)
        assert torch.equal(r, tv)
        resized[f"resized.{i}"] = r
        top, left = int((size[0] - 56) / 2.0), int((size[1] - 56) / 2.0)
        c = r[:, top:top + 56, left:left + 56].float()
        mean = torch.tensor(processor.image_mean, dtype=torch.float32).view(3, 1, 1) * 255.0
        std = torch.tensor(processor.image_std, dtype=torch.float32).view(3, 1, 1) * 255.0
        x = (c - mean) / std
        assert torch.equal(x, pixel_values[i]), f"{name} image {i}: documented preprocessing does not reproduce"

    out = model(pixel_values=pixel_values, output_hidden_states=True, output_attentions=True)
    exp = {"pixel_values": pixel_values}
    for i, h in enumerate(out.hidden_states):
        exp[f"hidden_states.{i}"] = h
    for i, a in enumerate(out.attentions):
        exp[f"attentions.{i}"] = a
    exp["last_hidden_state"] = out.last_hidden_state
    extras = {}
    if out.pooler_output is not None:
        exp["pooler_output"] = out.pooler_output

    vm = getattr(model, "vision_model", model)
    if name == "clip":
        # intermediate: embeddings before pre_layrnorm (class token + patches + positions)
        emb = vm.embeddings(pixel_values)
        exp["embeddings"] = emb
        extras["embeddings"] = "vision_model.embeddings(pixel_values), i.e. BEFORE pre_layrnorm"
    else:
        exp["embeddings"] = vm.embeddings(pixel_values)
        extras["embeddings"] = "vision_model.embeddings(pixel_values) (patches + positions)"
        if getattr(vm, "use_head", False):
            head = vm.head
            probe = head.probe.repeat(pixel_values.shape[0], 1, 1)
            att_out, att_w = head.attention(probe, out.last_hidden_state, out.last_hidden_state,
                                            need_weights=True, average_attn_weights=False)
            exp["head.attention_output"] = att_out
            exp["head.attention_weights"] = att_w
            extras["head.attention_output"] = ("nn.MultiheadAttention(probe, last_hidden_state, last_hidden_state)[0], "
                                               "[B,1,D], before the head's residual LayerNorm+MLP")
            extras["head.attention_weights"] = "per-head probe attention probabilities [B,heads,1,N] (need_weights, not averaged)"
            # self-check of the documented head formula
            r = att_out
            manual = (r + head.mlp(head.layernorm(r)))[:, 0]
            assert torch.allclose(manual, out.pooler_output, atol=0, rtol=0), "head formula mismatch"

    # float64 twin to judge float32 error
    m64 = model_cls.from_pretrained(d, attn_implementation="eager").eval().double()
    o64 = m64(pixel_values=pixel_values.double(), output_hidden_states=True, output_attentions=True)
    f64 = {f"hidden_states.{i}": h for i, h in enumerate(o64.hidden_states)}
    f64.update({f"attentions.{i}": a for i, a in enumerate(o64.attentions)})
    f64["last_hidden_state"] = o64.last_hidden_state
    if o64.pooler_output is not None:
        f64["pooler_output"] = o64.pooler_output

    exp = {k: v.detach().float().clone().contiguous() for k, v in exp.items()}
    exp.update({k: v.clone().contiguous() for k, v in resized.items()})
    extras.update({k: "uint8 CHW output of the resize step (before crop / normalize) for image " + k[-1]
                   for k in resized})
    save_file(exp, d / "expected.safetensors", metadata={"generator": "Tests/Reference/make_tower_fixtures.py"})

    pil_info = None
    if pil_processor is not None:
        pv_pil = pil_processor(images=images, return_tensors="pt")["pixel_values"].float()
        diff = (pv_pil - pixel_values).abs()
        # express in 8-bit steps: (x*std+mean)*255
        std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
        steps = (diff * std * 255).max().item()
        pil_info = {
            "class": type(pil_processor).__name__,
            "pixel_values_max_abs_diff_vs_default": float(diff.max()),
            "max_diff_in_8bit_steps": round(steps, 4),
            "note": "the Pillow-backend processor (transformers' *Pil class, same settings) gives different "
                    "pixel_values; the fixture's pixel_values (and everything downstream) come from the default "
                    "torchvision-backed class. Not stored; recompute if needed.",
        }

    # attention peakedness, to show attention is not uniform
    att_stats = []
    for i, a in enumerate(out.attentions):
        n = a.shape[-1]
        ent = -(a.clamp_min(1e-30) * a.clamp_min(1e-30).log()).sum(-1).mean().item()
        att_stats.append({"layer": i, "tokens": n, "mean_max_prob": float(a.max(-1).values.mean()),
                          "mean_entropy_nats": ent, "uniform_entropy_nats": math.log(n)})

    tensors = {}
    for k, v in exp.items():
        info = tinfo(v)
        if k in f64:
            info["f64_max_abs_diff"] = float((f64[k] - v.double()).abs().max())
        tensors[k] = info

    entry = {
        "model_class": type(model).__name__,
        "config": json.loads((d / "config.json").read_text()),
        "files": {p.name: {"bytes": p.stat().st_size, "sha256": sha256(p)} for p in sorted(d.iterdir())},
        "weights": {k: list(v.shape) for k, v in sorted(sd_file.items())},
        "save_pretrained_native_keys": native_keys,
        "key_note": "model.safetensors holds the `vision_model.`-prefixed names of released checkpoints; "
                    "transformers " + transformers.__version__ + " save_pretrained itself writes the unprefixed "
                    "names listed in save_pretrained_native_keys and from_pretrained accepts both. Accept both.",
        "weights_dtype": "F32",
        "expected": tensors,
        "expected_extras": extras,
        "attention_stats": att_stats,
        "processor": {
            "class": type(processor).__name__,
            "backend": getattr(processor, "backend", None),
            "repr": repr(processor),
            "saved_preprocessor_config": json.loads((d / "preprocessor_config.json").read_text()),
            "pil_backend_comparison": pil_info,
        },
        "notes": notes,
    }
    if name == "siglip":
        entry["vision_use_head"] = bool(config.vision_use_head)
    return entry


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    OUT.mkdir(parents=True, exist_ok=True)

    paths = make_images()
    images = load_images(paths)

    clip_cfg = CLIPVisionConfig(**COMMON, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    clip_kwargs = dict(size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56}, do_center_crop=True,
                       resample=3, image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD, do_resize=True,
                       do_rescale=True, rescale_factor=1 / 255, do_normalize=True, do_convert_rgb=True)
    clip_proc = CLIPImageProcessor(**clip_kwargs)
    clip_pil = CLIPImageProcessorPil(**clip_kwargs) if CLIPImageProcessorPil else None

    sig_cfg = SiglipVisionConfig(**COMMON, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    sig_kwargs = dict(size={"height": 56, "width": 56}, resample=3, image_mean=[0.5] * 3, image_std=[0.5] * 3,
                      do_resize=True, do_rescale=True, rescale_factor=1 / 255, do_normalize=True, do_convert_rgb=True)
    sig_proc = SiglipImageProcessor(**sig_kwargs)
    sig_pil = SiglipImageProcessorPil(**sig_kwargs) if SiglipImageProcessorPil else None

    clip_notes = [
        "embeddings = cat([class_embedding, conv(pixel_values, stride 14, no bias).flatten(2).T]) + position_embedding "
        "(17 positions: index 0 = CLS, then row-major 4x4 patches).",
        "hidden_states.0 = pre_layrnorm(embeddings) (the encoder input); hidden_states.{i+1} = output of layer i; "
        "hidden_states.2 is the raw encoder output.",
        "last_hidden_state = encoder output WITHOUT post_layernorm (equals hidden_states.2).",
        "pooler_output = post_layernorm(last_hidden_state[:, 0, :]) (CLS token only).",
        "layer: x = x + out_proj(attn(layer_norm1(x))); x = x + fc2(quick_gelu(fc1(layer_norm2(x)))).",
        "q/k/v/out projections all have biases; scores = (q k^T) * head_dim^-0.5, softmax in float32.",
    ]
    sig_notes = [
        "embeddings = conv(pixel_values, stride 14, WITH bias).flatten(2).T + position_embedding (16 positions, no "
        "CLS token, no pre-LayerNorm).",
        "hidden_states.0 = embeddings; hidden_states.{i+1} = output of layer i.",
        "last_hidden_state = post_layernorm(encoder output) (unlike CLIP, post_layernorm is applied to all tokens).",
        "pooler_output = head(last_hidden_state): attention-pooling head SiglipMultiheadAttentionPoolingHead: "
        "probe [1,1,D] repeated over the batch; h = torch.nn.MultiheadAttention(D, heads, batch_first=True)"
        "(query=probe, key=value=last_hidden_state)[0] (packed in_proj_weight [3D,D] = [Wq;Wk;Wv], in_proj_bias "
        "[3D], out_proj.weight/bias; scale head_dim^-0.5); h = h + mlp(layernorm(h)) (head.layernorm eps = "
        "layer_norm_eps, head.mlp = fc1/gelu_pytorch_tanh/fc2); pooler_output = h[:, 0].",
        "interpolate_pos_encoding defaults to False and is not used here (56x56 input = config.image_size). When "
        "True and the grid differs, the 4x4 table is resized with F.interpolate(mode='bicubic', "
        "align_corners=False) to (H//14, W//14).",
    ]

    manifest = {
        "generator": "Tests/Reference/make_tower_fixtures.py",
        "seed": SEED,
        "images": {p.name: {"size_wh": list(Image.open(p).size), "bytes": p.stat().st_size, "sha256": sha256(p),
                            "source": src}
                   for p, src in zip(paths, [
                       "Assets/images/chelsea.png resized to 100x67 (Pillow LANCZOS)",
                       "Assets/images/astronaut.jpg crop box (64,0,448,512) resized to 75x100 (Pillow LANCZOS)"])},
        "batch_order": [p.name for p in paths],
        "layout": "pixel_values [B,3,56,56] NCHW float32; hidden states [B,tokens,64]; attentions [B,heads,T,T] "
                  "(softmax probabilities, eager attention, rows sum to 1)",
        "numerics": {
            "dtype": "all expected tensors float32 computed on the CPU with 1 thread; f64_max_abs_diff = "
                     "max |float32 result - same model in float64 on the same pixel_values|",
            "attention_scale": "head_dim**-0.5 = 32**-0.5 (CLIPAttention.scale / SiglipAttention.scale); "
                               "attn = softmax((q @ k^T) * scale, dim=-1, dtype=float32) @ v",
            "quick_gelu": "QuickGELUActivation: x * torch.sigmoid(1.702 * x)",
            "gelu_pytorch_tanh": "GELUTanh: torch.nn.functional.gelu(x, approximate='tanh') = "
                                 "0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))",
            "layer_norm": "torch.nn.LayerNorm (biased variance, eps inside sqrt); CLIP eps 1e-5, SigLIP eps 1e-6",
        },
        "preprocessing": {
            "clip": [
                "class CLIPImageProcessor is, in transformers 5.x, the TorchvisionBackend processor (the old 'fast' "
                "one); the Pillow/NumPy twin is CLIPImageProcessorPil.",
                "PIL image -> convert_rgb -> uint8 tensor CHW.",
                "resize shortest edge to 56: (short, long) -> (56, int(56*long/short)) (truncation, not rounding; "
                "get_resize_output_image_size): 100x67 -> 83x56, 75x100 -> 56x74.",
                "the resize is torchvision.transforms.v2.functional.resize(uint8 CHW tensor, BICUBIC, "
                "antialias=True), which runs torch.nn.functional.interpolate(uint8, mode='bicubic', "
                "align_corners=False, antialias=True) -- torch's uint8 antialiased kernel (Pillow-style a=-0.5 "
                "filter, separable, ALWAYS horizontal pass first, intermediate rounded to uint8). NOT Pillow's "
                "Image.resize (Pillow may do the vertical pass first; see pil_backend_comparison). NOT float "
                "interpolate + round (differs by up to 6 levels here). Stored as resized.{i} (U8).",
                "center crop 56x56: top = int((H-56)/2.0), left = int((W-56)/2.0) (floor), NOT torchvision "
                "center_crop's round-half-even: chelsea 83x56 gives left = 13 here, torchvision would give 14.",
                "rescale + normalize fused: (x - mean*255) / (std*255) in float32 (mean/std pre-multiplied by 1/rescale_factor = 255.0).",
            ],
            "siglip": [
                "class SiglipImageProcessor is the TorchvisionBackend processor; Pillow twin SiglipImageProcessorPil.",
                "PIL image -> convert_rgb -> uint8 tensor CHW.",
                "resize to exactly 56x56 (aspect ratio NOT kept) with the same torch uint8 antialiased bicubic "
                "kernel (stored as resized.{i}).",
                "no center crop (do_center_crop is None).",
                "rescale + normalize fused: (x - 0.5*255) / (0.5*255) = x/127.5 - 1.",
            ],
        },
        "towers": {},
    }

    manifest["towers"]["clip"] = run_tower("clip", CLIPVisionModel, clip_cfg, clip_proc, clip_pil, images, clip_notes)
    manifest["towers"]["siglip"] = run_tower("siglip", SiglipVisionModel, sig_cfg, sig_proc, sig_pil, images, sig_notes)

    # concrete resize sizes actually used
    sizes = {}
    for im, p in zip(images, paths):
        w, h = im.size
        short, long = min(w, h), max(w, h)
        new_long = int(56 * long / short)
        sizes[p.name] = {"input_wh": [w, h], "clip_resized_wh": [new_long, 56] if w > h else [56, new_long],
                         "siglip_resized_wh": [56, 56]}
    manifest["preprocessing"]["resize_sizes"] = sizes

    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")

    prov = {
        "generator": "Tests/Reference/make_tower_fixtures.py",
        "command": "~/venvs/ref/bin/python Tests/Reference/make_tower_fixtures.py",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "transformers": transformers.__version__,
            "numpy": np.__version__,
            "safetensors": safetensors.__version__,
            "Pillow": PIL.__version__,
        },
        "torch_runtime": {
            "num_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "seed": SEED,
    }
    (OUT / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")

    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT.relative_to(ROOT)}: {total} bytes")
    assert total <= 3 * 1024 * 1024, total


if __name__ == "__main__":
    sys.exit(main())
