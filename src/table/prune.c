/*
 * prune.c — which data files of a snapshot a query's predicates can skip.
 *
 * Each add action tells, without opening the file, what its rows can hold:
 * partitionValues give one value per partition column, and stats give
 * numRecords and, per column, minValues, maxValues and nullCount
 * (PROTOCOL.md "Per-file Statistics"). A file is pruned when, for some
 * predicate, no value within those bounds can make it true. Both sides are
 * parsed into one typed domain per column type (numbers, strings as bytes,
 * dates and timestamps as microseconds since the epoch) and compared as
 * DuckDB compares the column with the literal.
 *
 * The invariant is that pruning never changes an answer, so every doubt
 * keeps the file:
 *  - no stats, no min or max for the column, a stat of the wrong JSON type;
 *  - column types left out: boolean, binary, float and double (NaN sorts
 *    above every number in DuckDB, and writers differ on whether a max
 *    counts it), nested types;
 *  - a literal DuckDB would cast in a way not modelled here (a string
 *    compared with a number, a zone-less timestamp compared with a
 *    TIMESTAMPTZ column, which depends on the session time zone);
 *  - numbers are compared as doubles: exactly when both are decimals of at
 *    most 15 significant digits written as text (partition values, JSON
 *    integers, literals), otherwise (longer ones, stats that are JSON reals
 *    and so already rounded) only when they differ by more than a relative
 *    1e-12;
 *  - a string max of 32 or more characters, or one holding U+FFFF: writers
 *    such as Spark truncate long string stats (a truncated min is still a
 *    lower bound; a truncated max is not an upper bound);
 *  - timestamp maxima get one millisecond added, since Spark truncates them
 *    to milliseconds.
 */
#include "table.h"
#include "table_int.h"

#include <jansson.h>
#include <math.h>

/* --- literals and predicates ------------------------------------------------ */

void tbl_preds_free(struct tbl_pred *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].column);
        for (size_t k = 0; k < p[i].nargs; k++)
            free(p[i].args[k].text);
        free(p[i].args);
    }
    free(p);
}

static void add_ident(struct sm_buf *b, const char *s)
{
    bool plain = (*s >= 'a' && *s <= 'z') || *s == '_';
    for (const char *c = s; *c && plain; c++)
        plain = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
    if (plain)
        (void)sm_buf_adds(b, s);
    else
        (void)sm_buf_add_sql_ident(b, s);
}

static void add_lit(struct sm_buf *b, const struct tbl_lit *l)
{
    static const char *const prefix[] = {[TBL_LIT_DATE] = "DATE ",
                                         [TBL_LIT_TIMESTAMP] = "TIMESTAMP ",
                                         [TBL_LIT_TIMESTAMPTZ] = "TIMESTAMPTZ "};
    switch (l->kind) {
    case TBL_LIT_NULL:
        (void)sm_buf_adds(b, "NULL");
        return;
    case TBL_LIT_NUMBER:
        (void)sm_buf_adds(b, l->text);
        return;
    case TBL_LIT_DATE:
    case TBL_LIT_TIMESTAMP:
    case TBL_LIT_TIMESTAMPTZ:
        (void)sm_buf_adds(b, prefix[l->kind]);
        /* fall through */
    case TBL_LIT_STRING:
        (void)sm_buf_add_sql_str(b, l->text);
        return;
    }
}

void tbl_pred_format(const struct tbl_pred *p, struct sm_buf *b)
{
    static const char *const ops[] = {[TBL_PRED_EQ] = " = ",
                                      [TBL_PRED_LT] = " < ",
                                      [TBL_PRED_LE] = " <= ",
                                      [TBL_PRED_GT] = " > ",
                                      [TBL_PRED_GE] = " >= "};
    add_ident(b, p->column);
    switch (p->op) {
    case TBL_PRED_EQ:
    case TBL_PRED_LT:
    case TBL_PRED_LE:
    case TBL_PRED_GT:
    case TBL_PRED_GE:
        (void)sm_buf_adds(b, ops[p->op]);
        add_lit(b, &p->args[0]);
        break;
    case TBL_PRED_IN:
        (void)sm_buf_adds(b, " IN (");
        for (size_t i = 0; i < p->nargs; i++) {
            if (i)
                (void)sm_buf_adds(b, ", ");
            add_lit(b, &p->args[i]);
        }
        (void)sm_buf_addc(b, ')');
        break;
    case TBL_PRED_BETWEEN:
        (void)sm_buf_adds(b, " BETWEEN ");
        add_lit(b, &p->args[0]);
        (void)sm_buf_adds(b, " AND ");
        add_lit(b, &p->args[1]);
        break;
    case TBL_PRED_IS_NULL:
        (void)sm_buf_adds(b, " IS NULL");
        break;
    case TBL_PRED_NOT_NULL:
        (void)sm_buf_adds(b, " IS NOT NULL");
        break;
    }
}

/* --- parsing dates and timestamps --------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n digits (min..max of them) at *p as a number; advances *p. */
static bool digits(const char **p, int min, int max, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (n < max && **p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n >= min;
}

static bool parse_date_part(const char **p, int64_t *days)
{
    int64_t y, m, d;
    if (!digits(p, 4, 6, &y) || *(*p)++ != '-' || !digits(p, 1, 2, &m) || *(*p)++ != '-' ||
        !digits(p, 1, 2, &d) || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return false;
    *days = days_from_civil(y, (int)m, (int)d);
    return true;
}

/* "YYYY-MM-DD" only. */
static bool parse_date(const char *s, int64_t *out_us)
{
    int64_t days;
    if (!parse_date_part(&s, &days) || *s)
        return false;
    *out_us = days * 86400LL * 1000000LL;
    return true;
}

/* tbl_parse_timestamp(), also giving the offset in minutes (0 when none). */
static bool parse_ts(const char *s, int64_t *out_us, bool *has_offset, int64_t *out_off_min)
{
    const char *p = s;
    int64_t days, h = 0, mi = 0, sec = 0, frac = 0;
    if (!parse_date_part(&p, &days))
        return false;
    if (*p == ' ' || *p == 'T') {
        p++;
        if (!digits(&p, 2, 2, &h) || *p++ != ':' || !digits(&p, 2, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, 2, &sec))
                return false;
            if (*p == '.') {
                p++;
                const char *f = p;
                if (!digits(&p, 1, 6, &frac) || (*p >= '0' && *p <= '9'))
                    return false;
                for (ptrdiff_t n = p - f; n < 6; n++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return false;
    }
    int64_t off_min = 0;
    bool off = false;
    if (*p == 'Z') {
        p++;
        off = true;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int64_t oh, om = 0;
        if (!digits(&p, 2, 2, &oh))
            return false;
        if (*p == ':')
            p++;
        if (*p >= '0' && *p <= '9' && !digits(&p, 2, 2, &om))
            return false;
        if (oh > 18 || om > 59)
            return false;
        off_min = sign * (oh * 60 + om);
        off = true;
    }
    if (*p)
        return false;
    *out_us = (((days * 24 + h) * 60 + mi - off_min) * 60 + sec) * 1000000LL + frac;
    *has_offset = off;
    *out_off_min = off_min;
    return true;
}

bool tbl_parse_timestamp(const char *s, int64_t *out_us, bool *has_offset)
{
    bool off;
    int64_t off_min;
    if (!parse_ts(s, out_us, &off, &off_min))
        return false;
    if (has_offset)
        *has_offset = off;
    return true;
}

/* --- typed values -------------------------------------------------------------- */

enum col_class { CC_NONE, CC_INT, CC_DECIMAL, CC_STRING, CC_DATE, CC_TS, CC_TSTZ };

static enum col_class classify(const char *delta_type, int *scale)
{
    static const struct {
        const char *name;
        enum col_class cc;
    } m[] = {
        {"byte", CC_INT},      {"short", CC_INT}, {"integer", CC_INT},      {"long", CC_INT},
        {"string", CC_STRING}, {"date", CC_DATE}, {"timestamp_ntz", CC_TS}, {"timestamp", CC_TSTZ},
    };
    int p, s;
    if (!delta_type)
        return CC_NONE;
    if (sscanf(delta_type, "decimal(%d,%d)", &p, &s) == 2) {
        *scale = s;
        return CC_DECIMAL;
    }
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (!strcmp(delta_type, m[i].name))
            return m[i].cc;
    return CC_NONE;
}

struct val {
    double num;    /* CC_INT, CC_DECIMAL */
    bool exact;    /* num is the value itself, not a rounding of it */
    int64_t us;    /* CC_DATE, CC_TS, CC_TSTZ */
    const char *s; /* CC_STRING: bytes, not NUL-terminated necessarily */
    size_t len;
};

/* Number text as a JSON number or a partition value writes it. A decimal
 * of at most 15 significant digits is exact as a double in the sense that
 * matters here: two different ones parse to two different doubles, in the
 * same order. */
static bool parse_num(const char *t, double *out, bool *exact)
{
    char *end;
    if (!*t || strspn(t, "+-0123456789.eE") != strlen(t))
        return false;
    errno = 0;
    double d = strtod(t, &end);
    if (*end || errno || !isfinite(d))
        return false;
    const char *m = t + strspn(t, "+-");
    size_t n = strcspn(m, "eE"), first = n, last = 0, sig;
    for (size_t i = 0; i < n; i++) {
        if (m[i] >= '1' && m[i] <= '9') {
            if (first == n)
                first = i;
            last = i;
        }
    }
    sig = first == n ? 1 : last - first + 1 - (memchr(m + first, '.', last - first) ? 1 : 0);
    *out = d;
    *exact = sig <= 15;
    return true;
}

/* A partition value as DuckDB's CAST(value AS type) reads it back, when
 * that is certain: integers without a fraction, decimals with no more
 * fractional digits than the scale (more would be rounded). */
static bool exact_partition_number(const char *t, enum col_class cc, int scale)
{
    if (strpbrk(t, "eE"))
        return false;
    const char *dot = strchr(t, '.');
    if (!dot)
        return true;
    return cc == CC_DECIMAL && (int)strlen(dot + 1) <= scale;
}

/* The column side: a partition value or a stats min/max, as text. */
static bool parse_col_value(enum col_class cc, const char *t, size_t len, struct val *v)
{
    bool off;
    int64_t off_min;
    switch (cc) {
    case CC_INT:
    case CC_DECIMAL:
        return parse_num(t, &v->num, &v->exact);
    case CC_STRING:
        v->s = t;
        v->len = len;
        return true;
    case CC_DATE:
        return parse_date(t, &v->us);
    case CC_TS:
        /* a zone-less wall time; writers may still add Z or +00:00 */
        return parse_ts(t, &v->us, &off, &off_min) && off_min == 0;
    case CC_TSTZ:
        return tbl_parse_timestamp(t, &v->us, &off) && off;
    case CC_NONE:
        break;
    }
    return false;
}

/* The literal side, in the column's domain, or false when DuckDB would
 * compare them in a way not modelled here. */
static bool parse_lit(enum col_class cc, const struct tbl_lit *l, struct val *v)
{
    bool off;
    switch (cc) {
    case CC_INT:
    case CC_DECIMAL:
        return l->kind == TBL_LIT_NUMBER && parse_num(l->text, &v->num, &v->exact);
    case CC_STRING:
        if (l->kind != TBL_LIT_STRING)
            return false;
        v->s = l->text;
        v->len = strlen(l->text);
        return true;
    case CC_DATE:
        /* DuckDB compares a DATE with a TIMESTAMP as a timestamp at midnight */
        if (l->kind == TBL_LIT_DATE || l->kind == TBL_LIT_STRING)
            return parse_date(l->text, &v->us);
        return l->kind == TBL_LIT_TIMESTAMP && tbl_parse_timestamp(l->text, &v->us, &off) && !off;
    case CC_TS:
        if (l->kind == TBL_LIT_DATE)
            return parse_date(l->text, &v->us);
        return (l->kind == TBL_LIT_TIMESTAMP || l->kind == TBL_LIT_STRING) &&
               tbl_parse_timestamp(l->text, &v->us, &off) && !off;
    case CC_TSTZ:
        return (l->kind == TBL_LIT_TIMESTAMPTZ || l->kind == TBL_LIT_STRING) &&
               tbl_parse_timestamp(l->text, &v->us, &off) && off;
    case CC_NONE:
        break;
    }
    return false;
}

static int cmp_vals(enum col_class cc, const struct val *a, const struct val *b)
{
    switch (cc) {
    case CC_INT:
    case CC_DECIMAL: {
        if (a->exact && b->exact)
            return a->num == b->num ? 0 : a->num < b->num ? -1 : 1;
        /* a rounded value: only a clear difference counts */
        if (fabs(a->num - b->num) <= 1e-12 * fmax(fabs(a->num), fabs(b->num)))
            return TBL_CMP_UNKNOWN;
        return a->num < b->num ? -1 : 1;
    }
    case CC_STRING: {
        /* DuckDB orders VARCHAR by bytes (UTF-8 code point order) */
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->s, b->s, n);
        if (c)
            return c < 0 ? -1 : 1;
        return a->len == b->len ? 0 : a->len < b->len ? -1 : 1;
    }
    case CC_DATE:
    case CC_TS:
    case CC_TSTZ:
        return a->us == b->us ? 0 : a->us < b->us ? -1 : 1;
    case CC_NONE:
        break;
    }
    return TBL_CMP_UNKNOWN;
}

int tbl_value_cmp(const char *delta_type, const char *value, const struct tbl_lit *lit)
{
    int scale = 0;
    enum col_class cc = classify(delta_type, &scale);
    struct val a, b;
    if (lit->kind == TBL_LIT_NULL || !parse_col_value(cc, value, strlen(value), &a) ||
        !parse_lit(cc, lit, &b))
        return TBL_CMP_UNKNOWN;
    return cmp_vals(cc, &a, &b);
}

/* --- one column of one file ------------------------------------------------- */

/* What a file says about one column: bounds of its non-null values and
 * whether it has nulls. Unknown parts are left out (has_lo false, ...). */
struct colsum {
    enum col_class cc;
    bool has_lo, has_hi;
    struct val lo, hi;
    int any_null; /* -1 unknown, 0 no, 1 yes */
    bool all_null;
    bool empty;              /* the file has no rows at all */
    char *lo_text, *hi_text; /* owned copies for number stats */
};

static void colsum_release(struct colsum *c)
{
    free(c->lo_text);
    free(c->hi_text);
}

/* A stats value as text: JSON integer, real or string. */
static char *stat_text(json_t *v, enum col_class cc, size_t *len)
{
    if ((cc == CC_INT || cc == CC_DECIMAL)) {
        if (json_is_integer(v))
            return sm_asprintf("%lld", (long long)json_integer_value(v));
        if (json_is_real(v))
            return sm_asprintf("%.17g", json_real_value(v));
        return NULL;
    }
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    char *t = sm_malloc(*len + 1);
    memcpy(t, json_string_value(v), *len);
    t[*len] = 0;
    return t;
}

/* Could a string max have been truncated by its writer? */
static bool maybe_truncated(const char *s, size_t len)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
        if (i + 2 < len && (unsigned char)s[i] == 0xEF && (unsigned char)s[i + 1] == 0xBF &&
            (unsigned char)s[i + 2] == 0xBF)
            return true;
    }
    return chars >= 32;
}

static void colsum_from_partition(struct colsum *c, json_t *pv, const char *phys, int scale)
{
    json_t *v = json_object_get(pv, phys);
    if (!v) {
        c->any_null = -1; /* no value recorded: know nothing */
        return;
    }
    if (json_is_null(v)) {
        c->any_null = 1;
        c->all_null = true;
        return;
    }
    c->any_null = 0;
    const char *t = json_string_value(v);
    if (!t ||
        ((c->cc == CC_INT || c->cc == CC_DECIMAL) && !exact_partition_number(t, c->cc, scale)))
        return;
    /* a timestamp partition value is written without a zone; TIMESTAMPTZ
     * ones are then read in the session's zone: parse_col_value refuses */
    if (parse_col_value(c->cc, t, json_string_length(v), &c->lo)) {
        c->hi = c->lo;
        c->has_lo = c->has_hi = true;
    }
}

static void colsum_from_stats(struct colsum *c, json_t *st, const char *phys)
{
    json_t *nr = json_object_get(st, "numRecords");
    json_t *nc = json_object_get(json_object_get(st, "nullCount"), phys);
    c->any_null = -1;
    if (json_is_integer(nr) && json_integer_value(nr) == 0) {
        c->empty = true;
        return;
    }
    if (json_is_integer(nc)) {
        c->any_null = json_integer_value(nc) > 0;
        c->all_null = json_is_integer(nr) && json_integer_value(nc) >= json_integer_value(nr);
    }
    size_t len = 0;
    json_t *mn = json_object_get(json_object_get(st, "minValues"), phys);
    json_t *mx = json_object_get(json_object_get(st, "maxValues"), phys);
    c->lo_text = stat_text(mn, c->cc, &len);
    if (c->lo_text && parse_col_value(c->cc, c->lo_text, len, &c->lo))
        c->has_lo = true;
    c->hi_text = stat_text(mx, c->cc, &len);
    if (c->hi_text && parse_col_value(c->cc, c->hi_text, len, &c->hi) &&
        !(c->cc == CC_STRING && maybe_truncated(c->hi.s, c->hi.len)))
        c->has_hi = true;
    /* a JSON real is a double's rounding of the decimal the writer wrote */
    c->lo.exact &= !json_is_real(mn);
    c->hi.exact &= !json_is_real(mx);
    if (c->has_hi && (c->cc == CC_TS || c->cc == CC_TSTZ))
        c->hi.us += 1000;
}

/* cmp(a, b) is certainly one of the wanted orderings. */
static bool cmp_is(enum col_class cc, const struct val *a, const struct val *b, bool lt, bool eq,
                   bool gt)
{
    int r = cmp_vals(cc, a, b);
    return (r == -1 && lt) || (r == 0 && eq) || (r == 1 && gt);
}

/* Can no value x of the column satisfy x = lit? */
static bool rules_out_eq(const struct colsum *c, const struct val *l)
{
    return (c->has_lo && cmp_is(c->cc, &c->lo, l, false, false, true)) ||
           (c->has_hi && cmp_is(c->cc, &c->hi, l, true, false, false));
}

/* True when no row of the file can satisfy p. */
static bool rules_out(const struct colsum *c, const struct tbl_pred *p)
{
    if (c->empty)
        return true;
    if (p->op == TBL_PRED_IS_NULL)
        return c->any_null == 0;
    if (p->op == TBL_PRED_NOT_NULL)
        return c->all_null;
    /* every comparison is NULL (not true) for a NULL value */
    if (c->all_null)
        return true;
    struct val l[2];
    bool all_null_lits = p->nargs > 0;
    for (size_t i = 0; i < p->nargs; i++) {
        if (p->args[i].kind != TBL_LIT_NULL)
            all_null_lits = false;
        else if (p->op != TBL_PRED_IN)
            return true; /* x < NULL, x BETWEEN NULL AND 3: never true */
    }
    if (all_null_lits)
        return true;
    if (p->op == TBL_PRED_IN) {
        for (size_t i = 0; i < p->nargs; i++) {
            if (p->args[i].kind == TBL_LIT_NULL)
                continue;
            if (!parse_lit(c->cc, &p->args[i], &l[0]) || !rules_out_eq(c, &l[0]))
                return false;
        }
        return true;
    }
    for (size_t i = 0; i < p->nargs && i < 2; i++)
        if (!parse_lit(c->cc, &p->args[i], &l[i]))
            return false;
    switch (p->op) {
    case TBL_PRED_EQ:
        return rules_out_eq(c, &l[0]);
    case TBL_PRED_LT: /* min >= lit */
        return c->has_lo && cmp_is(c->cc, &c->lo, &l[0], false, true, true);
    case TBL_PRED_LE: /* min > lit */
        return c->has_lo && cmp_is(c->cc, &c->lo, &l[0], false, false, true);
    case TBL_PRED_GT: /* max <= lit */
        return c->has_hi && cmp_is(c->cc, &c->hi, &l[0], true, true, false);
    case TBL_PRED_GE: /* max < lit */
        return c->has_hi && cmp_is(c->cc, &c->hi, &l[0], true, false, false);
    case TBL_PRED_BETWEEN: /* max < lo or min > hi */
        return p->nargs == 2 && ((c->has_hi && cmp_is(c->cc, &c->hi, &l[0], true, false, false)) ||
                                 (c->has_lo && cmp_is(c->cc, &c->lo, &l[1], false, false, true)));
    default:
        return false;
    }
}

enum tbl_prune tbl_file_prune(const struct tbl_snapshot *s, const struct tbl_file *f,
                              const struct tbl_pred *preds, size_t n)
{
    json_t *pv = NULL, *st = NULL;
    enum tbl_prune r = TBL_PRUNE_KEEP;
    /* partition predicates first: the cheaper and the more telling reason */
    for (int pass = 0; pass < 2 && r == TBL_PRUNE_KEEP; pass++) {
        for (size_t i = 0; i < n && r == TBL_PRUNE_KEEP; i++) {
            const struct tbl_column *col = tbl_find_column(s, preds[i].column);
            if (!col || (pass == 0) != tbl_is_partition_col(s, col->name))
                continue;
            struct colsum c = {0};
            int scale = 0;
            c.cc = classify(col->sql_type ? col->delta_type : NULL, &scale);
            const char *phys = col->physical_name ? col->physical_name : col->name;
            if (pass == 0) {
                if (!pv)
                    pv = json_loads(sm_or(f->partition_values, "{}"), 0, NULL);
                colsum_from_partition(&c, pv, phys, scale);
            } else {
                if (!f->stats)
                    break;
                if (!st && !(st = json_loads(f->stats, 0, NULL)))
                    break;
                colsum_from_stats(&c, st, phys);
            }
            /* IS [NOT] NULL needs no type; comparisons do */
            if (c.cc != CC_NONE || c.empty || preds[i].op == TBL_PRED_IS_NULL ||
                preds[i].op == TBL_PRED_NOT_NULL) {
                if (rules_out(&c, &preds[i]))
                    r = pass == 0 ? TBL_PRUNE_PARTITION : TBL_PRUNE_STATS;
            }
            colsum_release(&c);
        }
    }
    json_decref(pv);
    json_decref(st);
    return r;
}

/* --- the view over the kept files ---------------------------------------------- */

void tbl_snapshot_view_sql_files(const struct tbl_snapshot *s, const bool *keep, struct sm_buf *b)
{
    if (!keep) {
        tbl_snapshot_view_sql(s, b);
        return;
    }
    /* The same view over a snapshot that only has the kept files (the
     * struct tbl_file entries are borrowed, not copied). */
    struct tbl_snapshot sub = *s;
    sub.files = sm_calloc(s->nfiles ? s->nfiles : 1, sizeof(*sub.files));
    sub.nfiles = 0;
    for (size_t i = 0; i < s->nfiles; i++)
        if (keep[i])
            sub.files[sub.nfiles++] = s->files[i];
    tbl_snapshot_view_sql(&sub, b);
    free(sub.files);
}
