/*
 * jscan — one pass over a JSON document that checks it (RFC 8259, UTF-8)
 * and picks out the few things a REST source needs from each page, without
 * building a tree: how many records there are at the records path, the
 * scalars at a handful of paths (next cursor, next URL, has_more, total),
 * and one field of every record (the incremental cursor). Bulk records are
 * read by DuckDB (DESIGN.md §5); this is what pagination needs, at memory
 * speed, allocating only for the values it returns.
 *
 *     static const char *const paths[] = {"meta.next_cursor", "has_more", NULL};
 *     struct sm_jscan_query q = {.records = "data", .paths = paths};
 *     struct sm_jscan_result res;
 *     if (sm_jscan(body, len, &q, &res, &err)) ...   // not JSON: err says where
 *     res.nrecords; res.values[0].type, res.values[0].text ...
 *     sm_jscan_result_release(&res);
 *
 * Paths are canonical: keys separated by dots, "" for the document itself
 * (project/ writes them so). A path goes through objects only: a key that
 * holds a dot, or anything inside an array, is on no path. When a key
 * appears twice in an object, the last one counts, as in most parsers.
 */
#ifndef SM_JSCAN_H
#define SM_JSCAN_H

#include "util/util.h"

enum sm_jscan_type {
    SM_JSCAN_ABSENT, /* nothing at the path */
    SM_JSCAN_NULL,
    SM_JSCAN_FALSE,
    SM_JSCAN_TRUE,
    SM_JSCAN_NUMBER,
    SM_JSCAN_STRING,
    SM_JSCAN_OBJECT,
    SM_JSCAN_ARRAY,
};

struct sm_jscan_value {
    enum sm_jscan_type type;
    char *text; /* STRING: unescaped (UTF-8, may hold NUL as \u0000 gives);
                   NUMBER: as written; otherwise NULL. NUL-terminated; in
                   on_field, borrowed for the call only */
    size_t len; /* of text */
};

struct sm_jscan_query {
    const char
        *records; /* the records: an array (its elements) or an object (one); "" = document */
    const char *const *paths; /* scalars wanted, NULL-terminated, or NULL */
    const char
        *record_field; /* a path inside each record (an object) reported to on_field, or NULL */
    void (*on_field)(void *ctx, const struct sm_jscan_value *v);
    /* Each key of each record (an object), unescaped, as it is met; NULL = none. */
    void (*on_key)(void *ctx, const char *key, size_t len);
    void *ctx;
};

struct sm_jscan_result {
    size_t nrecords;               /* elements of the records array; 1 for an object; else 0 */
    size_t nobjects;               /* of which objects */
    struct sm_jscan_value *values; /* one per query path */
    size_t nvalues;
};

/* Scan buf. 0, or SM_EPARSE with what is wrong and its line and column
 * (the message never quotes the document). *out is set up in both cases;
 * release it with sm_jscan_result_release(). */
int sm_jscan(const char *buf, size_t len, const struct sm_jscan_query *q,
             struct sm_jscan_result *out, struct sm_err *err) SM_MUST_USE;
void sm_jscan_result_release(struct sm_jscan_result *r);

#endif
