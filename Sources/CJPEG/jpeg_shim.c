// libjpeg's default error handler calls exit(); this one longjmps back here instead, and the
// setjmp lives in C because Swift cannot host it.
#include "tessera_jpeg.h"
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char *err;
    size_t errlen;
    int truncated;
} error_state;

static void on_error_exit(j_common_ptr cinfo) {
    error_state *st = (error_state *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    if (st->err && st->errlen) { strncpy(st->err, buffer, st->errlen - 1); st->err[st->errlen - 1] = 0; }
    longjmp(st->jump, 1);
}

// Warnings are silent, except that running out of data is remembered: libjpeg pads a
// truncated stream with gray and carries on, which would hide a broken file.
static void on_message(j_common_ptr cinfo, int level) {
    error_state *st = (error_state *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) st->truncated = 1;
}

static void set_error(char *err, size_t errlen, const char *msg) {
    if (err && errlen) { strncpy(err, msg, errlen - 1); err[errlen - 1] = 0; }
}

static void init_errors(struct jpeg_decompress_struct *cinfo, error_state *st, char *err, size_t errlen) {
    memset(st, 0, sizeof(*st));
    cinfo->err = jpeg_std_error(&st->mgr);
    st->mgr.error_exit = on_error_exit;
    st->mgr.emit_message = on_message;
    st->err = err;
    st->errlen = errlen;
}

int tsr_jpeg_read_info(const uint8_t *data, size_t size, tsr_jpeg_info *info, char *err, size_t errlen) {
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8) { set_error(err, errlen, "not a JPEG file (no SOI marker)"); return -1; }
    struct jpeg_decompress_struct cinfo;
    error_state st;
    init_errors(&cinfo, &st, err, errlen);
    if (setjmp(st.jump)) { jpeg_destroy_decompress(&cinfo); return -1; }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (st.truncated) {
        jpeg_destroy_decompress(&cinfo);
        set_error(err, errlen, "truncated file (premature end of JPEG data)");
        return -1;
    }
    info->width = cinfo.image_width;
    info->height = cinfo.image_height;
    info->components = cinfo.num_components;
    info->color_space = cinfo.jpeg_color_space;
    info->progressive = cinfo.progressive_mode;
    info->saw_adobe_marker = cinfo.saw_Adobe_marker;
    info->adobe_transform = cinfo.Adobe_transform;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int tsr_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size, char *err, size_t errlen) {
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8) { set_error(err, errlen, "not a JPEG file (no SOI marker)"); return -1; }
    struct jpeg_decompress_struct cinfo;
    error_state st;
    init_errors(&cinfo, &st, err, errlen);
    if (setjmp(st.jump)) { jpeg_destroy_decompress(&cinfo); return -1; }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK: case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default: cinfo.out_color_space = JCS_RGB; break;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    if (stride * cinfo.output_height > out_size) {
        jpeg_destroy_decompress(&cinfo);
        set_error(err, errlen, "output buffer too small");
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (st.truncated) break;
    }
    if (st.truncated) {
        jpeg_destroy_decompress(&cinfo);
        set_error(err, errlen, "truncated file (premature end of JPEG data)");
        return -1;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return 0;
}
