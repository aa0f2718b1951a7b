/*
 * dv.c — reading Delta deletion vectors (format in table_int.h). Only
 * reading: smelt never writes DVs, it rewrites files (copy-on-write).
 */
#include "table_int.h"

#include <jansson.h>

static const char z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int tbl_z85_decode(const char *s, size_t len, unsigned char *out)
{
    if (len % 5)
        return SM_EPARSE;
    for (size_t i = 0; i < len; i += 5) {
        uint64_t v = 0;
        for (size_t k = 0; k < 5; k++) {
            const char *p = s[i + k] ? strchr(z85_chars, s[i + k]) : NULL;
            if (!p)
                return SM_EPARSE;
            v = v * 85 + (uint64_t)(p - z85_chars);
        }
        if (v > 0xFFFFFFFFu)
            return SM_EPARSE;
        for (int k = 3; k >= 0; k--) {
            out[i / 5 * 4 + (size_t)k] = (unsigned char)(v & 0xFF);
            v >>= 8;
        }
    }
    return 0;
}

struct reader {
    const unsigned char *p, *end;
};

static bool take(struct reader *r, size_t n, const unsigned char **out)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

static bool u16le(struct reader *r, uint32_t *v)
{
    const unsigned char *b;
    if (!take(r, 2, &b))
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8;
    return true;
}

static bool u32le(struct reader *r, uint32_t *v)
{
    const unsigned char *b;
    if (!take(r, 4, &b))
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

struct rows {
    uint64_t *v;
    size_t n, alloc;
};

static void push(struct rows *r, uint64_t x)
{
    SM_ALLOC_GROW(r->v, r->n + 1, r->alloc);
    r->v[r->n++] = x;
}

/* One 32-bit roaring bitmap in the portable serialization. */
static int read_roaring32(struct reader *r, uint64_t high, struct rows *out)
{
    uint32_t cookie, size;
    const unsigned char *runbits = NULL;
    if (!u32le(r, &cookie))
        return SM_EPARSE;
    bool has_runs = (cookie & 0xFFFF) == 12347;
    if (has_runs) {
        size = (cookie >> 16) + 1;
        if (!take(r, (size + 7) / 8, &runbits))
            return SM_EPARSE;
    } else if (cookie == 12346) {
        if (!u32le(r, &size))
            return SM_EPARSE;
    } else {
        return SM_EPARSE;
    }
    if (size > 65536)
        return SM_EPARSE;
    uint32_t *keys = sm_calloc(size ? size : 1, sizeof(uint32_t));
    uint32_t *cards = sm_calloc(size ? size : 1, sizeof(uint32_t));
    int rc = 0;
    for (uint32_t i = 0; i < size && !rc; i++) {
        uint32_t c = 0;
        if (!u16le(r, &keys[i]) || !u16le(r, &c))
            rc = SM_EPARSE;
        cards[i] = c + 1;
    }
    if (!rc && (!has_runs || size >= 4)) { /* offset header: skipped, containers follow in order */
        const unsigned char *skip;
        if (!take(r, 4 * (size_t)size, &skip))
            rc = SM_EPARSE;
    }
    for (uint32_t i = 0; i < size && !rc; i++) {
        uint64_t base = high << 32 | (uint64_t)keys[i] << 16;
        bool run = runbits && (runbits[i / 8] >> (i % 8) & 1);
        if (run) {
            uint32_t nruns = 0, start, len;
            if (!u16le(r, &nruns))
                rc = SM_EPARSE;
            for (uint32_t k = 0; k < nruns && !rc; k++) {
                if (!u16le(r, &start) || !u16le(r, &len)) {
                    rc = SM_EPARSE;
                    break;
                }
                for (uint32_t x = start; x <= start + len && x < 65536; x++)
                    push(out, base | x);
            }
        } else if (cards[i] <= 4096) {
            for (uint32_t k = 0; k < cards[i] && !rc; k++) {
                uint32_t x;
                if (!u16le(r, &x))
                    rc = SM_EPARSE;
                else
                    push(out, base | x);
            }
        } else {
            const unsigned char *bits;
            if (!take(r, 8192, &bits)) {
                rc = SM_EPARSE;
                break;
            }
            for (uint32_t x = 0; x < 65536; x++)
                if (bits[x / 8] >> (x % 8) & 1)
                    push(out, base | x);
        }
    }
    free(keys);
    free(cards);
    return rc;
}

/* The bitmap: magic, then a RoaringTreemap of 32-bit bitmaps. */
static int read_bitmap(const unsigned char *data, size_t len, struct rows *out)
{
    struct reader r = {data, data + len};
    uint32_t magic, lo, hi, high;
    if (!u32le(&r, &magic) || magic != 1681511377u)
        return SM_EPARSE;
    if (!u32le(&r, &lo) || !u32le(&r, &hi) || hi)
        return SM_EPARSE;
    for (uint32_t b = 0; b < lo; b++) {
        if (!u32le(&r, &high))
            return SM_EPARSE;
        SM_TRY(read_roaring32(&r, high, out));
    }
    return 0;
}

static char *uuid_path(const char *root, const char *p, size_t len, struct sm_err *err)
{
    if (len < 20) {
        sm_err_set(err, SM_EPARSE, "deletion vector path '%s' is too short", p);
        return NULL;
    }
    unsigned char u[16];
    if (tbl_z85_decode(p + len - 20, 20, u)) {
        sm_err_set(err, SM_EPARSE, "deletion vector path '%s' is not Z85", p);
        return NULL;
    }
    char *prefix = sm_strndup(p, len - 20);
    char *path = sm_asprintf("%s/%s%sdeletion_vector_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                             "%02x%02x%02x%02x%02x%02x.bin",
                             root, prefix, *prefix ? "/" : "", u[0], u[1], u[2], u[3], u[4], u[5],
                             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    free(prefix);
    return path;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int tbl_dv_read(const char *root, const char *dv_json, uint64_t **out, size_t *n,
                struct sm_err *err)
{
    json_t *dv = json_loads(dv_json, 0, NULL);
    const char *type = json_string_value(json_object_get(dv, "storageType"));
    const char *where = json_string_value(json_object_get(dv, "pathOrInlineDv"));
    int64_t offset = json_integer_value(json_object_get(dv, "offset"));
    int64_t size = json_integer_value(json_object_get(dv, "sizeInBytes"));
    int64_t card = json_integer_value(json_object_get(dv, "cardinality"));
    struct rows rows = {0};
    int rc = 0;
    char *data = NULL, *path = NULL;
    size_t dlen = 0;
    if (!type || !where) {
        rc = sm_err_set(err, SM_EPARSE, "deletion vector without storageType or pathOrInlineDv");
    } else if (!strcmp(type, "i")) {
        size_t l = strlen(where);
        unsigned char *raw = sm_malloc(l / 5 * 4 + 1);
        if (tbl_z85_decode(where, l, raw))
            rc = sm_err_set(err, SM_EPARSE, "inline deletion vector is not Z85");
        else
            rc = read_bitmap(raw, (size_t)size <= l / 5 * 4 ? (size_t)size : l / 5 * 4, &rows);
        free(raw);
    } else if (!strcmp(type, "u") || !strcmp(type, "p")) {
        path = !strcmp(type, "u") ? uuid_path(root, where, strlen(where), err) : sm_strdup(where);
        if (!path)
            rc = err ? err->code : SM_EPARSE;
        if (!rc && sm_starts_with(path, "file:"))
            memmove(path, path + 5, strlen(path + 5) + 1);
        if (!rc)
            rc = sm_read_file(path, &data, &dlen, err);
        /* at offset: u32 big-endian size, then the bitmap */
        if (!rc && (offset < 0 || (size_t)offset + 4 + (size_t)size > dlen))
            rc = sm_err_set(err, SM_EPARSE, "deletion vector '%s' is shorter than its descriptor",
                            path);
        if (!rc)
            rc = read_bitmap((unsigned char *)data + offset + 4, (size_t)size, &rows);
    } else {
        rc = sm_err_set(err, SM_EINVALID, "unknown deletion vector storage type '%s'", type);
    }
    if (!rc && (int64_t)rows.n != card)
        rc = sm_err_set(err, SM_EPARSE, "deletion vector holds %zu rows, its descriptor says %lld",
                        rows.n, (long long)card);
    else if (rc == SM_EPARSE && err && !err->code)
        rc = sm_err_set(err, SM_EPARSE, "deletion vector%s%s is corrupt", path ? " " : "",
                        path ? path : "");
    if (!rc) {
        if (rows.n)
            qsort(rows.v, rows.n, sizeof(uint64_t), cmp_u64);
        *out = rows.v;
        *n = rows.n;
    } else {
        free(rows.v);
    }
    free(data);
    free(path);
    json_decref(dv);
    return rc;
}
