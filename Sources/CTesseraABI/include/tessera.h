/*
 * tessera.h: the C ABI of Tessera (libTesseraC.so), the one contract between the Swift library
 * and its callers (the Python package, C, anything with a C FFI). Implemented in Swift by
 * Sources/TesseraC with `@c @implementation`, so the compiler rejects any drift from this file.
 *
 * Rules:
 *  - Every call that can fail returns a tess_status; on failure tess_last_error() (per thread) says
 *    why and tess_last_error_path() names the file, when the error is about one.
 *  - Nothing from an input can trap the host process: arguments are validated here, every Swift
 *    error is caught and returned.
 *  - Options are small JSON objects (NULL or "" for the defaults), so options can be added
 *    without changing this ABI. Unknown keys are an error.
 *  - Handles (tokenizer, vision encoder) are immutable once loaded and may be used from several
 *    threads at once. Results are owned by the caller until tess_result_free.
 *  - Buffers are caller-owned, C-contiguous; Tessera keeps no pointer after a call returns.
 *  - Calls that return a size or count (descriptors, JSON, tess_result_count) give "{}" or 0 for a
 *    NULL or wrong handle and set the thread's last error.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change to this file; the Python package refuses a library of another version. */
#define TESS_ABI_VERSION 1

typedef int32_t tess_status;
#define TESS_OK 0
#define TESS_ERROR_ARGUMENT 1 /* a bad argument or option (a null pointer, a shape, a token budget) */
#define TESS_ERROR_INPUT 2    /* an input file or buffer cannot be read or decoded */
#define TESS_ERROR_MODEL 3    /* a model directory, config or checkpoint is unusable */
#define TESS_ERROR_MEMORY 4   /* the work would exceed the memory limit */
#define TESS_ERROR_BUFFER 5   /* a caller buffer is too small (the needed size is returned) */
#define TESS_ERROR_STOPPED 6  /* a dataset run stopped on request (tess_request_stop); resume it */
#define TESS_ERROR_INTERNAL 9 /* anything else (a bug: please report it) */

/* Element types of result arrays. */
#define TESS_DTYPE_INT32 1
#define TESS_DTYPE_FLOAT32 2
#define TESS_DTYPE_UINT8 3

/* One input image: encoded (height 0: PNG or JPEG bytes data[0..<length], or with data NULL the
 * file at the path name) or pixels (uint8 [height, width, channels] at data, channels 3 for RGB or
 * 4 for RGBA). name names the image in errors. */
typedef struct tess_image {
    const uint8_t *data;
    int64_t length;
    const char *name;
    int64_t height;
    int64_t width;
    int64_t channels;
} tess_image;

typedef struct tess_tokenizer tess_tokenizer;
typedef struct tess_vision_encoder tess_vision_encoder;
typedef struct tess_quantizer tess_quantizer;
typedef struct tess_vocabulary tess_vocabulary;
typedef struct tess_result tess_result;

/* --- Library --------------------------------------------------------------------------- */

/* TESS_ABI_VERSION of the library. */
int32_t tess_abi_version(void);
/* Copies the library version ("0.4.0") into buf (NUL-terminated, truncated to cap); returns its
 * length without the NUL. The same convention for every string copied out below. */
size_t tess_version(char *buf, size_t cap);
/* The message of this thread's last failed call ("" when none). */
size_t tess_last_error(char *buf, size_t cap);
/* The file this thread's last error is about ("" when none). */
size_t tess_last_error_path(char *buf, size_t cap);

/* Worker threads of the numeric loops (process-wide; default TESSERA_THREADS or the cores). */
tess_status tess_set_threads(int32_t threads);
int32_t tess_threads(void);
/* The memory limit in bytes (process-wide; default TESSERA_MEMORY_LIMIT or 80% of the memory this
 * process may use). bytes <= 0 restores the default. */
tess_status tess_set_memory_limit(int64_t bytes);
int64_t tess_memory_limit(void);

/* --- Results ----------------------------------------------------------------------------- */

/* A result is a list of arrays (one per image or token set) plus a JSON text (metadata). */
int64_t tess_result_count(const tess_result *result);
/* The dtype and shape of array i: shape receives up to max_dims extents, ndim the rank. */
tess_status tess_result_array(const tess_result *result, int64_t index, int32_t *dtype, int64_t *shape,
                              int32_t max_dims, int32_t *ndim);
/* Copies array i into out (capacity in bytes; TESS_ERROR_BUFFER when smaller than the array). */
tess_status tess_result_copy(const tess_result *result, int64_t index, void *out, int64_t capacity);
/* The result's JSON text ("{}" when it has none). */
size_t tess_result_json(const tess_result *result, char *buf, size_t cap);
void tess_result_free(tess_result *result);

/* --- Images ---------------------------------------------------------------------------- */

/* Decodes one PNG or JPEG (data of length bytes, named name in errors; with data NULL the file at
 * the path name is read) exactly as `tessera` reads inputs, EXIF orientation applied. The result
 * holds one uint8 array [height, width, channels], channels 3 (RGB) or 4 (RGBA). */
tess_status tess_image_decode(const uint8_t *data, int64_t length, const char *name, tess_result **out);

/* --- Image tokenizers -------------------------------------------------------------------- */

/* Loads the tokenizer in a model directory (any family of `tessera models`).
 * options: {"behaviour": "original" | "transformers"}. */
tess_status tess_tokenizer_load(const char *directory, const char *options, tess_tokenizer **out);
void tess_tokenizer_free(tess_tokenizer *tokenizer);
/* The descriptor as JSON: family, model_id, input_size [h, w], token_shape, vocabulary_sizes,
 * latent_channels, variable_length, output_range, conditioning, noise_shape. */
size_t tess_tokenizer_descriptor(const tess_tokenizer *tokenizer, char *buf, size_t cap);

/* Tokens of images, each run through the model's own preprocessing exactly as `tessera encode`
 * runs the files it decodes; images decode in parallel and run in batches as the command's.
 * options: {"tokens": K, "batch": 8, "seed": S}. The result holds one array per image: int32 ids
 * of the token shape, or float32 latents [positions, channels] for continuous tokens. */
tess_status tess_tokenizer_encode(const tess_tokenizer *tokenizer, const tess_image *images, int64_t count,
                                  const char *options, tess_result **out);
/* Decodes count token sets, each of shape[0..<ndim] (int32 ids, or float32 latents for continuous
 * tokens; dtype says which), into uint8 RGB images [height, width, 3].
 * noise: NULL, or float32 initial noise [count, noise_shape...] of a sampling decoder (FlexTok).
 * conditioning: NULL, or float32 [conditioning_sets, conditioning...] for decoders that need it
 * (TA-TiTok's text embeddings [77, 768]): one set shared by all (conditioning_sets 1) or one each.
 * Options: {"tokens": K, "batch": 8, "seed": S, "steps": N, "guidance": G,
 *           "guidance_mode": "apg" | "cfg", "round": false}. */
tess_status tess_tokenizer_decode(const tess_tokenizer *tokenizer, const void *tokens, int32_t dtype, int64_t count,
                                  const int64_t *shape, int32_t ndim, const float *noise, const float *conditioning,
                                  int64_t conditioning_sets, const char *options, tess_result **out);

/* --- Vision encoders and token reduction -------------------------------------------------- */

/* Loads a vision tower (CLIP, SigLIP, timm ViT). options: {} (reserved). */
tess_status tess_vision_encoder_load(const char *directory, const char *options, tess_vision_encoder **out);
void tess_vision_encoder_free(tess_vision_encoder *encoder);
/* The descriptor as JSON: family, model_id, width, depth, heads, input_size, patch_size,
 * prefix_tokens, has_class_token, tokens. */
size_t tess_vision_encoder_descriptor(const tess_vision_encoder *encoder, char *buf, size_t cap);
/* Features of images (`tessera features`), preprocessed as
 * the model's processor: one float32 array per image, [tokens, width] or, pooled, [width].
 * options: {"layer": L (the output of block L, 0-based, negative from the end; default: the final
 * tokens after the last norm), "pool": "none" (default) | "cls" | "mean", "batch": 8}. */
tess_status tess_vision_encoder_features(const tess_vision_encoder *encoder, const tess_image *images, int64_t count,
                                         const char *options, tess_result **out);
/* Prunes or merges the visual tokens of each image (`tessera prune`): per image three arrays,
 * float32 features [M, width] (rows with an index first, in index order; then rows standing for
 * no single patch: VisionZip's contextual tokens, PruMerge's sum of the pruned ones), int32
 * indices [M'] (original patch index of each indexed row; merges: the group's smallest) and int32
 * positions [M', 3] (t, row, column). The JSON has per image grid, input_tokens and sizes (merges:
 * patches per row). options: {"method": "visionzip", "keep": 64, "layer": -2, "seed": 0, "r": n,
 * "inflect": x, "budget_rate": x, "alpha": x}, as `tessera prune`. */
tess_status tess_reduce(const tess_vision_encoder *encoder, const tess_image *images, int64_t count,
                        const char *options, tess_result **out);

/* --- Quantizers and LM vocabularies ------------------------------------------------------ */

/* A quantizer from its description, as `tessera quantize --quantizer SPEC`: "fsq:8,5,5,5",
 * "lfq:16", "bsq:16", "dimwise:bits=6,range=-5:5,std=3", "vq:codebook.safetensors[,cosine][,l2]"
 * or a quantizer.json (residual, grouped, multi-head VQ, residual FSQ/LFQ, binary, UniTok). */
tess_status tess_quantizer_load(const char *spec, tess_quantizer **out);
void tess_quantizer_free(tess_quantizer *quantizer);
/* JSON: spec, vocabulary_size, dimension (null when any width is taken), ids_per_row. */
size_t tess_quantizer_descriptor(const tess_quantizer *quantizer, char *buf, size_t cap);
/* Ids of float32 latents [rows, dimension]: one int32 array [rows, ids per row]. */
tess_status tess_quantizer_quantize(const tess_quantizer *quantizer, const float *latents, int64_t rows,
                                    int64_t dimension, tess_result **out);
/* Codes of int32 ids [rows, ids_per_row]: one float32 array [rows, width]. dimension: channels
 * per row for quantizers that take any width (dimension-wise), else 0. */
tess_status tess_quantizer_dequantize(const tess_quantizer *quantizer, const int32_t *ids, int64_t rows,
                                      int64_t ids_per_row, int64_t dimension, tess_result **out);

/* A visual vocabulary file (`tessera tokens vocabulary`): how image codes map into an LM's ids. */
tess_status tess_vocabulary_load(const char *path, tess_vocabulary **out);
void tess_vocabulary_free(tess_vocabulary *vocabulary);
/* The vocabulary as JSON (the file's fields). */
size_t tess_vocabulary_json(const tess_vocabulary *vocabulary, char *buf, size_t cap);
/* The LM stream of count token sets int32 [count, shape...], as `tessera tokens to-lm`: each set's
 * span (begin, codes with their row separators, end) in order. One int32 array. */
tess_status tess_vocabulary_to_lm(const tess_vocabulary *vocabulary, const int32_t *ids, int64_t count,
                                  const int64_t *shape, int32_t ndim, tess_result **out);
/* The token sets of an LM stream of length ids (`tessera tokens from-lm`): one int32 array each. */
tess_status tess_vocabulary_from_lm(const tess_vocabulary *vocabulary, const int32_t *stream, int64_t length,
                                    tess_result **out);

/* --- Datasets ---------------------------------------------------------------------------- */

/* `tessera encode -o FOLDER`: tokenizes inputs (image and video files) into a folder of resumable
 * shards with manifest.jsonl, errors.jsonl and the journal. request (JSON):
 *   {"inputs": [paths], "output": folder, "format": "jsonl"|"npy"|"safetensors"|"bin"|"tar",
 *    "shard_size": bytes, "shard_samples": n, "vocabulary": path, "resume": false,
 *    "shard_index": 0, "num_shards": 1, "tokens": K, "batch": 8, "seed": S,
 *    "sampling": {"fps": f} | {"uniform": n} | {"every": n} | {}, "clip_frames": n,
 *    "progress": false (lines on stderr)}
 * Failed inputs are recorded in errors.jsonl and do not fail the call. The result's JSON is the
 * summary: inputs_done, inputs_total, samples, failed_inputs, shards, output. */
tess_status tess_encode_dataset(const tess_tokenizer *tokenizer, const char *request, tess_result **out);
/* Asks every running tess_encode_dataset to commit its open shard and return TESS_ERROR_STOPPED. */
void tess_request_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_H */
