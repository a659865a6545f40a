#!/usr/bin/env python3
"""Emu3 decodes: transformers' ``Emu3VQVAE.decode`` and baaivision/Emu3's own ``Emu3VisionVQModel.decode``.

Both run on CPU in float32 on the weights of Tests/Fixtures/vqgan/emu3 (transformers' layout; for the
official model renamed to the original names with the inverse of transformers' converter, now the
decoder too, and loaded strictly). They decode that fixture's codes: its two images (``[h, w]`` →
frame 0 of the 4 decoded frames, as upstream), its 8-frame clip (``[2, h, w]`` → 8 frames) and its
5-frame clip (``[1, h, w]`` → 4 frames). The two implementations must agree to 1e-5; transformers'
outputs are stored, with the decoder's stages for the 8-frame clip (the quantized latents after
``post_quant_conv``, and both after the temporal upsampling), so a mismatch can be placed:

    Tests/Fixtures/vqgan/emu3/decoded.safetensors   image_decoded [2, 3, H, W], video_decoded [1, 8, 3, H, W],
                                                    short_video_decoded [1, 4, 3, H, W], video_post_quant,
                                                    video_temporal_h, video_temporal_zq
    Tests/Fixtures/vqgan/emu3/decode_manifest.json  provenance and the agreement

Usage: ~/venvs/ref/bin/python Tests/Reference/make_emu3_decode_fixtures.py [--emu3-repo MIRROR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_emu3_original_fixtures import load_official, official_config, original_name  # noqa: E402

FIXTURE = HERE.parents[1] / "Tests" / "Fixtures" / "vqgan" / "emu3"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emu3-repo", default="/work/.mirror/baaivision+Emu3/repo")
    a = ap.parse_args()
    from transformers import Emu3VQVAE

    hf_model = Emu3VQVAE.from_pretrained(FIXTURE, dtype=torch.float32).eval()
    hf_model.config._attn_implementation = "eager"
    expected = load_file(FIXTURE / "expected.safetensors")
    cases = {"image": expected["image_codes"].long(), "video": expected["video_codes"].long(),
             "short_video": expected["short_video_codes"].long()}
    hf = json.loads((FIXTURE / "config.json").read_text())
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        Config, Model, commit = load_official(a.emu3_repo, Path(tmp))
        official = Model(official_config(Config, hf)).eval()
        state = official.state_dict()
        weights = {}
        for key, value in load_file(FIXTURE / "model.safetensors").items():
            name = original_name(key)
            weights[name] = value.float().reshape(state[name].shape)  # Linear [C, C] → Conv [C, C, 1, 1]
        official.load_state_dict(weights, strict=True)
        out, agreement = {}, {}
        for name, codes in cases.items():
            ours = hf_model.decode(codes)
            theirs = official.decode(codes)
            agreement[name] = float((ours - theirs).abs().max())
            assert agreement[name] < 1e-5, (name, agreement[name])
            out[f"{name}_decoded"] = ours.numpy()
        # Stages of the 8-frame clip (transformers' decode, step by step).
        codes = cases["video"]
        b, t, h, w = codes.shape
        quant = hf_model.quantize.embedding(codes.flatten()).view(b, t, h, w, -1).permute(0, 4, 1, 2, 3)
        post = hf_model.post_quant_conv(quant)
        z_zq = torch.cat((post, quant), dim=0)
        for layer in hf_model.decoder.time_res_stack:
            z_zq = layer(z_zq)
        for layer in hf_model.decoder.time_conv:
            z_zq = layer(z_zq)
            z_zq = z_zq * torch.sigmoid(z_zq)
        temporal_h, temporal_zq = torch.chunk(z_zq.permute(0, 2, 1, 3, 4), 2, dim=0)
        out["video_post_quant"] = post.permute(0, 2, 1, 3, 4).numpy()  # [B, T', C, h, w]
        out["video_temporal_h"] = temporal_h.numpy()  # [B, 4T', C, h, w]
        out["video_temporal_zq"] = temporal_zq.numpy()
    save_file({k: np.ascontiguousarray(v.astype(np.float32)) for k, v in out.items()}, FIXTURE / "decoded.safetensors")
    import transformers
    manifest = {"generator": "Tests/Reference/make_emu3_decode_fixtures.py",
                "reference": "transformers Emu3VQVAE.decode (eager attention), checked against "
                             f"baaivision/Emu3@{commit} emu3/tokenizer/modeling_emu3visionvq.py Emu3VisionVQModel.decode",
                "max_abs_transformers_vs_official": agreement, "shapes": {k: list(v.shape) for k, v in out.items()},
                "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
    (FIXTURE / "decode_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
