#ifndef TESSERA_PNG_H
#define TESSERA_PNG_H
#include <stddef.h>
#include <stdint.h>

/// What the header says about a PNG stream.
typedef struct {
    uint32_t width;
    uint32_t height;
    int bit_depth;
    int color_type;   // PNG_COLOR_TYPE_*
    int interlaced;   // 1 for Adam7
    int has_alpha;    // alpha channel or tRNS chunk
} tsr_png_info;

/// Reads the header of an in-memory PNG. Returns 0 on success; otherwise writes a
/// message to `err` (NUL-terminated, at most `errlen` bytes) and returns -1.
int tsr_png_read_info(const uint8_t *data, size_t size, tsr_png_info *info,
                      char *err, size_t errlen);

/// Decodes an in-memory PNG into 8-bit interleaved pixels: RGB (`channels` = 3) or RGBA (4).
/// Palette and low-bit gray are expanded, tRNS becomes alpha, 16-bit keeps the high byte,
/// gray becomes RGB, no gamma is applied. `out` holds width*height*channels bytes.
int tsr_png_decode(const uint8_t *data, size_t size, uint8_t *out, int channels,
                   char *err, size_t errlen);

/// Encodes 8-bit RGB/RGBA pixels as PNG. On success `*out` is a malloc'ed buffer the caller
/// frees with `tsr_png_free`.
int tsr_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                   int compression_level, uint8_t **out, size_t *out_size,
                   char *err, size_t errlen);
void tsr_png_free(void *p);

#endif
