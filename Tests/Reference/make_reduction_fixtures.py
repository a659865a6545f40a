#!/usr/bin/env python3
"""Generate the token merging / pruning reference fixtures for Tessera's Swift tests.

Produces (see "Token reduction fixtures" in Tests/Reference/README.md):

    Tests/Fixtures/reduction/cases.safetensors   tensors keyed "<case>/<name>" (F32 / I64)
    Tests/Fixtures/reduction/cases.json          [{case, method, params, tensors{name:{shape,dtype,doc}}, description}]
    Tests/Fixtures/reduction/PROVENANCE.json     ToMe commit, tool versions, sha256 of the two files

Algorithms follow /work/shared/reference/token-reduction.md.

ToMe uses the *official* code: facebookresearch/ToMe `tome/merge.py` (bipartite_soft_matching,
merge_wavg, merge_source) and `tome/utils.py` (parse_r), extracted at a pinned commit from a git
mirror into a temporary directory and imported from there (nothing from ToMe is copied into this
repository).  An independent numpy re-implementation from the doc is checked against it.
The other methods (VisionZip, DivPrune, FastV, HiPrune, PruMerge) are written here in numpy /
torch directly from the doc.

Usage:
    ~/venvs/ref/bin/python Tests/Reference/make_reduction_fixtures.py \
        [--tome-mirror /work/.mirror/facebookresearch+ToMe/repo]

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
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "reduction"
TOME_COMMIT = "af95e4b1befa172dadccd8c81e223b10090f9579"
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
# PruMerge
# ----------------------------------------------------------------------------------------------

def prumerge_case():
    rng = np.random.default_rng(701)
    N1, C, Ck, nn_k = 37, 6, 8, 8
    q = rng.standard_normal((N1, Ck)).astype(np.float32)
    k = rng.standard_normal((N1, Ck)).astype(np.float32)
    # make a few CLS-query logits outliers
    k[[5, 13, 22, 30]] += 1.2 * q[0] / np.linalg.norm(q[0])
    y = rng.standard_normal((N1 - 1, C)).astype(np.float32)
    qd, kd, yd = q.astype(np.float64), k.astype(np.float64), y.astype(np.float64)
    logits = qd @ kd.T / math.sqrt(Ck)
    a_full = np.exp(logits - logits.max(-1, keepdims=True))
    a_full /= a_full.sum(-1, keepdims=True)
    a = a_full[0, 1:]                                     # [N]
    q1, q3 = np.percentile(a, 25), np.percentile(a, 75)   # numpy linear interpolation
    upper = q3 + 1.5 * (q3 - q1)
    n_out = int((a > upper).sum())
    assert n_out >= 2
    check_top(a, n_out, "prumerge topk")
    assert np.abs(a - upper).min() > MARGIN
    top = np.argsort(-a, kind="stable")[:n_out]
    keep = np.sort(top)
    pruned = np.array([i for i in range(N1 - 1) if i not in set(keep)])
    kp = kd[1:] / np.linalg.norm(kd[1:], axis=-1, keepdims=True)
    out = []
    neigh = []
    for i in keep:
        others = np.array([j for j in range(N1 - 1) if j != i])
        sim = kp[others] @ kp[i]
        check_top(sim, nn_k, "prumerge neighbours")
        nb = others[np.argsort(-sim, kind="stable")[:nn_k]]
        neigh.append(np.sort(nb))
        out.append(yd[i] + (a[nb, None] * yd[nb]).sum(0))
    extra = yd[pruned].sum(0)
    tokens = np.concatenate([np.stack(out), extra[None]])
    add_case("prumerge", "prumerge", {"nn": nn_k, "outlier": "a > Q3 + 1.5*IQR, "
                                      "numpy.percentile linear", "kept_order": "sorted",
                                      "extra_token": "unweighted sum of pruned y"}, {
        "q": (q, "[N+1=37, 8] last-layer queries (one head, index 0 = CLS)"),
        "k": (k, "[N+1, 8] last-layer keys"),
        "y": (y, "[N=36, 6] patch features to merge"),
        "cls_attn": (a, "[N] softmax(q k^T / sqrt(8))[CLS, 1:]"),
        "kept": (keep, "[n_outliers] kept patch indices (0-based over patches), sorted"),
        "neighbours": (np.stack(neigh), "[n_outliers, nn] the nn nearest keys (cosine) among "
                       "the other patches, sorted"),
        "tokens": (tokens, "[n_outliers+1, 6] y_i + sum_j a_j y_j over neighbours, kept order; "
                   "last row = sum of pruned y"),
    }, "LLaVA-PruMerge (doc version, small nn=8 instead of 32): k = #IQR outliers of CLS "
       "attention; keep top-k; each kept token adds attention-weighted neighbours; one extra "
       "token = unweighted sum of the pruned tokens (doc: 'sums the pruned ones').")


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tome-mirror", default="/work/.mirror/facebookresearch+ToMe/repo")
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
    prumerge_case()

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
            "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__,
            "sha256": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                       for p in sorted(OUT.iterdir())}}
    (OUT / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")
    for p in sorted(OUT.iterdir()):
        print(p.relative_to(ROOT), p.stat().st_size)


if __name__ == "__main__":
    main()
