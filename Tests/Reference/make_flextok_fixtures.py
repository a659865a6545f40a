#!/usr/bin/env python3
"""Generate the FlexTok reference fixtures for Tessera's Swift tests with the official code.

The official apple/ml-flextok code is read from a git mirror (--flextok-repo, default
/work/.mirror/apple+ml-flextok/repo) and imported from a temporary directory; nothing of it is
committed. Each case builds a random-weight FlexTok with upstream's hydra classes from a config in
the published layout (the same top-level keys, module_dict names and `_target_`s as the released
checkpoints; reduced widths, depths, register count and image size), saves it with upstream's
`save_safetensors` (the config in the safetensors `__metadata__`, one Python-repr string per
top-level key), reloads it through upstream's `load_model_from_safetensors`, and records every
stage in eval mode on CPU in float32:

    Tests/Fixtures/flextok/<case>/model.safetensors     the checkpoint (config in __metadata__)
    Tests/Fixtures/flextok/<case>/expected.safetensors  inputs, intermediates and outputs
    Tests/Fixtures/flextok/vae_c16/                    the standalone VAE (diffusers layout)
    Tests/Fixtures/flextok/d12_d12_shapes.json          key → shape of a full-size d12_d12 model
    Tests/Fixtures/flextok/manifest.json                cases, decode settings, provenance

Attention runs through upstream's SDPA fallback (`use_flex_attention=False`, materialized packer
masks), which the fact sheet shows is the same function as FlexAttention.

Usage: ~/venvs/ref/bin/python Tests/Reference/make_flextok_fixtures.py
Needs: torch, diffusers, hydra-core, einops, mup, safetensors, numpy, pillow.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "Tests" / "Fixtures" / "flextok"
ASSET_IMAGES = ROOT / "Assets" / "images"

P = "flextok.model."


def partial(target: str, **kw) -> dict:
    return {"_target_": target, "_partial_": True, **kw}


def flextok_config(
    *, enc_dim: int, dec_dim: int, depth_enc: int, depth_dec: int, registers: int, grid: int,
    vae_path: str | None, scaling_factor: float, sample_posterior: bool, null_cond: str,
    single_null_token: bool, patch_posemb: str, head_adaln: bool, max_timestep: float,
    latent_channels: int = 16,
) -> dict:
    """The hydra tree of a FlexTok checkpoint: the module names, keys and `_target_`s of the released
    configs (see ../shared/reference/flextok.md §3, §6, §8), sizes as given."""
    c = latent_channels
    vae = {
        "_target_": "flextok.vae_wrapper.StableDiffusionVAE",
        "images_read_key": "rgb", "vae_latents_read_key": "vae_latents_reconst",
        "vae_latents_write_key": "vae_latents", "images_reconst_write_key": "rgb_reconst",
        "vae_kl_loss_write_key": "kl_loss", "latent_channels": c, "scaling_factor": scaling_factor,
        "dtype_override": "fp32", "hf_hub_path": vae_path, "sample_posterior": sample_posterior,
        "compile_encode_fn": False, "force_vae_encode": True, "frozen": True,
    }
    encoder = {"_target_": P + "utils.wrappers.SequentialModuleDictWrapper", "module_dict": {
        "enc_channels_to_last": {
            "_target_": P + "utils.dict_ops.PerSampleOp", "read_key": "vae_latents",
            "write_key": "vae_latents_bhwc",
            "per_sample_op": partial(P + "utils.dict_ops.channels_first_to_last")},
        "enc_patch_emb": {
            "_target_": P + "preprocessors.patching.PatchEmbedder",
            "input_tensor_list_read_key": "vae_latents_bhwc", "patches_list_write_key": "enc_vae_latents_patched",
            "n_patches_write_key": "enc_n_patches", "channels_in": c, "dim": enc_dim, "patch_sizes": [2, 2],
            "flatten_patches": False},
        "enc_posemb_module": {
            "_target_": P + "utils.posembs.PositionalEmbeddingAdder", "read_key": "enc_vae_latents_patched",
            "write_key": "enc_vae_latents_patched", "dim": enc_dim, "max_sizes": [grid, grid],
            "posemb_type": "sincos", "posemb_scaling": "absolute"},
        "enc_register_module": {
            "_target_": P + "preprocessors.registers.Registers1D",
            "input_tensor_list_read_key": "enc_vae_latents_patched", "register_sizes_read_write_key": "register_sizes",
            "registers_write_key": "enc_registers", "dim": enc_dim, "n_min": registers, "n_max": registers,
            "size_sampling_mode": "uniform", "ordering_mode": "nested"},
        "enc_seq_packer": {
            "_target_": P + "preprocessors.flex_seq_packing.BlockWiseSequencePacker",
            "input_list_read_keys": ["enc_vae_latents_patched", "enc_registers"],
            "packed_seq_write_key": "enc_packed_seq", "block_mask_write_key": "enc_block_mask",
            "inner_packed_shapes_write_key": "enc_ps_inner", "outer_packed_shapes_write_key": "enc_ps_outer",
            "mask_mode": "causal_last", "pad_to_multiple": 128},
        "enc_transformer": {
            "_target_": P + "trunks.transformers.FlexTransformer", "input_seq_read_key": "enc_packed_seq",
            "output_seq_write_key": "enc_packed_seq", "dim": enc_dim, "depth": depth_enc,
            "block_mask_read_key": "enc_block_mask", "use_act_checkpoint": True},
        "enc_unpacker": {
            "_target_": P + "postprocessors.seq_unpacking.SequenceUnpacker", "packed_seq_read_key": "enc_packed_seq",
            "inner_seq_write_keys": ["enc_vae_latents_patched", "enc_registers"],
            "inner_packed_shapes_read_key": "enc_ps_inner", "outer_packed_shapes_read_key": "enc_ps_outer"},
        "enc_to_latents": {
            "_target_": P + "postprocessors.heads.LinearHead", "read_key": "enc_registers",
            "write_key": "enc_registers", "dim": enc_dim, "dim_out": 6, "use_mup_readout": False,
            "weight_init_style": "zero", "dtype_override": None},
    }}
    if null_cond == "zero":
        latent_dropout = {"_target_": P + "preprocessors.nullcond.ZeroNullCond", "read_write_key": "dec_quants",
                          "dropout_prob": 0.2}
    else:
        latent_dropout = {"_target_": P + "preprocessors.nullcond.LearnedNullCond", "read_write_key": "dec_quants",
                          "dim": dec_dim, "dropout_prob": 0.2, "replace_with_single_token": single_null_token}
    patch_posemb_sizes = [grid, grid]
    decoder = {"_target_": P + "utils.wrappers.SequentialModuleDictWrapper", "module_dict": {
        "dec_from_latents": {
            "_target_": P + "preprocessors.linear.LinearLayer", "read_key": "quants", "write_key": "dec_quants",
            "dim_in": 6, "dim": dec_dim},
        "dec_registers_posemb_module": {
            "_target_": P + "utils.posembs.PositionalEmbeddingAdder", "read_key": "dec_quants",
            "write_key": "dec_quants", "dim": dec_dim, "max_sizes": [registers], "posemb_type": "learnable_sum",
            "posemb_scaling": "absolute"},
        "dec_nested_dropout": {
            "_target_": P + "preprocessors.token_dropout.MaskedNestedDropout", "read_write_key": "dec_quants",
            "dim": dec_dim, "eval_keep_k_read_key": "eval_keep_k", "train_keep_k_write_key": "train_keep_k",
            "size_sampling_mode": "uniform"},
        "dec_latent_dropout": latent_dropout,
        "dec_noise_channels_to_last": {
            "_target_": P + "utils.dict_ops.PerSampleOp", "read_key": "vae_latents_noised",
            "write_key": "vae_latents_noised_bhwc",
            "per_sample_op": partial(P + "utils.dict_ops.channels_first_to_last")},
        "dec_noise_patch_emb": {
            "_target_": P + "preprocessors.patching.PatchEmbedder",
            "input_tensor_list_read_key": "vae_latents_noised_bhwc", "patches_list_write_key": "dec_patches",
            "n_patches_write_key": "dec_n_patches", "channels_in": c, "dim": dec_dim, "patch_sizes": [2, 2],
            "flatten_patches": False},
        "dec_patches_posemb_module": {
            "_target_": P + "utils.posembs.PositionalEmbeddingAdder", "read_key": "dec_patches",
            "write_key": "dec_patches", "dim": dec_dim, "max_sizes": patch_posemb_sizes,
            "posemb_type": patch_posemb, "posemb_scaling": "absolute"},
        "dec_seq_packer": {
            "_target_": P + "preprocessors.flex_seq_packing.BlockWiseSequencePacker",
            "input_list_read_keys": ["dec_patches", "dec_quants"], "packed_seq_write_key": "dec_packed_seq",
            "block_mask_write_key": "dec_block_mask", "inner_packed_shapes_write_key": "dec_ps_inner",
            "outer_packed_shapes_write_key": "dec_ps_outer", "mask_mode": "full", "pad_to_multiple": 128,
            "emb_packing_fn_write_key": "dec_emb_packing_fn", "per_subseq_embs": True},
        "dec_time_embedder": {
            "_target_": P + "preprocessors.time_embedding.TimestepEmbedder", "timesteps_read_key": "timesteps",
            "time_embedding_write_key": "dec_temb", "dim": dec_dim, "max_timestep": max_timestep},
        "dec_transformer": {
            "_target_": P + "trunks.transformers.FlexTransformer", "input_seq_read_key": "dec_packed_seq",
            "output_seq_write_key": "dec_packed_seq", "dim": dec_dim, "depth": depth_dec,
            "block_mask_read_key": "dec_block_mask", "adaLN_emb_read_key": "dec_temb",
            "adaLN_packing_fn_read_key": "dec_emb_packing_fn", "adaLN_expansion": 2, "use_act_checkpoint": True},
        "dec_unpacker": {
            "_target_": P + "postprocessors.seq_unpacking.SequenceUnpacker", "packed_seq_read_key": "dec_packed_seq",
            "inner_seq_write_keys": ["dec_patches", "dec_quants"], "inner_packed_shapes_read_key": "dec_ps_inner",
            "outer_packed_shapes_read_key": "dec_ps_outer"},
        "dec_to_patches": {
            "_target_": P + "postprocessors.heads.ToPatchesLinearHead", "read_key": "dec_patches",
            "write_key": "vae_latents_reconst_bhwc", "dim": dec_dim, "channels_out": c, "patch_sizes": [2, 2],
            "use_mup_readout": False, "weight_init_style": "zero",
            "adaLN_emb_read_key": "dec_temb" if head_adaln else None},
        "dec_channels_to_first": {
            "_target_": P + "utils.dict_ops.PerSampleOp", "read_key": "vae_latents_reconst_bhwc",
            "write_key": "vae_latents_reconst",
            "per_sample_op": partial(P + "utils.dict_ops.channels_last_to_first")},
    }}
    return {
        "_target_": "flextok.flextok_wrapper.FlexTok",
        "vae": vae,
        "encoder": encoder,
        "decoder": decoder,
        "regularizer": {
            "_target_": "flextok.regularizers.quantize_fsq.FSQ", "latents_read_key": "enc_registers",
            "quants_write_key": "quants", "tokens_write_key": "tokens", "levels": [8, 8, 8, 5, 5, 5],
            "drop_quant_p": 0.0, "packed_call": False},
        "flow_matching_noise_module": {
            "_target_": "flextok.flow_matching.noise_modules.MinRFNoiseModule",
            "clean_images_read_key": "vae_latents", "noised_images_write_key": "vae_latents_noised",
            "timesteps_write_key": "timesteps", "sigmas_write_key": "sigmas", "ln": True},
        "pipeline": {
            "_target_": "flextok.flow_matching.pipelines.MinRFPipeline", "_partial_": True,
            "target_sizes_read_key": None, "latents_read_key": "quants", "timesteps_read_key": "timesteps",
            "noised_images_read_key": "vae_latents_noised", "reconst_write_key": "vae_latents_reconst",
            "out_channels": c},
    }


# The published VAE (diffusers AutoencoderKL, VAE_BASE_CFG of flextok/vae_wrapper.py) at reduced widths.
def vae_config(latent_channels: int, scaling_factor: float) -> dict:
    return {
        "_class_name": "AutoencoderKL", "_diffusers_version": "0.18.0.dev0", "act_fn": "silu",
        "block_out_channels": [32, 32, 64, 64], "down_block_types": ["DownEncoderBlock2D"] * 4,
        "in_channels": 3, "latent_channels": latent_channels, "layers_per_block": 1, "norm_num_groups": 32,
        "out_channels": 3, "sample_size": 1024, "scaling_factor": scaling_factor,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    }


CASES = {
    # The d12_d12 reading of the fact sheet: zero null condition, sin-cos patch posemb, plain head.
    "zero_null": dict(
        enc_dim=128, dec_dim=128, depth_enc=2, depth_dec=2, registers=32, grid=4, scaling_factor=0.8,
        sample_posterior=False, null_cond="zero", single_null_token=False, patch_posemb="sincos",
        head_adaln=False, max_timestep=1.0),
    # Every alternative the loader must handle: learned single-token null condition, learnable patch
    # posemb, adaLN head, max_timestep 1000, encoder and decoder of different widths.
    "learned_null": dict(
        enc_dim=64, dec_dim=128, depth_enc=2, depth_dec=2, registers=32, grid=4, scaling_factor=1.25,
        sample_posterior=True, null_cond="learned", single_null_token=True, patch_posemb="learnable_sum",
        head_adaln=True, max_timestep=1000.0),
}

# (keep_k per image, steps, guidance, APG): decodes recorded for every case, with injected noise.
DECODES = [
    ([5, 32], 4, 7.5, True),
    ([1, 16], 3, 3.0, False),
    ([32, 32], 2, 1.0, False),
    ([32, 8], 2, 7.5, True),
]


def import_flextok(repo: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="flextok-"))
    # The tree of flextok/ only: mirrors may lack blobs elsewhere (the notebooks).
    subprocess.run(f"git --git-dir={repo} archive --prefix=flextok/ HEAD:flextok | tar -x -C {tmp}", shell=True,
                   check=True)
    sys.path.insert(0, str(tmp))


def perturb(model: torch.nn.Module, seed: int) -> None:
    """Random weights everywhere (upstream zero-inits the heads and adaLN), fixed tables untouched."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("posembs") and not p.requires_grad:
                continue  # sin-cos table
            fan_in = p.shape[1] if p.ndim > 1 else p.shape[0]
            if p.ndim == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
            scale = 1.0 / np.sqrt(max(1, fan_in))
            if "norm" in name and name.endswith("weight") and p.ndim == 1:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif "adaLN_modulation" in name:
                p.copy_(0.3 * scale * torch.randn(p.shape, generator=g))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=g) * (1.0 if p.ndim > 1 else 0.3))


def to_half_exact(model: torch.nn.Module) -> set[str]:
    """Rounds the learned parameters to float16 values (they are stored in float16 to keep the fixtures
    small; every reference output is computed from the rounded values). Returns their state-dict names."""
    names = set()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("posembs") and not p.requires_grad:
                continue  # fixed sin-cos tables stay float32
            p.copy_(p.half().float())
            names.add(name)
    return names


def sdpa_fallback(model: torch.nn.Module) -> None:
    from flextok.model.layers.attention import FlexAttention
    from flextok.model.preprocessors.flex_seq_packing import BlockWiseSequencePacker
    for m in model.modules():
        if isinstance(m, FlexAttention):
            m.use_flex_attention = False
        if isinstance(m, BlockWiseSequencePacker):
            m.return_materialized_mask = True


def load_images(size: int) -> torch.Tensor:
    """Upstream's demo preprocessing (torchvision Resize(size) on PIL + CenterCrop + [-1, 1])."""
    import torchvision.transforms as T
    names = sorted(p.name for p in ASSET_IMAGES.iterdir() if p.suffix in (".png", ".jpg"))[:2]
    tf = T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor(), T.Normalize(0.5, 0.5)])
    return torch.stack([tf(Image.open(ASSET_IMAGES / n).convert("RGB")) for n in names]), names


def run_case(name: str, spec: dict, vae_dir: Path, images: torch.Tensor, seed: int) -> dict:
    from diffusers.models import AutoencoderKL
    from flextok.utils.checkpoint import load_safetensors, save_safetensors
    from hydra.utils import instantiate
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    config = flextok_config(vae_path=str(vae_dir), **spec)
    model = instantiate(copy.deepcopy(config)).eval()
    perturb(model, seed)
    case_dir = OUT / name
    case_dir.mkdir(parents=True, exist_ok=True)
    # The VAE weights are those of the standalone VAE, as in the released checkpoints.
    model.vae.vae.load_state_dict(AutoencoderKL.from_pretrained(vae_dir, torch_dtype=torch.float32).state_dict())
    halves = to_half_exact(model)
    state = {k: (v.detach().half() if k in halves else v.detach()).clone() for k, v in model.state_dict().items()}
    stored_config = copy.deepcopy(config)
    stored_config["vae"]["hf_hub_path"] = "EPFL-VILAB/flextok_vae_c16"  # what a released config would say
    save_safetensors(state, str(case_dir / "model.safetensors"), metadata_dict=stored_config)
    sdpa_fallback(model)

    # Upstream's own loader must accept the file (strict load) — with the local VAE path.
    reload_config = copy.deepcopy(stored_config)
    reload_config["vae"]["hf_hub_path"] = str(vae_dir)
    reloaded = instantiate(reload_config)
    tensors, metadata = load_safetensors(str(case_dir / "model.safetensors"))
    reloaded.load_state_dict(tensors)
    assert set(metadata) == set(stored_config), metadata.keys()

    out: dict[str, torch.Tensor] = {"images": images.clone()}
    with torch.no_grad():
        # Stage: VAE posterior mode (the port's default), scaled.
        dist = model.vae.vae.encode(images).latent_dist
        out["vae_mean"] = dist.mode() * model.vae.scaling_factor
        out["vae_logvar"] = dist.logvar
        model.vae.sample_posterior = False
        data = model.encode({"rgb": list(images.split(1))})
        assert torch.equal(torch.cat(data["vae_latents"]), out["vae_mean"])
        out["enc_registers"] = torch.cat(data["enc_registers"])  # before FSQ
        out["ids"] = torch.cat(data["tokens"]).to(torch.int64)
        ids_list = list(out["ids"].split(1))
        tokenized = model.tokenize(images)
        assert all(torch.equal(a, b) for a, b in zip(tokenized, ids_list))

        g = torch.Generator().manual_seed(seed + 1)
        lat = images.shape[-1] // 8
        c = spec.get("latent_channels", 16)
        # Stage: one decoder forward (conditional and unconditional) at t = 0.7.
        noise = torch.randn((images.shape[0], c, lat, lat), generator=g)
        keep = [7, spec["registers"]]
        prepared = model._prepare_data_dict_for_detokenization([t[:, :k] for t, k in zip(ids_list, keep)])
        prepared["timesteps"] = torch.full((images.shape[0],), 0.7)
        prepared["vae_latents_noised"] = list(noise.split(1))
        cond = model.decoder(copy.deepcopy(prepared))
        uncond_in = copy.deepcopy(prepared)
        uncond_in["eval_dropout_mask"] = [True] * images.shape[0]
        uncond = model.decoder(uncond_in)
        out["forward_noise"] = noise
        out["forward_keep"] = torch.tensor(keep)
        out["forward_cond"] = torch.cat(cond["vae_latents_reconst"])
        out["forward_uncond"] = torch.cat(uncond["vae_latents_reconst"])
        out["forward_temb"] = cond["dec_temb"]

        # Full decodes with injected noise, through upstream's detokenize path.
        model.pipeline.noise_read_key = "noise"
        for i, (keeps, steps, guidance, apg) in enumerate(DECODES):
            noise = torch.randn((images.shape[0], c, lat, lat), generator=g)
            prepared = model._prepare_data_dict_for_detokenization(
                [t[:, :k] for t, k in zip(ids_list, keeps)])
            prepared["noise"] = list(noise.split(1))
            decoded = model.decode(prepared, timesteps=steps, vae_image_sizes=lat, verbose=False,
                                   guidance_scale=guidance, perform_norm_guidance=apg)
            out[f"decode{i}_noise"] = noise
            out[f"decode{i}_latents"] = torch.cat(decoded["vae_latents_reconst"])
            out[f"decode{i}_images"] = torch.cat(decoded["rgb_reconst"])
        # Stage: VAE decode of the encoder's latents.
        out["vae_decoded"] = model.vae.vae.decode(out["vae_mean"] / model.vae.scaling_factor).sample
    save_file({k: v.contiguous().float() if v.dtype != torch.int64 else v.contiguous() for k, v in out.items()},
              str(case_dir / "expected.safetensors"))
    return {"config": spec, "keys": len(state)}


def full_size_shapes() -> dict:
    """Key → shape of a d12_d12-sized model (D=768, depth 12, 256 registers, 256² images, the base
    VAE) and its config as `save_safetensors` writes it into the metadata."""
    from hydra.utils import instantiate
    config = flextok_config(
        enc_dim=768, dec_dim=768, depth_enc=12, depth_dec=12, registers=256, grid=16, vae_path=None,
        scaling_factor=1.0, sample_posterior=False, null_cond="zero", single_null_token=False,
        patch_posemb="sincos", head_adaln=False, max_timestep=1.0)
    model = instantiate(copy.deepcopy(config))
    return {"metadata": {k: str(v) for k, v in config.items()},
            "shapes": {k: list(v.shape) for k, v in model.state_dict().items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flextok-repo", type=Path, default=Path("/work/.mirror/apple+ml-flextok/repo"))
    args = ap.parse_args()
    import_flextok(args.flextok_repo)
    torch.set_num_threads(2)
    from diffusers.models import AutoencoderKL

    OUT.mkdir(parents=True, exist_ok=True)
    images, names = load_images(64)
    vae_dir = OUT / "vae_c16"
    torch.manual_seed(0)
    vae = AutoencoderKL.from_config(vae_config(16, 0.8)).eval()
    perturb(vae, 0)
    to_half_exact(vae)
    vae.half().save_pretrained(vae_dir, safe_serialization=True)
    vae = vae.float()
    # Tessera extension: the input side of this reduced test VAE (the released ones take 256²).
    config_path = vae_dir / "config.json"
    vae_json = json.loads(config_path.read_text())
    vae_json["tessera_image_size"] = 64
    config_path.write_text(json.dumps(vae_json, indent=2, sort_keys=True) + "\n")
    with torch.no_grad():
        dist = vae.encode(images).latent_dist
        from safetensors.torch import save_file
        save_file({"images": images.contiguous(), "mean": dist.mean.contiguous(),
                   "logvar": dist.logvar.contiguous(),
                   "decoded": vae.decode(dist.mean).sample.contiguous()}, str(vae_dir / "expected.safetensors"))

    cases = {}
    for i, (name, spec) in enumerate(CASES.items()):
        cases[name] = run_case(name, spec, vae_dir, images, seed=10 + i)
        print(f"{name}: {cases[name]['keys']} keys")
    shapes = full_size_shapes()
    (OUT / "d12_d12_shapes.json").write_text(json.dumps(shapes, indent=0, sort_keys=True) + "\n")
    print(f"d12_d12: {len(shapes['shapes'])} keys, {sum(np.prod(s) for s in shapes['shapes'].values()) / 1e6:.1f} M")
    head = subprocess.run(["git", "--git-dir", str(args.flextok_repo), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    import diffusers
    manifest = {
        "generator": "Tests/Reference/make_flextok_fixtures.py",
        "official": {"repo": "apple/ml-flextok", "commit": head},
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                     "python": platform.python_version()},
        "images": names, "image_size": 64,
        "cases": cases,
        "decodes": [{"keep": k, "steps": s, "guidance": g, "apg": a} for k, s, g, a in DECODES],
        "forward": {"t": 0.7, "keep": [7, 32]},
        "tolerances": {"latents": 1e-4, "images": 1e-3},
        "sha256": {str(p.relative_to(OUT)): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in sorted(OUT.rglob("*.safetensors"))},
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
