/*
 * libFuzzer target: archive member names (outside input) through
 * ing_member_name_check() and ing_member_name_shown(). Aborts when an
 * accepted name could leave the extraction folder, or when the name shown
 * in the lake holds a control byte or is longer than the cap.
 */
#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *name = (const char *)data;
    struct sm_err err = SM_ERR_INIT;
    if (!ing_member_name_check(name, size, &err)) {
        if (!size || data[0] == '/' || data[0] == '\\')
            abort();
        for (size_t i = 0; i < size; i++) {
            if (data[i] < 0x20 || data[i] == 0x7f)
                abort();
            bool start = i == 0 || data[i - 1] == '/' || data[i - 1] == '\\';
            bool end = i + 2 == size || (i + 2 < size && (data[i + 2] == '/' || data[i + 2] == '\\'));
            if (start && i + 1 < size && data[i] == '.' && data[i + 1] == '.' && end)
                abort();
        }
    } else if (!err.msg[0]) {
        abort(); /* a refusal always says why */
    }
    char *shown = ing_member_name_shown(name, size);
    size_t n = strlen(shown);
    if (n > 4096 + 4)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)shown[i] < 0x20 || shown[i] == 0x7f)
            abort();
    free(shown);
    return 0;
}
