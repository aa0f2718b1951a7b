/*
 * libFuzzer target: the top-level keys of NDJSON lines (ingest/ndkeys.c),
 * found as the line counter passes over a landed file (outside input).
 * The first byte sets the size of the pieces the text is fed in (a line
 * cut between two feeds must be seen whole); the rest is the file.
 * Besides not crashing, aborts when:
 *  - (the text as one JSON document, ing_keys_of_records) a key of a
 *    record jscan reports is missing from the keys found, or a key found
 *    is no record's, or keys are found in a document jscan refuses;
 *  - feeding in pieces and feeding in one go find different keys;
 *  - a line jscan (the REST pages' checker, itself fuzzed against jansson)
 *    accepts as a JSON object has a key the scan did not find: the scan
 *    may find a key too many, never one too few;
 *  - a line jscan accepts as an object did not count as one (any).
 */
#include "ingest/ingest_int.h"
#include "util/jscan.h"

#include <unistd.h>

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

static bool *marks; /* which of keys_of's names a record has */

/* jscan's on_key over a document: every record key must be among
 * keys_of's names; marks the one it is. */
static void on_doc_key(void *ctx, const char *key, size_t len)
{
    (void)ctx;
    if (memchr(key, '\0', len))
        return;
    for (size_t i = 0; i < keys_of->n; i++)
        if (!strcmp(keys_of->names[i], key)) {
            marks[i] = true;
            return;
        }
    abort(); /* a record's key the scan missed */
}

/* The text as one JSON document: its records' keys, checked both ways. */
static void records(const char *text, size_t len)
{
    char path[] = "/tmp/fuzz_ndkeys.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len)
        abort();
    close(fd);
    struct ing_keys k = {0};
    if (ing_keys_of_records(&k, path, NULL))
        abort();
    unlink(path);
    struct sm_jscan_query check = {.records = ""}, keys = {.records = "", .on_key = on_doc_key};
    struct sm_jscan_result r;
    bool ok = !sm_jscan(text, len, &check, &r, NULL);
    sm_jscan_result_release(&r);
    if (!ok && (k.n || k.any))
        abort(); /* keys of a document that is not JSON */
    if (ok && !k.refused) {
        keys_of = &k;
        marks = calloc(k.n + 1, sizeof(*marks));
        if (sm_jscan(text, len, &keys, &r, NULL))
            abort();
        sm_jscan_result_release(&r);
        for (size_t i = 0; i < k.n; i++)
            if (!marks[i])
                abort(); /* a key found that no record has */
        free(marks);
    }
    ing_keys_release(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    if (data[0] & 0x80) {
        records((const char *)data + 1, size - 1);
        return 0;
    }
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
