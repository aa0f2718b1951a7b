/*
 * rest.c — REST sources (kind: rest): an HTTP JSON API fetched page by page
 * into the landing zone, and the landed pages loaded into bronze. ingest.c
 * hands rest sources here from ing_land() and ing_load_bronze(), so the run
 * sees the same two tasks for every kind of source.
 *
 * Landing. One run of a source is one batch: every page fetched is written,
 * untouched and before anything parses it, to
 *     <lake>/landing/<src>/<yyyy>/<mm>/<dd>/<batch_id>/page-NNNNN.json
 * (created in place in the run's own batch folder), checked and read by one
 * pass of util/jscan for what pagination and the watermark need (the next
 * cursor or URL, has_more, total, the number of records, the highest
 * incremental cursor value, the records' keys), synced by a pool of
 * threads, and recorded in state.db in page order (see land_queue and
 * docs/internals/state.md for what its orig_path carries). A crash before
 * the record leaves an unrecorded file that nothing loads, and the page is
 * fetched again by the next run because the watermark only moves once
 * every page of a run has landed. A page whose bytes were landed before
 * (same sha256) is not landed again. The batch's _manifest.json (URL
 * without secrets, status, kept headers, size, sha256, time) is rewritten
 * at most once a second and at the end. A page that is not JSON is still
 * landed (bronze quarantines it as a file) and ends the run's pagination
 * with an error unless the next page can be asked for without reading it
 * (offset with a limit, page numbers, Link headers).
 *
 * Child endpoints (parent:) fan out over the records of the parent's pages
 * landed since their last run: one endpoint, paginated like any, per
 * distinct parent key, with the key in each page's record; a 404 for one
 * parent is landed and quarantined rather than fatal.
 *
 * OAuth 2.0 client credentials: the token is fetched (util/oauth.c) when
 * the first request needs it, kept in memory for the run, replaced before
 * it expires and once when a request gets 401.
 *
 * Bronze. When every page was checked as JSON on landing and its records
 * are objects, DuckDB reads the pages whole with types inferred from a
 * sample (checked against the keys the landing noted), lazily, as a view
 * the bronze commit reads once (stage_fast). Otherwise, or when a page
 * beyond the sample does not fit, the general path: DuckDB reads the
 * landed pages (read_text), extracts the records with its JSON functions
 * at the configured path, and types them: declared columns by TRY_CAST, a
 * record that does not cast going to quarantine with its JSON text;
 * otherwise by read_json's own inference over the extracted records. Rows
 * carry _batch_id, _source_file, _ingested_at and _source_url (and a
 * child's parent columns); the times are per batch, from struct ing_times,
 * so a rebuild keeps them. ing_load_bronze() commits them with the same
 * exactly-once txn marker as file sources. overlap.c reads pages by the
 * fast path (ing_rest_plan_*) while later ones are still landing.
 *
 * Secrets. Every string of the source is a template resolved here, at the
 * moment of use (sec_resolve: ${env:NAME}, ${secret:NAME}). Resolved values
 * live in struct rest only and are wiped when it is released. URLs are shown
 * (logs, errors, manifests, state.db, bronze) only after
 * sm_http_url_redact(): without user info, and with every query parameter
 * that carries a secret set to REDACTED; logs and errors drop the query
 * string altogether when one of its parameters is a secret.
 */
#include "ingest_int.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

#include "secrets/secrets.h"
#include "table/table.h"
#include "util/http.h"
#include "util/jscan.h"
#include "util/tmpl.h"

/* --- templates and secrets -------------------------------------------------- */

/* ${secret:NAME}: read the encrypted value from state.db and decrypt it
 * with the project's master key, at the moment of use. */
static int lookup_secret(void *ctx, const char *name, char **out_value, struct sm_err *err);

/* Does the template carry a reference (so that its value must not be
 * shown)? "$${" is a literal, but treating it as secret only hides more. */
static bool is_template(const char *s)
{
    return s && strstr(s, "${");
}

/* --- the state of one run of a source ----------------------------------------- */

/* A path or parameter value with {field} placeholders (util/tmpl.h): the
 * template, and each literal part resolved (${...}) once per run. */
struct filled {
    struct sm_tmpl t;
    char **lit; /* per part: the resolved literal (may be a secret), NULL for a field */
};

struct syncpool;
static void pool_free(struct syncpool *sp);

/* Keys listed for the page lately, in slots by a hash of their length and
 * ends: the records of a page mostly have the keys of the record before,
 * and a key found here costs a compare instead of a map lookup. */
enum { KEY_CACHE = 64 };
struct key_cache {
    char *key[KEY_CACHE];
    size_t len[KEY_CACHE];
};

static void key_cache_clear(struct key_cache *kc)
{
    for (size_t i = 0; i < KEY_CACHE; i++) {
        free(kc->key[i]);
        kc->key[i] = NULL;
    }
}

/* The fields a child source reads from each parent record. */
struct parent_field {
    char *path;   /* in the parent record, e.g. "customer.id" */
    char *column; /* in the child's bronze rows: "_<parent>_customer_id" */
    bool key;     /* fills a placeholder (else include_from_parent only) */
};

struct rest {
    struct st_db *st;
    const struct prj_project *p;
    const struct prj_source *src;
    const struct prj_rest *r;
    struct ing_stats *stats;
    struct sm_http http;
    bool http_ready;

    /* Resolved at the start; values may be secrets (freed by sec_value_free). */
    char *base_url;                 /* base_url as resolved */
    char *base;                     /* base_url + "/" + resource, placeholders filled */
    struct filled resource;         /* the resource template */
    struct filled *param_tmpls;     /* per r->params item */
    char *body;                     /* POST body or NULL */
    char **param_values;            /* per r->params item, placeholders filled */
    struct sm_http_header *headers; /* configured + auth; values owned */
    size_t nheaders;
    char *username, *password; /* basic */
    char *api_key;             /* api_key auth */
    bool key_in_query;
    const char **secret_params; /* query parameters never shown; NULL-terminated */
    size_t nsecret_params;
    char *since; /* incremental value sent, or NULL */

    /* oauth2_client_credentials: the token is fetched when first needed,
     * kept for the run and replaced when it runs out or a request gets 401. */
    bool oauth;
    char *token_url, *token_log_url, *client_id, *client_secret, *scope;
    struct sm_http_header *token_params; /* values owned (may be secrets) */
    size_t ntoken_params;
    size_t auth_header; /* index of "Authorization" in headers */
    bool have_token;
    int64_t refresh_ms; /* when to fetch the next token; 0 = when a request gets 401 */
    int64_t ntokens;

    /* Child endpoints: the parent record being fanned out. */
    struct parent_field *pfields;
    size_t npfields;
    char *parent_json; /* {"_<parent>_<field>": value, ...} of the current parent, or NULL */

    /* The keys of the records: of the page being read, and of every page
     * landed this run (see add_new_keys). */
    struct sm_map page_keys, run_keys;
    bool page_keys_bad;          /* a key with a NUL: the page's keys are not listed */
    struct key_cache recent;     /* keys of page_keys met lately (see see_key) */
    struct sm_map run_ids;       /* identity of each page written this run -> its path */
    struct syncpool *pool;       /* pages being synced and recorded (see land_queue) */
    bool land_failed;            /* a page could not be recorded: record no more */
    struct ing_overlap *overlap; /* gets each page recorded, or NULL */

    /* Landing. */
    char *batch_id;
    char *batch_dir;
    struct sm_buf manifest; /* the page entries written so far */
    int npages;             /* pages fetched this run: page-NNNNN.json */
    int64_t manifest_ms;    /* when the manifest was last written */
    bool manifest_dirty;

    /* Incremental: the highest cursor value seen this run. */
    char *wm_old;
    char *wm_max;
    bool wm_max_num;
    double wm_max_val;
};

static void filled_release(struct filled *f)
{
    for (size_t i = 0; f->lit && i < f->t.n; i++)
        sec_value_free(f->lit[i]);
    free(f->lit);
    sm_tmpl_release(&f->t);
}

static void rest_release(struct rest *x)
{
    if (x->http_ready)
        sm_http_release(&x->http);
    sec_value_free(x->base_url);
    sec_value_free(x->base);
    filled_release(&x->resource);
    for (size_t i = 0; x->param_tmpls && i < x->r->params.n; i++)
        filled_release(&x->param_tmpls[i]);
    free(x->param_tmpls);
    sec_value_free(x->body);
    for (size_t i = 0; x->param_values && i < x->r->params.n; i++)
        sec_value_free(x->param_values[i]);
    free(x->param_values);
    for (size_t i = 0; i < x->nheaders; i++) {
        free((char *)x->headers[i].name);
        sec_value_free((char *)x->headers[i].value);
    }
    free(x->headers);
    sec_value_free(x->username);
    sec_value_free(x->password);
    sec_value_free(x->api_key);
    free(x->secret_params);
    free(x->since);
    sec_value_free(x->token_url);
    free(x->token_log_url);
    sec_value_free(x->client_id);
    sec_value_free(x->client_secret);
    sec_value_free(x->scope);
    for (size_t i = 0; i < x->ntoken_params; i++)
        sec_value_free((char *)x->token_params[i].value);
    free(x->token_params);
    for (size_t i = 0; i < x->npfields; i++) {
        free(x->pfields[i].path);
        free(x->pfields[i].column);
    }
    free(x->pfields);
    free(x->parent_json);
    free(x->batch_id);
    free(x->batch_dir);
    sm_buf_release(&x->manifest);
    pool_free(x->pool);
    sm_map_release(&x->page_keys);
    key_cache_clear(&x->recent);
    sm_map_release(&x->run_keys);
    for (size_t i = 0; i < x->run_ids.nslots; i++)
        if (x->run_ids.slots[i].key && !x->run_ids.slots[i].deleted)
            free(x->run_ids.slots[i].value);
    sm_map_release(&x->run_ids);
    free(x->wm_old);
    free(x->wm_max);
}

/* Resolve one template; what names it in errors ("auth.token"). */
static int resolve(struct rest *x, const char *tmpl, const char *what, char **out,
                   struct sm_err *err)
{
    *out = NULL;
    if (!tmpl)
        return 0;
    int rc = sec_resolve(tmpl, lookup_secret, x, out, err);
    if (rc)
        sm_err_prefix(err, rc, "'%s' in %s", what, x->src->file);
    return rc;
}

static int lookup_secret(void *ctx, const char *name, char **out_value, struct sm_err *err)
{
    struct rest *x = ctx;
    struct st_secret sec;
    bool found = false;
    *out_value = NULL;
    SM_TRY(st_secret_get(x->st, name, &sec, &found, err));
    int rc = 0;
    if (!found) {
        rc = sm_err_set(err, SM_ENOTFOUND, "no secret '%s': set it with 'smelt secrets set %s'",
                        name, name);
    } else {
        struct sec_key key;
        rc = sec_key_load(x->p->state_dir, false, &key, err);
        if (!rc) {
            rc = sec_decrypt(&key, name, sec.nonce, sec.nonce_len, sec.ciphertext,
                             sec.ciphertext_len, out_value, err);
            sec_key_release(&key);
        }
    }
    st_secret_release(&sec);
    return rc;
}

static void add_header(struct rest *x, size_t *alloc, const char *name, char *value)
{
    SM_ALLOC_GROW(x->headers, x->nheaders + 1, *alloc);
    x->headers[x->nheaders].name = sm_strdup(name);
    x->headers[x->nheaders++].value = value;
}

static bool has_header(const struct rest *x, const char *name)
{
    for (size_t i = 0; i < x->nheaders; i++)
        if (!strcasecmp(x->headers[i].name, name))
            return true;
    return false;
}

static void add_secret_param(struct rest *x, const char *name)
{
    x->secret_params = sm_realloc(x->secret_params, (x->nsecret_params + 2) * sizeof(char *));
    x->secret_params[x->nsecret_params++] = name;
    x->secret_params[x->nsecret_params] = NULL;
}

/* Parse a template with {field} placeholders and resolve its literal parts
 * (${...} references). *secret is set when a part was a reference. */
static int filled_setup(struct rest *x, const char *text, const char *what, struct filled *f,
                        bool *secret, struct sm_err *err)
{
    int rc = sm_tmpl_parse(text, &f->t, err); /* checked at load: cannot fail here */
    if (rc)
        return sm_err_prefix(err, rc, "'%s' in %s", what, x->src->file);
    f->lit = sm_calloc(f->t.n ? f->t.n : 1, sizeof(char *));
    for (size_t i = 0; i < f->t.n && !rc; i++) {
        if (f->t.parts[i].field)
            continue;
        if (is_template(f->t.parts[i].text) && secret)
            *secret = true;
        rc = resolve(x, f->t.parts[i].text, what, &f->lit[i], err);
    }
    return rc;
}

/* The text of field path in the current parent record. */
static const char *parent_value(const struct rest *x, const char *path, char *const *values)
{
    for (size_t i = 0; values && i < x->npfields; i++)
        if (!strcmp(x->pfields[i].path, path))
            return sm_or(values[i], "");
    return "";
}

/* f with its fields filled from values (per x->pfields; NULL for a source
 * without parent), escaped for a URL path when escape. Freed with
 * sec_value_free(). */
static char *filled_value(const struct rest *x, const struct filled *f, char *const *values,
                          bool escape)
{
    struct sm_buf b = SM_BUF_INIT;
    for (size_t i = 0; i < f->t.n; i++) {
        if (!f->t.parts[i].field)
            (void)sm_buf_adds(&b, f->lit[i]);
        else if (escape)
            (void)sm_http_add_escaped(&b, parent_value(x, f->t.parts[i].text, values));
        else
            (void)sm_buf_adds(&b, parent_value(x, f->t.parts[i].text, values));
    }
    char *v = sm_strndup(b.buf, b.len);
    if (b.alloc)
        memset(b.buf, 0, b.alloc);
    sm_buf_release(&b);
    return v;
}

/* Point the source at one endpoint: base_url + resource and the params,
 * with the placeholders filled from values (NULL: no parent). */
static void set_endpoint(struct rest *x, char *const *values)
{
    char *res = filled_value(x, &x->resource, values, true);
    sec_value_free(x->base);
    if (*res) {
        /* Exactly one '/' between base_url and resource. */
        size_t n = strlen(x->base_url);
        while (n && x->base_url[n - 1] == '/')
            n--;
        const char *tail = res;
        while (*tail == '/')
            tail++;
        x->base = sm_asprintf("%.*s/%s", (int)n, x->base_url, tail);
    } else {
        x->base = sm_strdup(x->base_url);
    }
    sec_value_free(res);
    for (size_t i = 0; i < x->r->params.n; i++) {
        sec_value_free(x->param_values[i]);
        x->param_values[i] = filled_value(x, &x->param_tmpls[i], values, false);
    }
}

/* The parent fields of a child source: every placeholder, then
 * include_from_parent, each once. */
static void add_pfield(struct rest *x, size_t *alloc, const char *path, size_t n, bool key)
{
    for (size_t i = 0; i < x->npfields; i++)
        if (strlen(x->pfields[i].path) == n && !strncmp(x->pfields[i].path, path, n))
            return;
    SM_ALLOC_GROW(x->pfields, x->npfields + 1, *alloc);
    struct parent_field *f = &x->pfields[x->npfields++];
    f->path = sm_strndup(path, n);
    f->column = sm_asprintf("_%s_%s", x->r->parent, f->path);
    for (char *c = f->column; *c; c++)
        if (*c == '.')
            *c = '_';
    f->key = key;
}

static void collect_pfields(struct rest *x)
{
    size_t alloc = 0;
    if (!x->r->parent)
        return;
    for (size_t i = 0; i < x->resource.t.n; i++)
        if (x->resource.t.parts[i].field)
            add_pfield(x, &alloc, x->resource.t.parts[i].text, strlen(x->resource.t.parts[i].text),
                       true);
    for (size_t p = 0; p < x->r->params.n; p++)
        for (size_t i = 0; i < x->param_tmpls[p].t.n; i++)
            if (x->param_tmpls[p].t.parts[i].field)
                add_pfield(x, &alloc, x->param_tmpls[p].t.parts[i].text,
                           strlen(x->param_tmpls[p].t.parts[i].text), true);
    for (const char *f = x->r->include_from_parent; f && *f;) {
        size_t n = strcspn(f, ",");
        add_pfield(x, &alloc, f, n, false);
        f += n + (f[n] == ',');
    }
}

/* oauth2_client_credentials: resolve the client's credentials; the token
 * itself is fetched by the first request (get_token). */
static int oauth_setup(struct rest *x, size_t *halloc, struct sm_err *err)
{
    const struct prj_auth *a = &x->r->auth;
    char *url = NULL;
    int rc = resolve(x, a->token_url, "auth.token_url", &url, err);
    if (!rc)
        rc = resolve(x, a->client_id, "auth.client_id", &x->client_id, err);
    if (!rc)
        rc = resolve(x, a->client_secret, "auth.client_secret", &x->client_secret, err);
    if (!rc)
        rc = resolve(x, a->scope, "auth.scope", &x->scope, err);
    if (!rc) {
        x->token_params =
            sm_calloc(a->token_params.n ? a->token_params.n : 1, sizeof(*x->token_params));
        for (size_t i = 0; i < a->token_params.n && !rc; i++) {
            char *what = sm_asprintf("auth.token_params.%s", a->token_params.items[i].name), *v;
            rc = resolve(x, a->token_params.items[i].value, what, &v, err);
            free(what);
            if (!rc) {
                x->token_params[x->ntoken_params].name = a->token_params.items[i].name;
                x->token_params[x->ntoken_params++].value = v;
            }
        }
    }
    if (!rc) {
        /* Relative to base_url, like a next-page link. */
        rc = sm_http_url_resolve(x->base_url, url, &x->token_url, err);
        if (rc)
            sm_err_prefix(err, rc, "'auth.token_url' in %s", x->src->file);
    }
    if (!rc) {
        x->token_log_url = sm_http_url_redact(x->token_url, NULL);
        char *q = strchr(x->token_log_url, '?');
        if (q)
            *q = 0;
        x->oauth = true;
        x->auth_header = x->nheaders;
        add_header(x, halloc, "Authorization", sm_strdup("Bearer -"));
    }
    sec_value_free(url);
    return rc;
}

/* Everything a request needs, resolved once per run. */
static int rest_setup(struct rest *x, struct sm_err *err)
{
    const struct prj_rest *r = x->r;
    size_t halloc = 0;
    bool secret = false;
    int rc = resolve(x, r->base_url, "base_url", &x->base_url, err);
    if (!rc)
        rc = filled_setup(x, sm_or(r->resource, ""), "resource", &x->resource, NULL, err);
    if (!rc)
        rc = resolve(x, r->body, "body", &x->body, err);
    if (rc)
        return rc;

    x->param_tmpls = sm_calloc(r->params.n ? r->params.n : 1, sizeof(*x->param_tmpls));
    x->param_values = sm_calloc(r->params.n ? r->params.n : 1, sizeof(char *));
    for (size_t i = 0; i < r->params.n && !rc; i++) {
        char *what = sm_asprintf("params.%s", r->params.items[i].name);
        secret = false;
        rc = filled_setup(x, r->params.items[i].value, what, &x->param_tmpls[i], &secret, err);
        free(what);
        if (secret)
            add_secret_param(x, r->params.items[i].name);
    }
    for (size_t i = 0; i < r->headers.n && !rc; i++) {
        char *what = sm_asprintf("headers.%s", r->headers.items[i].name), *v = NULL;
        rc = resolve(x, r->headers.items[i].value, what, &v, err);
        free(what);
        if (!rc)
            add_header(x, &halloc, r->headers.items[i].name, v);
    }
    if (rc)
        return rc;
    collect_pfields(x);
    set_endpoint(x, NULL);

    switch (r->auth.type) {
    case PRJ_AUTH_NONE:
        break;
    case PRJ_AUTH_BEARER: {
        char *tok = NULL;
        if ((rc = resolve(x, r->auth.token, "auth.token", &tok, err)))
            return rc;
        struct sm_buf b = SM_BUF_INIT;
        (void)sm_buf_addf(&b, "Bearer %s", tok);
        sec_value_free(tok);
        char *v = sm_strndup(b.buf, b.len);
        if (b.alloc) /* wipe the buffer's copy of the token */
            memset(b.buf, 0, b.alloc);
        sm_buf_release(&b);
        add_header(x, &halloc, "Authorization", v);
        break;
    }
    case PRJ_AUTH_BASIC:
        rc = resolve(x, r->auth.username, "auth.username", &x->username, err);
        if (!rc)
            rc = resolve(x, sm_or(r->auth.password, ""), "auth.password", &x->password, err);
        break;
    case PRJ_AUTH_API_KEY:
        if ((rc = resolve(x, r->auth.token, "auth.token", &x->api_key, err)))
            return rc;
        x->key_in_query = !strcmp(r->auth.in, "query");
        if (x->key_in_query) {
            add_secret_param(x, r->auth.name);
        } else {
            add_header(x, &halloc, r->auth.name, x->api_key);
            x->api_key = NULL;
        }
        break;
    case PRJ_AUTH_OAUTH2_CC:
        rc = oauth_setup(x, &halloc, err);
        break;
    }
    if (rc)
        return rc;
    if (!has_header(x, "Accept"))
        add_header(x, &halloc, "Accept", sm_strdup("application/json"));
    if (x->body && !has_header(x, "Content-Type"))
        add_header(x, &halloc, "Content-Type", sm_strdup("application/json"));

    struct sm_http_options opt = {
        .timeout_s = r->timeout,
        .connect_timeout_s = r->connect_timeout,
        .retries = r->retries,
        .rate_limit = r->rate_limit,
    };
    if ((rc = sm_http_init(&x->http, &opt, err)))
        return rc;
    x->http_ready = true;
    return 0;
}

/* --- URLs ------------------------------------------------------------------------ */

struct pager {
    int64_t offset;
    int64_t page;
    char *cursor;   /* cursor to send; NULL on the first page */
    char *next_url; /* next_url, link_header: the next page's URL, or NULL */
    struct sm_map seen;
};

static void add_param(struct sm_buf *b, char *sep, const char *name, const char *value)
{
    (void)sm_buf_addc(b, *sep);
    *sep = '&';
    (void)sm_http_add_escaped(b, name);
    (void)sm_buf_addc(b, '=');
    (void)sm_http_add_escaped(b, value);
}

/* A configured parameter that pagination or incremental sets itself. */
static bool managed_param(const struct prj_rest *r, const char *name)
{
    const struct prj_paginate *pg = &r->paginate;
    return (pg->limit > 0 && !strcmp(name, pg->limit_param)) ||
           (pg->type == PRJ_PAGE_OFFSET && !strcmp(name, pg->offset_param)) ||
           (pg->type == PRJ_PAGE_PAGE && !strcmp(name, pg->page_param)) ||
           (pg->type == PRJ_PAGE_CURSOR && !strcmp(name, pg->cursor_param)) ||
           (r->incremental.param && !strcmp(name, r->incremental.param));
}

/* The real URL of the next request (may hold the API key; freed with
 * sec_value_free). */
static char *request_url(const struct rest *x, const struct pager *pg)
{
    const struct prj_rest *r = x->r;
    struct sm_buf b = SM_BUF_INIT;
    char sep;
    if (pg->next_url) {
        (void)sm_buf_adds(&b, pg->next_url);
        sep = strchr(pg->next_url, '?') ? '&' : '?';
    } else {
        (void)sm_buf_adds(&b, x->base);
        sep = strchr(x->base, '?') ? '&' : '?';
        for (size_t i = 0; i < r->params.n; i++)
            if (!managed_param(r, r->params.items[i].name))
                add_param(&b, &sep, r->params.items[i].name, x->param_values[i]);
        char num[32];
        if (r->paginate.limit > 0 && r->paginate.type != PRJ_PAGE_NONE) {
            snprintf(num, sizeof(num), "%d", r->paginate.limit);
            add_param(&b, &sep, r->paginate.limit_param, num);
        }
        if (r->paginate.type == PRJ_PAGE_OFFSET) {
            snprintf(num, sizeof(num), "%lld", (long long)pg->offset);
            add_param(&b, &sep, r->paginate.offset_param, num);
        } else if (r->paginate.type == PRJ_PAGE_PAGE) {
            snprintf(num, sizeof(num), "%lld", (long long)pg->page);
            add_param(&b, &sep, r->paginate.page_param, num);
        } else if (r->paginate.type == PRJ_PAGE_CURSOR && pg->cursor) {
            add_param(&b, &sep, r->paginate.cursor_param, pg->cursor);
        }
        if (x->since)
            add_param(&b, &sep, r->incremental.param, x->since);
    }
    if (x->key_in_query && !(pg->next_url && sm_http_url_has_param(pg->next_url, r->auth.name)))
        add_param(&b, &sep, r->auth.name, x->api_key);
    char *url = sm_strndup(b.buf, b.len);
    if (b.alloc)
        memset(b.buf, 0, b.alloc);
    sm_buf_release(&b);
    return url;
}

/* How url may be shown in state.db, manifests and bronze. */
static char *shown_url(const struct rest *x, const char *url)
{
    return sm_http_url_redact(url, x->secret_params);
}

/* How url may be shown in logs and errors: also without a query string
 * when that has a secret in it. */
static char *log_url(const struct rest *x, const char *shown)
{
    char *s = sm_strdup(shown);
    char *q = strchr(s, '?');
    if (q && x->nsecret_params)
        *q = 0;
    return s;
}

/* What pagination and the watermark need from a page, found by one pass
 * of util/jscan over its bytes (no tree is built: records are DuckDB's
 * business in bronze). */
struct page_info {
    bool json;   /* the page is valid JSON */
    size_t nrec; /* records at the records path */
    struct sm_jscan_result scan;
    const struct sm_jscan_value *next;     /* cursor_path or next_url_path, or NULL */
    const struct sm_jscan_value *has_more; /* has_more_path, or NULL */
    const struct sm_jscan_value *total;    /* total_path, or NULL */
};

/* --- landing ------------------------------------------------------------------- */

/* The manifest entry of a page, into b. */
static void add_manifest_page(const struct rest *x, struct sm_buf *b, const char *file,
                              const char *url, const struct sm_http_response *res, const char *sha,
                              const char *received)
{
    static const char *const kept[] = {"content-type", "date"};
    (void)sm_buf_adds(b, "{");
    (void)sm_buf_adds(b, "\"file\": ");
    (void)sm_buf_add_json_str(b, file);
    (void)sm_buf_adds(b, ", \"url\": ");
    (void)sm_buf_add_json_str(b, url);
    (void)sm_buf_addf(b, ", \"status\": %ld, \"headers\": {", res->status);
    bool first = true;
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        const char *v = sm_http_response_header(res, kept[i]);
        if (!v)
            continue;
        (void)sm_buf_addf(b, "%s\"%s\": ", first ? "" : ", ", kept[i]);
        (void)sm_buf_add_json_str(b, v);
        first = false;
    }
    (void)sm_buf_addf(b, "}, \"size\": %zu, \"truncated\": %s, \"sha256\": \"%s\", ", res->body.len,
                      res->truncated ? "true" : "false", sha);
    if (x->parent_json)
        (void)sm_buf_addf(b, "\"parent\": %s, ", x->parent_json);
    (void)sm_buf_adds(b, "\"received_at\": ");
    (void)sm_buf_add_json_str(b, received);
    (void)sm_buf_adds(b, "}");
}

static int write_manifest(const struct rest *x, struct sm_err *err)
{
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "{\n  \"source\": ");
    (void)sm_buf_add_json_str(&b, x->src->name);
    (void)sm_buf_adds(&b, ",\n  \"kind\": \"rest\",\n  \"batch_id\": ");
    (void)sm_buf_add_json_str(&b, x->batch_id);
    (void)sm_buf_addf(&b, ",\n  \"pages\": [%s\n  ]\n}\n", x->manifest.buf);
    char *path = sm_path_join(x->batch_dir, "_manifest.json");
    int rc = sm_write_file_atomic(path, b.buf, b.len, err);
    free(path);
    sm_buf_release(&b);
    return rc;
}

static void sha256_hex(const void *data, size_t n, char out[SEC_SHA256_HEX])
{
    struct sec_sha256 h;
    sec_sha256_init(&h);
    sec_sha256_update(&h, data, n);
    sec_sha256_final(&h, out);
}

/* A page on its way into the landing zone. */
struct landing {
    char sha[SEC_SHA256_HEX]; /* of the bytes */
    char id[SEC_SHA256_HEX];  /* identity in state.db (see land_write) */
    char received[40];
    int64_t now;
    int n;       /* page-NNNNN.json */
    int fd;      /* written, not yet synced; -1 = none */
    char *path;  /* where it is (or was landed before) */
    bool before; /* landed before (by an earlier run or this one): nothing to record */
};

/* A page written and waiting, first for its fsync (by the sync pool),
 * then for its record in state.db (by the fetching thread, in page
 * order). */
struct pending {
    int fd;                    /* open until synced */
    char *path, *orig, *entry; /* landing path, orig_path, manifest entry */
    char id[SEC_SHA256_HEX];
    char received[40];
    int64_t mtime, size;
    bool synced;
    int err; /* errno of a failed fsync or close */
};

/*
 * The sync pool: fsync() is what landing a page costs most, and a disk
 * serves several at once far faster than one after another (measured: a
 * thousand 100 kB pages synced one by one took 2.7 s, by four threads
 * 0.2 s). So the fetching thread writes each page, hands its descriptor
 * to SYNC_THREADS threads that sync and close it, and records pages in
 * state.db in page order as their syncs complete (RECORD_BATCH in one
 * transaction): a page is still on disk
 * before it is read and synced before it is recorded, and a crash leaves
 * at most unrecorded files that nothing loads. The queue holds at most
 * SYNC_QUEUE pages (and open descriptors).
 */
#define SYNC_THREADS 4
#define SYNC_QUEUE 64

struct syncpool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct pending *q[SYNC_QUEUE]; /* a ring, indexed modulo SYNC_QUEUE */
    size_t head, next, tail;       /* next to record, next to sync, next free */
    bool stop;
    pthread_t th[SYNC_THREADS];
    int nth;
};

static void *sync_main(void *arg)
{
    struct syncpool *sp = arg;
    pthread_mutex_lock(&sp->mu);
    for (;;) {
        while (!sp->stop && sp->next == sp->tail)
            pthread_cond_wait(&sp->work, &sp->mu);
        if (sp->next == sp->tail)
            break; /* stopping, nothing left */
        struct pending *p = sp->q[sp->next++ % SYNC_QUEUE];
        pthread_mutex_unlock(&sp->mu);
        int e = fsync(p->fd) ? errno : 0;
        if (close(p->fd) && !e)
            e = errno;
        pthread_mutex_lock(&sp->mu);
        p->fd = -1;
        p->err = e;
        p->synced = true;
        pthread_cond_broadcast(&sp->done);
    }
    pthread_mutex_unlock(&sp->mu);
    return NULL;
}

static void pending_free(struct pending *p)
{
    if (!p)
        return;
    if (p->fd >= 0)
        close(p->fd);
    free(p->path);
    free(p->orig);
    free(p->entry);
    free(p);
}

static struct syncpool *pool_new(void)
{
    struct syncpool *sp = sm_calloc(1, sizeof(*sp));
    pthread_mutex_init(&sp->mu, NULL);
    pthread_cond_init(&sp->work, NULL);
    pthread_cond_init(&sp->done, NULL);
    for (int i = 0; i < SYNC_THREADS; i++)
        if (!pthread_create(&sp->th[sp->nth], NULL, sync_main, sp))
            sp->nth++;
    return sp;
}

/* Stop the threads once the queue is synced; pages never recorded are
 * freed (their files stay, unrecorded). */
static void pool_free(struct syncpool *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&sp->mu);
    sp->stop = true;
    pthread_cond_broadcast(&sp->work);
    pthread_mutex_unlock(&sp->mu);
    for (int i = 0; i < sp->nth; i++)
        pthread_join(sp->th[i], NULL);
    for (size_t i = sp->head; i < sp->tail; i++) {
        struct pending *p = sp->q[i % SYNC_QUEUE];
        if (!sp->nth && p->fd >= 0) /* no thread ever started: sync here */
            (void)fsync(p->fd);
        pending_free(p);
    }
    pthread_mutex_destroy(&sp->mu);
    pthread_cond_destroy(&sp->work);
    pthread_cond_destroy(&sp->done);
    free(sp);
}

/* Write page n's bytes to the landing zone (not yet synced: l->fd is
 * open), unless the same page was landed before (then l->before and
 * l->path is the earlier file). land_queue() then has it synced and
 * recorded in state.db; between the two the page is read (read_page), so
 * a page is always on disk before anything parses it.
 *
 * What "the same" means: the same bytes, for an ordinary source. For a
 * child endpoint the same bytes for the same parent record: its identity
 * in state.db (landed_files.sha256, unique per source) is the SHA-256 of
 * the parent key and the bytes, so two parents whose answers are equal
 * (two empty lists) are both landed; the manifest keeps the SHA-256 of the
 * bytes.
 *
 * The file is created under its final name (O_EXCL) in the run's own
 * batch folder rather than renamed from a temporary: until it is recorded
 * nothing reads it, and a crash before that leaves an unrecorded file that
 * nothing loads, as a crash between rename and record always did. */
static int land_write(struct rest *x, int n, const struct sm_http_response *res, struct landing *l,
                      struct sm_err *err)
{
    memset(l, 0, sizeof(*l));
    l->n = n;
    l->fd = -1;
    sha256_hex(res->body.buf, res->body.len, l->sha);
    memcpy(l->id, l->sha, sizeof(l->id));
    if (x->parent_json) {
        struct sec_sha256 h;
        sec_sha256_init(&h);
        sec_sha256_update(&h, "smelt child page", 17);
        sec_sha256_update(&h, x->parent_json, strlen(x->parent_json) + 1);
        sec_sha256_update(&h, res->body.buf, res->body.len);
        sec_sha256_final(&h, l->id);
    }
    const char *mine = sm_map_get(&x->run_ids, l->id); /* this run, maybe not recorded yet */
    struct st_landed found = {0};
    bool hit = mine != NULL;
    if (!hit)
        SM_TRY(st_landed_find_hash(x->st, x->src->name, l->id, &found, &hit, err));
    if (hit) {
        l->path = mine ? sm_strdup(mine) : found.landing_path;
        sm_debug("source '%s': page %d is the same as '%s', landed before", x->src->name, n,
                 l->path);
        l->before = true;
        found.landing_path = NULL;
        st_landed_release(&found);
        return 0;
    }
    l->now = sm_now_ms();
    sm_iso8601(l->now, l->received, sizeof(l->received));
    if (!x->batch_dir) {
        char day[16];
        time_t t = (time_t)(l->now / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(day, sizeof(day), "%Y/%m/%d", &tm);
        x->batch_id = ing_batch_id_new(l->now);
        x->batch_dir =
            sm_asprintf("%s/landing/%s/%s/%s", x->p->lake, x->src->name, day, x->batch_id);
        SM_TRY(sm_mkdirs(x->batch_dir, err));
    }
    char file[32];
    snprintf(file, sizeof(file), "page-%05d.json", n);
    l->path = sm_path_join(x->batch_dir, file);
    int fd = open(l->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return sm_err_set(err, SM_EIO, "cannot create '%s': %s", l->path, strerror(errno));
    const char *p = res->body.buf;
    size_t left = res->body.len;
    int rc = 0;
    while (left && !rc) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = sm_err_set(err, SM_EIO, "cannot write '%s': %s", l->path, strerror(errno));
        else
            p += w, left -= (size_t)w;
    }
    if (rc) {
        close(fd);
        unlink(l->path);
        return rc;
    }
    l->fd = fd;
    return 0;
}

/* The manifest is rewritten at most once a second while pages arrive (and
 * by the end of the run, see flush_manifest): rewriting it for each page
 * would cost the square of the number of pages. state.db, not the
 * manifest, is the record of what landed. */
#define MANIFEST_EVERY_MS 1000

static int flush_manifest(struct rest *x, bool force, struct sm_err *err)
{
    if (!x->manifest_dirty || (!force && sm_now_ms() - x->manifest_ms < MANIFEST_EVERY_MS))
        return 0;
    SM_TRY(write_manifest(x, err));
    x->manifest_dirty = false;
    x->manifest_ms = sm_now_ms();
    return 0;
}

/* "&keys=a,b" (each escaped): the keys of the page's records that no page
 * landed before in this run had, so that the keys of a batch's records
 * are the union of its pages' lists (bronze checks DuckDB's sampled
 * types against it). Nothing is listed when a key holds a NUL byte: that
 * page's keys are unknown. */
static void add_new_keys(struct rest *x, struct sm_buf *orig)
{
    if (x->page_keys_bad)
        return;
    (void)sm_buf_adds(orig, "&keys=");
    bool first = true;
    for (size_t i = 0; i < x->page_keys.nslots; i++) {
        const struct sm_map_entry *e = &x->page_keys.slots[i];
        if (!e->key || e->deleted || sm_map_get(&x->run_keys, e->key))
            continue;
        sm_map_put(&x->run_keys, e->key, (void *)1);
        if (!first)
            (void)sm_buf_addc(orig, ',');
        (void)sm_http_add_escaped(orig, e->key);
        first = false;
    }
}

/* Record synced pages (in page order) in state.db, in one transaction:
 * from here bronze loads them. A page whose sync failed is not recorded,
 * nor any after it; the ones before it are. */
static int land_commit(struct rest *x, struct pending *const *ps, size_t n, struct sm_err *err)
{
    size_t ok = 0;
    while (ok < n && !ps[ok]->err)
        ok++;
    struct st_landed *recs = sm_calloc(ok ? ok : 1, sizeof(*recs));
    for (size_t i = 0; i < ok; i++) {
        recs[i] = (struct st_landed){
            .source = x->src->name,
            .orig_path = ps[i]->orig,
            .size = ps[i]->size,
            .mtime = ps[i]->mtime,
            .sha256 = ps[i]->id,
            .batch_id = x->batch_id,
            .landing_path = ps[i]->path,
            .received_at = ps[i]->received,
        };
        (void)sm_buf_adds(&x->manifest, x->manifest.len ? ",\n    " : "\n    ");
        (void)sm_buf_adds(&x->manifest, ps[i]->entry);
        x->manifest_dirty = true;
    }
    int rc = ok ? flush_manifest(x, false, err) : 0;
    if (!rc && ok)
        rc = st_begin(x->st, err);
    if (!rc && ok) {
        for (size_t i = 0; i < ok && !rc; i++) {
            rc = st_landed_begin(x->st, &recs[i], err);
            if (!rc)
                rc = st_landed_done(x->st, recs[i].id, err);
        }
        if (!rc)
            rc = st_commit(x->st, err);
        else
            st_rollback(x->st);
    }
    for (size_t i = 0; i < ok && !rc; i++) {
        x->stats->files_landed++;
        x->stats->bytes_landed += recs[i].size;
        ing_overlap_add(x->overlap, &recs[i]);
    }
    free(recs);
    if (!rc && ok < n)
        rc = sm_err_set(err, SM_EIO, "cannot sync '%s': %s", ps[ok]->path, strerror(ps[ok]->err));
    return rc;
}

/* Pages recorded together while the landing goes on (measured on the
 * bench's 1000 pages: a transaction for each page made recording cost
 * three times as much). */
enum { RECORD_BATCH = 16 };

/* Record the queued pages whose sync is done, in page order: all of them
 * (all, waiting for their syncs), or, while pages arrive, RECORD_BATCH at
 * a time, waiting only while the queue is full. After an error the rest
 * are not recorded. */
static int land_drain(struct rest *x, bool all, struct sm_err *err)
{
    struct syncpool *sp = x->pool;
    struct pending *batch[SYNC_QUEUE];
    int rc = 0;
    if (!sp)
        return 0;
    pthread_mutex_lock(&sp->mu);
    while (sp->head < sp->tail) {
        size_t n = 0;
        while (sp->head + n < sp->tail && sp->q[(sp->head + n) % SYNC_QUEUE]->synced)
            n++;
        bool full = sp->tail - sp->head == SYNC_QUEUE;
        if (!n || (!all && !full && n < RECORD_BATCH)) {
            if (!all && !full)
                break;
            pthread_cond_wait(&sp->done, &sp->mu);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            batch[i] = sp->q[(sp->head + i) % SYNC_QUEUE];
        sp->head += n;
        pthread_mutex_unlock(&sp->mu);
        if (!rc && !x->land_failed)
            rc = land_commit(x, batch, n, err);
        x->land_failed |= rc != 0;
        for (size_t i = 0; i < n; i++)
            pending_free(batch[i]);
        pthread_mutex_lock(&sp->mu);
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

/* Queue a page written by land_write() to be synced and recorded. What
 * bronze needs to know of the page travels in its orig_path: "<url>#page=N"
 * then the status of an answer that is not a 2xx ("&status=404"), or, for
 * a page found to be JSON when it landed, "&json=1", the number of records
 * that are not objects ("&nonobj=2") and the new record keys
 * ("&keys=..."), and for a child endpoint the parent key
 * ("&parent=<JSON, escaped>"). */
static int land_queue(struct rest *x, const char *shown, const struct sm_http_response *res,
                      struct landing *l, const struct page_info *pi, struct sm_err *err)
{
    if (l->before)
        return 0;
    char file[32];
    snprintf(file, sizeof(file), "page-%05d.json", l->n);
    struct sm_buf orig = SM_BUF_INIT, entry = SM_BUF_INIT;
    (void)sm_buf_addf(&orig, "%s#page=%d", shown, l->n);
    if (res->status < 200 || res->status > 299) {
        (void)sm_buf_addf(&orig, "&status=%ld", res->status);
    } else if (pi && pi->json) {
        (void)sm_buf_adds(&orig, "&json=1");
        if (pi->nrec != pi->scan.nobjects)
            (void)sm_buf_addf(&orig, "&nonobj=%zu", pi->nrec - pi->scan.nobjects);
        add_new_keys(x, &orig);
    }
    if (x->parent_json) {
        (void)sm_buf_adds(&orig, "&parent=");
        (void)sm_http_add_escaped(&orig, x->parent_json);
    }
    add_manifest_page(x, &entry, file, shown, res, l->sha, l->received);

    struct pending *p = sm_calloc(1, sizeof(*p));
    p->fd = l->fd;
    l->fd = -1;
    p->path = sm_strdup(l->path);
    p->orig = sm_buf_detach(&orig);
    p->entry = sm_buf_detach(&entry);
    memcpy(p->id, l->id, sizeof(p->id));
    memcpy(p->received, l->received, sizeof(p->received));
    p->mtime = l->now / 1000;
    p->size = (int64_t)res->body.len;
    sm_map_put(&x->run_ids, p->id, sm_strdup(p->path));

    if (!x->pool)
        x->pool = pool_new();
    struct syncpool *sp = x->pool;
    SM_TRY(land_drain(x, false, err)); /* makes room */
    pthread_mutex_lock(&sp->mu);
    sp->q[sp->tail++ % SYNC_QUEUE] = p;
    if (!sp->nth) { /* no thread could be started: sync here */
        p->err = fsync(p->fd) ? errno : 0;
        if (close(p->fd) && !p->err)
            p->err = errno;
        p->fd = -1;
        p->synced = true;
    }
    pthread_cond_signal(&sp->work);
    pthread_mutex_unlock(&sp->mu);
    return land_drain(x, false, err);
}

/* --- reading a page ----------------------------------------------------------------- */

/* The value at a canonical path ("a.b", "" = v itself), or NULL. */
static json_t *json_at(json_t *v, const char *path)
{
    const char *p = path;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        v = json_is_object(v) ? json_object_getn(v, p, n) : NULL;
        p += n + (dot ? 1 : 0);
    }
    return v;
}

/* A scalar as text (strings as they are, numbers printed), or NULL. */
static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return sm_strdup(json_string_value(v));
    if (json_is_integer(v))
        return sm_asprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return sm_asprintf("%.17g", json_real_value(v));
    return NULL;
}

static void see_cursor_value(void *ctx, const struct sm_jscan_value *v);

/* jscan's on_key: a key of a record of the page. */
static void see_key(void *ctx, const char *key, size_t len)
{
    struct rest *x = ctx;
    size_t i =
        len ? (len * 31 + (unsigned char)key[0] * 7 + (unsigned char)key[len - 1]) % KEY_CACHE : 0;
    struct key_cache *kc = &x->recent;
    if (kc->key[i] && kc->len[i] == len && !memcmp(kc->key[i], key, len))
        return; /* listed already */
    if (memchr(key, 0, len)) {
        x->page_keys_bad = true;
        return;
    }
    if (!sm_map_get(&x->page_keys, key))
        sm_map_put(&x->page_keys, key, (void *)1);
    free(kc->key[i]);
    kc->key[i] = sm_strndup(key, len);
    kc->len[i] = len;
}

/* Scan a page; *why says why it is not JSON. An empty body is an empty
 * page, not a broken one. */
static void read_page(struct rest *x, const struct sm_http_response *res, struct page_info *out,
                      struct sm_err *why)
{
    const struct prj_paginate *p = &x->r->paginate;
    const char *paths[4];
    size_t np = 0;
    int inext = -1, ihas = -1, itotal = -1;
    const char *next = p->type == PRJ_PAGE_CURSOR     ? p->cursor_path
                       : p->type == PRJ_PAGE_NEXT_URL ? p->next_url_path
                                                      : NULL;
    if (next)
        inext = (int)np, paths[np++] = next;
    if (p->has_more_path)
        ihas = (int)np, paths[np++] = p->has_more_path;
    if (p->total_path)
        itotal = (int)np, paths[np++] = p->total_path;
    paths[np] = NULL;
    memset(out, 0, sizeof(*out));
    if (!res->body.len) {
        out->json = true;
        return;
    }
    if (res->truncated) {
        sm_err_set(why, SM_EPARSE, "not valid JSON: the response was cut at %zu bytes",
                   res->body.len);
        return;
    }
    struct sm_jscan_query q = {
        .records = sm_or(x->r->records, ""),
        .paths = paths,
        .record_field = x->r->incremental.cursor_field,
        .on_field = x->r->incremental.cursor_field ? see_cursor_value : NULL,
        .on_key = see_key,
        .ctx = x,
    };
    sm_map_release(&x->page_keys);
    key_cache_clear(&x->recent);
    x->page_keys_bad = false;
    /* The watermark candidates of a page that turns out broken must not
     * count: keep the best so far and put it back on failure. */
    char *wm_max = x->wm_max ? sm_strdup(x->wm_max) : NULL;
    bool wm_num = x->wm_max_num;
    double wm_val = x->wm_max_val;
    if (sm_jscan(res->body.buf, res->body.len, &q, &out->scan, why)) {
        free(x->wm_max);
        x->wm_max = wm_max;
        x->wm_max_num = wm_num;
        x->wm_max_val = wm_val;
        return;
    }
    free(wm_max);
    out->json = true;
    out->nrec = out->scan.nrecords;
    out->next = inext >= 0 ? &out->scan.values[inext] : NULL;
    out->has_more = ihas >= 0 ? &out->scan.values[ihas] : NULL;
    out->total = itotal >= 0 ? &out->scan.values[itotal] : NULL;
}

/* A number's value (JSON numbers, and strings of one: some APIs quote
 * totals). */
static bool value_number(const struct sm_jscan_value *v, double *out)
{
    if (!v || (v->type != SM_JSCAN_NUMBER && v->type != SM_JSCAN_STRING) || !v->text)
        return false;
    char *end = NULL;
    errno = 0;
    double d = strtod(v->text, &end);
    if (!*v->text || *end || errno || !isfinite(d) || (v->type == SM_JSCAN_STRING && !v->len))
        return false;
    *out = d;
    return true;
}

/* The records of a parent page (parsed whole: the fan-out reads fields
 * of every record): an array's elements, or one object. */
static size_t page_records(json_t *page, const char *path, json_t **out_arr)
{
    json_t *v = json_at(page, sm_or(path, ""));
    *out_arr = json_is_array(v) ? v : NULL;
    if (json_is_array(v))
        return json_array_size(v);
    return json_is_object(v) ? 1 : 0;
}

/* --- the watermark --------------------------------------------------------------- */

static bool parse_num(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* Is value (text of a JSON scalar, is_num when it was a number) above the
 * best so far? Numbers compare as numbers, everything else as text: ISO
 * 8601 times in one format and zone sort as text. */
static bool above(const char *value, bool is_num, double num, const char *best)
{
    double b;
    if (!best)
        return true;
    if (is_num && parse_num(best, &b))
        return num > b;
    return strcmp(value, best) > 0;
}

/* jscan's on_field: the cursor field of one record. */
static void see_cursor_value(void *ctx, const struct sm_jscan_value *v)
{
    struct rest *x = ctx;
    if (v->type != SM_JSCAN_STRING && v->type != SM_JSCAN_NUMBER)
        return;
    if (memchr(v->text, 0, v->len))
        return; /* not something a query parameter can carry */
    bool is_num = v->type == SM_JSCAN_NUMBER;
    double num = 0;
    if (is_num && !parse_num(v->text, &num))
        return;
    if (above(v->text, is_num, num, x->wm_max)) {
        free(x->wm_max);
        x->wm_max = sm_strndup(v->text, v->len);
        x->wm_max_num = is_num;
        x->wm_max_val = num;
    }
}

/* Parse "YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" into UTC seconds.
 * *out_zone says whether it had a zone; *out_sep is 'T' or ' '. */
static bool parse_iso(const char *s, int64_t *out, bool *out_zone, char *out_sep)
{
    int y, mo, d, h, mi, sec, n = 0;
    char sep;
    if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &sec, &n) != 7 ||
        (sep != 'T' && sep != ' '))
        return false;
    const char *p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int64_t off = 0;
    *out_zone = false;
    if (*p == 'Z') {
        *out_zone = true;
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return false;
        off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        *out_zone = true;
        p += 6;
    }
    if (*p)
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *out = (int64_t)timegm(&tm) - off;
    *out_sep = sep;
    return true;
}

/* The value to send for watermark wm: lookback seconds earlier. */
static char *since_value(const struct prj_source *src, const char *wm)
{
    int lb = src->rest.incremental.lookback;
    if (!lb)
        return sm_strdup(wm);
    double num;
    int64_t i;
    if (!sm_parse_i64(wm, &i))
        return sm_asprintf("%lld", (long long)(i - lb));
    if (parse_num(wm, &num))
        return sm_asprintf("%.17g", num - lb);
    int64_t t;
    bool zone;
    char sep;
    if (parse_iso(wm, &t, &zone, &sep)) {
        time_t tt = (time_t)(t - lb);
        struct tm tm;
        gmtime_r(&tt, &tm);
        char buf[40];
        strftime(buf, sizeof(buf), sep == 'T' ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
        return sm_asprintf("%s%s", buf, zone ? "Z" : "");
    }
    sm_warn("source '%s': cannot subtract 'lookback' from watermark '%s' (neither a number nor "
            "an ISO 8601 time); sending it as it is",
            src->name, wm);
    return sm_strdup(wm);
}

/* --- pagination ------------------------------------------------------------------ */

/* Remember a cursor or next URL; the same one twice means the API would
 * send us round in circles. */
static int check_seen(struct rest *x, struct pager *pg, const char *key, const char *what,
                      const char *shown, int n, struct sm_err *err)
{
    if (sm_map_get(&pg->seen, key))
        return sm_err_set(err, SM_EPARSE,
                          "the API sent %s '%s' a second time (page %d): stopping, as following "
                          "it would fetch the same pages again; check 'paginate' in %s",
                          what, shown, n, x->src->file);
    sm_map_put(&pg->seen, key, (void *)1);
    return 0;
}

/* A next URL from the API: resolved against the page's URL, and only on
 * the API's own origin, where the credentials may go. */
static int set_next_url(struct rest *x, struct pager *pg, const char *cur_url, const char *ref,
                        int n, struct sm_err *err)
{
    char *next = NULL;
    SM_TRY(sm_http_url_resolve(cur_url, ref, &next, err));
    char *shown = shown_url(x, next);
    int rc = 0;
    if (!sm_http_same_origin(next, x->base))
        rc = sm_err_set(err, SM_EINVALID,
                        "page %d links to '%s', which is not on the API's host: not following "
                        "it with the source's credentials",
                        n, shown);
    if (!rc)
        rc = check_seen(x, pg, next, "next URL", shown, n, err);
    free(shown);
    if (rc) {
        sec_value_free(next);
        return rc;
    }
    sec_value_free(pg->next_url);
    pg->next_url = next;
    return 0;
}

/* Decide from page n (pi->json false when it is not JSON) whether there is
 * a next page and set pg up for it. *out_more false = done. */
static int advance(struct rest *x, struct pager *pg, int n, const char *url,
                   const struct sm_http_response *res, const struct page_info *pi, bool *out_more,
                   struct sm_err *err)
{
    const struct prj_paginate *p = &x->r->paginate;
    bool page = pi->json;
    size_t nrec = pi->nrec;
    *out_more = false;
    if (p->type == PRJ_PAGE_NONE)
        return 0;
    if (p->max_pages && n >= p->max_pages)
        return 0;
    if (page) {
        if (p->stop_on_empty && nrec == 0)
            return 0;
        const struct sm_jscan_value *v = pi->has_more;
        double zero = 1;
        if (v && (v->type == SM_JSCAN_FALSE ||
                  (v->type == SM_JSCAN_NUMBER && value_number(v, &zero) && zero == 0) ||
                  (v->type == SM_JSCAN_STRING && !strcmp(v->text, "false"))))
            return 0;
    }
    double total = 0;
    bool have_total = page && value_number(pi->total, &total);
    switch (p->type) {
    case PRJ_PAGE_NONE:
        return 0;
    case PRJ_PAGE_OFFSET:
        if (!page && p->limit <= 0)
            break; /* cannot know how far to skip */
        if (page && nrec == 0)
            return 0; /* the offset would not move */
        pg->offset += page ? (int64_t)nrec : p->limit;
        if (have_total && (double)pg->offset >= total)
            return 0;
        *out_more = true;
        return 0;
    case PRJ_PAGE_PAGE:
        if (have_total && (double)pg->page >= total)
            return 0;
        pg->page++;
        *out_more = true;
        return 0;
    case PRJ_PAGE_CURSOR: {
        if (!page)
            break;
        const struct sm_jscan_value *v = pi->next;
        if (!v || (v->type != SM_JSCAN_STRING && v->type != SM_JSCAN_NUMBER) || !v->len ||
            memchr(v->text, 0, v->len))
            return 0;
        int rc = check_seen(x, pg, v->text, "cursor", v->text, n, err);
        if (rc)
            return rc;
        free(pg->cursor);
        pg->cursor = sm_strdup(v->text);
        *out_more = true;
        return 0;
    }
    case PRJ_PAGE_NEXT_URL: {
        if (!page)
            break;
        const struct sm_jscan_value *v = pi->next;
        if (!v || v->type != SM_JSCAN_STRING || !v->len || memchr(v->text, 0, v->len))
            return 0;
        SM_TRY(set_next_url(x, pg, url, v->text, n, err));
        *out_more = true;
        return 0;
    }
    case PRJ_PAGE_LINK_HEADER: {
        const char *link = sm_http_response_header(res, "link");
        char *next = link ? sm_http_link_target(link, "next") : NULL;
        if (!next)
            return 0;
        int rc = set_next_url(x, pg, url, next, n, err);
        free(next);
        SM_TRY(rc);
        *out_more = true;
        return 0;
    }
    }
    return sm_err_set(err, SM_EPARSE,
                      "page %d is not JSON, so the next page cannot be found: stopping (the page "
                      "is landed and bronze quarantines it)",
                      n);
}

/* The error for an answer that is not a success, with what to check. */
static int status_error(const struct rest *x, const char *method, const char *shown,
                        const struct sm_http_response *res, struct sm_err *err)
{
    long st = res->status;
    bool denied = st == 401 || st == 403;
    char *lu = log_url(x, shown);
    char after[48] = "", hint[256] = "";
    if (res->attempts > 1)
        snprintf(after, sizeof(after), " after %d attempts", res->attempts);
    if (denied)
        snprintf(hint, sizeof(hint), ": check 'auth' in %s (a wrong or expired token?)",
                 x->src->file);
    else if (st == 404)
        snprintf(hint, sizeof(hint), ": check 'base_url' and 'resource' in %s", x->src->file);
    else if (st == 429)
        snprintf(hint, sizeof(hint), ": lower 'rate_limit' in %s", x->src->file);
    int rc = sm_err_set(err, denied ? SM_ECONFIG : SM_ENET, "%s %s answered HTTP %ld %s%s%s",
                        method, lu, st, sm_http_reason(st), after, hint);
    free(lu);
    return rc;
}

/* --- OAuth 2.0 client credentials ---------------------------------------------- */

/* Seconds before a token's end at which it is replaced: 30, or a quarter of
 * its life when that is shorter, so a request never leaves with a token
 * about to run out on its way. */
static int64_t refresh_margin_ms(int64_t expires_in)
{
    int64_t m = expires_in * 1000 / 4;
    return m < 30000 ? m : 30000;
}

/* Make sure the Authorization header holds a token that is still good:
 * fetch one when there is none, when it is about to expire, or (force)
 * when the API refused it. */
static int get_token(struct rest *x, bool force, struct sm_err *err)
{
    int64_t now = sm_now_ms();
    if (x->have_token && !force && (!x->refresh_ms || now < x->refresh_ms))
        return 0;
    struct sm_oauth_request req = {
        .token_url = x->token_url,
        .log_url = x->token_log_url,
        .client_id = x->client_id,
        .client_secret = x->client_secret,
        .scope = x->scope,
        .params = x->token_params,
        .nparams = x->ntoken_params,
        .client_auth_body = !strcmp(x->r->auth.client_auth, "body"),
    };
    struct sm_oauth_token tok;
    struct sm_err e = SM_ERR_INIT;
    int rc = sm_oauth_fetch(&x->http, &req, &tok, &e);
    if (rc) {
        x->have_token = false;
        if (rc == SM_ECONFIG)
            return sm_err_set(err, rc,
                              "%s: check 'token_url', 'client_id', 'client_secret' and 'scope' "
                              "of 'auth' in %s",
                              e.msg, x->src->file);
        return sm_err_set(err, rc, "%s", e.msg);
    }
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_addf(&b, "Bearer %s", tok.access_token);
    sec_value_free((char *)x->headers[x->auth_header].value);
    x->headers[x->auth_header].value = sm_strndup(b.buf, b.len);
    if (b.alloc)
        memset(b.buf, 0, b.alloc);
    sm_buf_release(&b);
    x->have_token = true;
    x->ntokens++;
    x->refresh_ms =
        tok.expires_in > 0 ? now + tok.expires_in * 1000 - refresh_margin_ms(tok.expires_in) : 0;
    sm_debug("source '%s': new access token from '%s'%s", x->src->name, x->token_log_url,
             tok.expires_in > 0 ? "" : " (no expires_in: kept until the API refuses it)");
    sm_oauth_token_release(&tok);
    return 0;
}

/* Send one request of the source. With OAuth, a token is fetched first when
 * needed, and an answer of 401 gets one new token and one more try. *res is
 * always set up (the caller releases it). */
static int send_request(struct rest *x, const struct sm_http_request *req,
                        struct sm_http_response *res, struct sm_err *err)
{
    memset(res, 0, sizeof(*res));
    if (x->oauth)
        SM_TRY(get_token(x, false, err));
    SM_TRY(sm_http_send(&x->http, req, res, err));
    if (x->oauth && res->status == 401) {
        sm_info("source '%s': %s answered 401: getting a new access token and trying again",
                x->src->name, req->log_url);
        sm_http_response_release(res);
        memset(res, 0, sizeof(*res));
        SM_TRY(get_token(x, true, err));
        SM_TRY(sm_http_send(&x->http, req, res, err));
    }
    return 0;
}

/* --- fetching ---------------------------------------------------------------------- */

static void progress_add(struct rest *x, int64_t pages, int64_t bytes)
{
    struct ing_progress *pr = x->stats->progress;
    if (!pr)
        return;
    atomic_fetch_add(&pr->pages, pages);
    atomic_fetch_add(&pr->bytes, bytes);
}

/* Fetch, land and read every page of the current endpoint (the source's,
 * or a child's for one parent record). */
static int fetch_endpoint(struct rest *x, struct sm_err *err)
{
    const struct prj_rest *r = x->r;
    struct pager pg = {.page = r->paginate.start_page};
    int rc = 0;
    for (int n = 1; !rc; n++) {
        char *url = request_url(x, &pg), *shown = shown_url(x, url), *lu = log_url(x, shown);
        struct sm_http_response res;
        struct sm_http_request req = {
            .method = r->method,
            .url = url,
            .log_url = lu,
            .body = x->body,
            .body_len = x->body ? strlen(x->body) : 0,
            .headers = x->headers,
            .nheaders = x->nheaders,
            .username = x->username,
            .password = x->password,
        };
        if (n == 1 &&
            (r->paginate.type == PRJ_PAGE_NEXT_URL || r->paginate.type == PRJ_PAGE_LINK_HEADER))
            sm_map_put(&pg.seen, url, (void *)1);
        rc = send_request(x, &req, &res, err);
        x->stats->files_seen++;
        if (!rc)
            progress_add(x, 1, (int64_t)res.body.len);
        /* A child endpoint that does not exist for this parent record (an
         * order deleted since it was listed): landed as received, and
         * quarantined by bronze, and the run goes on with the next. */
        bool missing = !rc && res.status == 404 && x->parent_json;
        if (!rc && !missing && (res.status < 200 || res.status > 299))
            rc = status_error(x, r->method, shown, &res, err);
        struct landing l = {.fd = -1};
        if (!rc)
            rc = land_write(x, ++x->npages, &res, &l, err);
        struct page_info pi = {0};
        bool more = false;
        if (!rc && missing) {
            rc = land_queue(x, shown, &res, &l, NULL, err);
            if (!rc)
                sm_warn("source '%s': %s answered HTTP 404 Not Found for parent %s; the answer "
                        "is landed as '%s' and bronze quarantines it",
                        x->src->name, lu, x->parent_json, l.path);
        } else if (!rc) {
            struct sm_err why = SM_ERR_INIT;
            read_page(x, &res, &pi, &why);
            rc = land_queue(x, shown, &res, &l, &pi, err);
            if (!rc && !pi.json)
                sm_warn("source '%s': page %d (%s) is %s; it is landed as '%s' and bronze "
                        "quarantines it",
                        x->src->name, n, lu, why.msg, l.path);
            if (!rc)
                rc = advance(x, &pg, n, url, &res, &pi, &more, err);
        }
        sm_jscan_result_release(&pi.scan);
        if (l.fd >= 0) { /* written but not queued: an error came first */
            close(l.fd);
            unlink(l.path);
        }
        free(l.path);
        sm_http_response_release(&res);
        sec_value_free(url);
        free(shown);
        free(lu);
        if (!more)
            break;
    }
    free(pg.cursor);
    sec_value_free(pg.next_url);
    sm_map_release(&pg.seen);
    return rc;
}

/* --- child endpoints ------------------------------------------------------------------ */

/* One parent record to fan out for. */
struct parent_rec {
    char **values; /* per x->pfields: text of the field (placeholders), or NULL */
    char *json;    /* {"_<parent>_<field>": value, ...}, compact */
    int64_t page_id;
};

/* The raw value of orig_path's fragment parameter name
 * ("#page=1&status=404"): a pointer into orig and its length, or NULL. */
static const char *fragment_raw(const char *orig, const char *name, size_t *len)
{
    const char *h = strrchr(orig, '#');
    size_t nl = strlen(name);
    for (const char *p = h ? h + 1 : NULL; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            *len = n - nl - 1;
            return p + nl + 1;
        }
        p += n + (p[n] == '&');
    }
    return NULL;
}

/* The same, decoded; caller frees. */
static char *fragment_param(const char *orig, const char *name)
{
    size_t n;
    const char *v = fragment_raw(orig, name, &n);
    return v ? sm_percent_decode(v, n) : NULL;
}

/* A scalar that can fill a placeholder: strings, numbers, booleans. */
static char *key_text(const json_t *v)
{
    if (json_is_boolean(v))
        return sm_strdup(json_is_true(v) ? "true" : "false");
    if (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v) &&
        fabs(json_real_value(v)) < 9e15)
        return sm_asprintf("%lld", (long long)json_real_value(v));
    char *t = scalar_text(v);
    if (t && !*t) {
        free(t);
        return NULL;
    }
    return t;
}

/* The parent records of one landed parent page, appended to *recs; a
 * record without a value for a placeholder is counted in *nskipped. */
static void read_parent_page(struct rest *x, const struct prj_source *par,
                             const struct st_landed *l, struct sm_map *seen,
                             struct parent_rec **recs, size_t *n, size_t *alloc, int64_t *nskipped)
{
    char *data = NULL;
    size_t len = 0;
    struct sm_err e = SM_ERR_INIT;
    if (sm_read_file(l->landing_path, &data, &len, &e)) {
        sm_warn("source '%s': cannot read page '%s' of parent '%s': %s", x->src->name,
                l->landing_path, par->name, e.msg);
        return;
    }
    json_error_t jerr;
    json_t *page = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
    if (!page && json_error_code(&jerr) == json_error_numeric_overflow)
        page = json_loadb(data, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
    free(data);
    if (!page)
        return; /* not JSON: the parent's bronze quarantines it */
    json_t *arr = NULL;
    size_t nrec = page_records(page, par->rest.records, &arr);
    struct sm_buf key = SM_BUF_INIT;
    for (size_t i = 0; i < nrec; i++) {
        json_t *rec = arr ? json_array_get(arr, i) : json_at(page, sm_or(par->rest.records, ""));
        if (!json_is_object(rec))
            continue;
        char **values = sm_calloc(x->npfields, sizeof(char *));
        json_t *obj = json_object();
        bool ok = true;
        sm_buf_reset(&key);
        for (size_t f = 0; f < x->npfields; f++) {
            json_t *v = json_at(rec, x->pfields[f].path);
            if (x->pfields[f].key) {
                values[f] = key_text(v);
                ok = ok && values[f];
                if (values[f]) {
                    (void)sm_buf_adds(&key, values[f]);
                    (void)sm_buf_addc(&key, '\x1f');
                }
            }
            json_object_set(obj, x->pfields[f].column, v ? v : json_null());
        }
        if (ok && !sm_map_get(seen, key.buf)) {
            sm_map_put(seen, key.buf, (void *)1);
            SM_ALLOC_GROW(*recs, *n + 1, *alloc);
            struct parent_rec *pr = &(*recs)[(*n)++];
            pr->values = values;
            pr->json = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
            pr->page_id = l->id;
            values = NULL;
        } else if (!ok) {
            (*nskipped)++;
        }
        json_decref(obj);
        for (size_t f = 0; values && f < x->npfields; f++)
            free(values[f]);
        free(values);
    }
    sm_buf_release(&key);
    json_decref(page);
}

/* The fan-out cursor of a child source, kept in its watermark (a child
 * source cannot be incremental itself): the id of the last landed page of
 * its parent whose records were all fanned out, as
 * {"parent": "<name>", "landed_id": N}. Another parent name reads as 0. */
static int64_t fanout_cursor(const struct rest *x)
{
    int64_t id = 0;
    json_error_t jerr;
    json_t *j = x->wm_old ? json_loads(x->wm_old, 0, &jerr) : NULL;
    const json_t *par = json_object_get(j, "parent"), *lid = json_object_get(j, "landed_id");
    if (json_is_string(par) && !strcmp(json_string_value(par), x->r->parent) &&
        json_is_integer(lid))
        id = (int64_t)json_integer_value(lid);
    json_decref(j);
    return id;
}

/* A child source: one endpoint (with its pages) per parent record landed
 * since the last fan-out, in landing order, each parent key once. */
static int fan_out(struct rest *x, struct sm_err *err)
{
    const struct prj_source *par = prj_find_source(x->p, x->r->parent);
    struct st_landed *pages = NULL;
    struct parent_rec *recs = NULL;
    size_t npages = 0, nrecs = 0, alloc = 0, done = 0;
    struct sm_map seen = SM_MAP_INIT;
    int64_t nskipped = 0, after = 0;
    int rc = st_watermark_get(x->st, x->src->name, &x->wm_old, err);
    if (!rc) {
        after = fanout_cursor(x);
        rc = st_landed_list(x->st, par->name, after, &pages, &npages, err);
    }
    for (size_t i = 0; !rc && i < npages; i++) {
        char *status = fragment_param(pages[i].orig_path, "status");
        if (!status)
            read_parent_page(x, par, &pages[i], &seen, &recs, &nrecs, &alloc, &nskipped);
        free(status);
    }
    if (nskipped)
        sm_warn("source '%s': %lld record%s of parent '%s' %s no value for a {field} "
                "placeholder: no request is made for %s",
                x->src->name, (long long)nskipped, nskipped == 1 ? "" : "s", par->name,
                nskipped == 1 ? "has" : "have", nskipped == 1 ? "it" : "them");
    if (x->stats->progress)
        atomic_store(&x->stats->progress->parents_total, (int64_t)nrecs);
    while (!rc && done < nrecs) {
        free(x->parent_json);
        x->parent_json = sm_strdup(recs[done].json);
        set_endpoint(x, recs[done].values);
        rc = fetch_endpoint(x, err);
        if (rc) {
            sm_err_prefix(err, rc, "parent %s", recs[done].json);
            break;
        }
        if (x->stats->progress)
            atomic_fetch_add(&x->stats->progress->parents_done, 1);
        done++;
    }
    /* Move the cursor past every parent page whose records were all done:
     * all of them, or those before the page of the record that failed. */
    int64_t cursor = after, failed_page = done < nrecs ? recs[done].page_id : INT64_MAX;
    for (size_t i = 0; i < npages && (!rc || done < nrecs); i++)
        if (pages[i].id < failed_page)
            cursor = pages[i].id;
    if (cursor > after) {
        char *v =
            sm_asprintf("{\"parent\": \"%s\", \"landed_id\": %lld}", par->name, (long long)cursor);
        struct sm_err e = SM_ERR_INIT;
        int wrc = st_watermark_set(x->st, x->src->name, v, rc ? &e : err);
        if (!rc)
            rc = wrc;
        free(v);
    }
    for (size_t i = 0; i < nrecs; i++) {
        for (size_t f = 0; f < x->npfields; f++)
            free(recs[i].values[f]);
        free(recs[i].values);
        free(recs[i].json);
    }
    free(recs);
    sm_map_release(&seen);
    st_landed_free_array(pages, npages);
    return rc;
}

int ing_rest_land(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
                  struct ing_overlap *ov, struct ing_stats *out, struct sm_err *err)
{
    struct rest x = {.st = st,
                     .p = p,
                     .src = src,
                     .r = &src->rest,
                     .stats = out,
                     .manifest = SM_BUF_INIT,
                     .overlap = ov};
    int rc = 0;
    if (src->rest.incremental.cursor_field) {
        rc = st_watermark_get(st, src->name, &x.wm_old, err);
        if (!rc && x.wm_old)
            x.since = since_value(src, x.wm_old);
    }
    if (!rc)
        rc = rest_setup(&x, err);
    if (!rc)
        rc = src->rest.parent ? fan_out(&x, err) : fetch_endpoint(&x, err);
    { /* the pages written so far are recorded, whatever happened */
        struct sm_err e = SM_ERR_INIT;
        int drc = land_drain(&x, true, rc ? &e : err);
        if (!rc)
            rc = drc;
    }
    if (x.batch_dir) { /* the pages landed so far, whatever happened */
        struct sm_err e = SM_ERR_INIT;
        int mrc = flush_manifest(&x, true, rc ? &e : err);
        if (!rc)
            rc = mrc;
    }
    /* The watermark moves only once every page of the run has landed. */
    if (!rc && x.wm_max && above(x.wm_max, x.wm_max_num, x.wm_max_val, x.wm_old))
        rc = st_watermark_set(st, src->name, x.wm_max, err);
    if (x.http_ready && (x.http.nretries || x.ntokens > 1))
        sm_info("source '%s': %lld request%s, %lld retried%s", src->name,
                (long long)x.http.nrequests, x.http.nrequests == 1 ? "" : "s",
                (long long)x.http.nretries, x.ntokens > 1 ? ", access token renewed" : "");
    if (rc)
        sm_err_prefix(err, rc, "source '%s'", src->name);
    rest_release(&x);
    return rc;
}

/* --- bronze ---------------------------------------------------------------------- */

int ing_rest_check_page(struct eng_db *db, const struct st_landed *page, struct sm_err *err)
{
    const char *path = page->landing_path;
    char *status = fragment_param(page->orig_path, "status");
    if (status) {
        int64_t code = 0;
        char *parent = fragment_param(page->orig_path, "parent");
        if (sm_parse_i64(status, &code))
            code = 0;
        int rc = sm_err_set(err, SM_EPARSE,
                            "HTTP %lld %s%s%s: the API has no such resource for this parent "
                            "record; the answer is landed as received and not read as records",
                            (long long)code, sm_http_reason((long)code),
                            parent ? " for parent " : "", sm_or(parent, ""));
        free(parent);
        free(status);
        return rc;
    }
    if (page->size == 0)
        return 0; /* an empty page has no records */
    char *checked = fragment_param(page->orig_path, "json");
    bool json = checked && !strcmp(checked, "1");
    free(checked);
    if (json)
        return 0; /* checked by util/jscan when it landed */
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "SELECT CAST(json_valid(content) AS INTEGER) FROM read_text(");
    (void)sm_buf_add_sql_str(&q, path);
    (void)sm_buf_adds(&q, ")");
    int64_t ok = 0;
    int rc = eng_query_i64(db, q.buf, &ok, err);
    if (!rc && !ok) {
        /* json() fails saying where and why. */
        struct sm_err e = SM_ERR_INIT;
        sm_buf_reset(&q);
        (void)sm_buf_adds(&q, "SELECT CAST(json(content) IS NOT NULL AS INTEGER) FROM read_text(");
        (void)sm_buf_add_sql_str(&q, path);
        (void)sm_buf_adds(&q, ")");
        if (!eng_query_i64(db, q.buf, &ok, &e))
            sm_err_clear(&e);
        rc = sm_err_set(err, SM_EPARSE, "not valid JSON: %s",
                        e.code ? e.msg : "DuckDB's json_valid() says no");
    }
    sm_buf_release(&q);
    return rc;
}

/* Names of the temporary tables of src: smelt_rest_<what>_<src>. */
static void add_tmp(struct sm_buf *b, const struct prj_source *src, const char *what)
{
    (void)sm_buf_addf(b, "smelt_rest_%s_%s", what, src->name);
}

void ing_rest_select(struct sm_buf *b, const struct prj_source *src, const char *what)
{
    /* The general path creates rows in _n order, which a plain scan keeps
     * (DuckDB preserves insertion order); the fast path reads the pages in
     * the order DuckDB's reader and join give. No sort: row order in a
     * Delta table means nothing, and a million-row sort is not free. */
    bool rows = !strcmp(what, "rows");
    (void)sm_buf_adds(b, rows ? "SELECT * EXCLUDE (_n) FROM " : "SELECT * FROM ");
    add_tmp(b, src, what);
}

void ing_rest_unstage(struct eng_db *db, const struct prj_source *src)
{
    /* views first: they read the tables */
    static const char *const views[] = {"recv", "rows"};
    static const char *const tables[] = {"rows", "pages", "recs", "typed", "rejects"};
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        struct sm_buf q = SM_BUF_INIT;
        (void)sm_buf_adds(&q, "DROP VIEW IF EXISTS ");
        add_tmp(&q, src, views[i]);
        if (eng_exec(db, q.buf, NULL) && strcmp(views[i], "rows"))
            sm_debug("cannot drop a temporary view of '%s'", src->name);
        sm_buf_release(&q);
    }
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        struct sm_buf q = SM_BUF_INIT;
        (void)sm_buf_adds(&q, "DROP TABLE IF EXISTS ");
        add_tmp(&q, src, tables[i]);
        if (eng_exec(db, q.buf, NULL) && strcmp(tables[i], "rows"))
            sm_debug("cannot drop a temporary table of '%s'", src->name);
        sm_buf_release(&q);
    }
}

/* '$."a"."b"': a canonical path as a DuckDB JSON path. */
static void add_json_path(struct sm_buf *b, const char *path)
{
    struct sm_buf jp = SM_BUF_INIT;
    (void)sm_buf_addc(&jp, '$');
    for (const char *p = path; p && *p;) {
        size_t n = strcspn(p, ".");
        (void)sm_buf_adds(&jp, ".\"");
        (void)sm_buf_add(&jp, p, n);
        (void)sm_buf_addc(&jp, '"');
        p += n + (p[n] == '.');
    }
    (void)sm_buf_add_sql_str(b, jp.buf);
    sm_buf_release(&jp);
}

static void add_provenance(struct sm_buf *b, size_t skip)
{
    (void)sm_buf_addf(b,
                      "batch_id AS _batch_id, substr(path, %zu) AS _source_file, "
                      "ing_at AS _ingested_at, url AS _source_url",
                      skip);
}

/* Types that are read from the JSON value itself rather than from its text. */
static bool nested_type(const char *t)
{
    return strchr(t, '[') || strcasestr(t, "STRUCT") || strcasestr(t, "MAP") ||
           strcasestr(t, "UNION") || !strcasecmp(t, "JSON");
}

/* A column of a source with declared columns: declared, or a parent
 * column (read from the record's parent key, pk, rather than the record). */
struct dcol {
    const char *name;
    char *type;
    bool pk;
};

/* "the raw value is there but its cast gave NULL" for column c */
static void add_bad(struct sm_buf *b, const struct dcol *c)
{
    (void)sm_buf_addf(b, "(coalesce(json_type(%s, ", c->pk ? "pk" : "r");
    add_json_path(b, c->name);
    (void)sm_buf_adds(b, "), 'NULL') <> 'NULL' AND ");
    (void)sm_buf_add_sql_ident(b, c->name);
    (void)sm_buf_adds(b, " IS NULL)");
}

static void add_any_bad(struct sm_buf *b, const struct dcol *cols, size_t n)
{
    (void)sm_buf_adds(b, "(false");
    for (size_t i = 0; i < n; i++) {
        (void)sm_buf_adds(b, " OR ");
        add_bad(b, &cols[i]);
    }
    (void)sm_buf_adds(b, ")");
}

/* The parent columns of a child source ("_<parent>_<field>"), in order. */
static size_t parent_columns(const struct prj_source *src, char ***out)
{
    struct rest x = {.src = src, .r = &src->rest};
    size_t n = 0;
    *out = NULL;
    if (!src->rest.parent)
        return 0;
    /* The same fields, in the same order, as the landing used. */
    x.param_tmpls = sm_calloc(src->rest.params.n ? src->rest.params.n : 1, sizeof(*x.param_tmpls));
    if (!sm_tmpl_parse(sm_or(src->rest.resource, ""), &x.resource.t, NULL)) {
        for (size_t i = 0; i < src->rest.params.n; i++)
            if (sm_tmpl_parse(src->rest.params.items[i].value, &x.param_tmpls[i].t, NULL))
                sm_tmpl_release(&x.param_tmpls[i].t);
        collect_pfields(&x);
    }
    *out = sm_calloc(x.npfields ? x.npfields : 1, sizeof(char *));
    for (size_t i = 0; i < x.npfields; i++) {
        (*out)[n++] = x.pfields[i].column;
        x.pfields[i].column = NULL;
        free(x.pfields[i].path);
    }
    free(x.pfields);
    sm_tmpl_release(&x.resource.t);
    for (size_t i = 0; i < src->rest.params.n; i++)
        sm_tmpl_release(&x.param_tmpls[i].t);
    free(x.param_tmpls);
    return n;
}

/* The parent columns of a batch, typed: what bronze has, or else what the
 * JSON values of this batch's parent keys are (whole numbers BIGINT,
 * numbers DOUBLE, booleans BOOLEAN, anything else VARCHAR, objects and
 * arrays as their JSON text). *out is an array of *n, freed with
 * dcols_free(). */
static int parent_dcols(struct eng_db *db, const struct prj_source *src,
                        const struct tbl_snapshot *bronze, struct dcol **out, size_t *n,
                        struct sm_err *err)
{
    char **names = NULL;
    size_t np = parent_columns(src, &names);
    struct dcol *cols = sm_calloc(np ? np : 1, sizeof(*cols));
    int rc = 0;
    for (size_t j = 0; j < np; j++) {
        cols[j].name = names[j]; /* owned: freed by dcols_free */
        cols[j].pk = true;
        for (size_t i = 0; bronze && i < bronze->ncolumns && !cols[j].type; i++)
            if (!strcasecmp(bronze->columns[i].name, names[j]) && bronze->columns[i].sql_type)
                cols[j].type = sm_strdup(bronze->columns[i].sql_type);
        if (cols[j].type || rc)
            continue;
        struct sm_buf q = SM_BUF_INIT;
        (void)sm_buf_adds(&q, "SELECT CASE WHEN bool_and(t IN ('BIGINT', 'UBIGINT')) THEN "
                              "'BIGINT' WHEN bool_and(t IN ('BIGINT', 'UBIGINT', 'DOUBLE')) THEN "
                              "'DOUBLE' WHEN bool_and(t = 'BOOLEAN') THEN 'BOOLEAN' ELSE "
                              "'VARCHAR' END FROM (SELECT json_type(CAST(parent AS JSON), ");
        add_json_path(&q, names[j]);
        (void)sm_buf_adds(&q, ") AS t FROM ");
        add_tmp(&q, src, "pages");
        (void)sm_buf_adds(&q, ") WHERE t IS NOT NULL AND t <> 'NULL'");
        rc = eng_query_scalar(db, q.buf, &cols[j].type, err);
        sm_buf_release(&q);
        if (!rc && !cols[j].type)
            cols[j].type = sm_strdup("VARCHAR");
    }
    free(names);
    *out = cols;
    *n = np;
    return rc;
}

static void dcols_free(struct dcol *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)cols[i].name);
        free(cols[i].type);
    }
    free(cols);
}

/* ", TRY_CAST(json_extract_string(<pk>, '$."col"') AS T) AS "col"" for
 * each parent column. */
static void add_parent_selects(struct sm_buf *q, const struct dcol *pcols, size_t n, const char *pk)
{
    for (size_t i = 0; i < n; i++) {
        (void)sm_buf_addf(q, ", TRY_CAST(json_extract_string(%s, ", pk);
        add_json_path(q, pcols[i].name);
        (void)sm_buf_addf(q, ") AS %s) AS ", pcols[i].type);
        (void)sm_buf_add_sql_ident(q, pcols[i].name);
    }
}

/* Declared columns: TRY_CAST each, and route records that do not cast to
 * the rejects with every failing column named. A child source's parent
 * columns come after them (unless declared), typed by parent_column_type(). */
static int stage_declared(struct eng_db *db, const struct prj_source *src, const struct dcol *pcols,
                          size_t npcols, size_t skip, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    size_t n = 0;
    struct dcol *cols = sm_calloc(src->ncolumns + npcols + 1, sizeof(*cols));
    int rc = 0;
    for (size_t i = 0; i < src->ncolumns; i++) {
        cols[n].name = src->columns[i].name;
        cols[n].type = sm_strdup(src->columns[i].type);
        for (size_t j = 0; j < npcols; j++)
            cols[n].pk |= !strcasecmp(pcols[j].name, cols[n].name);
        n++;
    }
    for (size_t j = 0; j < npcols; j++) {
        bool declared = false;
        for (size_t i = 0; i < src->ncolumns; i++)
            declared |= !strcasecmp(pcols[j].name, src->columns[i].name);
        if (declared)
            continue;
        cols[n].name = pcols[j].name;
        cols[n].type = sm_strdup(pcols[j].type);
        cols[n++].pk = true;
    }

    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE ");
    add_tmp(&q, src, "typed");
    (void)sm_buf_adds(&q, " AS SELECT _n, path, url, batch_id, ing_at, q_at, _rec, r, pk");
    for (size_t i = 0; i < n; i++) {
        bool nested = nested_type(cols[i].type);
        (void)sm_buf_addf(&q, ", TRY_CAST(%s(%s, ", nested ? "json_extract" : "json_extract_string",
                          cols[i].pk ? "pk" : "r");
        add_json_path(&q, cols[i].name);
        (void)sm_buf_addf(&q, ") AS %s) AS ", cols[i].type);
        (void)sm_buf_add_sql_ident(&q, cols[i].name);
    }
    (void)sm_buf_adds(&q, " FROM ");
    add_tmp(&q, src, "recs");
    (void)sm_buf_adds(&q, " WHERE json_type(r) = 'OBJECT'");
    if (!rc)
        rc = eng_exec(db, q.buf, err);

    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE ");
    add_tmp(&q, src, "rows");
    (void)sm_buf_adds(&q, " AS SELECT _n, ");
    for (size_t i = 0; i < n; i++) {
        (void)sm_buf_add_sql_ident(&q, cols[i].name);
        (void)sm_buf_adds(&q, ", ");
    }
    add_provenance(&q, skip);
    (void)sm_buf_adds(&q, " FROM ");
    add_tmp(&q, src, "typed");
    (void)sm_buf_adds(&q, " WHERE NOT ");
    add_any_bad(&q, cols, n);
    (void)sm_buf_adds(&q, " ORDER BY _n");
    if (!rc)
        rc = eng_exec(db, q.buf, err);

    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "INSERT INTO ");
    add_tmp(&q, src, "rejects");
    (void)sm_buf_addf(&q, " SELECT substr(path, %zu), _rec, CASE", skip);
    for (size_t i = 0; i < n; i++) {
        (void)sm_buf_adds(&q, " WHEN ");
        add_bad(&q, &cols[i]);
        (void)sm_buf_adds(&q, " THEN ");
        (void)sm_buf_add_sql_str(&q, cols[i].name);
    }
    (void)sm_buf_adds(&q, " END, 'CAST ERROR', CAST(r AS VARCHAR), concat_ws('; '");
    for (size_t i = 0; i < n; i++) {
        struct sm_buf msg = SM_BUF_INIT;
        (void)sm_buf_addf(&msg, " to %s for column '%s'", cols[i].type, cols[i].name);
        (void)sm_buf_adds(&q, ", CASE WHEN ");
        add_bad(&q, &cols[i]);
        (void)sm_buf_addf(&q, " THEN 'cannot cast ' || CAST(json_extract(%s, ",
                          cols[i].pk ? "pk" : "r");
        add_json_path(&q, cols[i].name);
        (void)sm_buf_adds(&q, ") AS VARCHAR) || ");
        (void)sm_buf_add_sql_str(&q, msg.buf);
        (void)sm_buf_adds(&q, " END");
        sm_buf_release(&msg);
    }
    (void)sm_buf_adds(&q, "), batch_id, q_at FROM ");
    add_tmp(&q, src, "typed");
    (void)sm_buf_adds(&q, " WHERE ");
    add_any_bad(&q, cols, n);
    (void)sm_buf_adds(&q, " ORDER BY _n");
    if (!rc)
        rc = eng_exec(db, q.buf, err);
    for (size_t i = 0; i < n; i++)
        free(cols[i].type);
    free(cols);
    sm_buf_release(&q);
    return rc;
}

/* No declared columns: let read_json infer the types, exactly as for JSON
 * files, from the extracted records written as NDJSON to a temp file. The
 * general path, for pages stage_fast() cannot read. */
static int stage_inferred(struct eng_db *db, const struct prj_project *p,
                          const struct prj_source *src, const struct dcol *pcols, size_t npcols,
                          size_t skip, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    char *rnd = sm_random_hex(6);
    char *tmp = sm_asprintf("%s/smelt-rest-%s-%s.ndjson", p->temp_directory, src->name, rnd);
    free(rnd);
    int64_t nobj = 0;
    char *rtype = NULL;
    (void)sm_buf_adds(&q, "SELECT count(*) FROM ");
    add_tmp(&q, src, "recs");
    (void)sm_buf_adds(&q, " WHERE json_type(r) = 'OBJECT'");
    int rc = eng_query_i64(db, q.buf, &nobj, err);
    if (rc)
        goto out;

    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE ");
    add_tmp(&q, src, "rows");
    if (!nobj) {
        (void)sm_buf_adds(&q, " AS SELECT _n");
        add_parent_selects(&q, pcols, npcols, "pk");
        (void)sm_buf_adds(&q, ", ");
        add_provenance(&q, skip);
        (void)sm_buf_adds(&q, " FROM ");
        add_tmp(&q, src, "recs");
        (void)sm_buf_adds(&q, " WHERE false");
    } else {
        struct sm_buf c = SM_BUF_INIT;
        if ((rc = sm_mkdirs(p->temp_directory, err)))
            goto out;
        (void)sm_buf_adds(&c, "COPY (SELECT _n, r FROM ");
        add_tmp(&c, src, "recs");
        (void)sm_buf_adds(&c, " WHERE json_type(r) = 'OBJECT' ORDER BY _n) TO ");
        (void)sm_buf_add_sql_str(&c, tmp);
        (void)sm_buf_adds(&c, " (FORMAT json)");
        rc = eng_exec(db, c.buf, err);
        sm_buf_reset(&c);
        (void)sm_buf_adds(&c, "read_json(");
        (void)sm_buf_add_sql_str(&c, tmp);
        (void)sm_buf_adds(&c, ", format='newline_delimited', sample_size=-1, "
                              "map_inference_threshold=-1)");
        struct sm_buf t = SM_BUF_INIT;
        (void)sm_buf_addf(&t, "SELECT typeof(r) FROM %s LIMIT 1", c.buf);
        if (!rc)
            rc = eng_query_scalar(db, t.buf, &rtype, err);
        sm_buf_release(&t);
        /* Objects that are all empty give no STRUCT: keep them as JSON. */
        bool st = rtype && sm_starts_with(rtype, "STRUCT(");
        (void)sm_buf_addf(&q, " AS SELECT _n, %s", st ? "unnest(j.r)" : "j.r AS _record");
        add_parent_selects(&q, pcols, npcols, "pk");
        (void)sm_buf_adds(&q, ", ");
        add_provenance(&q, skip);
        (void)sm_buf_addf(&q, " FROM %s j JOIN ", c.buf);
        add_tmp(&q, src, "recs");
        (void)sm_buf_adds(&q, " USING (_n) ORDER BY _n");
        sm_buf_release(&c);
        if (rc)
            goto out;
    }
    rc = eng_exec(db, q.buf, err);
out:
    unlink(tmp);
    free(tmp);
    free(rtype);
    sm_buf_release(&q);
    return rc;
}

static bool provenance_col(const char *name);

/* read_json over the batch's pages as whole documents; with an explicit
 * type (columns=) or, without, inferring from a sample of the pages (the
 * first 32, DuckDB's default) or from all of them (full). */
static void add_read_pages(struct sm_buf *q, const struct st_landed **pages, size_t n,
                           const char *type, bool full)
{
    int64_t maxsize = 0;
    for (size_t i = 0; i < n; i++)
        if (pages[i]->size > maxsize)
            maxsize = pages[i]->size;
    (void)sm_buf_adds(q, "read_json([");
    for (size_t i = 0; i < n; i++) {
        if (i)
            (void)sm_buf_addc(q, ',');
        (void)sm_buf_add_sql_str(q, pages[i]->landing_path);
    }
    (void)sm_buf_addf(q,
                      "], format='unstructured', records=false, filename=true, "
                      "map_inference_threshold=-1, maximum_object_size=%lld",
                      (long long)maxsize + 1);
    if (type) {
        (void)sm_buf_adds(q, ", columns={'json': ");
        (void)sm_buf_add_sql_str(q, type);
        (void)sm_buf_adds(q, "}");
    } else if (full) {
        (void)sm_buf_adds(q, ", sample_size=-1, maximum_sample_files=-1");
    }
    (void)sm_buf_adds(q, ")");
}

/* "json"."a"."b": the records path in a page document. */
static void add_records_expr(struct sm_buf *q, const struct prj_source *src)
{
    (void)sm_buf_adds(q, "json");
    for (const char *r = sm_or(src->rest.records, ""); *r;) {
        size_t k = strcspn(r, ".");
        char *key = sm_strndup(r, k);
        (void)sm_buf_adds(q, ".");
        (void)sm_buf_add_sql_ident(q, key);
        free(key);
        r += k + (r[k] == '.');
    }
}

/* The fields of the records as DuckDB infers them: from their type, a
 * list of objects (*list) or one object. desc gets (name, type) rows from
 * row *first on. Nonzero with nothing set when the records are anything
 * else. A list of objects, the usual case, costs one read of the sample:
 * the type of the records and the fields of their first element are one
 * DESCRIBE; anything else takes two. */
static int infer_fields(struct eng_db *db, const struct prj_source *src,
                        const struct st_landed **pages, size_t n, bool full, bool *list,
                        struct eng_result **desc, size_t *first)
{
    struct sm_buf q = SM_BUF_INIT, path = SM_BUF_INIT;
    char *type = NULL;
    *desc = NULL;
    *first = 0;
    add_records_expr(&path, src);
    (void)sm_buf_addf(&q, "DESCRIBE SELECT %s AS \"smelt$v\", unnest(%s[1]) FROM ", path.buf,
                      path.buf);
    add_read_pages(&q, pages, n, NULL, full);
    int rc = eng_query(db, q.buf, desc, NULL);
    const char *t = !rc && eng_result_nrows(*desc) > 1 ? eng_result_str(*desc, 1, 0) : NULL;
    bool ok = t && sm_starts_with(t, "STRUCT(") && sm_ends_with(t, ")[]") &&
              !sm_ends_with(t, ")[][]") && !sm_starts_with(t, "STRUCT()");
    for (size_t j = 1; ok && j < eng_result_nrows(*desc); j++)
        ok = !sm_starts_with(sm_or(eng_result_str(*desc, 0, j), ""), "smelt$");
    if (ok) {
        *list = true;
        *first = 1;
        goto out;
    }
    eng_result_free(*desc);
    *desc = NULL;

    sm_buf_reset(&q);
    (void)sm_buf_addf(&q, "SELECT column_type FROM (DESCRIBE SELECT %s AS v FROM ", path.buf);
    add_read_pages(&q, pages, n, NULL, full);
    (void)sm_buf_adds(&q, ")");
    rc = eng_query_scalar(db, q.buf, &type, NULL);
    bool l = !rc && type && sm_starts_with(type, "STRUCT(") && sm_ends_with(type, ")[]") &&
             !sm_ends_with(type, ")[][]");
    bool one = !rc && type && sm_starts_with(type, "STRUCT(") && sm_ends_with(type, ")");
    if (rc || (!l && !one) || sm_starts_with(type, "STRUCT()")) {
        sm_debug("source '%s': the records are %s, not objects DuckDB can type", src->name,
                 sm_or(type, "missing"));
        rc = SM_EPARSE;
        goto out;
    }
    sm_buf_reset(&q);
    if (l)
        (void)sm_buf_addf(&q, "DESCRIBE SELECT unnest(r) FROM (SELECT unnest(%s) AS r FROM ",
                          path.buf);
    else
        (void)sm_buf_addf(&q, "DESCRIBE SELECT unnest(%s) FROM ", path.buf);
    add_read_pages(&q, pages, n, NULL, full);
    if (l)
        (void)sm_buf_adds(&q, ")");
    rc = eng_query(db, q.buf, desc, NULL);
    *list = l;
out:
    free(type);
    sm_buf_release(&q);
    sm_buf_release(&path);
    return rc;
}

/* Types DuckDB gives values it can only keep as JSON text in bronze. */
static bool as_json(const char *t)
{
    return nested_type(t) || !strcmp(t, "NULL") || !strcmp(t, "\"NULL\"");
}

/* The keys a landed page listed (&keys=, see add_new_keys) into *keys;
 * false when it listed none (a key with a NUL byte: unknown). */
static bool listed_keys(const struct st_landed *page, struct sm_map *keys)
{
    size_t len;
    const char *v = fragment_raw(page->orig_path, "keys", &len);
    if (!v)
        return false;
    for (size_t j = 0; j < len;) {
        size_t k = j;
        while (k < len && v[k] != ',')
            k++;
        char *key = sm_percent_decode(v + j, k - j);
        if (*key)
            sm_map_put(keys, key, (void *)1);
        free(key);
        j = k + 1;
    }
    return true;
}

/* Was the page found to be JSON when it landed, with records that are
 * all objects? */
static bool checked_objects(const struct st_landed *page)
{
    size_t len;
    const char *v = fragment_raw(page->orig_path, "json", &len);
    return v && len == 1 && *v == '1' && !fragment_raw(page->orig_path, "nonobj", &len);
}

void ing_rest_plan_release(struct ing_rest_plan *pl)
{
    sm_buf_release(&pl->type);
    sm_buf_release(&pl->cols);
    sm_map_release(&pl->fields);
    memset(pl, 0, sizeof(*pl));
}

/* The fast path's plan for a batch of a source without declared columns.
 * DuckDB's JSON reader takes the pages whole, with the records' fields
 * typed by inference from a sample of the pages (its first 32): the
 * landing listed every key the records of each page have (&keys=), so a
 * key the sample missed sends inference over every page instead. Fields
 * are read with those types, objects and arrays (and fields whose values
 * mix types) as their JSON text, and no record is parsed twice.
 *
 * It applies when every page was found to be JSON when it landed, and its
 * records (at the records path) are objects; for anything else it returns
 * false (and *pl holds nothing). pl->fit says that the batch does not fit bronze's columns as it
 * is (fit_to_bronze() must make it). */
static bool fast_plan(struct eng_db *db, const struct prj_source *src,
                      const struct tbl_snapshot *bronze, const struct st_landed **pages, size_t n,
                      const struct dcol *pcols, size_t npcols, struct ing_rest_plan *pl)
{
    struct sm_map keys = SM_MAP_INIT;
    struct eng_result *desc = NULL;
    size_t f0 = 0; /* desc's first field row */
    bool keys_known = true, ok = false;
    memset(pl, 0, sizeof(*pl));
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!checked_objects(pages[i]))
            goto out; /* not checked when landed, or records that are not objects */
        if (!listed_keys(pages[i], &keys))
            keys_known = false;
    }
    if (infer_fields(db, src, pages, n, !keys_known, &pl->list, &desc, &f0))
        goto out;
    if (keys_known) {
        bool missing = false;
        for (size_t i = 0; i < keys.nslots && !missing; i++) {
            const struct sm_map_entry *e = &keys.slots[i];
            if (!e->key || e->deleted)
                continue;
            bool found = false;
            for (size_t j = f0; j < eng_result_nrows(desc) && !found; j++)
                found = !strcmp(sm_or(eng_result_str(desc, 0, j), ""), e->key);
            missing = !found;
        }
        if (missing) {
            sm_debug("source '%s': DuckDB's sample of the pages missed some keys; inferring "
                     "from all of them",
                     src->name);
            eng_result_free(desc);
            if (infer_fields(db, src, pages, n, true, &pl->list, &desc, &f0))
                goto out;
        }
    }

    /* The explicit type of the documents: the records' fields, nested in
     * the records path. */
    size_t depth = 0;
    for (const char *r = sm_or(src->rest.records, ""); *r; depth++) {
        size_t k = strcspn(r, ".");
        char *key = sm_strndup(r, k);
        (void)sm_buf_adds(&pl->type, "STRUCT(");
        (void)sm_buf_add_sql_ident(&pl->type, key);
        (void)sm_buf_adds(&pl->type, " ");
        free(key);
        r += k + (r[k] == '.');
    }
    (void)sm_buf_adds(&pl->type, "STRUCT(");
    for (size_t j = f0; j < eng_result_nrows(desc); j++) {
        const char *name = sm_or(eng_result_str(desc, 0, j), ""),
                   *t = sm_or(eng_result_str(desc, 1, j), "JSON");
        bool js = as_json(t);
        sm_map_put(&pl->fields, name, (void *)1);
        if (j > f0) {
            (void)sm_buf_adds(&pl->type, ", ");
            (void)sm_buf_adds(&pl->cols, ", ");
        }
        (void)sm_buf_add_sql_ident(&pl->type, name);
        (void)sm_buf_addf(&pl->type, " %s", js ? "JSON" : t);
        if (js) {
            (void)sm_buf_adds(&pl->cols, "CAST(");
            (void)sm_buf_add_sql_ident(&pl->cols, name);
            (void)sm_buf_adds(&pl->cols, " AS VARCHAR) AS ");
        }
        (void)sm_buf_add_sql_ident(&pl->cols, name);
        const char *final = js ? "VARCHAR" : t;
        for (size_t k = 0; bronze && k < bronze->ncolumns; k++)
            if (!strcasecmp(bronze->columns[k].name, name) && bronze->columns[k].sql_type &&
                strcasecmp(bronze->columns[k].sql_type, final))
                pl->fit = true;
    }
    (void)sm_buf_addf(&pl->type, ")%s", pl->list ? "[]" : "");
    for (size_t d = 0; d < depth; d++)
        (void)sm_buf_adds(&pl->type, ")");
    /* bronze columns this batch lacks are added by fit_to_bronze() */
    for (size_t k = 0; bronze && k < bronze->ncolumns && !pl->fit; k++) {
        const char *bn = bronze->columns[k].name;
        bool have = provenance_col(bn) || !bronze->columns[k].sql_type;
        for (size_t j = f0; j < eng_result_nrows(desc) && !have; j++)
            have = !strcasecmp(sm_or(eng_result_str(desc, 0, j), ""), bn);
        for (size_t j = 0; j < npcols && !have; j++)
            have = !strcasecmp(pcols[j].name, bn);
        pl->fit = !have;
    }
    ok = true;
out:
    if (!ok)
        ing_rest_plan_release(pl);
    eng_result_free(desc);
    sm_map_release(&keys);
    return ok;
}

bool ing_rest_plan_init(struct eng_db *db, const struct prj_source *src,
                        const struct tbl_snapshot *bronze, const struct st_landed **pages, size_t n,
                        struct ing_rest_plan *out)
{
    memset(out, 0, sizeof(*out));
    if (src->ncolumns || src->rest.parent)
        return false;
    return fast_plan(db, src, bronze, pages, n, NULL, 0, out);
}

bool ing_rest_plan_fits(const struct ing_rest_plan *pl, const struct st_landed *page)
{
    struct sm_map keys = SM_MAP_INIT;
    bool ok = checked_objects(page) && listed_keys(page, &keys);
    for (size_t i = 0; ok && i < keys.nslots; i++)
        if (keys.slots[i].key && !keys.slots[i].deleted)
            ok = sm_map_get(&pl->fields, keys.slots[i].key) != NULL;
    sm_map_release(&keys);
    return ok;
}

/* The records of pages with their page's columns (from the pages table,
 * joined to each page before its records are unnested), as " FROM ...":
 * helper columns are named so that no record field can clash with them. */
static void add_fast_recs(struct sm_buf *b, const struct ing_rest_plan *pl,
                          const struct prj_source *src, const struct st_landed **pages, size_t n,
                          size_t skip)
{
    (void)sm_buf_addf(b,
                      " FROM (SELECT p.page_id AS \"smelt$page\", p.parent AS \"smelt$parent\", "
                      "p.batch_id AS \"smelt$batch\", p.path AS \"smelt$path\", substr(p.path, "
                      "%zu) AS \"smelt$file\", p.url AS \"smelt$url\", p.ing_at AS \"smelt$ing\", "
                      "p.q_at AS \"smelt$q\", ",
                      skip);
    if (pl->list) {
        (void)sm_buf_adds(b, "unnest(x.");
        add_records_expr(b, src);
        (void)sm_buf_adds(b, ") AS \"smelt$r\", CAST(generate_subscripts(x.");
        add_records_expr(b, src);
        (void)sm_buf_adds(b, ", 1) AS BIGINT) AS \"smelt$rec\"");
    } else {
        (void)sm_buf_adds(b, "x.");
        add_records_expr(b, src);
        (void)sm_buf_adds(b, " AS \"smelt$r\", CAST(1 AS BIGINT) AS \"smelt$rec\"");
    }
    (void)sm_buf_adds(b, " FROM ");
    add_read_pages(b, pages, n, pl->type.buf, false);
    (void)sm_buf_adds(b, " x JOIN ");
    add_tmp(b, src, "pages");
    (void)sm_buf_adds(b, " p ON p.path = x.filename) WHERE \"smelt$r\" IS NOT NULL");
}

/* The bronze rows of pages as a SELECT: _n (when with_n) and the record
 * fields, a child's parent columns, then the provenance columns. */
static void add_fast_rows(struct sm_buf *b, const struct ing_rest_plan *pl,
                          const struct prj_source *src, const struct st_landed **pages, size_t n,
                          const struct dcol *pcols, size_t npcols, size_t skip, bool with_n)
{
    (void)sm_buf_addf(b, "SELECT %s%s", with_n ? "\"smelt$n\" AS _n, " : "", pl->cols.buf);
    add_parent_selects(b, pcols, npcols, "CAST(\"smelt$parent\" AS JSON)");
    (void)sm_buf_adds(b, ", \"smelt$batch\" AS _batch_id, \"smelt$file\" AS _source_file, "
                         "\"smelt$ing\" AS _ingested_at, \"smelt$url\" AS _source_url FROM (SELECT "
                         "\"smelt$page\" * 4294967296 + \"smelt$rec\" AS \"smelt$n\", "
                         "unnest(\"smelt$r\"), \"smelt$parent\", \"smelt$batch\", \"smelt$file\", "
                         "\"smelt$url\", \"smelt$ing\"");
    add_fast_recs(b, pl, src, pages, n, skip);
    (void)sm_buf_adds(b, ")");
}

void ing_rest_plan_select(struct sm_buf *b, const struct ing_rest_plan *pl,
                          const struct prj_source *src, const struct st_landed **pages, size_t n,
                          size_t skip)
{
    add_fast_rows(b, pl, src, pages, n, NULL, 0, skip, false);
}

/* The fast path (see fast_plan()). rows is a view, read once by the
 * bronze commit (*out_lazy): if a page beyond the sample holds a value
 * that does not fit its field's type, that read fails, and ingest.c
 * stages the batch again by the general path. When the batch does not fit
 * bronze's columns, rows is a table instead, read here, for
 * fit_to_bronze() (and recv, a view, gives each record's JSON for its
 * quarantine). *out_used false: the general path reads the batch. */
static int stage_fast(struct eng_db *db, const struct prj_source *src,
                      const struct tbl_snapshot *bronze, const struct st_landed **pages, size_t n,
                      const struct dcol *pcols, size_t npcols, size_t skip, bool *out_used,
                      bool *out_lazy, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    struct ing_rest_plan pl;
    int rc = 0;
    *out_used = *out_lazy = false;
    if (!fast_plan(db, src, bronze, pages, n, pcols, npcols, &pl))
        return 0;
    (void)sm_buf_addf(&q, "CREATE OR REPLACE TEMP %s ", pl.fit ? "TABLE" : "VIEW");
    add_tmp(&q, src, "rows");
    (void)sm_buf_adds(&q, " AS ");
    add_fast_rows(&q, &pl, src, pages, n, pcols, npcols, skip, true);
    struct sm_err e = SM_ERR_INIT;
    if (eng_exec(db, q.buf, &e)) {
        /* a page beyond the sample does not fit (only a table is read here) */
        sm_debug("source '%s': the fast path cannot read the pages (%s)", src->name, e.msg);
        goto out;
    }
    if (pl.fit) {
        sm_buf_reset(&q);
        (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP VIEW ");
        add_tmp(&q, src, "recv");
        (void)sm_buf_adds(&q, " AS SELECT \"smelt$page\" * 4294967296 + \"smelt$rec\" AS _n, "
                              "\"smelt$path\" AS path, \"smelt$url\" AS url, \"smelt$batch\" AS "
                              "batch_id, \"smelt$q\" AS q_at, \"smelt$rec\" AS _rec, "
                              "CAST(to_json(\"smelt$r\") AS JSON) AS r");
        add_fast_recs(&q, &pl, src, pages, n, skip);
        if ((rc = eng_exec(db, q.buf, err)))
            goto out;
    }
    *out_used = true;
    *out_lazy = !pl.fit;
out:
    ing_rest_plan_release(&pl);
    sm_buf_release(&q);
    return rc;
}

static bool provenance_col(const char *name)
{
    return !strcmp(name, "_n") || !strcmp(name, "_batch_id") || !strcmp(name, "_source_file") ||
           !strcmp(name, "_ingested_at") || !strcmp(name, "_source_url");
}

/* Inferred types differ from batch to batch (a page where every price is a
 * number after one where some were text), but a bronze column keeps its
 * type (table/ refuses a change). So the batch is made to fit the table:
 * its columns are cast to the table's types, a record whose value does not
 * cast goes to quarantine, and a column the table has and the batch lacks
 * is added as NULLs. */
static int fit_to_bronze(struct eng_db *db, const struct prj_source *src,
                         const struct tbl_snapshot *bronze, const char *recs, size_t skip,
                         struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    struct eng_result *desc = NULL;
    (void)sm_buf_adds(&q, "DESCRIBE ");
    add_tmp(&q, src, "rows");
    int rc = eng_query(db, q.buf, &desc, err);
    for (size_t i = 0; !rc && i < bronze->ncolumns; i++) {
        const struct tbl_column *bc = &bronze->columns[i];
        const char *type = NULL;
        for (size_t j = 0; j < eng_result_nrows(desc) && !type; j++)
            if (!strcasecmp(sm_or(eng_result_str(desc, 0, j), ""), bc->name))
                type = sm_or(eng_result_str(desc, 1, j), "");
        if (provenance_col(bc->name) || !bc->sql_type || (type && !strcasecmp(type, bc->sql_type)))
            continue;
        struct sm_buf ident = SM_BUF_INIT, bad = SM_BUF_INIT;
        (void)sm_buf_add_sql_ident(&ident, bc->name);
        (void)sm_buf_addf(&bad, "%s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL", ident.buf,
                          ident.buf, bc->sql_type);
        sm_buf_reset(&q);
        if (!type) {
            (void)sm_buf_adds(&q, "ALTER TABLE ");
            add_tmp(&q, src, "rows");
            (void)sm_buf_addf(&q, " ADD COLUMN %s %s", ident.buf, bc->sql_type);
            rc = eng_exec(db, q.buf, err);
        } else {
            struct sm_buf msg = SM_BUF_INIT;
            (void)sm_buf_addf(&msg, " to %s for column '%s' (its type in bronze.%s)", bc->sql_type,
                              bc->name, src->name);
            (void)sm_buf_adds(&q, "INSERT INTO ");
            add_tmp(&q, src, "rejects");
            (void)sm_buf_addf(&q, " SELECT substr(c.path, %zu), c._rec, ", skip);
            (void)sm_buf_add_sql_str(&q, bc->name);
            (void)sm_buf_adds(&q, ", 'CAST ERROR', CAST(c.r AS VARCHAR), 'cannot cast ' || "
                                  "CAST(json_extract(c.r, ");
            add_json_path(&q, bc->name);
            (void)sm_buf_adds(&q, ") AS VARCHAR) || ");
            (void)sm_buf_add_sql_str(&q, msg.buf);
            (void)sm_buf_adds(&q, ", c.batch_id, c.q_at FROM ");
            add_tmp(&q, src, "rows");
            (void)sm_buf_adds(&q, " t JOIN ");
            add_tmp(&q, src, recs);
            (void)sm_buf_addf(&q, " c USING (_n) WHERE t.%s ORDER BY _n; DELETE FROM ", bad.buf);
            add_tmp(&q, src, "rows");
            (void)sm_buf_addf(&q, " WHERE %s; ALTER TABLE ", bad.buf);
            add_tmp(&q, src, "rows");
            (void)sm_buf_addf(&q, " ALTER COLUMN %s TYPE %s USING TRY_CAST(%s AS %s)", ident.buf,
                              bc->sql_type, ident.buf, bc->sql_type);
            rc = eng_exec(db, q.buf, err);
            sm_buf_release(&msg);
        }
        sm_buf_release(&ident);
        sm_buf_release(&bad);
    }
    eng_result_free(desc);
    sm_buf_release(&q);
    return rc;
}

/* The Delta writer stores scalar types only (table/): nested values —
 * objects, arrays, JSON — go to bronze as their JSON text. */
static int nested_to_json(struct eng_db *db, const struct prj_source *src, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    struct eng_result *desc = NULL;
    (void)sm_buf_adds(&q, "DESCRIBE ");
    add_tmp(&q, src, "rows");
    int rc = eng_query(db, q.buf, &desc, err);
    for (size_t i = 0; !rc && i < eng_result_nrows(desc); i++) {
        const char *name = eng_result_str(desc, 0, i), *type = eng_result_str(desc, 1, i);
        if (!name || !type || !nested_type(type))
            continue;
        sm_buf_reset(&q);
        (void)sm_buf_adds(&q, "ALTER TABLE ");
        add_tmp(&q, src, "rows");
        (void)sm_buf_adds(&q, " ALTER COLUMN ");
        (void)sm_buf_add_sql_ident(&q, name);
        (void)sm_buf_adds(&q, " TYPE VARCHAR USING CAST(to_json(");
        (void)sm_buf_add_sql_ident(&q, name);
        (void)sm_buf_adds(&q, ") AS VARCHAR)");
        rc = eng_exec(db, q.buf, err);
    }
    eng_result_free(desc);
    sm_buf_release(&q);
    return rc;
}

int ing_rest_pages_table(struct eng_db *db, const struct prj_source *src,
                         const struct st_landed **pages, size_t n, const struct ing_times *times,
                         struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE ");
    add_tmp(&q, src, "pages");
    (void)sm_buf_adds(&q, " (path VARCHAR, url VARCHAR, batch_id VARCHAR, page_id BIGINT, "
                          "parent VARCHAR, ing_at TIMESTAMP, q_at TIMESTAMP)");
    for (size_t i = 0; i < n; i++) {
        (void)sm_buf_adds(&q, i ? ", (" : "; INSERT INTO ");
        if (!i) {
            add_tmp(&q, src, "pages");
            (void)sm_buf_adds(&q, " VALUES (");
        }
        const char *orig = pages[i]->orig_path, *hash = strrchr(orig, '#');
        char *url = hash ? sm_strndup(orig, (size_t)(hash - orig)) : sm_strdup(orig);
        (void)sm_buf_add_sql_str(&q, pages[i]->landing_path);
        (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, url);
        (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, pages[i]->batch_id);
        (void)sm_buf_addf(&q, ", %lld, ", (long long)pages[i]->id);
        char *parent = fragment_param(orig, "parent");
        if (parent)
            (void)sm_buf_add_sql_str(&q, parent);
        else
            (void)sm_buf_adds(&q, "NULL");
        (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, ing_times_ingested(times, pages[i]->batch_id));
        (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, ing_times_quarantined(times, pages[i]->batch_id));
        (void)sm_buf_adds(&q, ")");
        free(parent);
        free(url);
    }
    int rc = eng_exec(db, q.buf, err);
    sm_buf_release(&q);
    return rc;
}

int ing_rest_stage(struct eng_db *db, const struct prj_project *p, const struct prj_source *src,
                   const struct tbl_snapshot *bronze, const struct st_landed **pages, size_t n,
                   const struct ing_times *times, bool general, int64_t *out_rejected,
                   bool *out_lazy, struct sm_err *err)
{
    size_t skip = strlen(p->lake) + 2;
    struct sm_buf q = SM_BUF_INIT;
    struct dcol *pcols = NULL;
    size_t npcols = 0;
    bool fast = false, lazy = false;
    int rc = 0;
    *out_rejected = 0;
    *out_lazy = false;

    ing_rest_unstage(db, src); /* whatever a failed load left */
    if ((rc = ing_rest_pages_table(db, src, pages, n, times, err)))
        goto out;

    /* The quarantine rows, in the quarantine table's shape. */
    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE ");
    add_tmp(&q, src, "rejects");
    (void)sm_buf_adds(&q, " (_source_file VARCHAR, line BIGINT, column_name VARCHAR, error_type "
                          "VARCHAR, raw VARCHAR, error VARCHAR, _batch_id VARCHAR, "
                          "_quarantined_at TIMESTAMP)");
    if ((rc = eng_exec(db, q.buf, err)))
        goto out;
    /* A child source's parent columns, typed. */
    if ((rc = parent_dcols(db, src, bronze, &pcols, &npcols, err)))
        goto out;
    if (!src->ncolumns && !general &&
        (rc = stage_fast(db, src, bronze, pages, n, pcols, npcols, skip, &fast, &lazy, err)))
        goto out;
    if (!fast) {
        /* One row per record: the JSON value at the records path is an
         * array (its elements), an object (itself) or anything else
         * (nothing). */
        sm_buf_reset(&q);
        (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE ");
        add_tmp(&q, src, "recs");
        (void)sm_buf_adds(&q, " AS SELECT row_number() OVER (ORDER BY p.page_id, x.i) AS _n, "
                              "p.path, p.url, p.batch_id, p.ing_at, p.q_at, CAST(x.i AS BIGINT) "
                              "AS _rec, x.r, "
                              "CAST(p.parent AS JSON) AS pk FROM (SELECT filename, "
                              "generate_subscripts(l, 1) AS i, unnest(l) AS r FROM (SELECT "
                              "filename, CASE json_type(v) WHEN 'ARRAY' THEN CAST(json_extract(v, "
                              "'$[*]') AS JSON[]) WHEN 'OBJECT' THEN [v] ELSE CAST([] AS JSON[]) "
                              "END AS l FROM (SELECT filename, json_extract(content, ");
        add_json_path(&q, sm_or(src->rest.records, ""));
        (void)sm_buf_adds(&q, ") AS v FROM read_text([");
        for (size_t i = 0; i < n; i++) {
            if (i)
                (void)sm_buf_addc(&q, ',');
            (void)sm_buf_add_sql_str(&q, pages[i]->landing_path);
        }
        (void)sm_buf_adds(&q, "])))) x JOIN ");
        add_tmp(&q, src, "pages");
        (void)sm_buf_adds(&q, " p ON p.path = x.filename");
        if (!n) { /* read_text([]) is an error: an empty table of the same shape */
            sm_buf_reset(&q);
            (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE ");
            add_tmp(&q, src, "recs");
            (void)sm_buf_adds(&q, " (_n BIGINT, path VARCHAR, url VARCHAR, batch_id VARCHAR, "
                                  "ing_at TIMESTAMP, q_at TIMESTAMP, _rec BIGINT, r JSON, "
                                  "pk JSON)");
        }
        if ((rc = eng_exec(db, q.buf, err)))
            goto out;

        sm_buf_reset(&q);
        (void)sm_buf_adds(&q, "INSERT INTO ");
        add_tmp(&q, src, "rejects");
        (void)sm_buf_addf(&q,
                          " SELECT substr(path, %zu), _rec, NULL, 'NOT AN OBJECT', CAST(r AS "
                          "VARCHAR), 'the record is not a JSON object but ' || "
                          "lower(json_type(r)), batch_id, q_at FROM ",
                          skip);
        add_tmp(&q, src, "recs");
        (void)sm_buf_adds(&q, " WHERE json_type(r) <> 'OBJECT' ORDER BY _n");
        if ((rc = eng_exec(db, q.buf, err)))
            goto out;
        if (src->ncolumns)
            rc = stage_declared(db, src, pcols, npcols, skip, err);
        else
            rc = stage_inferred(db, p, src, pcols, npcols, skip, err);
    }
    /* rows as a view (lazy) holds scalars only, and fits bronze */
    if (!rc && !lazy)
        rc = nested_to_json(db, src, err);
    if (!rc && !src->ncolumns && bronze && !lazy)
        rc = fit_to_bronze(db, src, bronze, fast ? "recv" : "recs", skip, err);
    if (rc)
        goto out;
    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "SELECT count(*) FROM ");
    add_tmp(&q, src, "rejects");
    rc = eng_query_i64(db, q.buf, out_rejected, err);
    *out_lazy = lazy;
out:
    if (rc)
        sm_err_prefix(err, rc, "reading the landed pages of '%s'", src->name);
    dcols_free(pcols, npcols);
    sm_buf_release(&q);
    return rc;
}
