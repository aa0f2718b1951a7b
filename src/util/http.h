/*
 * http — a small HTTP client over libcurl, for REST sources and webhooks.
 * It sends one request at a time on a reused connection, caps the body it
 * will keep, and retries what is worth retrying: connection errors and
 * timeouts, 5xx and 429 answers, with exponential backoff and jitter, and
 * as long as a Retry-After header asks (up to a limit). An optional rate
 * limiter spaces requests.
 *
 * libcurl is loaded (dlopen) and initialized by the first call that needs
 * it: sm_http_init() and the URL functions below. A process that makes no
 * request never loads it. When it cannot be loaded, sm_http_init() and
 * sm_http_url_resolve() fail with SM_EINTERNAL and a message naming the
 * library and its package.
 *
 *     struct sm_http http;
 *     struct sm_http_options opt = {.timeout_s = 30, .retries = 5};
 *     if (sm_http_init(&http, &opt, &err)) ...
 *     struct sm_http_header h[] = {{"Authorization", auth}};
 *     struct sm_http_request req = {.url = url, .log_url = safe_url,
 *                                   .headers = h, .nheaders = 1};
 *     struct sm_http_response res;
 *     if (sm_http_send(&http, &req, &res, &err)) ...   // no answer at all
 *     if (res.status != 200) ...                        // the server's answer
 *     use(res.body.buf, res.body.len);
 *     sm_http_response_release(&res);
 *     sm_http_release(&http);
 *
 * Secrets: request URLs, header values, user names and passwords may hold
 * credentials. This module never logs or puts into an error message
 * anything but req->log_url (or, without one, the URL cut before its query
 * string) and curl's own error text, which names hosts and ports only.
 */
#ifndef SM_HTTP_H
#define SM_HTTP_H

#include "util/util.h"

/* Zero fields take the defaults in brackets. */
struct sm_http_options {
    int timeout_s;          /* whole request, body included [30] */
    int connect_timeout_s;  /* [10] */
    int retries;            /* extra attempts after a retryable failure; -1 = none [0] */
    double rate_limit;      /* most requests per second, retries included; 0 = no limit */
    size_t max_body;        /* bytes of body kept [256 MiB]; more is cut (truncated) */
    int backoff_ms;         /* wait before the first retry, doubled each time [500] */
    int max_backoff_ms;     /* longest computed wait [30000] */
    int max_retry_after_s;  /* longest Retry-After honoured; a longer one fails [300] */
    const char *user_agent; /* [smelt/<version>] */
};

struct sm_http {
    struct sm_http_options opt;
    void *curl;           /* CURL easy handle: keeps the connection between requests */
    int64_t next_slot_ms; /* rate limiter: when the next request may start */
    uint64_t rng;         /* jitter */
    /* Counters over the client's life, for run summaries and tests. */
    int64_t nrequests; /* attempts made */
    int64_t nretries;  /* of which retries */
};

struct sm_http_header {
    const char *name;
    const char *value;
};

struct sm_http_request {
    const char *method;  /* "GET" (NULL) or "POST" */
    const char *url;     /* may hold credentials: never shown */
    const char *log_url; /* shown in logs and errors; NULL = url without its query */
    const char *body;    /* POST body, or NULL */
    size_t body_len;
    const struct sm_http_header *headers; /* values may be secrets: never shown */
    size_t nheaders;
    const char *username; /* HTTP basic authentication, or NULL */
    const char *password;
};

struct sm_http_response {
    long status;         /* final HTTP status, e.g. 200 */
    struct sm_buf body;  /* decoded body, at most opt.max_body bytes */
    bool truncated;      /* the body was longer and was cut */
    char **header_names; /* of the final answer, lowercased */
    char **header_values;
    size_t nheaders;
    int attempts; /* 1 + retries made for this request */
};

/* Set up a client. opt may be NULL (all defaults); it is copied. Release
 * with sm_http_release(). */
int sm_http_init(struct sm_http *h, const struct sm_http_options *opt,
                 struct sm_err *err) SM_MUST_USE;
void sm_http_release(struct sm_http *h);

/* Send req, retrying as described above, and fill *out (zeroed first; the
 * caller releases it with sm_http_response_release() whatever the result).
 * Returns 0 when the server answered, whatever the status: a 404, or a 503
 * that outlived the retries, is the caller's to judge. Returns SM_ENET
 * (connection, TLS, DNS), SM_ETIMEOUT (no complete answer in time) or
 * SM_EINVALID (bad URL) when there was no answer after every attempt. */
int sm_http_send(struct sm_http *h, const struct sm_http_request *req, struct sm_http_response *out,
                 struct sm_err *err) SM_MUST_USE;
void sm_http_response_release(struct sm_http_response *r);

/* Value of a header of the response (name matched without case), or NULL.
 * Borrowed from r. */
const char *sm_http_response_header(const struct sm_http_response *r, const char *name);

/* "Not Found" for 404, "" for a status without a standard reason. */
const char *sm_http_reason(long status);

/* --- URLs -------------------------------------------------------------------- */

/* Append s to b percent-encoded for a query string or a path segment
 * (everything but RFC 3986 unreserved characters is encoded). */
int sm_http_add_escaped(struct sm_buf *b, const char *s);

/* Resolve ref (absolute, or relative like "/items?page=2" or "?page=2")
 * against base. *out is a new string. SM_EINVALID for a URL curl cannot
 * parse; the message shows neither URL (either may hold credentials). */
int sm_http_url_resolve(const char *base, const char *ref, char **out,
                        struct sm_err *err) SM_MUST_USE;

/* Do a and b have the same scheme, host and port? False when either does
 * not parse, or libcurl cannot be loaded. Credentials are sent only to
 * their API's own origin. */
bool sm_http_same_origin(const char *a, const char *b);

/* url made safe to show: user:password@ removed, and the value of every
 * query parameter named in secret_params (NULL-terminated, may be NULL)
 * replaced by "REDACTED". Caller frees. A URL that does not parse (or any
 * URL, when libcurl cannot be loaded) comes back cut before its query
 * string. */
char *sm_http_url_redact(const char *url, const char *const *secret_params);

/* Does the query string of url have a parameter named name? */
bool sm_http_url_has_param(const char *url, const char *name);

/* The target of the link with relation rel ("next") in an RFC 8288 Link
 * header value, e.g. <https://api/x?page=2>; rel="next", or NULL. Caller
 * frees. */
char *sm_http_link_target(const char *link_header, const char *rel);

/* --- OAuth 2.0 client credentials (RFC 6749 §4.4) ---------------------------------
 * A token for an API, asked of its token endpoint with the client's id and
 * secret:
 *
 *     struct sm_oauth_request or = {.token_url = url, .client_id = id,
 *                                   .client_secret = secret, .scope = "read"};
 *     struct sm_oauth_token tok;
 *     if (sm_oauth_fetch(&http, &or, &tok, &err)) ...   // message: status, OAuth error
 *     ... "Authorization: Bearer " tok.access_token, until tok.expires_in runs out ...
 *     sm_oauth_token_release(&tok);                      // wipes the token
 *
 * The secret goes in HTTP basic authentication (form-encoded first, as
 * §2.3.1 says) or, with client_auth_body, in the form. Neither the secret
 * nor the token is ever put into a log line or an error message: errors
 * quote the server's `error` and `error_description` (cut, printable
 * characters only, the secret replaced by REDACTED should a server echo
 * it), the status and the token URL without its query string. */
struct sm_oauth_request {
    const char *token_url; /* may hold credentials in its query: never shown */
    const char *log_url;   /* shown in errors; NULL = token_url without its query */
    const char *client_id;
    const char *client_secret;
    const char *scope;                   /* or NULL */
    const struct sm_http_header *params; /* more form fields, e.g. {"audience", ...} */
    size_t nparams;
    bool client_auth_body; /* id and secret in the form instead of HTTP basic */
};

struct sm_oauth_token {
    char *access_token; /* a secret: sm_oauth_token_release() wipes it */
    int64_t expires_in; /* seconds the server says it is good for; -1 = not said */
};

/* Wipe and free the token; safe on a zeroed or released struct. */
void sm_oauth_token_release(struct sm_oauth_token *t);

/* POST grant_type=client_credentials to req->token_url (with h's retries:
 * a 5xx or 429 from the token endpoint is retried like any request) and
 * fill *out (zeroed first). A 4xx is SM_ECONFIG (the credentials or the
 * scope are wrong), a 5xx that outlived the retries or an answer that is
 * not a token SM_ENET / SM_EPARSE, no answer at all what sm_http_send()
 * returns. */
int sm_oauth_fetch(struct sm_http *h, const struct sm_oauth_request *req,
                   struct sm_oauth_token *out, struct sm_err *err) SM_MUST_USE;

/* The parsers of sm_oauth_fetch(), for tests and fuzzing. A token answer
 * is a JSON object with a non-empty string access_token, token_type
 * "bearer" (any case) or none, and expires_in as a number or a string of
 * digits (absent, zero or negative: -1). SM_EPARSE saying what is wrong,
 * never quoting the body. */
int sm_oauth_parse_token(const char *body, size_t len, struct sm_oauth_token *out,
                         struct sm_err *err) SM_MUST_USE;
/* `error` and `error_description` of an error answer, each cut to 200
 * characters of printable ASCII, or NULL when absent; caller frees both. */
void sm_oauth_parse_error(const char *body, size_t len, char **out_error, char **out_desc);

#endif
