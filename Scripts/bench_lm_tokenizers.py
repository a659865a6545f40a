#!/usr/bin/env python3
"""PyTorch side of `Scripts/bench-lm-tokenizers.sh`: transformers' `ChameleonVQVAE`, `JanusVQVAE` and
`Emu3VQVAE` at the published sizes (chameleon-7b's VQ: 512² → 32×32; Janus-Pro's VQ-16: 384² → 24×24;
Emu3's at 512²) with random weights, saved by `save_pretrained` (float32) and read back by
`from_pretrained`; and the original Chameleon release (facebookresearch/chameleon's own `VQModel`,
which has the decoder, saved as `vqgan.ckpt` + `vqgan.yaml`) when its git mirror is given.

    python3 Scripts/bench_lm_tokenizers.py --save DIR             # DIR/chameleon, janus, emu3, chameleon_original
    python3 Scripts/bench_lm_tokenizers.py --model DIR/janus      # time encode (and decode); one JSON object
"""
import argparse, importlib.util, json, os, resource, subprocess, tempfile, time
from pathlib import Path

import torch
import yaml

# facebookresearch/chameleon's vqgan.yaml at the published size (the original release has the decoder).
CHAMELEON_PARAMS = {"embed_dim": 256, "n_embed": 8192, "ddconfig": {
    "double_z": False, "z_channels": 256, "resolution": 512, "in_channels": 3, "out_ch": 3, "ch": 128,
    "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}}


def official_vqgan(repo):
    """facebookresearch/chameleon's `chameleon/inference/vqgan.py` from a git mirror (self-contained)."""
    source = subprocess.run(["git", "-C", repo, "show", "HEAD:chameleon/inference/vqgan.py"], capture_output=True,
                            text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "chameleon_vqgan.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("chameleon_vqgan", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn, repeats, warm_up=True):
    if warm_up:
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--save")
    ap.add_argument("--model")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--clip-frames", type=int, help="Emu3: also time one clip of this many frames")
    ap.add_argument("--clip-size", type=int, default=256)
    ap.add_argument("--chameleon-repo", default=os.environ.get(
        "CHAMELEON_REPO", "/work/.mirror/facebookresearch+chameleon/repo"),
        help="git mirror of facebookresearch/chameleon (for the original release, which decodes)")
    args = ap.parse_args()
    from transformers import (ChameleonVQVAE, ChameleonVQVAEConfig, Emu3VQVAE, Emu3VQVAEConfig, JanusVQVAE,
                              JanusVQVAEConfig)
    torch.manual_seed(0)
    if args.save:
        ChameleonVQVAE(ChameleonVQVAEConfig(attn_resolutions=[])).save_pretrained(Path(args.save) / "chameleon")
        JanusVQVAE(JanusVQVAEConfig(num_patches=24)).save_pretrained(Path(args.save) / "janus")
        Emu3VQVAE(Emu3VQVAEConfig()).save_pretrained(Path(args.save) / "emu3")
        if Path(args.chameleon_repo).exists():
            out = Path(args.save) / "chameleon_original"
            out.mkdir(parents=True)
            model = official_vqgan(args.chameleon_repo).VQModel(**CHAMELEON_PARAMS)
            torch.save({"state_dict": model.state_dict()}, out / "vqgan.ckpt")
            (out / "vqgan.yaml").write_text(yaml.safe_dump({"model": {
                "target": "chameleon.vqgan.VQModel", "params": CHAMELEON_PARAMS}}, sort_keys=False))
        return
    threads = int(os.environ.get("TESSERA_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    if (Path(args.model) / "vqgan.yaml").exists():
        return bench_original_chameleon(args, threads)
    config = json.loads((Path(args.model) / "config.json").read_text())
    kind = config["model_type"]
    janus, emu3 = kind == "janus_vqgan", kind == "emu3_vqgan"
    cls = JanusVQVAE if janus else (Emu3VQVAE if emu3 else ChameleonVQVAE)
    model = cls.from_pretrained(args.model, dtype=torch.float32).eval()
    size = 384 if janus else 512
    results = []
    with torch.inference_mode():
        for b in args.batch:
            x = torch.rand(b, 3, size, size) * 2 - 1
            if emu3:  # images are repeated 4× in time inside encode, as upstream
                sizes = torch.tensor([[size, size]] * b)
                enc = timed(lambda: model.encode(x, image_sizes=sizes), args.repeats)
            else:
                enc = timed(lambda: model.encode(x), args.repeats)
            row = {"batch": b, "encode_ms": enc * 1000, "encode_images_per_s": b / enc}
            if janus:
                codes = model.encode(x).image_tokens.view(b, -1)
                dec = timed(lambda: model.decode(codes), args.repeats)
                row.update({"decode_ms": dec * 1000, "decode_images_per_s": b / dec})
            results.append(row)
        clip = None
        if emu3 and args.clip_frames:
            n, side = args.clip_frames, args.clip_size
            video = torch.rand(1, n, 3, side, side) * 2 - 1
            seconds = timed(lambda: model.encode(video, image_sizes=torch.tensor([[side, side]])), args.repeats)
            clip = {"frames": n, "size": side, "clip_ms": seconds * 1000, "frames_per_s": n / seconds}
            # Decoding the clip's codes back to its frames: once, no warm-up (minutes at the published size).
            codes = torch.stack(model.encode(video, image_sizes=torch.tensor([[side, side]])).image_tokens)
            frames = []
            seconds = timed(lambda: frames.append(model.decode(codes).shape[1]), 1, warm_up=False)
            clip.update({"decode_ms": seconds * 1000, "decode_frames_per_s": frames[-1] / seconds})
    print(json.dumps({"torch": torch.__version__, "threads": threads, "results": results, "clip": clip,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))


def bench_original_chameleon(args, threads):
    """The official VQModel of facebookresearch/chameleon: encode, and decode of the codes (decode_code)."""
    params = yaml.safe_load((Path(args.model) / "vqgan.yaml").read_text())["model"]["params"]
    model = official_vqgan(args.chameleon_repo).VQModel(**params).eval()
    model.load_state_dict(torch.load(Path(args.model) / "vqgan.ckpt", map_location="cpu")["state_dict"])
    results = []
    with torch.inference_mode():
        for b in args.batch:
            x = torch.rand(b, 3, 512, 512) * 2 - 1
            enc = timed(lambda: model.encode(x), args.repeats)
            codes = model.encode(x)[2][2].view(b, -1)
            dec = timed(lambda: model.decode(model.quantize.get_codebook_entry(codes.reshape(-1), (b, 32, 32, 256))),
                        args.repeats)
            results.append({"batch": b, "encode_ms": enc * 1000, "encode_images_per_s": b / enc,
                            "decode_ms": dec * 1000, "decode_images_per_s": b / dec})
    print(json.dumps({"torch": torch.__version__, "threads": threads, "results": results, "clip": None,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))


if __name__ == "__main__":
    main()
