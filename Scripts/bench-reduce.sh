#!/usr/bin/env bash
# Token reduction benchmark, in one run:
#  1. ViT-B/16 (random weights, timm layout) images/s without and with ToMe (r = 13) inside the
#     forward pass: Tessera vs PyTorch + timm + facebookresearch/ToMe's timm patch (ratio).
#  2. The cost of every pruning method for 576 and 2880 tokens (width 1024, random features and
#     attention) relative to a ViT-L/14-336 tower's forward time (1 and 5 views).
#   PYTHON=~/venvs/ref/bin/python bash Scripts/bench-reduce.sh
# Needs a Python with torch and timm, and ToMe (installed, or a git mirror: TOME_GIT=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SECONDS_EACH=${SECONDS_EACH:-6}
R=${R:-13}
TOME_GIT=${TOME_GIT:-/work/.mirror/facebookresearch+ToMe/repo}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$PYTHON" Scripts/bench_vit.py --save "$dir/vit"
swift build -c release --product tessera >/dev/null
# Tessera and PyTorch alternate ROUNDS times; the best round of each counts (the machine may be shared).
ROUNDS=${ROUNDS:-2}
ours="" theirs=""
for _ in $(seq "$ROUNDS"); do
  ours+=$(.build/release/tessera bench reduce --model "$dir/vit" --r "$R" --json --seconds "$SECONDS_EACH")$'\n'
  theirs+=$("$PYTHON" Scripts/bench_reduce.py --model "$dir/vit" --r "$R" --seconds "$SECONDS_EACH" --tome-git "$TOME_GIT")$'\n'
done
"$PYTHON" - "$ours" "$theirs" <<'PY'
import json, sys
runs_a = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
runs_b = [json.loads(l) for l in sys.argv[2].splitlines() if l.strip()]
def best_throughput(runs, key):
    out = [dict(r) for r in runs[0][key]]
    for run in runs[1:]:
        for o, r in zip(out, run[key]):
            o["images_per_s"] = max(o["images_per_s"], r["images_per_s"])
            o["tome_images_per_s"] = max(o["tome_images_per_s"], r["tome_images_per_s"])
    return out
a, b = dict(runs_a[0]), dict(runs_b[0])
a["throughput"], b["results"] = best_throughput(runs_a, "throughput"), best_throughput(runs_b, "results")
a["tower_ms"] = min(r["tower_ms"] for r in runs_a)
for i, c in enumerate(a["costs"]):
    c["forward_ms"] = a["tower_ms"] * c["views"]
    for j, m in enumerate(c["methods"]):
        m["ms"] = min(r["costs"][i]["methods"][j]["ms"] for r in runs_a)
        m["percent_of_forward"] = 100 * m["ms"] / c["forward_ms"]
print(f"(best of {len(runs_a)} alternating rounds per side)")
print(f"## ToMe throughput: {a['architecture']}, r = {a['r']}, {a['threads']} threads; torch {b['torch']}, timm {b['timm']}")
print("| batch | Tessera img/s | Tessera + ToMe | speed-up | PyTorch img/s | PyTorch + ToMe | speed-up | Tessera/PyTorch (ToMe) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for ra, rb in zip(a["throughput"], b["results"]):
    print(f"| {ra['batch']} | {ra['images_per_s']:.2f} | {ra['tome_images_per_s']:.2f} | {ra['tome_images_per_s'] / ra['images_per_s']:.2f}x "
          f"| {rb['images_per_s']:.2f} | {rb['tome_images_per_s']:.2f} | {rb['tome_images_per_s'] / rb['images_per_s']:.2f}x "
          f"| {ra['tome_images_per_s'] / rb['tome_images_per_s']:.2f}x |")
print()
print(f"## Pruning cost vs the {a['tower']} forward ({a['tower_ms']:.0f} ms per view, Tessera)")
costs = a["costs"]
print("| method | " + " | ".join(f"{c['tokens']} tok (ms) | % of {c['views']}-view fwd" for c in costs) + " |")
print("|---|" + "---:|---:|" * len(costs))
names = [m["method"].split(" (")[0] for m in costs[0]["methods"]]
for i, name in enumerate(names):
    cells = []
    for c in costs:
        m = c["methods"][i]
        cells += [f"{m['ms']:.3f}", f"{m['percent_of_forward']:.2f}%"]
    print(f"| {name} | " + " | ".join(cells) + " |")
PY
