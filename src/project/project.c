/*
 * project.c — loads a project directory into a struct prj_project. It sits
 * just above util/ and is the only file in smelt that includes libyaml; every
 * module above it sees typed, validated structs and never YAML.
 *
 * A file is read in two steps. First libyaml loads the document and we copy
 * it into a small tree of struct node that keeps each node's line number
 * (libyaml's own tree is awkward to walk and the copy bounds alias expansion).
 * Then fill_section() walks a mapping against a table of known keys
 * (struct key) and writes each value into the target struct at the field's
 * offset. The tables are the single description of the format: validation,
 * defaults and the Markdown of prj_print_keys() (docs/project.md) all come
 * from them, so adding a key is adding one row.
 *
 * Invariants: the first error wins and names the file relative to the project
 * root and the line ("sources/orders.yml:4: ..."); on failure prj_load()
 * frees everything it built and leaves *out untouched; sources and models are
 * sorted by name (models by zone, then name) so every later step is
 * deterministic.
 */
#include "project.h"

#include <dirent.h>
#include <limits.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "util/tmpl.h"

/* --- the YAML tree ----------------------------------------------------------- */

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP };

struct node {
    enum node_kind kind;
    int line;           /* 1-based */
    bool is_null;       /* plain scalar "", "~" or "null": treated as absent */
    char *text;         /* scalars only */
    struct node **kids; /* sequence: items; mapping: key, value, key, value... */
    size_t nkids;
};

/* An alias copies its anchor's subtree, so "billion laughs" documents and
 * self-referencing anchors would otherwise grow without bound. Real project
 * files are a few levels deep and a few hundred nodes. */
#define MAX_DEPTH 64
#define MAX_NODES 100000

struct ctx {
    const char *root; /* absolute project root */
    const char *file; /* file being read, relative to root, for messages */
    struct sm_err *err;
    const char *infer; /* a source whose columns may be missing (ingest --infer), or NULL */
};

static int cfg_err(struct ctx *c, int line, const char *fmt, ...) SM_PRINTF(3, 4);

/* Every configuration error goes through here so that all of them start with
 * "file:line: " (or "file: " when no single line is at fault). */
static int cfg_err(struct ctx *c, int line, const char *fmt, ...)
{
    char msg[SM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        return sm_err_set(c->err, SM_ECONFIG, "%s:%d: %s", c->file, line, msg);
    return sm_err_set(c->err, SM_ECONFIG, "%s: %s", c->file, msg);
}

static void node_free(struct node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    free(n);
}

static bool plain_null(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Copy libyaml's node id (and its subtree) into a struct node. */
static int node_build(struct ctx *c, yaml_document_t *doc, int id, int depth, size_t *budget,
                      struct node **out)
{
    yaml_node_t *y = yaml_document_get_node(doc, id);
    if (!y)
        return sm_err_set(c->err, SM_EINTERNAL, "%s: libyaml returned no node %d", c->file, id);
    int line = (int)y->start_mark.line + 1;
    if (depth > MAX_DEPTH)
        return cfg_err(c, line, "YAML nested more than %d levels deep (a recursive alias?)",
                       MAX_DEPTH);
    if (++*budget > MAX_NODES)
        return cfg_err(c, line, "YAML document expands to more than %d nodes (too many aliases?)",
                       MAX_NODES);

    struct node *n = sm_calloc(1, sizeof(*n));
    n->line = line;
    *out = n;
    switch (y->type) {
    case YAML_SCALAR_NODE:
        n->kind = NODE_SCALAR;
        n->text = sm_strndup((const char *)y->data.scalar.value, y->data.scalar.length);
        n->is_null = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && plain_null(n->text);
        return 0;
    case YAML_SEQUENCE_NODE: {
        n->kind = NODE_SEQ;
        size_t cnt = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
        n->kids = sm_calloc(cnt ? cnt : 1, sizeof(*n->kids));
        for (size_t i = 0; i < cnt; i++) {
            int rc = node_build(c, doc, y->data.sequence.items.start[i], depth + 1, budget,
                                &n->kids[n->nkids]);
            n->nkids++; /* counted even on failure: node_free() handles a partial child */
            if (rc)
                return rc;
        }
        return 0;
    }
    case YAML_MAPPING_NODE: {
        n->kind = NODE_MAP;
        size_t cnt = (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);
        n->kids = sm_calloc(cnt ? 2 * cnt : 1, sizeof(*n->kids));
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_pair_t *pr = &y->data.mapping.pairs.start[i];
            int rc = node_build(c, doc, pr->key, depth + 1, budget, &n->kids[n->nkids]);
            n->nkids++;
            if (!rc)
                rc = node_build(c, doc, pr->value, depth + 1, budget, &n->kids[n->nkids]);
            n->nkids++;
            if (rc)
                return rc;
        }
        return 0;
    }
    default:
        return sm_err_set(c->err, SM_EINTERNAL, "%s:%d: libyaml returned an empty node", c->file,
                          line);
    }
}

/* Keep libyaml's own words and position; add a hint for the one mistake
 * everybody makes (tabs). Reader errors (bad UTF-8) carry a byte offset
 * rather than a mark, so the line is counted from the offset. */
static int yaml_error(struct ctx *c, const yaml_parser_t *ps, const char *data, size_t len)
{
    if (ps->error == YAML_MEMORY_ERROR)
        return sm_err_set(c->err, SM_ENOMEM, "%s: out of memory while parsing YAML", c->file);
    int line = (int)ps->problem_mark.line + 1;
    if (ps->error == YAML_READER_ERROR) {
        line = 1;
        for (size_t i = 0; i < ps->problem_offset && i < len; i++)
            line += data[i] == '\n';
    }
    /* At end of input libyaml points past the last line: name the line
     * where the unfinished construct started instead. */
    int nlines = 0;
    for (size_t i = 0; i < len; i++)
        nlines += data[i] == '\n';
    if (len && data[len - 1] != '\n')
        nlines++;
    if (line > nlines)
        line = ps->context ? (int)ps->context_mark.line + 1 : (nlines ? nlines : 1);
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, ps->problem ? ps->problem : "invalid YAML");
    if (ps->context)
        (void)sm_buf_addf(&b, " (%s on line %d)", ps->context, (int)ps->context_mark.line + 1);
    if (ps->error != YAML_READER_ERROR && ps->problem_mark.index < len &&
        data[ps->problem_mark.index] == '\t')
        (void)sm_buf_adds(&b, ": indent with spaces, YAML does not allow tabs");
    int rc = cfg_err(c, line, "%s", b.buf);
    sm_buf_release(&b);
    return rc;
}

/* Parse the file at abs into *out. An empty file (or one holding only
 * comments) gives *out == NULL. Caller frees *out with node_free(). */
static int yaml_load(struct ctx *c, const char *abs, struct node **out)
{
    char *data = NULL;
    size_t len = 0;
    yaml_parser_t ps;
    yaml_document_t doc;
    struct node *root = NULL;
    size_t budget = 0;
    int rc = sm_read_file(abs, &data, &len, c->err);
    if (rc)
        return rc;
    if (!yaml_parser_initialize(&ps)) {
        free(data);
        return sm_err_set(c->err, SM_ENOMEM, "%s: cannot initialize the YAML parser", c->file);
    }
    yaml_parser_set_input_string(&ps, (const unsigned char *)data, len);
    if (!yaml_parser_load(&ps, &doc)) {
        rc = yaml_error(c, &ps, data, len);
        goto out;
    }
    yaml_node_t *top = yaml_document_get_root_node(&doc);
    if (top)
        rc = node_build(c, &doc, 1, 0, &budget, &root);
    yaml_document_delete(&doc);
    if (rc)
        goto out;
    /* A second document ("---") would be silently ignored otherwise. */
    if (!yaml_parser_load(&ps, &doc)) {
        rc = yaml_error(c, &ps, data, len);
        goto out;
    }
    top = yaml_document_get_root_node(&doc);
    if (top)
        rc = cfg_err(c, (int)doc.start_mark.line + 1,
                     "a second YAML document: keep one document per file");
    yaml_document_delete(&doc);
out:
    yaml_parser_delete(&ps);
    free(data);
    if (rc) {
        node_free(root);
        return rc;
    }
    *out = root;
    return 0;
}

/* The value of key in mapping map, or NULL. */
static const struct node *map_get(const struct node *map, const char *key)
{
    if (!map || map->kind != NODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->nkids; i += 2)
        if (map->kids[i]->kind == NODE_SCALAR && !strcmp(map->kids[i]->text, key))
            return map->kids[i + 1];
    return NULL;
}

static const char *node_what(const struct node *n)
{
    return n->kind == NODE_MAP ? "a mapping" : n->kind == NODE_SEQ ? "a list" : "a string";
}

/* --- the tables of known keys ------------------------------------------------ */

enum key_type {
    KT_STR,      /* any string */
    KT_IDENT,    /* a name: [a-z_][a-z0-9_]* */
    KT_PATH,     /* a string resolved against the project root (URLs kept) */
    KT_BOOL,     /* true/false (yes/no, on/off) */
    KT_INT,      /* a non-negative int */
    KT_ENUM,     /* one of .values, stored as its index in an enum field */
    KT_CHOICE,   /* one of .values, stored as the string */
    KT_STRS,     /* a string or a list of strings, stored comma-joined */
    KT_MAP,      /* a mapping described by .sub, filling the same struct */
    KT_MAP_LIST, /* a list of mappings described by .sub, validated only */
    KT_COLUMNS,  /* column name -> type or {type, nullable}; struct prj_source only */
    KT_LIST,     /* any list, accepted for a later version */
    KT_NUM,      /* a number >= 0, possibly fractional, stored as double */
    KT_PAIRS,    /* a mapping of name -> string, kept in file order in a struct prj_kvs */
    KT_STRV,     /* a string or a list of strings, kept in a struct prj_strs */
};

/* How each type reads in an error message ("expected %s") and in the docs. */
static const struct {
    const char *expect;
    const char *doc;
} type_names[] = {
    [KT_STR] = {"a string", "string"},
    [KT_IDENT] = {"a name of lowercase letters, digits and '_'", "name"},
    [KT_PATH] = {"a path", "path"},
    [KT_BOOL] = {"true or false", "boolean"},
    [KT_INT] = {"a whole number >= 0", "integer"},
    [KT_ENUM] = {"one of its words", "one of"}, /* messages list the words instead */
    [KT_CHOICE] = {"one of its words", "one of"},
    [KT_STRS] = {"a string or a list of strings", "string or list of strings"},
    [KT_MAP] = {"a mapping (key: value lines)", "mapping"},
    [KT_MAP_LIST] = {"a list of mappings (lines starting with '- ')", "list of mappings"},
    [KT_COLUMNS] = {"a mapping of column name to type", "mapping of column → type"},
    [KT_LIST] = {"a list", "list"},
    [KT_NUM] = {"a number >= 0", "number"},
    [KT_PAIRS] = {"a mapping of name to value", "mapping of name → string"},
    [KT_STRV] = {"a string or a list of strings", "string or list of strings"},
};

struct section;

struct key {
    const char *name;
    enum key_type type;
    bool required;
    const char *def;           /* default, parsed like a value from the file; NULL = none */
    size_t at;                 /* AT(struct, field), or 0 when validated but not stored */
    const char *const *values; /* KT_ENUM, KT_CHOICE: NULL-terminated */
    const struct section *sub; /* KT_MAP, KT_MAP_LIST */
    const char *help;          /* one line for the docs, Markdown, no '|' */
    /* Source keys that belong to one kind of source: the key is an error in
     * a source of another kind (only), or is required in a source of that
     * kind (required_kind). Checked by check_source(); NULL = any kind. */
    const char *only;
    const char *required_kind;
};

/* Offsets are stored plus one so that a zero-initialized row means "not
 * stored" while offset 0 remains usable. */
#define AT(type, field) (offsetof(struct type, field) + 1)

struct section {
    const char *name;       /* in messages: "unknown key 'x' in options" */
    const char *title;      /* heading in the docs */
    const struct key *keys; /* ends with a row whose name is NULL */
    /* Rules across keys, run after the keys are filled; may be NULL. */
    int (*check)(struct ctx *c, const struct node *map, int line, void *target);
};

#define MAX_KEYS 32

static const char *const format_values[] = {"csv", "ndjson", "json", "parquet", "tsv", NULL};
static const char *const materialized_values[] = {"table", "view", "incremental", "snapshot",
                                                  NULL};
static const char *const strategy_values[] = {"append", "merge", "insert_overwrite", NULL};
static const char *const snapshot_strategy_values[] = {"timestamp", "check", NULL};
static const char *const hard_deletes_values[] = {"ignore", "invalidate", NULL};
static const char *const kind_values[] = {"files", "rest", NULL};
static const char *const method_values[] = {"GET", "POST", NULL};
static const char *const paginate_values[] = {"none",     "offset",      "page", "cursor",
                                              "next_url", "link_header", NULL};
static const char *const auth_values[] = {
    "none", "bearer", "basic", "api_key", "oauth2_client_credentials", NULL};
static const char *const client_auth_values[] = {"basic", "body", NULL};
static const char *const auth_in_values[] = {"header", "query", NULL};
static const char *const drift_values[] = {"evolve", "fail", "quarantine", NULL};

/* KT_ENUM writes an int into the enum field: the arrays above are in the
 * enums' order. */
_Static_assert(sizeof(enum prj_format) == sizeof(int), "enum prj_format is int-sized");
_Static_assert(sizeof(enum prj_materialized) == sizeof(int), "enum prj_materialized is int-sized");
_Static_assert(sizeof(enum prj_paginate_type) == sizeof(int),
               "enum prj_paginate_type is int-sized");
_Static_assert(sizeof(enum prj_auth_type) == sizeof(int), "enum prj_auth_type is int-sized");

static const struct key defaults_keys[] = {
    {.name = "memory_limit",
     .type = KT_STR,
     .def = "4GB",
     .at = AT(prj_project, memory_limit),
     .help = "memory DuckDB may use, e.g. `4GB` or `512MB`; beyond it, work spills to "
             "`temp_directory`"},
    {.name = "threads",
     .type = KT_INT,
     .def = "0",
     .at = AT(prj_project, threads),
     .help = "DuckDB worker threads; `0` means one per CPU core"},
    {.name = "temp_directory",
     .type = KT_PATH,
     .def = ".smelt/tmp",
     .at = AT(prj_project, temp_directory),
     .help = "where DuckDB spills to disk, relative to the project folder"},
    {.name = "retries",
     .type = KT_INT,
     .def = "0",
     .at = AT(prj_project, retries),
     .help = "how many times a failed task is retried before the run fails"},
    {.name = "max_expansion",
     .type = KT_INT,
     .def = "1000",
     .at = AT(prj_project, max_expansion),
     .help = "a compressed file or archive member that inflates to more than this many times "
             "its size (past 64 MiB) is quarantined as a likely decompression bomb; `0` turns "
             "the check off"},
    {0},
};

static const struct section defaults_section = {
    .name = "defaults",
    .title = "`defaults:` in `smelt.yml`",
    .keys = defaults_keys,
};

static const struct key schedule_keys[] = {
    {.name = "name", .type = KT_IDENT, .required = true, .help = "name of the schedule"},
    {.name = "cron",
     .type = KT_STR,
     .required = true,
     .help = "five-field cron expression, e.g. `\"15 2 * * *\"` (quote it)"},
    {.name = "select",
     .type = KT_STR,
     .help = "what to run, as in `smelt run --select`, e.g. `+gold.daily_sales`; "
             "default: everything"},
    {0},
};

static const struct section schedule_section = {
    .name = "schedules",
    .title = "each entry of `schedules:` in `smelt.yml`",
    .keys = schedule_keys,
};

/* A notifier sends somewhere: exactly one destination per entry, so that
 * "events" clearly belongs to it. */
static int check_notify(struct ctx *c, const struct node *map, int line, void *target)
{
    static const char *const dests[] = {"webhook", "command", "file"};
    const char *found = NULL;
    (void)target;
    for (size_t i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
        const struct node *v = map_get(map, dests[i]);
        if (!v || v->is_null)
            continue;
        if (found)
            return cfg_err(c, line, "notify entry has both '%s' and '%s': use one entry each",
                           found, dests[i]);
        found = dests[i];
    }
    if (!found)
        return cfg_err(c, line, "notify entry needs one of 'webhook', 'command' or 'file'");
    return 0;
}

static const struct key notify_keys[] = {
    {.name = "webhook", .type = KT_STR, .help = "URL each event is POSTed to as JSON"},
    {.name = "command",
     .type = KT_STR,
     .help = "shell command run for each event, with the event as JSON on stdin"},
    {.name = "file",
     .type = KT_STR,
     .help = "file each event is appended to as one JSON line, relative to the project folder"},
    {.name = "events",
     .type = KT_STRS,
     .help = "events to send, e.g. `[run_failed, check_failed]`; default: all"},
    {0},
};

static const struct section notify_section = {
    .name = "notify",
    .title = "each entry of `notify:` in `smelt.yml`",
    .keys = notify_keys,
    .check = check_notify,
};

static const struct key project_keys[] = {
    {.name = "name",
     .type = KT_IDENT,
     .required = true,
     .at = AT(prj_project, name),
     .help = "project name: lowercase letters, digits and `_`, not starting with a digit"},
    {.name = "lake",
     .type = KT_PATH,
     .def = "lake",
     .at = AT(prj_project, lake),
     .help = "root of the data lake: a folder relative to the project folder, an absolute "
             "path, or a URL such as `s3://bucket/prefix`"},
    {.name = "defaults",
     .type = KT_MAP,
     .sub = &defaults_section,
     .help = "engine settings for every run (see below)"},
    {.name = "schedules",
     .type = KT_MAP_LIST,
     .sub = &schedule_section,
     .help = "when `smelt serve` runs what (see below); validated, not run yet"},
    {.name = "notify",
     .type = KT_MAP_LIST,
     .sub = &notify_section,
     .help = "where events are sent (see below); validated, not sent yet"},
    {0},
};

static const struct section project_section = {
    .name = "project",
    .title = "`smelt.yml`",
    .keys = project_keys,
};

static const struct key options_keys[] = {
    {.name = "header",
     .type = KT_BOOL,
     .def = "true",
     .at = AT(prj_source, header),
     .help = "CSV/TSV: the first line holds column names"},
    {.name = "delimiter",
     .type = KT_STR,
     .def = ",",
     .at = AT(prj_source, delimiter),
     .help = "CSV/TSV: field separator of 1 to 4 bytes, e.g. `\";\"` or `\"\\t\"`; "
             "`format: tsv` makes `\"\\t\"` the default"},
    {.name = "quote",
     .type = KT_STR,
     .def = "\"",
     .at = AT(prj_source, quote),
     .help = "CSV/TSV: quoting character; `\"\"` for none"},
    {.name = "escape",
     .type = KT_STR,
     .at = AT(prj_source, escape),
     .help = "CSV/TSV: escape character inside quotes; default: the quote character"},
    {.name = "null_string",
     .type = KT_STR,
     .at = AT(prj_source, null_string),
     .help = "CSV/TSV: text that means NULL, e.g. `\"NA\"`; default: empty fields are NULL"},
    {.name = "null_strings",
     .type = KT_STRV,
     .at = AT(prj_source, null_strings),
     .help = "CSV/TSV: several texts that mean NULL, e.g. `[\"\", NA, \"-\"]`; instead of "
             "`null_string`"},
    {.name = "date_format",
     .type = KT_STR,
     .at = AT(prj_source, date_format),
     .help = "strptime format of DATE columns, e.g. `\"%d/%m/%Y\"`; default: ISO 8601"},
    {.name = "timestamp_format",
     .type = KT_STR,
     .at = AT(prj_source, timestamp_format),
     .help = "strptime format of TIMESTAMP columns, e.g. `\"%Y-%m-%d %H:%M:%S\"`; "
             "default: ISO 8601"},
    {0},
};

static int check_options(struct ctx *c, const struct node *map, int line, void *target);

static const struct section options_section = {
    .name = "options",
    .title = "`options:` in a source",
    .keys = options_keys,
    .check = check_options,
};

static const struct key column_keys[] = {
    {.name = "type",
     .type = KT_STR,
     .required = true,
     .at = AT(prj_column, type),
     .help = "DuckDB type, e.g. `BIGINT`, `VARCHAR`, `DECIMAL(12,2)`, `TIMESTAMP`"},
    {.name = "nullable",
     .type = KT_BOOL,
     .def = "true",
     .at = AT(prj_column, nullable),
     .help = "whether the column may hold NULL"},
    {0},
};

static const struct section column_section = {
    .name = "column",
    .title = "a column of `columns:` in its long form (`name: {type: ..., nullable: ...}`)",
    .keys = column_keys,
};

static int check_paginate(struct ctx *c, const struct node *map, int line, void *target);

static const struct key paginate_keys[] = {
    {.name = "type",
     .type = KT_ENUM,
     .def = "none",
     .values = paginate_values,
     .at = AT(prj_source, rest.paginate.type),
     .help = "one request (`none`); a record offset (`offset`); a page number (`page`); a "
             "cursor from the response (`cursor`); a next URL from the response (`next_url`) or "
             "from the `Link` header (`link_header`)"},
    {.name = "limit_param",
     .type = KT_STR,
     .def = "limit",
     .at = AT(prj_source, rest.paginate.limit_param),
     .help = "query parameter the page size is sent as"},
    {.name = "limit",
     .type = KT_INT,
     .def = "0",
     .at = AT(prj_source, rest.paginate.limit),
     .help = "page size to ask for; `0` sends none"},
    {.name = "offset_param",
     .type = KT_STR,
     .def = "offset",
     .at = AT(prj_source, rest.paginate.offset_param),
     .help = "offset: query parameter of the offset, which starts at 0 and grows by the number "
             "of records each page returned"},
    {.name = "page_param",
     .type = KT_STR,
     .def = "page",
     .at = AT(prj_source, rest.paginate.page_param),
     .help = "page: query parameter of the page number"},
    {.name = "start_page",
     .type = KT_INT,
     .def = "1",
     .at = AT(prj_source, rest.paginate.start_page),
     .help = "page: number of the first page"},
    {.name = "cursor_path",
     .type = KT_STR,
     .at = AT(prj_source, rest.paginate.cursor_path),
     .help = "cursor: where the next cursor is in a response, e.g. `meta.next_cursor`; "
             "required for `cursor`"},
    {.name = "cursor_param",
     .type = KT_STR,
     .def = "cursor",
     .at = AT(prj_source, rest.paginate.cursor_param),
     .help = "cursor: query parameter the cursor is sent as"},
    {.name = "next_url_path",
     .type = KT_STR,
     .at = AT(prj_source, rest.paginate.next_url_path),
     .help = "next_url: where the next page's URL is in a response, e.g. `links.next`; "
             "required for `next_url`"},
    {.name = "has_more_path",
     .type = KT_STR,
     .at = AT(prj_source, rest.paginate.has_more_path),
     .help = "where a response says whether more pages follow, e.g. `has_more`; a false value "
             "ends"},
    {.name = "total_path",
     .type = KT_STR,
     .at = AT(prj_source, rest.paginate.total_path),
     .help = "where a response gives the total: records for `offset`, pages for `page`; "
             "reaching it ends"},
    {.name = "max_pages",
     .type = KT_INT,
     .def = "0",
     .at = AT(prj_source, rest.paginate.max_pages),
     .help = "most pages fetched per run; `0` means no limit"},
    {.name = "stop_on_empty",
     .type = KT_BOOL,
     .def = "true",
     .at = AT(prj_source, rest.paginate.stop_on_empty),
     .help = "a page without records ends"},
    {0},
};

static const struct section paginate_section = {
    .name = "paginate",
    .title = "`paginate:` in a REST source",
    .keys = paginate_keys,
    .check = check_paginate,
};

static int check_auth(struct ctx *c, const struct node *map, int line, void *target);

static const struct key auth_keys[] = {
    {.name = "type",
     .type = KT_ENUM,
     .def = "none",
     .values = auth_values,
     .at = AT(prj_source, rest.auth.type),
     .help = "`bearer` sends `Authorization: Bearer <token>`; `basic` a user name and "
             "password; `api_key` the key `token` as header or query parameter `name`; "
             "`oauth2_client_credentials` gets a bearer token from `token_url` with the client's "
             "id and secret (OAuth 2.0 client credentials grant, see below)"},
    {.name = "token",
     .type = KT_STR,
     .at = AT(prj_source, rest.auth.token),
     .help = "bearer: the token; api_key: the key; write `\"${env:NAME}\"` or "
             "`\"${secret:NAME}\"`, not the value"},
    {.name = "username",
     .type = KT_STR,
     .at = AT(prj_source, rest.auth.username),
     .help = "basic: user name"},
    {.name = "password",
     .type = KT_STR,
     .at = AT(prj_source, rest.auth.password),
     .help = "basic: password, e.g. `\"${env:API_PASSWORD}\"`"},
    {.name = "name",
     .type = KT_STR,
     .at = AT(prj_source, rest.auth.name),
     .help = "api_key: name of the header or query parameter, e.g. `X-API-Key`"},
    {.name = "in",
     .type = KT_CHOICE,
     .def = "header",
     .values = auth_in_values,
     .at = AT(prj_source, rest.auth.in),
     .help = "api_key: where the key goes"},
    {.name = "token_url",
     .type = KT_STR,
     .at = AT(prj_source, rest.auth.token_url),
     .help = "oauth2_client_credentials: the token endpoint, absolute or relative to `base_url`, "
             "e.g. `https://auth.example.com/oauth/token`"},
    {.name = "client_id",
     .type = KT_STR,
     .at = AT(prj_source, rest.auth.client_id),
     .help = "oauth2_client_credentials: the client's id"},
    {.name = "client_secret",
     .type = KT_STR,
     .at = AT(prj_source, rest.auth.client_secret),
     .help = "oauth2_client_credentials: the client's secret, written as a reference: "
             "`\"${secret:NAME}\"` (or `\"${env:NAME}\"`), never the value"},
    {.name = "scope",
     .type = KT_STR,
     .at = AT(prj_source, rest.auth.scope),
     .help = "oauth2_client_credentials: scopes to ask for, space-separated, e.g. `\"read:items "
             "read:orders\"`; default: none sent"},
    {.name = "token_params",
     .type = KT_PAIRS,
     .at = AT(prj_source, rest.auth.token_params),
     .help = "oauth2_client_credentials: more form fields of the token request, e.g. "
             "`{audience: https://api.example.com}`"},
    {.name = "client_auth",
     .type = KT_CHOICE,
     .def = "basic",
     .values = client_auth_values,
     .at = AT(prj_source, rest.auth.client_auth),
     .help = "oauth2_client_credentials: how the client proves who it is: HTTP basic "
             "authentication (`basic`, as RFC 6749 §2.3.1 prefers) or `client_id` and "
             "`client_secret` in the form (`body`)"},
    {0},
};

static const struct section auth_section = {
    .name = "auth",
    .title = "`auth:` in a REST source",
    .keys = auth_keys,
    .check = check_auth,
};

static int check_incremental(struct ctx *c, const struct node *map, int line, void *target);

static const struct key incremental_keys[] = {
    {.name = "cursor_field",
     .type = KT_STR,
     .at = AT(prj_source, rest.incremental.cursor_field),
     .help = "field of each record whose highest value seen is kept as the watermark, e.g. "
             "`updated_at`; required"},
    {.name = "param",
     .type = KT_STR,
     .at = AT(prj_source, rest.incremental.param),
     .help = "query parameter the watermark is sent as on the next run, e.g. `updated_since`; "
             "required"},
    {.name = "lookback",
     .type = KT_INT,
     .def = "0",
     .at = AT(prj_source, rest.incremental.lookback),
     .help = "seconds subtracted from the watermark before it is sent, to catch late updates"},
    {0},
};

static const struct section incremental_section = {
    .name = "incremental",
    .title = "`incremental:` in a REST source",
    .keys = incremental_keys,
    .check = check_incremental,
};

static int check_source(struct ctx *c, const struct node *map, int line, void *target);

static const struct key source_keys[] = {
    {.name = "kind",
     .type = KT_CHOICE,
     .required = true,
     .values = kind_values,
     .at = AT(prj_source, kind),
     .help = "where the data comes from: files in a folder (`files`) or an HTTP JSON API "
             "(`rest`)"},
    {.name = "path",
     .type = KT_PATH,
     .required_kind = "files",
     .at = AT(prj_source, path),
     .help = "files: folder the files arrive in, relative to the project folder, or a pattern "
             "such as `incoming/orders/**/*.csv.gz` (the folder, then the `glob`); rest: the "
             "same as `resource`"},
    {.name = "glob",
     .type = KT_STR,
     .def = "*",
     .only = "files",
     .at = AT(prj_source, glob),
     .help = "which files under `path` to read, e.g. `\"orders_*.csv.gz\"`; `**` matches any "
             "number of folders, e.g. `\"**/*.csv\"`; compressed (`.gz`, `.zst`, `.bz2`, `.xz`) "
             "files are read through, archives (`.zip`, `.tar`, `.tar.gz`, `.tgz`) member by "
             "member"},
    {.name = "format",
     .type = KT_ENUM,
     .required_kind = "files",
     .only = "files",
     .values = format_values,
     .at = AT(prj_source, format),
     .help = "how the files are written"},
    {.name = "options",
     .type = KT_MAP,
     .only = "files",
     .sub = &options_section,
     .help = "how to parse the files (see below)"},
    {.name = "columns",
     .type = KT_COLUMNS,
     .at = AT(prj_source, columns),
     .help = "column name → DuckDB type, in file order, or → `{type: ..., nullable: ...}`; "
             "required when `format` is `csv` or `tsv` (`smelt ingest --infer SOURCE` writes "
             "them from the files); for `rest`, the record fields to keep"},
    {.name = "schema_drift",
     .type = KT_CHOICE,
     .def = "evolve",
     .only = "files",
     .values = drift_values,
     .at = AT(prj_source, schema_drift),
     .help = "what a file whose columns differ from the contract (a new "
             "column, a declared one missing, a type changed) does: new columns are added to "
             "bronze and missing ones are NULL (`evolve`), the bronze load stops naming the file "
             "(`fail`), or the file is quarantined (`quarantine`); a changed type stops the load "
             "unless `quarantine`"},
    {.name = "description",
     .type = KT_STR,
     .at = AT(prj_source, description),
     .help = "free text for the catalog"},
    {.name = "base_url",
     .type = KT_STR,
     .required_kind = "rest",
     .only = "rest",
     .at = AT(prj_source, rest.base_url),
     .help = "root URL of the API, e.g. `https://api.example.com/v2`"},
    {.name = "resource",
     .type = KT_STR,
     .only = "rest",
     .at = AT(prj_source, rest.resource),
     .help = "path of the endpoint under `base_url`, e.g. `tickets`"},
    {.name = "method",
     .type = KT_CHOICE,
     .def = "GET",
     .only = "rest",
     .values = method_values,
     .at = AT(prj_source, rest.method),
     .help = "HTTP method"},
    {.name = "body",
     .type = KT_STR,
     .only = "rest",
     .at = AT(prj_source, rest.body),
     .help = "JSON text sent with `POST`, e.g. `'{\"status\": \"open\"}'`"},
    {.name = "params",
     .type = KT_PAIRS,
     .only = "rest",
     .at = AT(prj_source, rest.params),
     .help = "query parameters sent with every request, e.g. `{per_page: 100}`"},
    {.name = "headers",
     .type = KT_PAIRS,
     .only = "rest",
     .at = AT(prj_source, rest.headers),
     .help = "HTTP headers sent with every request; never logged"},
    {.name = "records",
     .type = KT_STR,
     .only = "rest",
     .at = AT(prj_source, rest.records),
     .help = "where the records are in a response: `data.items[*]`, `data[*]`, `items`, or `$` "
             "for a top-level array; default: the response itself"},
    {.name = "paginate",
     .type = KT_MAP,
     .only = "rest",
     .sub = &paginate_section,
     .help = "how to fetch the following pages (see below); default: one request"},
    {.name = "auth",
     .type = KT_MAP,
     .only = "rest",
     .sub = &auth_section,
     .help = "credentials (see below)"},
    {.name = "incremental",
     .type = KT_MAP,
     .only = "rest",
     .sub = &incremental_section,
     .help = "fetch only records newer than the last run's (see below)"},
    {.name = "parent",
     .type = KT_IDENT,
     .only = "rest",
     .at = AT(prj_source, rest.parent),
     .help = "another REST source of the project whose records fill the `{field}` placeholders "
             "of `resource` (or `path`) and `params`, e.g. `orders` with `path: "
             "orders/{id}/items`: one request, and its pages, per parent record (see below)"},
    {.name = "include_from_parent",
     .type = KT_STRS,
     .only = "rest",
     .at = AT(prj_source, rest.include_from_parent),
     .help = "more fields of the parent record copied into each row as `_<parent>_<field>`, "
             "e.g. `[name]`; the placeholder fields always are"},
    {.name = "timeout",
     .type = KT_INT,
     .def = "30",
     .only = "rest",
     .at = AT(prj_source, rest.timeout),
     .help = "seconds one request may take"},
    {.name = "connect_timeout",
     .type = KT_INT,
     .def = "10",
     .only = "rest",
     .at = AT(prj_source, rest.connect_timeout),
     .help = "seconds to wait for a connection"},
    {.name = "retries",
     .type = KT_INT,
     .def = "5",
     .only = "rest",
     .at = AT(prj_source, rest.retries),
     .help = "times a request is retried after a connection error, a timeout, a 5xx or a 429, "
             "with exponential backoff (a `Retry-After` header is honoured)"},
    {.name = "rate_limit",
     .type = KT_NUM,
     .def = "0",
     .only = "rest",
     .at = AT(prj_source, rest.rate_limit),
     .help = "most requests per second, e.g. `2` or `0.5`; `0` means no limit"},
    {0},
};

static const struct section source_section = {
    .name = "source",
    .title = "`sources/<name>.yml`",
    .keys = source_keys,
    .check = check_source,
};

static int check_model(struct ctx *c, const struct node *map, int line, void *target);

static const struct key model_keys[] = {
    {.name = "materialized",
     .type = KT_ENUM,
     .def = "table",
     .values = materialized_values,
     .at = AT(prj_model, materialized),
     .help = "rebuild the table each run (`table`), define a view (`view`), process only what "
             "is new upstream (`incremental`), or keep every version of each row (`snapshot`, "
             "SCD type 2)"},
    {.name = "partition_by",
     .type = KT_STRS,
     .at = AT(prj_model, partition_by),
     .help = "column (or list of columns) whose values split the table into folders, e.g. "
             "`order_date` or `[region, day]` (nested: `region=West/day=2026-01-30/`)"},
    {.name = "unique_key",
     .type = KT_STRS,
     .at = AT(prj_model, unique_key),
     .help = "column (or list of columns) identifying a row; an incremental model merges on it "
             "instead of appending; a snapshot tracks each key's versions"},
    {.name = "incremental_strategy",
     .type = KT_CHOICE,
     .values = strategy_values,
     .at = AT(prj_model, incremental_strategy),
     .help = "incremental: `merge` (default with `unique_key`: replace the rows of the keys "
             "that changed), `insert_overwrite` (replace the `partition_by` partitions that "
             "changed) or `append` (default otherwise)"},
    {.name = "strategy",
     .type = KT_CHOICE,
     .def = "timestamp",
     .values = snapshot_strategy_values,
     .at = AT(prj_model, snapshot_strategy),
     .help = "snapshot: a row changed when its `updated_at` grew (`timestamp`) or when one of "
             "`check_cols` differs (`check`)"},
    {.name = "updated_at",
     .type = KT_STR,
     .def = "updated_at",
     .at = AT(prj_model, updated_at),
     .help = "snapshot, strategy `timestamp`: the column holding when a row last changed"},
    {.name = "check_cols",
     .type = KT_STRS,
     .at = AT(prj_model, check_cols),
     .help = "snapshot, strategy `check`: the columns compared, or `all`"},
    {.name = "hard_deletes",
     .type = KT_CHOICE,
     .def = "ignore",
     .values = hard_deletes_values,
     .at = AT(prj_model, hard_deletes),
     .help = "snapshot: a key that disappears from the model's result keeps its current "
             "record (`ignore`) or has it closed (`invalidate`)"},
    {.name = "description",
     .type = KT_STR,
     .at = AT(prj_model, description),
     .help = "free text for the catalog"},
    {.name = "checks",
     .type = KT_LIST,
     .help = "data quality checks on the model's output; accepted, not run yet"},
    {0},
};

static const struct section model_section = {
    .name = "model",
    .title = "`models/<zone>/<name>.yml`",
    .keys = model_keys,
    .check = check_model,
};

/* --- filling structs from the tables ------------------------------------------ */

static void *field(void *target, const struct key *k)
{
    return target && k->at ? (char *)target + k->at - 1 : NULL;
}

static void set_str(void *target, const struct key *k, char *val)
{
    char **dst = field(target, k);
    if (!dst) {
        free(val);
        return;
    }
    free(*dst);
    *dst = val;
}

/* The candidate closest to word, if it is close enough to be a likely typo:
 * at most 3 edits and fewer edits than word has letters (so "x" does not
 * suggest "kind"). */
static const char *nearest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = sm_edit_distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return best && bestd <= 3 && bestd < strlen(word) ? best : NULL;
}

static size_t count_values(const char *const *v)
{
    size_t n = 0;
    while (v[n])
        n++;
    return n;
}

/* "a, b or c" */
static void add_word_list(struct sm_buf *b, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        (void)sm_buf_addf(b, "%s'%s'", i == 0 ? "" : i + 1 == n ? " or " : ", ", words[i]);
}

static int unknown_key(struct ctx *c, int line, const char *key, const struct section *s)
{
    const char *names[MAX_KEYS] = {0};
    size_t n = 0;
    for (const struct key *k = s->keys; k->name && n < MAX_KEYS; k++)
        names[n++] = k->name;
    const char *near = nearest(key, names, n);
    if (near)
        return cfg_err(c, line, "unknown key '%s' in %s (did you mean '%s'?)", key, s->name, near);
    struct sm_buf b = SM_BUF_INIT;
    add_word_list(&b, names, n);
    int rc = cfg_err(c, line, "unknown key '%s' in %s (valid keys: %s)", key, s->name, b.buf);
    sm_buf_release(&b);
    return rc;
}

/* What a key's value should look like, for messages: the words of an enum,
 * otherwise the type's description. */
static void add_expect(struct sm_buf *b, const struct key *k)
{
    if (k->values)
        add_word_list(b, k->values, count_values(k->values));
    else
        (void)sm_buf_adds(b, type_names[k->type].expect);
}

static int type_error(struct ctx *c, const struct key *k, const struct section *s,
                      const struct node *v)
{
    struct sm_buf b = SM_BUF_INIT;
    add_expect(&b, k);
    int rc;
    if (v->kind == NODE_SCALAR)
        rc = cfg_err(c, v->line, "expected %s for '%s' in %s, got '%s'", b.buf, k->name, s->name,
                     v->text);
    else
        rc = cfg_err(c, v->line, "expected %s for '%s' in %s, got %s", b.buf, k->name, s->name,
                     node_what(v));
    sm_buf_release(&b);
    return rc;
}

/* A required key that is absent or has no value: say what to write. */
static int missing_key(struct ctx *c, int line, const struct key *k, const struct section *s,
                       bool present)
{
    struct sm_buf b = SM_BUF_INIT;
    add_expect(&b, k);
    int rc = present ? cfg_err(c, line, "required key '%s' in %s has no value: expected %s",
                               k->name, s->name, b.buf)
                     : cfg_err(c, line, "missing required key '%s' in %s: expected %s", k->name,
                               s->name, b.buf);
    sm_buf_release(&b);
    return rc;
}

static bool is_ident(const char *s)
{
    if (!*s || !(*s == '_' || (*s >= 'a' && *s <= 'z')))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
            *out = !strcasecmp(s, yes[i]);
            return true;
        }
    }
    return false;
}

/* URLs (s3://...) are kept as written; everything else becomes absolute so
 * that no later step depends on the current directory. */
static char *resolve_path(const char *root, const char *p)
{
    if (strstr(p, "://"))
        return sm_strdup(p);
    return sm_path_join(root, p);
}

static int fill_section(struct ctx *c, const struct section *s, const struct node *map, int line,
                        void *target);
static int fill_columns(struct ctx *c, const struct node *map, struct prj_source *src);
static int fill_pairs(struct ctx *c, const struct key *k, const struct node *map,
                      struct prj_kvs *out);

/* Check one value against its key's type and store it. */
static int set_value(struct ctx *c, const struct section *s, const struct key *k,
                     const struct node *v, void *target)
{
    switch (k->type) {
    case KT_MAP:
        if (v->kind != NODE_MAP)
            return type_error(c, k, s, v);
        return fill_section(c, k->sub, v, v->line, target);
    case KT_MAP_LIST:
        if (v->kind != NODE_SEQ)
            return type_error(c, k, s, v);
        for (size_t i = 0; i < v->nkids; i++) {
            const struct node *it = v->kids[i];
            if (it->kind != NODE_MAP)
                return cfg_err(c, it->line, "expected a mapping for each entry of '%s', got %s",
                               k->name, node_what(it));
            SM_TRY(fill_section(c, k->sub, it, it->line, NULL));
        }
        return 0;
    case KT_LIST:
        return v->kind == NODE_SEQ ? 0 : type_error(c, k, s, v);
    case KT_COLUMNS:
        if (v->kind != NODE_MAP)
            return type_error(c, k, s, v);
        return fill_columns(c, v, target);
    case KT_PAIRS:
        if (v->kind != NODE_MAP)
            return type_error(c, k, s, v);
        return fill_pairs(c, k, v, field(target, k));
    case KT_STRV: {
        struct prj_strs *dst = field(target, k);
        if (v->kind != NODE_SCALAR && v->kind != NODE_SEQ)
            return type_error(c, k, s, v);
        if (v->kind == NODE_SEQ && !v->nkids)
            return cfg_err(c, v->line, "'%s' is an empty list: give at least one entry", k->name);
        size_t n = v->kind == NODE_SCALAR ? 1 : v->nkids;
        for (size_t i = 0; i < n; i++) {
            const struct node *it = v->kind == NODE_SCALAR ? v : v->kids[i];
            if (it->kind != NODE_SCALAR)
                return cfg_err(c, it->line, "expected a string for each entry of '%s', got %s",
                               k->name, node_what(it));
            if (!dst)
                continue;
            dst->v = sm_realloc(dst->v, (dst->n + 1) * sizeof(*dst->v));
            /* null_strings: [~] or [null] would be read as "nothing": take it as the text */
            dst->v[dst->n++] = sm_strdup(it->text);
        }
        return 0;
    }
    case KT_STRS: {
        if (v->kind == NODE_SCALAR) {
            set_str(target, k, sm_strdup(v->text));
            return 0;
        }
        if (v->kind != NODE_SEQ)
            return type_error(c, k, s, v);
        if (!v->nkids)
            return cfg_err(c, v->line, "'%s' is an empty list: give at least one entry", k->name);
        struct sm_buf b = SM_BUF_INIT;
        for (size_t i = 0; i < v->nkids; i++) {
            const struct node *it = v->kids[i];
            if (it->kind != NODE_SCALAR || it->is_null) {
                sm_buf_release(&b);
                return cfg_err(c, it->line, "expected a string for each entry of '%s', got %s",
                               k->name, it->is_null ? "nothing" : node_what(it));
            }
            (void)sm_buf_addf(&b, "%s%s", i ? "," : "", it->text);
        }
        set_str(target, k, sm_buf_detach(&b));
        return 0;
    }
    default:
        break;
    }

    /* Everything else is a scalar. */
    if (v->kind != NODE_SCALAR)
        return type_error(c, k, s, v);
    const char *t = v->text;
    switch (k->type) {
    case KT_STR:
        set_str(target, k, sm_strdup(t));
        return 0;
    case KT_IDENT:
        if (!is_ident(t))
            return cfg_err(c, v->line,
                           "invalid %s '%s': use lowercase letters, digits and '_', starting "
                           "with a letter or '_'",
                           k->name, t);
        set_str(target, k, sm_strdup(t));
        return 0;
    case KT_PATH:
        if (!*t)
            return type_error(c, k, s, v);
        set_str(target, k, resolve_path(c->root, t));
        return 0;
    case KT_BOOL: {
        bool b;
        if (!parse_bool(t, &b))
            return type_error(c, k, s, v);
        bool *dst = field(target, k);
        if (dst)
            *dst = b;
        return 0;
    }
    case KT_INT: {
        int64_t n;
        if (sm_parse_i64(t, &n) || n < 0 || n > INT_MAX)
            return type_error(c, k, s, v);
        int *dst = field(target, k);
        if (dst)
            *dst = (int)n;
        return 0;
    }
    case KT_NUM: {
        char *end = NULL;
        errno = 0;
        double d = strtod(t, &end);
        /* "!(d >= 0)" also refuses NaN. */
        if (!*t || *end || errno || !(d >= 0) || d > 1e12)
            return type_error(c, k, s, v);
        double *dst = field(target, k);
        if (dst)
            *dst = d;
        return 0;
    }
    case KT_ENUM:
    case KT_CHOICE: {
        size_t n = count_values(k->values);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(t, k->values[i]))
                continue;
            if (k->type == KT_CHOICE) {
                set_str(target, k, sm_strdup(t));
            } else {
                int *dst = field(target, k);
                if (dst)
                    *dst = (int)i;
            }
            return 0;
        }
        const char *near = nearest(t, k->values, n);
        if (near)
            return cfg_err(c, v->line, "invalid value '%s' for '%s' (did you mean '%s'?)", t,
                           k->name, near);
        struct sm_buf b = SM_BUF_INIT;
        add_word_list(&b, k->values, n);
        int rc = cfg_err(c, v->line, "invalid value '%s' for '%s': expected %s", t, k->name, b.buf);
        sm_buf_release(&b);
        return rc;
    }
    default:
        SM_BUG("key '%s' has an unhandled type %d", k->name, (int)k->type);
    }
}

/* Apply a key's default, parsed exactly like a value from a file so that the
 * table's defaults are validated by the same code. */
static int set_default(struct ctx *c, const struct section *s, const struct key *k, int line,
                       void *target)
{
    if (k->type == KT_MAP) /* an absent mapping still gets its keys' defaults */
        return fill_section(c, k->sub, NULL, line, target);
    if (!k->def)
        return 0;
    struct node d = {.kind = NODE_SCALAR, .line = line, .text = sm_strdup(k->def)};
    int rc = set_value(c, s, k, &d, target);
    free(d.text);
    return rc;
}

/* Fill target from mapping map (NULL = absent: only defaults) against the
 * keys of s. Keys are checked in file order, so the first error reported is
 * the first one in the file; missing required keys are reported at line,
 * where the mapping starts. target may be NULL to validate only. */
static int fill_section(struct ctx *c, const struct section *s, const struct node *map, int line,
                        void *target)
{
    int seen[MAX_KEYS] = {0}; /* line of the key, 0 = absent */
    bool set[MAX_KEYS] = {0};
    size_t nkeys = 0;
    while (s->keys[nkeys].name)
        nkeys++;
    if (nkeys > MAX_KEYS)
        SM_BUG("section '%s' has more than %d keys", s->name, MAX_KEYS);

    for (size_t i = 0; map && i + 1 < map->nkids; i += 2) {
        const struct node *kn = map->kids[i], *v = map->kids[i + 1];
        if (kn->kind != NODE_SCALAR || kn->is_null)
            return cfg_err(c, kn->line, "expected a plain word as key in %s, got %s", s->name,
                           kn->is_null ? "nothing" : node_what(kn));
        size_t idx = 0;
        while (idx < nkeys && strcmp(s->keys[idx].name, kn->text))
            idx++;
        if (idx == nkeys)
            return unknown_key(c, kn->line, kn->text, s);
        const struct key *k = &s->keys[idx];
        if (seen[idx])
            return cfg_err(c, kn->line, "duplicate key '%s' in %s (first set on line %d)", k->name,
                           s->name, seen[idx]);
        seen[idx] = kn->line;
        if (v->is_null) {
            /* "key:" with nothing after it: absent, unless it must be there. */
            if (k->required)
                return missing_key(c, kn->line, k, s, true);
            continue;
        }
        SM_TRY(set_value(c, s, k, v, target));
        set[idx] = true;
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (set[i])
            continue;
        if (s->keys[i].required)
            return missing_key(c, line, &s->keys[i], s, false);
        SM_TRY(set_default(c, s, &s->keys[i], line, target));
    }
    return s->check && map ? s->check(c, map, line, target) : 0;
}

/* columns: keeps declaration order (the CSV's column order) and accepts both
 * "name: TYPE" and "name: {type: TYPE, nullable: false}". Columns are added
 * to src as they are read so that prj_free() releases a partial list. */
static int fill_columns(struct ctx *c, const struct node *map, struct prj_source *src)
{
    size_t alloc = 0;
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const struct node *kn = map->kids[i], *v = map->kids[i + 1];
        if (kn->kind != NODE_SCALAR || kn->is_null)
            return cfg_err(c, kn->line, "expected a column name, got %s",
                           kn->is_null ? "nothing" : node_what(kn));
        /* DuckDB matches column names case-insensitively. */
        for (size_t j = 0; j < src->ncolumns; j++)
            if (!strcasecmp(src->columns[j].name, kn->text))
                return cfg_err(c, kn->line, "duplicate column '%s' (first on line %d)", kn->text,
                               src->columns[j].line);
        SM_ALLOC_GROW(src->columns, src->ncolumns + 1, alloc);
        struct prj_column *col = &src->columns[src->ncolumns++];
        memset(col, 0, sizeof(*col));
        col->name = sm_strdup(kn->text);
        col->line = kn->line;
        col->nullable = true;
        if (v->kind == NODE_MAP) {
            SM_TRY(fill_section(c, &column_section, v, v->line, col));
        } else if (v->kind == NODE_SCALAR && !v->is_null && *v->text) {
            col->type = sm_strdup(v->text);
        } else {
            return cfg_err(c, v->kind == NODE_SCALAR ? kn->line : v->line,
                           "expected a type (e.g. BIGINT) or a mapping {type: ..., nullable: ...} "
                           "for column '%s', got %s",
                           kn->text, v->kind == NODE_SCALAR ? "nothing" : node_what(v));
        }
    }
    return 0;
}

/* params:, headers: name -> scalar, kept in file order. Values are stored as
 * written (numbers and booleans as their text), references included. */
static int fill_pairs(struct ctx *c, const struct key *k, const struct node *map,
                      struct prj_kvs *out)
{
    struct prj_kvs tmp = {0}, *kv = out ? out : &tmp;
    size_t alloc = 0;
    int rc = 0;
    for (size_t i = 0; i + 1 < map->nkids && !rc; i += 2) {
        const struct node *kn = map->kids[i], *v = map->kids[i + 1];
        if (kn->kind != NODE_SCALAR || kn->is_null || !*kn->text) {
            rc = cfg_err(c, kn->line, "expected a name as key in '%s', got %s", k->name,
                         kn->kind == NODE_SCALAR ? "nothing" : node_what(kn));
            break;
        }
        if (v->kind != NODE_SCALAR) {
            rc = cfg_err(c, v->line, "expected a string for '%s' in '%s', got %s", kn->text,
                         k->name, node_what(v));
            break;
        }
        for (size_t j = 0; j < kv->n && !rc; j++)
            if (!strcmp(kv->items[j].name, kn->text))
                rc = cfg_err(c, kn->line, "duplicate key '%s' in '%s' (first on line %d)", kn->text,
                             k->name, kv->items[j].line);
        if (rc)
            break;
        SM_ALLOC_GROW(kv->items, kv->n + 1, alloc);
        struct prj_kv *e = &kv->items[kv->n++];
        e->name = sm_strdup(kn->text);
        e->value = sm_strdup(v->is_null ? "" : v->text);
        e->line = kn->line;
    }
    if (kv == &tmp)
        prj_kvs_release(&tmp);
    return rc;
}

/* Paths into a JSON response (records, cursor_path, ...): dot-separated
 * keys, optionally after "$" or "$.", and for records a final "[*]". They
 * are stored in that canonical form without "$" and "[*]" ("" is the whole
 * response), so ingest/ only splits on '.'. A key cannot hold '.', '[', ']',
 * quotes or spaces. */
static int json_path(struct ctx *c, const struct node *map, const char *key, bool star,
                     char **field)
{
    if (!*field)
        return 0;
    const struct node *v = map_get(map, key);
    int line = v ? v->line : 0;
    const char *s = *field;
    size_t n = strlen(s);
    if (s[0] == '$') {
        s += s[1] == '.' ? 2 : 1;
        n = strlen(s);
    }
    if (star && n >= 3 && !strcmp(s + n - 3, "[*]"))
        n -= 3;
    bool ok = !(s != *field && n == 0 && !star);
    for (size_t i = 0; i < n && ok; i++) {
        char ch = s[i];
        if (ch == '.')
            ok = i > 0 && i + 1 < n && s[i + 1] != '.';
        else
            ok = !strchr("[]\"' \t*$", ch);
    }
    if (!ok)
        return cfg_err(c, line,
                       "invalid path '%s' for '%s': write keys separated by dots, e.g. "
                       "'data.items'%s",
                       *field, key,
                       star ? ", optionally ending in '[*]', or '$' for the whole response" : "");
    char *canon = sm_strndup(s, n);
    free(*field);
    *field = canon;
    return 0;
}

/* The source's keys that belong to one kind: reject the others' keys, then
 * ask for the keys this kind requires. */
static int check_kind_keys(struct ctx *c, const struct node *map, int line, const char *kind)
{
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const struct node *kn = map->kids[i];
        for (const struct key *k = source_keys; k->name; k++)
            if (!strcmp(k->name, kn->text) && k->only && strcmp(k->only, kind))
                return cfg_err(c, kn->line, "'%s' applies to %s sources, not to kind '%s'", k->name,
                               k->only, kind);
    }
    for (const struct key *k = source_keys; k->name; k++) {
        if (!k->required_kind || strcmp(k->required_kind, kind))
            continue;
        const struct node *v = map_get(map, k->name);
        if (!v || v->is_null)
            return missing_key(c, v ? v->line : line, k, &source_section, v != NULL);
    }
    return 0;
}

/* Check the {field} placeholders of one template (util/tmpl.h) and add
 * their number to *nfields; what names the key in messages. */
static int check_tmpl(struct ctx *c, const char *what, const char *text, int line, size_t *nfields)
{
    struct sm_tmpl t;
    struct sm_err e = SM_ERR_INIT;
    int rc = sm_tmpl_parse(text, &t, &e);
    if (rc)
        rc = cfg_err(c, line, "'%s': %s", what, e.msg);
    else
        *nfields += t.nfields;
    sm_tmpl_release(&t);
    return rc;
}

/* A child endpoint: placeholders and 'parent' go together. */
static int check_child(struct ctx *c, const struct node *map, struct prj_source *src)
{
    struct prj_rest *r = &src->rest;
    const struct node *pn = map_get(map, "parent"), *res = map_get(map, "resource");
    const char *res_key = "resource";
    if (!res || res->is_null) {
        res = map_get(map, "path");
        res_key = "path";
    }
    size_t nfields = 0;
    int first_line = 0;
    if (r->resource) {
        SM_TRY(check_tmpl(c, res_key, r->resource, res ? res->line : 0, &nfields));
        if (nfields)
            first_line = res ? res->line : 0;
    }
    for (size_t i = 0; i < r->params.n; i++) {
        char *what = sm_asprintf("params.%s", r->params.items[i].name);
        size_t before = nfields;
        int rc = check_tmpl(c, what, r->params.items[i].value, r->params.items[i].line, &nfields);
        free(what);
        SM_TRY(rc);
        if (nfields > before && !first_line)
            first_line = r->params.items[i].line;
    }
    if (pn && !pn->is_null)
        r->parent_line = pn->line;
    if (nfields && !r->parent)
        return cfg_err(c, first_line,
                       "a {field} placeholder is filled from the records of a parent source: add "
                       "'parent: <source>' (another REST source of this project), or write '{{' "
                       "for a literal '{'");
    if (r->parent && !nfields)
        return cfg_err(c, r->parent_line,
                       "'parent: %s' is set but neither the path nor 'params' has a {field} "
                       "placeholder to fill from its records, e.g. path: %s/{id}/items",
                       r->parent, r->parent);
    const struct node *inc = map_get(map, "include_from_parent");
    if (r->include_from_parent && !r->parent)
        return cfg_err(c, inc->line, "'include_from_parent' needs 'parent'");
    if (r->parent && r->incremental.cursor_field)
        return cfg_err(c, map_get(map, "incremental")->line,
                       "a child source fans out over the parent records landed since its last "
                       "run, so 'incremental' belongs on the parent '%s'",
                       r->parent);
    for (const char *f = r->include_from_parent; f && *f;) {
        size_t n = strcspn(f, ","), nf = 0;
        char *ph = sm_asprintf("{%.*s}", (int)n, f);
        int rc = check_tmpl(c, "include_from_parent", ph, inc->line, &nf);
        free(ph);
        SM_TRY(rc);
        f += n + (f[n] == ',');
    }
    return 0;
}

static int check_rest(struct ctx *c, const struct node *map, int line, struct prj_source *src)
{
    struct prj_rest *r = &src->rest;
    const struct node *res = map_get(map, "resource"), *path = map_get(map, "path");
    (void)line;
    if (res && !res->is_null && path && !path->is_null)
        return cfg_err(c, path->line,
                       "both 'path' and 'resource' are set: a REST source takes one of them");
    if (path && !path->is_null) {
        /* KT_PATH resolved it as a folder; here it is part of a URL. */
        free(r->resource);
        r->resource = sm_strdup(path->text);
        free(src->path);
        src->path = NULL;
    }
    src->format = PRJ_FMT_JSON;
    if (!strstr(r->base_url, "://") && !sm_starts_with(r->base_url, "${"))
        return cfg_err(c, map_get(map, "base_url")->line,
                       "'base_url' must be a URL starting with http:// or https://, got '%s'",
                       r->base_url);
    if (r->body && !strcmp(r->method, "GET"))
        return cfg_err(c, map_get(map, "body")->line,
                       "'body' is sent only with POST: add 'method: POST' or remove 'body'");
    static const char *const timeouts[] = {"timeout", "connect_timeout"};
    for (size_t i = 0; i < 2; i++) {
        const struct node *v = map_get(map, timeouts[i]);
        if (v && !v->is_null && (i ? r->connect_timeout : r->timeout) == 0)
            return cfg_err(c, v->line, "'%s' must be at least 1 second", timeouts[i]);
    }
    SM_TRY(check_child(c, map, src));
    return json_path(c, map, "records", true, &r->records);
}

/* Separator, quote and escape are single characters to DuckDB (a separator
 * may have up to 4 bytes); null_string and null_strings are one setting. */
static int check_options(struct ctx *c, const struct node *map, int line, void *target)
{
    struct prj_source *src = target;
    static const struct {
        const char *key;
        size_t min, max;
    } lens[] = {{"delimiter", 1, 4}, {"quote", 0, 1}, {"escape", 0, 1}};
    (void)line;
    if (!src)
        return 0;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        const struct node *v = map_get(map, lens[i].key);
        if (!v || v->is_null || v->kind != NODE_SCALAR)
            continue;
        size_t n = strlen(v->text);
        if (n < lens[i].min || n > lens[i].max)
            return cfg_err(c, v->line, "'%s' must be %s, got '%s'", lens[i].key,
                           lens[i].max == 1 ? "one character (or \"\" for none)"
                                            : "1 to 4 characters, e.g. \";\" or \"\\t\"",
                           v->text);
        if (strpbrk(v->text, "\r\n"))
            return cfg_err(c, v->line, "'%s' cannot be a line break", lens[i].key);
    }
    const struct node *one = map_get(map, "null_string"), *many = map_get(map, "null_strings");
    if (one && !one->is_null && many && !many->is_null)
        return cfg_err(c, many->line,
                       "both 'null_string' and 'null_strings' are set: list every text in "
                       "'null_strings'");
    if (src->null_string && !src->null_strings.n) {
        src->null_strings.v = sm_calloc(1, sizeof(char *));
        src->null_strings.v[src->null_strings.n++] = sm_strdup(src->null_string);
    }
    return 0;
}

static bool has_wildcard(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* A path with wildcards, e.g. "incoming/orders_20*", names the folder before
 * the segment of the first wildcard; the rest, joined with an explicit glob, is the pattern. */
static int split_path_glob(struct ctx *c, const struct node *map, struct prj_source *src)
{
    const struct node *pv = map_get(map, "path"), *gv = map_get(map, "glob");
    bool explicit_glob = gv && !gv->is_null;
    if (src->glob && (src->glob[0] == '/' || !*src->glob))
        return cfg_err(c, gv ? gv->line : 0,
                       "'glob' is a pattern relative to 'path', e.g. \"*.csv\" or "
                       "\"**/*.csv.gz\", got '%s'",
                       src->glob);
    if (!pv || pv->is_null || pv->kind != NODE_SCALAR || !has_wildcard(pv->text))
        return 0;
    /* The folder is everything before the segment holding the first wildcard. */
    const char *w = pv->text + strcspn(pv->text, "*?[");
    const char *seg = w;
    while (seg > pv->text && seg[-1] != '/')
        seg--;
    char *dir = sm_strndup(pv->text, (size_t)(seg - pv->text));
    const char *rest = seg;
    char *pat = explicit_glob ? sm_asprintf("%s/%s", rest, src->glob) : sm_strdup(rest);
    free(src->path);
    src->path = resolve_path(c->root, *dir ? dir : ".");
    free(src->glob);
    src->glob = pat;
    free(dir);
    return 0;
}

static int check_source(struct ctx *c, const struct node *map, int line, void *target)
{
    struct prj_source *src = target;
    if (!src)
        return 0;
    SM_TRY(check_kind_keys(c, map, line, src->kind));
    if (!strcmp(src->kind, "rest"))
        return check_rest(c, map, line, src);
    SM_TRY(split_path_glob(c, map, src));
    if (src->format == PRJ_FMT_TSV) {
        const struct node *opts = map_get(map, "options");
        const struct node *d = opts ? map_get(opts, "delimiter") : NULL;
        if (!d || d->is_null) {
            free(src->delimiter);
            src->delimiter = sm_strdup("\t");
        }
    }
    if ((src->format != PRJ_FMT_CSV && src->format != PRJ_FMT_TSV) || src->ncolumns)
        return 0;
    if (c->infer && !strcmp(c->infer, src->name))
        return 0; /* smelt ingest --infer is about to write them */
    const char *fmt = prj_format_name(src->format);
    const struct node *v = map_get(map, "columns");
    if (v && !v->is_null)
        return cfg_err(c, v->line,
                       "'columns' is empty: %s sources need their columns declared; 'smelt "
                       "ingest --infer %s' writes them from the files",
                       fmt, src->name);
    return cfg_err(c, line,
                   "missing required key 'columns' in source (%s sources need their columns "
                   "declared, in file order); 'smelt ingest --infer %s' writes them from the files",
                   fmt, src->name);
}

/* The keys each pagination type needs, and the paths it reads. */
static int check_paginate(struct ctx *c, const struct node *map, int line, void *target)
{
    struct prj_paginate *pg = target ? &((struct prj_source *)target)->rest.paginate : NULL;
    if (!pg)
        return 0;
    if (pg->type == PRJ_PAGE_CURSOR && !pg->cursor_path)
        return cfg_err(c, line,
                       "paginate type 'cursor' needs 'cursor_path': where the next "
                       "cursor is in a response, e.g. 'meta.next_cursor'");
    if (pg->type == PRJ_PAGE_NEXT_URL && !pg->next_url_path)
        return cfg_err(c, line,
                       "paginate type 'next_url' needs 'next_url_path': where the next "
                       "page's URL is in a response, e.g. 'links.next'");
    SM_TRY(json_path(c, map, "cursor_path", false, &pg->cursor_path));
    SM_TRY(json_path(c, map, "next_url_path", false, &pg->next_url_path));
    SM_TRY(json_path(c, map, "has_more_path", false, &pg->has_more_path));
    return json_path(c, map, "total_path", false, &pg->total_path);
}

static int check_auth(struct ctx *c, const struct node *map, int line, void *target)
{
    static const char *const oauth_keys[] = {"token_url", "client_id",    "client_secret",
                                             "scope",     "token_params", "client_auth"};
    const struct prj_auth *a = target ? &((struct prj_source *)target)->rest.auth : NULL;
    if (!a)
        return 0;
    if (a->type == PRJ_AUTH_BEARER && !a->token)
        return cfg_err(c, line,
                       "auth type 'bearer' needs 'token', e.g. token: \"${env:API_TOKEN}\"");
    if (a->type == PRJ_AUTH_BASIC && !a->username)
        return cfg_err(c, line, "auth type 'basic' needs 'username' (and usually 'password')");
    if (a->type == PRJ_AUTH_API_KEY && (!a->name || !a->token))
        return cfg_err(c, line,
                       "auth type 'api_key' needs 'name' (the header or query parameter) and "
                       "'token' (the key), e.g. token: \"${env:API_KEY}\"");
    if (a->type != PRJ_AUTH_OAUTH2_CC) {
        for (size_t i = 0; i < sizeof(oauth_keys) / sizeof(oauth_keys[0]); i++) {
            const struct node *v = map_get(map, oauth_keys[i]);
            if (v)
                return cfg_err(c, v->line,
                               "'%s' applies to auth type 'oauth2_client_credentials' only",
                               oauth_keys[i]);
        }
        return 0;
    }
    static const char *const other_keys[] = {"token", "username", "password", "name", "in"};
    for (size_t i = 0; i < sizeof(other_keys) / sizeof(other_keys[0]); i++) {
        const struct node *v = map_get(map, other_keys[i]);
        if (v)
            return cfg_err(c, v->line,
                           "'%s' does not apply to auth type 'oauth2_client_credentials', which "
                           "gets its token from 'token_url'",
                           other_keys[i]);
    }
    if (!a->token_url || !a->client_id || !a->client_secret)
        return cfg_err(c, line,
                       "auth type 'oauth2_client_credentials' needs 'token_url', 'client_id' and "
                       "'client_secret', e.g. client_secret: \"${secret:api_client_secret}\"");
    if (!strstr(a->client_secret, "${"))
        return cfg_err(c, map_get(map, "client_secret")->line,
                       "'client_secret' is written as a value: store it with 'smelt secrets set "
                       "NAME' and write client_secret: \"${secret:NAME}\" (or \"${env:NAME}\"), so "
                       "it never sits in the project files");
    return 0;
}

static int check_incremental(struct ctx *c, const struct node *map, int line, void *target)
{
    struct prj_incremental *in = target ? &((struct prj_source *)target)->rest.incremental : NULL;
    if (!in)
        return 0;
    if (!in->cursor_field || !in->param)
        return cfg_err(c, line,
                       "'incremental' needs 'cursor_field' (the record field to track) and "
                       "'param' (the query parameter to send it as)");
    return json_path(c, map, "cursor_field", false, &in->cursor_field);
}

/* Load abs (named rel in messages) and fill target from its top mapping. */
static int load_yaml_file(struct ctx *c, const char *abs, const char *rel, const struct section *s,
                          void *target)
{
    struct node *root = NULL;
    c->file = rel;
    SM_TRY(yaml_load(c, abs, &root));
    int rc = 0;
    if (root && root->kind != NODE_MAP) {
        rc = cfg_err(c, root->line, "expected a mapping (key: value lines) at the top, got %s",
                     node_what(root));
        goto out;
    }
    rc = fill_section(c, s, root, root ? root->line : 1, target);
out:
    node_free(root);
    return rc;
}

/* --- walking the project folder ----------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The entries of dir except dotfiles (.gitkeep, editor files), sorted. */
static int list_dir(struct ctx *c, const char *dir, char ***out, size_t *out_n)
{
    DIR *d = opendir(dir);
    if (!d)
        return sm_err_set(c->err, SM_EIO, "cannot open '%s': %s", c->file, strerror(errno));
    char **names = NULL;
    size_t n = 0, alloc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        SM_ALLOC_GROW(names, n + 1, alloc);
        names[n++] = sm_strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    *out = names;
    *out_n = n;
    return 0;
}

static char *stem(const char *file, const char *ext)
{
    return sm_strndup(file, strlen(file) - strlen(ext));
}

static int load_sources(struct ctx *c, struct prj_project *p)
{
    char *dir = sm_path_join(p->root, "sources");
    char **names = NULL;
    size_t n = 0, alloc = 0;
    int rc = 0;
    c->file = "sources";
    if (!sm_path_exists(dir))
        goto out;
    if (!sm_is_dir(dir)) {
        rc = cfg_err(c, 0, "expected a folder of <name>.yml files");
        goto out;
    }
    if ((rc = list_dir(c, dir, &names, &n)))
        goto out;
    for (size_t i = 0; i < n && !rc; i++) {
        char *rel = sm_asprintf("sources/%s", names[i]);
        char *abs = sm_path_join(p->root, rel);
        c->file = rel;
        if (sm_ends_with(names[i], ".yaml")) {
            rc = cfg_err(c, 0, "source files are named <name>.yml: rename it to '%.*s.yml'",
                         (int)(strlen(names[i]) - 5), names[i]);
        } else if (sm_ends_with(names[i], ".yml")) {
            char *name = stem(names[i], ".yml");
            if (!is_ident(name)) {
                rc = cfg_err(c, 0,
                             "invalid source name '%s': it names the table bronze.%s, so use "
                             "lowercase letters, digits and '_', starting with a letter or '_'",
                             name, name);
                free(name);
            } else {
                SM_ALLOC_GROW(p->sources, p->nsources + 1, alloc);
                struct prj_source *s = &p->sources[p->nsources++];
                memset(s, 0, sizeof(*s));
                s->name = name;
                s->file = rel;
                rel = NULL;
                rc = load_yaml_file(c, abs, s->file, &source_section, s);
            }
        }
        c->file = "sources";
        free(rel);
        free(abs);
    }
out:
    free_names(names, n);
    free(dir);
    return rc;
}

/* 'parent:' names another REST source of the project, and following
 * parents never comes back to where it started (the run lands a parent
 * before its children). Checked once every source is loaded. */
static int check_parents(struct ctx *c, const struct prj_project *p)
{
    for (size_t i = 0; i < p->nsources; i++) {
        const struct prj_source *s = &p->sources[i];
        if (!s->rest.parent)
            continue;
        c->file = s->file;
        const struct prj_source *par = prj_find_source(p, s->rest.parent);
        if (!par) {
            const char **names = sm_calloc(p->nsources, sizeof(char *));
            for (size_t j = 0; j < p->nsources; j++)
                names[j] = p->sources[j].name;
            const char *near = nearest(s->rest.parent, names, p->nsources);
            int rc = near ? cfg_err(c, s->rest.parent_line,
                                    "unknown parent '%s': no source 'sources/%s.yml' (did you "
                                    "mean '%s'?)",
                                    s->rest.parent, s->rest.parent, near)
                          : cfg_err(c, s->rest.parent_line,
                                    "unknown parent '%s': no source 'sources/%s.yml' in this "
                                    "project",
                                    s->rest.parent, s->rest.parent);
            free(names);
            return rc;
        }
        if (par == s)
            return cfg_err(c, s->rest.parent_line, "a source cannot be its own parent");
        if (strcmp(par->kind, "rest"))
            return cfg_err(c, s->rest.parent_line,
                           "parent '%s' is a %s source: a parent must be a REST source", par->name,
                           par->kind);
        /* Walk up: at most nsources steps unless there is a cycle. */
        const struct prj_source *up = par;
        for (size_t k = 0; up && up->rest.parent && k <= p->nsources; k++) {
            up = prj_find_source(p, up->rest.parent);
            if (up == s) {
                struct sm_buf b = SM_BUF_INIT;
                (void)sm_buf_adds(&b, s->name);
                for (const struct prj_source *w = par; w; w = prj_find_source(p, w->rest.parent)) {
                    (void)sm_buf_addf(&b, " -> %s", w->name);
                    if (w == s)
                        break;
                }
                int rc = cfg_err(c, s->rest.parent_line,
                                 "the parents of '%s' come back to it (%s): a parent is landed "
                                 "before its children, so parents cannot form a cycle",
                                 s->name, b.buf);
                sm_buf_release(&b);
                return rc;
            }
        }
    }
    return 0;
}

static const char *const zones[] = {"gold", "silver"};

/* Find the end of the last SQL token in s, skipping comments and looking
 * inside quotes only for their end. *out_semi says whether that token is a
 * ';'. Returns false when s has no token at all. */
static bool sql_last_token(const char *s, size_t *out_end, bool *out_semi)
{
    size_t i = 0, end = 0;
    bool any = false, semi = false;
    while (s[i]) {
        if (s[i] == '-' && s[i + 1] == '-') {
            while (s[i] && s[i] != '\n')
                i++;
        } else if (s[i] == '/' && s[i + 1] == '*') {
            const char *close = strstr(s + i + 2, "*/");
            i = close ? (size_t)(close - s) + 2 : strlen(s);
        } else if (s[i] == '\'' || s[i] == '"') {
            char q = s[i++];
            while (s[i] && s[i] != q)
                i++;
            if (s[i])
                i++;
            any = true, semi = false, end = i;
        } else if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' ||
                   s[i] == '\v') {
            i++;
        } else {
            semi = s[i] == ';';
            any = true, end = ++i;
        }
    }
    *out_end = end;
    *out_semi = semi;
    return any;
}

/* Keys that only make sense together, each error at the line of the key
 * that needs the missing one. */
static int check_model(struct ctx *c, const struct node *map, int line, void *target)
{
    struct prj_model *m = target;
    if (!m)
        return 0;
    const struct node *mat = map_get(map, "materialized");
    int at = mat ? mat->line : line;
    const char *st = m->incremental_strategy;
    if (st && m->materialized != PRJ_MAT_INCREMENTAL)
        return cfg_err(c, map_get(map, "incremental_strategy")->line,
                       "'incremental_strategy' applies to incremental models: add "
                       "'materialized: incremental' or remove it");
    if (m->materialized == PRJ_MAT_INCREMENTAL) {
        if (!st)
            m->incremental_strategy =
                sm_strdup(m->unique_key ? "merge" : m->partition_by ? "insert_overwrite" : "append");
        else if (!strcmp(st, "merge") && !m->unique_key)
            return cfg_err(c, map_get(map, "incremental_strategy")->line,
                           "incremental_strategy 'merge' needs 'unique_key': the columns that "
                           "identify a row");
        else if (!strcmp(st, "insert_overwrite") && !m->partition_by)
            return cfg_err(c, map_get(map, "incremental_strategy")->line,
                           "incremental_strategy 'insert_overwrite' needs 'partition_by': the "
                           "column whose partitions are replaced");
    }
    if (m->materialized == PRJ_MAT_SNAPSHOT) {
        if (!m->unique_key)
            return cfg_err(c, at, "a snapshot needs 'unique_key': the columns that identify a row");
        if (!strcmp(m->snapshot_strategy, "check") && !m->check_cols)
            return cfg_err(c, map_get(map, "strategy")->line,
                           "snapshot strategy 'check' needs 'check_cols': the columns to compare, "
                           "or 'all'");
        if (m->partition_by)
            return cfg_err(c, map_get(map, "partition_by")->line,
                           "a snapshot cannot be partitioned: remove 'partition_by'");
    }
    return 0;
}

static int load_model(struct ctx *c, struct prj_project *p, const char *zone, const char *file,
                      size_t *alloc)
{
    char *name = stem(file, ".sql");
    char *rel = sm_asprintf("models/%s/%s", zone, file);
    char *abs = sm_path_join(p->root, rel);
    char *sql = NULL;
    size_t len = 0;
    int rc = 0;
    c->file = rel;
    if (!is_ident(name)) {
        rc = cfg_err(c, 0,
                     "invalid model name '%s': it names the table %s.%s, so use lowercase "
                     "letters, digits and '_', starting with a letter or '_'",
                     name, zone, name);
        goto out;
    }
    SM_ALLOC_GROW(p->models, p->nmodels + 1, *alloc);
    struct prj_model *m = &p->models[p->nmodels++];
    memset(m, 0, sizeof(*m));
    m->zone = sm_strdup(zone);
    m->name = name;
    name = NULL;
    m->sql_file = rel;
    rel = NULL;
    if ((rc = sm_read_file(abs, &sql, &len, c->err)))
        goto out;
    if (strlen(sql) != len) {
        rc = cfg_err(c, 0, "contains a NUL byte: is it a text file?");
        goto out;
    }
    /* Drop trailing ';' (and comments after the last token) so that the
     * SELECT can be embedded in a larger statement. */
    size_t end;
    bool semi;
    while (sql_last_token(sql, &end, &semi) && semi)
        sql[end - 1] = 0;
    if (!sql_last_token(sql, &end, &semi)) {
        rc = cfg_err(c, 1, "model '%s.%s' has no SQL: write one SELECT statement", zone, m->name);
        goto out;
    }
    m->sql = sm_strndup(sql, end);

    /* The optional <name>.yml beside the SQL. */
    char *yml_rel = sm_asprintf("models/%s/%s.yml", zone, m->name);
    char *yml_abs = sm_path_join(p->root, yml_rel);
    if (sm_path_exists(yml_abs)) {
        m->yml_file = yml_rel;
        yml_rel = NULL;
        rc = load_yaml_file(c, yml_abs, m->yml_file, &model_section, m);
    } else {
        rc = fill_section(c, &model_section, NULL, 1, m);
    }
    free(yml_rel);
    free(yml_abs);
out:
    free(sql);
    free(name);
    free(rel);
    free(abs);
    return rc;
}

static int load_zone(struct ctx *c, struct prj_project *p, const char *zone, size_t *alloc)
{
    char *rel_dir = sm_asprintf("models/%s", zone);
    char *dir = sm_path_join(p->root, rel_dir);
    char **names = NULL;
    size_t n = 0;
    c->file = rel_dir;
    int rc = list_dir(c, dir, &names, &n);
    for (size_t i = 0; i < n && !rc; i++) {
        const char *f = names[i];
        char *rel = sm_asprintf("%s/%s", rel_dir, f);
        char *abs = sm_path_join(p->root, rel);
        c->file = rel;
        if (sm_is_dir(abs)) {
            rc = cfg_err(c, 0,
                         "folders inside %s/ are not supported: put the model files "
                         "directly in %s/",
                         rel_dir, rel_dir);
        } else if (sm_ends_with(f, ".yaml")) {
            rc = cfg_err(c, 0, "model files are named <name>.yml: rename it to '%.*s.yml'",
                         (int)(strlen(f) - 5), f);
        } else if (sm_ends_with(f, ".yml")) {
            char *sql = sm_asprintf("%.*s.sql", (int)(strlen(f) - 4), f);
            char *sql_abs = sm_path_join(dir, sql);
            if (!sm_path_exists(sql_abs))
                rc = cfg_err(c, 0,
                             "no '%s' beside it: a model's .yml describes the SELECT in "
                             "%s/%s; create it or remove the .yml",
                             sql, rel_dir, sql);
            free(sql);
            free(sql_abs);
        } else if (sm_ends_with(f, ".sql")) {
            rc = load_model(c, p, zone, f, alloc);
        }
        c->file = rel_dir;
        free(rel);
        free(abs);
    }
    free_names(names, n);
    free(dir);
    free(rel_dir);
    return rc;
}

static int load_models(struct ctx *c, struct prj_project *p)
{
    char *dir = sm_path_join(p->root, "models");
    char **names = NULL;
    size_t n = 0, alloc = 0;
    int rc = 0;
    c->file = "models";
    if (!sm_path_exists(dir))
        goto out;
    if (!sm_is_dir(dir)) {
        rc = cfg_err(c, 0, "expected a folder holding silver/ and gold/");
        goto out;
    }
    if ((rc = list_dir(c, dir, &names, &n)))
        goto out;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *f = names[i];
        char *rel = sm_asprintf("models/%s", f);
        char *abs = sm_path_join(p->root, rel);
        bool zone = false;
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
            zone |= !strcmp(f, zones[z]);
        c->file = rel;
        if (sm_is_dir(abs) && zone) {
            rc = load_zone(c, p, f, &alloc);
        } else if (sm_is_dir(abs)) {
            bool raw = !strcmp(f, "bronze") || !strcmp(f, "landing");
            rc = cfg_err(c, 0,
                         "unknown zone folder '%s': models go in models/silver/ or "
                         "models/gold/%s",
                         f, raw ? " (bronze tables are loaded from sources/*.yml)" : "");
        } else if (sm_ends_with(f, ".sql") || sm_ends_with(f, ".yml")) {
            rc = cfg_err(c, 0,
                         "models live in a zone folder: move it to models/silver/ or "
                         "models/gold/");
        }
        c->file = "models";
        free(rel);
        free(abs);
    }
out:
    free_names(names, n);
    free(dir);
    return rc;
}

/* --- public API ------------------------------------------------------------------ */

int prj_load(const char *dir, struct prj_project **out, struct sm_err *err)
{
    return prj_load_infer(dir, NULL, out, err);
}

int prj_load_infer(const char *dir, const char *source, struct prj_project **out,
                   struct sm_err *err)
{
    struct ctx c = {.err = err, .file = "smelt.yml", .infer = source};
    char *root = realpath(dir, NULL);
    if (!root) {
        if (errno == ENOENT || errno == ENOTDIR)
            return sm_err_set(err, SM_ENOTFOUND,
                              "project folder '%s' does not exist: run 'smelt init NAME' to "
                              "create a project, or pass -C DIR",
                              dir);
        return sm_err_set(err, SM_EIO, "cannot open project folder '%s': %s", dir, strerror(errno));
    }
    struct prj_project *p = sm_calloc(1, sizeof(*p));
    p->root = root;
    c.root = root;
    char *yml = sm_path_join(root, "smelt.yml");
    int rc = 0;
    if (!sm_path_exists(yml)) {
        rc = sm_err_set(err, SM_ENOTFOUND,
                        "no smelt.yml in '%s': run 'smelt init NAME' to create a project, or "
                        "pass -C DIR",
                        dir);
        goto out;
    }
    if ((rc = load_yaml_file(&c, yml, "smelt.yml", &project_section, p)))
        goto out;
    p->state_dir = sm_path_join(root, ".smelt");
    /* Folders are listed sorted and '.' sorts before every character a name
     * may hold, so sources come out sorted by name and models by zone, then
     * name, without sorting again. */
    if ((rc = load_sources(&c, p)) || (rc = check_parents(&c, p)) || (rc = load_models(&c, p)))
        goto out;
out:
    free(yml);
    if (rc) {
        prj_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

static void source_release(struct prj_source *s)
{
    free(s->name);
    free(s->file);
    free(s->kind);
    free(s->path);
    free(s->glob);
    free(s->delimiter);
    free(s->quote);
    free(s->escape);
    free(s->null_string);
    for (size_t i = 0; i < s->null_strings.n; i++)
        free(s->null_strings.v[i]);
    free(s->null_strings.v);
    free(s->date_format);
    free(s->timestamp_format);
    for (size_t i = 0; i < s->ncolumns; i++) {
        free(s->columns[i].name);
        free(s->columns[i].type);
    }
    free(s->columns);
    free(s->schema_drift);
    free(s->description);
    struct prj_rest *r = &s->rest;
    free(r->base_url);
    free(r->resource);
    free(r->method);
    free(r->body);
    prj_kvs_release(&r->params);
    prj_kvs_release(&r->headers);
    free(r->records);
    free(r->paginate.limit_param);
    free(r->paginate.offset_param);
    free(r->paginate.page_param);
    free(r->paginate.cursor_path);
    free(r->paginate.cursor_param);
    free(r->paginate.next_url_path);
    free(r->paginate.has_more_path);
    free(r->paginate.total_path);
    free(r->auth.token);
    free(r->auth.username);
    free(r->auth.password);
    free(r->auth.name);
    free(r->auth.in);
    free(r->auth.token_url);
    free(r->auth.client_id);
    free(r->auth.client_secret);
    free(r->auth.scope);
    prj_kvs_release(&r->auth.token_params);
    free(r->auth.client_auth);
    free(r->parent);
    free(r->include_from_parent);
    free(r->incremental.cursor_field);
    free(r->incremental.param);
}

void prj_kvs_release(struct prj_kvs *kv)
{
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->items[i].name);
        free(kv->items[i].value);
    }
    free(kv->items);
    kv->items = NULL;
    kv->n = 0;
}

const char *prj_kvs_get(const struct prj_kvs *kv, const char *name)
{
    for (size_t i = 0; i < kv->n; i++)
        if (!strcmp(kv->items[i].name, name))
            return kv->items[i].value;
    return NULL;
}

static void model_release(struct prj_model *m)
{
    free(m->zone);
    free(m->name);
    free(m->sql_file);
    free(m->yml_file);
    free(m->sql);
    free(m->partition_by);
    free(m->unique_key);
    free(m->incremental_strategy);
    free(m->snapshot_strategy);
    free(m->updated_at);
    free(m->check_cols);
    free(m->hard_deletes);
    free(m->description);
}

void prj_free(struct prj_project *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nsources; i++)
        source_release(&p->sources[i]);
    free(p->sources);
    for (size_t i = 0; i < p->nmodels; i++)
        model_release(&p->models[i]);
    free(p->models);
    free(p->root);
    free(p->name);
    free(p->lake);
    free(p->state_dir);
    free(p->memory_limit);
    free(p->temp_directory);
    free(p);
}

const struct prj_source *prj_find_source(const struct prj_project *p, const char *name)
{
    for (size_t i = 0; i < p->nsources; i++)
        if (!strcmp(p->sources[i].name, name))
            return &p->sources[i];
    return NULL;
}

const struct prj_model *prj_find_model(const struct prj_project *p, const char *zone,
                                       const char *name)
{
    for (size_t i = 0; i < p->nmodels; i++)
        if (!strcmp(p->models[i].zone, zone) && !strcmp(p->models[i].name, name))
            return &p->models[i];
    return NULL;
}

const char *prj_format_name(enum prj_format f)
{
    if ((size_t)f >= count_values(format_values))
        return "unknown";
    return format_values[f];
}

/* The order the docs present the sections in: each file, then the mappings
 * nested in it. */
static const struct section *const doc_sections[] = {
    &project_section, &defaults_section,    &schedule_section, &notify_section,
    &source_section,  &options_section,     &column_section,   &paginate_section,
    &auth_section,    &incremental_section, &model_section,
};

void prj_print_keys(FILE *out)
{
    for (size_t i = 0; i < sizeof(doc_sections) / sizeof(doc_sections[0]); i++) {
        const struct section *s = doc_sections[i];
        fprintf(out, "### %s\n\n", s->title);
        fprintf(out, "| key | type | required | default | meaning |\n");
        fprintf(out, "|-----|------|----------|---------|---------|\n");
        for (const struct key *k = s->keys; k->name; k++) {
            fprintf(out, "| `%s` | %s", k->name, type_names[k->type].doc);
            for (size_t v = 0; k->values && k->values[v]; v++)
                fprintf(out, "%s`%s`", v ? ", " : " ", k->values[v]);
            if (k->required_kind)
                fprintf(out, " | for `%s` | ", k->required_kind);
            else
                fprintf(out, " | %s | ", k->required ? "yes" : "no");
            if (k->def)
                fprintf(out, "`%s`", k->def);
            fprintf(out, " | %s%s%s%s |\n", k->only ? "*" : "", k->only ? k->only : "",
                    k->only ? " only:* " : "", k->help);
        }
        fprintf(out, "\n");
    }
}

/* --- writing columns (smelt ingest --infer) ----------------------------------------- */

/* Where a top-level key and its value are in a YAML text: byte offsets of
 * the key's first character and of the end of the value's last token, or
 * found false. */
struct key_span {
    bool found;
    size_t key_start, value_end;
    int line;
    bool value_null; /* written with no value, ~ or null */
};

static int find_top_key(struct ctx *c, const char *data, size_t len, const char *key,
                        struct key_span *out)
{
    yaml_parser_t ps;
    yaml_event_t ev;
    memset(out, 0, sizeof(*out));
    if (!yaml_parser_initialize(&ps))
        return sm_err_set(c->err, SM_ENOMEM, "%s: cannot initialize the YAML parser", c->file);
    yaml_parser_set_input_string(&ps, (const unsigned char *)data, len);
    /* level: collections open (1 = inside the top mapping). Block
     * collections end where the next token starts, so only the scalars in
     * a value and the closing brackets of flow collections mark its end. */
    int level = 0, rc = 0;
    bool expect_key = false, capture = false, done = false;
    bool flow[MAX_DEPTH + 2] = {false};
    while (!done) {
        if (!yaml_parser_parse(&ps, &ev)) {
            rc = yaml_error(c, &ps, data, len);
            break;
        }
        yaml_event_type_t t = ev.type;
        bool opens = t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT;
        bool closes = t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT;
        if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            done = true;
        } else if (opens) {
            if (level <= MAX_DEPTH)
                flow[level + 1] = (t == YAML_MAPPING_START_EVENT &&
                                   ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE) ||
                                  (t == YAML_SEQUENCE_START_EVENT &&
                                   ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE);
            level++;
            expect_key = level == 1;
        } else if (closes) {
            if (capture && level >= 2 && level <= MAX_DEPTH + 1 && flow[level])
                out->value_end = ev.end_mark.index;
            level--;
            if (level == 1) { /* a collection value of the top mapping ended */
                expect_key = true;
                done = capture;
            } else if (level == 0) {
                done = true;
            }
        } else if (level == 1 && expect_key && t == YAML_SCALAR_EVENT) {
            if (!strcmp((const char *)ev.data.scalar.value, key)) {
                out->found = true;
                out->key_start = ev.start_mark.index;
                out->line = (int)ev.start_mark.line + 1;
                out->value_end = ev.end_mark.index;
                capture = true;
            }
            expect_key = false;
        } else if (level == 1 && (t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT)) {
            if (capture) { /* a scalar value: the key's whole value */
                if (ev.end_mark.index > out->value_end)
                    out->value_end = ev.end_mark.index;
                out->value_null = t == YAML_SCALAR_EVENT &&
                                  ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                                  plain_null((const char *)ev.data.scalar.value);
                done = true;
            }
            expect_key = true;
        } else if (capture && (t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT)) {
            out->value_end = ev.end_mark.index;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&ps);
    return rc;
}

/* A YAML scalar that reads back as s: plain when nothing in it means
 * something to YAML, else double-quoted. */
static void add_yaml_scalar(struct sm_buf *b, const char *s, bool key)
{
    static const char *const words[] = {"true", "false", "yes", "no",   "on",
                                        "off",  "y",     "n",   "null", "~"};
    bool plain = *s && !strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) && !strstr(s, ": ") &&
                 !strstr(s, " #") && s[strlen(s) - 1] != ':' && s[strlen(s) - 1] != ' ';
    for (const char *p = s; plain && *p; p++)
        if ((unsigned char)*p < 0x20 || (key && strchr(",[]{}", *p)))
            plain = false;
    for (size_t i = 0; plain && i < sizeof(words) / sizeof(words[0]); i++)
        if (!strcasecmp(s, words[i]))
            plain = false;
    if (plain) {
        (void)sm_buf_adds(b, s);
        return;
    }
    (void)sm_buf_addc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            (void)sm_buf_addf(b, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            (void)sm_buf_addf(b, "\\x%02x", (unsigned char)*p);
        else
            (void)sm_buf_addc(b, *p);
    }
    (void)sm_buf_addc(b, '"');
}

/* data with entries ("key: value" lines, each ending in '\n') added to its
 * top-level `options` mapping, ks: appended as a new block when there is
 * none; before the '}' of a flow mapping; else as the first entries of
 * the block mapping, indented as the entry after them. */
static void add_options_text(const char *data, size_t len, const struct key_span *ks,
                             const char *entries, struct sm_buf *out)
{
    if (!ks->found || ks->value_null) {
        size_t from = ks->found ? ks->key_start : len, to = ks->found ? ks->value_end : len;
        (void)sm_buf_add(out, data, from);
        if (from && data[from - 1] != '\n')
            (void)sm_buf_addc(out, '\n');
        (void)sm_buf_adds(out, "options:\n");
        for (const char *e = entries; *e; e = strchr(e, '\n') + 1)
            (void)sm_buf_addf(out, "  %.*s\n", (int)(strchr(e, '\n') - e), e);
        (void)sm_buf_add(out, data + to, len - to);
        return;
    }
    size_t end = ks->value_end;
    if (end && data[end - 1] == '}') { /* flow: {a: 1} */
        size_t k = end - 1, b = k;
        while (b > ks->key_start && strchr(" \t\r\n", data[b - 1]))
            b--;
        (void)sm_buf_add(out, data, k);
        bool first = data[b - 1] == '{';
        for (const char *e = entries; *e; e = strchr(e, '\n') + 1) {
            (void)sm_buf_adds(out, first ? "" : ", ");
            (void)sm_buf_add(out, e, (size_t)(strchr(e, '\n') - e));
            first = false;
        }
        (void)sm_buf_add(out, data + k, len - k);
        return;
    }
    /* block: after the key's line, at the indentation of the next line */
    size_t at = ks->key_start;
    while (at < len && data[at] != '\n')
        at++;
    at += at < len;
    size_t ind = 0;
    for (size_t q = at; q < len;) {
        size_t sp = 0;
        while (q + sp < len && data[q + sp] == ' ')
            sp++;
        if (q + sp < len && data[q + sp] != '\n' && data[q + sp] != '#') {
            ind = sp;
            break;
        }
        while (q < len && data[q] != '\n')
            q++;
        q++;
    }
    (void)sm_buf_add(out, data, at);
    if (at && data[at - 1] != '\n')
        (void)sm_buf_addc(out, '\n');
    for (const char *e = entries; *e; e = strchr(e, '\n') + 1)
        (void)sm_buf_addf(out, "%*s%.*s\n", (int)(ind ? ind : 2), "", (int)(strchr(e, '\n') - e),
                          e);
    (void)sm_buf_add(out, data + at, len - at);
}

int prj_source_write_columns(const struct prj_project *p, const struct prj_source *src,
                             const struct prj_column *cols, size_t n, bool force,
                             const char *date_format, const char *timestamp_format,
                             struct sm_err *err)
{
    const char *fmt_keys[] = {"date_format", "timestamp_format"};
    const char *fmt_values[] = {src->date_format ? NULL : date_format,
                                src->timestamp_format ? NULL : timestamp_format};
    struct sm_buf entries = SM_BUF_INIT, edited = SM_BUF_INIT;
    for (size_t i = 0; i < 2; i++) {
        if (!fmt_values[i])
            continue;
        (void)sm_buf_addf(&entries, "%s: ", fmt_keys[i]);
        add_yaml_scalar(&entries, fmt_values[i], false);
        (void)sm_buf_addc(&entries, '\n');
    }
    struct ctx c = {.root = p->root, .file = src->file, .err = err};
    char *abs = sm_path_join(p->root, src->file);
    char *data = NULL;
    size_t len = 0;
    struct key_span ks;
    struct sm_buf out = SM_BUF_INIT, block = SM_BUF_INIT;
    int rc = sm_read_file(abs, &data, &len, err);
    /* text: the file with the formats added to its options, if any */
    const char *text = data;
    size_t tlen = len;
    if (!rc && entries.len && !(rc = find_top_key(&c, data, len, "options", &ks))) {
        add_options_text(data, len, &ks, entries.buf, &edited);
        text = edited.buf;
        tlen = edited.len;
    }
    if (!rc)
        rc = find_top_key(&c, text, tlen, "columns", &ks);
    if (rc)
        goto out;
    if (ks.found && src->ncolumns && !force) {
        rc = cfg_err(&c, ks.line,
                     "'columns' is already declared: pass --force to replace it with the "
                     "columns the files have");
        goto out;
    }
    (void)sm_buf_adds(&block, "columns:\n");
    for (size_t i = 0; i < n; i++) {
        (void)sm_buf_adds(&block, "  ");
        add_yaml_scalar(&block, cols[i].name, true);
        (void)sm_buf_adds(&block, ": ");
        add_yaml_scalar(&block, cols[i].type, false);
        (void)sm_buf_addc(&block, '\n');
    }
    if (ks.found) {
        /* from the start of the key's line to the end of the value's last line */
        size_t from = ks.key_start, to = ks.value_end;
        while (from > 0 && text[from - 1] != '\n')
            from--;
        while (to < tlen && text[to] != '\n')
            to++;
        if (to < tlen)
            to++;
        (void)sm_buf_add(&out, text, from);
        (void)sm_buf_add(&out, block.buf, block.len);
        (void)sm_buf_add(&out, text + to, tlen - to);
    } else {
        (void)sm_buf_add(&out, text, tlen);
        if (tlen && text[tlen - 1] != '\n')
            (void)sm_buf_addc(&out, '\n');
        (void)sm_buf_add(&out, block.buf, block.len);
    }
    if ((rc = sm_write_file_atomic(abs, out.buf, out.len, err)))
        goto out;
    /* What was written must load, with exactly these columns. */
    struct prj_project *check = NULL;
    struct sm_err e = SM_ERR_INIT;
    rc = prj_load(p->root, &check, &e);
    const struct prj_source *cs = rc ? NULL : prj_find_source(check, src->name);
    bool same = cs && cs->ncolumns == n;
    for (size_t i = 0; same && i < n; i++)
        same = !strcmp(cs->columns[i].name, cols[i].name) &&
               !strcmp(cs->columns[i].type, cols[i].type);
    if (same && fmt_values[0])
        same = cs->date_format && !strcmp(cs->date_format, fmt_values[0]);
    if (same && fmt_values[1])
        same = cs->timestamp_format && !strcmp(cs->timestamp_format, fmt_values[1]);
    prj_free(check);
    if (rc || !same) {
        int wrc = sm_write_file_atomic(abs, data, len, NULL);
        rc = sm_err_set(err, SM_EINTERNAL,
                        "%s: the columns written do not read back (%s); the file was put back%s",
                        src->file, rc ? e.msg : "different columns",
                        wrc ? ", or so it was tried: check it" : "");
    }
out:
    sm_buf_release(&out);
    sm_buf_release(&block);
    sm_buf_release(&entries);
    sm_buf_release(&edited);
    free(data);
    free(abs);
    return rc;
}
