#!/usr/bin/env python3
"""Generate the conv-VQGAN tokenizer fixtures (Chameleon, Janus-Pro / LlamaGen VQ-16) for the Swift tests.

References run here, on CPU in float32, with random weights at reduced widths (key names and
architecture as published):

* **Chameleon, transformers layout** (`facebook/chameleon-7b` converted): a tiny
  `ChameleonForConditionalGeneration` (VQ encoder at base 32 with multipliers [1, 1, 1, 1, 2]: the published 5 levels and 2 blocks; a
  one-layer text model) saved by `save_pretrained` in float16 as a sharded checkpoint
  (`model.safetensors.index.json`), its `config.json` carrying `vq_config` and a `vocabulary_map`
  laid out like the real one (`<s>`, `<pad>`, `</s>`, `<unk>`, the `IMGIMG…Z` names of the codes at
  4…, then `<eoss>`, `<racm3:break>`, `<reserved08706>`, `<image>`). Codes come from
  `ChameleonVQVAE.encode`, LM ids from `ChameleonModel.get_image_tokens` (transformers' own
  IMGIMG → BPE mapping), pixels from facebookresearch/chameleon's `ImageTokenizer` preprocessing
  (`_whiten_transparency`, `_vqgan_input_from`) and from transformers' `ChameleonImageProcessorPil`.
* **Chameleon, original layout** (`tokenizer/vqgan.ckpt` + `vqgan.yaml`): facebookresearch/chameleon's
  `VQModel` (which has the decoder) at a reduced size on 64² crops of the inputs, saved as `{"state_dict": …}`; its codes and
  its decode of them, and `_pil_from_chw_tensor`'s 8-bit image.
* **Janus-Pro VQ-16**: deepseek-ai/Janus' `vq_model.py` encoder, decoder and L2-normalised
  quantizer at base 32 (multipliers [1, 1, 1, 1, 2], one block per level), its state dict renamed to transformers' names (the converter's mappings)
  and loaded strictly into `JanusVQVAE`, saved by `save_pretrained` in float16. Codes from both
  quantizer rules (the original normalises, transformers' `encode` does not), decodes from both.
* **Emu3**: transformers' `Emu3VQVAE` (base 32, multipliers [1, 2, 1], 2 blocks, attention at stage 2,
  temporal factor 4, 256 × 4 codebook; BatchNorm3d running statistics randomised) saved in float16:
  codes of two 24×40 images (repeated in time, as upstream) and of 8- and 5-frame 32² clips.

Official code comes from git mirrors (--chameleon-repo, --janus-repo; defaults under /work/.mirror),
extracted to a temporary directory and imported; nothing of it is committed.

    Tests/Fixtures/vqgan/chameleon/           config.json, sharded float16 safetensors, expected.safetensors
                                              (its `pixels`, two 128² images, are the input of every case)
    Tests/Fixtures/vqgan/chameleon_original/  vqgan.ckpt, vqgan.yaml, expected.safetensors
    Tests/Fixtures/vqgan/janus/               config.json, model.safetensors (float16), expected.safetensors
    Tests/Fixtures/vqgan/emu3/                config.json, model.safetensors (float16), expected.safetensors
    Tests/Fixtures/vqgan/*_shapes.json        key → shape of the full published VQ models
    Tests/Fixtures/vqgan/manifest.json        provenance

Usage: ~/venvs/ref/bin/python Tests/Reference/make_vqgan_fixtures.py
Needs: torch, transformers (5.x), safetensors, numpy, pillow, pyyaml.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "Tests" / "Fixtures" / "vqgan"
SIZE = 128  # image side of the reduced models (codes: 8 × 8)


def extract(repo: str, subdir: str, into: Path) -> str:
    """`git archive` one folder of a mirror into `into`; returns the commit."""
    subprocess.run(f"git --git-dir={repo} archive --prefix={subdir}/ HEAD:{subdir} | tar -x -C {into}",
                   shell=True, check=True)
    return subprocess.run(["git", f"--git-dir={repo}", "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def randomize(module: torch.nn.Module, seed: int) -> None:
    """Every parameter uniform in ±1/√fan_in (GroupNorm weights around 1), so activations stay O(1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1 and ("norm" in name) and name.endswith("weight"):
                p.copy_(1 + 0.2 * (torch.rand(p.shape, generator=g) * 2 - 1))
            elif p.dim() == 1:
                p.copy_(0.1 * (torch.rand(p.shape, generator=g) * 2 - 1))
            else:
                fan_in = p[0].numel()
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / fan_in ** 0.5)


def half_exact(module: torch.nn.Module) -> None:
    """Rounds every parameter to float16 (the fixtures are stored in float16; references use the same values)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.half().float())


def test_images() -> tuple[list[Image.Image], np.ndarray]:
    """Two smooth random images for the numeric cases, as [B, 3, S, S] in [−1, 1], and the RGBA
    non-square image of the preprocessing case."""
    rng = np.random.default_rng(7)
    pics = []
    for _ in range(2):
        coarse = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        pics.append(Image.fromarray(coarse).resize((SIZE, SIZE), Image.BICUBIC))
    pixels = np.stack([np.asarray(p, dtype=np.float64) / 255.0 * 2 - 1 for p in pics]).transpose(0, 3, 1, 2)
    return pics, pixels.astype(np.float32)


def rgba_image() -> Image.Image:
    """A 151×97 RGBA image with a transparent band: exercises whitening, rounding of the resize and the crop."""
    rng = np.random.default_rng(11)
    coarse = rng.integers(0, 256, size=(6, 9, 4), dtype=np.uint8)
    img = Image.fromarray(coarse, "RGBA").resize((151, 97), Image.BICUBIC)
    a = np.asarray(img).copy()
    a[:, 40:70, 3] = rng.integers(0, 255, size=(97, 30), dtype=np.uint8)
    a[:, :10, 3] = 255
    return Image.fromarray(a, "RGBA")


def vocabulary_map(codes: int) -> dict[str, int]:
    """Chameleon's vocabulary layout in miniature: specials, the IMGIMG names of the codes at 4…,
    then `<eoss>` and `<racm3:break>` right after them (8196 / 8197 in the real one)."""
    def name(i: int) -> str:
        return "IMGIMG" + "".join(chr(ord("A") + int(c)) for c in str(i)) + "Z"

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(codes):
        vocab[name(i)] = 4 + i
    nxt = 4 + codes
    for special in ["<eoss>", "<racm3:break>", "<reserved08706>", "<image>"]:
        vocab[special] = nxt
        nxt += 1
    for word in ["a", "photo", "of", "cat"]:
        vocab[word] = nxt
        nxt += 1
    return vocab


def save_expected(path: Path, tensors: dict[str, np.ndarray]) -> None:
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}, str(path))


def shapes_json(model: torch.nn.Module, prefix: str) -> dict[str, list[int]]:
    return {prefix + k: list(v.shape) for k, v in model.state_dict().items()}


# MARK: - Chameleon


def chameleon_hf(pics, pixels, fb, rgba) -> dict:
    from transformers import ChameleonConfig, ChameleonForConditionalGeneration
    from transformers.models.chameleon.image_processing_pil_chameleon import ChameleonImageProcessorPil

    codes = 512
    vq = dict(embed_dim=32, num_embeddings=codes, latent_channels=32, base_channels=32,
              channel_multiplier=[1, 1, 1, 1, 2], num_res_blocks=2, attn_resolutions=[SIZE // 16],
              resolution=SIZE)
    vocab = vocabulary_map(codes)
    config = ChameleonConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                             num_attention_heads=2, num_key_value_heads=2, vq_config=vq, vocabulary_map=vocab,
                             pad_token_id=1, bos_token_id=0, eos_token_id=2)
    model = ChameleonForConditionalGeneration(config).eval()
    randomize(model.model.vqmodel, 1)
    half_exact(model)
    out = OUT / "chameleon"
    shutil.rmtree(out, ignore_errors=True)
    model.half().save_pretrained(out, max_shard_size="400KB")
    (out / "generation_config.json").unlink(missing_ok=True)
    model = ChameleonForConditionalGeneration.from_pretrained(out, dtype=torch.float32).eval()
    x = torch.from_numpy(pixels)
    with torch.no_grad():
        enc = model.model.vqmodel.encode(x, return_dict=True)
        bpe = model.model.get_image_tokens(x)
    # Preprocessing of the RGBA image: the original (facebookresearch/chameleon) and transformers' PIL processor.
    tokenizer = fb.ImageTokenizer.__new__(fb.ImageTokenizer)
    whitened = tokenizer._whiten_transparency(rgba)
    original = tokenizer._vqgan_input_from(whitened, target_image_size=SIZE)[0].numpy()
    processor = ChameleonImageProcessorPil(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE})
    hf_pixels = processor(rgba, return_tensors="pt")["pixel_values"][0].numpy()
    with torch.no_grad():
        rgba_codes = model.model.vqmodel.encode(torch.from_numpy(original)[None]).image_tokens.numpy()
    b = pixels.shape[0]
    save_expected(out / "expected.safetensors", {
        "pixels": pixels,
        "encoder_out": enc.last_hidden_state.numpy(),
        "codes": enc.image_tokens.view(b, -1).numpy().astype(np.int64),
        "lm_ids": bpe.numpy().astype(np.int64),
        "rgba_original_pixels": original.astype(np.float32),
        "rgba_hf_pixels": hf_pixels.astype(np.float32),
        "rgba_original_codes": rgba_codes.astype(np.int64),
        "rgba_whitened": np.asarray(whitened, dtype=np.uint8),
    })
    rgba.save(out / "rgba.png")
    from transformers import ChameleonVQVAE, ChameleonVQVAEConfig
    published = ChameleonVQVAE(ChameleonVQVAEConfig(attn_resolutions=[]))
    (OUT / "chameleon_7b_vq_shapes.json").write_text(json.dumps(shapes_json(published, "model.vqmodel."), indent=0))
    return {"vq_config": vq, "codes": codes, "boi": vocab["<racm3:break>"], "eoi": vocab["<eoss>"]}


def chameleon_original(pixels, fb) -> dict:
    dd = dict(double_z=False, z_channels=32, resolution=SIZE // 2, in_channels=3, out_ch=3, ch=32, ch_mult=[1, 2],
              num_res_blocks=1, attn_resolutions=[SIZE // 4], dropout=0.0)
    params = dict(embed_dim=16, n_embed=256, ddconfig=dd)
    model = fb.VQModel(**params).eval()
    randomize(model, 2)
    half_exact(model)
    out = OUT / "chameleon_original"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    torch.save({"state_dict": {k: v.half() for k, v in model.state_dict().items()}}, out / "vqgan.ckpt")
    (out / "vqgan.yaml").write_text(yaml.safe_dump({"model": {
        "target": "chameleon.vqgan.VQModel",  # as in the released file; never imported
        "params": {**params, "lossconfig": {"target": "torch.nn.Identity"}}}}, sort_keys=False))
    x = torch.from_numpy(np.ascontiguousarray(pixels[:, :, :SIZE // 2, :SIZE // 2]))  # the top-left quarter
    with torch.no_grad():
        _, _, (_, _, ids) = model.encode(x)
        b, grid = x.shape[0], SIZE // 4
        ids = ids.view(b, -1)
        entries = model.quantize.get_codebook_entry(ids.reshape(-1), (b, grid, grid, 16))
        decoded = model.decode(entries)
    tokenizer = fb.ImageTokenizer.__new__(fb.ImageTokenizer)
    images = np.stack([np.asarray(tokenizer._pil_from_chw_tensor(d), dtype=np.uint8) for d in decoded])
    save_expected(out / "expected.safetensors", {
        "codes": ids.numpy().astype(np.int64), "decoded": decoded.numpy(), "images": images})
    return {"params": params}


# MARK: - Janus


HF_RENAMES = [("encoder.conv_blocks.", "encoder.down."), ("decoder.conv_blocks.", "decoder.up."),
              (".res.", ".block."), ("mid.0.", "mid.block_1."), ("mid.1.", "mid.attn_1."), ("mid.2.", "mid.block_2.")]


def janus(pixels, ds) -> dict:
    from transformers import JanusVQVAE, JanusVQVAEConfig

    codes, embed, z, ch, mult, blocks = 512, 8, 32, 32, [1, 1, 1, 1, 2], 1
    args = ds.ModelArgs(codebook_size=codes, codebook_embed_dim=embed, encoder_ch_mult=mult, decoder_ch_mult=mult,
                        z_channels=z)
    original = ds.VQModel(args)
    original.encoder = ds.Encoder(ch=ch, ch_mult=mult, num_res_blocks=blocks, z_channels=z)
    original.decoder = ds.Decoder(ch=ch, ch_mult=mult, num_res_blocks=blocks, z_channels=z)
    original.eval()
    randomize(original, 3)
    half_exact(original)
    sd = {}
    for k, v in original.state_dict().items():
        if k == "quantize.codebook_used":
            continue
        for a, b in HF_RENAMES:
            k = k.replace(a, b)
        sd[k] = v
    config = JanusVQVAEConfig(num_embeddings=codes, embed_dim=embed, base_channels=ch, channel_multiplier=mult,
                              latent_channels=z, num_res_blocks=blocks, num_patches=SIZE // 16)
    model = JanusVQVAE(config).eval()
    model.load_state_dict(sd, strict=True)
    out = OUT / "janus"
    shutil.rmtree(out, ignore_errors=True)
    model.half().save_pretrained(out)
    model = JanusVQVAE.from_pretrained(out, dtype=torch.float32).eval()
    x = torch.from_numpy(pixels)
    b, grid = x.shape[0], SIZE // 16
    with torch.no_grad():
        _, _, (_, _, official) = original.encode(x)
        official = official.view(b, -1)
        hf = model.encode(x, return_dict=True).image_tokens.view(b, -1)
        decoded_official = original.decode_code(official.reshape(-1), (b, embed, grid, grid))
        decoded_hf = model.decode(official)
    tokenizer_agree = float((official == hf).float().mean())
    save_expected(out / "expected.safetensors", {
        "codes": official.numpy().astype(np.int64), "codes_hf": hf.numpy().astype(np.int64),
        "decoded": decoded_official.numpy()})
    published = JanusVQVAE(JanusVQVAEConfig())
    (OUT / "janus_pro_vq_shapes.json").write_text(json.dumps(shapes_json(published, "model.vqmodel."), indent=0))
    return {"codes": codes, "quantizer_rules_agree": tokenizer_agree,
            "max_decode_difference_official_vs_hf": float((decoded_official - decoded_hf).abs().max())}


# MARK: - Emu3


def emu3() -> dict:
    from transformers import Emu3VQVAE, Emu3VQVAEConfig

    config = Emu3VQVAEConfig(codebook_size=256, embed_dim=4, latent_channels=4, base_channels=32,
                             channel_multiplier=[1, 2, 1], num_res_blocks=2, attn_resolutions=[2], hidden_size=32,
                             num_attention_heads=1, temporal_downsample_factor=4)
    model = Emu3VQVAE(config).eval()
    model.config._attn_implementation = "eager"
    randomize(model, 4)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):  # non-trivial running statistics (at init 0 / 1 hide bugs)
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    half_exact(model)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.copy_(m.running_mean.half().float())
                m.running_var.copy_(m.running_var.half().float())
    out = OUT / "emu3"
    shutil.rmtree(out, ignore_errors=True)
    model.half().save_pretrained(out)
    model = Emu3VQVAE.from_pretrained(out, dtype=torch.float32).eval()
    model.config._attn_implementation = "eager"
    rng = np.random.default_rng(13)

    def smooth(frames: int, h: int, w: int) -> np.ndarray:
        coarse = rng.uniform(-1, 1, size=(frames, 3, h // 4, w // 4)).astype(np.float32)
        return torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(h, w), mode="bilinear").numpy()

    images = smooth(2, 24, 40)
    video = smooth(8, 32, 32)[None]
    short = video[:, :5]
    with torch.no_grad():
        image_codes = torch.stack(model.encode(torch.from_numpy(images), image_sizes=torch.tensor([[24, 40]] * 2),
                                               return_dict=True).image_tokens)
        video_codes = torch.stack(model.encode(torch.from_numpy(video), image_sizes=torch.tensor([[32, 32]]),
                                               return_dict=True).image_tokens)
        short_codes = torch.stack(model.encode(torch.from_numpy(short), image_sizes=torch.tensor([[32, 32]]),
                                               return_dict=True).image_tokens)
        latents = model.encode(torch.from_numpy(images), image_sizes=torch.tensor([[24, 40]] * 2),
                               return_dict=True).last_hidden_state
    save_expected(out / "expected.safetensors", {
        "images": images, "image_codes": image_codes.numpy().astype(np.int64), "image_encoder_out": latents.numpy(),
        "video": video, "video_codes": video_codes.numpy().astype(np.int64), "short_video": short,
        "short_video_codes": short_codes.numpy().astype(np.int64)})
    published = Emu3VQVAE(Emu3VQVAEConfig())
    (OUT / "emu3_vq_shapes.json").write_text(json.dumps(shapes_json(published, "vqmodel."), indent=0))
    return {"image_codes": list(image_codes.shape), "video_codes": list(video_codes.shape),
            "short_video_codes": list(short_codes.shape)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chameleon-repo", default="/work/.mirror/facebookresearch+chameleon/repo")
    ap.add_argument("--janus-repo", default="/work/.mirror/deepseek-ai+Janus/repo")
    a = ap.parse_args()
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        chameleon_commit = extract(a.chameleon_repo, "chameleon", Path(tmp))
        janus_commit = extract(a.janus_repo, "janus", Path(tmp))
        sys.path.insert(0, tmp)
        import importlib.util

        def load(name: str, path: Path):
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module

        fb_vqgan = load("chameleon.inference.vqgan", Path(tmp) / "chameleon/inference/vqgan.py")
        fb_tok = load("chameleon.inference.image_tokenizer", Path(tmp) / "chameleon/inference/image_tokenizer.py")
        ds = load("janus_vq_model", Path(tmp) / "janus/models/vq_model.py")

        class FB:
            VQModel = fb_vqgan.VQModel
            ImageTokenizer = fb_tok.ImageTokenizer

        pics, pixels = test_images()
        cham = chameleon_hf(pics, pixels, FB, rgba_image())
        orig = chameleon_original(pixels, FB)
        jan = janus(pixels, ds)
        emu = emu3()
    import transformers
    manifest = {
        "generator": "Tests/Reference/make_vqgan_fixtures.py",
        "image_size": SIZE,
        "chameleon": {**cham, "reference": "transformers ChameleonForConditionalGeneration; "
                      f"facebookresearch/chameleon@{chameleon_commit} image_tokenizer.py preprocessing"},
        "chameleon_original": {**orig, "reference": f"facebookresearch/chameleon@{chameleon_commit} vqgan.py VQModel"},
        "janus": {**jan, "reference": f"deepseek-ai/Janus@{janus_commit} janus/models/vq_model.py; transformers "
                  "JanusVQVAE"},
        "emu3": {**emu, "reference": "transformers Emu3VQVAE (eager attention)"},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "python": platform.python_version()},
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(json.dumps(manifest, indent=2))
    print(f"fixtures: {total / 1e6:.1f} MB in {OUT}")


if __name__ == "__main__":
    main()
