/*
 * util.c — errors, buffers, logging and small file-system helpers shared by
 * every module. Nothing here knows about lakes or pipelines; allocation
 * failures abort (see util.h), every other failure is returned as sm_rc.
 */
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

char sm_buf_empty[1];

int sm_err_set(struct sm_err *err, int code, const char *fmt, ...)
{
    if (err && !err->code) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int sm_err_prefix(struct sm_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    char pre[SM_ERR_MSG_MAX], old[SM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    if (!err->code) {
        err->code = code;
        snprintf(err->msg, sizeof(err->msg), "%s", pre);
        return code;
    }
    memcpy(old, err->msg, sizeof(old));
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_addf(&b, "%s: %s", pre, old);
    size_t n = b.len < sizeof(err->msg) - 1 ? b.len : sizeof(err->msg) - 1;
    memcpy(err->msg, b.buf, n);
    err->msg[n] = 0;
    sm_buf_release(&b);
    return err->code;
}

void sm_err_clear(struct sm_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = 0;
    }
}

const char *sm_rc_name(int rc)
{
    static const char *names[] = {"ok",      "out of memory", "invalid",   "i/o",   "parse",
                                  "config",  "network",       "database",  "engine", "not found",
                                  "conflict", "timeout",      "cancelled", "internal"};
    if (rc < 0 || (size_t)rc >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[rc];
}

_Noreturn void sm_bug(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "smelt: BUG %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static _Noreturn void oom(void)
{
    fputs("smelt: out of memory\n", stderr);
    abort();
}

void *sm_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *sm_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *sm_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *sm_strdup(const char *s)
{
    return sm_strndup(s, strlen(s));
}

char *sm_strndup(const char *s, size_t n)
{
    char *p = sm_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *sm_asprintf(const char *fmt, ...)
{
    struct sm_buf b = SM_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    (void)sm_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    return sm_buf_detach(&b);
}

void sm_grow(void **arr, size_t *alloc, size_t n, size_t es)
{
    if (n <= *alloc)
        return;
    size_t na = *alloc ? *alloc * 2 : 8;
    while (na < n)
        na *= 2;
    *arr = sm_realloc(*arr, na * es);
    *alloc = na;
}

/* --- sm_buf --------------------------------------------------------------- */

void sm_buf_init(struct sm_buf *b, size_t cap)
{
    b->buf = sm_buf_empty;
    b->len = b->alloc = 0;
    b->cap = cap;
}

void sm_buf_release(struct sm_buf *b)
{
    if (b->alloc)
        free(b->buf);
    sm_buf_init(b, b->cap);
}

void sm_buf_reset(struct sm_buf *b)
{
    b->len = 0;
    if (b->alloc)
        b->buf[0] = 0;
}

static int buf_reserve(struct sm_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (b->cap && b->len + extra > b->cap)
        return SM_ENOMEM;
    if (need <= b->alloc)
        return 0;
    size_t na = b->alloc ? b->alloc : 64;
    while (na < need)
        na *= 2;
    if (!b->alloc) {
        b->buf = sm_malloc(na);
        b->buf[0] = 0;
    } else {
        b->buf = sm_realloc(b->buf, na);
    }
    b->alloc = na;
    return 0;
}

int sm_buf_add(struct sm_buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len))
        return SM_ENOMEM;
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = 0;
    return 0;
}

int sm_buf_adds(struct sm_buf *b, const char *s)
{
    return sm_buf_add(b, s, strlen(s));
}

int sm_buf_addc(struct sm_buf *b, char c)
{
    return sm_buf_add(b, &c, 1);
}

int sm_buf_vaddf(struct sm_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return SM_EINVALID;
    if (buf_reserve(b, (size_t)n))
        return SM_ENOMEM;
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sm_buf_addf(struct sm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sm_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

static int buf_add_quoted(struct sm_buf *b, const char *s, char q)
{
    int rc = sm_buf_addc(b, q);
    for (; *s && !rc; s++) {
        if (*s == q)
            rc = sm_buf_addc(b, q);
        if (!rc)
            rc = sm_buf_addc(b, *s);
    }
    return rc ? rc : sm_buf_addc(b, q);
}

int sm_buf_add_sql_str(struct sm_buf *b, const char *s)
{
    return buf_add_quoted(b, s, '\'');
}

int sm_buf_add_sql_ident(struct sm_buf *b, const char *s)
{
    return buf_add_quoted(b, s, '"');
}

int sm_buf_add_json_str(struct sm_buf *b, const char *s)
{
    int rc = sm_buf_addc(b, '"');
    for (; *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"':
            rc = sm_buf_adds(b, "\\\"");
            break;
        case '\\':
            rc = sm_buf_adds(b, "\\\\");
            break;
        case '\n':
            rc = sm_buf_adds(b, "\\n");
            break;
        case '\r':
            rc = sm_buf_adds(b, "\\r");
            break;
        case '\t':
            rc = sm_buf_adds(b, "\\t");
            break;
        default:
            rc = c < 0x20 ? sm_buf_addf(b, "\\u%04x", c) : sm_buf_addc(b, (char)c);
        }
    }
    return rc ? rc : sm_buf_addc(b, '"');
}

char *sm_buf_detach(struct sm_buf *b)
{
    char *s = b->alloc ? b->buf : sm_strdup("");
    sm_buf_init(b, b->cap);
    return s;
}

/* --- sm_map --------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void sm_map_release(struct sm_map *m)
{
    for (size_t i = 0; i < m->nslots; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->count = m->used = 0;
}

static struct sm_map_entry *map_find(const struct sm_map *m, const char *key)
{
    if (!m->nslots)
        return NULL;
    size_t mask = m->nslots - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        struct sm_map_entry *e = &m->slots[i];
        if (!e->key && !e->deleted)
            return NULL;
        if (e->key && !strcmp(e->key, key))
            return e;
    }
}

static void map_insert(struct sm_map *m, char *key, void *value)
{
    size_t mask = m->nslots - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        struct sm_map_entry *e = &m->slots[i];
        if (!e->key) {
            if (!e->deleted)
                m->used++;
            e->key = key;
            e->value = value;
            e->deleted = false;
            m->count++;
            return;
        }
    }
}

void sm_map_put(struct sm_map *m, const char *key, void *value)
{
    struct sm_map_entry *e = map_find(m, key);
    if (e) {
        e->value = value;
        return;
    }
    if ((m->used + 1) * 4 >= m->nslots * 3) {
        struct sm_map old = *m;
        m->nslots = old.nslots ? old.nslots * 2 : 16;
        while (m->count * 2 >= m->nslots)
            m->nslots *= 2;
        m->slots = sm_calloc(m->nslots, sizeof(*m->slots));
        m->count = m->used = 0;
        for (size_t i = 0; i < old.nslots; i++)
            if (old.slots[i].key)
                map_insert(m, old.slots[i].key, old.slots[i].value);
        free(old.slots);
    }
    map_insert(m, sm_strdup(key), value);
}

void *sm_map_get(const struct sm_map *m, const char *key)
{
    struct sm_map_entry *e = map_find(m, key);
    return e ? e->value : NULL;
}

void *sm_map_del(struct sm_map *m, const char *key)
{
    struct sm_map_entry *e = map_find(m, key);
    if (!e)
        return NULL;
    void *v = e->value;
    free(e->key);
    e->key = NULL;
    e->value = NULL;
    e->deleted = true;
    m->count--;
    return v;
}

/* --- logging -------------------------------------------------------------- */

static enum sm_log_level log_level = SM_LOG_WARN;

void sm_log_set_level(enum sm_log_level lvl)
{
    log_level = lvl;
}

void sm_log(enum sm_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    if (lvl < log_level)
        return;
    va_list ap;
    fprintf(stderr, "smelt: %s: ", names[lvl]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* --- strings, paths, time ------------------------------------------------- */

bool sm_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool sm_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sm_percent_decode(const char *s, size_t n)
{
    struct sm_buf b = SM_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
        if (s[i] == '%' && hi >= 0 && lo >= 0) {
            (void)sm_buf_addc(&b, (char)(hi * 16 + lo));
            i += 2;
        } else {
            (void)sm_buf_addc(&b, s[i]);
        }
    }
    return sm_buf_detach(&b);
}

void sm_fmt_bytes(char *buf, size_t len, int64_t n)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB"};
    if (n < 1000) {
        snprintf(buf, len, "%lld B", (long long)n);
        return;
    }
    double v = (double)n / 1000;
    size_t u = 0;
    while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

int sm_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return SM_EINVALID;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return SM_EINVALID;
    *out = v;
    return 0;
}

char *sm_path_join(const char *a, const char *b)
{
    if (!a || !*a || b[0] == '/')
        return sm_strdup(b);
    size_t la = strlen(a);
    return sm_asprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

int sm_mkdirs(const char *path, struct sm_err *err)
{
    char *p = sm_strdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) {
                rc = sm_err_set(err, SM_EIO, "cannot create directory '%s': %s", p, strerror(errno));
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

int sm_rmtree(const char *path, struct sm_err *err)
{
    struct stat st;
    if (lstat(path, &st))
        return errno == ENOENT ? 0 : sm_err_set(err, SM_EIO, "cannot stat '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return sm_err_set(err, SM_EIO, "cannot open '%s': %s", path, strerror(errno));
        struct dirent *e;
        int rc = 0;
        while (!rc && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *c = sm_path_join(path, e->d_name);
            rc = sm_rmtree(c, err);
            free(c);
        }
        closedir(d);
        if (rc)
            return rc;
        if (rmdir(path))
            return sm_err_set(err, SM_EIO, "cannot remove '%s': %s", path, strerror(errno));
        return 0;
    }
    if (unlink(path))
        return sm_err_set(err, SM_EIO, "cannot remove '%s': %s", path, strerror(errno));
    return 0;
}

bool sm_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool sm_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sm_read_file(const char *path, char **out, size_t *out_len, struct sm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_err_set(err, errno == ENOENT ? SM_ENOTFOUND : SM_EIO, "cannot open '%s': %s", path,
                          strerror(errno));
    struct sm_buf b = SM_BUF_INIT;
    char tmp[65536];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            sm_buf_release(&b);
            return sm_err_set(err, SM_EIO, "cannot read '%s': %s", path, strerror(e));
        }
        if (n == 0)
            break;
        (void)sm_buf_add(&b, tmp, (size_t)n);
    }
    close(fd);
    if (out_len)
        *out_len = b.len;
    *out = sm_buf_detach(&b);
    return 0;
}

/* write() all of data to fd; 0 or errno. */
static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int sm_write_file(const char *path, const void *data, size_t len, struct sm_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return sm_err_set(err, SM_EIO, "cannot create '%s': %s", path, strerror(errno));
    int e = write_all(fd, data, len);
    if (close(fd) && !e)
        e = errno;
    if (!e)
        return 0;
    unlink(path);
    return sm_err_set(err, SM_EIO, "cannot write '%s': %s", path, strerror(e));
}

int sm_write_file_atomic(const char *path, const void *data, size_t len, struct sm_err *err)
{
    char *tmp = sm_asprintf("%s.tmp-%d", path, (int)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = sm_err_set(err, SM_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    int e = write_all(fd, data, len);
    if (e) {
        rc = sm_err_set(err, SM_EIO, "cannot write '%s': %s", tmp, strerror(e));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (fsync(fd) || close(fd)) {
        rc = sm_err_set(err, SM_EIO, "cannot sync '%s': %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path)) {
        rc = sm_err_set(err, SM_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
        unlink(tmp);
    }
out:
    free(tmp);
    return rc;
}

double sm_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int64_t sm_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void sm_iso8601(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char d[24];
    strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03dZ", d, (int)(ms % 1000));
}

static void random_bytes(unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            SM_BUG("getrandom failed: %s", strerror(errno));
        }
        p += r;
        n -= (size_t)r;
    }
}

char *sm_random_hex(size_t n)
{
    unsigned char *raw = sm_malloc(n);
    char *s = sm_malloc(2 * n + 1);
    random_bytes(raw, n);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", raw[i]);
    free(raw);
    return s;
}

char *sm_uuid4(void)
{
    unsigned char r[16];
    random_bytes(r, sizeof(r));
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    return sm_asprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
                       r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                       r[13], r[14], r[15]);
}

size_t sm_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = sm_malloc((lb + 1) * sizeof(*row));
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

bool sm_stdout_is_tty(void)
{
    return isatty(STDOUT_FILENO) && !getenv("SMELT_NO_TTY");
}

int sm_term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int64_t v;
    if (c && !sm_parse_i64(c, &v) && v > 20 && v < 10000)
        return (int)v;
    return 100;
}

/* --- glob ------------------------------------------------------------------ */

/* Match the segments of pattern [p, pend) against those of path [s, send),
 * recursing only at "**", so the cost is bounded by segments, not bytes. */
static bool glob_segments(const char *p, const char *s)
{
    for (;;) {
        size_t pl = strcspn(p, "/"), sl = strcspn(s, "/");
        if (pl == 2 && p[0] == '*' && p[1] == '*') {
            const char *pn = p[2] ? p + 3 : p + 2;
            if (!*pn) /* a final "**" matches everything below */
                return true;
            /* zero segments, or one more segment eaten by "**" */
            for (const char *t = s;;) {
                if (glob_segments(pn, t))
                    return true;
                size_t tl = strcspn(t, "/");
                if (!t[tl])
                    return false;
                if (t[0] == '.') /* "**" does not walk into hidden folders */
                    return false;
                t += tl + 1;
            }
        }
        char pseg[1024], sseg[1024];
        if (pl >= sizeof(pseg) || sl >= sizeof(sseg))
            return false;
        memcpy(pseg, p, pl);
        pseg[pl] = 0;
        memcpy(sseg, s, sl);
        sseg[sl] = 0;
        if (fnmatch(pseg, sseg, FNM_PERIOD))
            return false;
        bool pend = !p[pl], send = !s[sl];
        if (pend || send)
            return pend && send;
        p += pl + 1;
        s += sl + 1;
    }
}

bool sm_glob_match(const char *pattern, const char *path)
{
    return glob_segments(pattern, path);
}

/* --- work on several threads ------------------------------------------------ */

struct par_pool {
    void (*fn)(size_t i, void *ctx);
    void *ctx;
    size_t n, next;
    pthread_mutex_t mu;
};

static void *par_worker(void *arg)
{
    struct par_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        size_t i = pool->next < pool->n ? pool->next++ : pool->n;
        pthread_mutex_unlock(&pool->mu);
        if (i == pool->n)
            return NULL;
        pool->fn(i, pool->ctx);
    }
}

void sm_parallel_for(size_t n, size_t threads, void (*fn)(size_t i, void *ctx), void *ctx)
{
    struct par_pool pool = {.fn = fn, .ctx = ctx, .n = n};
    size_t nt = threads < 1 ? 1 : threads > n ? n : threads;
    pthread_mutex_init(&pool.mu, NULL);
    pthread_t *th = sm_calloc(nt ? nt : 1, sizeof(*th));
    size_t started = 0;
    while (started < nt && !pthread_create(&th[started], NULL, par_worker, &pool))
        started++;
    if (!started)
        par_worker(&pool);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&pool.mu);
}

/* --- libraries loaded on first use ----------------------------------------- */

/* One lock for every library: each is loaded once, so only a first call
 * ever waits on it for long. */
static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;

static int lib_load(struct sm_lib *lib, struct sm_err *err)
{
    _Static_assert(sizeof(void *) == sizeof(void (*)(void)), "dlsym() returns a void *");
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return sm_err_set(err, SM_EINTERNAL,
                          "cannot load '%s', which %s need (%s); install the package '%s'",
                          lib->soname, lib->purpose, dlerror(), lib->package);
    for (size_t i = 0; i < lib->nfns; i++) {
        void *f = dlsym(h, lib->fns[i].name);
        if (!f)
            return sm_err_set(err, SM_EINTERNAL,
                              "'%s' has no function '%s': it is older than smelt needs; install a "
                              "current '%s'",
                              lib->soname, lib->fns[i].name, lib->package);
        memcpy(lib->fns[i].slot, &f, sizeof(f));
    }
    return lib->init ? lib->init(err) : 0;
}

int sm_lib_ready(struct sm_lib *lib, struct sm_err *err)
{
    pthread_mutex_lock(&lib_mu);
    if (!lib->tried) {
        (void)lib_load(lib, &lib->err);
        lib->tried = true;
    }
    pthread_mutex_unlock(&lib_mu);
    return lib->err.code ? sm_err_set(err, lib->err.code, "%s", lib->err.msg) : 0;
}
