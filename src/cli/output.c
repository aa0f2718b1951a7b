/*
 * output.c — printing rows for people (an aligned table that fits the
 * terminal) and for programs (CSV, JSON).
 */
#include "cli.h"
#include "engine/engine.h"

bool cli_parse_format(const char *s, enum cli_format *out)
{
    if (!strcmp(s, "table"))
        *out = CLI_FMT_TABLE;
    else if (!strcmp(s, "csv"))
        *out = CLI_FMT_CSV;
    else if (!strcmp(s, "json"))
        *out = CLI_FMT_JSON;
    else
        return false;
    return true;
}

int cli_format_option(int argc, char **argv, int *i, enum cli_format *fmt)
{
    if (strcmp(argv[*i], "--format") || *i + 1 >= argc)
        return 0;
    if (!cli_parse_format(argv[++*i], fmt)) {
        fprintf(stderr, "smelt: error: unknown format '%s': use table, csv or json\n", argv[*i]);
        return -1;
    }
    return 1;
}

enum cli_format cli_resolve_format(enum cli_format f)
{
    if (f != CLI_FMT_AUTO)
        return f;
    return sm_stdout_is_tty() ? CLI_FMT_TABLE : CLI_FMT_CSV;
}

/* Display width of UTF-8 text: one column per code point (good enough for
 * the Latin and CJK-free data we print). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* Print s padded or cut to exactly w columns. */
static void put_cell(FILE *out, const char *s, size_t w, bool right)
{
    size_t tw = text_width(s);
    if (tw > w) {
        size_t cols = 0;
        const char *p = s;
        while (*p && cols < w - 1) {
            p++;
            while (((unsigned char)*p & 0xC0) == 0x80)
                p++;
            cols++;
        }
        fwrite(s, 1, (size_t)(p - s), out);
        fputs("…", out);
        return;
    }
    if (right)
        fprintf(out, "%*s%s", (int)(w - tw), "", s);
    else
        fprintf(out, "%s%*s", s, (int)(w - tw), "");
}

static void print_table(const struct eng_result *r, FILE *out)
{
    size_t nc = eng_result_ncols(r), nr = eng_result_nrows(r);
    size_t *w = sm_calloc(nc ? nc : 1, sizeof(size_t));
    for (size_t c = 0; c < nc; c++) {
        w[c] = text_width(eng_result_colname(r, c));
        for (size_t i = 0; i < nr; i++) {
            const char *s = eng_result_str(r, c, i);
            size_t tw = text_width(s ? s : "NULL");
            if (tw > w[c])
                w[c] = tw;
        }
    }
    /* Fit the terminal: shrink the widest column until the row fits. */
    if (sm_stdout_is_tty()) {
        size_t term = (size_t)sm_term_width(), total;
        for (;;) {
            total = 0;
            size_t widest = 0;
            for (size_t c = 0; c < nc; c++) {
                total += w[c] + (c ? 3 : 0);
                if (w[c] > w[widest])
                    widest = c;
            }
            if (total <= term || w[widest] <= 4)
                break;
            w[widest]--;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        if (c)
            fputs(" | ", out);
        put_cell(out, eng_result_colname(r, c), w[c], eng_result_col_is_numeric(r, c));
    }
    fputc('\n', out);
    for (size_t c = 0; c < nc; c++) {
        if (c)
            fputs("-+-", out);
        for (size_t k = 0; k < w[c]; k++)
            fputc('-', out);
    }
    fputc('\n', out);
    for (size_t i = 0; i < nr; i++) {
        for (size_t c = 0; c < nc; c++) {
            const char *s = eng_result_str(r, c, i);
            if (c)
                fputs(" | ", out);
            put_cell(out, s ? s : "NULL", w[c], eng_result_col_is_numeric(r, c));
        }
        fputc('\n', out);
    }
    fprintf(out, "(%zu row%s)\n", nr, nr == 1 ? "" : "s");
    free(w);
}

/* RFC 4180 field; an empty string is "" so that it differs from NULL (an
 * empty field), as DuckDB's own CSV writer does. */
static void csv_field(FILE *out, const char *s)
{
    if (*s && !strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void print_csv(const struct eng_result *r, FILE *out)
{
    size_t nc = eng_result_ncols(r), nr = eng_result_nrows(r);
    for (size_t c = 0; c < nc; c++) {
        if (c)
            fputc(',', out);
        csv_field(out, eng_result_colname(r, c));
    }
    fputc('\n', out);
    for (size_t i = 0; i < nr; i++) {
        for (size_t c = 0; c < nc; c++) {
            const char *s = eng_result_str(r, c, i);
            if (c)
                fputc(',', out);
            if (s)
                csv_field(out, s);
        }
        fputc('\n', out);
    }
}

static bool is_json_raw(const char *type)
{
    return !strcmp(type, "BOOLEAN") || !strcmp(type, "LIST") || !strcmp(type, "STRUCT") ||
           !strcmp(type, "MAP");
}

static void print_json(const struct eng_result *r, FILE *out)
{
    size_t nc = eng_result_ncols(r), nr = eng_result_nrows(r);
    struct sm_buf b = SM_BUF_INIT;
    fputc('[', out);
    for (size_t i = 0; i < nr; i++) {
        fputs(i ? ",\n{" : "\n{", out);
        for (size_t c = 0; c < nc; c++) {
            const char *s = eng_result_str(r, c, i);
            sm_buf_reset(&b);
            if (c)
                (void)sm_buf_addc(&b, ',');
            (void)sm_buf_add_json_str(&b, eng_result_colname(r, c));
            (void)sm_buf_addc(&b, ':');
            if (!s)
                (void)sm_buf_adds(&b, "null");
            else if ((eng_result_col_is_numeric(r, c) && strspn(s, "-+0123456789.eE") == strlen(s)) ||
                     is_json_raw(eng_result_coltype(r, c)))
                (void)sm_buf_adds(&b, s);
            else
                (void)sm_buf_add_json_str(&b, s);
            fputs(b.buf, out);
        }
        fputc('}', out);
    }
    fputs(nr ? "\n]\n" : "]\n", out);
    sm_buf_release(&b);
}

void cli_print_result(const struct eng_result *r, enum cli_format fmt, FILE *out)
{
    switch (cli_resolve_format(fmt)) {
    case CLI_FMT_CSV:
        print_csv(r, out);
        break;
    case CLI_FMT_JSON:
        print_json(r, out);
        break;
    default:
        print_table(r, out);
        break;
    }
}
