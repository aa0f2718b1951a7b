/*
 * libFuzzer target: deletion-vector decoding (Z85 + RoaringBitmap portable
 * format), the parser smelt runs over bytes from tables other tools wrote.
 * The input is used as an inline ('i') DV whose text is Z85 of the bytes.
 */
#include "table/table_int.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char z85[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size / 4 * 4;
    struct sm_buf text = SM_BUF_INIT;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
                     (uint32_t)data[i + 2] << 8 | data[i + 3];
        char chunk[5];
        for (int k = 4; k >= 0; k--) {
            chunk[k] = z85[v % 85];
            v /= 85;
        }
        (void)sm_buf_add(&text, chunk, 5);
    }
    json_t *dv = json_pack("{s:s, s:s, s:i, s:i}", "storageType", "i", "pathOrInlineDv", text.buf,
                           "sizeInBytes", (int)n, "cardinality", size ? data[0] : 0);
    char *js = json_dumps(dv, JSON_COMPACT);
    uint64_t *rows = NULL;
    size_t nrows = 0;
    if (!tbl_dv_read("/nonexistent", js, &rows, &nrows, NULL))
        free(rows);
    free(js);
    json_decref(dv);
    sm_buf_release(&text);
    return 0;
}
