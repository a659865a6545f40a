#!/usr/bin/env python3
"""Generate the SigLIP so400m-patch14-384 *layout* fixture for Tessera's Swift tests.

google/siglip-so400m-patch14-384's vision tower at a reduced width and depth: image_size 384 with patch_size 14,
so the patch convolution floors 384 / 14 = 27.43 to 27 and the tower sees 27 x 27 = 729 patch tokens (the
position table has 729 rows; the right and bottom 6 pixel columns / rows never reach a patch). Everything else
follows the published vision config (hidden_act gelu_pytorch_tanh, layer_norm_eps 1e-6, attention-pooling head);
only hidden_size / heads / layers / intermediate_size are shrunk so the files stay small.

Writes (see the "SigLIP so400m layout fixture" section of Tests/Reference/README.md):

    Tests/Fixtures/towers/siglip_so400m/config.json               SiglipVisionConfig via save_pretrained
    Tests/Fixtures/towers/siglip_so400m/model.safetensors         F32, real key names with the `vision_model.` prefix
    Tests/Fixtures/towers/siglip_so400m/preprocessor_config.json  SiglipImageProcessor (published so400m settings)
    Tests/Fixtures/towers/siglip_so400m/expected.safetensors      resized (U8, see below), hidden_states.0..2,
                                                                  last_hidden_state, pooler_output
    Tests/Fixtures/towers/siglip_so400m/PROVENANCE.json           versions, CPU, shapes, float64 differences

`pixel_values` ([1,3,384,384] float32 = 1.77 MB on its own) is stored losslessly as the processor's uint8 resize
output `resized` [3,384,384] (442 KB): pixel_values = (float32(resized) - 127.5) / 127.5, which is exactly what
SiglipImageProcessor computes after the resize (mean*255 = std*255 = 127.5, fused rescale+normalize in float32).
The script checks that this reproduces the processor's pixel_values bit for bit.

Input: Tests/Fixtures/towers/images/chelsea_100x67.png (made by make_tower_fixtures.py), upscaled to 384x384.
Weights: seeded noise with make_tower_fixtures.perturb (same scaling as the clip/siglip fixtures).
Deterministic: 1 CPU thread, fixed seed; eager attention, torch.no_grad, float32.

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_siglip_so400m_fixture.py
"""

from __future__ import annotations

import json
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
from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tower_fixtures import OUT as TOWERS, ROOT, SEED, perturb, sha256, tinfo  # noqa: E402

try:  # the Pillow-backend twin of the (torchvision-backed) default processor in transformers 5.x
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
except Exception:  # pragma: no cover
    SiglipImageProcessorPil = None

OUT = TOWERS / "siglip_so400m"
IMAGE = TOWERS / "images" / "chelsea_100x67.png"
WEIGHT_SEED = SEED + 400  # make_tower_fixtures uses SEED (clip) and SEED + 1 (siglip)

# google/siglip-so400m-patch14-384 vision_config: hidden_size 1152, intermediate_size 4304, 27 layers, 16 heads,
# image_size 384, patch_size 14, hidden_act gelu_pytorch_tanh, layer_norm_eps 1e-6 (vision_use_head default true).
CONFIG = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
              image_size=384, patch_size=14, num_channels=3, hidden_act="gelu_pytorch_tanh",
              layer_norm_eps=1e-6, attention_dropout=0.0, vision_use_head=True)

# google/siglip-so400m-patch14-384 preprocessor_config.json (SiglipImageProcessor, processor_class SiglipProcessor)
PROCESSOR = dict(do_resize=True, size={"height": 384, "width": 384}, resample=3, do_rescale=True,
                 rescale_factor=1 / 255, do_normalize=True, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])

MAX_BYTES = 1_500_000


@torch.no_grad()
def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)

    config = SiglipVisionConfig(**CONFIG)
    model = SiglipVisionModel(config).eval()
    perturb(model, WEIGHT_SEED)
    ref_sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.save_pretrained(OUT, safe_serialization=True)
    processor = SiglipImageProcessor(**PROCESSOR)
    processor.save_pretrained(OUT)

    # transformers 5 save_pretrained writes unprefixed names; published checkpoints carry `vision_model.`
    native = load_file(OUT / "model.safetensors")
    prefixed = {k if k.startswith("vision_model.") else "vision_model." + k: v.contiguous() for k, v in native.items()}
    save_file(prefixed, OUT / "model.safetensors", metadata={"format": "pt"})
    model, info = SiglipVisionModel.from_pretrained(OUT, attn_implementation="eager", output_loading_info=True)
    model = model.eval()
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"prefixed checkpoint did not load cleanly: {bad}"
    for k, v in model.state_dict().items():
        assert torch.equal(v, ref_sd[k]), k
    vm = getattr(model, "vision_model", model)
    assert vm.embeddings.num_patches == 729 and vm.embeddings.position_embedding.weight.shape == (729, 32)

    with Image.open(IMAGE) as im:
        im.load()
        image = im.convert("RGB")
    pixel_values = processor(images=[image], return_tensors="pt")["pixel_values"].float().contiguous()
    assert pixel_values.shape == (1, 3, 384, 384), pixel_values.shape

    # the documented steps: torch's uint8 antialiased bicubic resize (what tvF.resize runs), then the fused
    # (x - 0.5*255) / (0.5*255) in float32 -- must reproduce the processor bit for bit
    t = torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()  # uint8 CHW
    resized = torch.nn.functional.interpolate(t[None], size=(384, 384), mode="bicubic", align_corners=False,
                                              antialias=True)[0]
    tv = torchvision.transforms.v2.functional.resize(t, [384, 384], interpolation=torchvision.transforms.
                                                     InterpolationMode.BICUBIC, antialias=True)
    assert torch.equal(resized, tv)
    mean = torch.tensor(processor.image_mean, dtype=torch.float32).view(3, 1, 1) * 255.0
    std = torch.tensor(processor.image_std, dtype=torch.float32).view(3, 1, 1) * 255.0
    assert torch.equal((resized.float() - mean) / std, pixel_values[0]), "documented preprocessing does not reproduce"
    # the form the Swift test uses (scalar 127.5)
    assert torch.equal((resized.float() - 127.5) / 127.5, pixel_values[0])

    out = model(pixel_values=pixel_values, output_hidden_states=True, output_attentions=True)
    exp = {f"hidden_states.{i}": h for i, h in enumerate(out.hidden_states)}
    exp["last_hidden_state"] = out.last_hidden_state
    exp["pooler_output"] = out.pooler_output
    assert len(out.hidden_states) == 3 and out.last_hidden_state.shape == (1, 729, 32)
    assert out.pooler_output.shape == (1, 32)

    m64 = SiglipVisionModel.from_pretrained(OUT, attn_implementation="eager").eval().double()
    o64 = m64(pixel_values=pixel_values.double(), output_hidden_states=True)
    f64 = {f"hidden_states.{i}": h for i, h in enumerate(o64.hidden_states)}
    f64["last_hidden_state"] = o64.last_hidden_state
    f64["pooler_output"] = o64.pooler_output

    exp = {k: v.detach().float().clone().contiguous() for k, v in exp.items()}
    exp["resized"] = resized.clone().contiguous()
    # one metadata key: safetensors writes the metadata map in hash order, several keys are not byte-deterministic
    save_file(exp, OUT / "expected.safetensors", metadata={
        "generator": "Tests/Reference/make_siglip_so400m_fixture.py; image Tests/Fixtures/towers/images/"
                     "chelsea_100x67.png; pixel_values = (float32(resized) - 127.5) / 127.5, shape [1,3,384,384] "
                     "(bit-exact SiglipImageProcessor output)"})

    pil = None
    if SiglipImageProcessorPil is not None:
        pv = SiglipImageProcessorPil(**PROCESSOR)(images=[image], return_tensors="pt")["pixel_values"].float()
        d = (pv - pixel_values).abs()
        pil = {"class": "SiglipImageProcessorPil", "pixel_values_max_abs_diff_vs_default": float(d.max()),
               "max_diff_in_8bit_steps": round(float(d.max()) * 127.5, 4),
               "note": "not stored; the fixture follows the default torchvision-backed SiglipImageProcessor"}

    att_stats = []
    for i, a in enumerate(out.attentions):
        att_stats.append({"layer": i, "tokens": a.shape[-1], "mean_max_prob": float(a.max(-1).values.mean()),
                          "uniform_prob": 1 / a.shape[-1]})

    tensors = {}
    for k, v in exp.items():
        entry = tinfo(v)
        if k in f64:
            entry["f64_max_abs_diff"] = float((f64[k] - v.double()).abs().max())
        tensors[k] = entry
    tensors["pixel_values (derived)"] = tinfo(pixel_values)

    for p in OUT.iterdir():
        p.chmod(0o644)  # safetensors writes 0600
    files = {p.name: {"bytes": p.stat().st_size, "sha256": sha256(p)} for p in sorted(OUT.iterdir())}
    prov = {
        "generator": "Tests/Reference/make_siglip_so400m_fixture.py",
        "command": "~/venvs/ref/bin/python Tests/Reference/make_siglip_so400m_fixture.py",
        "layout": "google/siglip-so400m-patch14-384 vision tower, reduced width/depth: image 384, patch 14, "
                  "grid floor(384/14) = 27, 729 patch tokens, no CLS, position_embedding [729, D]",
        "published_vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
                                    "num_attention_heads": 16, "image_size": 384, "patch_size": 14,
                                    "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6},
        "config": json.loads((OUT / "config.json").read_text()),
        "preprocessor_config": json.loads((OUT / "preprocessor_config.json").read_text()),
        "preprocessor_note": "written by SiglipImageProcessor.save_pretrained with the published so400m settings; "
                             "the published file also has processor_class SiglipProcessor (written by the "
                             "processor, not the image processor) and lacks do_convert_rgb (default true)",
        "image": {"file": "images/chelsea_100x67.png", "sha256": sha256(IMAGE), "size_wh": list(image.size),
                  "resize": "100x67 -> 384x384 (aspect not kept), torch uint8 antialiased bicubic"},
        "pixel_values": "stored as U8 `resized` [3,384,384]; pixel_values = (float32(resized) - 127.5) / 127.5 "
                        "[1,3,384,384], bit-exact to the processor output (checked)",
        "weights": {k: list(v.shape) for k, v in sorted(load_file(OUT / "model.safetensors").items())},
        "weight_seed": WEIGHT_SEED,
        "weight_scaling": "make_tower_fixtures.perturb: norm weights 1+0.1N, biases 0.1N, position/probe 0.5N, "
                          "matrices N/sqrt(fan_in) with q/k and the head's in_proj_weight x2.5",
        "numerics": "float32, CPU, 1 thread, eager attention, torch.no_grad; f64_max_abs_diff = max |float32 - "
                    "same model in float64 on the same pixel_values|",
        "expected": tensors,
        "attention_stats": att_stats,
        "pil_backend_comparison": pil,
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
            "processor": platform.processor(),
        },
        "files": files,
    }
    (OUT / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")

    total = sum(p.stat().st_size for p in OUT.iterdir() if p.is_file())
    print(f"wrote {OUT.relative_to(ROOT)}: {total} bytes")
    for k, v in tensors.items():
        if "f64_max_abs_diff" in v:
            print(f"  {k}: {v['shape']} f64 diff {v['f64_max_abs_diff']:.2e}")
    assert total <= MAX_BYTES, total


if __name__ == "__main__":
    sys.exit(main())
