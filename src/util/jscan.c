/*
 * jscan.c — the one-pass JSON checker and picker of util/jscan.h.
 *
 * An iterative parser (no recursion: a document nested a million deep
 * costs a bounded stack, MAX_DEPTH frames, then an error) over a byte
 * range. It keeps two paths while it walks: the path from the document
 * (while only objects have been entered) and the path from the current
 * record (while only objects have been entered since the record began).
 * A value whose path is wanted is copied out; everything else is only
 * checked. Strings are unescaped only when they are keys on a tracked path
 * or wanted values.
 *
 * It reads pages from the network, so it is fuzzed (tests/fuzz/fuzz_jscan.c)
 * and every error is a message with a position, never a read out of range.
 */
#include "jscan.h"

#define MAX_DEPTH 10000

struct frame {
    char kind;    /* '{' or '[' */
    bool track;   /* path names this container */
    bool rtrack;  /* rel names this container (inside a record) */
    bool records; /* this array is the records */
    bool record;  /* this object is a record */
    size_t plen;  /* length of path naming this container */
    size_t rlen;  /* length of rel naming this container */
};

/* Where the next value sits. */
struct ctx {
    bool track, rtrack, record;
};

struct scan {
    const unsigned char *start, *p, *end;
    const struct sm_jscan_query *q;
    struct sm_jscan_result *out;
    struct sm_buf path, rel, str, num;
    struct frame *stack;
    size_t depth, alloc;
    struct sm_err *err;
};

static int fail(struct scan *s, const char *what)
{
    size_t line = 1, col = 1;
    for (const unsigned char *c = s->start; c < s->p && c < s->end; c++) {
        if (*c == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (s->p >= s->end)
        return sm_err_set(s->err, SM_EPARSE, "not valid JSON: %s at the end (line %zu)", what,
                          line);
    return sm_err_set(s->err, SM_EPARSE, "not valid JSON: %s at line %zu, column %zu", what, line,
                      col);
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(struct sm_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    (void)sm_buf_add(b, u, n);
}

/* Length of the valid UTF-8 sequence of a non-ASCII byte at p, or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    /* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF)
        return 0;
    return n;
}

/* A string at s->p (on its opening quote); unescaped into s->str when
 * keep. The pointer lives in a local while it runs: stored back into s
 * on every byte, it made this loop the slowest part of a scan. */
static int string(struct scan *s, bool keep)
{
    const unsigned char *p = s->p + 1, *end = s->end;
    sm_buf_reset(&s->str);
    for (;;) {
        const unsigned char *run = p;
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
            p++;
        if (keep && p > run)
            (void)sm_buf_add(&s->str, run, (size_t)(p - run));
        s->p = p;
        if (p >= end)
            return fail(s, "a string is not closed");
        unsigned char c = *p;
        if (c == '"') {
            s->p = p + 1;
            return 0;
        }
        if (c < 0x20)
            return fail(s, "a control character inside a string");
        if (c >= 0x80) {
            size_t n = utf8_len(p, end);
            if (!n)
                return fail(s, "invalid UTF-8 inside a string");
            if (keep)
                (void)sm_buf_add(&s->str, p, n);
            p += n;
            continue;
        }
        /* a backslash */
        if (end - p < 2)
            return fail(s, "a string is not closed");
        char e = (char)p[1];
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = strchr(from, e);
        if (e && k) {
            if (keep)
                (void)sm_buf_addc(&s->str, to[k - from]);
            p += 2;
            continue;
        }
        if (e != 'u')
            return fail(s, "an invalid escape in a string");
        unsigned cp, lo;
        if (end - p < 6 || hex4(p + 2, &cp))
            return fail(s, "an invalid \\u escape in a string");
        p += 6;
        s->p = p;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(s, "a lone UTF-16 surrogate in a string");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) || lo < 0xDC00 ||
                lo > 0xDFFF)
                return fail(s, "a lone UTF-16 surrogate in a string");
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (keep)
            put_utf8(&s->str, cp);
    }
}

/* Skip the digits at *p; false when there is none. */
static bool digits(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *start = *p;
    while (*p < end && **p >= '0' && **p <= '9')
        (*p)++;
    return *p > start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct scan *s)
{
    const unsigned char *p = s->p;
    bool ok = true;
    if (p < s->end && *p == '-')
        p++;
    if (p < s->end && *p == '0')
        p++;
    else
        ok = digits(&p, s->end);
    if (ok && p < s->end && *p == '.') {
        p++;
        ok = digits(&p, s->end);
    }
    if (ok && p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-'))
            p++;
        ok = digits(&p, s->end);
    }
    s->p = p;
    return ok ? 0 : fail(s, "an invalid number");
}

static bool path_is(const struct sm_buf *b, const char *want)
{
    return want && b->len == strlen(want) && !memcmp(b->buf, want, b->len);
}

/* A value of this type (text for strings and numbers) sits where c says:
 * hand it to whoever asked for it. */
static void report(struct scan *s, const struct ctx *c, enum sm_jscan_type type, const char *text,
                   size_t len)
{
    const struct sm_jscan_query *q = s->q;
    if (c->track) {
        for (size_t i = 0; q->paths && q->paths[i]; i++) {
            if (!path_is(&s->path, q->paths[i]))
                continue;
            struct sm_jscan_value *v = &s->out->values[i];
            free(v->text);
            v->type = type;
            v->text = text ? sm_strndup(text, len) : NULL;
            v->len = text ? len : 0;
        }
        if (path_is(&s->path, q->records) && type != SM_JSCAN_ARRAY) {
            s->out->nrecords = type == SM_JSCAN_OBJECT ? 1 : 0;
            s->out->nobjects = 0; /* push() counts the object */
        }
    }
    if (c->rtrack && q->on_field && path_is(&s->rel, q->record_field)) {
        /* a number's text points into the document: give it its own NUL */
        if (type == SM_JSCAN_NUMBER) {
            sm_buf_reset(&s->num);
            (void)sm_buf_add(&s->num, text, len);
            text = s->num.buf;
        }
        struct sm_jscan_value v = {type, (char *)text, text ? len : 0};
        q->on_field(q->ctx, &v);
    }
}

static int push(struct scan *s, char kind, const struct ctx *c)
{
    if (s->depth >= MAX_DEPTH)
        return fail(s, "nesting deeper than 10000 levels");
    SM_ALLOC_GROW(s->stack, s->depth + 1, s->alloc);
    struct frame *f = &s->stack[s->depth++];
    f->kind = kind;
    f->track = c->track;
    f->rtrack = c->rtrack;
    f->records = false;
    f->record = false;
    f->plen = s->path.len;
    f->rlen = s->rel.len;
    if (c->track && path_is(&s->path, s->q->records)) {
        if (kind == '[') {
            f->records = true;
            s->out->nrecords = 0;
            s->out->nobjects = 0;
        } else {
            /* the records are this one object: its fields are a record's */
            f->rtrack = s->q->on_field != NULL;
            f->record = true;
            f->rlen = 0;
            sm_buf_reset(&s->rel);
            s->out->nobjects = 1;
        }
    }
    if (c->record && kind == '{') {
        f->rtrack = s->q->on_field != NULL; /* no field wanted: no path kept */
        f->record = true;
        f->rlen = 0;
        sm_buf_reset(&s->rel);
        s->out->nobjects++;
    }
    return 0;
}

/* Extend path (from length base) by key; false when the key cannot be on
 * a path. */
static bool extend(struct sm_buf *b, size_t base, const struct sm_buf *key)
{
    for (size_t i = 0; i < key->len; i++) /* keys are short: no memchr() calls */
        if (key->buf[i] == '.' || !key->buf[i])
            return false;
    if (!key->len)
        return false;
    b->len = base;
    b->buf[base] = 0;
    if (base)
        (void)sm_buf_addc(b, '.');
    (void)sm_buf_add(b, key->buf, key->len);
    return true;
}

int sm_jscan(const char *buf, size_t len, const struct sm_jscan_query *q,
             struct sm_jscan_result *out, struct sm_err *err)
{
    struct scan s = {
        .start = (const unsigned char *)buf,
        .p = (const unsigned char *)buf,
        .end = (const unsigned char *)buf + len,
        .q = q,
        .out = out,
        .path = SM_BUF_INIT,
        .rel = SM_BUF_INIT,
        .str = SM_BUF_INIT,
        .num = SM_BUF_INIT,
        .err = err,
    };
    size_t nv = 0;
    while (q->paths && q->paths[nv])
        nv++;
    memset(out, 0, sizeof(*out));
    out->values = sm_calloc(nv ? nv : 1, sizeof(*out->values));
    out->nvalues = nv;

    struct ctx c = {.track = true};
    int rc = 0;
    bool need_value = true;
    while (!rc) {
        if (need_value) {
            skip_ws(&s);
            if (s.p >= s.end) {
                rc = fail(&s, "a value is missing");
                break;
            }
            unsigned char ch = *s.p;
            if (ch == '{' || ch == '[') {
                report(&s, &c, ch == '{' ? SM_JSCAN_OBJECT : SM_JSCAN_ARRAY, NULL, 0);
                if ((rc = push(&s, (char)ch, &c)))
                    break;
                s.p++;
                skip_ws(&s);
                if (s.p < s.end && *s.p == (ch == '{' ? '}' : ']')) {
                    s.p++;
                    s.depth--;
                    need_value = false;
                    continue;
                }
                if (ch == '[') {
                    struct frame *f = &s.stack[s.depth - 1];
                    c.track = false;
                    c.rtrack = false;
                    c.record = f->records;
                    if (f->records)
                        out->nrecords++;
                    continue; /* the first element */
                }
                /* the first key */
                need_value = false;
                s.p--; /* let the object member code read it after a ',' */
                goto member;
            }
            c.record = false;
            if (ch == '"') {
                bool keep = c.track || c.rtrack;
                if ((rc = string(&s, keep)))
                    break;
                report(&s, &c, SM_JSCAN_STRING, keep ? s.str.buf : "", keep ? s.str.len : 0);
            } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
                const unsigned char *at = s.p;
                if ((rc = number(&s)))
                    break;
                report(&s, &c, SM_JSCAN_NUMBER, (const char *)at, (size_t)(s.p - at));
            } else {
                static const struct {
                    const char *word;
                    enum sm_jscan_type type;
                } lits[] = {
                    {"true", SM_JSCAN_TRUE}, {"false", SM_JSCAN_FALSE}, {"null", SM_JSCAN_NULL}};
                size_t i = 0;
                for (; i < 3; i++) {
                    size_t n = strlen(lits[i].word);
                    if ((size_t)(s.end - s.p) >= n && !memcmp(s.p, lits[i].word, n)) {
                        s.p += n;
                        report(&s, &c, lits[i].type, NULL, 0);
                        break;
                    }
                }
                if (i == 3) {
                    rc = fail(&s, "an unexpected character where a value should be");
                    break;
                }
            }
            need_value = false;
            continue;
        }
        /* A value is complete: what comes after it depends on where it was. */
        if (!s.depth) {
            skip_ws(&s);
            if (s.p < s.end)
                rc = fail(&s, "more text after the document");
            break;
        }
        struct frame *f = &s.stack[s.depth - 1];
        skip_ws(&s);
        if (s.p >= s.end) {
            rc = fail(&s, f->kind == '{' ? "an object is not closed" : "an array is not closed");
            break;
        }
        if (*s.p == (f->kind == '{' ? '}' : ']')) {
            s.p++;
            s.depth--;
            continue;
        }
        if (*s.p != ',') {
            rc = fail(&s, f->kind == '{' ? "expected ',' or '}' in an object"
                                         : "expected ',' or ']' in an array");
            break;
        }
        if (f->kind == '[') {
            s.p++;
            c.track = false;
            c.rtrack = false;
            c.record = f->records;
            if (f->records)
                out->nrecords++;
            need_value = true;
            continue;
        }
    member:
        /* s.p is on the ',' (or just before the first key): a key, ':' and
         * then the member's value */
        s.p++;
        skip_ws(&s);
        f = &s.stack[s.depth - 1];
        if (s.p >= s.end || *s.p != '"') {
            rc = fail(&s, "expected a key (a string) in an object");
            break;
        }
        bool keep = f->track || f->rtrack || (f->record && q->on_key);
        if ((rc = string(&s, keep)))
            break;
        if (f->record && q->on_key)
            q->on_key(q->ctx, s.str.buf, s.str.len);
        c.record = false;
        c.track = f->track && extend(&s.path, f->plen, &s.str);
        c.rtrack = f->rtrack && extend(&s.rel, f->rlen, &s.str);
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':') {
            rc = fail(&s, "expected ':' after a key");
            break;
        }
        s.p++;
        need_value = true;
    }
    free(s.stack);
    sm_buf_release(&s.path);
    sm_buf_release(&s.rel);
    sm_buf_release(&s.str);
    sm_buf_release(&s.num);
    return rc;
}

void sm_jscan_result_release(struct sm_jscan_result *r)
{
    for (size_t i = 0; i < r->nvalues; i++)
        free(r->values[i].text);
    free(r->values);
    memset(r, 0, sizeof(*r));
}
