/*
 * ndkeys.c — the top-level keys of NDJSON lines (struct ing_keys, see
 * ingest_int.h), found while the line counter passes over every byte, and
 * of the records of JSON documents.
 *
 * DuckDB's schema detection reads a sample of a file (20,480 lines), and a
 * read with declared columns ignores every other key without a word, so a
 * key that first appears deep in a file would be lost, or slip past
 * 'schema_drift: fail'. This looks at every line instead.
 *
 * A line counts when it is shaped like an object: '{', "key": value
 * pairs separated by commas (a trailing comma allowed), '}', blanks
 * around. Values are skipped, not checked: strings to their closing quote,
 * objects and arrays to their matching bracket (strings inside skipped),
 * anything else to the next ',', '}', ']' or blank. Every line DuckDB
 * reads as an object has that shape, so no key it sees is missed; a line
 * DuckDB refuses (a broken number, a bad escape) may still bring its keys,
 * a column too many rather than one too few.
 *
 * A JSON document (format: json) is read whole by jscan instead, which
 * hands over the keys of each record: its checks cost more than the shape
 * test, but such files are rarely large.
 *
 * Most files repeat one set of keys in one order, so each key is first
 * compared with the one after the previous key in the order keys were
 * first seen (hint); its end is searched for and it is looked up in a map
 * of the keys as written only when that fails. Strings are skipped eight
 * bytes at a time.
 */
#include "ingest_int.h"

#include "util/jscan.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Bounds on what one file's keys may take: beyond them the file is refused
 * (a column per key would make no sense of it anyway). */
enum { MAX_KEYS = 10000, MAX_KEY_BYTES = 1 << 20 };

struct ing_raw_key {
    char *text; /* as written between the quotes, NUL-terminated */
    size_t len;
};

/* The next '"' or '\\' at or after p, or end. */
static const char *quote_or_backslash(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (end - p >= 8) {
        uint64_t w, q, b;
        memcpy(&w, p, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        /* a byte of q or b is zero where w has '"' or '\\'; the lowest
         * flagged byte is exact (borrows only run upwards) */
        uint64_t m = (((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    while (p < end && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* p just after an opening quote: the closing quote, or NULL. */
static const char *string_end(const char *p, const char *end)
{
    for (;;) {
        p = quote_or_backslash(p, end);
        if (p >= end)
            return NULL;
        if (*p == '"')
            return p;
        p += 2; /* the backslash and the character it escapes */
    }
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && blank(*p))
        p++;
    return p;
}

/* The bytes that end a scalar (a number, true, false, null): what may
 * follow it in an object, and ':' (which may not). */
static const bool scalar_end[256] = {
    [' '] = true, ['\t'] = true, ['\r'] = true, [','] = true,
    ['}'] = true, [']'] = true,  [':'] = true,
};

/* p on the first character of a value: just after it, or NULL. */
static const char *skip_value(const char *p, const char *end)
{
    if (*p == '"') {
        p = string_end(p + 1, end);
        return p ? p + 1 : NULL;
    }
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        for (; p < end; p++) {
            char c = *p;
            if (c == '"') {
                p = string_end(p + 1, end);
                if (!p)
                    return NULL;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if ((c == '}' || c == ']') && !--depth) {
                return p + 1;
            }
        }
        return NULL;
    }
    const char *start = p;
    while (p < end && !scalar_end[(unsigned char)*p])
        p++;
    return p > start ? p : NULL;
}

/* Whether the n bytes at a and b are the same: keys are short, a call to
 * memcmp() costs more than comparing them here. */
static bool same(const char *a, const char *b, size_t n)
{
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
    }
    for (; n; a++, b++, n--)
        if (*a != *b)
            return false;
    return true;
}

/* Index + 1 of the key as written [raw, raw+len) among those seen, or 0. */
static size_t known(struct ing_keys *k, const char *raw, size_t len)
{
    if (memchr(raw, '\0', len))
        return 0;
    sm_buf_reset(&k->tmp);
    (void)sm_buf_add(&k->tmp, raw, len);
    return (size_t)(uintptr_t)sm_map_get(&k->by_raw, k->tmp.buf);
}

/* p on a key's opening quote: its closing quote, or NULL. The key the
 * last one was followed by before is tried first: when the line has it
 * here, it needs no search for its end and no look-up (*out_at: its index
 * + 1, else 0 while unknown). */
static const char *key_end(struct ing_keys *k, const char *p, const char *end, size_t *out_at)
{
    if (k->hint < k->nraw) {
        const struct ing_raw_key *r = &k->raw[k->hint];
        /* a known key never ends in an escaping backslash: the quote after it closes it */
        if ((size_t)(end - p) > r->len + 1 && p[r->len + 1] == '"' &&
            same(p + 1, r->text, r->len)) {
            *out_at = ++k->hint;
            return p + r->len + 1;
        }
    }
    const char *q = string_end(p + 1, end);
    *out_at = q ? known(k, p + 1, (size_t)(q - p - 1)) : 0;
    if (*out_at)
        k->hint = *out_at;
    return q;
}

/* Whether [p, end) is shaped like an object; its keys go to k->line. */
static bool object_shape(struct ing_keys *k, const char *p, const char *end)
{
    k->nline = 0;
    k->hint = 0;
    if (end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) /* a byte-order mark */
        p += 3;
    p = skip_blanks(p, end);
    if (p >= end || *p != '{')
        return false;
    p = skip_blanks(p + 1, end);
    if (p < end && *p == '}')
        return skip_blanks(p + 1, end) == end;
    for (;;) {
        if (p >= end || *p != '"')
            return false;
        size_t at;
        const char *q = key_end(k, p, end, &at);
        if (!q)
            return false;
        if (!at) {
            SM_ALLOC_GROW(k->line, k->nline + 1, k->linealloc);
            k->line[k->nline].p = p + 1;
            k->line[k->nline++].len = (size_t)(q - p - 1);
        }
        p = skip_blanks(q + 1, end);
        if (p >= end || *p != ':')
            return false;
        p = skip_blanks(p + 1, end);
        if (p >= end || !(p = skip_value(p, end)))
            return false;
        p = skip_blanks(p, end);
        if (p < end && *p == ',') {
            p = skip_blanks(p + 1, end);
            if (p < end && *p == '}')
                return skip_blanks(p + 1, end) == end;
            continue;
        }
        if (p < end && *p == '}')
            return skip_blanks(p + 1, end) == end;
        return false;
    }
}

/* The key as DuckDB names the column: escapes undone (by jscan, reading the
 * quoted key as a document of its own); as written when they are broken. */
static char *unescaped(const char *raw, size_t len)
{
    if (!memchr(raw, '\\', len))
        return sm_strndup(raw, len);
    struct sm_buf doc = SM_BUF_INIT;
    (void)sm_buf_addc(&doc, '"');
    (void)sm_buf_add(&doc, raw, len);
    (void)sm_buf_addc(&doc, '"');
    static const char *const whole[] = {"", NULL};
    struct sm_jscan_query q = {.paths = whole};
    struct sm_jscan_result r;
    char *out = NULL;
    if (!sm_jscan(doc.buf, doc.len, &q, &r, NULL) && r.values[0].type == SM_JSCAN_STRING)
        out = sm_strdup(r.values[0].text);
    sm_jscan_result_release(&r);
    sm_buf_release(&doc);
    return out ? out : sm_strndup(raw, len);
}

/* Remember a key not seen before, as written (escapes still in it when
 * escaped); false when past the bounds. */
static bool add_key(struct ing_keys *k, const char *raw, size_t len, bool escaped)
{
    if (k->nraw >= MAX_KEYS || k->bytes + len > MAX_KEY_BYTES) {
        k->refused = "it has more than 10000 distinct top-level keys (or 1 MB of key "
                     "names), and bronze makes a column of each: nest such keys under one key "
                     "to load them as one JSON value";
        return false;
    }
    SM_ALLOC_GROW(k->raw, k->nraw + 1, k->rawalloc);
    struct ing_raw_key *r = &k->raw[k->nraw++];
    r->text = sm_strndup(raw, len);
    r->len = len;
    k->bytes += len;
    sm_map_put(&k->by_raw, r->text, (void *)(uintptr_t)k->nraw);
    char *name = escaped ? unescaped(raw, len) : sm_strndup(raw, len);
    if (sm_map_get(&k->by_name, name)) {
        free(name);
        return true;
    }
    sm_map_put(&k->by_name, name, (void *)1);
    SM_ALLOC_GROW(k->names, k->n + 1, k->alloc);
    k->names[k->n++] = name;
    return true;
}

void ing_keys_line(struct ing_keys *k, const char *p, size_t n)
{
    if (k->refused || !object_shape(k, p, p + n))
        return;
    k->any = true;
    /* keys not seen before, kept only now that the line has the shape */
    for (size_t i = 0; i < k->nline; i++) {
        const char *raw = k->line[i].p;
        size_t len = k->line[i].len;
        if (memchr(raw, '\0', len) || known(k, raw, len))
            continue; /* a raw NUL: no JSON reader takes the line; or twice in it */
        if (!add_key(k, raw, len, true))
            return;
    }
}

/* jscan's on_key: a key of a record, unescaped. Records repeat their keys
 * in one order: the key after the last one, or the first, is tried before
 * the map. */
static void on_record_key(void *ctx, const char *key, size_t len)
{
    struct ing_keys *k = ctx;
    if (k->refused || memchr(key, '\0', len))
        return;
    size_t at = 0;
    for (size_t i = 0; i < 2 && !at; i++) {
        size_t h = i ? 0 : k->hint;
        if (h < k->nraw && k->raw[h].len == len && same(k->raw[h].text, key, len))
            at = h + 1;
    }
    if (!at)
        at = known(k, key, len);
    if (!at) {
        if (!add_key(k, key, len, false))
            return;
        at = k->nraw;
    }
    k->hint = at;
}

int ing_keys_of_records(struct ing_keys *k, const char *path, struct sm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_err_set(err, SM_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb)) {
        rc = sm_err_set(err, SM_EIO, "cannot read '%s': %s", path, strerror(errno));
    } else if (sb.st_size > 0) {
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = sm_err_set(err, SM_EIO, "cannot read '%s': %s", path, strerror(errno));
        } else {
            (void)madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL);
            struct sm_jscan_query q = {.records = "", .on_key = on_record_key, .ctx = k};
            struct sm_jscan_result r;
            k->hint = 0;
            /* not JSON: no keys (those met before the fault are dropped);
             * DuckDB will say what is wrong when it reads the file */
            if (!sm_jscan(m, (size_t)sb.st_size, &q, &r, NULL))
                k->any = r.nobjects > 0;
            else
                ing_keys_release(k);
            sm_jscan_result_release(&r);
            munmap(m, (size_t)sb.st_size);
        }
    }
    close(fd);
    return rc;
}

void ing_keys_release(struct ing_keys *k)
{
    for (size_t i = 0; i < k->nraw; i++)
        free(k->raw[i].text);
    free(k->raw);
    for (size_t i = 0; i < k->n; i++)
        free(k->names[i]);
    free(k->names);
    free(k->line);
    sm_map_release(&k->by_raw);
    sm_map_release(&k->by_name);
    sm_buf_release(&k->tmp);
    memset(k, 0, sizeof(*k));
}
