#!/usr/bin/env python3
"""LlamaGen's own VQ checkpoint format: a `torch.save` training checkpoint read with no config.

FoundationVision/LlamaGen's `tokenizer/tokenizer_image/vq_model.py` (read from a git mirror, not
committed) builds a reduced `VQModel` (base 32, multipliers [1, 1], one ResNet block per level, 16
latent channels, 64 × 8 L2-normalised codebook: LlamaGen's VQ-16 architecture at a quarter of a
quarter of the width, factor 2). Its random weights, rounded to float16, are saved as `vq_model.py`'s
trainer does (`vq_train.py`: `{"model": state_dict, "optimizer": …, "steps": …, "args": Namespace}`;
`vq_demo.py` reads `checkpoint["model"]`), under the released file name and with no config.json,
so the sizes must come from the tensors. Codes of two 32² images come from `VQModel.encode`,
reconstructions from `VQModel.decode_code`:

    Tests/Fixtures/vqgan/llamagen/vq_ds16_c2i.pt          the checkpoint (float16)
    Tests/Fixtures/vqgan/llamagen/expected.safetensors    pixels [2, 3, 32, 32], codes [2, 256], decoded
    Tests/Fixtures/vqgan/llamagen/manifest.json           provenance

Usage: ~/venvs/ref/bin/python Tests/Reference/make_llamagen_fixtures.py [--llamagen-repo MIRROR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_vqgan_fixtures import randomize, half_exact  # noqa: E402

OUT = HERE.parents[1] / "Tests" / "Fixtures" / "vqgan" / "llamagen"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llamagen-repo", default="/work/.mirror/FoundationVision+LlamaGen/repo")
    a = ap.parse_args()
    commit = subprocess.run(["git", "-C", a.llamagen_repo, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    source = subprocess.run(["git", "-C", a.llamagen_repo, "show", "HEAD:tokenizer/tokenizer_image/vq_model.py"],
                            capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "llamagen_vq_model.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("llamagen_vq_model", path)
        vq = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(vq)
    torch.manual_seed(0)
    codes, embed, z, ch, mult, blocks = 64, 8, 16, 32, [1, 1], 1
    model = vq.VQModel(vq.ModelArgs(codebook_size=codes, codebook_embed_dim=embed, encoder_ch_mult=mult,
                                    decoder_ch_mult=mult, z_channels=z))
    model.encoder = vq.Encoder(ch=ch, ch_mult=mult, num_res_blocks=blocks, z_channels=z)
    model.decoder = vq.Decoder(ch=ch, ch_mult=mult, num_res_blocks=blocks, z_channels=z)
    model.eval()
    randomize(model, 21)
    half_exact(model)
    rng = np.random.default_rng(23)
    coarse = torch.from_numpy(rng.uniform(-1, 1, size=(2, 3, 8, 8)).astype(np.float32))
    pixels = torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear")
    with torch.no_grad():
        _, _, (_, _, ids) = model.encode(pixels)
        ids = ids.view(2, -1)
        decoded = model.decode_code(ids.reshape(-1), (2, embed, 16, 16))
    OUT.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters())
    checkpoint = {"model": state, "optimizer": optimizer.state_dict(), "steps": 250000,
                  "args": argparse.Namespace(vq_model="VQ-16", codebook_size=codes, image_size=256)}
    torch.save(checkpoint, OUT / "vq_ds16_c2i.pt")
    save_file({"pixels": pixels.contiguous(), "codes": ids.long().contiguous(), "decoded": decoded.contiguous()},
              str(OUT / "expected.safetensors"))
    manifest = {"generator": "Tests/Reference/make_llamagen_fixtures.py",
                "reference": f"FoundationVision/LlamaGen@{commit} tokenizer/tokenizer_image/vq_model.py VQModel",
                "model": {"ch": ch, "ch_mult": mult, "num_res_blocks": blocks, "z_channels": z,
                          "codebook_size": codes, "codebook_embed_dim": embed, "codebook_l2_norm": True},
                "checkpoint": "torch.save of vq_train.py's layout: model, optimizer, steps, args (Namespace)",
                "versions": {"torch": torch.__version__}}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
