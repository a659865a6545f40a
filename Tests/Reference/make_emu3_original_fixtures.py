#!/usr/bin/env python3
"""Check Emu3's original release layout (BAAI/Emu3-VisionTokenizer) against the official model.

baaivision/Emu3's own ``Emu3VisionVQModel`` (emu3/tokenizer/modeling_emu3visionvq.py, read from
a git mirror) is built at the reduced size of Tests/Fixtures/vqgan/emu3 and loaded with that
fixture's transformers weights renamed to the original names (the inverse of transformers'
converter: ``down_block.down`` → ``down``, ``middle_block`` → ``mid``, the attention's Linear
``q_proj``… → 1×1 Conv ``q``…, ``attn_norms.{j}`` → ``attn.{j}.norm``). Every encoder tensor must
bind (the load is strict apart from the decoder, which is not checked here), and its codes of
the fixture's images and clips must equal transformers'. Nothing new is stored but the reduced
original ``config.json`` and the full published key → shape list:

    Tests/Fixtures/vqgan/emu3_original/config.json        Emu3VisionVQConfig at the reduced size
    Tests/Fixtures/vqgan/emu3_original/manifest.json      provenance and the codes check
    Tests/Fixtures/vqgan/emu3_original_vq_shapes.json     key → shape of the full original model

The Swift test writes the renamed checkpoint itself with the same rules.

Usage: ~/venvs/ref/bin/python Tests/Reference/make_emu3_original_fixtures.py [--emu3-repo MIRROR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures" / "vqgan"


def original_name(key: str) -> str:
    """transformers' Emu3VQVAE name → BAAI's Emu3VisionVQModel name (encoder and decoder)."""
    key = key.replace("encoder.down_block.down.", "encoder.down.").replace("decoder.up_block.up.", "decoder.up.")
    key = key.replace("encoder.middle_block.", "encoder.mid.").replace("decoder.middle_block.", "decoder.mid.")
    key = re.sub(r"attn_norms\.(\d+)\.", r"attn.\1.norm.", key)
    key = key.replace("mid.attn_norm.", "mid.attn_1.norm.")
    for hf, orig in [("q_proj", "q"), ("k_proj", "k"), ("v_proj", "v"), ("out_proj", "proj_out")]:
        key = key.replace(f".{hf}.", f".{orig}.")
    return key


def load_official(repo: str, tmp: Path):
    package = tmp / "emu3tok"
    package.mkdir()
    for name in ["configuration_emu3visionvq.py", "modeling_emu3visionvq.py"]:
        text = subprocess.run(["git", "-C", repo, "show", f"HEAD:emu3/tokenizer/{name}"], capture_output=True,
                              text=True, check=True).stdout
        (package / name).write_text(text)
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp))
    import emu3tok.configuration_emu3visionvq as configuration
    import emu3tok.modeling_emu3visionvq as modeling
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    return configuration.Emu3VisionVQConfig, modeling.Emu3VisionVQModel, commit


def official_config(Config, hf: dict):
    """The original Emu3VisionVQConfig of transformers' `config.json` fields `hf`."""
    return Config(codebook_size=hf["codebook_size"], embed_dim=hf["embed_dim"], z_channels=hf["latent_channels"],
                  double_z=False, in_channels=3, out_channels=3,
                  temporal_downsample_factor=hf["temporal_downsample_factor"], ch=hf["base_channels"],
                  ch_mult=hf["channel_multiplier"], num_res_blocks=hf["num_res_blocks"],
                  attn_resolutions=hf["attn_resolutions"], dropout=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emu3-repo", default="/work/.mirror/baaivision+Emu3/repo")
    a = ap.parse_args()
    hf = json.loads((FIXTURES / "emu3" / "config.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        Config, Model, commit = load_official(a.emu3_repo, Path(tmp))
        config = official_config(Config, hf)
        model = Model(config).eval()
        weights = {}
        for key, value in load_file(FIXTURES / "emu3" / "model.safetensors").items():
            if key.startswith(("decoder.", "post_quant_conv.")):
                continue
            name = original_name(key)
            target = model.state_dict()[name]
            weights[name] = value.float().reshape(target.shape)  # Linear [C, C] → Conv [C, C, 1, 1]
        missing, unexpected = model.load_state_dict(weights, strict=False)
        assert not unexpected, unexpected
        assert all(k.startswith(("decoder.", "post_quant_conv.")) for k in missing), missing
        expected = load_file(FIXTURES / "emu3" / "expected.safetensors")
        with torch.no_grad():
            image_codes = model.encode(expected["images"].float())
            video_codes = model.encode(expected["video"].float())
            short_codes = model.encode(expected["short_video"].float())
        checks = {
            "image_codes": bool(torch.equal(image_codes, expected["image_codes"].long())),
            "video_codes": bool(torch.equal(video_codes[0], expected["video_codes"][0].long())),
            "short_video_codes": bool(torch.equal(short_codes[0], expected["short_video_codes"][0].long())),
        }
        assert all(checks.values()), checks
        out = FIXTURES / "emu3_original"
        out.mkdir(exist_ok=True)
        config.save_pretrained(out)
        saved = json.loads((out / "config.json").read_text())
        (out / "config.json").write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
        published = Model(Config()).state_dict()
        shapes = {k: list(v.shape) for k, v in published.items()}
        (FIXTURES / "emu3_original_vq_shapes.json").write_text(json.dumps(shapes, indent=0))
        import transformers
        manifest = {"generator": "Tests/Reference/make_emu3_original_fixtures.py",
                    "reference": f"baaivision/Emu3@{commit} emu3/tokenizer/modeling_emu3visionvq.py Emu3VisionVQModel",
                    "weights": "Tests/Fixtures/vqgan/emu3/model.safetensors renamed to the original names",
                    "codes_equal_transformers": checks, "published_tensors": len(shapes),
                    "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
