#!/usr/bin/env python3
"""End-to-end reference for Tessera's token-reduction pipeline (`VisionTokenReducer.reduce(pixels:)` in
Sources/Tessera/VisionTokenReduction.swift) on the real CLIP and SigLIP fixture towers.

Writes (see "Pipeline fixtures" in Tests/Reference/README.md):

    Tests/Fixtures/towers/pipeline_expected.safetensors   "<tower>/<case>/<sample>/<name>" (F32 / I64, no batch dim)
    Tests/Fixtures/towers/pipeline_expected.json          manifest: cases, definitions, tensors, selection gaps,
                                                          float64 cross-check, versions

The per-method algorithms are NOT re-implemented here: they are imported from
Tests/Reference/make_reduction_fixtures.py (`divprune`, `visionzip`, `hiprune`, `prumerge_upstream`,
`hired_reference`, `compute_transf_weight`), which are themselves checked against upstream code there.
This script only supplies what the pipeline adds: the tower forward pass (transformers, eager attention), which
layer / attention statistics / keys feed each method, and the output conventions of the Swift pipeline.
Where a reference function cannot take the pipeline's input directly, a thin documented adapter is used:

  * CLS-less towers (SigLIP) for `visionzip` and `hired_reference`: these take CLS-query attention `[H, N+1]`
    (column 0 = CLS, ignored by the selection). We prepend a dummy column 0 to the per-head "attention received"
    `[H, N]` (mean over query rows), and for VisionZip a dummy zero row 0 to the hidden states and keys. The
    reference always puts index 0 among the dominant tokens, so the dummy row never joins the contextual merge;
    it is dropped from the output (as the CLS row is for CLIP).
  * `hired_reference` single view (no tiles): P = 1 partition, budget_rate = 1, alpha = keep / N, so
    `full = int(N * keep/N) = keep` and the tile budget is 0.
  * `hiprune` runs with upstream's alpha = 0.1: `round(budget * alpha / 5)` anchors (Python rounding), which is
    0 for budgets up to 25 (half to even), so at keep = 6 the pipeline case checks the registers; anchors and buffers are
    covered by the method fixtures (make_reduction_fixtures.py).
  * PruMerge with a fixed budget (`PruMerge.reduce(keep: 6)`): `prumerge_upstream` computes the adaptive ratio
    with `outlier_dectection`; `prumerge_fixed` swaps that module function for one returning keep / N while it
    runs, so upstream's `int(N * ratio)` = keep tokens are selected and PruMerge+ samples with
    `int(1 / ratio)` = `PruMerge.spatialSamples(count: keep)`.
  * PruMerge on SigLIP (no CLS): `prumerge_with_scores` below is a minimal variant of `prumerge_upstream` that
    takes the score vector (attention received) instead of computing the CLS row from q, k. It is asserted equal
    to `prumerge_fixed` on CLIP (with the CLS attention as the score) before it is used.
  * `check_top` of the reduction module raises on gaps < 1e-4; here it is replaced by a recorder (`GAPS`) so the
    smallest gap at every selection boundary is reported instead (near-tie threshold: 1e-5 relative).

Everything runs in float32 on CPU with 1 thread (as the Swift towers); the whole pipeline is run again in float64
(tower and references) and the kept indices are asserted equal, the feature differences recorded.

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_pipeline_fixtures.py
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import safetensors
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file, save_file
from transformers import CLIPVisionModel, SiglipVisionModel

ROOT = Path(__file__).resolve().parents[2]
TOWERS = ROOT / "Tests/Fixtures/towers"
OUT_ST = TOWERS / "pipeline_expected.safetensors"
OUT_JSON = TOWERS / "pipeline_expected.json"
REDUCTION = ROOT / "Tests/Reference/make_reduction_fixtures.py"
KEEP = 6
LAYER = -2
NEAR_TIE = 1e-5          # relative gap below which a selection is reported as a near-tie


def load_reduction_module():
    spec = importlib.util.spec_from_file_location("make_reduction_fixtures", REDUCTION)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


R = load_reduction_module()
torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------
# selection gaps (float64)
# ----------------------------------------------------------------------------------------------

GAPS: list[dict] = []
_label: list[str] = []           # current case label; None = do not record (float64 pass)


def boundary_gap(values, k):
    """Gap between the k-th and (k+1)-th largest finite value (float64). None if there is no boundary."""
    v = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    v = v[np.isfinite(v)]
    if k <= 0 or k >= len(v):
        return None
    gap = float(v[k - 1] - v[k])
    scale = max(abs(v[k - 1]), abs(v[k]), 1e-300)
    return gap, gap / scale


def record(values, k, what):
    if not _label or _label[-1] is None:
        return
    g = boundary_gap(values, k)
    if g is None:
        return
    GAPS.append({"case": _label[-1], "selection": what, "k": int(k), "n": int(np.isfinite(values).sum()),
                 "gap": g[0], "relative_gap": g[1], "near_tie": g[1] < NEAR_TIE})


@contextlib.contextmanager
def labelled(label):
    _label.append(label)
    try:
        yield
    finally:
        _label.pop()


# the reduction module's own selection checks now record the boundary gap instead of asserting a 1e-4 margin
R.check_top = lambda values, k, what: record(np.asarray(values, dtype=np.float64), k, what)


# ----------------------------------------------------------------------------------------------
# adapters / variants of the reference functions
# ----------------------------------------------------------------------------------------------

def prumerge_fixed(q, k, feats, plus, nn_k, keep):
    """prumerge_upstream with the adaptive ratio replaced by keep / N (PruMerge.reduce(keep:))."""
    n = feats.shape[0]
    ratio = keep / n
    assert int(n * ratio) == keep
    original = R.outlier_dectection
    R.outlier_dectection = lambda attn: (ratio, float("nan"))
    try:
        return R.prumerge_upstream(q, k, feats, plus, nn_k)
    finally:
        R.outlier_dectection = original


def prumerge_with_scores(a, keys, feats, plus, nn_k, count):
    """Variant of prumerge_upstream for towers without CLS: `a` [N] (attention received) replaces the CLS
    attention in the selection (top `count`), the neighbour weights and the pruned-token sum; `keys` [N, Ck] are
    the patch keys. PruMerge+ samples arange(0, N-1, max(1, int(int(1/ratio)/3))) minus the selected, ratio =
    count/N. Neighbours: the nn_k most cosine-similar keys among all other patches. Returns rows in upstream
    order (top-k descending, then the samples) plus the pruned-sum row, like prumerge_upstream."""
    n, c = feats.shape
    _, idx = torch.topk(a, count, largest=True)
    R.check_top(a.double().numpy(), count, "prumerge topk")
    selected = idx.clone()
    if plus:
        step = int(1 / (count / n))
        seq = [i for i in range(0, n - 1, max(1, int(step / 3))) if i not in set(idx.tolist())]
        idx = torch.cat([idx, torch.tensor(seq, dtype=torch.long)])
    chosen = set(idx.tolist())
    compl = torch.tensor([i for i in range(n) if i not in chosen], dtype=torch.long)
    kn = F.normalize(keys, p=2, dim=-1)
    rows = []
    for i in idx.tolist():
        others = torch.tensor([j for j in range(n) if j != i], dtype=torch.long)
        sim = kn[others] @ kn[i]
        R.check_top(sim.double().numpy(), nn_k, "prumerge neighbours")
        nb = others[torch.topk(sim, nn_k, largest=True).indices]
        rows.append(feats[i] + torch.sum(feats[nb] * a[nb].unsqueeze(-1), dim=0))
    extra = torch.sum(feats[compl] * a[compl].unsqueeze(-1), dim=0)
    return dict(selected=selected, idx=idx, tokens=torch.stack(rows + [extra]))


def sorted_rows(r):
    """Upstream-ordered PruMerge rows -> sorted kept order (+ the pruned-sum row), as PruMerge.Result.tokens."""
    idx = r["idx"].numpy()
    order = np.argsort(idx, kind="stable")
    t = r["tokens"].numpy()
    return idx[order], np.concatenate([t[:-1][order], t[-1:]])


def with_dummy_column(per_head):
    """[H, N] per-head patch scores -> [H, N+1] with a zero dummy column 0 (the CLS slot of the references)."""
    return np.concatenate([np.zeros((per_head.shape[0], 1), per_head.dtype), per_head], axis=1)


# ----------------------------------------------------------------------------------------------
# the pipeline
# ----------------------------------------------------------------------------------------------

def encoder_layers(model):
    return model.vision_model.encoder.layers if hasattr(model, "vision_model") else model.encoder.layers


def run_sample(model, pixels, tower, sample, dtype, reference_hidden):
    """All cases of one tower on one sample; returns {case: {name: array}}."""
    cls = tower == "clip"
    prefix = 1 if cls else 0
    layers = encoder_layers(model)
    depth = len(layers)
    block = depth + LAYER if LAYER < 0 else LAYER
    cfg = model.config
    d, h = cfg.hidden_size, cfg.num_attention_heads
    hd = d // h
    grid = cfg.image_size // cfg.patch_size
    n = grid * grid
    keep = KEEP
    npf = np.float32 if dtype == torch.float32 else np.float64
    with torch.no_grad():
        out = model(pixel_values=pixels.to(dtype), output_hidden_states=True, output_attentions=True)
    hs = [x[0] for x in out.hidden_states]                     # [T, C] each
    att = [a[0] for a in out.attentions]                       # [H, T, T] each
    assert len(hs) == depth + 1 and hs[0].shape[0] == prefix + n
    for i, x in enumerate(hs):                                 # the tower is the fixture's tower
        err = (x.double() - reference_hidden[f"hidden_states.{i}"][sample].double()).abs().max().item()
        assert err < 1e-4, (tower, sample, i, err)
    hidden = hs[block + 1]                                     # [T, C]
    features = hidden[prefix:prefix + n]                       # [N, C]
    results = {}

    def lab(case):
        return labelled(f"{tower}/{case}/{sample}" if dtype == torch.float32 else None)

    def received_per_head(a):                                  # [H, T, T] -> [H, N]: mean over query rows
        return a.mean(dim=1)[:, prefix:prefix + n]

    # importance of the CLS-ranking methods (visionzip, hired): CLS row, or attention received (SigLIP)
    if cls:
        importance_attn = att[block][:, 0, :].numpy()          # [H, N+1]
    else:
        importance_attn = with_dummy_column(received_per_head(att[block]).numpy())   # [H, N+1], col 0 dummy
    importance = importance_attn[:, 1:].sum(0)                 # [N] head-summed

    # divprune
    with lab("divprune"):
        order, cand = R.divprune(features.numpy(), keep)
        for i, c in enumerate(cand):
            record(c, 1, f"divprune pick {i}")
        kept = np.sort(order)
        results["divprune"] = {"kept": kept, "order": order, "features": features.numpy()[kept]}

    # transprune: TTV over layers 0...block (attention and MLP sublayers), top keep over patch rows
    with lab("transprune"), torch.no_grad():
        ttv = torch.zeros(prefix + n, dtype=dtype)
        for l in range(block + 1):
            x = hs[l][None]
            lay = layers[l]
            b1 = lay.layer_norm1(x)
            a1 = lay.self_attn(hidden_states=b1)[0]
            mid = x + a1
            b2 = lay.layer_norm2(mid)
            a2 = lay.mlp(b2)
            assert (mid + a2 - hs[l + 1][None]).abs().max().item() < 1e-5
            ttv += R.compute_transf_weight(b1[0], a1[0]) + R.compute_transf_weight(b2[0], a2[0])
        v = ttv[prefix:prefix + n]
        score = v / (v.sum() + 1e-8)                           # TransPrune.score without IAP (same ranking)
        record(score.double().numpy(), keep, "transprune topk")
        kept = np.sort(torch.topk(score, keep).indices.numpy())
        results["transprune"] = {"kept": kept, "scores": v.numpy(), "features": features.numpy()[kept]}

    # hiprune
    with lab("hiprune"):
        object_layer = max(0, block // 3)
        obj = att[object_layer].mean(dim=1).mean(dim=0)[prefix:prefix + n].numpy()     # mean over rows, heads
        deep = att[block].mean(dim=1).mean(dim=0)[prefix:prefix + n].numpy()
        anchors = round(keep * 0.1 / 5)
        r = R.hiprune(obj, deep, grid, keep, 0.1, False)
        assert r["n_anchor"] == anchors, (r["n_anchor"], anchors)
        if anchors:
            record(obj, r["n_anchor"], "hiprune anchors")
        record(r["d"], r["n_reg"], "hiprune registers")
        kept = r["keep"]
        assert len(kept) == keep
        results["hiprune"] = {"kept": kept, "scores": deep, "object_scores": obj, "features": features.numpy()[kept]}
        if anchors:
            results["hiprune"]["anchors"] = r["anchors"]

    # visionzip
    with lab("visionzip"), torch.no_grad():
        lay = layers[block]
        keys = lay.self_attn.k_proj(lay.layer_norm1(hs[block][None]))[0]                # [T, C]
        keys = keys.reshape(-1, h, hd).mean(dim=1).numpy()                              # [T, hd]
        dominant = max(2, keep * 54 // 64)
        contextual = keep - dominant
        if cls:
            x_in, k_in = hidden.numpy(), keys
        else:   # dummy row 0 (see the module docstring)
            x_in = np.concatenate([np.zeros((1, d), npf), hidden.numpy()])
            k_in = np.concatenate([np.zeros((1, hd), npf), keys])
        record(importance, dominant, "visionzip dominant")
        r = R.visionzip(importance_attn, x_in, k_in, dominant + 1, contextual)
        for i, row in enumerate(r["sim"]):
            record(row, 1, f"visionzip contextual assign {i}")
        kept = r["dom"][1:] - 1
        tokens = r["tokens"][1:]
        assert tokens.shape == (keep, d)
        if not cls:
            assert np.array_equal(tokens[:dominant], features.numpy()[kept])
        results["visionzip"] = {"kept": kept, "scores": importance, "features": tokens,
                                "contextual_targets": r["targets"] - 1}

    # hired (single view)
    with lab("hired"):
        a = torch.from_numpy(importance_attn)[None]            # [P=1, H, N+1]
        r = R.hired_reference(a, a, grid, 1, 1, 1.0, keep / n, "blocks", "floor")
        assert r["budgets"] == [keep]
        kept = np.nonzero(r["mask"][0].numpy())[0]
        results["hired"] = {"kept": kept, "scores": importance, "features": features.numpy()[kept]}

    # prumerge / prumerge+ : q, k of the last layer (one head over the full width)
    with torch.no_grad():
        last = layers[depth - 1]
        b = last.layer_norm1(hs[depth - 1][None])
        q = last.self_attn.q_proj(b)[0]                        # [T, C]
        k = last.self_attn.k_proj(b)[0]
    nn_k = min(32, n - 1)
    variants = [("prumerge", False, keep), ("prumerge+", True, keep)]
    if cls:
        variants += [("prumerge_adaptive", False, None), ("prumerge+_adaptive", True, None)]
    for case, plus, budget in variants:
        with lab(case), torch.no_grad():
            if cls:
                if budget is None:
                    cls_attn = F.softmax((q @ k.T) * d ** -0.5, dim=-1)[0:1, 1:]
                    if int(n * R.outlier_dectection(cls_attn)[0]) == 0:   # upstream PruMerge+ divides by 0
                        results[case] = None
                        continue
                    r = R.prumerge_upstream(q, k, features, plus, nn_k)
                    a = r["cls_attn"].double().numpy()
                    record(a, r["n_selected"], "prumerge topk")
                    # the outlier count flips if a score crosses Q3 + 1.5 IQR: gap relative to the threshold
                    j = int(np.argmin(np.abs(a - r["upper"])))
                    gap = float(abs(a[j] - r["upper"]))
                    rel = gap / max(abs(a[j]), abs(r["upper"]))
                    if _label[-1] is not None:
                        GAPS.append({"case": _label[-1], "selection": "prumerge IQR threshold", "k": r["n_selected"],
                                     "n": n, "gap": gap, "relative_gap": rel, "near_tie": bool(rel < NEAR_TIE),
                                     "upper_bound": r["upper"], "nearest_score": float(a[j])})
                else:
                    r = prumerge_fixed(q, k, features, plus, nn_k, budget)
                    record(r["cls_attn"].double().numpy(), budget, "prumerge topk")
                    # the score-vector variant must agree with the reference on CLIP
                    with labelled(None):
                        v = prumerge_with_scores(r["cls_attn"], k[1:], features, plus, nn_k, budget)
                    assert torch.equal(v["idx"], r["idx"])
                    assert (v["tokens"] - r["tokens"]).abs().max().item() < 1e-5
                scores = r["cls_attn"].numpy()
            else:
                logits = (q @ k.T) * d ** -0.5
                received = F.softmax(logits, dim=-1).mean(dim=0)        # [N]
                r = prumerge_with_scores(received, k, features, plus, nn_k, budget)
                scores = received.numpy()
            kept, tokens = sorted_rows(r)
            results[case] = {"kept": kept, "selected": np.sort(r["selected"].numpy()), "scores": scores,
                             "features": tokens}
    return results


DEFINITIONS = {
    "common": "layer = -2 -> block = depth + layer = 0 (2-layer towers); keep = 6 patch tokens; prefix = 1 (CLIP CLS) "
              "or 0 (SigLIP); features = hidden_states[block+1][prefix:prefix+16] (output of layer `block`); "
              "attention of layer l = attentions[l] (eager softmax probabilities). Every sample runs alone (batch 1). "
              "kept = original patch indices (0..15, CLS excluded), ascending; positions = (0, kept / 4, kept % 4).",
    "divprune": "kept = sorted(divprune(features, keep)); order = greedy pick order; features = features[kept].",
    "transprune": "TTV = sum over layers l = 0...block of compute_transf_weight(b1, a1) + compute_transf_weight(b2, a2), "
                  "b1 = layer_norm1(x_l), a1 = self_attn(b1), b2 = layer_norm2(x_l + a1), a2 = mlp(b2), over all T "
                  "tokens (CLS included); scores = TTV[prefix:prefix+16]; kept = top keep of scores/(sum+1e-8), "
                  "sorted; features = features[kept].",
    "hiprune": "received(l)[j] = mean over heads of (mean over all T query rows of attentions[l][h, :, prefix+j]); "
               "object layer = max(0, block div 3), deep layer = block (both 0 here: object_scores == scores); "
               "hiprune(object, deep, W=4, budget=keep, alpha=0.1) as upstream: round(keep*0.1/5) = 0 anchors at keep 6, "
               "so the kept tokens are the registers (top keep by the deep score); no row-wrap check.",
    "visionzip": "dominant = max(1, keep*54 div 64) = 5 patches, contextual = keep - dominant = 1. CLIP: scores = CLS "
                 "row attentions[block][:, 0, 1:] summed over heads; SigLIP: scores = sum_h mean_i "
                 "attentions[block][h, i, j] (attention received). keys = k_proj(layer_norm1(hidden_states[block])) "
                 "[T, H, 32] averaged over heads; visionzip(attn, hidden, keys, dominant+1, contextual) with CLIP's "
                 "real CLS row / SigLIP's dummy row 0; features = tokens without row 0 = [dominant patches (sorted), "
                 "contextual]; kept = dominant patch indices.",
    "hired": "single view: scores as visionzip (CLS attention of layer block summed over heads; SigLIP: attention "
             "received summed over heads); kept = top keep (hired_reference with P = 1, rate 1, alpha = keep/N); "
             "features = features[kept].",
    "prumerge": "q, k = q_proj / k_proj(layer_norm1(hidden_states[depth-1])) of the last layer, one head over the full "
                "width 64. CLIP: scores = softmax(q k^T / 8)[0, 1:] (CLS row); SigLIP: scores = mean over rows i of "
                "softmax(q k^T / 8)[i, j] over the 16 tokens. Selected = top keep (fixed budget, "
                "PruMerge.reduce(keep: 6)); neighbours = min(32, N-1) = 15 (= every other patch) by cosine of the "
                "keys (CLIP k[1:], SigLIP k); token_i = y_i + sum_j scores_j y_j; extra row = sum over pruned "
                "patches of scores_j y_j. features = rows in sorted kept order, then the extra row.",
    "prumerge+": "prumerge plus spatial samples arange(0, N-1, max(1, int(int(N/keep)/3))) = every patch 0..14 "
                 "not selected (stride 1 for keep 6 of 16).",
    "prumerge_adaptive": "CLIP only: prumerge_upstream as is (keep = nil): selected count = number of IQR outliers "
                         "of the CLS attention (a > Q3 + 1.5 IQR, numpy linear percentile).",
    "prumerge+_adaptive": "CLIP only: prumerge+ with the adaptive count (samples with ratio = count/N).",
}

TENSOR_DOCS = {
    "kept": "I64 [k] kept patch indices, ascending (the pipeline's `indices`)",
    "features": "F32 [rows, 64] the pipeline's `features` (rows with an index in index order, then contextual / "
                "pruned-sum rows)",
    "scores": "F32 [16] the patch scores the selection ranks (see the definition)",
    "object_scores": "F32 [16] hiprune object-layer scores",
    "anchors": "I64 [anchorCount] hiprune anchors",
    "order": "I64 [keep] divprune greedy pick order",
    "selected": "I64 [k] prumerge patches chosen by attention (before PruMerge+ samples), ascending",
    "contextual_targets": "I64 [contextual] visionzip contextual target patch indices",
}


def main():
    t0 = time.perf_counter()
    torch.manual_seed(0)
    tensors, cases, f64 = {}, [], {}
    towers = [("clip", CLIPVisionModel), ("siglip", SiglipVisionModel)]
    for tower, cls in towers:
        ref = load_file(str(TOWERS / tower / "expected.safetensors"))
        pixel_values = ref["pixel_values"].float()
        model32 = cls.from_pretrained(TOWERS / tower, attn_implementation="eager", dtype=torch.float32).eval()
        model64 = cls.from_pretrained(TOWERS / tower, attn_implementation="eager", dtype=torch.float32).eval().double()
        for sample in range(pixel_values.shape[0]):
            px = pixel_values[sample:sample + 1]
            res32 = run_sample(model32, px, tower, sample, torch.float32, ref)
            res64 = run_sample(model64, px.double(), tower, sample, torch.float64, ref)
            for case, res in res32.items():
                key = f"{tower}/{case}/{sample}"
                if res is None:
                    cases.append({"key": key, "tower": tower, "case": case, "sample": sample, "skipped":
                                  "adaptive count is 0 (no IQR outliers)"})
                    continue
                other = res64[case]
                assert other is not None and np.array_equal(res["kept"], other["kept"]), (key, res["kept"], other["kept"])
                f64[key] = float(np.abs(res["features"].astype(np.float64) - other["features"]).max())
                meta = {}
                for name, arr in res.items():
                    a = np.asarray(arr)
                    t = torch.from_numpy(np.ascontiguousarray(a.astype(np.int64 if a.dtype.kind in "iub" else np.float32)))
                    tensors[f"{key}/{name}"] = t
                    meta[name] = {"shape": list(t.shape), "dtype": "I64" if a.dtype.kind in "iub" else "F32"}
                method = case.replace("_adaptive", "")
                cases.append({"key": key, "tower": tower, "case": case, "sample": sample, "method": method,
                              "keep": None if case.endswith("_adaptive") else KEEP, "layer": LAYER,
                              "kept": res["kept"].tolist(), "tensors": meta})
    # no safetensors metadata: keeps the file byte-stable
    save_file(tensors, str(OUT_ST))
    near = [g for g in GAPS if g["near_tie"]]
    min_gaps = {}
    for g in GAPS:
        if g["case"] not in min_gaps or g["relative_gap"] < min_gaps[g["case"]]["relative_gap"]:
            min_gaps[g["case"]] = {k: g[k] for k in ("selection", "k", "n", "gap", "relative_gap")}
    manifest = {
        "generator": "Tests/Reference/make_pipeline_fixtures.py",
        "reference_functions": "Tests/Reference/make_reduction_fixtures.py: divprune, compute_transf_weight, hiprune, "
                               "visionzip, hired_reference, prumerge_upstream (+ prumerge_with_scores, a variant "
                               "for towers without CLS, asserted equal to it on CLIP)",
        "swift": "Sources/Tessera/VisionTokenReduction.swift VisionTokenReducer.reduce(pixels:) with "
                 "TokenReductionOptions(method: <method>, keep: <keep>, layer: -2)",
        "models": "Tests/Fixtures/towers/clip (CLIPVisionModel, CLS) and siglip (SiglipVisionModel, no CLS); 2 layers, "
                  "width 64, 2 heads (head_dim 32), 56 px / patch 14 -> 4x4 grid; from_pretrained(float32, "
                  "attn_implementation='eager'), eval, CPU, torch.set_num_threads(1)",
        "input": "pixel_values[sample] of Tests/Fixtures/towers/<tower>/expected.safetensors (samples 0 = chelsea, "
                 "1 = astronaut), each as batch 1, output_hidden_states and output_attentions",
        "seeds": "none needed (no randomness); torch.manual_seed(0) set anyway",
        "key_format": "<tower>/<case>/<sample>/<tensor>; no batch dimension",
        "definitions": DEFINITIONS,
        "tensor_docs": TENSOR_DOCS,
        "cases": cases,
        "selection_gaps": {"threshold_relative": NEAR_TIE,
                           "doc": "float64 gap between the k-th and (k+1)-th largest score at every selection "
                                  "boundary (divprune: every greedy argmax; visionzip: also the contextual "
                                  "assignment argmax, trivial with 1 target; prumerge neighbours select 15 of 15 "
                                  "and have no boundary); relative = gap / max(|a|, |b|)",
                           "min_per_case": min_gaps, "near_ties": near},
        "float64_check": {"doc": "the same pipeline with the tower and references in float64: kept identical "
                                 "(asserted); max |features_f32 - features_f64| per case",
                          "max_abs_diff": f64},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "numpy": np.__version__,
                     "safetensors": safetensors.__version__},
    }
    OUT_JSON.write_text(json.dumps(manifest, indent=1) + "\n")
    for c in cases:
        print(f"{c['key']:34s} kept={c.get('kept', c.get('skipped'))}")
    print("min relative gap per case:")
    for k, g in min_gaps.items():
        print(f"  {k:34s} {g['relative_gap']:.3e} ({g['selection']}, gap {g['gap']:.3e})")
    print("near ties:", near if near else "none")
    print("max f32-f64 feature diff:", max(f64.values()))
    for p in (OUT_ST, OUT_JSON):
        print(p.relative_to(ROOT), p.stat().st_size)
    print(f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
