#!/usr/bin/env python3
"""Generate the TiTok / TA-TiTok / One-D-Piece reference fixtures for Tessera's Swift tests.

Writes (see the "TiTok fixtures" section of Tests/Reference/README.md):

    Tests/Fixtures/titok/images/                 two small real images (inputs)
    Tests/Fixtures/titok/<case>/config.json      official nested config (+ Tessera extensions)
    Tests/Fixtures/titok/<case>/model.safetensors   exact official state-dict keys, F32, perturbed weights
    Tests/Fixtures/titok/<case>/expected.safetensors  inputs, intermediates and outputs
    Tests/Fixtures/titok/s128_shapes.json        key/shape lists of the real released models
    Tests/Fixtures/titok/official_configs/*.json the official infer configs as the HF config.json holds them
    Tests/Fixtures/titok/manifest.json           what everything is, tolerances, near-ties, official check

Cases: legacy_vq, vq_pixel, vae, one_d_piece, tatitok (see FIXTURES below).

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_titok_fixtures.py                  # fixtures
    ~/venvs/ref/bin/python Tests/Reference/make_titok_fixtures.py --check-official # + compare with the official code

The official code is read from git mirrors (or checkouts) of github.com/bytedance/1d-tokenizer and
github.com/turingmotors/One-D-Piece (--official-repo / --one-d-piece-repo); it is imported from a temporary
directory, never copied into this repository. Without the mirrors, official_configs/ is kept as committed and the
shape lists come from the port alone. Needs torch, torchvision, numpy, pillow, safetensors; --check-official also
needs omegaconf, einops and huggingface_hub (accelerate is stubbed: only its `gather` is imported).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import types
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import titok_reference as tr  # noqa: E402

OUT = ROOT / "Tests" / "Fixtures" / "titok"
ASSET_IMAGES = ROOT / "Assets" / "images"
DEFAULT_OFFICIAL = Path("/work/.mirror/bytedance+1d-tokenizer/repo")
DEFAULT_ODP = Path("/work/.mirror/turingmotors+One-D-Piece/repo")

IMAGE_SIZE = 64


# ----------------------------------------------------------------------------------------------------------------
# Fixture configurations
# ----------------------------------------------------------------------------------------------------------------

def _vit_ext(enc=(64, 2, 1), dec=(64, 2, 1)):
    return {"vit_enc_width": enc[0], "vit_enc_num_layers": enc[1], "vit_enc_num_heads": enc[2],
            "vit_dec_width": dec[0], "vit_dec_num_layers": dec[1], "vit_dec_num_heads": dec[2]}


PIXEL_SMALL = {"hidden_channels": 32, "z_channels": 32, "channel_mult": [1, 1, 2, 2, 2], "num_res_blocks": 2}


def fixture_configs() -> dict:
    legacy = {
        "model": {
            "vq_model": {
                "codebook_size": 64, "token_size": 12, "use_l2_norm": True, "commitment_cost": 0.25,
                "vit_enc_model_size": "small", "vit_dec_model_size": "small",
                "vit_enc_patch_size": 16, "vit_dec_patch_size": 16,
                "num_latent_tokens": 8, "finetune_decoder": True,
                # no is_legacy / quantize_mode: old-style config (legacy = True, vq)
                **_vit_ext(),
            },
            "pixel_decoder": dict(PIXEL_SMALL),
        },
        "dataset": {"preprocessing": {"crop_size": IMAGE_SIZE}},
    }
    odp = copy.deepcopy(legacy)
    odp["model"]["type"] = "one_d_piece"
    odp["model"]["vq_model"]["num_latent_tokens"] = 16
    odp["model"]["vq_model"]["strict_length_assertion"] = False
    odp["dataset"]["preprocessing"] = {"resize_shorter_edge": IMAGE_SIZE, "crop_size": IMAGE_SIZE,
                                       "random_crop": False, "random_flip": False}
    vq_pixel = {
        "model": {"vq_model": {
            "codebook_size": 128, "token_size": 16, "use_l2_norm": False, "commitment_cost": 0.25,
            "vit_enc_model_size": "small", "vit_dec_model_size": "small",
            "vit_enc_patch_size": 16, "vit_dec_patch_size": 16, "num_latent_tokens": 8,
            "finetune_decoder": False, "is_legacy": False, "quantize_mode": "vq",
            **_vit_ext(dec=(128, 2, 2)),
        }},
        "dataset": {"preprocessing": {"crop_size": IMAGE_SIZE}},
    }
    vae = {
        "model": {"vq_model": {
            "quantize_mode": "vae", "token_size": 8,
            "vit_enc_model_size": "small", "vit_dec_model_size": "small",
            "vit_enc_patch_size": 16, "vit_dec_patch_size": 16, "num_latent_tokens": 8,
            "finetune_decoder": False, "is_legacy": False,
            **_vit_ext(),
        }},
        "dataset": {"preprocessing": {"crop_size": IMAGE_SIZE}},
    }
    tatitok = {
        "model": {"vq_model": {
            "quantize_mode": "vq", "codebook_size": 128, "token_size": 16, "use_l2_norm": False,
            "commitment_cost": 0.25, "clustering_vq": False,
            "vit_enc_model_size": "small", "vit_dec_model_size": "small",
            "vit_enc_patch_size": 16, "vit_dec_patch_size": 16, "num_latent_tokens": 8,
            "finetune_decoder": False, "is_legacy": False,
            "text_embed_dim": 32, "text_context_length": 77,
            **_vit_ext(),
        }},
        "dataset": {"preprocessing": {"crop_size": IMAGE_SIZE}},
    }
    return {
        "legacy_vq": dict(config=legacy, seed=101, interp="bicubic", post="titok",
                          description="Legacy two-stage TiTok (like L-32/B-64/S-128): legacy raw-reshape encoder, "
                                      "l2-normalized VQ, legacy decoder -> 1024 proxy-code logits -> softmax mixture "
                                      "of pixel_quantize.embedding -> MaskGIT-VQGAN pixel decoder. Config written "
                                      "without is_legacy / quantize_mode (old-style)."),
        "vq_pixel": dict(config=vq_pixel, seed=202, interp="bicubic", post="titok",
                         description="Single-stage non-legacy TiTok (like BL-64-VQ8K): transposed encoder output, "
                                     "VQ without l2, decoder predicts pixels (ffn.0 + patch rearrange + conv_out). "
                                     "Decoder width 128 / 2 heads differs from the encoder (64 / 1 head)."),
        "vae": dict(config=vae, seed=303, interp="bicubic", post="titok",
                    description="Non-legacy VAE TiTok (like LL-32-VAE): conv_out has 2T channels (mean | logvar), "
                                "logvar clamped to [-30, 20]; decoded from the mean."),
        "one_d_piece": dict(config=odp, seed=101, interp="bilinear", post="one_d_piece", lengths=[1, 4, 16],
                            description="One-D-Piece (legacy two-stage TiTok, N=16) with variable-length decode of "
                                        "the first k tokens (k = 1, 4, 16). Same construction as legacy_vq with "
                                        "N = 16 and One-D-Piece's config keys and preprocessing."),
        "tatitok": dict(config=tatitok, seed=505, interp="bicubic", post="titok",
                        description="TA-TiTok: non-legacy VQ (no l2) with the text-aware decoder "
                                    "(text_guidance_proj 32->64 + text positional embedding, 77 text tokens "
                                    "appended after the latent tokens)."),
    }


# ----------------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------------

def randn(g: torch.Generator, *shape, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float32) * scale


TOKEN_PARAMS = ("latent_tokens", "class_embedding", "positional_embedding", "latent_token_positional_embedding",
                "mask_token", "text_guidance_positional_embedding")


def perturb(model: nn.Module, g: torch.Generator) -> None:
    """Overwrite every parameter with seeded noise (same rules as make_core_fixtures.py):
    norm weights 1 + 0.1 N; norm biases 0.1 N; other biases 0.2 N; matrices / conv kernels N * 1.2/sqrt(fan_in)
    (fan_in = numel / out dim; keeps activations O(1) and softmaxes non-uniform); nn.Embedding rows (codebooks)
    N(0, 1); learned tokens and positional embeddings 0.5 N."""
    norm_types = (nn.LayerNorm, nn.GroupNorm)
    with torch.no_grad():
        for mname, m in model.named_modules():
            for pname, p in m.named_parameters(recurse=False):
                if isinstance(m, norm_types):
                    new = 1.0 + randn(g, *p.shape, scale=0.1) if pname == "weight" else randn(g, *p.shape, scale=0.1)
                elif isinstance(m, nn.Embedding):
                    new = randn(g, *p.shape)
                elif pname in TOKEN_PARAMS:
                    new = randn(g, *p.shape, scale=0.5)
                elif p.ndim >= 2:
                    new = randn(g, *p.shape, scale=1.2 / math.sqrt(p[0].numel()))
                else:
                    new = randn(g, *p.shape, scale=0.2)
                p.copy_(new)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def save_st(tensors: dict, path: Path, metadata: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(path), metadata=metadata)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n")


# ----------------------------------------------------------------------------------------------------------------
# Images and preprocessing
# ----------------------------------------------------------------------------------------------------------------

IMAGES = [
    # (file written, source in Assets/images, crop box in the source (l, t, r, b) or None, size (w, h))
    ("chelsea_90x70.png", "chelsea.png", None, (90, 70)),
    ("astronaut_70x90.png", "astronaut.jpg", (96, 0, 494, 512), (70, 90)),
]


def make_images() -> list[dict]:
    d = OUT / "images"
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for fname, src, box, size in IMAGES:
        im = Image.open(ASSET_IMAGES / src).convert("RGB")
        if box is not None:
            im = im.crop(box)
        im = im.resize(size, Image.LANCZOS)
        im.save(d / fname, optimize=False, compress_level=9)
        out.append({"file": f"images/{fname}", "source": f"Assets/images/{src}",
                    "prep": f"Pillow crop {box} then resize to {size[0]}x{size[1]} (LANCZOS), saved as PNG"
                    if box else f"Pillow resize to {size[0]}x{size[1]} (LANCZOS), saved as PNG",
                    "size": list(size)})
    return out


def preprocess(interp: str) -> torch.Tensor:
    """TiTok eval transform: torchvision Resize(size, BICUBIC, antialias=True) on the PIL image (shorter side),
    CenterCrop(size), ToTensor (no normalization). One-D-Piece's inference script: Resize(size) = BILINEAR."""
    from torchvision import transforms as T
    mode = {"bicubic": T.InterpolationMode.BICUBIC, "bilinear": T.InterpolationMode.BILINEAR}[interp]
    tf = T.Compose([T.Resize(IMAGE_SIZE, interpolation=mode, antialias=True), T.CenterCrop(IMAGE_SIZE), T.ToTensor()])
    xs = [tf(Image.open(OUT / "images" / f).convert("RGB")) for f, *_ in IMAGES]
    return torch.stack(xs)


# ----------------------------------------------------------------------------------------------------------------
# Building a fixture model
# ----------------------------------------------------------------------------------------------------------------

def vq_gaps(d: torch.Tensor) -> torch.Tensor:
    """(B, N, K) distances -> second-best minus best, (B, N)."""
    top2 = torch.topk(d, 2, dim=-1, largest=False).values
    return top2[..., 1] - top2[..., 0]


def calibrate_conv_out(conv: nn.Conv2d, output: torch.Tensor, target_std=0.3, target_mean=0.5) -> None:
    """Rescale a final conv so the image has mean 0.5 and std 0.3 (per channel mean, global std): the uint8
    outputs then use the full range with a few clipped pixels."""
    with torch.no_grad():
        m = output.mean(dim=(0, 2, 3))
        sd = float(output.std())
        s = target_std / sd
        conv.weight.mul_(s)
        conv.bias.copy_((conv.bias - m) * s + target_mean)


def build_fixture_model(name: str, fx: dict, x: torch.Tensor, text: torch.Tensor | None, log: dict) -> tr.TiTok:
    torch.manual_seed(fx["seed"])
    model = tr.TiTok(fx["config"]).eval()
    g = torch.Generator().manual_seed(fx["seed"])
    perturb(model, g)
    spec = model.spec
    with torch.no_grad():
        # Legacy: proxy-code logits with std 3 (softmax neither one-hot nor uniform).
        if spec.is_legacy:
            zq, _ = model.encode(x)
            logits = model.decoder_output(zq)
            s = 3.0 / float(logits.std())
            model.decoder.ffn[2].weight.mul_(s)
            model.decoder.ffn[2].bias.mul_(s)
        # VQ: redraw the codebook until no token is a near-tie (gap >= 2e-3 * median distance).
        if spec.quantize_mode == "vq":
            cb_seed = fx["seed"] * 1000
            for attempt in range(200):
                gg = torch.Generator().manual_seed(cb_seed + attempt)
                model.quantize.embedding.weight.copy_(randn(gg, *model.quantize.embedding.weight.shape))
                _, info = model.encode(x)
                gap = float(vq_gaps(info["distances"]).min())
                scale = float(info["distances"].median())
                if gap >= 2e-3 * max(scale, 1.0):
                    break
            log["codebook_seed"] = cb_seed + attempt
            log["codebook_attempts"] = attempt + 1
        zq, _ = model.encode(x)
        if spec.finetune_decoder:
            out = model.decode(zq)
            calibrate_conv_out(model.pixel_decoder.conv_out, out)
        else:
            out = model.decode(zq, text)
            calibrate_conv_out(model.decoder.conv_out, out)
    return model


def run_expected(model: tr.TiTok, x: torch.Tensor, text: torch.Tensor | None, lengths, post: str) -> dict:
    """All expected tensors for one fixture (dtype follows the model: float32 or float64)."""
    spec = model.spec
    e = {"pixel_values": x}
    if text is not None:
        e["text_guidance"] = text
    with torch.no_grad():
        zq, info = model.encode(x)
        e["encoder_hidden"] = info["hidden"]
        e["encoder_latents"] = info["latents"]
        if spec.quantize_mode == "vq":
            ids = info["ids"]
            e["ids"] = ids.to(torch.int64)
            e["vq_distances"] = info["distances"]
            e["vq_distance_gap"] = vq_gaps(info["distances"])
            zq = model.quantize.decode_ids(ids)  # exact codebook rows (= decode_tokens path)
        else:
            post_ = info["posterior"]
            e["mean"], e["logvar"] = post_.mean, post_.logvar
            noise = torch.randn(post_.mean.shape, generator=torch.Generator().manual_seed(1234)).to(x.dtype)
            e["vae_noise"] = noise
            e["vae_sample"] = post_.sample(noise=noise)
            zq = post_.mean
        e["quantized"] = zq

        def dec(k, suffix):
            e["decoder_hidden" + suffix] = model.decoder.hidden(zq[..., :k], text)
            out = model.decoder_output(zq, text, length=k)
            e["decoder_output" + suffix] = out
            if spec.finetune_decoder:
                mix = model.pixel_decoder_input(out)
                e["pixel_decoder_input" + suffix] = mix
                rec = model.pixel_decoder(mix)
            else:
                rec = out
            e["reconstruction" + suffix] = rec
            e["reconstruction_u8" + suffix] = tr.to_uint8_truncate(rec)

        dec(spec.num_latent_tokens, "")
        for k in lengths or []:
            if k != spec.num_latent_tokens:
                dec(k, f"_k{k}")
        if spec.quantize_mode == "vae":
            rs = model.decode(e["vae_sample"])
            e["reconstruction_sample"] = rs
    return e


def u8_boundary_count(rec: torch.Tensor, eps=5e-3) -> int:
    v = torch.clamp(rec.float(), 0, 1) * 255.0
    frac = v - v.floor()
    inside = (v > 0) & (v < 255)
    return int((inside & ((frac < eps) | (frac > 1 - eps))).sum())


TENSOR_DOC = {
    "pixel_values": "input, (B,3,64,64) float32 in [0,1]: eval transform of images/ (see preprocess)",
    "text_guidance": "input, (B,77,32) float32: seeded N(0,1) stand-in for the CLIP text hidden states",
    "encoder_hidden": "encoder ln_post output of the latent tokens, (B,N,W_enc)",
    "encoder_latents": "encoder output before quantization (after conv_out), (B,Te,1,N)",
    "ids": "VQ token ids, int64 (B,N) (argmin, first index on ties)",
    "vq_distances": "VQ distances |z|^2+|e|^2-2z.e in the (l2-normalized if use_l2_norm) space, (B,N,K)",
    "vq_distance_gap": "second-best minus best distance per token, (B,N)",
    "mean": "VAE posterior mean (first T channels), (B,T,1,N)",
    "logvar": "VAE posterior logvar (last T channels, clamped to [-30,20]), (B,T,1,N)",
    "vae_noise": "N(0,1) noise (torch.Generator seed 1234) for the sample",
    "vae_sample": "mean + exp(0.5*logvar) * vae_noise",
    "reconstruction_sample": "decode of vae_sample (pre-clamp image)",
    "quantized": "decoder input z_quantized (B,T,1,N): VQ = codebook rows of ids (normalized if l2); VAE = mean",
    "decoder_hidden": "decoder ln_post output of the grid (mask) tokens, (B,g*g,W_dec)",
    "decoder_output": "raw decoder output: legacy = (B,1024,g,g) proxy-code logits; non-legacy = (B,3,H,W) image",
    "pixel_decoder_input": "two-stage: softmax(logits over 1024) mixture of pixel_quantize.embedding, (B,z,g,g)",
    "reconstruction": "final image before clamp, (B,3,64,64) float32",
    "reconstruction_u8": "uint8 (B,64,64,3): clamp(0,1), then (x*255).to(uint8) (truncation)",
}


# ----------------------------------------------------------------------------------------------------------------
# Official code
# ----------------------------------------------------------------------------------------------------------------

OFFICIAL_FILES = ["modeling/titok.py", "modeling/tatitok.py", "modeling/modules/blocks.py",
                  "modeling/modules/base_model.py", "modeling/modules/maskgit_vqgan.py",
                  "modeling/quantizer/quantizer.py"]
ODP_FILES = ["modeling/one_d_piece.py", "modeling/titok.py", "modeling/modules/blocks.py",
             "modeling/modules/base_model.py", "modeling/modules/maskgit_vqgan.py",
             "modeling/quantizer/quantizer.py"]


def repo_read(repo: Path, path: str) -> bytes:
    if (repo / path).exists():  # a checkout
        return (repo / path).read_bytes()
    return subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], check=True,
                          capture_output=True).stdout


def repo_commit(repo: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except Exception:
        return "unknown"


def repo_ls(repo: Path, prefix: str) -> list[str]:
    if (repo / prefix).is_dir():
        return sorted(str(p.relative_to(repo)) for p in (repo / prefix).rglob("*.yaml"))
    out = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "HEAD", prefix], check=True,
                         capture_output=True, text=True).stdout.split()
    return sorted(out)


def import_official(repo: Path, files: list[str], tmp: Path, tag: str) -> dict:
    """Extract the official modeling files to tmp/<tag> and import them as the `modeling` package (package
    __init__ files are skipped: they pull in the training losses)."""
    root = tmp / tag
    for f in files:
        p = root / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(repo_read(repo, f))
    for k in [k for k in sys.modules if k == "modeling" or k.startswith("modeling.")]:
        del sys.modules[k]
    for pkg in ("modeling", "modeling.modules", "modeling.quantizer"):
        m = types.ModuleType(pkg)
        m.__path__ = [str(root / pkg.replace(".", "/"))]
        sys.modules[pkg] = m
    try:
        import accelerate.utils.operations  # noqa: F401  (real accelerate if installed)
    except Exception:
        acc = types.ModuleType("accelerate")
        accu = types.ModuleType("accelerate.utils")
        acco = types.ModuleType("accelerate.utils.operations")
        acco.gather = lambda t: t
        acc.utils, accu.operations = accu, acco
        sys.modules.update({"accelerate": acc, "accelerate.utils": accu, "accelerate.utils.operations": acco})
    mods = {}
    stdout = sys.stdout
    sys.stdout = io.StringIO()  # blocks.py prints the attention mode
    try:
        for f in files:
            name = f[:-3].replace("/", ".")
            mods[name.split(".")[-1]] = importlib.import_module(name)
    finally:
        sys.stdout = stdout
    for k in [k for k in sys.modules if k == "modeling" or k.startswith("modeling.")]:
        del sys.modules[k]
    return mods


def official_pixel_modules(mods: dict, spec: tr.TiTokSpec):
    from omegaconf import OmegaConf
    mg = mods["maskgit_vqgan"]
    conf = OmegaConf.create({"channel_mult": list(spec.pixel_channel_mult),
                             "num_resolutions": len(spec.pixel_channel_mult), "dropout": 0.0,
                             "hidden_channels": spec.pixel_hidden_channels, "num_channels": 3,
                             "num_res_blocks": spec.pixel_num_res_blocks, "resolution": spec.image_size,
                             "z_channels": spec.pixel_z_channels})
    return (mg.VectorQuantizer(num_embeddings=1024, embedding_dim=spec.pixel_z_channels, commitment_cost=0.25),
            mg.Decoder(conf))


def build_official(mods: dict, config: dict, spec: tr.TiTokSpec):
    """The official model for `config`. The official TiTok hard-codes the MaskGIT-VQGAN pixel decoder sizes, so
    for a Tessera `model.pixel_decoder` extension its pixel modules are replaced by the official classes built with
    those sizes."""
    from omegaconf import OmegaConf
    cfg = OmegaConf.create(config)
    if spec.model_type == "one_d_piece":
        model = mods["one_d_piece"].OneDPiece(cfg)
    elif spec.model_type == "tatitok":
        model = mods["tatitok"].TATiTok(cfg)
    else:
        model = mods["titok"].TiTok(cfg)
    if spec.finetune_decoder and (spec.pixel_hidden_channels, spec.pixel_z_channels, list(spec.pixel_channel_mult),
                                  spec.pixel_num_res_blocks) != (128, 256, [1, 1, 2, 2, 4], 2):
        model.pixel_quantize, model.pixel_decoder = official_pixel_modules(mods, spec)
    return model.eval()


def compare_models(port: tr.TiTok, off, x: torch.Tensor, text, lengths=None) -> dict:
    """Run the port and the official model on x; return the differences."""
    spec = port.spec
    res = {}
    with torch.no_grad():
        zp = port.encoder(x, port.latent_tokens)
        zo = off.encoder(pixel_values=x, latent_tokens=off.latent_tokens)
        res["encoder_latents_max_abs_diff"] = maxdiff(zp, zo)
        res["encoder_latents_max_abs"] = float(zo.abs().max())
        if spec.quantize_mode == "vq":
            qp, ip = port.quantize(zp)
            qo, io_ = off.quantize(zo)
            res["ids_identical"] = bool(torch.equal(ip["min_encoding_indices"], io_["min_encoding_indices"]))
            res["ids_shape"] = list(io_["min_encoding_indices"].shape)
            res["quantized_max_abs_diff"] = maxdiff(qp, qo)
            # decode from the official tokens through decode_tokens on both sides
            toks = io_["min_encoding_indices"]
            dec_in_o = toks
            res["_tokens"] = toks
        else:
            post_o = off.quantize(zo)  # DiagonalGaussianDistribution class
            post_p = tr.DiagonalGaussianDistribution(zp)
            res["mean_max_abs_diff"] = maxdiff(post_p.mean, post_o.mean)
            res["logvar_max_abs_diff"] = maxdiff(post_p.logvar, post_o.logvar)
            torch.manual_seed(7)
            so = post_o.sample()
            torch.manual_seed(7)
            sp = post_p.sample()
            res["seeded_sample_max_abs_diff"] = maxdiff(sp, so)
            dec_in_o = post_o.mean
        for k in (lengths or [spec.num_latent_tokens]):
            sfx = "" if k == spec.num_latent_tokens else f"_k{k}"
            if spec.quantize_mode == "vq":
                if spec.model_type == "one_d_piece":
                    out_o = off.decode_tokens(dec_in_o, length=k)
                elif spec.model_type == "tatitok":
                    out_o = off.decode_tokens(dec_in_o, text)
                else:
                    out_o = off.decode_tokens(dec_in_o)
                out_p = port.decode_tokens(dec_in_o, text, length=k)
            else:
                out_o = off.decode(dec_in_o)
                out_p = port.decode(dec_in_o)
            res["decoded_max_abs_diff" + sfx] = maxdiff(out_p, out_o)
            res["decoded_max_abs" + sfx] = float(out_o.abs().max())
            # raw decoder output too
            zin = port.quantize.decode_ids(dec_in_o) if spec.quantize_mode == "vq" else dec_in_o
            zin_k = zin[..., :k]
            do = off.decoder(zin_k, text) if spec.model_type == "tatitok" else off.decoder(zin_k)
            dp = port.decoder_output(zin, text, length=k)
            res["decoder_output_max_abs_diff" + sfx] = maxdiff(dp, do)
            res["decoder_output_max_abs" + sfx] = float(do.abs().max())
    return res


def compare_float64(port: tr.TiTok, off, x: torch.Tensor, text, res32: dict, lengths=None) -> dict:
    """Same comparison with both models in float64 (the official quantizer casts to float32, so the decode side
    starts from the float32 run's tokens / the float64 latents): separates real math differences from float32
    summation-order noise."""
    spec = port.spec
    port.double()
    off.double()
    x = x.double()
    text = text.double() if text is not None else None
    res = {}
    with torch.no_grad():
        zp = port.encoder(x, port.latent_tokens)
        zo = off.encoder(pixel_values=x, latent_tokens=off.latent_tokens)
        res["encoder_latents_max_abs_diff"] = maxdiff(zp, zo)
        if spec.quantize_mode == "vq":
            toks = res32["_tokens"]
            for k in (lengths or [spec.num_latent_tokens]):
                sfx = "" if k == spec.num_latent_tokens else f"_k{k}"
                if spec.model_type == "one_d_piece":
                    out_o = off.decode_tokens(toks, length=k)
                elif spec.model_type == "tatitok":
                    out_o = off.decode_tokens(toks, text)
                else:
                    out_o = off.decode_tokens(toks)
                out_p = port.decode_tokens(toks, text, length=k)
                res["decoded_max_abs_diff" + sfx] = maxdiff(out_p, out_o)
        else:
            mean = torch.chunk(zo, 2, dim=1)[0]
            res["decoded_max_abs_diff"] = maxdiff(port.decode(mean), off.decode(mean))
    port.float()
    off.float()
    return res


def check_pass(res: dict, tol=1e-5) -> bool:
    """ids identical, float32 outputs within tol * max(1, |output|), float64 outputs within 1e-10 * max(1, |output|)."""
    ok = res.get("ids_identical", True)
    for k, v in res.items():
        if k.endswith("max_abs_diff"):
            scale = res.get(k.replace("_diff", ""), 1.0)
            ok &= v <= tol * max(1.0, scale)
    for k, v in res.get("float64", {}).items():
        scale = res.get(k.replace("_diff", ""), 1.0)
        ok &= v <= 1e-10 * max(1.0, scale)
    return bool(ok)


# ----------------------------------------------------------------------------------------------------------------
# Official configs and real-model shapes
# ----------------------------------------------------------------------------------------------------------------

SHAPE_MODELS = {
    # name -> (official config file in official_configs/, model type). TA-TiTok configs carry no marker (the
    # official code picks the TATiTok class by hand; a loader can detect decoder.text_guidance_proj.* keys).
    "titok_s128": ("titok_s128", None),
    "titok_l32": ("titok_l32", None),
    "titok_b64": ("titok_b64", None),
    "titok_bl64_vq8k": ("titok_bl64_vq8k", None),
    "titok_ll32_vae_c16": ("titok_ll32_vae_c16", None),
    "tatitok_bl64_vq": ("tatitok_bl64_vq", "tatitok"),
    "one-d-piece_s256": ("one-d-piece_s256", None),
}


def write_shapes_json(path: Path, obj: dict) -> None:
    """JSON with one [key, shape] pair per line (keeps the file small and diffable)."""
    lines = ["{", f' "description": {json.dumps(obj["description"])},', ' "models": {']
    models = list(obj["models"].items())
    for mi, (name, entry) in enumerate(models):
        lines.append(f"  {json.dumps(name)}: {{")
        for k, v in entry.items():
            if k != "keys":
                lines.append(f"   {json.dumps(k)}: {json.dumps(v)},")
        lines.append('   "keys": [')
        keys = entry["keys"]
        for i, kv in enumerate(keys):
            lines.append("    " + json.dumps(kv) + ("," if i + 1 < len(keys) else ""))
        lines.append("   ]")
        lines.append("  }" + ("," if mi + 1 < len(models) else ""))
    lines += [" }", "}"]
    path.write_text("\n".join(lines) + "\n")
    assert json.loads(path.read_text()) == obj


def write_official_configs(official: Path | None, odp: Path | None) -> dict:
    """official_configs/<name>.json = OmegaConf.to_container(yaml) (no interpolation resolved), i.e. what the
    PyTorchModelHubMixin `_save_pretrained` of TiTok writes as config.json."""
    d = OUT / "official_configs"
    info = {}
    sources = []
    if official is not None and official.exists():
        for f in repo_ls(official, "configs/infer/TiTok") + repo_ls(official, "configs/infer/TA-TiTok"):
            sources.append((official, f, "bytedance/1d-tokenizer"))
    if odp is not None and odp.exists():
        for f in ("configs/one-d-piece_s256.yaml", "configs/one-d-piece_b256.yaml", "configs/one-d-piece_l256.yaml"):
            sources.append((odp, f, "turingmotors/One-D-Piece"))
    if not sources:
        print("  official repos not found: keeping the committed official_configs/")
        return {p.stem: {"source": "committed"} for p in sorted(d.glob("*.json"))}
    from omegaconf import OmegaConf
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for repo, f, label in sources:
        cfg = OmegaConf.to_container(OmegaConf.create(repo_read(repo, f).decode()), resolve=False)
        name = Path(f).stem
        write_json(d / f"{name}.json", cfg)
        info[name] = {"source": f"{label}@{repo_commit(repo)[:12]}:{f}"}
    return info


def real_model_shapes(mods: dict | None, odp_mods: dict | None) -> dict:
    out = {}
    for name, (cfgname, mtype) in SHAPE_MODELS.items():
        p = OUT / "official_configs" / f"{cfgname}.json"
        if not p.exists():
            continue
        cfg = json.loads(p.read_text())
        with torch.device("meta"):
            port = tr.TiTok(cfg, mtype)
        shapes = tr.state_dict_shapes(port)
        entry = {"config": f"official_configs/{cfgname}.json", "model_type": port.spec.model_type,
                 "quantize_mode": port.spec.quantize_mode, "is_legacy": port.spec.is_legacy,
                 "finetune_decoder": port.spec.finetune_decoder,
                 "num_tensors": len(shapes), "num_params": int(sum(math.prod(s) for _, s in shapes)),
                 "keys": [[k, s] for k, s in shapes]}
        om = odp_mods if port.spec.model_type == "one_d_piece" else mods
        if om is not None:
            with torch.device("meta"):
                off = build_official(om, cfg, port.spec)
            off_shapes = [(k, list(v.shape)) for k, v in off.state_dict().items()]
            entry["matches_official"] = sorted(off_shapes) == sorted(shapes)
            entry["official_key_order_matches"] = [k for k, _ in off_shapes] == [k for k, _ in shapes]
            if not entry["matches_official"]:
                raise SystemExit(f"{name}: port state dict differs from the official one: "
                                 f"{set(map(str, off_shapes)) ^ set(map(str, shapes))}")
        out[name] = entry
        print(f"  {name}: {entry['num_tensors']} tensors, {entry['num_params'] / 1e6:.1f} M params"
              + (f", matches official: {entry.get('matches_official')}" if "matches_official" in entry else ""))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Official check on the released sizes
# ----------------------------------------------------------------------------------------------------------------

def check_real_sizes(mods: dict, names: list[str], size: int) -> dict:
    results = {}
    for name in names:
        cfg = json.loads((OUT / "official_configs" / f"{name}.json").read_text())
        cfg = copy.deepcopy(cfg)
        cfg["dataset"]["preprocessing"]["crop_size"] = size
        mtype = "tatitok" if name.startswith("tatitok") else None
        spec = tr.spec_from_config(cfg, mtype)
        t0 = time.time()
        torch.manual_seed(0)
        off = build_official(mods, cfg, spec)
        port = tr.TiTok(cfg, mtype).eval()
        x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1))
        text = (torch.randn(2, spec.text_context_length, spec.text_embed_dim, generator=torch.Generator().manual_seed(2))
                if spec.model_type == "tatitok" else None)
        entry = {"crop_size": size, "num_params": int(sum(p.numel() for p in off.parameters()))}
        variants = ["official_init", "perturbed"] if name == "titok_s128" else ["perturbed"]
        for v in variants:
            if v == "official_init":
                port.load_official_state_dict(off.state_dict())  # official -> port, strict
            else:
                perturb(port, torch.Generator().manual_seed(99))
                with torch.no_grad():
                    if spec.is_legacy:  # keep the proxy logits in a sane range (std ~3) as in the fixtures
                        zq, _ = port.encode(x)
                        s = 3.0 / float(port.decoder_output(zq).std())
                        port.decoder.ffn[2].weight.mul_(s)
                        port.decoder.ffn[2].bias.mul_(s)
                off.load_state_dict(port.state_dict(), strict=True)  # port -> official, strict
            res = compare_models(port, off, x, text)
            res["float64"] = compare_float64(port, off, x, text, res)
            res.pop("_tokens", None)
            res["pass_float32_1e-5"] = check_pass({k: v for k, v in res.items() if k != "float64"})
            res["pass"] = res.get("ids_identical", True) and check_pass({"float64": res["float64"], **{
                k: v for k, v in res.items() if not k.endswith("max_abs_diff")}})
            entry[v] = res
            print(f"  {name} [{v}] {json.dumps(res)}")
        entry["seconds"] = round(time.time() - t0, 1)
        results[name] = entry
        del off, port
    return results


# ----------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-official", action="store_true",
                    help="compare the port with the official code (fixtures + S-128/BL-64-VQ8K/LL-32-VAE)")
    ap.add_argument("--official-repo", type=Path, default=DEFAULT_OFFICIAL)
    ap.add_argument("--one-d-piece-repo", type=Path, default=DEFAULT_ODP)
    ap.add_argument("--real-size", type=int, default=256, help="crop_size for the released-size official check")
    ap.add_argument("--real-models", default="titok_s128,titok_bl64_vq8k,titok_ll32_vae_c16,tatitok_bl64_vq")
    args = ap.parse_args()

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.cuda.amp.autocast in the official quantizer
    t_start = time.time()
    official = args.official_repo if args.official_repo.exists() else None
    odp = args.one_d_piece_repo if args.one_d_piece_repo.exists() else None

    prev_manifest = {}
    if (OUT / "manifest.json").exists():
        prev_manifest = json.loads((OUT / "manifest.json").read_text())
    for sub in ("legacy_vq", "vq_pixel", "vae", "one_d_piece", "tatitok", "images"):
        if (OUT / sub).exists():
            shutil.rmtree(OUT / sub)
    OUT.mkdir(parents=True, exist_ok=True)

    print("official configs")
    cfg_info = write_official_configs(official, odp)

    mods = odp_mods = None
    tmp = Path(tempfile.mkdtemp(prefix="titok_official_"))
    try:
        if official is not None:
            try:
                mods = import_official(official, OFFICIAL_FILES, tmp, "bytedance")
            except ImportError as e:
                print(f"  cannot import the official code ({e}); install omegaconf einops huggingface_hub")
        if odp is not None and mods is not None:
            odp_mods = import_official(odp, ODP_FILES, tmp, "one_d_piece")

        print("real-model shapes")
        shapes = real_model_shapes(mods, odp_mods)
        write_shapes_json(OUT / "s128_shapes.json", {
            "description": "State-dict keys and shapes (in state_dict order) of the released models, from the "
                           "port built with official_configs/<config>.json; 'matches_official' = identical to the "
                           "official modules' state_dict (built on the meta device). The file name is historical: "
                           "it holds every model listed.",
            "models": shapes})

        print("images")
        images = make_images()
        fixtures = fixture_configs()
        manifest_cases = {}
        official_fixture_check = {}
        min_gap_overall = None
        for name, fx in fixtures.items():
            t0 = time.time()
            d = OUT / name
            d.mkdir(parents=True, exist_ok=True)
            x = preprocess(fx["interp"])
            spec = tr.spec_from_config(fx["config"])
            text = (torch.randn(x.shape[0], spec.text_context_length, spec.text_embed_dim,
                                generator=torch.Generator().manual_seed(fx["seed"] + 7))
                    if spec.model_type == "tatitok" else None)
            log = {}
            model = build_fixture_model(name, fx, x, text, log)
            write_json(d / "config.json", fx["config"])
            sd = {k: v.detach().clone().float().contiguous() for k, v in model.state_dict().items()}
            save_st(sd, d / "model.safetensors", metadata={"format": "pt"})
            # reload through the port's own loader (checks config + keys round-trip)
            model = tr.TiTok.from_pretrained(d)
            assert all(torch.equal(model.state_dict()[k], sd[k]) for k in sd)
            exp = run_expected(model, x, text, fx.get("lengths"), fx["post"])
            # float64 run: tolerance guide
            m64 = tr.TiTok.from_pretrained(d).double()
            exp64 = run_expected(m64, x.double(), text.double() if text is not None else None, fx.get("lengths"),
                                 fx["post"])
            f64 = {}
            for k, v in exp.items():
                if v.dtype.is_floating_point and k not in ("pixel_values", "text_guidance", "vae_noise"):
                    f64[k] = maxdiff(v, exp64[k])
                elif k.startswith("ids"):
                    f64[k + "_equal"] = bool(torch.equal(v, exp64[k]))
                elif k.startswith("reconstruction_u8"):
                    f64[k + "_mismatches"] = int((v != exp64[k]).sum())
            # decode_tokens == decode(quantized)
            with torch.no_grad():
                if spec.quantize_mode == "vq":
                    via_tokens = model.decode_tokens(exp["ids"], text)
                    assert torch.equal(via_tokens, exp["reconstruction"]), "decode_tokens path differs"
            tensors = {k: (v.float() if v.dtype.is_floating_point else v) for k, v in exp.items()}
            save_st(tensors, d / "expected.safetensors")
            entry = {
                "description": fx["description"],
                "config": f"{name}/config.json",
                "model": f"{name}/model.safetensors",
                "expected": f"{name}/expected.safetensors",
                "model_type": spec.model_type,
                "spec": asdict(spec),
                "num_params": int(sum(p.numel() for p in model.parameters())),
                "perturb_seed": fx["seed"],
                "preprocessing": {
                    "transform": f"torchvision Resize({IMAGE_SIZE}, {fx['interp'].upper()}, antialias=True) on the "
                                 f"PIL image (shorter side -> {IMAGE_SIZE}, long side truncated), "
                                 f"CenterCrop({IMAGE_SIZE}), ToTensor (x/255, no normalization)",
                    "interpolation": fx["interp"]},
                "postprocessing": ("clamp(0,1) then (x*255).to(uint8) (truncation) [TiTok demo]"
                                   if fx["post"] == "titok" else
                                   "(x*255).clamp(0,255).to(uint8) (truncation) [One-D-Piece "
                                   "scripts/inference_tokenizer.py]; identical to the TiTok rule for every float"),
                "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
                                "doc": TENSOR_DOC.get(k.split("_k")[0] if "_k" in k and k.split("_k")[-1].isdigit()
                                                      else k, "")}
                            for k, v in tensors.items()},
                "float32_vs_float64_max_abs_diff": f64,
                "u8_values_within_0.005_of_a_step": {k: u8_boundary_count(exp[k.replace("_u8", "")])
                                                      for k in exp if k.startswith("reconstruction_u8")},
                **log,
            }
            if spec.quantize_mode == "vq":
                gap = float(exp["vq_distance_gap"].min())
                entry["vq_min_distance_gap"] = gap
                entry["vq_median_distance"] = float(exp["vq_distances"].median())
                entry["vq_codebook_usage"] = int(exp["ids"].unique().numel())
                min_gap_overall = gap if min_gap_overall is None else min(min_gap_overall, gap)
            if spec.model_type == "one_d_piece":
                entry["lengths"] = fx["lengths"]
                entry["length_note"] = ("tensors without suffix are the full decode (k = N = 16); '_k{k}' "
                                        "decode only the first k tokens: decoder sequence [cls, g*g masks, k "
                                        "latents] with latent_token_positional_embedding[:k], no padding")
            if spec.model_type == "tatitok":
                entry["text_guidance_note"] = ("text_guidance is an input: in TA-TiTok it is the 77 hidden states "
                                               "of open_clip ViT-L-14-336's text transformer after ln_final (768-d); "
                                               "here 32-d seeded noise")
            # official check on this exact fixture
            if args.check_official and mods is not None:
                om = odp_mods if spec.model_type == "one_d_piece" else mods
                res = official_fixture_check_one(om, fx["config"], spec, d, x, text, fx.get("lengths"))
                official_fixture_check[name] = res
                entry["official_check"] = res
                print(f"  official check {name}: pass={res['pass']}")
            manifest_cases[name] = entry
            print(f"{name}: {entry['num_params']} params, {time.time() - t0:.1f}s"
                  + (f", min VQ gap {entry['vq_min_distance_gap']:.4g}" if "vq_min_distance_gap" in entry else ""))

        real_check = prev_manifest.get("official_check_released_sizes")
        if args.check_official and mods is not None:
            torch.set_num_threads(max(1, os.cpu_count() or 1))
            print(f"official check at released sizes (crop {args.real_size})")
            real_check = check_real_sizes(mods, [n for n in args.real_models.split(",") if n], args.real_size)
            torch.set_num_threads(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    files = {}
    for p in sorted(OUT.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            files[str(p.relative_to(OUT))] = {"bytes": p.stat().st_size, "sha256": sha256(p)}
    import torchvision
    import PIL
    import safetensors
    manifest = {
        "generator": "Tests/Reference/make_titok_fixtures.py",
        "reference": "Tests/Reference/titok_reference.py",
        "official_sources": {
            "bytedance/1d-tokenizer": repo_commit(official) if official else "not available",
            "turingmotors/One-D-Piece": repo_commit(odp) if odp else "not available"},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
                     "safetensors": safetensors.__version__},
        "images": images,
        "batch_order": [f"images/{f}" for f, *_ in IMAGES],
        "common": {
            "image_size": IMAGE_SIZE,
            "weights": "model.safetensors = exact state_dict (official key names), float32. Every parameter is "
                       "seeded noise (see perturb()): norm weights 1+0.1N, norm biases 0.1N, other biases 0.2N, "
                       "matrices N*1.2/sqrt(fan_in), codebooks N(0,1), learned tokens / positional embeddings "
                       "0.5N. Then: legacy decoder ffn.2 rescaled so the proxy logits have std 3; the VQ codebook "
                       "redrawn (seed codebook_seed) until the smallest best-vs-second-best distance gap is >= "
                       "2e-3 * max(1, median distance); the final conv (pixel_decoder.conv_out or decoder.conv_out) "
                       "rescaled so the image has mean 0.5 / std 0.3.",
            "vq_min_distance_gap_all_fixtures": min_gap_overall,
            "tolerances": "float32 outputs vs the float64 run of the same weights are listed per case "
                          "(float32_vs_float64_max_abs_diff); a Swift float32 implementation should agree to a "
                          "few times those numbers. ids must match exactly. reconstruction_u8 may differ by 1 where "
                          "x*255 lies within a float error of an integer (u8_values_within_0.005_of_a_step).",
            "quantized_note": "'quantized' is the exact codebook row (decode_tokens path). The official encode() "
                              "returns z + (e - z).detach() (straight-through), equal to it within ~1e-7.",
            "one_d_piece_facts": ONE_D_PIECE_FACTS,
        },
        "cases": manifest_cases,
        "official_configs": cfg_info,
        "official_check_ran_this_run": bool(args.check_official and mods is not None),
        "official_check_fixtures": official_fixture_check or prev_manifest.get("official_check_fixtures"),
        "official_check_released_sizes": real_check,
        "files": files,
        "total_bytes": int(sum(v["bytes"] for v in files.values())),
    }
    write_json(OUT / "manifest.json", manifest)
    print(f"total {manifest['total_bytes'] / 1e6:.2f} MB in {OUT}; {time.time() - t_start:.0f}s")


ONE_D_PIECE_FACTS = {
    "config": "github.com/turingmotors/One-D-Piece ships no config.json: configs/one-d-piece_{s,b,l}256.yaml are "
              "full training-style yamls (experiment/model/losses/dataset/training) with model.type "
              "'one_d_piece', vq_model like the legacy TiTok (codebook 4096, token_size 12, use_l2_norm, "
              "num_latent_tokens 256, finetune_decoder True) plus 'strict_length_assertion: False', and no "
              "is_legacy (its fork is always legacy). The Hugging Face repos turing-motors/One-D-Piece-{S,B,L}-256 "
              "could not be inspected from here (the repo's demo notebook loads a pytorch_model.bin with the yaml).",
    "variable_length": "OneDPiece.decode(z, length=k) slices z[..., :k] before TiTok.decode; the decoder appends the "
                       "k tokens with latent_token_positional_embedding[:k] (no padding, no mask).",
    "preprocessing": "scripts/inference_tokenizer.py: transforms.Resize(256) (torchvision default BILINEAR; "
                     "antialias default True), CenterCrop(256), ToTensor. Its training/eval webdataset loader uses "
                     "BICUBIC antialias like TiTok.",
    "postprocessing": "scripts/inference_tokenizer.py: (x*255.0).clamp(0,255).to(uint8) (truncation); demo.ipynb: "
                      "clamp(0,1) then (x*255).to(uint8); scripts/reconstruct_tokenizer.py (eval): "
                      "torch.round(x.clamp(0,1)*255).to(uint8) (rounding).",
}


def official_fixture_check_one(mods: dict, config: dict, spec: tr.TiTokSpec, d: Path, x, text, lengths) -> dict:
    """Official model with the fixture's widths: the official constructors take width/layers/heads from the
    small/base/large table, so the fixture is rebuilt with the table entry of `vit_*_model_size` swapped for the
    fixture's values while the constructor runs (the official module code is otherwise untouched)."""
    blocks = mods["blocks"]
    state = load_file(str(d / "model.safetensors"))
    port = tr.TiTok.from_pretrained(d)
    saved = {}
    for cls, dims in ((blocks.TiTokEncoder, (spec.enc_width, spec.enc_layers, spec.enc_heads)),
                      (blocks.TiTokDecoder, (spec.dec_width, spec.dec_layers, spec.dec_heads))):
        saved[cls] = cls.__init__
        cls.__init__ = _sized_init(cls.__init__, dims)
    try:
        off = build_official(mods, config, spec)
    finally:
        for cls, init in saved.items():
            cls.__init__ = init
    off.load_state_dict(state, strict=True)
    off.eval()
    res = compare_models(port, off, x, text, lengths)
    res["float64"] = compare_float64(port, off, x, text, res, lengths)
    res.pop("_tokens", None)
    res["pass"] = check_pass(res)
    return res


def _sized_init(orig, dims):
    """The official __init__ with its three size tables (dict literals indexed by vit_*_model_size: width,
    num_layers, num_heads) replaced by the fixture's numbers. The official source is re-compiled in memory from
    the temporary extraction; everything else in it is unchanged."""
    import inspect
    import textwrap
    src = textwrap.dedent(inspect.getsource(orig))
    w, l, h = dims
    # The three literal tables appear in this order: width, num_layers, num_heads.
    parts = src.split("self.width = {", 1)
    assert len(parts) == 2, "unexpected official source layout"
    head, rest = parts
    rest = "self.width = {" + rest
    for attr, val in (("width", w), ("num_layers", l), ("num_heads", h)):
        start = rest.index(f"self.{attr} = {{")
        end = rest.index("}[self.model_size]", start) + len("}[self.model_size]")
        rest = rest[:start] + f"self.{attr} = {val}" + rest[end:]
    src = head + rest
    glb = dict(orig.__globals__)
    glb["__tessera_cls__"] = orig.__globals__[orig.__qualname__.split(".")[0]]
    # zero-arg super() needs __class__ in the closure; re-create with it
    code = compile(_with_class_cell(src, orig.__name__), f"<official {orig.__qualname__} sized>", "exec")
    ns: dict = {}
    exec(code, glb, ns)
    return ns["__tessera_factory__"]()


def _with_class_cell(src: str, fname: str) -> str:
    """Wrap a method source in a factory that binds __class__ (for zero-argument super())."""
    import textwrap
    body = textwrap.indent(src, "        ")
    return ("def __tessera_factory__():\n"
            "    __class__ = __tessera_cls__\n"
            "    if True:\n"
            f"{body}\n"
            f"    return {fname}\n")


if __name__ == "__main__":
    main()
