// libpng reports errors by longjmp, which Swift cannot host: the setjmp lives here.
#include "tessera_png.h"
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    jmp_buf jump;
    char *err;
    size_t errlen;
    const uint8_t *data;
    size_t size;
    size_t pos;
} reader_state;

static void on_error(png_structp png, png_const_charp msg) {
    reader_state *st = (reader_state *)png_get_error_ptr(png);
    if (st->err && st->errlen) {
        strncpy(st->err, msg ? msg : "libpng error", st->errlen - 1);
        st->err[st->errlen - 1] = 0;
    }
    longjmp(st->jump, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void read_bytes(png_structp png, png_bytep dst, png_size_t n) {
    reader_state *st = (reader_state *)png_get_io_ptr(png);
    if (n > st->size - st->pos) png_error(png, "truncated file (unexpected end of data)");
    memcpy(dst, st->data + st->pos, n);
    st->pos += n;
}

static void set_error(char *err, size_t errlen, const char *msg) {
    if (err && errlen) { strncpy(err, msg, errlen - 1); err[errlen - 1] = 0; }
}

// Shared by info and decode: sets up a read struct on the buffer and reads the header.
#define TSR_PNG_BEGIN(st, png, pinfo)                                                      \
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {                     \
        set_error(err, errlen, "not a PNG file (bad signature)"); return -1; }            \
    reader_state st = { .err = err, .errlen = errlen, .data = data, .size = size, .pos = 0 }; \
    png_structp volatile png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, on_error, on_warning); \
    if (!png) { set_error(err, errlen, "out of memory"); return -1; }                    \
    png_infop volatile pinfo = png_create_info_struct(png);                               \
    if (!pinfo) { png_destroy_read_struct((png_structpp)&png, NULL, NULL);                \
        set_error(err, errlen, "out of memory"); return -1; }

int tsr_png_read_info(const uint8_t *data, size_t size, tsr_png_info *info, char *err, size_t errlen) {
    TSR_PNG_BEGIN(st, png, pinfo)
    if (setjmp(st.jump)) {
        png_destroy_read_struct((png_structpp)&png, (png_infopp)&pinfo, NULL);
        return -1;
    }
    png_set_read_fn(png, &st, read_bytes);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, pinfo);
    info->width = png_get_image_width(png, pinfo);
    info->height = png_get_image_height(png, pinfo);
    info->bit_depth = png_get_bit_depth(png, pinfo);
    info->color_type = png_get_color_type(png, pinfo);
    info->interlaced = png_get_interlace_type(png, pinfo) != PNG_INTERLACE_NONE;
    info->has_alpha = (info->color_type & PNG_COLOR_MASK_ALPHA) != 0 || png_get_valid(png, pinfo, PNG_INFO_tRNS) != 0;
    png_destroy_read_struct((png_structpp)&png, (png_infopp)&pinfo, NULL);
    return 0;
}

int tsr_png_decode(const uint8_t *data, size_t size, uint8_t *out, int channels, char *err, size_t errlen) {
    if (channels != 3 && channels != 4) { set_error(err, errlen, "channels must be 3 or 4"); return -1; }
    TSR_PNG_BEGIN(st, png, pinfo)
    png_bytep *volatile rows = NULL;
    if (setjmp(st.jump)) {
        free(rows);
        png_destroy_read_struct((png_structpp)&png, (png_infopp)&pinfo, NULL);
        return -1;
    }
    png_set_read_fn(png, &st, read_bytes);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, pinfo);
    png_uint_32 width = png_get_image_width(png, pinfo), height = png_get_image_height(png, pinfo);
    int color = png_get_color_type(png, pinfo);
    png_set_expand(png);          // palette -> RGB, gray < 8 bit -> 8 bit, tRNS -> alpha
    png_set_strip_16(png);        // high byte, as Pillow does
    if (!(color & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
    int has_alpha = (color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, pinfo, PNG_INFO_tRNS);
    if (channels == 4 && !has_alpha) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    if (channels == 3 && has_alpha) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    if (png_get_rowbytes(png, pinfo) != (size_t)width * (size_t)channels) {
        set_error(err, errlen, "unsupported PNG pixel layout");
        png_destroy_read_struct((png_structpp)&png, (png_infopp)&pinfo, NULL);
        return -1;
    }
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = out + (size_t)y * width * channels;
    png_read_image(png, rows);
    free(rows);
    rows = NULL;
    png_destroy_read_struct((png_structpp)&png, (png_infopp)&pinfo, NULL);
    return 0;
}

// MARK: encoding

typedef struct {
    jmp_buf jump;
    char *err;
    size_t errlen;
    uint8_t *buf;
    size_t size;
    size_t cap;
} writer_state;

static void on_write_error(png_structp png, png_const_charp msg) {
    writer_state *st = (writer_state *)png_get_error_ptr(png);
    set_error(st->err, st->errlen, msg ? msg : "libpng error");
    longjmp(st->jump, 1);
}

static void write_bytes(png_structp png, png_bytep src, png_size_t n) {
    writer_state *st = (writer_state *)png_get_io_ptr(png);
    if (st->size + n > st->cap) {
        size_t cap = st->cap ? st->cap : 65536;
        while (cap < st->size + n) cap *= 2;
        uint8_t *grown = (uint8_t *)realloc(st->buf, cap);
        if (!grown) png_error(png, "out of memory");
        st->buf = grown;
        st->cap = cap;
    }
    memcpy(st->buf + st->size, src, n);
    st->size += n;
}

static void flush_noop(png_structp png) { (void)png; }

int tsr_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                   int compression_level, uint8_t **out, size_t *out_size, char *err, size_t errlen) {
    if (channels != 3 && channels != 4) { set_error(err, errlen, "channels must be 3 or 4"); return -1; }
    writer_state st = { .err = err, .errlen = errlen, .buf = NULL, .size = 0, .cap = 0 };
    png_structp volatile png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, on_write_error, on_warning);
    if (!png) { set_error(err, errlen, "out of memory"); return -1; }
    png_infop volatile pinfo = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!pinfo || setjmp(st.jump)) {
        free(rows);
        free(st.buf);
        png_destroy_write_struct((png_structpp)&png, (png_infopp)&pinfo);
        if (!pinfo) set_error(err, errlen, "out of memory");
        return -1;
    }
    png_set_write_fn(png, &st, write_bytes, flush_noop);
    png_set_compression_level(png, compression_level);
    png_set_IHDR(png, pinfo, width, height, 8, channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)pixels + (size_t)y * width * channels;
    png_set_rows(png, pinfo, rows);
    png_write_png(png, pinfo, PNG_TRANSFORM_IDENTITY, NULL);
    free(rows);
    rows = NULL;
    png_destroy_write_struct((png_structpp)&png, (png_infopp)&pinfo);
    *out = st.buf;
    *out_size = st.size;
    return 0;
}

void tsr_png_free(void *p) { free(p); }
