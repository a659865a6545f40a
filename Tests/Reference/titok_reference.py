#!/usr/bin/env python3
"""Clean PyTorch reference port of the TiTok tokenizer family, for Tessera's Swift tests.

Covers TiTok (github.com/bytedance/1d-tokenizer, `modeling/titok.py`, `modeling/modules/blocks.py`,
`modeling/quantizer/quantizer.py`, `modeling/modules/maskgit_vqgan.py`), TA-TiTok (`modeling/tatitok.py`)
and One-D-Piece (github.com/turingmotors/One-D-Piece, variable-length decode). This is an independent
re-implementation of the same math. The state-dict key names and shapes are EXACTLY those of the official
modules, so an official checkpoint (`model.safetensors` / `pytorch_model.bin`) loads with `strict=True`.
`make_titok_fixtures.py --check-official` compares this port with the official code.

The model is built from the official nested config (the infer yaml, or the Hugging Face `config.json`, which is
`OmegaConf.to_container` of that yaml):

    {"model": {"vq_model": {...}}, "dataset": {"preprocessing": {"crop_size": 256}}}

Official defaults: a missing `is_legacy` means True, a missing `quantize_mode` means "vq", a missing
`finetune_decoder` means True (two-stage: legacy decoder predicts 1024 proxy-code logits, then the MaskGIT-VQGAN
pixel decoder). Tessera extensions (optional; defaults are the official values):

    model.vq_model.vit_enc_width / vit_enc_num_layers / vit_enc_num_heads   override the small/base/large table
    model.vq_model.vit_dec_width / vit_dec_num_layers / vit_dec_num_heads
    model.pixel_decoder: {"hidden_channels": 128, "z_channels": 256, "channel_mult": [1, 1, 2, 2, 4],
                          "num_res_blocks": 2}        (pixel_quantize.embedding is (1024, z_channels))
    model.type: "titok" | "tatitok" | "one_d_piece"   (One-D-Piece's own yaml uses model.type "one_d_piece";
                                                       TA-TiTok is also detected from vq_model.text_embed_dim)

Only torch (plus numpy, which torch's .numpy() uses in the safetensors helpers) is needed; no einops / omegaconf / huggingface_hub.
"""

from __future__ import annotations

import json
import math
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# "math": explicit softmax(Q K^T / sqrt(d)) V in the input dtype (the reference);
# "sdpa": torch.nn.functional.scaled_dot_product_attention (same math, fused; used for training).
ATTENTION_IMPL = "math"

# ViT sizes of the official tables: (width, layers, heads). Head dim is 64 for all of them.
VIT_SIZES = {"small": (512, 8, 8), "base": (768, 12, 12), "large": (1024, 24, 16)}

NUM_PROXY_CODES = 1024  # MaskGIT-VQGAN codebook size = channels of the legacy decoder's logits


# --------------------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------------------

@dataclass
class TiTokSpec:
    """Everything the port needs, resolved from the nested config (with the official defaults applied)."""

    image_size: int
    enc_patch_size: int
    dec_patch_size: int
    num_latent_tokens: int
    token_size: int
    quantize_mode: str  # "vq" | "vae"
    is_legacy: bool
    finetune_decoder: bool
    codebook_size: int
    use_l2_norm: bool
    commitment_cost: float
    clustering_vq: bool
    enc_width: int
    enc_layers: int
    enc_heads: int
    dec_width: int
    dec_layers: int
    dec_heads: int
    model_type: str  # "titok" | "tatitok" | "one_d_piece"
    text_embed_dim: int = 768
    text_context_length: int = 77
    pixel_hidden_channels: int = 128
    pixel_z_channels: int = 256
    pixel_channel_mult: List[int] = field(default_factory=lambda: [1, 1, 2, 2, 4])
    pixel_num_res_blocks: int = 2

    @property
    def enc_grid(self) -> int:
        return self.image_size // self.enc_patch_size

    @property
    def dec_grid(self) -> int:
        return self.image_size // self.dec_patch_size

    @property
    def enc_out_channels(self) -> int:
        """Channels of encoder.conv_out: T, or 2T for the VAE (mean and logvar)."""
        return 2 * self.token_size if self.quantize_mode == "vae" else self.token_size


def _get(d: Dict[str, Any], key: str, default: Any = None) -> Any:
    v = d.get(key, default) if d is not None else default
    return default if v is None else v


def spec_from_config(config: Dict[str, Any], model_type: Optional[str] = None) -> TiTokSpec:
    """Resolve the nested config dict (official keys + Tessera extensions) into a TiTokSpec."""
    model = config["model"]
    vq = model["vq_model"]
    image_size = int(config["dataset"]["preprocessing"]["crop_size"])
    quantize_mode = _get(vq, "quantize_mode", "vq")
    if quantize_mode not in ("vq", "vae"):
        raise ValueError(f"unsupported quantize_mode {quantize_mode!r}")
    if model_type is None:
        model_type = model.get("type")
        if model_type is None:
            model_type = "tatitok" if "text_embed_dim" in vq else "titok"
    if model_type not in ("titok", "tatitok", "one_d_piece"):
        raise ValueError(f"unsupported model type {model_type!r}")
    # One-D-Piece's fork has no is_legacy switch: it is always legacy.
    is_legacy = True if model_type == "one_d_piece" else bool(_get(vq, "is_legacy", True))
    finetune_decoder = bool(_get(vq, "finetune_decoder", True))
    if finetune_decoder and quantize_mode != "vq":
        raise ValueError("finetune_decoder (two-stage) is only defined for quantize_mode 'vq' (as in the official code)")
    if finetune_decoder and not is_legacy:
        raise ValueError("finetune_decoder (two-stage) needs the legacy decoder (1024 proxy-code logits)")
    if model_type == "tatitok" and finetune_decoder:
        raise ValueError("TA-TiTok has no two-stage decoder")

    def vit(prefix: str) -> Tuple[int, int, int]:
        size = _get(vq, f"vit_{prefix}_model_size", None)
        w, l, h = VIT_SIZES[size] if size is not None else (None, None, None)
        w = int(_get(vq, f"vit_{prefix}_width", w))
        l = int(_get(vq, f"vit_{prefix}_num_layers", l))
        h = int(_get(vq, f"vit_{prefix}_num_heads", h))
        if w % h:
            raise ValueError(f"vit_{prefix}: width {w} not divisible by {h} heads")
        return w, l, h

    ew, el, eh = vit("enc")
    dw, dl, dh = vit("dec")
    pix = model.get("pixel_decoder") or {}
    spec = TiTokSpec(
        image_size=image_size,
        enc_patch_size=int(vq["vit_enc_patch_size"]),
        dec_patch_size=int(vq["vit_dec_patch_size"]),
        num_latent_tokens=int(vq["num_latent_tokens"]),
        token_size=int(vq["token_size"]),
        quantize_mode=quantize_mode,
        is_legacy=is_legacy,
        finetune_decoder=finetune_decoder,
        codebook_size=int(_get(vq, "codebook_size", 0)),
        use_l2_norm=bool(_get(vq, "use_l2_norm", False)),
        commitment_cost=float(_get(vq, "commitment_cost", 0.25)),
        clustering_vq=bool(_get(vq, "clustering_vq", False)),
        enc_width=ew, enc_layers=el, enc_heads=eh,
        dec_width=dw, dec_layers=dl, dec_heads=dh,
        model_type=model_type,
        text_embed_dim=int(_get(vq, "text_embed_dim", 768)),
        text_context_length=int(_get(vq, "text_context_length", 77)),
        pixel_hidden_channels=int(_get(pix, "hidden_channels", 128)),
        pixel_z_channels=int(_get(pix, "z_channels", 256)),
        pixel_channel_mult=[int(c) for c in _get(pix, "channel_mult", [1, 1, 2, 2, 4])],
        pixel_num_res_blocks=int(_get(pix, "num_res_blocks", 2)),
    )
    if spec.image_size % spec.enc_patch_size or spec.image_size % spec.dec_patch_size:
        raise ValueError("crop_size must be a multiple of the patch sizes")
    if spec.quantize_mode == "vq" and spec.codebook_size <= 0:
        raise ValueError("vq mode needs codebook_size")
    if spec.finetune_decoder:
        up = 2 ** (len(spec.pixel_channel_mult) - 1)
        if up != spec.dec_patch_size:
            raise ValueError(f"pixel decoder upsamples x{up} but the decoder patch size is {spec.dec_patch_size}")
    return spec


# --------------------------------------------------------------------------------------------------------------
# Transformer
# --------------------------------------------------------------------------------------------------------------

class MultiheadSelfAttention(nn.Module):
    """Bidirectional self-attention with nn.MultiheadAttention's parameter layout:
    in_proj_weight (3W, W) = [Wq; Wk; Wv], in_proj_bias (3W), out_proj (Linear W->W). Head h uses channels
    [h*d, (h+1)*d) of q, k and v; scores are (q k^T) / sqrt(d)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.width, self.heads = width, heads
        self.head_dim = width // heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, L, W)
        b, l, w = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(b, l, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (3, B, H, L, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if ATTENTION_IMPL == "sdpa":
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            o = torch.matmul(scores.softmax(dim=-1), v)
        o = o.transpose(1, 2).reshape(b, l, w)
        return self.out_proj(o)


class ResidualAttentionBlock(nn.Module):
    """Pre-norm block: x += attn(ln_1(x)); x += c_proj(gelu(c_fc(ln_2(x)))). GELU is exact (erf); LN eps 1e-5."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = MultiheadSelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, hidden)),
            ("gelu", nn.GELU()),
            ("c_proj", nn.Linear(hidden, width)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TiTokEncoder(nn.Module):
    """Patches + class token + latent tokens -> ViT -> ln_post(latents) -> 1x1 conv_out to (B, Te, 1, N)."""

    def __init__(self, spec: TiTokSpec):
        super().__init__()
        self.spec = spec
        w, g, n = spec.enc_width, spec.enc_grid, spec.num_latent_tokens
        self.width = w
        scale = w ** -0.5
        self.patch_embed = nn.Conv2d(3, w, kernel_size=spec.enc_patch_size, stride=spec.enc_patch_size, bias=True)
        self.class_embedding = nn.Parameter(scale * torch.randn(1, w))
        self.positional_embedding = nn.Parameter(scale * torch.randn(g * g + 1, w))
        self.latent_token_positional_embedding = nn.Parameter(scale * torch.randn(n, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = nn.ModuleList(
            [ResidualAttentionBlock(w, spec.enc_heads) for _ in range(spec.enc_layers)])
        self.ln_post = nn.LayerNorm(w)
        self.conv_out = nn.Conv2d(w, spec.enc_out_channels, kernel_size=1, bias=True)

    def hidden(self, pixel_values: torch.Tensor, latent_tokens: torch.Tensor) -> torch.Tensor:
        """ln_post of the latent-token outputs, (B, N, W)."""
        b = pixel_values.shape[0]
        x = self.patch_embed(pixel_values)  # (B, W, g, g)
        x = x.flatten(2).transpose(1, 2)  # (B, g*g, W), token index = row * g + col
        cls = self.class_embedding.to(x.dtype).unsqueeze(0).expand(b, -1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        lat = (latent_tokens.to(x.dtype) + self.latent_token_positional_embedding.to(x.dtype))
        x = torch.cat([x, lat.unsqueeze(0).expand(b, -1, -1)], dim=1)
        x = self.ln_pre(x)
        for blk in self.transformer:
            x = blk(x)
        n_img = self.spec.enc_grid ** 2 + 1
        return self.ln_post(x[:, n_img:])

    def project(self, lat: torch.Tensor) -> torch.Tensor:
        """(B, N, W) -> (B, Te, 1, N) via conv_out, with the legacy raw reshape or the transpose."""
        b, n, w = lat.shape
        if self.spec.is_legacy:
            # Legacy: the row-major (N, W) block is *reinterpreted* as (W, N) (not transposed):
            # y[c, j] = lat[(c*N + j) // W, (c*N + j) % W].
            y = lat.reshape(b, w, n)
        else:
            y = lat.transpose(1, 2)
        z = self.conv_out(y.unsqueeze(-1))  # 1x1 conv over (B, W, N, 1) -> (B, Te, N, 1)
        return z.reshape(b, z.shape[1], 1, n)

    def forward(self, pixel_values: torch.Tensor, latent_tokens: torch.Tensor) -> torch.Tensor:
        return self.project(self.hidden(pixel_values, latent_tokens))


class PatchToImage(nn.Module):
    """einops 'b (p1 p2 c) h w -> b c (h p1) (w p2)' (channel index = (p1*P + p2)*3 + c). No parameters."""

    def __init__(self, patch: int):
        super().__init__()
        self.patch = patch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        p = self.patch
        x = x.reshape(b, p, p, 3, h, w).permute(0, 3, 4, 1, 5, 2)  # b c h p1 w p2
        return x.reshape(b, 3, h * p, w * p)


class TiTokDecoder(nn.Module):
    """[cls, mask x g^2] + pos, then k <= N embedded tokens + latent pos[:k] (+ text tokens for TA-TiTok) -> ViT
    -> ln_post on the g^2 mask outputs -> legacy: 1024 proxy-code logits; non-legacy: RGB image."""

    def __init__(self, spec: TiTokSpec):
        super().__init__()
        self.spec = spec
        w, g, n = spec.dec_width, spec.dec_grid, spec.num_latent_tokens
        self.width = w
        scale = w ** -0.5
        self.decoder_embed = nn.Linear(spec.token_size, w, bias=True)
        self.class_embedding = nn.Parameter(scale * torch.randn(1, w))
        self.positional_embedding = nn.Parameter(scale * torch.randn(g * g + 1, w))
        self.mask_token = nn.Parameter(scale * torch.randn(1, 1, w))
        self.latent_token_positional_embedding = nn.Parameter(scale * torch.randn(n, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = nn.ModuleList(
            [ResidualAttentionBlock(w, spec.dec_heads) for _ in range(spec.dec_layers)])
        self.ln_post = nn.LayerNorm(w)
        if spec.is_legacy:
            self.ffn = nn.Sequential(
                nn.Conv2d(w, 2 * w, 1, padding=0, bias=True),
                nn.Tanh(),
                nn.Conv2d(2 * w, NUM_PROXY_CODES, 1, padding=0, bias=True),
            )
            self.conv_out = nn.Identity()
        else:
            p = spec.dec_patch_size
            self.ffn = nn.Sequential(nn.Conv2d(w, p * p * 3, 1, padding=0, bias=True), PatchToImage(p))
            self.conv_out = nn.Conv2d(3, 3, 3, padding=1, bias=True)

    def extra_tokens(self, text_guidance: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[torch.Tensor]:
        return None

    def hidden(self, z_quantized: torch.Tensor, text_guidance: Optional[torch.Tensor] = None) -> torch.Tensor:
        """ln_post of the g^2 mask-token outputs, (B, g^2, W). z_quantized: (B, T, 1, k) with k <= N."""
        b, c, h, k = z_quantized.shape
        if h != 1 or c != self.spec.token_size:
            raise ValueError(f"decoder expects (B, {self.spec.token_size}, 1, k), got {tuple(z_quantized.shape)}")
        if not 1 <= k <= self.spec.num_latent_tokens:
            raise ValueError(f"decoder takes 1..{self.spec.num_latent_tokens} tokens, got {k}")
        g2 = self.spec.dec_grid ** 2
        x = self.decoder_embed(z_quantized.reshape(b, c, k).transpose(1, 2))  # (B, k, W)
        x = x + self.latent_token_positional_embedding[:k].to(x.dtype)
        seq = torch.cat([self.class_embedding.unsqueeze(0).expand(b, -1, -1),
                         self.mask_token.expand(b, g2, -1)], dim=1).to(x.dtype)
        seq = seq + self.positional_embedding.to(x.dtype)
        parts = [seq, x]
        extra = self.extra_tokens(text_guidance, x.dtype)
        if extra is not None:
            parts.append(extra)
        x = self.ln_pre(torch.cat(parts, dim=1))
        for blk in self.transformer:
            x = blk(x)
        return self.ln_post(x[:, 1:1 + g2])

    def head(self, hid: torch.Tensor) -> torch.Tensor:
        b, g2, w = hid.shape
        g = self.spec.dec_grid
        x = hid.transpose(1, 2).reshape(b, w, g, g)  # token index = row * g + col
        return self.conv_out(self.ffn(x))

    def forward(self, z_quantized: torch.Tensor, text_guidance: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.head(self.hidden(z_quantized, text_guidance))


class TATiTokDecoder(TiTokDecoder):
    """TA-TiTok: text_guidance (B, 77, text_embed_dim) -> text_guidance_proj + text positional embedding, appended
    after the latent tokens in the decoder sequence."""

    def __init__(self, spec: TiTokSpec):
        super().__init__(spec)
        scale = self.width ** -0.5
        self.text_guidance_proj = nn.Linear(spec.text_embed_dim, self.width)
        self.text_guidance_positional_embedding = nn.Parameter(
            scale * torch.randn(spec.text_context_length, self.width))

    def extra_tokens(self, text_guidance: Optional[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
        if text_guidance is None:
            raise ValueError("TA-TiTok's decoder needs text_guidance (B, context, text_embed_dim)")
        t = self.text_guidance_proj(text_guidance.to(dtype))
        return t + self.text_guidance_positional_embedding.to(dtype)


# --------------------------------------------------------------------------------------------------------------
# Quantizers
# --------------------------------------------------------------------------------------------------------------

class VectorQuantizer(nn.Module):
    """Nearest codebook row (argmin of |z|^2 + |e|^2 - 2 z.e, first index on ties), optionally on l2-normalized
    vectors (F.normalize, eps 1e-12). Always computed in float32 (or float64 if the weights are float64)."""

    def __init__(self, codebook_size: int, token_size: int, commitment_cost: float = 0.25,
                 use_l2_norm: bool = False, clustering_vq: bool = False):
        super().__init__()
        self.codebook_size, self.token_size = codebook_size, token_size
        self.commitment_cost, self.use_l2_norm = commitment_cost, use_l2_norm
        self.embedding = nn.Embedding(codebook_size, token_size)
        self.embedding.weight.data.uniform_(-1.0 / codebook_size, 1.0 / codebook_size)
        if clustering_vq:  # TA-TiTok training bookkeeping; unused at inference, kept so the key set matches
            self.register_buffer("embed_prob", torch.zeros(codebook_size))

    def codebook(self) -> torch.Tensor:
        e = self.embedding.weight
        return F.normalize(e, dim=-1) if self.use_l2_norm else e

    def distances(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, T, 1, N) -> distances (B*N, K) in the (normalized) space used for the argmin."""
        dt = torch.float64 if self.embedding.weight.dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=z.device.type, enabled=False):
            zf = z.to(dt).permute(0, 2, 3, 1).reshape(-1, self.token_size)
            if self.use_l2_norm:
                zf = F.normalize(zf, dim=-1)
            e = self.codebook().to(dt)
            return (zf ** 2).sum(dim=1, keepdim=True) + (e ** 2).sum(dim=1) - 2.0 * (zf @ e.t())

    def get_codebook_entry(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (...,) -> (..., T) codebook rows (normalized when use_l2_norm)."""
        z = self.embedding(ids)
        return F.normalize(z, dim=-1) if self.use_l2_norm else z

    def decode_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, N) or (B, 1, N) -> z_quantized (B, T, 1, N)."""
        if ids.dim() == 3:
            ids = ids.squeeze(1)
        return self.get_codebook_entry(ids).permute(0, 2, 1).unsqueeze(2).contiguous()

    def forward(self, z: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        with torch.autocast(device_type=z.device.type, enabled=False):
            return self._forward(z)

    def _forward(self, z: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Like the official quantizer: the returned value is z + (e - z).detach() (straight-through), which equals
        the codebook row e up to float rounding; decode_ids(ids) gives e exactly."""
        b, t, h, n = z.shape
        d = self.distances(z)
        ids = torch.argmin(d, dim=1)
        zq = self.get_codebook_entry(ids).view(b, h, n, t)
        zz = z.to(zq.dtype).permute(0, 2, 3, 1)
        if self.use_l2_norm:
            zz = F.normalize(zz, dim=-1)
        commitment = self.commitment_cost * torch.mean((zq.detach() - zz) ** 2)
        codebook = torch.mean((zq - zz.detach()) ** 2)
        zq = zz + (zq - zz).detach()  # straight-through estimator (forward value = codebook row)
        zq = zq.permute(0, 3, 1, 2).contiguous()
        info = dict(quantizer_loss=commitment + codebook, commitment_loss=commitment, codebook_loss=codebook,
                    min_encoding_indices=ids.view(b, h, n), ids=ids.view(b, h * n), distances=d.view(b, h * n, -1))
        return zq, info


class DiagonalGaussianDistribution:
    """VAE posterior: first T channels mean, last T logvar (clamped to [-30, 20])."""

    def __init__(self, parameters: torch.Tensor, deterministic: bool = False):
        self.parameters = parameters
        self.mean, self.logvar = torch.chunk(parameters.float() if parameters.dtype != torch.float64
                                             else parameters, 2, dim=1)
        self.logvar = torch.clamp(self.logvar, -30.0, 20.0)
        self.deterministic = deterministic
        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)
        if deterministic:
            self.std = torch.zeros_like(self.mean)
            self.var = torch.zeros_like(self.mean)

    def sample(self, generator: Optional[torch.Generator] = None, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """mean + std * eps, eps ~ N(0, 1) drawn on the CPU (like the official code, which uses the global RNG;
        pass a seeded `generator`, or the `noise` itself)."""
        if noise is None:
            noise = torch.randn(self.mean.shape, generator=generator, dtype=torch.float32)
        return self.mean + self.std * noise.to(device=self.mean.device, dtype=self.mean.dtype)

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        if self.deterministic:
            return torch.zeros(1, device=self.mean.device)
        return 0.5 * torch.sum(self.mean ** 2 + self.var - 1.0 - self.logvar, dim=[1, 2])


# --------------------------------------------------------------------------------------------------------------
# MaskGIT-VQGAN pixel decoder (two-stage models)
# --------------------------------------------------------------------------------------------------------------

class PixelQuantizer(nn.Module):
    """Holds `embedding.weight` (1024, z_channels): the proxy codebook used for the soft mixture."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)
        self.embedding.weight.data.uniform_(-1.0 / num_embeddings, 1.0 / num_embeddings)


class ResnetBlock(nn.Module):
    """GN(32, eps 1e-6) -> SiLU -> conv3x3 (no bias) -> GN -> SiLU -> conv3x3 (no bias).
    QUIRK (as in the original): when cin != cout the 1x1 `nin_shortcut` (cout -> cout, no bias) is applied to the
    block's OWN output h, not to the input: out = h + nin_shortcut(h). Otherwise out = h + x."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.cin, self.cout = cin, cout
        self.norm1 = nn.GroupNorm(32, cin, eps=1e-6, affine=True)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(32, cout, eps=1e-6, affine=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cout, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.nin_shortcut(h) if self.cin != self.cout else x)


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, num_res_blocks: int, upsample: bool):
        super().__init__()
        blocks = []
        for _ in range(num_res_blocks):
            blocks.append(ResnetBlock(cin, cout))
            cin = cout
        self.block = nn.ModuleList(blocks)
        self.add_upsample = upsample
        if upsample:
            self.upsample_conv = nn.Conv2d(cout, cout, 3, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.block:
            x = blk(x)
        if self.add_upsample:
            x = self.upsample_conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class PixelDecoder(nn.Module):
    """conv_in 3x3 (z -> hidden*mult[-1]) -> mid ResBlocks -> up[L-1] ... up[0] (keys indexed by level; level i
    maps hidden*mult[i+1] (or mult[-1] for the top) -> hidden*mult[i], every level but 0 ends with nearest x2 +
    conv3x3) -> GN -> SiLU -> conv_out 3x3 -> RGB."""

    def __init__(self, hidden: int = 128, z_channels: int = 256, channel_mult=(1, 1, 2, 2, 4),
                 num_res_blocks: int = 2, out_channels: int = 3):
        super().__init__()
        mult = list(channel_mult)
        levels = len(mult)
        top = hidden * mult[-1]
        self.conv_in = nn.Conv2d(z_channels, top, 3, padding=1, bias=True)
        self.mid = nn.ModuleList([ResnetBlock(top, top) for _ in range(num_res_blocks)])
        ups = []
        for i in range(levels):
            cin = hidden * (mult[-1] if i == levels - 1 else mult[i + 1])
            ups.append(UpBlock(cin, hidden * mult[i], num_res_blocks, upsample=i != 0))
        self.up = nn.ModuleList(ups)
        self.norm_out = nn.GroupNorm(32, hidden * mult[0], eps=1e-6, affine=True)
        self.conv_out = nn.Conv2d(hidden * mult[0], out_channels, 3, padding=1, bias=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(z)
        for blk in self.mid:
            x = blk(x)
        for blk in reversed(self.up):
            x = blk(x)
        return self.conv_out(F.silu(self.norm_out(x)))


# --------------------------------------------------------------------------------------------------------------
# Full model
# --------------------------------------------------------------------------------------------------------------

class TiTok(nn.Module):
    """TiTok / TA-TiTok / One-D-Piece with the official state-dict layout:
    latent_tokens, encoder.*, decoder.*, quantize.embedding.weight (vq), pixel_quantize.*, pixel_decoder.* (two-stage).
    """

    def __init__(self, config: Dict[str, Any], model_type: Optional[str] = None):
        super().__init__()
        self.config = config
        self.spec = spec = spec_from_config(config, model_type)
        self.encoder = TiTokEncoder(spec)
        self.decoder = TATiTokDecoder(spec) if spec.model_type == "tatitok" else TiTokDecoder(spec)
        self.latent_tokens = nn.Parameter(spec.enc_width ** -0.5 * torch.randn(spec.num_latent_tokens, spec.enc_width))
        self.apply(_init_weights)
        if spec.quantize_mode == "vq":
            self.quantize = VectorQuantizer(spec.codebook_size, spec.token_size, spec.commitment_cost,
                                            spec.use_l2_norm, spec.clustering_vq)
        if spec.finetune_decoder:
            self.pixel_quantize = PixelQuantizer(NUM_PROXY_CODES, spec.pixel_z_channels)
            self.pixel_decoder = PixelDecoder(spec.pixel_hidden_channels, spec.pixel_z_channels,
                                              spec.pixel_channel_mult, spec.pixel_num_res_blocks)

    # ---- construction helpers ----
    @classmethod
    def from_pretrained(cls, directory, model_type: Optional[str] = None, map_location="cpu") -> "TiTok":
        """Load `config.json` + `model.safetensors` (or `pytorch_model.bin`) from a directory."""
        directory = Path(directory)
        config = json.loads((directory / "config.json").read_text())
        st = directory / "model.safetensors"
        state = read_safetensors(st) if st.exists() else torch.load(directory / "pytorch_model.bin",
                                                                  map_location=map_location)
        if model_type is None and "decoder.text_guidance_proj.weight" in state and "type" not in config["model"]:
            model_type = "tatitok"  # official TA-TiTok configs carry no marker; the checkpoint does
        model = cls(config, model_type)
        model.load_official_state_dict(state)
        return model.eval()

    def load_official_state_dict(self, state: Dict[str, torch.Tensor], strict: bool = True):
        """load_state_dict that tolerates the optional TA-TiTok `quantize.embed_prob` buffer either way."""
        state = dict(state)
        own = self.state_dict()
        if "quantize.embed_prob" in state and "quantize.embed_prob" not in own:
            state.pop("quantize.embed_prob")
        if "quantize.embed_prob" in own and "quantize.embed_prob" not in state:
            state["quantize.embed_prob"] = own["quantize.embed_prob"]
        return self.load_state_dict(state, strict=strict)

    # ---- encode ----
    def encode(self, pixel_values: torch.Tensor, sample: bool = False,
               generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, Dict[str, Any]]:
        """pixel_values (B, 3, H, W) in [0, 1] -> (z_quantized (B, T, 1, N), info).
        info: 'latents' (B, Te, 1, N) before quantization, 'hidden' (B, N, W_enc) after ln_post, and
        VQ: 'ids' (B, N) int64, 'distances' (B, N, K); VAE: 'posterior' (z_quantized = mean unless sample=True)."""
        hid = self.encoder.hidden(pixel_values, self.latent_tokens)
        z = self.encoder.project(hid)
        info: Dict[str, Any] = {"hidden": hid, "latents": z}
        if self.spec.quantize_mode == "vq":
            zq, qinfo = self.quantize(z)
            info.update(qinfo)
        else:
            post = DiagonalGaussianDistribution(z)
            info["posterior"] = post
            zq = post.sample(generator) if sample else post.mean
        return zq, info

    # ---- decode ----
    def decoder_output(self, z_quantized: torch.Tensor, text_guidance: Optional[torch.Tensor] = None,
                       length: Optional[int] = None) -> torch.Tensor:
        """Raw decoder output: legacy -> (B, 1024, g, g) proxy-code logits; non-legacy -> (B, 3, H, W) image.
        `length` keeps only the first k tokens (One-D-Piece variable-length decode; k = N is plain TiTok)."""
        if length is not None:
            z_quantized = z_quantized[..., :length]
        return self.decoder(z_quantized, text_guidance)

    def pixel_decoder_input(self, logits: torch.Tensor) -> torch.Tensor:
        """Soft proxy-code mixture: softmax over the 1024 channels, times pixel_quantize.embedding (1024, z)."""
        soft = logits.softmax(dim=1)
        return torch.einsum("nchw,cd->ndhw", soft, self.pixel_quantize.embedding.weight.to(soft.dtype))

    def decode(self, z_quantized: torch.Tensor, text_guidance: Optional[torch.Tensor] = None,
               length: Optional[int] = None) -> torch.Tensor:
        """-> image (B, 3, H, W), NOT clamped (two-stage models: the pixel decoder's output)."""
        out = self.decoder_output(z_quantized, text_guidance, length)
        if self.spec.finetune_decoder:
            out = self.pixel_decoder(self.pixel_decoder_input(out))
        return out

    def decode_tokens(self, tokens: torch.Tensor, text_guidance: Optional[torch.Tensor] = None,
                      length: Optional[int] = None) -> torch.Tensor:
        """VQ: token ids (B, N) or (B, 1, N) -> image. VAE: tokens are the latents (B, T, 1, N)."""
        if self.spec.quantize_mode == "vq":
            z = self.quantize.decode_ids(tokens)
        else:
            z = tokens
        return self.decode(z, text_guidance, length)

    def forward(self, pixel_values: torch.Tensor, text_guidance: Optional[torch.Tensor] = None,
                length: Optional[int] = None):
        zq, info = self.encode(pixel_values)
        return self.decode(zq, text_guidance, length), info


def _init_weights(module: nn.Module) -> None:
    """The official TiTok init (trunc normal 0.02 for Linear/Conv, zero biases, unit LayerNorm)."""
    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
        nn.init.trunc_normal_(module.weight, mean=0.0, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.trunc_normal_(module.weight, mean=0.0, std=0.02)
    elif isinstance(module, nn.LayerNorm):
        nn.init.zeros_(module.bias)
        nn.init.ones_(module.weight)
    elif isinstance(module, MultiheadSelfAttention):
        nn.init.xavier_uniform_(module.in_proj_weight)
        nn.init.zeros_(module.in_proj_bias)


# --------------------------------------------------------------------------------------------------------------
# Pre / post-processing
# --------------------------------------------------------------------------------------------------------------

def to_uint8_truncate(images: torch.Tensor) -> torch.Tensor:
    """TiTok demo: clamp(0, 1), then (x * 255).to(uint8) (truncation). (B, 3, H, W) -> (B, H, W, 3) uint8.
    One-D-Piece's inference script does (x * 255).clamp(0, 255).to(uint8): identical for every float input."""
    x = torch.clamp(images.float(), 0.0, 1.0) * 255.0
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for images in [0, 1], (B, 3, H, W)."""
    mse = ((a.float() - b.float()) ** 2).flatten(1).mean(dim=1).clamp_min(1e-12)
    return 10.0 * torch.log10(1.0 / mse)


# --------------------------------------------------------------------------------------------------------------
# Minimal safetensors I/O (torch + numpy only; the file format is: u64 header length, JSON header, raw data)
# --------------------------------------------------------------------------------------------------------------

_ST_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
              torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.int8: "I8", torch.bool: "BOOL"}
_ST_TORCH = {v: k for k, v in _ST_DTYPES.items()}


def write_safetensors(path, tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None) -> None:
    header: Dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        if t.dtype == torch.bfloat16:
            data = t.view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path) -> Dict[str, torch.Tensor]:
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _ST_TORCH[info["dtype"]]
        s, e = info["data_offsets"]
        buf = bytearray(raw[base + s:base + e])
        if dt == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16) if buf else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(buf, dtype=dt) if buf else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def state_dict_shapes(model: nn.Module) -> List[Tuple[str, List[int]]]:
    return [(k, list(v.shape)) for k, v in model.state_dict().items()]


__all__ = [
    "TiTok", "TiTokSpec", "spec_from_config", "TiTokEncoder", "TiTokDecoder", "TATiTokDecoder", "VectorQuantizer",
    "DiagonalGaussianDistribution", "PixelDecoder", "PixelQuantizer", "ResnetBlock", "ResidualAttentionBlock",
    "MultiheadSelfAttention", "to_uint8_truncate", "psnr", "write_safetensors", "read_safetensors",
    "state_dict_shapes", "VIT_SIZES", "NUM_PROXY_CODES",
]
