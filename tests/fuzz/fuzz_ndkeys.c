/*
 * libFuzzer target: the top-level keys of NDJSON lines (ingest/ndkeys.c),
 * found as the line counter passes over a landed file (outside input).
 * The first byte sets the size of the pieces the text is fed in (a line
 * cut between two feeds must be seen whole); the rest is the file.
 * Besides not crashing, aborts when:
 *  - feeding in pieces and feeding in one go find different keys;
 *  - a line jscan (the REST pages' checker, itself fuzzed against jansson)
 *    accepts as a JSON object has a key the scan did not find: the scan
 *    may find a key too many, never one too few;
 *  - a line jscan accepts as an object did not count as one (any).
 */
#include "ingest/ingest_int.h"
#include "util/jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void scan(const char *text, size_t len, size_t piece, struct ing_lines *l)
{
    struct ing_lines proto = {.ws_blank = true, .want_keys = true};
    ing_lines_init(l, &proto);
    for (size_t at = 0; at < len; at += piece)
        ing_lines_feed(l, text + at, len - at < piece ? len - at : piece);
    ing_lines_finish(l);
}

static const struct ing_keys *keys_of;

static void on_key(void *ctx, const char *key, size_t len)
{
    (void)ctx;
    if (memchr(key, '\0', len))
        return; /* a "\u0000" in a key: names are C strings, cut there */
    for (size_t i = 0; i < keys_of->n; i++)
        if (!strcmp(keys_of->names[i], key))
            return;
    abort(); /* a key of a valid object the scan missed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    size_t piece = 1 + data[0] % 17;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    struct ing_lines cut, whole;
    scan(text, len, piece, &cut);
    scan(text, len, len ? len : 1, &whole);
    const struct ing_keys *a = &cut.keys, *b = &whole.keys;
    if (a->n != b->n || a->any != b->any || !a->refused != !b->refused)
        abort();
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], b->names[i]))
            abort();
    keys_of = b;
    bool object = false;
    for (const char *p = text, *end = text + len; p < end && !b->refused;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        /* jscan hands keys over as it meets them, before it knows the line
         * is good: a first pass decides, a second checks a good line's keys */
        struct sm_jscan_query check = {.records = ""}, keys = {.records = "", .on_key = on_key};
        struct sm_jscan_result r;
        bool ok = !sm_jscan(p, n, &check, &r, NULL) && r.nrecords == 1 && r.nobjects == 1;
        sm_jscan_result_release(&r);
        if (ok) {
            object = true;
            if (sm_jscan(p, n, &keys, &r, NULL))
                abort();
            sm_jscan_result_release(&r);
        }
        p = nl ? nl + 1 : end;
    }
    if (object && !b->any)
        abort();
    ing_lines_release(&cut);
    ing_lines_release(&whole);
    return 0;
}
