/* Tokenize image files from C through Tessera's C ABI, and print one line of ids per image.
 *
 *   cc -I Sources/CTesseraABI/include Examples/c/tokenize.c -L python/tessera -lTesseraC \
 *      -Wl,-rpath,$PWD/python/tessera -o tokenize
 *   ./tokenize Assets/models/titok-demo Assets/images/chelsea.png Assets/images/rocket.jpg
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

static int fail(const char *what) {
    char message[1024], path[512];
    tess_last_error(message, sizeof message);
    tess_last_error_path(path, sizeof path);
    fprintf(stderr, "%s failed: %s%s%s\n", what, message, path[0] ? " (file: " : "", path[0] ? path : "");
    if (path[0]) fprintf(stderr, ")\n");
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR IMAGE...\n", argv[0]);
        return 2;
    }
    if (tess_abi_version() != TESS_ABI_VERSION) {
        fprintf(stderr, "libTesseraC speaks ABI %d, this program %d\n", tess_abi_version(), TESS_ABI_VERSION);
        return 1;
    }
    tess_tokenizer *tokenizer = NULL;
    if (tess_tokenizer_load(argv[1], NULL, &tokenizer) != TESS_OK) return fail("tess_tokenizer_load");

    int64_t count = argc - 2;
    tess_image *images = calloc((size_t)count, sizeof *images);
    for (int64_t i = 0; i < count; i++) images[i].name = argv[2 + i]; /* data NULL: read the file */

    tess_result *result = NULL;
    tess_status status = tess_tokenizer_encode(tokenizer, images, count, "{\"batch\": 8}", &result);
    free(images);
    if (status != TESS_OK) {
        tess_tokenizer_free(tokenizer);
        return fail("tess_tokenizer_encode");
    }
    for (int64_t i = 0; i < tess_result_count(result); i++) {
        int32_t dtype, ndim;
        int64_t shape[8], n = 1;
        if (tess_result_array(result, i, &dtype, shape, 8, &ndim) != TESS_OK) return fail("tess_result_array");
        for (int32_t d = 0; d < ndim; d++) n *= shape[d];
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        if (dtype != TESS_DTYPE_INT32 || tess_result_copy(result, i, ids, n * (int64_t)sizeof *ids) != TESS_OK) {
            fprintf(stderr, "%s: not discrete tokens\n", argv[2 + i]);
            return 1;
        }
        printf("%s:", argv[2 + i]);
        for (int64_t k = 0; k < n; k++) printf(" %d", ids[k]);
        printf("\n");
        free(ids);
    }
    tess_result_free(result);
    tess_tokenizer_free(tokenizer);
    return 0;
}
