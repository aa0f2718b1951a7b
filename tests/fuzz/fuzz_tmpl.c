/*
 * libFuzzer target: the {field} placeholder parser (util/tmpl.h) that reads
 * the path and parameters of a child REST source. Checks that a parse that
 * succeeds gives parts that alternate literal and field, with fields that
 * are non-empty and brace-free.
 */
#include "util/tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = sm_strndup((const char *)data, size);
    struct sm_tmpl t;
    if (!sm_tmpl_parse(s, &t, NULL)) {
        size_t nf = 0;
        for (size_t i = 0; i < t.n; i++) {
            if (t.parts[i].field) {
                nf++;
                if (!*t.parts[i].text || strpbrk(t.parts[i].text, "{}"))
                    abort();
            } else if (i && !t.parts[i - 1].field) {
                abort(); /* two literals in a row */
            }
        }
        if (nf != t.nfields)
            abort();
    }
    sm_tmpl_release(&t);
    free(s);
    return 0;
}
