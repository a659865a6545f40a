#!/usr/bin/env python3
"""HiRED with LLaVA-NeXT anyres views, end to end, for `tessera prune --method hired --tiles`.

For the CLIP and SigLIP fixture towers (Tests/Fixtures/towers/{clip,siglip}) and the two fixture
images (100x67, 75x100) with a 2x2 grid and a 200x60 strip with the tile grid chosen by LLaVA-NeXT's `select_best_resolution`
among its default pinpoints (scaled to the towers' 56-px input: 56x112, 112x56, 112x112, 168x56,
56x168) and with a fixed 2x2 grid:

1. views: transformers' `LlavaNextImageProcessor` (base view = the image resized to 56x56, tiles =
   the image scaled to fit the grid with its aspect kept, padded with black, cut into 56x56 crops),
   with the tower's mean/std and bicubic resampling;
2. scores: each view through transformers' tower (eager attention); layer 0 and the feature
   layer (-2) importance = the CLS row summed over heads (CLIP) or the attention each patch
   receives, mean over query rows summed over heads (SigLIP);
3. selection: `hired_reference` of make_reduction_fixtures.py (itself checked against upstream
   HiRED), budget rate 0.2, alpha 0.5, 2D blocks, floor rounding (the pipeline's defaults);
4. unpadding: the tiles' selection masks laid out on the (R*4)x(C*4) grid and cropped with
   upstream HiRED's `unpad_image` (re-typed below), as HiRED's `pack_HiRED_image_features` does.

Writes Tests/Fixtures/towers/anyres_expected.{safetensors,json}: per case the processor's
pixel_values [P, 3, 56, 56], the chosen grid, and the kept (partition, index) pairs with their
features (hidden states of layer -2, patch rows).

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_anyres_fixtures.py
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file
from transformers import CLIPVisionModel, LlavaNextImageProcessor, SiglipVisionModel

ROOT = Path(__file__).resolve().parents[2]
TOWERS = ROOT / "Tests/Fixtures/towers"
S, G, LAYER = 56, 4, -2
PINPOINTS = [[56, 112], [112, 56], [112, 112], [168, 56], [56, 168]]   # LLaVA-NeXT's, in 56-px tiles
# (image under Tests/Fixtures/towers, grid mode): the fixture images are small enough that every
# pinpoint holds them whole, so the best fit is 2x2; a wide strip picks 1x3
CASES = [("images/chelsea_100x67.png", "2x2"), ("images/astronaut_75x100.png", "2x2"),
         ("anyres/strip_200x60.png", "auto")]


def make_strip():
    """Assets/images/chelsea.png rows 100..235 resized to 200x60 (Pillow LANCZOS)."""
    path = TOWERS / "anyres/strip_200x60.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.open(ROOT / "Assets/images/chelsea.png").convert("RGB").crop((0, 100, 451, 235)) \
            .resize((200, 60), Image.LANCZOS).save(path)

spec = importlib.util.spec_from_file_location("reduction", ROOT / "Tests/Reference/make_reduction_fixtures.py")
R = importlib.util.module_from_spec(spec)
spec.loader.exec_module(R)
GAPS = []
R.check_top = lambda values, k, what: GAPS.append((what, k, gap(values, k)))
torch.set_num_threads(1)


def gap(values, k):
    v = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    if k <= 0 or k >= len(v):
        return None
    return float((v[k - 1] - v[k]) / max(abs(v[k - 1]), 1e-300))


def unpad_image(tensor, original_size):
    """upstream HiRED / LLaVA-NeXT `unpad_image` for a 2D mask; original_size = (height, width)."""
    original_height, original_width = original_size
    current_height, current_width = tensor.shape
    original_aspect_ratio = original_width / original_height
    current_aspect_ratio = current_width / current_height
    if original_aspect_ratio > current_aspect_ratio:
        scale_factor = current_width / original_width
        new_height = int(original_height * scale_factor)
        padding = (current_height - new_height) // 2
        return tensor[padding: current_height - padding, :], (padding, 0)
    scale_factor = current_height / original_height
    new_width = int(original_width * scale_factor)
    padding = (current_width - new_width) // 2
    return tensor[:, padding: current_width - padding], (0, padding)


def main():
    make_strip()
    tensors, cases = {}, []
    for tower, cls in (("clip", CLIPVisionModel), ("siglip", SiglipVisionModel)):
        model = cls.from_pretrained(TOWERS / tower, attn_implementation="eager", dtype=torch.float32).eval()
        pre = json.loads((TOWERS / tower / "preprocessor_config.json").read_text())
        prefix = 1 if tower == "clip" else 0
        layers = model.vision_model.encoder.layers if hasattr(model, "vision_model") else model.encoder.layers
        block = len(layers) + LAYER
        for name, mode in CASES:
            image = Image.open(TOWERS / name).convert("RGB")
            for pinpoints in ([PINPOINTS] if mode == "auto" else [[[112, 112]]]):
                processor = LlavaNextImageProcessor(
                    size={"shortest_edge": S}, crop_size={"height": S, "width": S}, image_grid_pinpoints=pinpoints,
                    image_mean=pre["image_mean"], image_std=pre["image_std"], resample=3, do_center_crop=True)
                out = processor(images=image, return_tensors="pt")
                pixels = out["pixel_values"][0].float()                         # [P, 3, S, S]
                height, width = out["image_sizes"][0].tolist()
                best = transformers.image_processing_utils.select_best_resolution((height, width), pinpoints)
                rows, cols = best[0] // S, best[1] // S
                assert pixels.shape[0] == 1 + rows * cols
                with torch.no_grad():
                    o = model(pixel_values=pixels, output_hidden_states=True, output_attentions=True)
                features = o.hidden_states[block + 1][:, prefix:prefix + G * G]              # [P, N, C]

                def importance(layer):
                    a = o.attentions[layer]                                               # [P, H, T, T]
                    if prefix:
                        return a[:, :, 0, :]                                              # CLS row [P, H, N+1]
                    received = a.mean(dim=2)                                              # [P, H, N]
                    return torch.cat([torch.zeros_like(received[:, :, :1]), received], dim=2)

                sel = R.hired_reference(importance(0), importance(block), G, rows, cols, 0.2, 0.5, "blocks", "floor")
                mask = sel["mask"]                                                        # [P, N]
                tiles = mask[1:].reshape(rows, cols, G, G).permute(0, 2, 1, 3).reshape(rows * G, cols * G)
                kept_grid, (row0, col0) = unpad_image(tiles, (height, width))
                shown = torch.zeros_like(tiles)
                shown[row0:row0 + kept_grid.shape[0], col0:col0 + kept_grid.shape[1]] = True
                partitions, indices, rows_out = [], [], []
                for p in range(pixels.shape[0]):
                    for j in range(G * G):
                        if not mask[p, j]:
                            continue
                        if p > 0:
                            tr, tc = (p - 1) // cols, (p - 1) % cols
                            if not shown[tr * G + j // G, tc * G + j % G]:
                                continue
                        partitions.append(p)
                        indices.append(j)
                        rows_out.append(features[p, j])
                key = f"{tower}/{name}/{mode}"
                tensors[f"{key}/pixel_values"] = pixels.contiguous()
                tensors[f"{key}/features"] = torch.stack(rows_out).contiguous()
                tensors[f"{key}/partitions"] = torch.tensor(partitions, dtype=torch.int64)
                tensors[f"{key}/indices"] = torch.tensor(indices, dtype=torch.int64)
                cases.append({"key": key, "tower": tower, "image": name, "mode": mode, "grid": [rows, cols],
                              "image_size_hw": [height, width], "budgets": [int(b) for b in sel["budgets"]],
                              "selected": int(mask.sum()), "kept": len(indices),
                              "unpadded_rows": [row0, row0 + kept_grid.shape[0]],
                              "unpadded_columns": [col0, col0 + kept_grid.shape[1]]})
    save_file(tensors, str(TOWERS / "anyres_expected.safetensors"))
    near = [g for g in GAPS if g[2] is not None and g[2] < 1e-5]
    manifest = {"generator": "Tests/Reference/make_anyres_fixtures.py", "transformers": transformers.__version__,
                "torch": torch.__version__, "pinpoints": PINPOINTS, "budget_rate": 0.2, "alpha": 0.5, "layer": LAYER,
                "cases": cases, "smallest_selection_gap": min(g[2] for g in GAPS if g[2] is not None),
                "near_ties": near}
    (TOWERS / "anyres_expected.json").write_text(json.dumps(manifest, indent=1) + "\n")
    for c in cases:
        print(c["key"], "grid", c["grid"], "budgets", c["budgets"], "selected", c["selected"], "kept", c["kept"],
              "rows", c["unpadded_rows"], "cols", c["unpadded_columns"])
    print("smallest gap", manifest["smallest_selection_gap"], "near ties", near)


if __name__ == "__main__":
    main()
