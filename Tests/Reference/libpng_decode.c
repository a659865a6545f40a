/*
 * libpng_decode.c - decode a PNG with the system libpng using the classic
 * transform set that implements Tessera's decode rule, and write
 * "<width> <height> <channels>\n" followed by the raw 8-bit pixels to stdout:
 *
 *     png_set_expand            palette -> RGB, grey < 8 bit -> 8 bit, tRNS -> alpha
 *     png_set_strip_16          16 -> 8 bit by dropping the LOW byte
 *     png_set_gray_to_rgb       grey -> RGB
 *     (no png_set_gamma / no colour management)
 *
 * Used by make_media_fixtures.py (optional step) as an independent check of
 * the PNG expected arrays.  Build:  cc libpng_decode.c -o libpng_decode -lpng
 */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s file.png\n", argv[0]); return 2; }
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) return 1;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) { fprintf(stderr, "libpng error\n"); return 1; }
    png_init_io(png, fp);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int ch = png_get_channels(png, info);
    size_t rb = png_get_rowbytes(png, info);
    png_bytep data = malloc(rb * h);
    png_bytepp rows = malloc(sizeof(png_bytep) * h);
    for (png_uint_32 y = 0; y < h; y++) rows[y] = data + y * rb;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    printf("%u %u %d\n", w, h, ch);
    fwrite(data, 1, rb * h, stdout);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    return 0;
}
