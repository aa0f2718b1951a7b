/*
 * oauth.c — the OAuth 2.0 client credentials grant of util/http.h: one POST
 * to a token endpoint through the HTTP client (so it gets the same retries,
 * backoff, rate limit and redaction as every request), and the parsers of
 * the endpoint's JSON answers.
 *
 * The answer of a token endpoint is outside input: it is parsed with
 * jansson under the HTTP client's body cap, every field is type-checked, and
 * the parsers are fuzzed (tests/fuzz/fuzz_oauth.c). The secret and the token
 * live in buffers that are wiped before they are freed; what the server
 * says in an error is cut, stripped to printable characters and scrubbed of
 * the secret before it reaches a message.
 */
#include "http.h"

#include <jansson.h>
#include <strings.h>

#define OAUTH_MAX_TEXT 200

void sm_oauth_token_release(struct sm_oauth_token *t)
{
    if (t->access_token) {
        explicit_bzero(t->access_token, strlen(t->access_token));
        free(t->access_token);
    }
    t->access_token = NULL;
    t->expires_in = -1;
}

/* Wipe a buffer that held a secret, then release it. */
static void buf_wipe_release(struct sm_buf *b)
{
    if (b->alloc)
        explicit_bzero(b->buf, b->alloc);
    sm_buf_release(b);
}

static json_t *parse_object(const char *body, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* expires_in: a number, or a string of digits (some servers quote it). */
static int64_t parse_expires(const json_t *v)
{
    double d = -1;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v)) {
        int64_t n;
        if (!sm_parse_i64(json_string_value(v), &n))
            d = (double)n;
    }
    if (!(d >= 1) || d > 10.0 * 365 * 24 * 3600) /* also NaN */
        return -1;
    return (int64_t)d;
}

int sm_oauth_parse_token(const char *body, size_t len, struct sm_oauth_token *out,
                         struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    out->expires_in = -1;
    json_t *j = parse_object(body, len);
    if (!j)
        return sm_err_set(err, SM_EPARSE, "the token endpoint's answer is not a JSON object");
    int rc = 0;
    const json_t *tok = json_object_get(j, "access_token");
    const json_t *type = json_object_get(j, "token_type");
    const char *ts = json_is_string(tok) ? json_string_value(tok) : NULL;
    size_t tlen = ts ? json_string_length(tok) : 0;
    if (!ts || !tlen) {
        rc = sm_err_set(err, SM_EPARSE,
                        "the token endpoint's answer has no 'access_token' (a non-empty string)");
    } else if (strlen(ts) != tlen || strpbrk(ts, "\r\n")) {
        rc = sm_err_set(err, SM_EPARSE,
                        "the token endpoint's 'access_token' holds characters a header cannot");
    } else if (type && !json_is_null(type) &&
               !(json_is_string(type) && !strcasecmp(json_string_value(type), "bearer"))) {
        rc = sm_err_set(err, SM_EPARSE,
                        "the token endpoint issued a token of type other than 'Bearer', which "
                        "smelt cannot send");
    } else {
        out->access_token = sm_strndup(ts, tlen);
        out->expires_in = parse_expires(json_object_get(j, "expires_in"));
    }
    json_decref(j);
    return rc;
}

/* Printable ASCII of a JSON string, at most OAUTH_MAX_TEXT characters. */
static char *clean_text(const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    struct sm_buf b = SM_BUF_INIT;
    for (size_t i = 0; i < n && b.len < OAUTH_MAX_TEXT; i++) {
        unsigned char c = (unsigned char)s[i];
        (void)sm_buf_addc(&b, c >= 0x20 && c < 0x7f ? (char)c : ' ');
    }
    if (b.len == OAUTH_MAX_TEXT && n > OAUTH_MAX_TEXT)
        (void)sm_buf_adds(&b, "...");
    if (!b.len) {
        sm_buf_release(&b);
        return NULL;
    }
    return sm_buf_detach(&b);
}

void sm_oauth_parse_error(const char *body, size_t len, char **out_error, char **out_desc)
{
    *out_error = *out_desc = NULL;
    json_t *j = parse_object(body, len);
    if (!j)
        return;
    *out_error = clean_text(json_object_get(j, "error"));
    *out_desc = clean_text(json_object_get(j, "error_description"));
    json_decref(j);
}

/* Replace every occurrence of secret in s (if any) by REDACTED, in place
 * or by a new string. */
static char *scrub(char *s, const char *secret)
{
    if (!s || !secret || !*secret || !strstr(s, secret))
        return s;
    struct sm_buf b = SM_BUF_INIT;
    size_t sl = strlen(secret);
    for (const char *p = s; *p;) {
        const char *hit = strstr(p, secret);
        if (!hit) {
            (void)sm_buf_adds(&b, p);
            break;
        }
        (void)sm_buf_add(&b, p, (size_t)(hit - p));
        (void)sm_buf_adds(&b, "REDACTED");
        p = hit + sl;
    }
    free(s);
    return sm_buf_detach(&b);
}

static void add_field(struct sm_buf *b, const char *name, const char *value)
{
    if (b->len)
        (void)sm_buf_addc(b, '&');
    (void)sm_http_add_escaped(b, name);
    (void)sm_buf_addc(b, '=');
    (void)sm_http_add_escaped(b, value);
}

static char *default_log_url(const char *url)
{
    char *s = sm_http_url_redact(url, NULL);
    char *q = strchr(s, '?');
    if (q)
        *q = 0;
    return s;
}

int sm_oauth_fetch(struct sm_http *h, const struct sm_oauth_request *req,
                   struct sm_oauth_token *out, struct sm_err *err)
{
    struct sm_buf form = SM_BUF_INIT, user = SM_BUF_INIT, pass = SM_BUF_INIT;
    char *shown = req->log_url ? sm_strdup(req->log_url) : default_log_url(req->token_url);
    struct sm_http_response res;
    int rc;

    memset(out, 0, sizeof(*out));
    out->expires_in = -1;
    add_field(&form, "grant_type", "client_credentials");
    if (req->scope && *req->scope)
        add_field(&form, "scope", req->scope);
    for (size_t i = 0; i < req->nparams; i++)
        add_field(&form, req->params[i].name, req->params[i].value);
    if (req->client_auth_body) {
        add_field(&form, "client_id", req->client_id);
        add_field(&form, "client_secret", req->client_secret);
    } else {
        /* §2.3.1: both are form-encoded before they go into basic auth. */
        (void)sm_http_add_escaped(&user, req->client_id);
        (void)sm_http_add_escaped(&pass, req->client_secret);
    }
    struct sm_http_header hdrs[] = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
    };
    struct sm_http_request hr = {
        .method = "POST",
        .url = req->token_url,
        .log_url = shown,
        .body = form.buf,
        .body_len = form.len,
        .headers = hdrs,
        .nheaders = 2,
        .username = req->client_auth_body ? NULL : user.buf,
        .password = req->client_auth_body ? NULL : pass.buf,
    };
    rc = sm_http_send(h, &hr, &res, err);
    if (rc) {
        sm_err_prefix(err, rc, "token request");
        goto out;
    }
    if (res.status >= 200 && res.status <= 299) {
        if (res.truncated)
            rc = sm_err_set(err, SM_EPARSE,
                            "token request to '%s': the answer was cut at %zu "
                            "bytes",
                            shown, res.body.len);
        else
            rc = sm_oauth_parse_token(res.body.buf, res.body.len, out, err);
        if (rc)
            sm_err_prefix(err, rc, "token request to '%s'", shown);
        goto out;
    }
    char *code = NULL, *desc = NULL;
    sm_oauth_parse_error(res.body.buf, res.body.len, &code, &desc);
    code = scrub(code, req->client_secret);
    desc = scrub(desc, req->client_secret);
    char after[48] = "";
    if (res.attempts > 1)
        snprintf(after, sizeof(after), " after %d attempts", res.attempts);
    rc = sm_err_set(err, res.status >= 400 && res.status <= 499 ? SM_ECONFIG : SM_ENET,
                    "token request to '%s' answered HTTP %ld %s%s%s%s%s%s%s", shown, res.status,
                    sm_http_reason(res.status), after, code || desc ? ": " : "", sm_or(code, ""),
                    desc ? (code ? " (" : "") : "", sm_or(desc, ""), desc && code ? ")" : "");
    free(code);
    free(desc);
out:
    buf_wipe_release(&res.body); /* may hold the token */
    sm_http_response_release(&res);
    buf_wipe_release(&form);
    buf_wipe_release(&user);
    buf_wipe_release(&pass);
    free(shown);
    return rc;
}
