#!/usr/bin/env python3
"""vector-quantize-pytorch side of Scripts/bench-quantize.sh: vectors/s for nearest-codeword
search (16384x256 and 262144x8 codebooks) and FSQ/LFQ encode, CPU, one JSON object."""
import json, os, resource, time

import torch
from vector_quantize_pytorch import VectorQuantize, FSQ, LFQ


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    n = int(os.environ.get("VECTORS", 65536))
    torch.set_num_threads(int(os.environ.get("TESSERA_THREADS", os.cpu_count())))
    torch.manual_seed(0)
    out = {}
    with torch.inference_mode():
        # The package materializes the full N×K distance matrix (65536 × 262144 floats = 64 GiB),
        # so the input goes through in chunks that keep it near 1 GiB.
        for k, d in [(16384, 256), (262144, 8)]:
            vq = VectorQuantize(dim=d, codebook_size=k, kmeans_init=False).eval()
            vq._codebook.embed.uniform_(-1, 1)
            x = torch.rand(1, n, d) * 2 - 1
            chunk = max(1, (1 << 28) // k)
            out[f"vq_{k}x{d}"] = n / timed(lambda: [vq(x[:, i:i + chunk]) for i in range(0, n, chunk)])
            out[f"vq_{k}x{d}_chunk"] = chunk
        fsq = FSQ(levels=[8, 8, 8, 5, 5, 5])
        x = torch.rand(1, n, 6) * 2 - 1
        out["fsq_888555"] = n / timed(lambda: fsq(x))
        lfq = LFQ(dim=16, codebook_size=2 ** 16, entropy_loss_weight=0.0).eval()
        x = torch.rand(1, n, 16) * 2 - 1
        out["lfq_16"] = n / timed(lambda: lfq(x))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
