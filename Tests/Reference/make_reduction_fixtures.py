#!/usr/bin/env python3
"""Generate the token merging / pruning reference fixtures for Tessera's Swift tests.

Produces (see "Token reduction fixtures" in Tests/Reference/README.md):

    Tests/Fixtures/reduction/cases.safetensors   tensors keyed "<case>/<name>" (F32 / I64)
    Tests/Fixtures/reduction/cases.json          [{case, method, params, tensors{name:{shape,dtype,doc}}, description}]
    Tests/Fixtures/reduction/PROVENANCE.json     upstream commits, tool versions, sha256 of the two files

Algorithms follow /work/shared/reference/token-reduction.md.

ToMe uses the *official* code: facebookresearch/ToMe `tome/merge.py` (bipartite_soft_matching,
merge_wavg, merge_source) and `tome/utils.py` (parse_r), extracted at a pinned commit from a git
mirror into a temporary directory and imported from there (nothing from ToMe is copied into this
repository).  An independent numpy re-implementation from the doc is checked against it.
tomesd (dbolya/tomesd `tomesd/merge.py`) and TempMe's matching (LunarShen/TempMe
`tvr/models/module_tome_merge.py`) are also run from their official code, read from mirrors at pinned
commits.  PruMerge(+) (42Shawn/LLaVA-PruMerge), HiRED (hasanar1f/HiRED) and TransPrune
(liaolea/TransPrune) are re-typed in torch from the upstream files named in PROVENANCE.json (they
cannot be imported without their models).  VisionZip, DivPrune, FastV, HiPrune and ClustViT's core
are written here in numpy / torch directly from the doc.

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_reduction_fixtures.py \
        [--tome-mirror /work/.mirror/facebookresearch+ToMe/repo] [--tomesd-mirror …] [--tempme-mirror …]

All inputs come from seeded numpy Generators; selections are checked to be tie-free with a margin
(>= 1e-4 relative to the runner-up) so a float32 implementation makes the same choices.
The output directory is deleted and regenerated; the output is deterministic.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "reduction"
TOME_COMMIT = "af95e4b1befa172dadccd8c81e223b10090f9579"
TOMESD_COMMIT = "27a14a372beecaa85c101fb588631643f379b8ce"
TEMPME_COMMIT = "e62493037bc6defb95b281c6e720b7d6afcbd607"
MARGIN = 1e-4

torch.set_num_threads(1)

CASES: list[dict] = []
TENSORS: dict[str, torch.Tensor] = {}


def add_case(case, method, params, tensors, description):
    """tensors: name -> (array, doc)."""
    meta = {}
    for name, (arr, doc) in tensors.items():
        a = np.asarray(arr)
        if a.dtype.kind == "f":
            t = torch.from_numpy(np.ascontiguousarray(a.astype(np.float32)))
            dt = "F32"
        elif a.dtype.kind in "iub":
            t = torch.from_numpy(np.ascontiguousarray(a.astype(np.int64)))
            dt = "I64"
        else:
            raise TypeError(a.dtype)
        key = f"{case}/{name}"
        assert key not in TENSORS, key
        TENSORS[key] = t
        meta[name] = {"shape": list(t.shape), "dtype": dt, "doc": doc}
    CASES.append({"case": case, "method": method, "params": params, "tensors": meta,
                  "description": description})


def check_top(values, k, what):
    """values: 1-D float64. The k-th largest must beat the (k+1)-th by MARGIN and the top k must
    be pairwise distinct by MARGIN (so their order is unambiguous too)."""
    v = np.sort(np.asarray(values, dtype=np.float64)[np.isfinite(values)])[::-1]
    top = v[: min(k + 1, len(v))]
    if len(top) > 1:
        gaps = top[:-1] - top[1:]
        assert gaps.min() > MARGIN, f"{what}: near-tie {gaps.min():.2e}"


def check_argmax_rows(m, what):
    for i, row in enumerate(m):
        if not np.isfinite(row).any():
            continue
        check_top(row, 1, f"{what} row {i}")


# ----------------------------------------------------------------------------------------------
# ToMe (official code)
# ----------------------------------------------------------------------------------------------

def load_tome(mirror: Path, tmp: Path):
    mods = {}
    for name in ("merge", "utils"):
        src = subprocess.run(["git", "-C", str(mirror), "show", f"{TOME_COMMIT}:tome/{name}.py"],
                             check=True, capture_output=True, text=True).stdout
        p = tmp / f"tome_{name}.py"
        p.write_text(src)
        if name == "utils":
            # utils.py imports tqdm only for benchmark(); parse_r does not need it.
            sys.modules.setdefault("tqdm", type(sys)("tqdm"))
            sys.modules["tqdm"].tqdm = lambda *a, **k: None
        spec = importlib.util.spec_from_file_location(f"tome_{name}", p)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods[name] = mod
    return mods["merge"], mods["utils"]


def tome_numpy(metric, x, sizes, r, class_token):
    """Independent re-implementation from the doc (float64), used to cross-check the official code
    and to expose the intermediate index tensors."""
    T = metric.shape[0]
    protected = 1 if class_token else 0
    r = min(r, (T - protected) // 2)
    m = metric / np.linalg.norm(metric, axis=-1, keepdims=True)
    a, b = m[0::2], m[1::2]
    scores = a @ b.T
    if class_token:
        scores[0, :] = -np.inf
    node_max = scores.max(-1)
    node_idx = scores.argmax(-1)
    edge_idx = np.argsort(-node_max, kind="stable")
    unm_idx, src_idx = edge_idx[r:], edge_idx[:r]
    if class_token:
        unm_idx = np.sort(unm_idx)
    dst_idx = node_idx[src_idx]
    na, nb = len(a), len(b)
    slot = np.empty(T, np.int64)
    slot[2 * unm_idx] = np.arange(len(unm_idx))
    slot[1::2] = len(unm_idx) + np.arange(nb)
    slot[2 * src_idx] = len(unm_idx) + dst_idx
    M = T - r
    s_out = np.zeros(M)
    np.add.at(s_out, slot, sizes)
    xs = np.zeros((M, x.shape[1]))
    np.add.at(xs, slot, x * sizes[:, None])
    return dict(r=r, scores=scores, node_max=node_max, node_idx=node_idx, edge_idx=edge_idx,
                unm_idx=unm_idx, src_idx=src_idx, dst_idx=dst_idx, slot=slot,
                merged=xs / s_out[:, None], sizes=s_out)


def tome_case(merge_mod, case, T, r, class_token, seed, sizes_kind, desc):
    rng = np.random.default_rng(seed)
    metric = rng.standard_normal((T, 8)).astype(np.float32)
    x = rng.standard_normal((T, 6)).astype(np.float32)
    if sizes_kind == "ones":
        sizes = np.ones(T, np.float32)
    else:
        sizes = rng.integers(1, 5, size=T).astype(np.float32)
    ref = tome_numpy(metric.astype(np.float64), x.astype(np.float64), sizes.astype(np.float64),
                     r, class_token)
    # tie-freeness: every A row's argmax over B, and the ordering of node_max (all of it, since
    # the unm order is edge order when class_token is False)
    check_argmax_rows(ref["scores"], case + " node_max")
    check_top(ref["node_max"], len(ref["node_max"]), case + " edge order")

    mt = torch.from_numpy(metric)[None]
    xt = torch.from_numpy(x)[None]
    st = torch.from_numpy(sizes)[None, :, None]
    merge, unmerge = merge_mod.bipartite_soft_matching(mt, r, class_token=class_token)
    merged, s_out = merge_mod.merge_wavg(merge, xt, st)
    source = merge_mod.merge_source(merge, xt)[0]  # [T_out, T] one-hot (amax of identity rows)
    merged, s_out = merged[0].numpy(), s_out[0, :, 0].numpy()
    source = source.numpy()
    assert (source.sum(0) == 1).all()
    slot_of = source.argmax(0).astype(np.int64)
    assert (slot_of == ref["slot"]).all(), case
    assert np.allclose(merged, ref["merged"], atol=1e-5), case
    assert np.allclose(s_out, ref["sizes"]), case
    unmerged = merged[slot_of]
    # the official unmerge must agree with merged[slot_of]
    assert np.array_equal(unmerge(torch.from_numpy(merged)[None])[0].numpy(), unmerged)
    f64 = float(np.abs(merged - ref["merged"]).max())

    add_case(case, "tome", {"r": r, "r_effective": ref["r"], "class_token": class_token,
                            "distill_token": False, "f64_max_abs_diff_merged": f64},
             {
                 "metric": (metric, "[T, 8] matching metric (keys averaged over heads)"),
                 "x": (x, "[T, 6] tokens to merge"),
                 "sizes_in": (sizes, "[T] token sizes before merging"),
                 "merged": (merged, "[T-r_eff, 6] merge_wavg output, order = concat(A[unm], B)"),
                 "sizes_out": (s_out, "[T-r_eff] merged sizes"),
                 "source": (source, "[T-r_eff, T] merge_source one-hot (float32)"),
                 "slot_of": (slot_of, "[T] output slot of each input token"),
                 "unmerged": (unmerged, "[T, 6] merged[slot_of] (== official unmerge)"),
                 "node_max": (ref["node_max"], "[ceil(T/2)] max cosine of each A (even) token "
                              "over B (odd); -inf for the class token"),
                 "node_idx": (ref["node_idx"], "[ceil(T/2)] argmax B index (within B) per A token"),
                 "src_idx": (ref["src_idx"], "[r_eff] merged A indices (within A), edge order"),
                 "dst_idx": (ref["dst_idx"], "[r_eff] their B destinations (within B)"),
                 "unm_idx": (ref["unm_idx"], "[ceil(T/2)-r_eff] unmerged A indices (within A); "
                             "ascending only when class_token"),
             }, desc)


# ----------------------------------------------------------------------------------------------
# VisionZip
# ----------------------------------------------------------------------------------------------

def visionzip(attn, X, K, D, Cn):
    N1 = X.shape[0]
    s = attn[:, 1:].sum(0)                                  # [N]
    top = np.argsort(-s, kind="stable")[: D - 1] + 1
    dom = np.sort(np.concatenate([[0], top]))
    rest = np.array([i for i in range(N1) if i not in set(dom)])
    Kn = K[rest] / np.linalg.norm(K[rest], axis=-1, keepdims=True)
    step = max(1, len(rest) // Cn)
    t_loc = np.arange(0, len(rest), step)[:Cn]
    nt_loc = np.array([i for i in range(len(rest)) if i not in set(t_loc)])
    sim = Kn[nt_loc] @ Kn[t_loc].T
    assign = sim.argmax(-1)
    ctx = []
    for j in range(len(t_loc)):
        members = nt_loc[assign == j]
        agg = X[rest[members]].mean(0) if len(members) else np.zeros(X.shape[1])
        ctx.append(X[rest[t_loc[j]]] + agg)
    tokens = np.concatenate([X[dom], np.stack(ctx)])
    return dict(s=s, dom=dom, rest=rest, targets=rest[t_loc], nontargets=rest[nt_loc],
                assign=assign, sim=sim, tokens=tokens)


def visionzip_case():
    H, N1, D, Cn = 2, 17, 5, 3
    for seed in range(301, 400):  # first seed whose case is tie-free and has no empty target
        rng = np.random.default_rng(seed)
        attn = torch.softmax(torch.from_numpy(rng.standard_normal((H, N1)) * 2.0), -1).numpy()
        attn = attn.astype(np.float32)
        X = rng.standard_normal((N1, 6)).astype(np.float32)
        K = rng.standard_normal((N1, 4)).astype(np.float32)
        r = visionzip(attn.astype(np.float64), X.astype(np.float64), K.astype(np.float64), D, Cn)
        try:
            check_top(r["s"], D - 1, "visionzip dominant")
            check_argmax_rows(r["sim"], "visionzip assign")
            assert np.bincount(r["assign"], minlength=Cn).min() >= 1
            break
        except AssertionError:
            continue
    add_case("visionzip", "visionzip", {"seed": seed, "dominant": D, "contextual": Cn,
                                         "dominant_includes_cls": True,
                                         "step": max(1, len(r["rest"]) // Cn)}, {
        "cls_attn": (attn, "[H=2, N+1=17] CLS-row attention (softmax over all N+1 keys)"),
        "x": (X, "[N+1, 6] hidden states (index 0 = CLS)"),
        "keys": (K, "[N+1, 4] keys averaged over heads"),
        "tokens": (r["tokens"], "[D+Cn, 6] = [CLS, dominant..., contextual...]"),
        "dominant_indices": (r["dom"], "[D] sorted original indices incl. 0 (CLS)"),
        "contextual_targets": (r["targets"], "[Cn] original indices of the target tokens"),
        "contextual_assign": (r["assign"], "[|R|-Cn] target slot (0..Cn-1) of each non-target, "
                              "non-targets in original order"),
        "contextual_members": (r["nontargets"], "[|R|-Cn] original indices of the non-targets"),
    }, "VisionZip: dominant = CLS + top (D-1) by head-summed CLS attention to patches (original "
       "order); rest R in original order; targets = R[::step][:Cn], step = max(1,|R| div Cn); "
       "each non-target -> argmax cosine (normalized keys) target; contextual = X_target + "
       "mean(X_assigned) (+0 if none).")


# ----------------------------------------------------------------------------------------------
# DivPrune
# ----------------------------------------------------------------------------------------------

def divprune(X, k):
    Xn = X / np.linalg.norm(X, axis=-1, keepdims=True)
    Dm = 1.0 - Xn @ Xn.T
    N = len(X)
    nn = np.where(np.eye(N, dtype=bool), np.inf, Dm).min(0)   # nearest-neighbour distance
    order = [int(np.argmax(nn))]
    gaps = [nn]
    run = Dm[order[0]].copy()
    run[order[0]] = -np.inf
    for _ in range(1, k):
        j = int(np.argmax(run))
        gaps.append(run.copy())
        order.append(j)
        run = np.minimum(run, Dm[j])
        run[order] = -np.inf
    return np.array(order), gaps


def divprune_case():
    rng = np.random.default_rng(401)
    X = rng.standard_normal((20, 6)).astype(np.float32)
    k = 6
    order, gaps = divprune(X.astype(np.float64), k)
    for i, g in enumerate(gaps):
        check_top(g, 1, f"divprune pick {i}")
    add_case("divprune", "divprune", {"k": k, "ratio": k / 20, "seed_rule": "max_nn_distance"}, {
        "x": (X, "[N=20, 6] tokens"),
        "kept": (np.sort(order), "[k] kept indices, sorted"),
        "order": (order, "[k] greedy pick order"),
    }, "DivPrune max-min diversity: D = 1 - cos(X,X); first pick = argmax_j min_{i!=j} D[i,j]; "
       "then argmax_j min_{s in S} D[s,j] over unpicked j.")


# ----------------------------------------------------------------------------------------------
# FastV
# ----------------------------------------------------------------------------------------------

def fastv(attn_mean, start, length, R):
    keep_n = round(length * (1 - R))   # Python round: half-to-even
    img = attn_mean[start:start + length]
    top = np.argsort(-img, kind="stable")[:keep_n] + start
    L = len(attn_mean)
    pos = np.sort(np.concatenate([np.arange(start), top, np.arange(start + length, L)]))
    return np.sort(top), pos, keep_n


def fastv_case(case, R, seed, note):
    rng = np.random.default_rng(seed)
    H, L, start, end = 4, 30, 4, 20
    attn = torch.softmax(torch.from_numpy(rng.standard_normal((H, L)) * 1.5), -1).numpy()
    attn = attn.astype(np.float32)
    mean = attn.astype(np.float64).mean(0)
    kept, pos, keep_n = fastv(mean, start, end - start, R)
    check_top(mean[start:end], keep_n, case)
    add_case(case, "fastv", {"image_start": start, "image_len": end - start, "R": R,
                             "keep_count": keep_n, "seq_len": L}, {
        "attn_last": (attn, "[H=4, L=30] attention row of the last query (position 29) per head"),
        "attn_mean": (mean, "[L] heads averaged"),
        "kept": (kept, "[keep_count] kept image positions (absolute, sorted)"),
        "position_ids": (pos, "[L - image_len + keep_count] all kept positions (gapped)"),
    }, "FastV: keep round(len*(1-R)) image tokens by head-averaged last-query attention, plus all "
       "text; " + note)


# ----------------------------------------------------------------------------------------------
# HiPrune
# ----------------------------------------------------------------------------------------------

def hiprune(obj, deep, W, budget, alpha, wrap_check):
    N = len(obj)
    n_anchor = round(budget * alpha / 5)
    anchors = np.argsort(-obj, kind="stable")[:n_anchor]
    chosen = set(int(a) for a in anchors)
    buffers = []
    for a in anchors:
        a = int(a)
        for d in (-1, 1, -W, W):
            j = a + d
            if wrap_check:
                if abs(d) == 1 and (j < 0 or j >= N or j // W != a // W):
                    continue
                if j < 0 or j >= N:
                    continue
            else:
                j = min(max(j, 0), N - 1)
            buffers.append(j)
            chosen.add(j)
    n_reg = budget - len(chosen)
    d = deep.copy()
    d[sorted(chosen)] = -np.inf
    regs = np.argsort(-d, kind="stable")[:max(n_reg, 0)]
    keep = np.array(sorted(chosen | set(int(r) for r in regs)))
    return dict(n_anchor=n_anchor, anchors=np.sort(anchors), buffers=np.array(sorted(set(buffers))),
                regs=np.sort(regs), keep=keep, d=d, n_reg=n_reg)


def hiprune_cases():
    rng = np.random.default_rng(601)
    W, N, budget = 6, 36, 10
    # score computation from attention maps: mean over heads and all query rows, drop CLS column
    attn = torch.softmax(torch.from_numpy(rng.standard_normal((2, N + 1, N + 1)) * 2.0), -1)
    attn = attn.numpy().astype(np.float32)
    score = attn.astype(np.float64).mean(axis=(0, 1))[1:]
    add_case("hiprune_scores", "hiprune_scores", {"cls": True}, {
        "attn": (attn, "[H=2, N+1=37, N+1] attention probabilities (index 0 = CLS)"),
        "score": (score, "[N=36] mean over heads and all N+1 query rows (CLS row included), "
                  "CLS column dropped"),
    }, "HiPrune score = attention received, mean over heads and query rows, CLS dropped.")

    # selection cases on crafted scores: anchors at 11 (row 1, col 5) and 17 (row 2, col 5),
    # which are each other's vertical buffers; +1 of both wraps to the next row (12, 18).
    obj = rng.uniform(0.0, 1.0, N)
    obj[11], obj[17] = 3.0, 2.5
    deep = rng.uniform(0.0, 1.0, N)
    deep[12], deep[11] = 2.9, 2.7   # 12: buffer only without the wrap check; 11: an anchor
    obj, deep = obj.astype(np.float32), deep.astype(np.float32)
    for alpha in (0.1, 1.0):
        for wrap in (False, True):
            if alpha == 0.1 and wrap:
                continue
            r = hiprune(obj.astype(np.float64), deep.astype(np.float64), W, budget, alpha, wrap)
            check_top(obj.astype(np.float64), r["n_anchor"], "hiprune anchors")
            check_top(r["d"], r["n_reg"], "hiprune registers")
            name = ("hiprune_alpha0p1" if alpha == 0.1 else
                    "hiprune_wrapcheck" if wrap else "hiprune_nowrapcheck")
            add_case(name, "hiprune", {
                "grid_h": 6, "grid_w": W, "budget": budget, "alpha": alpha,
                "anchor_count": r["n_anchor"], "anchor_formula": "round(budget*alpha/5)",
                "row_wrap_check": wrap, "register_count": r["n_reg"]}, {
                "object_scores": (obj, "[N=36] object-layer scores (CLS already dropped)"),
                "deep_scores": (deep, "[N=36] deep-layer scores"),
                "anchors": (r["anchors"], "[anchor_count] anchor indices, sorted"),
                "buffers": (r["buffers"], "[*] unique buffer indices, sorted (may include "
                            "anchors)"),
                "registers": (r["regs"], "[register_count] register indices, sorted"),
                "kept": (r["keep"], "[budget] kept indices, sorted"),
            }, "HiPrune: anchors = top round(N'*alpha/5) by object score; buffers = anchor +-1, "
               "+-W; registers = top (N' - |anchors u buffers|) by deep score excluding chosen. " +
               ("alpha=0.1 gives round(0.2)=0 anchors, so kept = top-10 deep scores."
                if alpha == 0.1 else
                "row_wrap_check: +-1 neighbours in another row and +-W outside [0,N) are dropped "
                "(anchors here are not in the first/last row, so only the +-1 rule matters)."
                if wrap else
                "upstream: all four neighbours clamped to [0,N-1], no row check (12, 18 are wrapped "
                "+1 neighbours)."))


# ----------------------------------------------------------------------------------------------
# PruMerge / PruMerge+ (42Shawn/LLaVA-PruMerge clip_encoder.py, re-typed in torch)
# ----------------------------------------------------------------------------------------------

def complement_idx(idx, dim):
    """upstream complement_idx for a 1-D index: the sorted complement."""
    keep = set(int(i) for i in idx)
    return torch.tensor([i for i in range(dim) if i not in keep], dtype=torch.long)


def outlier_dectection(attn):
    """upstream, verbatim logic: numpy percentiles on float32, ratio of IQR outliers."""
    attn_np = attn.to(dtype=torch.float32).cpu().numpy().flatten()
    Q1 = np.percentile(attn_np, 25)
    Q3 = np.percentile(attn_np, 75)
    IQR = Q3 - Q1
    upper_bound = Q3 + 1.5 * IQR
    outlier_indices = np.where((attn_np > upper_bound))[0]
    return len(outlier_indices) / len(attn_np), float(upper_bound)


def prumerge_upstream(q, k, feats, plus, nn_k):
    """token_prune_merge_advanced(_plus), adaptive mode, batch 1, after the hooks: q, k [N+1, C]
    (k_proj/q_proj outputs), feats [N, C] (hidden_states[-2] without CLS). Generalization: the
    PruMerge+ sampling stops at N-1 (upstream: 575 for N = 576) with stride >= 1; the neighbour
    count is a parameter (upstream 32). Returns the upstream-ordered tokens and indices."""
    N, C = feats.shape
    attn = (q[None] @ k[None].transpose(-2, -1)) * q.shape[1] ** -0.5
    attn = F.softmax(attn, dim=-1)
    cls_attn = attn[:, 0, 1:]
    reduction_ratio, upper = outlier_dectection(cls_attn)
    _, idx = torch.topk(cls_attn, int(N * reduction_ratio), dim=1, largest=True)
    selected = idx[0].clone()
    if plus:
        step_length = int(1 / reduction_ratio)
        arithmetic_sequence = torch.arange(0, N - 1, max(1, int(step_length / 3)))
        original_tensor_1d = idx.flatten()
        filtered_sequence = torch.tensor([x for x in arithmetic_sequence if x not in original_tensor_1d],
                                         dtype=torch.long)
        idx = torch.cat((idx, filtered_sequence.unsqueeze(0)), dim=1)
    index = idx.unsqueeze(-1).expand(-1, -1, C)
    Key_wo_cls = k[None, 1:]
    image_features = feats[None]
    x_others = torch.gather(image_features, dim=1, index=index)
    x_others_attn = torch.gather(cls_attn, dim=1, index=idx)
    Key_others = torch.gather(Key_wo_cls, dim=1, index=idx.unsqueeze(-1).expand(-1, -1, k.shape[1]))
    compl = complement_idx(idx[0], N)[None]
    non_topk = torch.gather(image_features, dim=1, index=compl.unsqueeze(-1).expand(-1, -1, C))
    non_topk_Key = torch.gather(Key_wo_cls, dim=1, index=compl.unsqueeze(-1).expand(-1, -1, k.shape[1]))
    non_topk_attn = torch.gather(cls_attn, dim=1, index=compl)
    Key_others_norm = F.normalize(Key_others, p=2, dim=-1)
    non_topk_Key_norm = F.normalize(non_topk_Key, p=2, dim=-1)
    B, left_tokens, _ = x_others.size()
    updated_x_others = torch.zeros_like(x_others)
    neighbours = []
    order_all = torch.cat([idx[0], compl[0]])
    for i in range(left_tokens):
        key_others_norm = Key_others_norm[0, i, :].unsqueeze(0).unsqueeze(0)
        before_i_Key = Key_others_norm[0, :i, :].unsqueeze(0)
        after_i_Key = Key_others_norm[0, i + 1:, :].unsqueeze(0)
        rest_x_others = torch.cat([x_others[0, :i][None], x_others[0, i + 1:][None], non_topk[0][None]], dim=1)
        rest_x_others_attn = torch.cat([x_others_attn[0, :i][None], x_others_attn[0, i + 1:][None],
                                        non_topk_attn[0][None]], dim=1)
        rest_Keys = torch.cat([before_i_Key, after_i_Key, non_topk_Key_norm[0][None]], dim=1)
        cos_sim_matrix = torch.bmm(key_others_norm, rest_Keys.transpose(1, 2))
        check_top(cos_sim_matrix[0, 0].double().numpy(), nn_k, "prumerge neighbours")
        _, cluster_indices = torch.topk(cos_sim_matrix, k=int(nn_k), dim=2, largest=True)
        cluster_tokens = rest_x_others[:, cluster_indices.squeeze(), :]
        weights = rest_x_others_attn[:, cluster_indices.squeeze()].unsqueeze(-1)
        weighted_avg = torch.sum(cluster_tokens * weights, dim=1)
        updated_x_others[0, i, :] = x_others[0, i, :] + weighted_avg
        rest_orig = torch.cat([order_all[:i], order_all[i + 1:left_tokens], compl[0]])
        neighbours.append(np.sort(rest_orig[cluster_indices.squeeze()].numpy()))
    extra_one_token = torch.sum(non_topk * non_topk_attn.unsqueeze(-1), dim=1, keepdim=True)
    tokens = torch.cat([updated_x_others, extra_one_token], dim=1)[0]
    return dict(cls_attn=cls_attn[0], upper=upper, n_selected=int(selected.numel()), selected=selected,
                idx=idx[0], tokens=tokens, neighbours=neighbours)


def prumerge_cases():
    N, C, Ck = 64, 8, 16
    for case, plus, nn_k, seed0 in (("prumerge", False, 32, 701), ("prumerge_plus", True, 32, 751),
                                    ("prumerge_nn8", False, 8, 801)):
        for seed in range(seed0, seed0 + 200):
            rng = np.random.default_rng(seed)
            q = rng.standard_normal((N + 1, Ck)).astype(np.float32)
            k = rng.standard_normal((N + 1, Ck)).astype(np.float32)
            outl = rng.choice(N, 5, replace=False) + 1          # a few CLS-attention outliers
            k[outl] += 2.5 * q[0] / np.linalg.norm(q[0])
            y = rng.standard_normal((N, C)).astype(np.float32)
            try:
                with torch.no_grad():
                    r = prumerge_upstream(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(y), plus, nn_k)
                a = r["cls_attn"].double().numpy()
                assert r["n_selected"] >= 2
                check_top(a, r["n_selected"], case + " topk")
                assert np.abs(a - r["upper"]).min() > MARGIN * a.mean(), "threshold near a value"
                break
            except AssertionError:
                continue
        else:
            raise RuntimeError("no tie-free seed")
        idx = r["idx"].numpy()
        order = np.argsort(idx, kind="stable")
        kept = idx[order]
        tokens = np.concatenate([r["tokens"].numpy()[:-1][order], r["tokens"].numpy()[-1:]])
        neigh = np.stack([r["neighbours"][i] for i in order])
        add_case(case, "prumerge_plus" if plus else "prumerge", {
            "seed": seed, "variant": "plus" if plus else "prumerge", "neighbours": nn_k,
            "selected_count": r["n_selected"], "upper_bound": r["upper"],
            "outlier": "a > Q3 + 1.5*IQR (numpy.percentile linear, float32)",
            "sampling": "plus: arange(0, N-1, max(1, int(int(1/ratio)/3))) minus selected" if plus else "none",
        }, {
            "q": (q, "[N+1=65, 16] last-layer q_proj output (one head over the full width, 0 = CLS)"),
            "k": (k, "[N+1, 16] last-layer k_proj output"),
            "y": (y, "[N=64, 8] patch features (hidden_states[-2] without CLS)"),
            "cls_attn": (r["cls_attn"].numpy(), "[N] softmax(q k^T / sqrt(16))[CLS, 1:]"),
            "selected": (np.sort(r["selected"].numpy()), "[k] top-k by CLS attention (k = #outliers), sorted"),
            "kept": (kept, "[kept] all kept patch indices (selected + PruMerge+ samples), sorted"),
            "upstream_order": (idx, "[kept] upstream's token order: top-k descending, then samples"),
            "neighbours": (neigh, f"[kept, {nn_k}] patches merged into each kept token (sorted), kept order"),
            "tokens": (tokens, "[kept+1, 8] y_i + sum_j a_j y_j over the neighbours, rows in kept (sorted) "
                       "order; last row = sum over pruned patches of a_j y_j"),
        }, f"LLaVA-PruMerge{'+' if plus else ''} as 42Shawn/LLaVA-PruMerge token_prune_merge_advanced"
           f"{'_plus' if plus else ''} (adaptive), re-typed in torch; neighbours among all other patches "
           f"(kept and pruned), nn={nn_k}. Upstream emits rows in upstream_order; the fixture reorders them "
           "to sorted kept order (a permutation of upstream's rows).")


# ----------------------------------------------------------------------------------------------
# HiRED (hasanar1f/HiRED modeling_llava_next.py, re-typed in torch; 2D blocks added)
# ----------------------------------------------------------------------------------------------

def hired_reference(top_attn, bottom_attn, gw, rows, cols, rate, alpha, layout, rounding):
    """top_attn, bottom_attn: [P, H, N+1] CLS-query attention rows (P = 1 + tiles)."""
    N = top_attn.shape[-1] - 1
    top = top_attn[:, :, -N:].sum(dim=1)
    bottom = bottom_attn[:, :, -N:].sum(dim=1)
    P = top.shape[0]
    total = int(P * N * rate)
    full = min(int(total * alpha), N)
    sub = min(total - full, (P - 1) * N)
    mask = torch.zeros_like(bottom, dtype=torch.bool)
    mask[0, bottom[0].topk(full, largest=True).indices] = True
    check_top(bottom[0].double().numpy(), full, "hired full")
    budgets = [full]
    shares = np.zeros(P - 1, np.int64)
    if sub > 0:
        n_sp = int(N * (1 - alpha))
        check_top(top[0].double().numpy(), n_sp, "hired spatial")
        spatial = torch.zeros(N, dtype=torch.bool)
        spatial[top[0].topk(n_sp, largest=True).indices] = True
        gh = N // gw
        if layout == "raster_bands":   # upstream HiRED_sub_img_budgets
            sum_img_mask = spatial.reshape(rows, cols, -1).sum(dim=-1).reshape(-1)
        else:                          # 2D blocks of the grid: the tile holding each token's centre
            grid = spatial.reshape(gh, gw)
            tile_row = [(2 * y + 1) * rows // (2 * gh) for y in range(gh)]
            tile_col = [(2 * x + 1) * cols // (2 * gw) for x in range(gw)]
            sum_img_mask = torch.stack([sum(grid[y, x] for y in range(gh) for x in range(gw)
                                            if tile_row[y] == r and tile_col[x] == c).to(torch.int64)
                                        for r in range(rows) for c in range(cols)])
        shares = sum_img_mask.numpy().astype(np.int64)
        if rounding == "floor":
            budget_ratio = sum_img_mask / sum_img_mask.sum()
            tile_budgets = torch.clamp((budget_ratio * sub).int(), max=N).tolist()
        else:                          # largest remainder (exact integer shares)
            q = [sub * int(s) for s in shares]
            tot = int(shares.sum())
            tile_budgets = [min(x // tot, N) for x in q]
            left = min(sub, (P - 1) * N) - sum(tile_budgets)
            order = sorted(range(P - 1), key=lambda t: (-(q[t] % tot), t))
            while left > 0:
                for t in order:
                    if left > 0 and tile_budgets[t] < N:
                        tile_budgets[t] += 1
                        left -= 1
        for i, b in enumerate(tile_budgets):
            check_top(bottom[i + 1].double().numpy(), b, f"hired tile {i}")
            mask[i + 1, bottom[i + 1].topk(b, largest=True).indices] = True
        budgets += tile_budgets
    else:
        budgets += [0] * (P - 1)
    return dict(budgets=budgets, mask=mask, shares=shares, total=total)


def hired_cases():
    H, gw, rows, cols = 2, 6, 2, 2
    N, P = gw * gw, 1 + rows * cols
    for case, layout, rounding, rate, seed0 in (
            ("hired_blocks", "blocks", "floor", 0.3, 901),
            ("hired_bands", "raster_bands", "floor", 0.3, 931),
            ("hired_exact", "blocks", "largest_remainder", 0.35, 961)):
        for seed in range(seed0, seed0 + 100):
            rng = np.random.default_rng(seed)
            top = torch.softmax(torch.from_numpy(rng.standard_normal((P, H, N + 1)) * 2.0), -1).float()
            bottom = torch.softmax(torch.from_numpy(rng.standard_normal((P, H, N + 1)) * 2.0), -1).float()
            try:
                r = hired_reference(top, bottom, gw, rows, cols, rate, 0.5, layout, rounding)
                break
            except AssertionError:
                continue
        else:
            raise RuntimeError("no tie-free seed")
        kept = [np.nonzero(r["mask"][p].numpy())[0] for p in range(P)]
        add_case(case, "hired", {"seed": seed, "grid_w": gw, "tile_rows": rows, "tile_cols": cols,
                                 "budget_rate": rate, "alpha": 0.5, "layout": layout, "rounding": rounding,
                                 "total_budget": r["total"], "budgets": r["budgets"]}, {
            "early_attn": (top[0].numpy(), "[H=2, N+1=37] full-view CLS-query attention of the early "
                           "layer (upstream layer 0); only the full view's is used"),
            "late_attn": (bottom.numpy(), "[P=5, H, N+1] late-layer (upstream 22) CLS-query attention, "
                          "full view then tiles (raster)"),
            "budgets": (np.array(r["budgets"]), "[P] kept per partition"),
            "tile_shares": (r["shares"], "[tiles] early top tokens of the full view inside each tile"),
            "kept": (np.concatenate(kept), "[sum(budgets)] kept indices per partition (each sorted), "
                     "concatenated"),
        }, f"HiRED token selection, 6x6 grid, 2x2 tiles, rate {rate}, alpha 0.5, tile layout {layout}, "
           f"rounding {rounding} (floor = upstream (ratio*budget).int() in float32).")


# ----------------------------------------------------------------------------------------------
# TransPrune (liaolea/TransPrune compute_transf_weight + transprune_rank_drop, re-typed in torch)
# ----------------------------------------------------------------------------------------------

def compute_transf_weight(before_hidden_states, after_hidden_states):
    before_norm = torch.norm(before_hidden_states, dim=-1)
    after_norm = torch.norm(after_hidden_states, dim=-1)
    length_ratio = after_norm / before_norm
    cosine_similarities = 1 - F.cosine_similarity(before_hidden_states, after_hidden_states, dim=-1)
    exp_cosine = torch.exp(cosine_similarities)
    necc = exp_cosine / exp_cosine.sum()
    return length_ratio * necc


def transprune_case():
    T, C, L, start, n_img, H, Q = 20, 8, 2, 4, 12, 2, 4
    keep = int(n_img * 0.625)
    for seed in range(1001, 1100):
        rng = np.random.default_rng(seed)
        ins = rng.standard_normal((L, 2, T, C)).astype(np.float32)     # [layer, attn/ffn, T, C] normed inputs
        outs = (rng.standard_normal((L, 2, T, C)) * rng.uniform(0.3, 2.0, (L, 2, T, 1))).astype(np.float32)
        logits = rng.standard_normal((H, Q, T)) * 2.0
        attn = torch.softmax(torch.from_numpy(logits), -1).float()      # text queries' attention rows
        with torch.no_grad():
            weights = [compute_transf_weight(torch.from_numpy(ins[l, 0]), torch.from_numpy(outs[l, 0])) +
                       compute_transf_weight(torch.from_numpy(ins[l, 1]), torch.from_numpy(outs[l, 1]))
                       for l in range(L)]
            acc = torch.zeros(n_img)
            for w in weights:
                acc += w[start:start + n_img]
            acc = acc / (acc.sum() + 1e-8)
            iap = attn.mean(dim=0)[:, start:start + n_img].mean(dim=0)
            iap = iap / (iap.sum() + 1e-8)
            score = acc + iap
        try:
            check_top(score.double().numpy(), keep, "transprune")
            check_top(acc.double().numpy(), keep, "transprune ttv only")
            break
        except AssertionError:
            continue
    else:
        raise RuntimeError("no tie-free seed")
    kept = np.sort(score.topk(keep).indices.numpy())
    kept_ttv = np.sort(acc.topk(keep).indices.numpy())
    add_case("transprune", "transprune", {"seed": seed, "image_start": start, "image_len": n_img,
                                          "keep": keep, "layers": L}, {
        "inputs": (ins, "[L=2, 2 (attention, ffn), T=20, 8] normed sublayer inputs b"),
        "outputs": (outs, "[L, 2, T, 8] sublayer outputs a"),
        "text_attn": (attn.numpy(), "[H=2, Q=4, T] attention of the text queries (softmax rows)"),
        "layer_weights": (torch.stack(weights).numpy(), "[L, T] compute_transf_weight(attn) + (ffn) per layer"),
        "score": (score.numpy(), "[12] TTV/(sum+1e-8) + IAP/(sum+1e-8) on the image span"),
        "kept": (kept, "[keep] kept image tokens (0-based in the span), sorted"),
        "kept_ttv_only": (kept_ttv, "[keep] kept with the TTV term alone (no text)"),
    }, "TransPrune: w = (|a|/|b|) softmax_T(1 - cos(b, a)) per sublayer, summed over attention+FFN and "
       "layers; score = TTV/sum + IAP/sum over the image span [4, 16); keep int(12*0.625) = 7.")


# ----------------------------------------------------------------------------------------------
# tomesd random 2D merging (dbolya/tomesd tomesd/merge.py, official code from a mirror)
# ----------------------------------------------------------------------------------------------

def lcg_choices(cells, cell_size, seed):
    state, out = seed, []
    for _ in range(cells):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append((state >> 33) % cell_size)
    return out


class _TorchWithChoices:
    """torch, except randint returns the given choices (to feed the seeded / recorded picks to tomesd)."""
    def __init__(self, choices):
        self._choices = choices

    def __getattr__(self, name):
        return getattr(torch, name)

    def randint(self, high, size, device=None, generator=None):
        return torch.tensor(self._choices, dtype=torch.int64).reshape(size)


def load_tomesd(mirror):
    return subprocess.run(["git", "-C", str(mirror), "show", f"{TOMESD_COMMIT}:tomesd/merge.py"],
                          check=True, capture_output=True, text=True).stdout


def tomesd_case(src, case, w, h, sx, sy, r, mode, seed, desc):
    hsy, wsx = h // sy, w // sx
    N = w * h
    for data_seed in range(seed, seed + 100):
        rng = np.random.default_rng(data_seed)
        metric = rng.standard_normal((N, 8)).astype(np.float32)
        x = rng.standard_normal((N, 6)).astype(np.float32)
        if mode == "torch":
            g = torch.Generator().manual_seed(data_seed)
            choices = torch.randint(sy * sx, size=(hsy, wsx, 1), generator=g).flatten().tolist()
        elif mode == "seeded":
            choices = lcg_choices(hsy * wsx, sx * sy, data_seed)
        else:
            choices = [0] * (hsy * wsx)
        dst = sorted((cy * sy + c // sx) * w + cx * sx + c % sx
                     for (cy, cx), c in zip(((a, b) for a in range(hsy) for b in range(wsx)), choices))
        srcs = [i for i in range(N) if i not in set(dst)]
        m = metric.astype(np.float64)
        m /= np.linalg.norm(m, axis=-1, keepdims=True)
        scores = m[srcs] @ m[dst].T
        try:
            check_argmax_rows(scores, case)
            check_top(scores.max(-1), min(r, len(srcs)), case + " edges")
            break
        except AssertionError:
            continue
    else:
        raise RuntimeError("no tie-free seed")
    ns = {}
    exec(src, ns)
    ns["torch"] = _TorchWithChoices(choices)
    merge, unmerge = ns["bipartite_soft_matching_random2d"](torch.from_numpy(metric)[None], w, h, sx, sy, r,
                                                            no_rand=(mode == "topleft"),
                                                            generator=torch.Generator())
    xt = torch.from_numpy(x)[None]
    merged_up = merge(xt)[0]
    member = merge(torch.eye(N)[None], mode="sum")[0]      # [M, N] 0/1 membership
    slot_up = member.argmax(0).numpy()
    assert (member.sum(0) == 1).all()
    M = merged_up.shape[0]
    r_eff = N - M
    unm_len = M - len(dst)
    # put the destination block in raster order (tomesd's unstable argsort scrambles it)
    dst_row = {int(slot_up[d]): d for d in dst}
    perm = list(range(unm_len)) + sorted(range(unm_len, M), key=lambda k: dst_row[k])
    inv = np.empty(M, np.int64)
    inv[perm] = np.arange(M)
    merged = merged_up.numpy()[perm]
    slot = inv[slot_up]
    unmerged = unmerge(merged_up[None])[0].numpy()
    assert np.array_equal(unmerged, merged[slot]), case
    add_case(case, "tomesd", {"seed": data_seed, "w": w, "h": h, "sx": sx, "sy": sy, "r": r, "r_effective": r_eff,
                              "choice": mode}, {
        "metric": (metric, f"[N={N}, 8] matching metric (raster order)"),
        "x": (x, f"[N, 6] tokens"),
        "choices": (np.array(choices), "[cells] destination pick per sy x sx cell, raster order (dy*sx+dx)"),
        "slot_of": (slot, "[N] output slot of each token; outputs = [unmerged (edge order), dst (raster)]"),
        "merged": (merged, "[N-r, 6] tomesd merge(x) (mode mean), dst rows put in raster order"),
        "unmerged": (unmerged, "[N, 6] tomesd unmerge(merge(x)) (== merged[slot_of])"),
    }, desc)


# ----------------------------------------------------------------------------------------------
# ClustViT core (cluster merging from assignments, regeneration), numpy from the doc
# ----------------------------------------------------------------------------------------------

def clustvit_case():
    rng = np.random.default_rng(1201)
    N, C = 36, 6
    assign = rng.choice([0, 0, 0, 1, 2, 3, 5, 6], size=N)         # id 4 unused -> skipped
    x = rng.standard_normal((N + 1, C)).astype(np.float32)        # [CLS, patches]
    kept = np.nonzero(assign == 0)[0]
    ids = sorted(set(assign[assign > 0].tolist()))
    rows = [x[0], *x[1 + kept]] + [x[1 + np.nonzero(assign == c)[0]].astype(np.float64).mean(0) for c in ids]
    tokens = np.stack(rows)
    slot = np.empty(N + 1, np.int64)
    slot[0] = 0
    slot[1 + kept] = 1 + np.arange(len(kept))
    for j, c in enumerate(ids):
        slot[1 + np.nonzero(assign == c)[0]] = 1 + len(kept) + j
    sizes = np.bincount(slot).astype(np.float32)
    y = rng.standard_normal(tokens.shape).astype(np.float32)
    add_case("clustvit", "clustvit", {"classToken": True, "clusters": ids}, {
        "assignments": (assign, "[N=36] cluster id per patch (0 = keep)"),
        "x": (x, "[N+1, 6] tokens, 0 = CLS"),
        "tokens": (tokens, "[1 + kept + clusters, 6] [CLS, kept (original order), cluster means (ascending id)]"),
        "sizes": (sizes, "[outputs] member counts"),
        "slot_of": (slot, "[N+1] output slot of every input token"),
        "y": (y, "[outputs, 6] stand-in for the processed tokens"),
        "regenerated": (y[slot], "[N+1, 6] kept outputs scattered back, cluster outputs broadcast"),
    }, "ClustViT non-learned core: replace each cluster (id >= 1) by its mean; regenerate by scatter / "
       "broadcast.")


# ----------------------------------------------------------------------------------------------
# TempMe (LunarShen/TempMe module_tome_merge.py official matching + ToMeBlock clip concatenation)
# ----------------------------------------------------------------------------------------------

def load_tempme(mirror, tmp):
    src = subprocess.run(["git", "-C", str(mirror), "show", f"{TEMPME_COMMIT}:tvr/models/module_tome_merge.py"],
                         check=True, capture_output=True, text=True).stdout
    p = tmp / "tempme_merge.py"
    p.write_text(src)
    spec = importlib.util.spec_from_file_location("tempme_merge", p)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tempme_check(metric, r, cls_num, what):
    m = metric[0, cls_num:].double().numpy()
    m = m / np.linalg.norm(m, axis=-1, keepdims=True)
    a, b = (m[::2], m[1::2]) if cls_num % 2 == 0 else (m[1::2], m[::2])
    scores = a @ b.T
    check_argmax_rows(scores, what)
    check_top(scores.max(-1), r, what + " edges")


def tempme_reference(mod, frames, P, frame_r, stages):
    """frames: [F, T0, C] float32 tensor. Mirrors ToMeBlock.forward's merges (metric = tokens)."""
    F_, T0, C = frames.shape
    x = frames.clone()                                   # [clips, T, C]
    size = torch.ones(F_, T0, 1)
    source = torch.eye(F_ * T0).reshape(F_, T0, F_ * T0)  # rows: tokens of each clip, cols: original
    cls_num = P
    r0 = min(frame_r, (T0 - P) // 2)

    def intra(x, size, source, r, cls_num, what):
        if r <= 0:
            return x, size, source
        outs = []
        for i in range(x.shape[0]):
            tempme_check(x[i:i + 1], r, cls_num, what)
            merge, _ = mod.bipartite_soft_matching(x[i:i + 1], r, cls_num=cls_num, r_f=1)
            xi, si = mod.merge_wavg(merge, x[i:i + 1], size[i:i + 1])
            outs.append((xi, si, merge(source[i:i + 1], mode="sum")))
        return (torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs]), torch.cat([o[2] for o in outs]))

    x, size, source = intra(x, size, source, r0, cls_num, "tempme frame")
    rs = []
    for (M, p0, p1) in stages:
        bsz, token_num, embed_dim = x.shape
        def regroup(t):
            d = t.shape[-1]
            t = t.reshape(bsz // M, M, token_num, d)
            return torch.cat([t[:, :, :cls_num, :].reshape(bsz // M, -1, d),
                              t[:, :, cls_num:, :].reshape(bsz // M, -1, d)], dim=1)
        r_cross = min(((token_num - cls_num) * M) // 2, int(token_num * M * p0))
        r_intra = min(((token_num - cls_num) * M - r_cross) // 2, int((token_num * M - r_cross) * p1))
        x, size, source = regroup(x), regroup(size), regroup(source)
        cls_num = cls_num * M
        x, size, source = intra(x, size, source, r_cross, cls_num, "tempme cross")
        x, size, source = intra(x, size, source, r_intra, cls_num, "tempme intra")
        rs.append((r_cross, r_intra))
    G, T, _ = x.shape
    src = source.reshape(G * T, F_ * T0)
    assert (src.sum(0) == 1).all()
    return dict(x=x, size=size[..., 0], slot=src.argmax(0).numpy(), cls=cls_num, r0=r0, rs=rs)


def tempme_case(mod):
    F_, P, patches, C = 4, 1, 16, 6
    stages = [(2, 0.3, 0.1), (2, 0.3, 0.1)]
    for seed in range(1301, 1500):
        rng = np.random.default_rng(seed)
        frames = rng.standard_normal((F_, P + patches, C)).astype(np.float32)
        frames[1:] = 0.6 * frames[:1] + 0.8 * frames[1:]         # temporally correlated
        try:
            with torch.no_grad():
                r = tempme_reference(mod, torch.from_numpy(frames), P, 2, stages)
            break
        except AssertionError:
            continue
    else:
        raise RuntimeError("no tie-free seed")
    add_case("tempme", "tempme", {"seed": seed, "class_tokens": P, "frame_r": 2, "frame_r_effective": r["r0"],
                                  "stages": [list(s) for s in stages], "stage_r": [list(x) for x in r["rs"]],
                                  "class_tokens_out": r["cls"]}, {
        "frames": (frames, "[F=4, 1+16, 6] per-frame tokens [CLS, patches]"),
        "clips": (r["x"].numpy(), "[clips, T, 6] merged clips"),
        "sizes": (r["size"].numpy(), "[clips, T] token sizes"),
        "slot_of": (r["slot"], "[F*T0] output row (clip*T + row) of every input token (frame*T0 + row)"),
    }, "TempMe post-hoc: per-frame TempMe matching (r=2, CLS protected) + merge_wavg; then stages of 2 "
       "adjacent clips concatenated as ToMeBlock ([CLS..., patches...]), cross merge r0 = min(((T-P)M)//2, "
       "int(TM*0.3)), intra merge r1 = min(((T-P)M-r0)//2, int((TM-r0)*0.1)); metric = the tokens; "
       "bipartite_soft_matching and merge_wavg are upstream's own code.")


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tome-mirror", default="/work/.mirror/facebookresearch+ToMe/repo")
    ap.add_argument("--tomesd-mirror", default="/work/.mirror/dbolya+tomesd/repo")
    ap.add_argument("--tempme-mirror", default="/work/.mirror/LunarShen+TempMe/repo")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        merge_mod, utils_mod = load_tome(Path(args.tome_mirror), Path(tmp))

        tome_case(merge_mod, "tome_cls", 17, 5, True, 101, "ones",
                  "ToMe bipartite soft matching, class token protected, r=5.")
        tome_case(merge_mod, "tome_nocls", 16, 4, False, 102, "ones",
                  "ToMe without class token (T=16, r=4). unm_idx is NOT re-sorted: the "
                  "unmerged A tokens appear in descending node_max order.")
        tome_case(merge_mod, "tome_clamped", 17, 12, True, 103, "ones",
                  "ToMe with r=12 > (T-1) div 2 = 8: clamped to 8 (only the class token "
                  "stays unmerged in A).")
        tome_case(merge_mod, "tome_sizes", 17, 5, True, 104, "random",
                  "ToMe merge_wavg with non-uniform input sizes in {1..4}.")

        sched = {}
        for name, r in (("inflect_m0p5", (13, -0.5)), ("inflect_p0p5", (8, 0.5)),
                        ("constant", 13), ("list", [3, 2, 1])):
            sched[name] = (np.array(utils_mod.parse_r(12, r), np.int64),
                           f"[12] parse_r(12, {r!r})")
        add_case("tome_schedule", "tome_schedule", {"layers": 12, "schedules": {
            "inflect_m0p5": [13, -0.5], "inflect_p0p5": [8, 0.5], "constant": 13,
            "list": [3, 2, 1]}}, sched,
            "ToMe parse_r: min=int(r(1-inflect)), max=2r-min, layer i: int(min+i(max-min)/(L-1)); "
            "a list shorter than L is padded with 0.")

    visionzip_case()
    divprune_case()
    fastv_case("fastv", 0.5, 501, "R=0.5 keeps 8 of 16.")
    fastv_case("fastv_half", 0.59375, 502, "len*(1-R) = 6.5 exactly; Python round() "
               "(half-to-even) gives 6 (Swift .rounded() would give 7).")
    hiprune_cases()
    prumerge_cases()
    hired_cases()
    transprune_case()
    tomesd_src = load_tomesd(Path(args.tomesd_mirror))
    tomesd_case(tomesd_src, "tomesd_random", 8, 6, 2, 2, 24, "torch", 1101,
                "tomesd random 2D: 8x6 grid, 2x2 cells (torch.randint picks recorded), r = int(48*0.5) = 24.")
    tomesd_case(tomesd_src, "tomesd_seeded", 8, 6, 2, 2, 20, "seeded", 1121,
                "tomesd random 2D with Tessera's seeded LCG picks (seed = params.seed), r = 20.")
    tomesd_case(tomesd_src, "tomesd_norand", 7, 5, 2, 2, 12, "topleft", 1141,
                "tomesd no_rand (top-left destinations) on a 7x5 grid that 2x2 cells do not tile: the last "
                "row and column are all sources; r = 12.")
    tomesd_case(tomesd_src, "tomesd_clamped", 4, 4, 2, 2, 100, "torch", 1161,
                "tomesd with r = 100 > 12 sources: clamped to 12 (every source merges).")
    clustvit_case()
    with tempfile.TemporaryDirectory() as tmp:
        tempme_case(load_tempme(Path(args.tempme_mirror), Path(tmp)))

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    # no safetensors metadata: its key order is not stable between runs (HashMap)
    save_file(TENSORS, str(OUT / "cases.safetensors"))
    (OUT / "cases.json").write_text(json.dumps(CASES, indent=1, default=float) + "\n")
    prov = {"generator": "Tests/Reference/make_reduction_fixtures.py",
            "tome": {"repo": "facebookresearch/ToMe", "commit": TOME_COMMIT,
                     "used": ["tome/merge.py: bipartite_soft_matching, merge_wavg, merge_source",
                              "tome/utils.py: parse_r"]},
            "tomesd": {"repo": "dbolya/tomesd", "commit": TOMESD_COMMIT,
                       "used": ["tomesd/merge.py: bipartite_soft_matching_random2d"]},
            "tempme": {"repo": "LunarShen/TempMe", "commit": TEMPME_COMMIT,
                       "used": ["tvr/models/module_tome_merge.py: bipartite_soft_matching, merge_wavg"]},
            "retyped": {"42Shawn/LLaVA-PruMerge": "097c04116a58465e4bcb58cec44a94018a68ff1a "
                        "llava/model/multimodal_encoder/clip_encoder.py",
                        "hasanar1f/HiRED": "502d6dd79a03e87cc808cedba8b8a951d93cb62b "
                        "transformers/src/transformers/models/llava_next/modeling_llava_next.py",
                        "liaolea/TransPrune": "c9e8284f5808f7692c40590ffc99537e9220a01d "
                        "llava/model/modeling_llama_transprune.py"},
            "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__,
            "sha256": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                       for p in sorted(OUT.iterdir())}}
    (OUT / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")
    for p in sorted(OUT.iterdir()):
        print(p.relative_to(ROOT), p.stat().st_size)


if __name__ == "__main__":
    main()
