#ifndef TESSERA_JPEG_H
#define TESSERA_JPEG_H
#include <stddef.h>
#include <stdint.h>

/// What the header says about a JPEG stream.
typedef struct {
    uint32_t width;
    uint32_t height;
    int components;       // 1 (gray), 3 (YCbCr/RGB) or 4 (CMYK/YCCK)
    int color_space;      // J_COLOR_SPACE of the file
    int progressive;
    int saw_adobe_marker; // Adobe APP14 present: CMYK data is stored inverted
    int adobe_transform;
} tsr_jpeg_info;

/// Reads the header of an in-memory JPEG. Returns 0 on success; otherwise writes a
/// message to `err` and returns -1.
int tsr_jpeg_read_info(const uint8_t *data, size_t size, tsr_jpeg_info *info, char *err, size_t errlen);

/// Decodes an in-memory JPEG with libjpeg's defaults (islow IDCT, fancy upsampling):
/// gray -> 1 byte, color -> RGB 3 bytes, CMYK/YCCK -> CMYK 4 bytes (as stored) per pixel.
/// `out` holds width*height*components bytes. A stream that ends early is an error
/// (libjpeg would otherwise pad it with gray and only warn).
int tsr_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size, char *err, size_t errlen);

#endif
