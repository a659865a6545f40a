#!/usr/bin/env python3
"""Train Tessera's bundled demo TiTok tokenizer (a small single-stage, non-legacy TiTok) and export it.

Model: TiTok with the pixel head (finetune_decoder false, is_legacy false), VQ with l2-normalized codes,
codebook 1024, token_size 12, 32 tokens, 128x128 images (crop_size 128), patch 8 (grid 16), encoder and decoder
width 256 / 4 heads (head dim 64), 2 encoder + 3 decoder layers by default (4 + 4 layers would be 25.7 MB in
float32 and 3 + 3 layers 20.07 MB, both above the 20 MB budget for the bundled file; 2 + 3 is 17.0 MB).

Data: scratch/demo_train.pt + scratch/demo_heldout.pt + scratch/demo_data.json from Scripts/prepare_demo_data.py
(openly licensed scikit-image sample images; the 5 demo assets are held out). Training samples are random square
crops (side = U(0.3, 1.0) x the shorter side), resized to 128 (bilinear, antialias; drawn from a pool of crops that
is continuously refreshed), random horizontal flips and
colour augmentation (channel permutation, per-channel gamma / gain / offset). Loss: L1 + L2 reconstruction + VQ codebook and
commitment (0.25) losses; unused codes are restarted from encoder outputs. AdamW, warmup + cosine over the time
budget, bf16 autocast on CUDA, seeded.

At the end it evaluates PSNR on the held-out images (TiTok eval transform at 128: shorter side -> 128, bicubic
with antialias, center crop; no normalization) and writes <out>/config.json (official nesting + Tessera extensions
+ a "tessera" block), <out>/model.safetensors (float32, exact TiTok key names) and <out>/README.md, then reloads the
export with titok_reference.py and checks that it reproduces the in-memory model.

Needs only torch + numpy + Tests/Reference/titok_reference.py (no torchvision / PIL / skimage / safetensors).

    python Scripts/train_demo_tokenizer.py --minutes 8 --device cuda          # -> Assets/models/titok-demo/
    python Scripts/train_demo_tokenizer.py --minutes 0.5 --device cpu --out scratch/titok-demo-cpu   # smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "Reference"))
import titok_reference as tr  # noqa: E402

IMAGE = 128


def make_config(args) -> dict:
    return {
        "model": {"vq_model": {
            "codebook_size": args.codebook_size, "token_size": args.token_size, "use_l2_norm": True,
            "commitment_cost": 0.25,
            "vit_enc_model_size": "small", "vit_dec_model_size": "small",
            "vit_enc_patch_size": args.patch, "vit_dec_patch_size": args.patch,
            "num_latent_tokens": args.tokens, "finetune_decoder": False, "is_legacy": False, "quantize_mode": "vq",
            "vit_enc_width": args.width, "vit_enc_num_layers": args.enc_layers, "vit_enc_num_heads": args.heads,
            "vit_dec_width": args.width, "vit_dec_num_layers": args.dec_layers, "vit_dec_num_heads": args.heads,
        }},
        "dataset": {"preprocessing": {"crop_size": IMAGE}},
    }


# ------------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------------

class CropSampler:
    """Random square crops of the training images, resized to IMAGE x IMAGE, on the training device.

    A pool of `pool` crops (uint8) is made at start; every batch draws from the pool (with fresh flips and colour
    augmentation) and replaces `refresh` pool entries with new crops, so the per-step crop loop stays short."""

    def __init__(self, images, device, seed, pool: int, refresh: int):
        self.imgs = [im.permute(2, 0, 1).contiguous().to(device) for im in images]  # uint8 CHW
        areas = np.array([im.shape[1] * im.shape[2] for im in self.imgs], dtype=np.float64)
        w = np.sqrt(areas)
        self.p = w / w.sum()
        self.rng = np.random.default_rng(seed)
        self.device = device
        self.refresh = refresh
        self.pool = torch.cat([self.crops(min(512, pool - i)) for i in range(0, pool, 512)])

    def crops(self, n: int) -> torch.Tensor:
        rng = self.rng
        idx = rng.choice(len(self.imgs), size=n, p=self.p)
        out = []
        for i in idx:
            im = self.imgs[i]
            h, w = im.shape[1], im.shape[2]
            side = max(8, int(round(rng.uniform(0.3, 1.0) * min(h, w))))
            top = int(rng.integers(0, h - side + 1))
            left = int(rng.integers(0, w - side + 1))
            crop = im[:, top:top + side, left:left + side].float().unsqueeze(0)
            crop = F.interpolate(crop, size=(IMAGE, IMAGE), mode="bilinear", align_corners=False,
                                 antialias=side > IMAGE)
            out.append(crop.round_().clamp_(0, 255).to(torch.uint8))
        return torch.cat(out)

    def batch(self, n: int) -> torch.Tensor:
        rng = self.rng
        sel = torch.from_numpy(rng.integers(0, self.pool.shape[0], n)).to(self.device)
        x = self.pool[sel].float() / 255.0
        if self.refresh:
            slots = torch.from_numpy(rng.integers(0, self.pool.shape[0], self.refresh)).to(self.device)
            self.pool[slots] = self.crops(self.refresh)
        flip = torch.from_numpy(rng.random(n) < 0.5).to(self.device)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        # colour: random channel permutation (p 0.5), then per-channel gamma / gain / offset (p 0.8). Different
        # gammas per channel make hue vary with brightness, which gives the (mostly grey) training set chroma.
        perms = torch.from_numpy(np.stack([rng.permutation(3) if rng.random() < 0.5 else np.arange(3)
                                           for _ in range(n)])).to(self.device)
        x = torch.gather(x, 1, perms[:, :, None, None].expand(-1, -1, IMAGE, IMAGE))
        on = rng.random((n, 1)) < 0.8
        gamma = np.where(on, np.exp(rng.uniform(-0.5, 0.5, (n, 3))), 1.0)
        gain = np.where(on, rng.uniform(0.8, 1.2, (n, 3)), 1.0)
        offset = np.where(on, rng.uniform(-0.1, 0.1, (n, 3)), 0.0)

        def col(a):
            return torch.from_numpy(a).float().to(self.device)[:, :, None, None]
        return (x.clamp_min(1e-6) ** col(gamma) * col(gain) + col(offset)).clamp_(0, 1)


def eval_transform(img_hwc_u8: torch.Tensor, size: int = IMAGE) -> torch.Tensor:
    """TiTok eval transform without PIL: shorter side -> size (long side int(size*long/short), truncated, as
    torchvision does), bicubic with antialias (torch's antialiased bicubic is Pillow's a=-0.5 filter), rounded to
    8 bits like Pillow's output, center crop (torchvision rounding), /255. Pillow itself rounds after each pass,
    so a PIL-based pipeline can differ by 1/255 on some pixels."""
    h, w = img_hwc_u8.shape[:2]
    if h <= w:
        nh, nw = size, int(size * w / h)
    else:
        nh, nw = int(size * h / w), size
    x = img_hwc_u8.permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
    x = x.round().clamp(0, 255)
    top = int(round((nh - size) / 2.0))
    left = int(round((nw - size) / 2.0))
    return x[..., top:top + size, left:left + size] / 255.0


# ------------------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------------------

def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.ndim >= 2 and "embedding" not in name and name != "latent_tokens" and "mask_token" not in name:
            decay.append(p)
        else:
            no_decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def evaluate(model, heldout, device) -> list[float]:
    model.eval()
    x = torch.cat([eval_transform(im) for im in heldout]).to(device)
    rec = model.decode_tokens(model.encode(x)[1]["ids"])
    model.train()
    return [float(v) for v in tr.psnr(rec.clamp(0, 1), x)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=8.0, help="training time budget (excludes setup/eval/export)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=ROOT / "scratch" / "demo_train.pt")
    ap.add_argument("--heldout", type=Path, default=ROOT / "scratch" / "demo_heldout.pt")
    ap.add_argument("--data-info", type=Path, default=ROOT / "scratch" / "demo_data.json")
    ap.add_argument("--out", type=Path, default=ROOT / "Assets" / "models" / "titok-demo")
    ap.add_argument("--batch-size", type=int, default=None, help="default 256 on CUDA, 8 on CPU")
    ap.add_argument("--pool", type=int, default=None, help="crop pool size (default 16384 on CUDA, 256 on CPU)")
    ap.add_argument("--refresh", type=int, default=None, help="pool crops replaced per step (default batch/8)")
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--warmup-steps", type=int, default=300)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--enc-layers", type=int, default=2)
    ap.add_argument("--dec-layers", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--token-size", type=int, default=12)
    ap.add_argument("--codebook-size", type=int, default=1024)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--quantizer-weight", type=float, default=1.0)
    ap.add_argument("--restart-every", type=int, default=200, help="dead-code restart period in steps (0: off)")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--no-bf16", action="store_true", help="disable bf16 autocast on CUDA")
    ap.add_argument("--compile", action="store_true", help="torch.compile the encoder/decoder (CUDA)")
    ap.add_argument("--samples-npy", type=Path, default=None,
                    help="also save the held-out inputs and reconstructions (uint8, N x 2 x 128 x 128 x 3) here")
    ap.add_argument("--max-mb", type=float, default=20.0,
                    help="refuse to train a model whose float32 weights exceed this many MB (10^6 bytes)")
    args = ap.parse_args()

    device = torch.device(args.device)
    bs = args.batch_size or (256 if device.type == "cuda" else 8)
    pool = args.pool or (16384 if device.type == "cuda" else 256)
    refresh = args.refresh if args.refresh is not None else max(1, bs // 8)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    tr.ATTENTION_IMPL = "sdpa"
    use_bf16 = device.type == "cuda" and not args.no_bf16

    train_imgs = torch.load(args.data)
    heldout = torch.load(args.heldout)
    info = json.loads(args.data_info.read_text()) if args.data_info.exists() else {}
    print(f"{len(train_imgs)} training images, {len(heldout)} held out; device {device}, batch {bs}, "
          f"bf16 {use_bf16}, budget {args.minutes} min")

    config = make_config(args)
    model = tr.TiTok(config).to(device).train()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M params ({n_params * 4 / 1e6:.2f} MB float32)")
    if n_params * 4 / 1e6 > args.max_mb:
        raise SystemExit(f"model would be {n_params * 4 / 1e6:.2f} MB > --max-mb {args.max_mb}")
    enc_fwd, dec_fwd = model.encoder, model.decoder
    if args.compile:
        enc_fwd, dec_fwd = torch.compile(model.encoder), torch.compile(model.decoder)

    opt = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.99))
    t_pool = time.time()
    sampler = CropSampler(train_imgs, device, args.seed, pool, refresh)
    print(f"crop pool: {pool} crops in {time.time() - t_pool:.1f}s, {refresh} replaced per step")
    K = args.codebook_size
    usage = torch.zeros(K, device=device)
    budget = args.minutes * 60.0
    t0 = time.time()
    step, restarts, codes_used = 0, 0, -1
    hist = []
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget:
            break
        frac = elapsed / budget
        lr = args.lr * min(1.0, (step + 1) / args.warmup_steps) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x = sampler.batch(bs)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            z = enc_fwd(x, model.latent_tokens)
            zq, qinfo = model.quantize(z)
            rec = dec_fwd(zq).float()
        l1 = (rec - x).abs().mean()
        l2 = ((rec - x) ** 2).mean()
        qloss = qinfo["quantizer_loss"]
        loss = l1 + l2 + args.quantizer_weight * qloss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ids = qinfo["ids"].reshape(-1)
        usage += torch.bincount(ids, minlength=K).float()
        step += 1
        if args.restart_every and step % args.restart_every == 0:
            with torch.no_grad():
                dead = (usage == 0).nonzero().flatten()
                if dead.numel() > 0:
                    zf = F.normalize(z.detach().float().permute(0, 2, 3, 1).reshape(-1, args.token_size), dim=-1)
                    pick = torch.randint(0, zf.shape[0], (dead.numel(),), device=device)
                    noise = 0.01 * torch.randn(dead.numel(), args.token_size, device=device)
                    model.quantize.embedding.weight[dead] = zf[pick] + noise
                    restarts += int(dead.numel())
                codes_used = int((usage > 0).sum())
                usage.zero_()
        if step % args.log_every == 0 or step == 1:
            with torch.no_grad():
                p = float(tr.psnr(rec.detach().clamp(0, 1), x).mean())
            line = {"step": step, "min": round((time.time() - t0) / 60, 2), "lr": round(lr, 6),
                    "loss": round(loss.item(), 5), "l1": round(l1.item(), 5), "mse": round(l2.item(), 6),
                    "vq": round(qloss.item(), 5), "psnr_train": round(p, 2),
                    "codes_in_batch": int(ids.unique().numel()), "codes_used_last_window": codes_used,
                    "restarted": restarts}
            hist.append(line)
            print(json.dumps(line), flush=True)
    train_minutes = (time.time() - t0) / 60.0
    print(f"trained {step} steps in {train_minutes:.2f} min")

    # ---- evaluation (float32, no autocast) ----
    tr.ATTENTION_IMPL = "math"
    model.eval()
    psnrs = evaluate(model, heldout, device)
    names = [h["name"] for h in info.get("heldout", [])] or [f"heldout_{i}" for i in range(len(heldout))]
    mean_psnr = float(np.mean(psnrs))
    print("held-out PSNR: " + ", ".join(f"{n} {p:.2f} dB" for n, p in zip(names, psnrs)) + f"; mean {mean_psnr:.2f}")

    # ---- export ----
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    train_names = [m["name"] for m in info.get("train", [])]
    licences = {m["name"]: m["licence"] for m in info.get("train", [])}
    cfg = json.loads(json.dumps(config))
    cfg["tessera"] = {
        "description": "Tessera demo TiTok tokenizer: single-stage, non-legacy TiTok (pixel head), 32 tokens, "
                       f"VQ codebook {K} (l2-normalized, token_size {args.token_size}), 128x128 input, patch "
                       f"{args.patch}, encoder/decoder width {args.width}, {args.heads} heads, {args.enc_layers}+"
                       f"{args.dec_layers} layers. Trained from scratch for a few minutes on a handful of "
                       "openly licensed images: a small demo model, not a general-purpose tokenizer.",
        "train_images": train_names,
        "heldout_images": names,
        "heldout_psnr_db": round(mean_psnr, 3),
        "heldout_psnr_db_per_image": {n: round(p, 3) for n, p in zip(names, psnrs)},
        "heldout_eval": "TiTok eval transform at 128 (shorter side -> 128 bicubic antialias, center crop 128, "
                        "[0,1]); PSNR of clamp(reconstruction, 0, 1) vs input, mean over images",
        "trained_minutes": round(train_minutes, 2),
        "steps": step, "batch_size": bs, "crop_pool": pool, "seed": args.seed, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "bf16_autocast": use_bf16, "torch": torch.__version__,
        "licence": "Training images: scikit-image sample data with CC0 / public-domain / no-known-restriction "
                   "statements or synthetic (see train_image_licences). Architecture: TiTok "
                   "(github.com/bytedance/1d-tokenizer, Apache-2.0); weights trained from scratch by "
                   "Scripts/train_demo_tokenizer.py, no pretrained weights used.",
        "train_image_licences": licences,
    }
    (out / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    tr.write_safetensors(out / "model.safetensors", state, metadata={"format": "pt"})
    size_mb = (out / "model.safetensors").stat().st_size / 1e6

    # ---- reload check ----
    model2 = tr.TiTok.from_pretrained(out).to(device)
    with torch.no_grad():
        x = torch.cat([eval_transform(im) for im in heldout]).to(device)
        _, i1 = model.encode(x)
        _, i2 = model2.encode(x)
        r1 = model.decode_tokens(i1["ids"])
        r2 = model2.decode_tokens(i2["ids"])
    same_ids = bool(torch.equal(i1["ids"], i2["ids"]))
    if args.samples_npy is not None:
        pair = torch.stack([x, r2.clamp(0, 1)], dim=1)  # N, 2, 3, H, W
        np.save(args.samples_npy, (pair * 255).to(torch.uint8).permute(0, 1, 3, 4, 2).cpu().numpy())
    rec_diff = float((r1 - r2).abs().max())
    psnr2 = float(np.mean([float(v) for v in tr.psnr(r2.clamp(0, 1), x)]))
    print(f"reload check: ids identical {same_ids}, max |rec diff| {rec_diff:.3g}, PSNR {psnr2:.3f} dB; "
          f"model.safetensors {size_mb:.2f} MB")
    if not same_ids or rec_diff > 1e-5:
        raise SystemExit("reloaded checkpoint does not reproduce the trained model")

    write_readme(out, cfg, names, psnrs, mean_psnr, info, size_mb, hist)
    print(f"wrote {out}/config.json, model.safetensors, README.md")


def write_readme(out: Path, cfg: dict, names, psnrs, mean_psnr, info, size_mb, hist) -> None:
    t = cfg["tessera"]
    vq = cfg["model"]["vq_model"]
    rows = "\n".join(f"| {m['name']} | {m['width']}x{m['height']} | {m.get('kind', '')} | {m['licence']} |"
                     for m in info.get("train", []))
    held = "\n".join(f"| {n} | {p:.2f} |" for n, p in zip(names, psnrs))
    last = hist[-1] if hist else {}
    text = f"""# titok-demo: Tessera's bundled demo TiTok tokenizer

A small **TiTok** image tokenizer (1-D tokenizer, arXiv 2406.07550) trained from scratch for Tessera's demos and
end-to-end tests. It turns a 128x128 RGB image into **{vq['num_latent_tokens']} discrete tokens** from a codebook
of {vq['codebook_size']} and back. It is tiny and trained for {t['trained_minutes']:.1f} minutes on
{len(t['train_images'])} images, so reconstructions are blurry: use it to exercise the pipeline, not as a
general-purpose tokenizer (use the released TiTok checkpoints for that).

## Files

| File | Content |
|---|---|
| `config.json` | the official TiTok nested config (`model.vq_model`, `dataset.preprocessing.crop_size`) plus Tessera's width/layer/head extensions and a `tessera` block (training facts) |
| `model.safetensors` | float32 weights with the official TiTok state-dict key names ({size_mb:.1f} MB) |

## Architecture

Single-stage, non-legacy TiTok (`is_legacy: false`, `finetune_decoder: false`, `quantize_mode: vq`): the decoder
predicts pixels directly (1x1 conv to {vq['vit_dec_patch_size']}x{vq['vit_dec_patch_size']}x3 per grid cell, patch
rearrange, 3x3 conv_out). Input 128x128 (`crop_size` 128), patch {vq['vit_enc_patch_size']} (16x16 grid),
encoder and decoder width {vq['vit_enc_width']} with {vq['vit_enc_num_heads']} heads (head dim 64),
{vq['vit_enc_num_layers']} encoder and {vq['vit_dec_num_layers']} decoder layers, VQ with l2-normalized codes,
token_size {vq['token_size']}.

Input: RGB in [0, 1], CHW, no mean/std normalization; evaluation preprocessing is TiTok's: resize the shorter side
to 128 (bicubic, antialias), center crop 128. The output is not clamped; clamp to [0, 1] before converting to
8 bits.

## Training

`Scripts/prepare_demo_data.py` then `Scripts/train_demo_tokenizer.py` (seed {t['seed']}, {t['steps']} steps,
batch {t['batch_size']}, {t['device_name']}, bf16 autocast: {t['bf16_autocast']}, torch {t['torch']}). Random square
crops (0.3-1.0 of the shorter side) resized to 128, flips, channel permutation and per-channel gamma/gain/offset; loss
L1 + L2 + VQ codebook/commitment (0.25); AdamW with warmup and cosine decay; dead codes restarted from encoder
outputs. Final training batch: PSNR {last.get('psnr_train', float('nan'))} dB, {last.get('codes_in_batch', '?')}
distinct codes in the batch.

### Training images (scikit-image sample data, `skimage.data`, scikit-image {info.get('skimage_version', '?')})

Grey images were replicated to three channels.

| Image | Size | Kind | Licence / origin as stated by scikit-image |
|---|---|---|---|
{rows}

## Held-out evaluation

The five demo assets in `Assets/images` (astronaut, chelsea, coffee, rocket, hubble_deep_field; see
`Assets/LICENSES.md`) were not used for training. PSNR of the clamped reconstruction at 128x128:

| Image | PSNR (dB) |
|---|---|
{held}
| **mean** | **{mean_psnr:.2f}** |

## Licence

{t['licence']}
"""
    (out / "README.md").write_text(text)


if __name__ == "__main__":
    main()
