/*
 * tmpl.c — the {field} placeholder parser of util/tmpl.h. One pass over the
 * string, building literal and field parts; it reads project files (and
 * is fuzzed, tests/fuzz/fuzz_tmpl.c), so every malformed input is an error
 * that says where, never a crash or an unbounded scan.
 */
#include "tmpl.h"

void sm_tmpl_release(struct sm_tmpl *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->parts[i].text);
    free(t->parts);
    memset(t, 0, sizeof(*t));
}

static void add_part(struct sm_tmpl *t, size_t *alloc, struct sm_buf *lit, const char *field,
                     size_t flen)
{
    if (lit->len) {
        SM_ALLOC_GROW(t->parts, t->n + 1, *alloc);
        t->parts[t->n].field = false;
        t->parts[t->n++].text = sm_buf_detach(lit);
    }
    if (field) {
        SM_ALLOC_GROW(t->parts, t->n + 1, *alloc);
        t->parts[t->n].field = true;
        t->parts[t->n++].text = sm_strndup(field, flen);
        t->nfields++;
    }
}

/* A field path: keys separated by single dots, none empty. */
static bool field_ok(const char *f, size_t n)
{
    if (!n || f[0] == '.' || f[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = f[i];
        if (c == '.' && f[i + 1] == '.')
            return false;
        if (strchr("{}[]$*\"' \t\r\n\\", c) || (unsigned char)c < 0x20)
            return false;
    }
    return true;
}

int sm_tmpl_parse(const char *s, struct sm_tmpl *out, struct sm_err *err)
{
    struct sm_buf lit = SM_BUF_INIT;
    size_t alloc = 0;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; s[i] && !rc;) {
        char c = s[i];
        if (c == '$' && s[i + 1] == '$' && s[i + 2] == '{') {
            (void)sm_buf_add(&lit, s + i, 3); /* "$${": a literal "${" for sec_resolve */
            i += 3;
        } else if (c == '$' && s[i + 1] == '{') {
            /* A reference: literal up to and including its '}'; sec_resolve
             * reports one left open. */
            size_t j = i + 2;
            while (s[j] && s[j] != '}')
                j++;
            if (s[j])
                j++;
            (void)sm_buf_add(&lit, s + i, j - i);
            i = j;
        } else if (c == '{' && s[i + 1] == '{') {
            (void)sm_buf_addc(&lit, '{');
            i += 2;
        } else if (c == '}' && s[i + 1] == '}') {
            (void)sm_buf_addc(&lit, '}');
            i += 2;
        } else if (c == '{') {
            const char *close = strchr(s + i + 1, '}');
            const char *open = strchr(s + i + 1, '{');
            if (!close || (open && open < close)) {
                rc = sm_err_set(err, SM_EINVALID,
                                "placeholder at character %zu is not closed: write '{field}', "
                                "or '{{' for a literal '{'",
                                i + 1);
                break;
            }
            size_t n = (size_t)(close - (s + i + 1));
            if (!n) {
                rc = sm_err_set(err, SM_EINVALID,
                                "empty placeholder '{}' at character %zu: write the field to "
                                "fill in, e.g. '{id}'",
                                i + 1);
                break;
            }
            if (!field_ok(s + i + 1, n)) {
                rc = sm_err_set(err, SM_EINVALID,
                                "invalid field '%.*s' in placeholder at character %zu: write keys "
                                "separated by dots, e.g. '{id}' or '{customer.id}'",
                                (int)(n > 64 ? 64 : n), s + i + 1, i + 1);
                break;
            }
            add_part(out, &alloc, &lit, s + i + 1, n);
            i += n + 2;
        } else {
            (void)sm_buf_addc(&lit, c);
            i++;
        }
    }
    if (!rc)
        add_part(out, &alloc, &lit, NULL, 0);
    sm_buf_release(&lit);
    return rc;
}
