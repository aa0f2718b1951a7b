/*
 * http.c — the HTTP client of util/http.h over one libcurl easy handle.
 * Together with store/, this is the only code that includes curl.h; curl's
 * codes become SM_ENET / SM_ETIMEOUT / SM_EINVALID here, with curl's error
 * buffer as the detail.
 *
 * libcurl is not linked: it is loaded with dlopen() by the first call that
 * needs it (a client, a URL to parse), because it brings in some 27 shared
 * objects (OpenSSL, GnuTLS, Kerberos, LDAP, SSH, ...) whose loading would
 * cost every command about 5 ms at start, most of which (smelt query, a run
 * without REST sources) never make a request (bench/README.md, "startup").
 * Every curl function is called through the table `curl`, filled once by
 * dlsym(); curl.global_init() is called in the same once-only step, so it
 * runs before any other curl call and on one thread. When the library
 * cannot be loaded, every call that needs it fails with a message naming
 * the library and the package to install; the library stays loaded until
 * the process exits.
 *
 * One sm_http_send() is a loop of attempts. An attempt that gets no answer
 * (refused, reset, timed out, cut off) or gets a 5xx (but 501) or 429 is
 * repeated after a wait, up to opt.retries times: the wait is the answer's
 * Retry-After when it has one, otherwise backoff_ms doubling per retry,
 * capped, with "equal jitter" (half fixed, half random) so that many
 * clients do not retry in step. The rate limiter spaces every attempt,
 * retries included, at least 1/rate_limit seconds apart.
 *
 * Invariant: no URL with its query string, no header value and no user or
 * password ever reaches sm_log() or an sm_err; only log_url does.
 */
#include "http.h"

#include <curl/curl.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_TIMEOUT_S 30
#define DEFAULT_CONNECT_TIMEOUT_S 10
#define DEFAULT_MAX_BODY ((size_t)256 << 20)
#define DEFAULT_BACKOFF_MS 500
#define DEFAULT_MAX_BACKOFF_MS 30000
#define DEFAULT_MAX_RETRY_AFTER_S 300
#define MAX_REDIRECTS 5

/* --- libcurl, loaded on first use ---------------------------------------------- */

/* The curl functions this file calls, as curl_NAME; each is called as
 * curl.NAME, with the type curl.h declares for it. */
#define CURL_FUNCTIONS(X)                                                                          \
    X(global_init)                                                                                 \
    X(easy_init)                                                                                   \
    X(easy_cleanup)                                                                                \
    X(easy_setopt)                                                                                 \
    X(easy_perform)                                                                                \
    X(easy_getinfo)                                                                                \
    X(easy_strerror)                                                                               \
    X(easy_header)                                                                                 \
    X(easy_nextheader)                                                                             \
    X(getdate)                                                                                     \
    X(free)                                                                                        \
    X(slist_append)                                                                                \
    X(slist_free_all)                                                                              \
    X(url)                                                                                         \
    X(url_cleanup)                                                                                 \
    X(url_get)                                                                                     \
    X(url_set)                                                                                     \
    X(url_strerror)

static struct {
#define X(name) __typeof__(curl_##name) *name;
    CURL_FUNCTIONS(X)
#undef X
} curl;

static const struct sm_lib_fn curl_fns[] = {
#define X(name) {"curl_" #name, &curl.name},
    CURL_FUNCTIONS(X)
#undef X
};

/* Before any other curl call, once for the process and on one thread. */
static int curl_init(struct sm_err *err)
{
    CURLcode rc = curl.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return sm_err_set(err, SM_EINTERNAL, "cannot initialize libcurl: %s",
                          curl.easy_strerror(rc));
    return 0;
}

static struct sm_lib curl_lib =
    SM_LIB_INIT("libcurl.so.4", "libcurl4", "HTTP requests", curl_fns, curl_init);

/* 0 when the table `curl` is ready (libcurl loaded and initialized). */
static int curl_ready(struct sm_err *err)
{
    return sm_lib_ready(&curl_lib, err);
}

/* --- clients --------------------------------------------------------------------- */

int sm_http_init(struct sm_http *h, const struct sm_http_options *opt, struct sm_err *err)
{
    memset(h, 0, sizeof(*h));
    if (opt)
        h->opt = *opt;
    struct sm_http_options *o = &h->opt;
    if (o->timeout_s <= 0)
        o->timeout_s = DEFAULT_TIMEOUT_S;
    if (o->connect_timeout_s <= 0)
        o->connect_timeout_s = DEFAULT_CONNECT_TIMEOUT_S;
    if (o->retries < 0)
        o->retries = 0;
    if (!o->max_body)
        o->max_body = DEFAULT_MAX_BODY;
    if (o->backoff_ms <= 0)
        o->backoff_ms = DEFAULT_BACKOFF_MS;
    if (o->max_backoff_ms <= 0)
        o->max_backoff_ms = DEFAULT_MAX_BACKOFF_MS;
    if (o->max_retry_after_s <= 0)
        o->max_retry_after_s = DEFAULT_MAX_RETRY_AFTER_S;
    if (!o->user_agent)
        o->user_agent = "smelt/" SMELT_VERSION;

    SM_TRY(curl_ready(err));
    CURL *c = curl.easy_init();
    if (!c)
        return sm_err_set(err, SM_EINTERNAL, "cannot initialize libcurl: out of memory");
    h->curl = c;
    h->rng = (uint64_t)sm_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)h;
    /* Options that hold for every request of this client. */
    curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(c, CURLOPT_TIMEOUT, (long)o->timeout_s);
    curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout_s);
    curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl.easy_setopt(c, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
    curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl.easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl.easy_setopt(c, CURLOPT_USERAGENT, o->user_agent);
    return 0;
}

void sm_http_release(struct sm_http *h)
{
    if (h->curl)
        curl.easy_cleanup(h->curl);
    h->curl = NULL;
}

void sm_http_response_release(struct sm_http_response *r)
{
    sm_buf_release(&r->body);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->header_names[i]);
        free(r->header_values[i]);
    }
    free(r->header_names);
    free(r->header_values);
    r->header_names = r->header_values = NULL;
    r->nheaders = 0;
}

const char *sm_http_response_header(const struct sm_http_response *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->header_names[i], name))
            return r->header_values[i];
    return NULL;
}

const char *sm_http_reason(long status)
{
    static const struct {
        long code;
        const char *text;
    } reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].code == status)
            return reasons[i].text;
    return "";
}

/* --- one attempt ----------------------------------------------------------------- */

struct sink {
    struct sm_buf *b;
    bool truncated;
};

/* Keep what fits under the cap; returning short makes curl stop reading. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    if (!sm_buf_add(s->b, p, len))
        return len;
    size_t room = s->b->cap > s->b->len ? s->b->cap - s->b->len : 0;
    (void)sm_buf_add(s->b, p, room);
    s->truncated = true;
    return 0;
}

/* xorshift64*: jitter only, nothing secret depends on it. */
static double next_unit(struct sm_http *h)
{
    uint64_t x = h->rng ? h->rng : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->rng = x;
    return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) / (double)(1ULL << 53);
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

static void rate_wait(struct sm_http *h)
{
    if (h->opt.rate_limit <= 0)
        return;
    int64_t now = sm_now_ms();
    if (h->next_slot_ms > now)
        sleep_ms(h->next_slot_ms - now);
    int64_t start = h->next_slot_ms > now ? h->next_slot_ms : now;
    h->next_slot_ms = start + (int64_t)(1000.0 / h->opt.rate_limit + 0.5);
}

/* Failures worth another attempt: the request may not have reached the
 * server, or its answer was lost on the way back. */
static bool transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

static bool retry_status(long status)
{
    return status == 429 || (status >= 500 && status <= 599 && status != 501);
}

/* Retry-After in milliseconds: delay-seconds or an HTTP-date; -1 = none. */
static int64_t retry_after_ms(CURL *c)
{
    struct curl_header *hd = NULL;
    if (curl.easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &hd) != CURLHE_OK || !hd->value)
        return -1;
    int64_t secs;
    if (!sm_parse_i64(hd->value, &secs))
        return secs < 0 ? 0 : secs * 1000;
    time_t when = curl.getdate(hd->value, NULL);
    if (when < 0)
        return -1;
    int64_t ms = (int64_t)when * 1000 - sm_now_ms();
    return ms < 0 ? 0 : ms;
}

static void collect_headers(CURL *c, struct sm_http_response *out)
{
    struct curl_header *prev = NULL, *hd;
    size_t alloc = 0, alloc2 = 0;
    while ((hd = curl.easy_nextheader(c, CURLH_HEADER, -1, prev))) {
        SM_ALLOC_GROW(out->header_names, out->nheaders + 1, alloc);
        SM_ALLOC_GROW(out->header_values, out->nheaders + 1, alloc2);
        char *name = sm_strdup(hd->name);
        for (char *q = name; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
        out->header_names[out->nheaders] = name;
        out->header_values[out->nheaders++] = sm_strdup(sm_or(hd->value, ""));
        prev = hd;
    }
}

/* The URL as it may be shown: cut before the query, without user info. */
static char *default_log_url(const char *url)
{
    char *safe = sm_http_url_redact(url, NULL);
    char *q = strchr(safe, '?');
    if (q)
        *q = 0;
    return safe;
}

static int fail_code(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return SM_ETIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return SM_EINVALID;
    default:
        return SM_ENET;
    }
}

int sm_http_send(struct sm_http *h, const struct sm_http_request *req, struct sm_http_response *out,
                 struct sm_err *err)
{
    CURL *c = h->curl;
    const char *method = req->method ? req->method : "GET";
    char *shown = req->log_url ? sm_strdup(req->log_url) : default_log_url(req->url);
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    int rc = 0;

    memset(out, 0, sizeof(*out));
    sm_buf_init(&out->body, h->opt.max_body);
    if (!c)
        SM_BUG("sm_http_send on a released client");
    for (size_t i = 0; i < req->nheaders; i++) {
        /* "Name:" alone would remove a header curl adds; "Name;" sends it empty. */
        char *line = *req->headers[i].value
                         ? sm_asprintf("%s: %s", req->headers[i].name, req->headers[i].value)
                         : sm_asprintf("%s;", req->headers[i].name);
        struct curl_slist *n = curl.slist_append(hdrs, line);
        free(line); /* curl copied it; the copy is freed with the list */
        if (!n) {
            rc = sm_err_set(err, SM_ENOMEM, "%s %s: out of memory", method, shown);
            goto out;
        }
        hdrs = n;
    }
    curl.easy_setopt(c, CURLOPT_URL, req->url);
    curl.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (!strcmp(method, "POST")) {
        curl.easy_setopt(c, CURLOPT_POST, 1L);
        curl.easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
    } else {
        curl.easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl.easy_setopt(c, CURLOPT_HTTPAUTH, (long)(req->username ? CURLAUTH_BASIC : CURLAUTH_NONE));
    curl.easy_setopt(c, CURLOPT_USERNAME, req->username);
    curl.easy_setopt(c, CURLOPT_PASSWORD, req->password);
    curl.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

    for (int attempt = 0;; attempt++) {
        struct sink sink = {&out->body, false};
        sm_buf_reset(&out->body);
        errbuf[0] = 0;
        curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl.easy_setopt(c, CURLOPT_WRITEDATA, &sink);
        rate_wait(h);
        h->nrequests++;
        if (attempt)
            h->nretries++;
        out->attempts = attempt + 1;
        CURLcode cr = curl.easy_perform(c);
        long status = 0;
        curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cr == CURLE_WRITE_ERROR && sink.truncated)
            cr = CURLE_OK; /* we stopped reading: an answer, cut at the cap */
        out->truncated = sink.truncated;

        bool more = attempt < h->opt.retries;
        int64_t wait = -1;
        char why[CURL_ERROR_SIZE + 64];
        if (cr != CURLE_OK) {
            snprintf(why, sizeof(why), "%s", errbuf[0] ? errbuf : curl.easy_strerror(cr));
            if (!more || !transient(cr)) {
                if (attempt)
                    rc = sm_err_set(err, fail_code(cr), "%s %s: %s (after %d attempts)", method,
                                    shown, why, attempt + 1);
                else
                    rc = sm_err_set(err, fail_code(cr), "%s %s: %s", method, shown, why);
                goto out;
            }
        } else if (retry_status(status) && more) {
            snprintf(why, sizeof(why), "HTTP %ld %s", status, sm_http_reason(status));
            wait = retry_after_ms(c);
            if (wait > (int64_t)h->opt.max_retry_after_s * 1000) {
                sm_warn("%s %s: %s asks to retry after %lld s, longer than %d s: giving up", method,
                        shown, why, (long long)(wait / 1000), h->opt.max_retry_after_s);
                more = false;
            }
        } else {
            more = false;
        }
        if (cr == CURLE_OK && !more) {
            out->status = status;
            collect_headers(c, out);
            goto out;
        }
        if (wait < 0) {
            double base =
                (double)h->opt.backoff_ms * (double)(1ULL << (attempt < 20 ? attempt : 20));
            if (base > h->opt.max_backoff_ms)
                base = h->opt.max_backoff_ms;
            wait = (int64_t)(base / 2 + next_unit(h) * base / 2);
        }
        sm_info("%s %s: %s; retrying in %.1f s (attempt %d of %d)", method, shown, why,
                (double)wait / 1000.0, attempt + 2, h->opt.retries + 1);
        sleep_ms(wait);
    }
out:
    /* Nothing of this request may outlive it inside the reused handle. */
    curl.easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl.easy_setopt(c, CURLOPT_USERNAME, NULL);
    curl.easy_setopt(c, CURLOPT_PASSWORD, NULL);
    curl.easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl.easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl.easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl.slist_free_all(hdrs);
    free(shown);
    return rc;
}

/* --- URLs ------------------------------------------------------------------------ */

int sm_http_add_escaped(struct sm_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (; *s && !rc; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~')
            rc = sm_buf_addc(b, (char)ch);
        else
            rc = sm_buf_addf(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
    }
    return rc;
}

/* A parsed url, or NULL when it does not parse or libcurl is missing. */
static CURLU *url_parse(const char *url)
{
    if (curl_ready(NULL))
        return NULL;
    CURLU *u = curl.url();
    if (u && curl.url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl.url_cleanup(u);
        return NULL;
    }
    return u;
}

int sm_http_url_resolve(const char *base, const char *ref, char **out, struct sm_err *err)
{
    *out = NULL;
    SM_TRY(curl_ready(err));
    CURLU *u = url_parse(base);
    if (!u)
        return sm_err_set(err, SM_EINVALID, "cannot parse the URL to resolve a link against");
    char *s = NULL;
    CURLUcode uc = curl.url_set(u, CURLUPART_URL, ref, 0);
    if (uc == CURLUE_OK)
        uc = curl.url_get(u, CURLUPART_URL, &s, 0);
    curl.url_cleanup(u);
    if (uc != CURLUE_OK)
        return sm_err_set(err, SM_EINVALID, "cannot resolve a link: %s", curl.url_strerror(uc));
    *out = sm_strdup(s);
    curl.free(s);
    return 0;
}

static char *url_part(CURLU *u, CURLUPart what, unsigned flags)
{
    char *s = NULL;
    if (curl.url_get(u, what, &s, flags) != CURLUE_OK)
        return NULL;
    char *r = sm_strdup(s);
    curl.free(s);
    return r;
}

bool sm_http_same_origin(const char *a, const char *b)
{
    if (curl_ready(NULL))
        return false;
    CURLU *ua = url_parse(a), *ub = url_parse(b);
    bool same = false;
    if (ua && ub) {
        static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
        same = true;
        for (size_t i = 0; i < 3 && same; i++) {
            char *x = url_part(ua, parts[i], CURLU_DEFAULT_PORT);
            char *y = url_part(ub, parts[i], CURLU_DEFAULT_PORT);
            same = x && y && !strcasecmp(x, y);
            free(x);
            free(y);
        }
    }
    curl.url_cleanup(ua);
    curl.url_cleanup(ub);
    return same;
}

/* Length of the name of the query parameter starting at p. */
static size_t param_name_len(const char *p)
{
    size_t n = 0;
    while (p[n] && p[n] != '=' && p[n] != '&')
        n++;
    return n;
}

/* Does the raw (percent-encoded) name of length n equal name? */
static bool param_is(const char *p, size_t n, const char *name)
{
    struct sm_buf e = SM_BUF_INIT;
    (void)sm_http_add_escaped(&e, name);
    bool eq = (e.len == n && !memcmp(e.buf, p, n)) || (strlen(name) == n && !memcmp(name, p, n));
    sm_buf_release(&e);
    return eq;
}

static bool is_secret(const char *p, size_t n, const char *const *names)
{
    for (size_t i = 0; names && names[i]; i++)
        if (param_is(p, n, names[i]))
            return true;
    return false;
}

char *sm_http_url_redact(const char *url, const char *const *secret_params)
{
    CURLU *u = url_parse(url);
    if (!u) {
        char *s = sm_strdup(url);
        char *q = strpbrk(s, "?#");
        if (q)
            *q = 0;
        return s;
    }
    curl.url_set(u, CURLUPART_USER, NULL, 0);
    curl.url_set(u, CURLUPART_PASSWORD, NULL, 0);
    char *query = url_part(u, CURLUPART_QUERY, 0);
    if (query) {
        struct sm_buf b = SM_BUF_INIT;
        for (const char *p = query; *p;) {
            size_t n = param_name_len(p), all = strcspn(p, "&");
            if (b.len)
                (void)sm_buf_addc(&b, '&');
            if (is_secret(p, n, secret_params)) {
                (void)sm_buf_add(&b, p, n);
                (void)sm_buf_adds(&b, "=REDACTED");
            } else {
                (void)sm_buf_add(&b, p, all);
            }
            p += all;
            if (*p == '&')
                p++;
        }
        curl.url_set(u, CURLUPART_QUERY, b.len ? b.buf : NULL, 0);
        sm_buf_release(&b);
        free(query);
    }
    char *s = url_part(u, CURLUPART_URL, 0);
    curl.url_cleanup(u);
    if (!s) { /* cannot happen for a URL that parsed; stay on the safe side */
        s = sm_strdup(url);
        char *q = strpbrk(s, "?#");
        if (q)
            *q = 0;
    }
    return s;
}

bool sm_http_url_has_param(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    if (!q)
        return false;
    const char *end = strchr(q, '#');
    for (const char *p = q + 1; *p && (!end || p < end);) {
        size_t n = param_name_len(p);
        if (end && p + n > end)
            n = (size_t)(end - p);
        if (param_is(p, n, name))
            return true;
        p += strcspn(p, "&");
        if (*p == '&')
            p++;
    }
    return false;
}

/* Does the rel parameter value (a space-separated list) hold rel? */
static bool rel_has(const char *v, size_t n, const char *rel)
{
    size_t rl = strlen(rel);
    for (size_t i = 0; i < n;) {
        while (i < n && v[i] == ' ')
            i++;
        size_t j = i;
        while (j < n && v[j] != ' ')
            j++;
        if (j - i == rl && !strncasecmp(v + i, rel, rl))
            return true;
        i = j;
    }
    return false;
}

char *sm_http_link_target(const char *link, const char *rel)
{
    const char *p = link;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p != '<')
            return NULL;
        const char *close = strchr(p, '>');
        if (!close)
            return NULL;
        const char *target = p + 1;
        size_t tlen = (size_t)(close - target);
        bool match = false;
        p = close + 1;
        /* Parameters until the ',' that ends this link (not one in quotes). */
        while (*p && *p != ',') {
            while (*p == ' ' || *p == '\t' || *p == ';')
                p++;
            const char *name = p;
            while (*p && *p != '=' && *p != ';' && *p != ',')
                p++;
            size_t nlen = (size_t)(p - name);
            while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
                nlen--;
            const char *val = NULL;
            size_t vlen = 0;
            if (*p == '=') {
                p++;
                while (*p == ' ')
                    p++;
                if (*p == '"') {
                    val = ++p;
                    while (*p && *p != '"')
                        p++;
                    vlen = (size_t)(p - val);
                    if (*p)
                        p++;
                } else {
                    val = p;
                    while (*p && *p != ';' && *p != ',')
                        p++;
                    vlen = (size_t)(p - val);
                }
            }
            if (nlen == 3 && !strncasecmp(name, "rel", 3) && val && rel_has(val, vlen, rel))
                match = true;
        }
        if (match)
            return sm_strndup(target, tlen);
    }
    return NULL;
}
