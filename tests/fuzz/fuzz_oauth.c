/*
 * libFuzzer target: the parsers of an OAuth token endpoint's answer
 * (util/http.h), outside input that decides what goes into an
 * Authorization header and into error messages. Checks that a token that
 * parses is non-empty and fits in a header, and that error texts are
 * printable and bounded.
 */
#include "util/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct sm_oauth_token t;
    struct sm_err err = SM_ERR_INIT;
    if (!sm_oauth_parse_token(body, size, &t, &err)) {
        if (!t.access_token || !*t.access_token || strpbrk(t.access_token, "\r\n"))
            abort();
        if (t.expires_in == 0 || t.expires_in < -1)
            abort();
    } else if (t.access_token) {
        abort();
    }
    sm_oauth_token_release(&t);
    char *code, *desc;
    sm_oauth_parse_error(body, size, &code, &desc);
    const char *texts[] = {code, desc};
    for (size_t i = 0; i < 2; i++) {
        if (!texts[i])
            continue;
        if (strlen(texts[i]) > 203)
            abort();
        for (const char *p = texts[i]; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                abort();
    }
    free(code);
    free(desc);
    return 0;
}
