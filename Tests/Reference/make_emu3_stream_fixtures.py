#!/usr/bin/env python3
"""Generate the Emu3 LM-stream fixtures: the exact token stream an Emu3 LM reads for an image.

Two tokenizer directories in the published layouts, with a reduced text vocabulary (the 256
byte-level tokens and a few digit merges instead of Qwen's 151,643; the special tokens in
Emu3's order; 256 visual tokens, the codebook of Tests/Fixtures/vqgan/emu3):

* ``emu3_lm/`` — transformers' conversion (BAAI/Emu3-Chat-hf): ``tokenizer.json`` written the
  way ``convert_emu3_weights_to_hf.py`` writes it (byte-level BPE, GPT-2 regex, ``<|extra_0|>``
  renamed ``<image>``), ``tokenizer_config.json`` with Emu3's named special tokens, and
  ``config.json`` (``Emu3Config``, its ``vocabulary_map`` = the tokenizer's vocabulary; its
  ``vq_config`` = the emu3 fixture's). The stream is what transformers builds: ``Emu3Processor``
  expands ``<image>`` into ``h·(w+1)`` placeholders, and ``Emu3Model`` fills them with
  ``Emu3ImageVocabularyMapping.convert_img2bpe(codes)`` (visual ids, end of line per row).
* ``emu3_original_lm/`` — the original release (BAAI/Emu3-Chat): ``emu3.tiktoken`` and
  ``emu3_vision_tokens.txt``, read by baaivision/Emu3's own ``Emu3Tokenizer`` (tiktoken with
  Emu3's pattern, which splits digits one by one). Its ``SPECIAL_START_ID`` is set to the size
  of the reduced vocabulary, as the real constant (151643) is the size of the real one. The
  image prompt is built as ``Emu3Processor.__call__`` (mode "U") builds it in
  emu3/mllm/processing_emu3.py: ``boi + f"{h}*{w}" + img_token + eol.join(rows) + eol + eof + eoi``.

For each case ``expected_streams.json`` holds the codes ``[h, w]`` and the LM ids of the image
span (the processor's BOS, prepended once per sample, removed).

Usage: ~/venvs/ref/bin/python Tests/Reference/make_emu3_stream_fixtures.py [--emu3-repo MIRROR]
Needs: transformers (5.x), tokenizers, tiktoken, numpy, pillow; the baaivision/Emu3 git mirror.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "vqgan"
CODES = 256
# Digit merges of the reduced vocabulary: "12" and "16" become one token in transformers'
# byte-level BPE (GPT-2 regex keeps digit runs together), never in the original's tiktoken
# pattern (\p{N} takes one digit at a time). "11" has no merge, so it stays two tokens in both.
MERGES = [("1", "2"), ("1", "6"), ("6", "4")]
# (height, width) of the test images in pixels: grids 12×16, 5×11 and 1×1 at Emu3's factor 8.
SIZES = [(96, 128), (40, 88), (8, 8)]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table (what byte-level BPE vocabularies are written in)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def specials() -> list[str]:
    """Emu3's special tokens in id order (tokenization_emu3.py), then the vision-tokens file."""
    return (["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"<|extra_{i}|>" for i in range(205)]
            + vision_file_tokens())


def vision_file_tokens() -> list[str]:
    return ["<|image start|>", "<|image end|>", "<|image token|>"] + [
        f"<|visual token {i:06d}|>" for i in range(CODES)]


def base_vocabulary() -> list[bytes]:
    """Ranks of the reduced text vocabulary: the 256 bytes in GPT-2's table order, then the merges."""
    table = bytes_to_unicode()
    return [bytes([b]) for b in table] + [(a + b).encode() for a, b in MERGES]


def transformers_case(tmp: Path, codes: list[np.ndarray]) -> list[list[int]]:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Emu3Config, Emu3ImageProcessor, Emu3Processor, PreTrainedTokenizerFast
    from transformers.models.emu3.modeling_emu3 import Emu3ImageVocabularyMapping

    table = bytes_to_unicode()
    vocab = {"".join(table[b] for b in token): i for i, token in enumerate(base_vocabulary())}
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=MERGES))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bpe.decoder = decoders.ByteLevel()
    names = ["<image>" if t == "<|extra_0|>" else t for t in specials()]
    bpe.add_special_tokens(names)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|extra_203|>", eos_token="<|extra_204|>", pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "boi_token": "<|image start|>",
                              "eoi_token": "<|image end|>", "image_wrapper_token": "<|image token|>",
                              "eof_token": "<|extra_201|>"})
    out = OUT / "emu3_lm"
    shutil.rmtree(out, ignore_errors=True)
    tokenizer.save_pretrained(out)
    vq = json.loads((OUT / "emu3" / "config.json").read_text())
    for key in ("architectures", "transformers_version", "dtype", "model_type"):
        vq.pop(key, None)
    text = {"vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "num_key_value_heads": 1, "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    config = Emu3Config(vq_config=vq, text_config=text, vocabulary_map=tokenizer.get_vocab())
    config.save_pretrained(out)
    for f in out.glob("*.json"):  # one line per file: these are data, not documents
        f.write_text(json.dumps(json.loads(f.read_text()), sort_keys=True) + "\n")
    processor = Emu3Processor(
        image_processor=Emu3ImageProcessor(min_pixels=64, max_pixels=1024 * 1024), tokenizer=tokenizer)
    mapping = Emu3ImageVocabularyMapping(config.vocabulary_map)
    streams = []
    for (h, w), grid in zip(SIZES, codes):
        image = Image.fromarray(np.full((h, w, 3), 128, np.uint8))
        batch = processor(images=[image], text=["<image>"], return_tensors="pt")
        ids = batch["input_ids"][0]
        assert ids[0] == tokenizer.bos_token_id  # the sample's BOS, not part of the image span
        visual = mapping.convert_img2bpe(torch.from_numpy(grid)).flatten()
        placeholder = ids == config.image_token_id
        assert int(placeholder.sum()) == visual.numel(), (int(placeholder.sum()), visual.numel())
        ids = ids.clone()
        ids[placeholder] = visual.to(ids.dtype)  # what Emu3Model's masked_scatter does with the embeddings
        streams.append(ids[1:].tolist())
    return streams


def original_case(tmp: Path, codes: list[np.ndarray], repo: str) -> tuple[list[list[int]], str]:
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    source = subprocess.run(["git", "-C", repo, "show", "HEAD:emu3/mllm/tokenization_emu3.py"],
                            capture_output=True, text=True, check=True).stdout
    path = tmp / "tokenization_emu3.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("tokenization_emu3", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ranks = base_vocabulary()
    module.SPECIAL_START_ID = len(ranks)  # 151643 = the size of the real vocabulary
    out = OUT / "emu3_original_lm"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "emu3.tiktoken").write_text("".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(ranks)))
    (out / "emu3_vision_tokens.txt").write_text("".join(t + "\n" for t in vision_file_tokens()))
    tokenizer = module.Emu3Tokenizer(str(out / "emu3.tiktoken"), str(out / "emu3_vision_tokens.txt"))
    streams = []
    for grid in codes:
        h, w = grid.shape
        rows = ["".join(f"<|visual token {int(c):06d}|>" for c in row) for row in grid]
        prompt = (tokenizer.boi_token + f"{h}*{w}" + tokenizer.img_token + tokenizer.eol_token.join(rows)
                  + tokenizer.eol_token + tokenizer.eof_token + tokenizer.eoi_token)
        streams.append(tokenizer.encode(prompt))
    return streams, commit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emu3-repo", default="/work/.mirror/baaivision+Emu3/repo")
    a = ap.parse_args()
    rng = np.random.default_rng(21)
    codes = [rng.integers(0, CODES, size=(h // 8, w // 8)) for h, w in SIZES]
    with tempfile.TemporaryDirectory() as tmp:
        hf = transformers_case(Path(tmp), codes)
        original, commit = original_case(Path(tmp), codes, a.emu3_repo)
    import tokenizers
    import transformers
    cases = [{"pixels": list(s), "codes": c.tolist()} for s, c in zip(SIZES, codes)]
    for folder, streams, reference in [
        ("emu3_lm", hf, "transformers Emu3Processor + Emu3ImageVocabularyMapping.convert_img2bpe"),
        ("emu3_original_lm", original, f"baaivision/Emu3@{commit} emu3/mllm/tokenization_emu3.py Emu3Tokenizer, "
         "image prompt as emu3/mllm/processing_emu3.py"),
    ]:
        data = {"generator": "Tests/Reference/make_emu3_stream_fixtures.py", "reference": reference,
                "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
                "cases": [{**c, "stream": s} for c, s in zip(cases, streams)]}
        (OUT / folder / "expected_streams.json").write_text(json.dumps(data) + "\n")
        print(folder, [len(s) for s in streams], streams[2])


if __name__ == "__main__":
    main()
