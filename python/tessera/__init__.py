"""Tessera from Python: visual tokenizers, vision towers, token reduction and dataset shards.

The package is a thin ctypes layer over ``libTesseraC`` (Tessera's C ABI, Swift inside, no
Python at the core): images go in as paths, bytes, PIL images or uint8 arrays, numpy arrays
come out, and every call releases the GIL.

>>> import tessera
>>> tok = tessera.Tokenizer("Assets/models/titok-demo")
>>> ids = tok.encode(["Assets/images/astronaut.png"])        # int32 [1, 32]
>>> images = tok.decode(ids)                                  # uint8 [1, 128, 128, 3]
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from . import _images, _lib
from ._images import ImageLike, decode_image
from ._lib import (
    ArgumentError,
    InputError,
    MemoryLimitError,
    ModelError,
    StoppedError,
    TesseraError,
)

__all__ = [
    "Tokenizer",
    "VisionEncoder",
    "ReducedTokens",
    "reduce",
    "Quantizer",
    "Vocabulary",
    "encode_dataset",
    "decode_image",
    "set_threads",
    "threads",
    "set_memory_limit",
    "memory_limit",
    "library_version",
    "TesseraError",
    "ArgumentError",
    "InputError",
    "ModelError",
    "MemoryLimitError",
    "StoppedError",
]

from ._version import __version__


def library_version() -> str:
    """The version of the loaded libTesseraC."""
    return _lib._string(_lib.lib.tess_version)


def set_threads(n: int) -> None:
    """Worker threads of Tessera's numeric loops, process-wide (default: ``TESSERA_THREADS`` or
    the cores). Inside an engine worker that already runs one process per core, use 1."""
    _lib.check(_lib.lib.tess_set_threads(int(n)))


def threads() -> int:
    """Worker threads of Tessera's numeric loops."""
    return _lib.lib.tess_threads()


def set_memory_limit(limit: int | str | None) -> None:
    """The memory limit: bytes, a size such as ``"8G"``, or None for the default (80% of the
    memory this process may use, its cgroup's limit included). Work above it raises
    :class:`MemoryLimitError` before anything is allocated."""
    if limit is None:
        bytes_ = 0
    elif isinstance(limit, str):
        bytes_ = _parse_size(limit)
    else:
        bytes_ = int(limit)
        if bytes_ <= 0:
            raise ArgumentError(f"memory limit must be positive, got {limit}")
    _lib.check(_lib.lib.tess_set_memory_limit(bytes_))


def memory_limit() -> int:
    """The memory limit in bytes."""
    return _lib.lib.tess_memory_limit()


def _parse_size(text: str) -> int:
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in units and t[-1:] else ""
    try:
        value = float(t[: len(t) - len(unit)]) * units[unit]
    except ValueError:
        raise ArgumentError(f"not a size: {text!r} (e.g. 4096, 512M, 8G)") from None
    if value <= 0:
        raise ArgumentError(f"memory limit must be positive, got {text!r}")
    return int(value)


class _Handle:
    """An opaque library handle, freed by close(), the context manager or garbage collection."""

    _free = None
    _handle = None

    def _load(self, load, *args) -> None:
        """Calls a ``tess_*_load`` entry point and keeps the handle it returns."""
        handle = ctypes.c_void_p()
        _lib.check(load(*args, ctypes.byref(handle)))
        self._handle = handle

    @property
    def handle(self) -> ctypes.c_void_p:
        if not self._handle:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._handle

    def close(self) -> None:
        """Frees the model now (it is also freed when the object is garbage-collected)."""
        if getattr(self, "_handle", None):
            type(self)._free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()

    def __reduce__(self):
        raise TypeError(f"a {type(self).__name__} holds native memory and cannot be pickled; load it in the worker")


class Tokenizer(_Handle):
    """An image tokenizer: any model directory of ``tessera models`` (TiTok, One-D-Piece, TA-TiTok,
    FlexTok, Chameleon, Janus-Pro, Emu3, KL autoencoders), loaded once and usable from several
    threads at once.

    Args:
        path: the model directory.
        behaviour: ``"original"`` (default) or ``"transformers"``: which code LM tokenizers
            reproduce where the original repository and transformers' port differ.
    """

    _free = _lib.lib.tess_tokenizer_free

    def __init__(self, path: str | os.PathLike, *, behaviour: str = "original"):
        self._load(_lib.lib.tess_tokenizer_load, os.fsencode(path), _lib.options({"behaviour": behaviour}))
        self.path = os.fspath(path)
        self.descriptor: dict = json.loads(
            _lib._string(_lib.lib.tess_tokenizer_descriptor, self.handle)
        )

    def __repr__(self) -> str:
        d = self.descriptor
        return f"Tokenizer({self.path!r}: {d['family']}, tokens {d['token_shape']}, vocab {d['vocabulary_sizes']})"

    def encode(
        self,
        images: ImageLike | Iterable[ImageLike],
        *,
        tokens: int | None = None,
        batch: int = 8,
        seed: int | None = None,
    ) -> np.ndarray | list[np.ndarray]:
        """Tokens of images, preprocessed exactly as ``tessera encode`` does.

        Args:
            images: paths, encoded bytes (PNG/JPEG), PIL images, uint8 arrays [H, W, 3|4], a list of
                those, or one uint8 array [N, H, W, 3|4].
            tokens: variable-length models: keep the first K token positions.
            batch: images per forward pass.
            seed: stochastic encoders (VAE posteriors): sample with this seed instead of the mode.

        Returns:
            int32 ids [N, *token_shape] (float32 latents [N, positions, channels] for continuous
            tokens); a list when the images give different shapes (Emu3's smart resize).
        """
        opts = _lib.options({"tokens": tokens, "batch": batch, "seed": seed})
        batch_ = _images.Batch(images)
        result = _lib.call_result(_lib.lib.tess_tokenizer_encode, self.handle, batch_.array, batch_.count, opts)
        out = result.stacked()
        return np.empty((0,), dtype=np.int32) if out is None else out

    def decode(
        self,
        tokens: np.ndarray | Sequence[np.ndarray],
        *,
        limit: int | None = None,
        batch: int = 8,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        guidance_mode: str | None = None,
        noise: np.ndarray | None = None,
        conditioning: np.ndarray | None = None,
        round: bool = False,
    ) -> np.ndarray:
        """Images reconstructed from token sets, as ``tessera decode`` writes them.

        Args:
            tokens: int32-compatible ids [N, *token_shape] (or float32 latents for continuous
                tokens), or a list of token sets of one shape.
            limit: variable-length models: decode only the first K positions.
            batch: token sets per forward pass.
            seed, steps, guidance, guidance_mode: sampling decoders (FlexTok): the noise seed
                (default 0), Euler steps (20), guidance scale (7.5) and ``"apg"`` or ``"cfg"``.
            noise: sampling decoders: float32 initial noise [N, *noise_shape] (reproduces a run).
            conditioning: decoders that need it (TA-TiTok's text embeddings, ``descriptor["conditioning"]``,
                e.g. [77, 768]): one array shared by every token set, or [N, 77, 768] one each.
            round: round to 8 bits instead of truncating.

        Returns:
            uint8 [N, H, W, 3].
        """
        d = self.descriptor
        dtype = np.float32 if d["continuous"] else np.int32
        sets = np.asarray(tokens)
        if sets.dtype.kind not in "iuf" or (not d["continuous"] and sets.dtype.kind == "f"):
            raise ArgumentError(f"tokens must be {'float' if d['continuous'] else 'integer'} arrays, got {sets.dtype}")
        if sets.ndim < 2:
            raise ArgumentError(f"tokens must be [N, *token_shape], got shape {sets.shape}")
        if not d["continuous"] and sets.size and (sets.min() < -(2**31) or sets.max() >= 2**31):
            raise ArgumentError("token ids must fit in int32")
        sets = np.ascontiguousarray(sets, dtype=dtype)
        shape = (ctypes.c_int64 * (sets.ndim - 1))(*sets.shape[1:])
        noise_ptr = None
        if noise is not None:
            if d["noise_shape"] is None:
                raise ArgumentError(f"noise: {d['model_id']} does not sample")
            noise = np.ascontiguousarray(noise, dtype=np.float32)
            want = (sets.shape[0], *d["noise_shape"])
            if noise.shape != want:
                raise ArgumentError(f"noise must be {list(want)}, got {list(noise.shape)}")
            noise_ptr = noise.ctypes.data
        cond_ptr, cond_sets = None, 0
        if conditioning is not None:
            if d["conditioning"] is None:
                raise ArgumentError(f"conditioning: {d['model_id']} takes none")
            conditioning = np.ascontiguousarray(conditioning, dtype=np.float32)
            shared = list(conditioning.shape) == d["conditioning"]
            if not shared and list(conditioning.shape) != [sets.shape[0], *d["conditioning"]]:
                raise ArgumentError(
                    f"conditioning must be {d['conditioning']} or {[sets.shape[0], *d['conditioning']]}, "
                    f"got {list(conditioning.shape)}"
                )
            cond_ptr, cond_sets = conditioning.ctypes.data, 1 if shared else sets.shape[0]
        opts = _lib.options(
            {"tokens": limit, "batch": batch, "seed": seed, "steps": steps, "guidance": guidance,
             "guidance_mode": guidance_mode, "round": round or None}
        )
        result = _lib.call_result(
            _lib.lib.tess_tokenizer_decode, self.handle, sets.ctypes.data,
            _lib.DTYPE_FLOAT32 if d["continuous"] else _lib.DTYPE_INT32, sets.shape[0], shape,
            sets.ndim - 1, noise_ptr, cond_ptr, cond_sets, opts,
        )
        images = result.stacked()
        return np.empty((0, 0, 0, 3), dtype=np.uint8) if images is None else images


class VisionEncoder(_Handle):
    """A vision tower: CLIP, SigLIP (Hugging Face) or a timm ViT directory."""

    _free = _lib.lib.tess_vision_encoder_free

    def __init__(self, path: str | os.PathLike):
        self._load(_lib.lib.tess_vision_encoder_load, os.fsencode(path), None)
        self.path = os.fspath(path)
        self.descriptor: dict = json.loads(
            _lib._string(_lib.lib.tess_vision_encoder_descriptor, self.handle)
        )

    def __repr__(self) -> str:
        d = self.descriptor
        return f"VisionEncoder({self.path!r}: {d['family']}, width {d['width']}, {d['tokens']} tokens)"

    def features(
        self, images: ImageLike | Iterable[ImageLike], *, layer: int | None = None, pool: str = "none", batch: int = 8
    ) -> np.ndarray:
        """Features as ``tessera features``: the output of block ``layer`` (0-based, negative from
        the end, e.g. -2 for LLaVA; None: the final tokens after the last norm), every token
        (``pool="none"``: float32 [N, tokens, width]) or pooled (``"cls"``, ``"mean"``: [N, width])."""
        opts = _lib.options({"layer": layer, "pool": pool, "batch": batch})
        batch_ = _images.Batch(images)
        out = _lib.call_result(
            _lib.lib.tess_vision_encoder_features, self.handle, batch_.array, batch_.count, opts
        ).stacked()
        return np.empty((0,), dtype=np.float32) if out is None else out


@dataclass
class ReducedTokens:
    """One image's visual tokens after pruning or merging (``tessera prune``)."""

    #: float32 [M, width]: indexed rows first (index order), then rows standing for no one patch.
    features: np.ndarray
    #: int32 [M']: the original patch index of each indexed row (merges: the group's smallest).
    indices: np.ndarray
    #: int32 [M', 3]: (t, row, column) of each index.
    positions: np.ndarray
    #: the patch grid side of one view.
    grid: int
    #: patches the reduction started from.
    input_tokens: int
    #: merges: how many patches each feature row holds.
    sizes: np.ndarray | None = None


def reduce(
    encoder: VisionEncoder,
    images: ImageLike | Iterable[ImageLike],
    *,
    method: str,
    keep: int | None = None,
    layer: int = -2,
    seed: int = 0,
    **options: Any,
) -> list[ReducedTokens]:
    """Prunes or merges each image's visual tokens with one of the eleven methods of
    ``tessera prune`` (``visionzip``, ``prumerge``, ``divprune``, ``tome``, …).

    Args:
        encoder: the vision tower.
        images: as :meth:`Tokenizer.encode`.
        method: the reduction method.
        keep: patch tokens to keep per image.
        layer: the feature layer (negative from the end).
        seed: seed of random baselines.
        **options: ``r``, ``inflect`` (ToMe), ``budget_rate``, ``alpha`` (HiRED).
    """
    opts = _lib.options({"method": method, "keep": keep, "layer": layer, "seed": seed, **options})
    batch = _images.Batch(images)
    result = _lib.call_result(_lib.lib.tess_reduce, encoder.handle, batch.array, batch.count, opts)
    arrays, meta = result.arrays(), result.json()
    out: list[ReducedTokens] = []
    for i, info in enumerate(meta["images"]):
        sizes = info.get("sizes")
        out.append(
            ReducedTokens(
                features=arrays[3 * i], indices=arrays[3 * i + 1], positions=arrays[3 * i + 2],
                grid=info["grid"], input_tokens=info["input_tokens"],
                sizes=None if sizes is None else np.asarray(sizes, dtype=np.float32),
            )
        )
    return out


class Quantizer(_Handle):
    """A quantizer, from the descriptions of ``tessera quantize --quantizer``: ``"fsq:8,5,5,5"``,
    ``"lfq:16"``, ``"bsq:16"``, ``"dimwise:bits=6,range=-5:5,std=3"``,
    ``"vq:codebook.safetensors,cosine"`` or a path to a quantizer.json (residual, grouped and
    multi-head VQ, residual FSQ/LFQ, binary, UniTok)."""

    _free = _lib.lib.tess_quantizer_free

    def __init__(self, spec: str | os.PathLike):
        self._load(_lib.lib.tess_quantizer_load, os.fsencode(spec))
        self.descriptor: dict = json.loads(_lib._string(_lib.lib.tess_quantizer_descriptor, self.handle))

    def __repr__(self) -> str:
        return f"Quantizer({self.descriptor['spec']!r}, vocabulary {self.descriptor['vocabulary_size']})"

    @property
    def vocabulary_size(self) -> int:
        return self.descriptor["vocabulary_size"]

    def quantize(self, latents: np.ndarray) -> np.ndarray:
        """Ids of latents ``[..., D]``: int32 ``[..., ids_per_row]``."""
        x = np.ascontiguousarray(latents, dtype=np.float32)
        if x.ndim < 1 or x.shape[-1] < 1:
            raise ArgumentError(f"latents must be [..., D], got shape {x.shape}")
        rows = int(np.prod(x.shape[:-1]))
        result = _lib.call_result(_lib.lib.tess_quantizer_quantize, self.handle, x.ctypes.data, rows, x.shape[-1])
        ids = result.array(0)
        return ids.reshape(*x.shape[:-1], ids.shape[-1])

    def dequantize(self, ids: np.ndarray, *, dimension: int | None = None) -> np.ndarray:
        """Codes of ids ``[..., ids_per_row]``: float32 ``[..., width]`` (``dimension``: channels per
        row, for dimension-wise quantizers only)."""
        a = np.asarray(ids)
        if a.ndim < 1 or a.dtype.kind not in "iu":
            raise ArgumentError(f"ids must be an integer array [..., ids_per_row], got {a.dtype} {a.shape}")
        a = np.ascontiguousarray(a, dtype=np.int32)
        rows = int(np.prod(a.shape[:-1]))
        result = _lib.call_result(
            _lib.lib.tess_quantizer_dequantize, self.handle, a.ctypes.data, rows, a.shape[-1], dimension or 0
        )
        codes = result.array(0)
        return codes.reshape(*a.shape[:-1], codes.shape[-1])


class Vocabulary(_Handle):
    """A visual vocabulary (``tessera tokens vocabulary``): how a tokenizer's codes map into an LM's
    ids, with the image's begin/end tokens and row separators (Chameleon, Emu3, Janus, plain)."""

    _free = _lib.lib.tess_vocabulary_free

    def __init__(self, path: str | os.PathLike):
        self._load(_lib.lib.tess_vocabulary_load, os.fsencode(path))
        self.path = os.fspath(path)
        self.info: dict = json.loads(_lib._string(_lib.lib.tess_vocabulary_json, self.handle))

    def __repr__(self) -> str:
        return f"Vocabulary({self.path!r})"

    def to_lm(self, ids: np.ndarray) -> np.ndarray:
        """The LM stream (int32) of token sets ``[N, *token_shape]``, as ``tessera tokens to-lm``."""
        a = np.asarray(ids)
        if a.ndim < 2 or a.dtype.kind not in "iu":
            raise ArgumentError(f"ids must be an integer array [N, *token_shape], got {a.dtype} {a.shape}")
        a = np.ascontiguousarray(a, dtype=np.int32)
        shape = (ctypes.c_int64 * (a.ndim - 1))(*a.shape[1:])
        return _lib.call_result(
            _lib.lib.tess_vocabulary_to_lm, self.handle, a.ctypes.data, a.shape[0], shape, a.ndim - 1
        ).array(0)

    def from_lm(self, stream: np.ndarray) -> np.ndarray | list[np.ndarray]:
        """The token sets of an LM stream: ``[N, *token_shape]`` (a list when shapes differ)."""
        a = np.ascontiguousarray(np.asarray(stream).ravel(), dtype=np.int64)
        if a.size and (a.min() < -(2**31) or a.max() >= 2**31):
            raise ArgumentError("LM ids must fit in int32")
        a = a.astype(np.int32)
        out = _lib.call_result(_lib.lib.tess_vocabulary_from_lm, self.handle, a.ctypes.data, a.size).stacked()
        return np.empty((0,), dtype=np.int32) if out is None else out


def encode_dataset(
    model: Tokenizer | str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    format: str = "jsonl",
    shard_size: int | None = None,
    shard_samples: int | None = None,
    vocabulary: str | os.PathLike | None = None,
    resume: bool = False,
    shard_index: int = 0,
    num_shards: int = 1,
    tokens: int | None = None,
    batch: int = 8,
    seed: int | None = None,
    sampling: dict | None = None,
    clip_frames: int | None = None,
    video_sequences: bool = False,
    progress: bool = False,
) -> dict:
    """``tessera encode -o FOLDER``: images and videos (files, folders) into a folder of resumable
    shards with ``manifest.jsonl``, ``errors.jsonl`` and the journal ``shards.jsonl``. Worker
    ``shard_index`` of ``num_shards`` takes every n-th input and prefixes its files ``wNNN-``, so
    workers on several machines share one folder, and a worker rerun with ``resume=True`` continues
    after its last committed shard: each input lands exactly once.

    Failed inputs are recorded in ``errors.jsonl`` (the summary counts them). Ctrl-C commits the
    open shard and raises :class:`KeyboardInterrupt`; ``resume=True`` continues.

    Returns:
        the summary: inputs_done, inputs_total, samples, failed_inputs, shards, output, manifest.
    """
    tokenizer = model if isinstance(model, Tokenizer) else Tokenizer(model)
    request = _lib.options(
        {
            "inputs": [os.fspath(p) for p in inputs], "output": os.fspath(output), "format": format,
            "shard_size": shard_size, "shard_samples": shard_samples,
            "vocabulary": None if vocabulary is None else os.fspath(vocabulary), "resume": resume,
            "shard_index": shard_index, "num_shards": num_shards, "tokens": tokens, "batch": batch,
            "seed": seed, "sampling": sampling, "clip_frames": clip_frames,
            "video_sequences": video_sequences, "progress": progress,
        }
    )
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = _lib.call_result(_lib.lib.tess_encode_dataset, tokenizer.handle, request)
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    # The run goes on a thread so that Ctrl-C reaches Python: it asks the run to stop after its shard.
    worker = threading.Thread(target=run, name="tessera-encode-dataset", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        _lib.lib.tess_request_stop()
        worker.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"].json()
