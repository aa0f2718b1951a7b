/*
 * unpack.c — compressed files and archives, through libarchive (the only
 * file of smelt that includes it; loaded on first use, see below). DuckDB
 * 1.4 reads gzip and zstd itself, but reads a stream cut short without
 * complaint, and does not read bzip2, xz or archives at all; this file
 * fills those gaps:
 *
 *  - ing_unpack(): one compressed file through libarchive's "raw" format
 *    with exactly the filter its name says, checked to its end marker;
 *    optionally written out decompressed (bz2, xz) for DuckDB to read.
 *  - ing_archive_extract(): zip and tar (optionally compressed) member by
 *    member into a temporary folder, refusing what must not be extracted.
 *  - ing_lines_*(): the line counter every byte passes through on the way.
 *
 * Invariants: the landed file is only ever read; everything written goes
 * to the temporary folder the caller gives and removes; a member that is
 * refused is never written anywhere.
 */
#include "ingest_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <pthread.h>

/* --- libarchive, loaded on first use ------------------------------------------ */

/* libarchive is loaded by the first file that needs it (a zip or tar, a
 * bzip2, xz or zstd file), not linked: with the nine libraries it brings in
 * (libxml2, ICU, nettle, ...) it would cost every command about 1 ms at
 * start (bench/README.md, "startup"). Its functions, as archive_NAME, are
 * called as la.NAME, with the types archive.h declares. */
#define ARCHIVE_FUNCTIONS(X)                                                                       \
    X(read_new)                                                                                    \
    X(read_free)                                                                                   \
    X(read_support_format_raw)                                                                     \
    X(read_support_format_tar)                                                                     \
    X(read_support_format_zip)                                                                     \
    X(read_support_filter_all)                                                                     \
    X(read_support_filter_bzip2)                                                                   \
    X(read_support_filter_gzip)                                                                    \
    X(read_support_filter_xz)                                                                      \
    X(read_support_filter_zstd)                                                                    \
    X(read_open_filename)                                                                          \
    X(read_next_header)                                                                            \
    X(read_data)                                                                                   \
    X(read_data_skip)                                                                              \
    X(filter_code)                                                                                 \
    X(error_string)                                                                                \
    X(entry_filetype)                                                                              \
    X(entry_hardlink)                                                                              \
    X(entry_pathname)                                                                              \
    X(entry_pathname_utf8)

static struct {
#define X(name) __typeof__(archive_##name) *name;
    ARCHIVE_FUNCTIONS(X)
#undef X
} la;

static const struct sm_lib_fn la_fns[] = {
#define X(name) {"archive_" #name, &la.name},
    ARCHIVE_FUNCTIONS(X)
#undef X
};

static struct sm_lib la_lib = SM_LIB_INIT("libarchive.so.13", "libarchive13",
                                          "archives and bzip2, xz and zstd files", la_fns, NULL);

/* --- names ------------------------------------------------------------------ */

static const struct {
    const char *suffix;
    enum ing_comp comp;
} comp_suffixes[] = {
    {".gz", ING_COMP_GZIP},
    {".zst", ING_COMP_ZSTD},
    {".bz2", ING_COMP_BZIP2},
    {".xz", ING_COMP_XZ},
};

enum ing_comp ing_comp_of(const char *name, size_t *out_suffix_len)
{
    for (size_t i = 0; i < sizeof(comp_suffixes) / sizeof(comp_suffixes[0]); i++) {
        if (sm_ends_with(name, comp_suffixes[i].suffix)) {
            if (out_suffix_len)
                *out_suffix_len = strlen(comp_suffixes[i].suffix);
            return comp_suffixes[i].comp;
        }
    }
    if (out_suffix_len)
        *out_suffix_len = 0;
    return ING_COMP_NONE;
}

const char *ing_comp_name(enum ing_comp c)
{
    static const char *const names[] = {"plain", "gzip", "zstd", "bzip2", "xz"};
    return names[c];
}

bool ing_is_archive(const char *name)
{
    static const char *const ext[] = {".zip",     ".tar",     ".tgz",    ".tar.gz",
                                      ".tar.zst", ".tar.bz2", ".tar.xz"};
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        if (sm_ends_with(name, ext[i]))
            return true;
    return false;
}

/* --- lines ------------------------------------------------------------------ */

static void lines_end_line(struct ing_lines *l)
{
    l->nlines++;
    if (!l->cur_nonblank) {
        SM_ALLOC_GROW(l->blank, l->nblank + 1, l->alloc);
        l->blank[l->nblank++] = l->nlines;
    }
    l->cur_len = 0;
    l->cur_nonblank = false;
}

/* Mark the current line non-blank if [p, p+n) holds a non-blank byte. */
static void lines_see(struct ing_lines *l, const char *p, size_t n)
{
    if (l->cur_nonblank || !n)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\r' || (l->ws_blank && (c == ' ' || c == '\t')))
            continue;
        l->cur_nonblank = true;
        return;
    }
}

/* Keep [p, p+n) (and the newline after it, if nl) while the head is open. */
static void lines_keep(struct ing_lines *l, const char *p, size_t n, bool nl)
{
    if (l->head_done)
        return;
    size_t room = l->head_max > l->head.len ? l->head_max - l->head.len : 0;
    if (n > room) {
        l->head_done = true; /* a line longer than the budget: keep whole lines only */
        return;
    }
    (void)sm_buf_add(&l->head, p, n);
    if (nl) {
        (void)sm_buf_addc(&l->head, '\n');
        if ((size_t)l->nlines + 1 >= l->head_lines)
            l->head_done = true;
    }
}

void ing_lines_feed(struct ing_lines *l, const char *buf, size_t n)
{
    const char *p = buf, *end = buf + n;
    if (!l->head_lines)
        l->head_done = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t seg = (size_t)((nl ? nl : end) - p);
        lines_see(l, p, seg);
        lines_keep(l, p, seg, nl != NULL);
        l->cur_len += (int64_t)seg;
        if (!nl)
            break;
        lines_end_line(l);
        p = nl + 1;
    }
}

void ing_lines_init(struct ing_lines *l, const struct ing_lines *proto)
{
    memset(l, 0, sizeof(*l));
    if (proto) {
        l->ws_blank = proto->ws_blank;
        l->head_lines = proto->head_lines;
        l->head_max = proto->head_max;
    }
    sm_buf_init(&l->head, 0);
}

void ing_lines_finish(struct ing_lines *l)
{
    if (l->cur_len) {
        bool blank = !l->cur_nonblank;
        l->nlines++;
        if (blank) {
            SM_ALLOC_GROW(l->blank, l->nblank + 1, l->alloc);
            l->blank[l->nblank++] = l->nlines;
        }
        l->cur_len = 0;
    }
}

void ing_lines_release(struct ing_lines *l)
{
    free(l->blank);
    l->blank = NULL;
    l->nblank = l->alloc = 0;
    sm_buf_release(&l->head);
}

/* --- writing plain copies ---------------------------------------------------- */

struct sink {
    const char *path; /* for messages */
    int fd;           /* -1: nothing written */
    struct ing_lines *lines;
};

static int sink_open(struct sink *k, const char *path, struct ing_lines *lines, struct sm_err *err)
{
    k->path = path;
    k->lines = lines;
    k->fd = -1;
    if (!path)
        return 0;
    k->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (k->fd < 0)
        return sm_err_set(err, SM_EIO, "cannot create '%s': %s", path, strerror(errno));
    return 0;
}

static int sink_write(struct sink *k, const void *data, size_t n, struct sm_err *err)
{
    if (k->lines)
        ing_lines_feed(k->lines, data, n);
    const char *p = data;
    while (k->fd >= 0 && n) {
        ssize_t w = write(k->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sm_err_set(err, SM_EIO, "cannot write '%s': %s", k->path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Close the copy; on failure remove it, so no partial file is ever read. */
static int sink_close(struct sink *k, int rc, struct sm_err *err)
{
    if (k->lines && !rc)
        ing_lines_finish(k->lines);
    if (k->fd < 0)
        return rc;
    if (close(k->fd) && !rc)
        rc = sm_err_set(err, SM_EIO, "cannot write '%s': %s", k->path, strerror(errno));
    k->fd = -1;
    if (rc)
        unlink(k->path);
    return rc;
}

/* --- single compressed files ------------------------------------------------- */

enum { UNPACK_BUF = 1 << 18 };

static int add_filter(struct archive *a, enum ing_comp comp)
{
    switch (comp) {
    case ING_COMP_GZIP:
        return la.read_support_filter_gzip(a);
    case ING_COMP_ZSTD:
        return la.read_support_filter_zstd(a);
    case ING_COMP_BZIP2:
        return la.read_support_filter_bzip2(a);
    case ING_COMP_XZ:
        return la.read_support_filter_xz(a);
    case ING_COMP_NONE:
        break;
    }
    return ARCHIVE_OK;
}

static int filter_code(enum ing_comp comp)
{
    switch (comp) {
    case ING_COMP_GZIP:
        return ARCHIVE_FILTER_GZIP;
    case ING_COMP_ZSTD:
        return ARCHIVE_FILTER_ZSTD;
    case ING_COMP_BZIP2:
        return ARCHIVE_FILTER_BZIP2;
    case ING_COMP_XZ:
        return ARCHIVE_FILTER_XZ;
    case ING_COMP_NONE:
        break;
    }
    return ARCHIVE_FILTER_NONE;
}

/* A plain file: read it as it is (libarchive would do the same, slower). */
static int copy_plain(const char *path, struct sink *k, struct sm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_err_set(err, SM_EIO, "cannot open '%s': %s", path, strerror(errno));
    char *buf = sm_malloc(UNPACK_BUF);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, UNPACK_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sm_err_set(err, SM_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0 || (rc = sink_write(k, buf, (size_t)n, err)))
            break;
    }
    free(buf);
    close(fd);
    return rc;
}

/* libarchive's words for a stream cut short, made plain. */
static int stream_error(struct archive *a, enum ing_comp comp, struct sm_err *err)
{
    const char *why = la.error_string(a);
    return sm_err_set(err, SM_EPARSE, "corrupt or truncated %s file: %s", ing_comp_name(comp),
                      why ? why : "the compressed stream ends early");
}

int ing_unpack(const char *path, enum ing_comp comp, const char *out_path, struct ing_lines *lines,
               struct sm_err *err)
{
    struct sink k;
    SM_TRY(sink_open(&k, out_path, lines, err));
    if (comp == ING_COMP_NONE)
        return sink_close(&k, copy_plain(path, &k, err), err);

    struct archive *a = NULL;
    struct archive_entry *e = NULL;
    char *buf = NULL;
    int rc = sm_lib_ready(&la_lib, err);
    if (rc)
        goto out;
    a = la.read_new();
    if (!a) {
        rc = sm_err_set(err, SM_ENOMEM, "cannot start libarchive");
        goto out;
    }
    if (add_filter(a, comp) < ARCHIVE_WARN || la.read_support_format_raw(a) != ARCHIVE_OK) {
        rc = sm_err_set(err, SM_EINTERNAL, "libarchive cannot read %s: %s", ing_comp_name(comp),
                        sm_or(la.error_string(a), "no support built in"));
        goto out;
    }
    if (la.read_open_filename(a, path, UNPACK_BUF) != ARCHIVE_OK) {
        rc = sm_err_set(err, SM_EPARSE, "cannot read '%s' as %s: %s", path, ing_comp_name(comp),
                        sm_or(la.error_string(a), "unknown error"));
        goto out;
    }
    int hr = la.read_next_header(a, &e);
    if (hr == ARCHIVE_EOF) /* no bytes at all */
        goto out;
    if (hr < ARCHIVE_WARN) {
        rc = stream_error(a, comp, err);
        goto out;
    }
    /* Without the filter libarchive reads the bytes as they are. */
    if (la.filter_code(a, 0) != filter_code(comp)) {
        rc = sm_err_set(err, SM_EPARSE, "not %s data, although the name ends like it",
                        ing_comp_name(comp));
        goto out;
    }
    buf = sm_malloc(UNPACK_BUF);
    for (;;) {
        la_ssize_t n = la.read_data(a, buf, UNPACK_BUF);
        if (n < 0) {
            rc = stream_error(a, comp, err);
            break;
        }
        if (n == 0 || (rc = sink_write(&k, buf, (size_t)n, err)))
            break;
    }
out:
    free(buf);
    if (a)
        la.read_free(a);
    return sink_close(&k, rc, err);
}

/* --- archives ----------------------------------------------------------------- */

void ing_members_free(struct ing_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].name);
        free(m[i].path);
        free(m[i].refused);
        ing_lines_release(&m[i].lines);
    }
    free(m);
}

/* Why a member of this type is not loaded, or NULL for a regular file. */
static const char *type_refusal(struct archive_entry *e)
{
    if (la.entry_hardlink(e))
        return "the member is a hard link: links are not followed";
    switch (la.entry_filetype(e)) {
    case AE_IFREG:
        return NULL;
    case AE_IFLNK:
        return "the member is a symbolic link: links are not followed";
    default:
        return "the member is not a regular file (a device, FIFO or socket)";
    }
}

/* Copy the current member's data to k. ARCHIVE_FATAL from libarchive is an
 * archive-level error (*fatal), anything else fails only this member. */
static int copy_member(struct archive *a, struct sink *k, bool *fatal, struct sm_err *err)
{
    char *buf = sm_malloc(UNPACK_BUF);
    int rc = 0;
    for (;;) {
        la_ssize_t n = la.read_data(a, buf, UNPACK_BUF);
        if (n < 0) {
            *fatal = n == ARCHIVE_FATAL;
            rc = sm_err_set(err, SM_EPARSE, "cannot read the member: %s",
                            sm_or(la.error_string(a), "unknown error"));
            break;
        }
        if (n == 0 || (rc = sink_write(k, buf, (size_t)n, err)))
            break;
    }
    free(buf);
    return rc;
}

/* Extract the current (regular, accepted) member to m->path. A compressed
 * member goes to a raw copy first, then through ing_unpack(). */
static int extract_member(struct archive *a, struct ing_member *m, const char *tmpdir, size_t seq,
                          bool *fatal, struct sm_err *err)
{
    enum ing_comp comp = ing_comp_of(m->name, NULL);
    char *path = sm_asprintf("%s/m%zu", tmpdir, seq);
    char *raw = comp == ING_COMP_NONE ? NULL : sm_asprintf("%s/m%zu.raw", tmpdir, seq);
    struct sink k;
    int rc = sink_open(&k, raw ? raw : path, raw ? NULL : &m->lines, err);
    if (!rc)
        rc = sink_close(&k, copy_member(a, &k, fatal, err), err);
    if (!rc && raw)
        rc = ing_unpack(raw, comp, path, &m->lines, err);
    if (raw)
        unlink(raw);
    free(raw);
    if (rc) {
        unlink(path);
        free(path);
        return rc;
    }
    m->path = path;
    return 0;
}

/* One pass over the archive: every member is listed (and refused where it
 * must be), but only members whose index is part modulo nparts are
 * extracted; the others are skipped without being inflated. */
static int extract_part(const char *path, const char *tmpdir, const struct prj_source *src,
                        ing_member_accept_fn accept, const struct ing_lines *proto, size_t part,
                        size_t nparts, struct ing_member **out, size_t *out_n, struct sm_err *err)
{
    struct ing_member *ms = NULL;
    size_t n = 0, alloc = 0;
    SM_TRY(sm_lib_ready(&la_lib, err));
    struct archive *a = la.read_new();
    int rc = 0;
    if (!a)
        return sm_err_set(err, SM_ENOMEM, "cannot start libarchive");
    if (la.read_support_format_zip(a) != ARCHIVE_OK ||
        la.read_support_format_tar(a) != ARCHIVE_OK ||
        la.read_support_filter_all(a) < ARCHIVE_WARN) {
        rc = sm_err_set(err, SM_EINTERNAL, "libarchive cannot read zip or tar: %s",
                        sm_or(la.error_string(a), "no support built in"));
        goto out;
    }
    if (la.read_open_filename(a, path, UNPACK_BUF) != ARCHIVE_OK) {
        rc = sm_err_set(err, SM_EPARSE, "not a readable zip or tar archive: %s",
                        sm_or(la.error_string(a), "unknown error"));
        goto out;
    }
    for (size_t seq = 0;; seq++) {
        struct archive_entry *e;
        int hr = la.read_next_header(a, &e);
        if (hr == ARCHIVE_EOF)
            break;
        if (hr < ARCHIVE_WARN) {
            rc = sm_err_set(err, SM_EPARSE, "corrupt or truncated archive after %zu members: %s", n,
                            sm_or(la.error_string(a), "unknown error"));
            goto out;
        }
        if (la.entry_filetype(e) == AE_IFDIR)
            continue;
        /* The raw bytes of the name as stored; libarchive may fail to
         * convert them to the locale's charset, which is no reason to drop
         * the member silently. */
        const char *nm = la.entry_pathname(e);
        if (!nm)
            nm = la.entry_pathname_utf8(e);
        if (!nm)
            nm = "";
        SM_ALLOC_GROW(ms, n + 1, alloc);
        struct ing_member *m = &ms[n++];
        memset(m, 0, sizeof(*m));
        ing_lines_init(&m->lines, proto);
        m->name = ing_member_name_shown(nm, strlen(nm));
        struct sm_err me = SM_ERR_INIT;
        const char *why = type_refusal(e);
        if (why) {
            m->refused = sm_strdup(why);
        } else if (ing_member_name_check(nm, strlen(nm), &me)) {
            m->refused = sm_strdup(me.msg);
        } else if (!accept(src, nm)) {
            m->refused = sm_asprintf("the member's name does not look like a %s file",
                                     prj_format_name(src->format));
        } else if ((n - 1) % nparts == part) {
            bool fatal = false;
            if (extract_member(a, m, tmpdir, seq, &fatal, &me)) {
                if (fatal) {
                    rc = sm_err_set(err, SM_EPARSE,
                                    "corrupt or truncated archive at member '%s': %s", m->name,
                                    me.msg);
                    goto out;
                }
                m->refused = sm_strdup(me.msg);
            }
        } else if (la.read_data_skip(a) < ARCHIVE_WARN) {
            rc = sm_err_set(err, SM_EPARSE, "corrupt or truncated archive at member '%s': %s",
                            m->name, sm_or(la.error_string(a), "unknown error"));
            goto out;
        }
    }
out:
    la.read_free(a);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            if (ms[i].path)
                unlink(ms[i].path);
        ing_members_free(ms, n);
        return rc;
    }
    *out = ms;
    *out_n = n;
    return 0;
}

struct part_job {
    const char *path, *tmpdir;
    const struct prj_source *src;
    ing_member_accept_fn accept;
    const struct ing_lines *proto;
    size_t part, nparts;
    struct ing_member *ms;
    size_t n;
    int rc;
    struct sm_err err;
};

static void *part_worker(void *arg)
{
    struct part_job *j = arg;
    j->rc = extract_part(j->path, j->tmpdir, j->src, j->accept, j->proto, j->part, j->nparts,
                         &j->ms, &j->n, &j->err);
    return NULL;
}

int ing_archive_extract(const char *path, const char *tmpdir, const struct prj_source *src,
                        ing_member_accept_fn accept, const struct ing_lines *proto, int nthreads,
                        struct ing_member **out, size_t *out_n, struct sm_err *err)
{
    size_t np = nthreads > 1 && sm_ends_with(path, ".zip") ? (size_t)nthreads : 1;
    if (np == 1)
        return extract_part(path, tmpdir, src, accept, proto, 0, 1, out, out_n, err);
    struct part_job *jobs = sm_calloc(np, sizeof(*jobs));
    pthread_t *th = sm_calloc(np, sizeof(*th));
    bool *started = sm_calloc(np, sizeof(bool));
    for (size_t k = 0; k < np; k++) {
        jobs[k] = (struct part_job){.path = path,
                                    .tmpdir = tmpdir,
                                    .src = src,
                                    .accept = accept,
                                    .proto = proto,
                                    .part = k,
                                    .nparts = np};
        started[k] = k > 0 && !pthread_create(&th[k], NULL, part_worker, &jobs[k]);
    }
    part_worker(&jobs[0]);
    for (size_t k = 1; k < np; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            part_worker(&jobs[k]);
    }
    int rc = 0;
    for (size_t k = 0; k < np && !rc; k++)
        if (jobs[k].rc)
            rc = sm_err_set(err, jobs[k].rc, "%s", jobs[k].err.msg);
    for (size_t k = 1; k < np && !rc; k++)
        if (jobs[k].n != jobs[0].n)
            rc = sm_err_set(err, SM_EPARSE, "the archive's members changed while it was read");
    if (!rc) {
        /* member i as extracted by the part it fell to */
        for (size_t i = 0; i < jobs[0].n; i++) {
            size_t k = i % np;
            if (k == 0)
                continue;
            struct ing_member tmp = jobs[0].ms[i];
            jobs[0].ms[i] = jobs[k].ms[i];
            jobs[k].ms[i] = tmp;
        }
        *out = jobs[0].ms;
        *out_n = jobs[0].n;
        jobs[0].ms = NULL;
        jobs[0].n = 0;
    }
    for (size_t k = 0; k < np; k++) {
        for (size_t i = 0; rc && i < jobs[k].n; i++)
            if (jobs[k].ms[i].path)
                unlink(jobs[k].ms[i].path);
        ing_members_free(jobs[k].ms, jobs[k].n);
    }
    free(jobs);
    free(th);
    free(started);
    return rc;
}
