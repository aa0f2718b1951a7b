/*
 * test_project.c — unit tests of project/: each test writes a small project
 * into a fresh mkdtemp folder, loads it with prj_load() and checks either the
 * loaded structs (defaults, order, paths) or the error: its code, and that
 * the message names the right file:line and key.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "project/project.h"

/* --- helpers ------------------------------------------------------------------ */

static int setup(void **state)
{
    char tmpl[] = "/tmp/smelt_test_project_XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    /* prj_load() reports the resolved root: compare against the same. */
    char *root = realpath(tmpl, NULL);
    if (!root)
        return -1;
    *state = root;
    return 0;
}

static int teardown(void **state)
{
    char *root = *state;
    int rc = sm_rmtree(root, NULL);
    free(root);
    return rc ? -1 : 0;
}

/* Write text to root/rel, creating folders as needed. */
static void put(const char *root, const char *rel, const char *text)
{
    char *path = sm_path_join(root, rel);
    char *dir = sm_strdup(path);
    *strrchr(dir, '/') = 0;
    assert_int_equal(sm_mkdirs(dir, NULL), 0);
    assert_int_equal(sm_write_file_atomic(path, text, strlen(text), NULL), 0);
    free(dir);
    free(path);
}

static void mkdir_in(const char *root, const char *rel)
{
    char *path = sm_path_join(root, rel);
    assert_int_equal(sm_mkdirs(path, NULL), 0);
    free(path);
}

/* Absolute path of rel in root; caller frees. */
static char *in_root(const char *root, const char *rel)
{
    return sm_path_join(root, rel);
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                \
            fail_msg("expected \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)");                         \
    } while (0)

/* Load root, which must fail with code; return the message (static buffer).
 * Also checks that *out is left untouched on failure. */
static const char *load_fails(const char *root, int code)
{
    static struct sm_err err;
    struct prj_project *sentinel = (struct prj_project *)&err;
    struct prj_project *p = sentinel;
    sm_err_clear(&err);
    int rc = prj_load(root, &p, &err);
    if (rc != code)
        fail_msg("expected %s, got %s: %s", sm_rc_name(code), sm_rc_name(rc), err.msg);
    assert_int_equal(err.code, code);
    assert_ptr_equal(p, sentinel);
    if (getenv("SHOW_MSG"))
        fprintf(stderr, "  msg: %s\n", err.msg);
    return err.msg;
}

static struct prj_project *load_ok(const char *root)
{
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    int rc = prj_load(root, &p, &err);
    if (rc)
        fail_msg("prj_load failed: %s", err.msg);
    assert_non_null(p);
    return p;
}

static const char *const orders_yml = "kind: files\n"
                                      "path: incoming/orders            # relative to the project\n"
                                      "glob: \"orders_*.csv.gz\"\n"
                                      "format: csv\n"
                                      "options: {header: true, delimiter: \",\", "
                                      "timestamp_format: \"%Y-%m-%d %H:%M:%S\"}\n"
                                      "columns:\n"
                                      "  order_id: BIGINT\n"
                                      "  order_ts: TIMESTAMP\n"
                                      "  customer_id: {type: BIGINT, nullable: false}\n"
                                      "  amount: DECIMAL(12,2)\n"
                                      "schema_drift: evolve\n";

/* --- a whole project ------------------------------------------------------------ */

static void test_full_project(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml",
        "name: shop\n"
        "lake: lake                      # or s3://bucket/prefix\n"
        "defaults:\n"
        "  memory_limit: 4GB\n"
        "  threads: 2\n"
        "  retries: 2\n"
        "schedules:\n"
        "  - name: nightly\n"
        "    cron: \"15 2 * * *\"\n"
        "    select: \"+gold.daily_sales\"\n"
        "notify:\n"
        "  - webhook: https://hooks.example.com/T000/B000\n"
        "    events: [run_failed, check_failed]\n");
    put(root, "sources/orders.yml", orders_yml);
    put(root, "sources/customers.yml",
        "kind: files\npath: /data/customers\nformat: ndjson\ndescription: CRM export\n");
    put(root, "models/silver/orders.sql",
        "SELECT order_id, order_ts, CAST(order_ts AS DATE) AS order_date, customer_id, amount\n"
        "FROM bronze.orders\n"
        "QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _ingested_at DESC) = 1;\n"
        "-- done\n");
    put(root, "models/silver/orders.yml",
        "materialized: incremental        # table (default) | incremental | snapshot\n"
        "unique_key: order_id\n"
        "partition_by: order_date\n"
        "checks:\n"
        "  - not_null: [order_id, order_ts]\n"
        "  - range: {column: amount, min: 0}\n");
    put(root, "models/silver/customers.sql", "select * from bronze.customers\n");
    put(root, "models/gold/daily_sales.sql",
        "SELECT order_date AS day, ';' AS s, sum(amount) AS revenue FROM silver.orders "
        "GROUP BY ALL;;\n");
    put(root, "models/gold/daily_sales.yml",
        "unique_key: [day, s]\ndescription: revenue per day\n");
    put(root, "models/silver/.gitkeep", "");
    put(root, "models/README.md", "notes\n");

    struct prj_project *p = load_ok(root);
    char *lake = in_root(root, "lake"), *tmp = in_root(root, ".smelt/tmp"),
         *st = in_root(root, ".smelt"), *inc = in_root(root, "incoming/orders");
    assert_string_equal(p->root, root);
    assert_string_equal(p->name, "shop");
    assert_string_equal(p->lake, lake);
    assert_string_equal(p->state_dir, st);
    assert_string_equal(p->memory_limit, "4GB");
    assert_int_equal(p->threads, 2);
    assert_int_equal(p->retries, 2);
    assert_string_equal(p->temp_directory, tmp);

    /* Sources, sorted by name. */
    assert_int_equal(p->nsources, 2);
    assert_string_equal(p->sources[0].name, "customers");
    assert_string_equal(p->sources[1].name, "orders");
    const struct prj_source *o = prj_find_source(p, "orders");
    assert_ptr_equal(o, &p->sources[1]);
    assert_null(prj_find_source(p, "nope"));
    assert_string_equal(o->file, "sources/orders.yml");
    assert_string_equal(o->kind, "files");
    assert_string_equal(o->path, inc);
    assert_string_equal(o->glob, "orders_*.csv.gz");
    assert_int_equal(o->format, PRJ_FMT_CSV);
    assert_true(o->header);
    assert_string_equal(o->delimiter, ",");
    assert_string_equal(o->quote, "\"");
    assert_null(o->escape);
    assert_null(o->null_string);
    assert_null(o->date_format);
    assert_string_equal(o->timestamp_format, "%Y-%m-%d %H:%M:%S");
    assert_string_equal(o->schema_drift, "evolve");
    assert_null(o->description);
    /* Columns keep declaration order, both forms. */
    assert_int_equal(o->ncolumns, 4);
    static const char *const names[] = {"order_id", "order_ts", "customer_id", "amount"};
    static const char *const types[] = {"BIGINT", "TIMESTAMP", "BIGINT", "DECIMAL(12,2)"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(o->columns[i].name, names[i]);
        assert_string_equal(o->columns[i].type, types[i]);
        assert_int_equal(o->columns[i].line, 7 + (int)i);
        assert_int_equal(o->columns[i].nullable, i != 2);
    }

    const struct prj_source *cu = &p->sources[0];
    assert_string_equal(cu->path, "/data/customers"); /* absolute paths are kept */
    assert_int_equal(cu->format, PRJ_FMT_NDJSON);
    assert_string_equal(cu->glob, "*");
    assert_int_equal(cu->ncolumns, 0);
    assert_string_equal(cu->description, "CRM export");
    assert_string_equal(cu->delimiter, ",");

    /* Models, sorted by zone then name. */
    assert_int_equal(p->nmodels, 3);
    assert_string_equal(p->models[0].zone, "gold");
    assert_string_equal(p->models[0].name, "daily_sales");
    assert_string_equal(p->models[1].name, "customers");
    assert_string_equal(p->models[2].name, "orders");

    const struct prj_model *m = prj_find_model(p, "silver", "orders");
    assert_ptr_equal(m, &p->models[2]);
    assert_null(prj_find_model(p, "gold", "orders"));
    assert_string_equal(m->sql_file, "models/silver/orders.sql");
    assert_string_equal(m->yml_file, "models/silver/orders.yml");
    assert_int_equal(m->materialized, PRJ_MAT_INCREMENTAL);
    assert_string_equal(m->unique_key, "order_id");
    assert_string_equal(m->partition_by, "order_date");
    assert_true(sm_starts_with(m->sql, "SELECT order_id"));
    assert_true(sm_ends_with(m->sql, "DESC) = 1")); /* ';' and the comment after it dropped */

    const struct prj_model *g = &p->models[0];
    assert_int_equal(g->materialized, PRJ_MAT_TABLE);
    assert_string_equal(g->unique_key, "day,s");
    assert_string_equal(g->description, "revenue per day");
    assert_true(sm_ends_with(g->sql, "GROUP BY ALL")); /* both ';' gone, the quoted one kept */
    assert_non_null(strstr(g->sql, "';' AS s"));

    const struct prj_model *c = &p->models[1];
    assert_null(c->yml_file);
    assert_int_equal(c->materialized, PRJ_MAT_TABLE);
    assert_null(c->unique_key);
    assert_string_equal(c->sql, "select * from bronze.customers");

    free(lake);
    free(tmp);
    free(st);
    free(inc);
    prj_free(p);
}

static void test_minimal_project_defaults(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "# just a name\nname: _tiny_1\n");
    struct prj_project *p = load_ok(root);
    char *lake = in_root(root, "lake"), *tmp = in_root(root, ".smelt/tmp");
    assert_string_equal(p->name, "_tiny_1");
    assert_string_equal(p->lake, lake);
    assert_string_equal(p->memory_limit, "4GB");
    assert_int_equal(p->threads, 0);
    assert_int_equal(p->retries, 0);
    assert_string_equal(p->temp_directory, tmp);
    assert_int_equal(p->nsources, 0);
    assert_int_equal(p->nmodels, 0);
    free(lake);
    free(tmp);
    prj_free(p);
}

static void test_lake_url_and_null_values(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml",
        "name: shop\nlake: s3://bucket/prefix\ndefaults:\n  temp_directory: /var/tmp/x\n"
        "  memory_limit:\n");
    put(root, "sources/events.yml",
        "kind: files\npath: in\nformat: json\nglob:\noptions:\n  header: no\n"
        "  delimiter: \"\\t\"\n  null_string: NA\n");
    struct prj_project *p = load_ok(root);
    assert_string_equal(p->lake, "s3://bucket/prefix");
    assert_string_equal(p->temp_directory, "/var/tmp/x");
    assert_string_equal(p->memory_limit, "4GB"); /* "key:" with no value = default */
    const struct prj_source *s = prj_find_source(p, "events");
    assert_non_null(s);
    assert_string_equal(s->glob, "*");
    assert_false(s->header);
    assert_string_equal(s->delimiter, "\t");
    assert_string_equal(s->null_string, "NA");
    assert_string_equal(prj_format_name(s->format), "json");
    prj_free(p);
}

static void test_sorted_by_name(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    static const char *const srcs[] = {"sources/b.yml", "sources/a_b.yml", "sources/a.yml"};
    for (size_t i = 0; i < 3; i++)
        put(root, srcs[i], "kind: files\npath: in\nformat: parquet\n");
    put(root, "models/silver/z.sql", "SELECT 1");
    put(root, "models/silver/a.sql", "SELECT 2");
    put(root, "models/silver/a0.sql", "SELECT 3");
    put(root, "models/gold/b.sql", "SELECT 4");
    struct prj_project *p = load_ok(root);
    assert_int_equal(p->nsources, 3);
    assert_string_equal(p->sources[0].name, "a");
    assert_string_equal(p->sources[1].name, "a_b");
    assert_string_equal(p->sources[2].name, "b");
    assert_int_equal(p->nmodels, 4);
    static const char *const order[] = {"gold.b", "silver.a", "silver.a0", "silver.z"};
    for (size_t i = 0; i < 4; i++) {
        char *full = sm_asprintf("%s.%s", p->models[i].zone, p->models[i].name);
        assert_string_equal(full, order[i]);
        free(full);
    }
    prj_free(p);
}

/* prj_source_write_columns() with formats: added into an options mapping
 * written in flow style, in block style (at its indentation), or as a new
 * one; a format the source already sets is left alone. */
static void test_write_formats(void **state)
{
    const char *root = *state;
    static const struct {
        const char *before, *after;
    } cases[] = {
        {"kind: files\npath: in\nformat: csv\noptions: {delimiter: \";\"}\n",
         "kind: files\npath: in\nformat: csv\n"
         "options: {delimiter: \";\", date_format: \"%d.%m.%Y\"}\ncolumns:\n  d: DATE\n"},
        {"kind: files\npath: in\nformat: csv\noptions: {}\n",
         "kind: files\npath: in\nformat: csv\noptions: {date_format: \"%d.%m.%Y\"}\n"
         "columns:\n  d: DATE\n"},
        {"kind: files\noptions:   # how\n\n    delimiter: \";\"\npath: in\nformat: csv\n",
         "kind: files\noptions:   # how\n    date_format: \"%d.%m.%Y\"\n\n    delimiter: \";\"\n"
         "path: in\nformat: csv\ncolumns:\n  d: DATE\n"},
        {"kind: files\npath: in\nformat: csv",
         "kind: files\npath: in\nformat: csv\noptions:\n  date_format: \"%d.%m.%Y\"\n"
         "columns:\n  d: DATE\n"},
        {"kind: files\npath: in\nformat: csv\noptions: {date_format: \"%Y/%m/%d\"}\n",
         "kind: files\npath: in\nformat: csv\noptions: {date_format: \"%Y/%m/%d\"}\n"
         "columns:\n  d: DATE\n"},
    };
    struct prj_column col = {.name = (char *)"d", .type = (char *)"DATE"};
    put(root, "smelt.yml", "name: w\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sm_err err = SM_ERR_INIT;
        struct prj_project *p = NULL;
        put(root, "sources/s.yml", cases[i].before);
        assert_int_equal(prj_load_infer(root, "s", &p, &err), 0);
        assert_int_equal(
            prj_source_write_columns(p, prj_find_source(p, "s"), &col, 1, false, "%d.%m.%Y", NULL,
                                     &err),
            0);
        prj_free(p);
        char *path = sm_path_join(root, "sources/s.yml"), *text = NULL;
        size_t len = 0;
        assert_int_equal(sm_read_file(path, &text, &len, NULL), 0);
        assert_string_equal(text, cases[i].after);
        free(text);
        free(path);
    }
}

/* prj_source_write_columns(): names and types that mean something to YAML
 * are quoted, so that each reads back as written; the rest of the file
 * stays as it was, a block in the middle is replaced in place. */
static void test_write_columns(void **state)
{
    const char *root = *state;
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    put(root, "smelt.yml", "name: w\n");
    put(root, "sources/s.yml",
        "# head\nkind: files # inline\npath: in\nformat: ndjson\n"
        "columns:\n  old: INTEGER   # old one\n\n  gone: DATE\n"
        "# after\ndescription: x\n");
    assert_int_equal(prj_load(root, &p, &err), 0);
    struct prj_column cols[] = {
        {.name = (char *)"a: b", .type = (char *)"VARCHAR"},
        {.name = (char *)"yes", .type = (char *)"BOOLEAN"},
        {.name = (char *)"#hash", .type = (char *)"DECIMAL(10,2)"},
        {.name = (char *)"quote\"d", .type = (char *)"TIMESTAMP WITH TIME ZONE"},
        {.name = (char *)"-dash", .type = (char *)"BIGINT"},
    };
    size_t n = sizeof(cols) / sizeof(cols[0]);
    const struct prj_source *src = prj_find_source(p, "s");
    assert_int_equal(prj_source_write_columns(p, src, cols, n, false, NULL, NULL, &err), SM_ECONFIG);
    assert_non_null(strstr(err.msg, "sources/s.yml:5: 'columns' is already declared"));
    sm_err_clear(&err);
    assert_int_equal(prj_source_write_columns(p, src, cols, n, true, NULL, "%m/%d/%Y %H:%M", &err), 0);
    prj_free(p);
    p = NULL;
    char *path = sm_path_join(root, "sources/s.yml"), *text = NULL;
    size_t len = 0;
    assert_int_equal(sm_read_file(path, &text, &len, NULL), 0);
    assert_string_equal(text, "# head\nkind: files # inline\npath: in\nformat: ndjson\n"
                              "columns:\n  \"a: b\": VARCHAR\n  \"yes\": BOOLEAN\n"
                              "  \"#hash\": DECIMAL(10,2)\n  quote\"d: TIMESTAMP WITH TIME ZONE\n"
                              "  \"-dash\": BIGINT\n# after\ndescription: x\n"
                              "options:\n  timestamp_format: \"%m/%d/%Y %H:%M\"\n");
    free(text);
    free(path);
    assert_int_equal(prj_load(root, &p, &err), 0);
    src = prj_find_source(p, "s");
    assert_int_equal(src->ncolumns, n);
    assert_null(src->date_format);
    assert_string_equal(src->timestamp_format, "%m/%d/%Y %H:%M");
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(src->columns[i].name, cols[i].name);
        assert_string_equal(src->columns[i].type, cols[i].type);
    }
    prj_free(p);
}

static void test_free_null(void **state)
{
    (void)state;
    prj_free(NULL);
    assert_string_equal(prj_format_name(PRJ_FMT_PARQUET), "parquet");
    assert_string_equal(prj_format_name(PRJ_FMT_CSV), "csv");
}

/* --- errors: finding the project ----------------------------------------------- */

static void test_missing_smelt_yml(void **state)
{
    const char *root = *state;
    const char *msg = load_fails(root, SM_ENOTFOUND);
    assert_contains(msg, "no smelt.yml in '");
    assert_contains(msg, "smelt init NAME");
    assert_contains(msg, "-C DIR");

    char *gone = in_root(root, "does-not-exist");
    msg = load_fails(gone, SM_ENOTFOUND);
    assert_contains(msg, "does-not-exist");
    free(gone);
}

/* --- errors: YAML itself ---------------------------------------------------------- */

static void test_yaml_syntax_error(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\nlake: a: b\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:2: ");
    assert_contains(msg, "mapping values are not allowed");
}

static void test_yaml_tab_hint(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\ndefaults:\n\tthreads: 2\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:3: ");
    assert_contains(msg, "tabs");
}

static void test_yaml_top_not_mapping(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "\n- name\n- shop\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:2: expected a mapping");
    assert_contains(msg, "got a list");
}

static void test_yaml_second_document(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n---\nname: other\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:2: ");
    assert_contains(msg, "second YAML document");
}

static void test_yaml_recursive_alias(void **state)
{
    const char *root = *state;
    /* Either libyaml refuses the alias or our depth limit stops it; it must
     * not recurse forever. */
    put(root, "smelt.yml", "name: shop\nschedules: &s\n  - *s\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:");
}

/* --- errors: keys and values -------------------------------------------------------- */

static void test_unknown_key_did_you_mean(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml",
        "kind: files\npath: in\nformat: csv\noptions:\n  delimter: \";\"\n"
        "columns: {a: INT}\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:5: unknown key 'delimter' in options (did you mean "
                         "'delimiter'?)");
}

static void test_unknown_key_lists_valid_keys(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\nowner: data team\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:2: unknown key 'owner' in project");
    assert_contains(msg, "valid keys:");
    assert_contains(msg, "'lake'");
    assert_contains(msg, "'notify'");
    assert_null(strstr(msg, "did you mean"));
}

static void test_unknown_key_in_model_yml(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "models/silver/orders.sql", "SELECT 1 AS x\n");
    put(root, "models/silver/orders.yml", "materialized: table\npartition: x\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/silver/orders.yml:2: unknown key 'partition' in model "
                         "(did you mean 'partition_by'?)");
}

static void test_wrong_type_int(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\ndefaults:\n  threads: many\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:3: ");
    assert_contains(msg, "'threads'");
    assert_contains(msg, "whole number");
    assert_contains(msg, "'many'");
}

static void test_wrong_type_negative_int(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\ndefaults: {retries: -1}\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:2: ");
    assert_contains(msg, "'retries'");
}

static void test_wrong_type_list_for_scalar(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml",
        "kind: files\npath: in\nformat: parquet\nglob:\n  - a*\n  - b*\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg,
                    "sources/orders.yml:5: expected a string for 'glob' in source, got a list");
}

static void test_wrong_type_bool(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml",
        "kind: files\npath: in\nformat: csv\noptions:\n  header: maybe\ncolumns: {a: INT}\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:5: expected true or false for 'header'");
}

static void test_wrong_type_mapping_for_defaults(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\ndefaults: fast\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:2: expected a mapping");
    assert_contains(msg, "'defaults'");
}

static void test_missing_required_key(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml", "kind: files\npath: in\ncolumns: {a: INT}\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:1: missing required key 'format'");
}

static void test_missing_project_name(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:1: missing required key 'name'");
}

static void test_required_key_without_value(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml", "kind: files\npath: in\nformat:\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:3: required key 'format'");
    assert_contains(msg, "no value");
}

static void test_duplicate_key(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\nlake: a\nlake: b\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:3: duplicate key 'lake'");
    assert_contains(msg, "line 2");
}

static void test_duplicate_column(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml",
        "kind: files\npath: in\nformat: csv\ncolumns:\n  id: INT\n  ID: BIGINT\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:6: duplicate column 'ID'");
}

static void test_column_long_form_errors(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml",
        "kind: files\npath: in\nformat: csv\ncolumns:\n  id: INT\n"
        "  amount: {type: DOUBLE, nulable: false}\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:6: unknown key 'nulable' in column "
                         "(did you mean 'nullable'?)");

    put(root, "sources/orders.yml",
        "kind: files\npath: in\nformat: csv\ncolumns:\n  id: INT\n  amount:\n"
        "    nullable: false\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:7: missing required key 'type' in column");

    put(root, "sources/orders.yml", "kind: files\npath: in\nformat: csv\ncolumns:\n  id: [INT]\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:5: expected a type");
    assert_contains(msg, "column 'id'");
}

static void test_csv_needs_columns(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml", "# orders\nkind: files\npath: in\nformat: csv\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:2: missing required key 'columns'");
    assert_contains(msg, "csv");
}

static void test_bad_enum_value(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml", "kind: files\npath: in\nformat: xml\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:3: invalid value 'xml' for 'format'");
    assert_contains(msg, "'csv', 'ndjson', 'json', 'parquet' or 'tsv'");

    put(root, "sources/orders.yml", "kind: files\npath: in\nformat: parqet\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:3: invalid value 'parqet' for 'format' "
                         "(did you mean 'parquet'?)");
}

static void test_bad_schema_drift_and_materialized(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/orders.yml",
        "kind: files\npath: in\nformat: ndjson\nschema_drift: ignore\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/orders.yml:4: invalid value 'ignore' for 'schema_drift'");

    put(root, "sources/orders.yml", "kind: files\npath: in\nformat: ndjson\n");
    put(root, "models/gold/x.sql", "SELECT 1\n");
    put(root, "models/gold/x.yml", "materialized: ephemeral\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/gold/x.yml:1: invalid value 'ephemeral' for 'materialized'");

    /* keys that need each other, at the line of the key that needs one */
    put(root, "models/gold/x.yml", "materialized: incremental\nincremental_strategy: merge\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/gold/x.yml:2: incremental_strategy 'merge' needs 'unique_key'");
    put(root, "models/gold/x.yml", "materialized: incremental\nincremental_strategy: insert_overwrite\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/gold/x.yml:2: incremental_strategy 'insert_overwrite' needs "
                         "'partition_by'");
    put(root, "models/gold/x.yml", "unique_key: id\nincremental_strategy: merge\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/gold/x.yml:2: 'incremental_strategy' applies to incremental models");
    put(root, "models/gold/x.yml", "materialized: snapshot\nunique_key: id\nstrategy: check\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/gold/x.yml:3: snapshot strategy 'check' needs 'check_cols'");
    put(root, "models/gold/x.yml", "materialized: snapshot\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/gold/x.yml:1: a snapshot needs 'unique_key'");

    /* the strategy defaults from the keys present */
    struct prj_project *p = NULL;
    put(root, "models/gold/x.yml", "materialized: incremental\npartition_by: day\n");
    assert_int_equal(prj_load(root, &p, NULL), 0);
    assert_string_equal(p->models[0].incremental_strategy, "insert_overwrite");
    prj_free(p);
    put(root, "models/gold/x.yml", "materialized: incremental\npartition_by: day\nunique_key: [a, b]\n");
    assert_int_equal(prj_load(root, &p, NULL), 0);
    assert_string_equal(p->models[0].incremental_strategy, "merge");
    assert_string_equal(p->models[0].unique_key, "a,b");
    prj_free(p);
}

static void test_rest_source(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    /* DESIGN.md §7's example, plus the keys it leaves to their defaults. */
    put(root, "sources/tickets.yml",
        "kind: rest\n"
        "base_url: https://api.example.com/v2\n"
        "resource: tickets\n"
        "params: {per_page: 100, state: open}\n"
        "headers: {X-Trace: \"${env:TRACE}\"}\n"
        "auth: {type: bearer, token: \"${secret:support_api_token}\"}\n"
        "paginate: {type: cursor, cursor_path: meta.next_cursor, cursor_param: cursor}\n"
        "records: data[*]\n"
        "incremental: {cursor_field: updated_at, param: updated_since, lookback: 60}\n"
        "rate_limit: 0.5\n");
    put(root, "sources/plain.yml", "kind: rest\nbase_url: http://127.0.0.1:8080\npath: /v1/x\n");
    struct prj_project *p = load_ok(root);
    const struct prj_source *t = prj_find_source(p, "tickets");
    assert_non_null(t);
    assert_string_equal(t->kind, "rest");
    assert_null(t->path);
    assert_int_equal(t->format, PRJ_FMT_JSON);
    const struct prj_rest *r = &t->rest;
    assert_string_equal(r->base_url, "https://api.example.com/v2");
    assert_string_equal(r->resource, "tickets");
    assert_string_equal(r->method, "GET");
    assert_null(r->body);
    assert_int_equal(r->params.n, 2);
    assert_string_equal(r->params.items[0].name, "per_page");
    assert_string_equal(r->params.items[0].value, "100");
    assert_string_equal(prj_kvs_get(&r->params, "state"), "open");
    assert_null(prj_kvs_get(&r->params, "nope"));
    /* Templates stay as written: resolved only when a request is made. */
    assert_string_equal(prj_kvs_get(&r->headers, "X-Trace"), "${env:TRACE}");
    assert_int_equal(r->auth.type, PRJ_AUTH_BEARER);
    assert_string_equal(r->auth.token, "${secret:support_api_token}");
    assert_string_equal(r->auth.in, "header");
    assert_int_equal(r->paginate.type, PRJ_PAGE_CURSOR);
    assert_string_equal(r->paginate.cursor_path, "meta.next_cursor");
    assert_string_equal(r->paginate.cursor_param, "cursor");
    assert_true(r->paginate.stop_on_empty);
    assert_int_equal(r->paginate.max_pages, 0);
    assert_string_equal(r->records, "data"); /* canonical: no "$", no "[*]" */
    assert_string_equal(r->incremental.cursor_field, "updated_at");
    assert_string_equal(r->incremental.param, "updated_since");
    assert_int_equal(r->incremental.lookback, 60);
    assert_int_equal(r->timeout, 30);
    assert_int_equal(r->connect_timeout, 10);
    assert_int_equal(r->retries, 5);
    assert_true(r->rate_limit > 0.49 && r->rate_limit < 0.51);

    const struct prj_source *pl = prj_find_source(p, "plain");
    assert_null(pl->path);                           /* not resolved as a folder */
    assert_string_equal(pl->rest.resource, "/v1/x"); /* 'path' is the resource */
    assert_int_equal(pl->rest.paginate.type, PRJ_PAGE_NONE);
    assert_int_equal(pl->rest.auth.type, PRJ_AUTH_NONE);
    assert_null(pl->rest.records);
    assert_null(pl->rest.incremental.cursor_field);
    prj_free(p);
}

static void test_rest_source_errors(void **state)
{
    const char *root = *state;
    static const struct {
        const char *yml, *msg;
    } cases[] = {
        {"kind: rest\nresource: x\n", "sources/s.yml:1: missing required key 'base_url' in source"},
        {"kind: rest\nbase_url: http://h\nglob: \"*.json\"\n",
         "sources/s.yml:3: 'glob' applies to files sources, not to kind 'rest'"},
        {"kind: files\npath: in\nformat: json\nbase_url: http://h\n",
         "sources/s.yml:4: 'base_url' applies to rest sources, not to kind 'files'"},
        {"kind: files\nformat: json\n", "sources/s.yml:1: missing required key 'path' in source"},
        {"kind: files\npath: in\n", "sources/s.yml:1: missing required key 'format' in source"},
        {"kind: rest\nbase_url: http://h\npath: a\nresource: b\n",
         "sources/s.yml:3: both 'path' and 'resource' are set"},
        {"kind: rest\nbase_url: api.example.com\n",
         "sources/s.yml:2: 'base_url' must be a URL starting with http:// or https://"},
        {"kind: rest\nbase_url: http://h\nmethod: PUT\n",
         "sources/s.yml:3: invalid value 'PUT' for 'method'"},
        {"kind: rest\nbase_url: http://h\nbody: '{}'\n",
         "sources/s.yml:3: 'body' is sent only with POST"},
        {"kind: rest\nbase_url: http://h\nparams: {a: [1, 2]}\n",
         "sources/s.yml:3: expected a string for 'a' in 'params', got a list"},
        {"kind: rest\nbase_url: http://h\nparams: {a: 1, a: 2}\n",
         "sources/s.yml:3: duplicate key 'a' in 'params'"},
        {"kind: rest\nbase_url: http://h\nrecords: data[0]\n",
         "sources/s.yml:3: invalid path 'data[0]' for 'records'"},
        {"kind: rest\nbase_url: http://h\npaginate: {type: cursor}\n",
         "sources/s.yml:3: paginate type 'cursor' needs 'cursor_path'"},
        {"kind: rest\nbase_url: http://h\npaginate:\n  type: next_url\n",
         "sources/s.yml:4: paginate type 'next_url' needs 'next_url_path'"},
        {"kind: rest\nbase_url: http://h\npaginate: {type: pages}\n",
         "sources/s.yml:3: invalid value 'pages' for 'type' (did you mean 'page'?)"},
        {"kind: rest\nbase_url: http://h\npaginate: {limt: 5}\n",
         "sources/s.yml:3: unknown key 'limt' in paginate (did you mean 'limit'?)"},
        {"kind: rest\nbase_url: http://h\nauth: {type: bearer}\n",
         "sources/s.yml:3: auth type 'bearer' needs 'token'"},
        {"kind: rest\nbase_url: http://h\nauth: {type: api_key, token: x}\n",
         "sources/s.yml:3: auth type 'api_key' needs 'name'"},
        {"kind: rest\nbase_url: http://h\nauth: {type: api_key, name: k, token: x, in: body}\n",
         "sources/s.yml:3: invalid value 'body' for 'in'"},
        {"kind: rest\nbase_url: http://h\nincremental: {cursor_field: updated_at}\n",
         "sources/s.yml:3: 'incremental' needs 'cursor_field'"},
        {"kind: rest\nbase_url: http://h\ntimeout: 0\n",
         "sources/s.yml:3: 'timeout' must be at least 1 second"},
        {"kind: rest\nbase_url: http://h\nrate_limit: fast\n",
         "sources/s.yml:3: expected a number >= 0 for 'rate_limit' in source, got 'fast'"},
    };
    put(root, "smelt.yml", "name: shop\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put(root, "sources/s.yml", cases[i].yml);
        const char *msg = load_fails(root, SM_ECONFIG);
        assert_contains(msg, cases[i].msg);
    }
}

static void test_invalid_names(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: My-Shop\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:1: invalid name 'My-Shop'");

    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/Orders.yml", "kind: files\npath: in\nformat: ndjson\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "sources/Orders.yml: invalid source name 'Orders'");
}

static void test_schedule_and_notify_validated(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\nschedules:\n  - name: nightly\n    select: x\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:3: missing required key 'cron' in schedules");

    put(root, "smelt.yml", "name: shop\nnotify:\n  - events: [run_failed]\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:3: notify entry needs one of 'webhook', 'command' or 'file'");

    put(root, "smelt.yml", "name: shop\nschedules: nightly\n");
    msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "smelt.yml:2: expected a list of mappings");
}

/* --- errors: the models folder ------------------------------------------------------- */

static void test_yml_without_sql(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "models/silver/orders.yml", "materialized: table\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/silver/orders.yml: ");
    assert_contains(msg, "no 'orders.sql' beside it");
}

static void test_unknown_zone_folder(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "models/bronze/orders.sql", "SELECT 1\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/bronze: unknown zone folder 'bronze'");
    assert_contains(msg, "models/silver/");
    assert_contains(msg, "models/gold/");
}

static void test_model_outside_zone(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    mkdir_in(root, "models/silver");
    put(root, "models/orders.sql", "SELECT 1\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/orders.sql: ");
    assert_contains(msg, "zone folder");
}

static void test_empty_sql(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "models/gold/empty.sql", "-- nothing here\n/* still\n nothing */\n  ;\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/gold/empty.sql:1: model 'gold.empty' has no SQL");
}

static void test_invalid_model_name(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "models/silver/daily-sales.sql", "SELECT 1\n");
    const char *msg = load_fails(root, SM_ECONFIG);
    assert_contains(msg, "models/silver/daily-sales.sql: invalid model name 'daily-sales'");
}

/* --- docs ------------------------------------------------------------------------------ */

static void test_print_keys(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    prj_print_keys(f);
    fclose(f);
    assert_contains(buf, "### `smelt.yml`");
    assert_contains(buf, "| `name` | name | yes |  |");
    assert_contains(buf, "| `memory_limit` | string | no | `4GB` |");
    assert_contains(buf, "| `threads` | integer | no | `0` |");
    assert_contains(buf, "### `sources/<name>.yml`");
    assert_contains(buf, "| `format` | one of `csv`, `ndjson`, `json`, `parquet`, `tsv` | for `files` |");
    assert_contains(buf, "| `base_url` | string | for `rest` |  | *rest only:* ");
    assert_contains(buf, "### `paginate:` in a REST source");
    assert_contains(buf, "| `stop_on_empty` | boolean | no | `true` |");
    assert_contains(buf, "`timestamp_format`");
    assert_contains(buf,
                    "| `schema_drift` | one of `evolve`, `fail`, `quarantine` | no | `evolve`");
    assert_contains(buf, "### `models/<zone>/<name>.yml`");
    assert_contains(buf, "| `materialized` | one of `table`, `view`, `incremental`, `snapshot` | no | `table`");
    free(buf);
}

static void test_files_source_shapes(void **state)
{
    const char *root = *state;
    put(root, "smelt.yml", "name: shop\n");
    put(root, "sources/a.yml",
        "kind: files\npath: in/orders/**\nglob: \"*.csv.gz\"\nformat: tsv\n"
        "options: {null_strings: [\"\", NA]}\ncolumns: {x: INTEGER}\n");
    put(root, "sources/b.yml",
        "kind: files\npath: in/x/20*/*.csv\nformat: csv\noptions: {null_string: \"-\", "
        "delimiter: \";\"}\ncolumns: {x: INTEGER}\n");
    struct prj_project *p = load_ok(root);
    const struct prj_source *a = prj_find_source(p, "a"), *b = prj_find_source(p, "b");
    char *dir = sm_path_join(root, "in/orders/");
    assert_string_equal(a->path, dir);
    free(dir);
    assert_string_equal(a->glob, "**/*.csv.gz");
    assert_int_equal(a->format, PRJ_FMT_TSV);
    assert_string_equal(a->delimiter, "\t"); /* tsv's default */
    assert_int_equal(a->null_strings.n, 2);
    assert_string_equal(a->null_strings.v[0], "");
    assert_string_equal(a->null_strings.v[1], "NA");
    assert_string_equal(b->glob, "20*/*.csv");
    assert_string_equal(b->delimiter, ";");
    assert_int_equal(b->null_strings.n, 1); /* null_string is a list of one */
    assert_string_equal(b->null_strings.v[0], "-");
    prj_free(p);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_full_project),
        T(test_files_source_shapes),
        T(test_minimal_project_defaults),
        T(test_lake_url_and_null_values),
        T(test_sorted_by_name),
        T(test_free_null),
        T(test_write_formats),
        T(test_write_columns),
        T(test_missing_smelt_yml),
        T(test_yaml_syntax_error),
        T(test_yaml_tab_hint),
        T(test_yaml_top_not_mapping),
        T(test_yaml_second_document),
        T(test_yaml_recursive_alias),
        T(test_unknown_key_did_you_mean),
        T(test_unknown_key_lists_valid_keys),
        T(test_unknown_key_in_model_yml),
        T(test_wrong_type_int),
        T(test_wrong_type_negative_int),
        T(test_wrong_type_list_for_scalar),
        T(test_wrong_type_bool),
        T(test_wrong_type_mapping_for_defaults),
        T(test_missing_required_key),
        T(test_missing_project_name),
        T(test_required_key_without_value),
        T(test_duplicate_key),
        T(test_duplicate_column),
        T(test_column_long_form_errors),
        T(test_csv_needs_columns),
        T(test_bad_enum_value),
        T(test_bad_schema_drift_and_materialized),
        T(test_rest_source),
        T(test_rest_source_errors),
        T(test_invalid_names),
        T(test_schedule_and_notify_validated),
        T(test_yml_without_sql),
        T(test_unknown_zone_folder),
        T(test_model_outside_zone),
        T(test_empty_sql),
        T(test_invalid_model_name),
        T(test_print_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
