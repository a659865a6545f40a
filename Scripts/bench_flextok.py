#!/usr/bin/env python3
"""PyTorch side of `Scripts/bench-flextok.sh`: the official apple/ml-flextok code (imported from a
git mirror, SDPA attention on CPU) on a random-weight d12_d12-sized checkpoint in the published
layout, written by upstream's `save_safetensors` and read back by its `load_model_from_safetensors`.

    python3 Scripts/bench_flextok.py --save DIR     # random-weight d12_d12 checkpoint (1.4 GB)
    python3 Scripts/bench_flextok.py --model DIR    # time tokenize/detokenize; one JSON object
"""
import argparse, json, os, resource, sys, time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "Reference"))
import make_flextok_fixtures as ft  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--save")
    ap.add_argument("--model")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--seconds", type=float, default=10, help="minimum seconds of encoding per batch size")
    ap.add_argument("--flextok-repo", type=Path, default=Path("/work/.mirror/apple+ml-flextok/repo"))
    args = ap.parse_args()
    ft.import_flextok(args.flextok_repo)
    torch.manual_seed(0)
    if args.save:
        from hydra.utils import instantiate
        from flextok.utils.checkpoint import save_safetensors
        config = ft.flextok_config(
            enc_dim=768, dec_dim=768, depth_enc=12, depth_dec=12, registers=256, grid=16, vae_path=None,
            scaling_factor=0.8, sample_posterior=False, null_cond="zero", single_null_token=False,
            patch_posemb="sincos", head_adaln=False, max_timestep=1.0)
        model = instantiate(config).eval()
        ft.perturb(model, 0)
        Path(args.save).mkdir(parents=True, exist_ok=True)
        save_safetensors({k: v.detach() for k, v in model.state_dict().items()},
                         str(Path(args.save) / "model.safetensors"), metadata_dict=config)
        return
    from flextok.utils.checkpoint import load_model_from_safetensors
    threads = int(os.environ.get("TESSERA_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    model = load_model_from_safetensors(str(Path(args.model) / "model.safetensors"))
    ft.sdpa_fallback(model)
    model.vae.sample_posterior = False
    results = []
    with torch.inference_mode():
        model.tokenize(torch.rand(1, 3, 256, 256) * 2 - 1)  # warm-up
        for b in args.batch:
            x = torch.rand(b, 3, 256, 256) * 2 - 1
            # As `tessera bench tokenizer --seconds S`: the mean of runs until S seconds have passed.
            runs, start = 0, time.perf_counter()
            while True:
                ids = model.tokenize(x)
                runs += 1
                if time.perf_counter() - start >= args.seconds:
                    break
            enc = (time.perf_counter() - start) / runs
            start = time.perf_counter()
            model.detokenize(ids, timesteps=args.steps, guidance_scale=args.guidance, perform_norm_guidance=True,
                             verbose=False)
            dec = time.perf_counter() - start
            results.append({"batch": b, "encode_ms": enc * 1000, "decode_ms": dec * 1000,
                            "encode_images_per_s": b / enc, "decode_images_per_s": b / dec})
    print(json.dumps({"torch": torch.__version__, "threads": threads, "results": results,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))


if __name__ == "__main__":
    main()
