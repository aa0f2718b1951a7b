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
 *  - ing_check_gzip_lines(): gzip, checked with libdeflate (in memory) or
 *    zlib (streaming), the plain text optionally kept in a memfd.
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
#include <libdeflate.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zlib.h>

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
    X(filter_bytes)                                                                                \
    X(error_string)                                                                                \
    X(entry_filetype)                                                                              \
    X(entry_hardlink)                                                                              \
    X(entry_size)                                                                                  \
    X(entry_size_is_set)                                                                           \
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
    static const char *const ext[] = {".zip",     ".tar",     ".tgz",   ".tar.gz",
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

/* The longest line looked at for keys: the longest DuckDB's readers take
 * (the by-line reader's max_line_size). */
#define KEYS_LINE_MAX ((size_t)64 << 20)

/* Hand [p, p+n) to the key finder: a whole line when nl and nothing of it
 * is kept from an earlier feed; else kept until the line is whole. */
static void lines_keys(struct ing_lines *l, const char *p, size_t n, bool nl)
{
    if (!l->want_keys)
        return;
    if (nl && !l->partial.len && !l->partial_over) {
        ing_keys_line(&l->keys, p, n);
        return;
    }
    if (!l->partial_over && l->partial.len + n <= KEYS_LINE_MAX) {
        (void)sm_buf_add(&l->partial, p, n);
    } else {
        l->partial_over = true;
        sm_buf_reset(&l->partial);
    }
    if (!nl)
        return;
    if (!l->partial_over)
        ing_keys_line(&l->keys, l->partial.buf, l->partial.len);
    sm_buf_reset(&l->partial);
    l->partial_over = false;
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
        lines_keys(l, p, seg, nl != NULL);
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
        l->want_keys = proto->want_keys;
    }
    sm_buf_init(&l->head, 0);
    sm_buf_init(&l->partial, 0);
}

void ing_lines_finish(struct ing_lines *l)
{
    if (l->cur_len)
        lines_keys(l, "", 0, true); /* the last line, without its '\n' */
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
    sm_buf_release(&l->partial);
    ing_keys_release(&l->keys);
}

/* --- writing plain copies ---------------------------------------------------- */

/* --- the decompression-bomb guard --------------------------------------------- */

int ing_bomb_check(int64_t in, int64_t out, int max_expansion, struct sm_err *err)
{
    if (max_expansion <= 0 || out <= ING_BOMB_FLOOR || out / max_expansion <= in)
        return 0;
    char ib[32], ob[32];
    sm_fmt_bytes(ib, sizeof(ib), in);
    sm_fmt_bytes(ob, sizeof(ob), out);
    return sm_err_set(err, SM_EPARSE,
                      "refused as a likely decompression bomb: it expands more than %d times "
                      "(%s from %s read so far); if the data is genuine, raise "
                      "defaults.max_expansion in smelt.yml (0 turns the check off)",
                      max_expansion, ob, ib);
}

struct sink {
    const char *path; /* for messages */
    int fd;           /* -1: nothing written */
    struct ing_lines *lines;
    /* the guard: out bytes so far, against what a (libarchive's reader)
     * had read beyond in0 when the sink opened */
    struct archive *a;
    int64_t in0, out;
    int max_expansion;
    bool memory;   /* fd is a memfd: kept open by sink_close */
    int64_t limit; /* memory: the size the member was said to have */
};

static int sink_open(struct sink *k, const char *path, struct ing_lines *lines, struct sm_err *err)
{
    k->path = path;
    k->lines = lines;
    k->fd = -1;
    k->a = NULL;
    k->in0 = k->out = 0;
    k->max_expansion = 0;
    k->memory = false;
    if (!path)
        return 0;
    k->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (k->fd < 0)
        return sm_err_set(err, SM_EIO, "cannot create '%s': %s", path, strerror(errno));
    return 0;
}

/* Have the guard watch the bytes libarchive's a reads from here on. */
static void sink_guard(struct sink *k, struct archive *a, int max_expansion)
{
    k->a = a;
    k->in0 = la.filter_bytes(a, -1);
    k->max_expansion = max_expansion;
}

static int sink_write(struct sink *k, const void *data, size_t n, struct sm_err *err)
{
    k->out += (int64_t)n;
    if (k->memory && k->out > k->limit)
        return sm_err_set(err, SM_EPARSE,
                          "the member holds more than the %lld bytes the archive says it has",
                          (long long)k->limit);
    if (k->a && ing_bomb_check(la.filter_bytes(k->a, -1) - k->in0, k->out, k->max_expansion, err))
        return SM_EPARSE;
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

/* A sink into a new memfd (k->fd) instead of a file, refusing more than
 * limit bytes (the memory was set aside for that many); -1 when the
 * system cannot make one. */
static int sink_open_memory(struct sink *k, struct ing_lines *lines, int64_t limit)
{
    struct sm_err unused = SM_ERR_INIT;
    (void)sink_open(k, NULL, lines, &unused);
    k->path = "a memory file";
    k->fd = ing_memory_file(NULL, 0);
    k->memory = k->fd >= 0;
    k->limit = limit;
    return k->fd;
}

/* Close the copy; on failure remove it, so no partial file is ever read.
 * A memfd stays open on success: it is the copy. */
static int sink_close(struct sink *k, int rc, struct sm_err *err)
{
    if (k->lines && !rc)
        ing_lines_finish(k->lines);
    if (k->memory && !rc)
        return 0;
    if (k->memory) {
        close(k->fd);
        k->fd = -1;
        return rc;
    }
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
               int max_expansion, struct sm_err *err)
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
    sink_guard(&k, a, max_expansion);
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

/* --- gzip --------------------------------------------------------------------- */

/*
 * The whole-buffer path: libdeflate inflates about three times as fast as
 * zlib, but only from memory into memory, so it takes files that fit
 * (FAST_GZIP_MAX_IN compressed, FAST_GZIP_MAX_OUT inflated). Returns 0,
 * an error (a bomb: ing_bomb_check), or FAST_UNDECIDED when it did not
 * decide: the file is too big, or libdeflate found it
 * corrupt, cut short or otherwise odd; zlib's streaming path then reads it
 * and words the error.
 */
enum { FAST_GZIP_MAX_IN = 64 << 20, FAST_GZIP_MAX_OUT = 256 << 20, FAST_UNDECIDED = -1 };

bool ing_gzip_streaming_only;

int ing_memory_file(const void *data, size_t len)
{
    int fd = memfd_create("smelt-plain", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return fd;
}

static int check_gzip_fast(int fd, struct ing_lines *lines, int max_expansion, int64_t plain_room,
                           const char *plain_path, int *out_plain_fd, struct sm_err *err)
{
    struct stat sb;
    if (fstat(fd, &sb) || sb.st_size < 18 || sb.st_size > FAST_GZIP_MAX_IN)
        return FAST_UNDECIDED;
    size_t n = (size_t)sb.st_size, got = 0;
    unsigned char *in = sm_malloc(n);
    while (got < n) {
        ssize_t r = pread(fd, in + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    /* The last member's inflated size (mod 2^32) ends the file: a first
     * guess at the room needed, grown when there are more members. */
    size_t cap = got == n ? (size_t)in[n - 4] | (size_t)in[n - 3] << 8 | (size_t)in[n - 2] << 16 |
                                (size_t)in[n - 1] << 24
                          : 0;
    struct libdeflate_decompressor *d =
        got == n && cap <= FAST_GZIP_MAX_OUT ? libdeflate_alloc_decompressor() : NULL;
    unsigned char *out = d ? sm_malloc(cap + 1) : NULL;
    size_t pos = 0, len = 0;
    int rc = d ? 0 : FAST_UNDECIDED;
    bool garbage = false;
    while (!rc && pos < n) {
        if (n - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b) {
            /* trailing garbage after a member, as gzip -t allows (DuckDB
             * does not: it needs the plain copy) */
            rc = pos ? 0 : FAST_UNDECIDED;
            garbage = true;
            break;
        }
        size_t used = 0, made = 0;
        enum libdeflate_result r = libdeflate_gzip_decompress_ex(d, in + pos, n - pos, out + len,
                                                                 cap + 1 - len, &used, &made);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE && cap < FAST_GZIP_MAX_OUT) {
            cap = cap * 2 + (1 << 20) < FAST_GZIP_MAX_OUT ? cap * 2 + (1 << 20) : FAST_GZIP_MAX_OUT;
            out = sm_realloc(out, cap + 1);
            continue;
        }
        if (r != LIBDEFLATE_SUCCESS) {
            rc = FAST_UNDECIDED;
            break;
        }
        pos += used;
        len += made;
    }
    if (!rc)
        rc = ing_bomb_check((int64_t)n, (int64_t)len, max_expansion, err);
    if (!rc && lines) {
        ing_lines_feed(lines, (const char *)out, len);
        ing_lines_finish(lines);
    }
    if (!rc && ((int64_t)len <= plain_room || (garbage && !plain_path)))
        *out_plain_fd = ing_memory_file(out, len);
    if (!rc && *out_plain_fd < 0 && plain_path) {
        struct sink k;
        if (!(rc = sink_open(&k, plain_path, NULL, err)))
            rc = sink_close(&k, sink_write(&k, out, len, err), err);
        garbage = false; /* the plain copy has no garbage after it */
    }
    if (!rc && garbage && *out_plain_fd < 0)
        rc = sm_err_set(err, SM_EPARSE,
                        "bytes after the end of the gzip data (%zu of %zu): gzip -t allows them, "
                        "DuckDB does not",
                        n - pos, n);
    if (d)
        libdeflate_free_decompressor(d);
    free(out);
    free(in);
    return rc;
}

/* zlib rather than libarchive for gzip, and libdeflate before zlib where
 * it can: this runs over every .gz file of every load. */
int ing_check_gzip_lines(const char *path, struct ing_lines *lines, int max_expansion,
                         int64_t plain_room, const char *plain_path, int *out_plain_fd,
                         struct sm_err *err)
{
    *out_plain_fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_err_set(err, SM_EIO, "cannot open '%s': %s", path, strerror(errno));
    int fast = ing_gzip_streaming_only ? FAST_UNDECIDED
                                       : check_gzip_fast(fd, lines, max_expansion, plain_room,
                                                         plain_path, out_plain_fd, err);
    if (fast != FAST_UNDECIDED) {
        close(fd);
        return fast;
    }
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        close(fd);
        return sm_err_set(err, SM_EINTERNAL, "zlib init failed");
    }
    struct sink k; /* lines, and the plain copy when asked for */
    int rc = sink_open(&k, plain_path, lines, err);
    if (rc) {
        inflateEnd(&zs);
        close(fd);
        return rc;
    }
    size_t insz = 1 << 18, outsz = 1 << 18;
    unsigned char *in = sm_malloc(insz), *outb = sm_malloc(outsz);
    int zr = Z_OK;
    bool ended = false, any = false, garbage = false;
    int64_t in_total = 0, out_total = 0; /* across concatenated members */
    for (;;) {
        ssize_t n = read(fd, in, insz);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sm_err_set(err, SM_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (garbage)
            continue;
        any = true;
        in_total += n;
        zs.next_in = in;
        zs.avail_in = (uInt)n;
        /* Until the input is used up and inflate has no more output held back. */
        while (zs.avail_in || (!ended && zs.avail_out == 0)) {
            if (ended) {
                /* Another gzip member may follow (concatenated .gz files). */
                if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
                    inflateReset(&zs);
                    ended = false;
                } else {
                    garbage = true; /* trailing garbage, as gzip -t tolerates */
                    zs.avail_in = 0;
                    break;
                }
            }
            zs.next_out = outb;
            zs.avail_out = (uInt)outsz;
            zr = inflate(&zs, Z_NO_FLUSH);
            size_t got = outsz - zs.avail_out;
            out_total += (int64_t)got;
            if ((rc = ing_bomb_check(in_total - (int64_t)zs.avail_in, out_total, max_expansion,
                                     err)))
                break;
            if ((rc = sink_write(&k, outb, got, err)))
                break;
            if (zr == Z_STREAM_END) {
                ended = true;
            } else if (zr == Z_BUF_ERROR) {
                break; /* no progress possible: needs more input */
            } else if (zr != Z_OK) {
                rc = sm_err_set(err, SM_EPARSE, "corrupt gzip data at byte %lu: %s",
                                (unsigned long)zs.total_in, zs.msg ? zs.msg : "invalid stream");
                break;
            }
        }
        if (rc)
            break;
    }
    if (!rc && any && !ended)
        rc = sm_err_set(err, SM_EPARSE,
                        "truncated gzip file: the compressed stream ends after %lu bytes without "
                        "its end marker",
                        (unsigned long)zs.total_in);
    rc = sink_close(&k, rc, err); /* the lines finished; a failed copy removed */
    inflateEnd(&zs);
    free(in);
    free(outb);
    close(fd);
    return rc;
}

/* --- archives ----------------------------------------------------------------- */

void ing_members_free(struct ing_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].in_memory)
            close(m[i].mem_fd);
        free(m[i].name);
        free(m[i].path);
        free(m[i].refused);
        ing_lines_release(&m[i].lines);
    }
    free(m);
}

const char ing_refusal_symlink[] = "the member is a symbolic link: links are not followed";
const char ing_refusal_special[] = "the member is not a regular file (a device, FIFO or socket)";

/* Why a member of this type is not loaded, or NULL for a regular file. */
static const char *type_refusal(struct archive_entry *e)
{
    if (la.entry_hardlink(e))
        return "the member is a hard link: links are not followed";
    switch (la.entry_filetype(e)) {
    case AE_IFREG:
        return NULL;
    case AE_IFLNK:
        return ing_refusal_symlink;
    default:
        return ing_refusal_special;
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

bool ing_take_room(_Atomic int64_t *room, int64_t size)
{
    if (!room || size < 0)
        return false;
    int64_t cost = ing_mem_cost(size);
    if (atomic_fetch_sub(room, cost) >= cost)
        return true;
    atomic_fetch_add(room, cost);
    return false;
}

/* Extract the current (regular, accepted) member, of the stated size (-1:
 * not stated), to m->path: a memfd while o->mem_room lasts, else a file
 * under tmpdir. A compressed member goes to a raw copy first, then through
 * ing_unpack() to a file. */
static int extract_member(struct archive *a, struct ing_member *m, const char *tmpdir, size_t seq,
                          const struct ing_extract_opts *o, int64_t size, int64_t *out_bytes,
                          bool *fatal, struct sm_err *err)
{
    enum ing_comp comp = ing_comp_of(m->name, NULL);
    int max_expansion = o->max_expansion;
    struct sink k;
    int rc;
    if (comp == ING_COMP_NONE && ing_take_room(o->mem_room, size)) {
        int fd = sink_open_memory(&k, &m->lines, size);
        if (fd >= 0) {
            sink_guard(&k, a, max_expansion);
            rc = sink_close(&k, copy_member(a, &k, fatal, err), err);
            *out_bytes = rc ? 0 : k.out; /* a refused member's bytes are gone */
            if (!rc) {
                m->path = sm_asprintf("/proc/self/fd/%d", fd);
                m->in_memory = true;
                m->mem_fd = fd;
            }
            return rc;
        }
        atomic_fetch_add(o->mem_room, ing_mem_cost(size));
    }
    char *path = sm_asprintf("%s/m%zu", tmpdir, seq);
    char *raw = comp == ING_COMP_NONE ? NULL : sm_asprintf("%s/m%zu.raw", tmpdir, seq);
    rc = sink_open(&k, raw ? raw : path, raw ? NULL : &m->lines, err);
    if (!rc) {
        sink_guard(&k, a, max_expansion);
        rc = sink_close(&k, copy_member(a, &k, fatal, err), err);
    }
    if (!rc && raw)
        rc = ing_unpack(raw, comp, path, &m->lines, max_expansion, err);
    struct stat sb;
    *out_bytes = !rc && !stat(path, &sb) ? (int64_t)sb.st_size : 0;
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
                        const struct ing_extract_opts *o, size_t part, size_t nparts,
                        struct ing_member **out, size_t *out_n, struct sm_err *err)
{
    int max_expansion = o->max_expansion;
    struct ing_member *ms = NULL;
    size_t n = 0, alloc = 0;
    int64_t total = 0; /* bytes extracted by this part */
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
        ing_lines_init(&m->lines, o->proto);
        m->name = ing_member_name_shown(nm, strlen(nm));
        struct sm_err me = SM_ERR_INIT;
        const char *why = type_refusal(e);
        if (why) {
            m->refused = sm_strdup(why);
        } else if (ing_member_name_check(nm, strlen(nm), &me)) {
            m->refused = sm_strdup(me.msg);
        } else if (!o->accept(src, nm)) {
            m->refused = sm_asprintf("the member's name does not look like a %s file",
                                     prj_format_name(src->format));
        } else if ((n - 1) % nparts == part) {
            bool fatal = false;
            int64_t got = 0;
            int64_t size = la.entry_size_is_set(e) ? la.entry_size(e) : -1;
            if (extract_member(a, m, tmpdir, seq, o, size, &got, &fatal, &me)) {
                if (fatal) {
                    rc = sm_err_set(err, SM_EPARSE,
                                    "corrupt or truncated archive at member '%s': %s", m->name,
                                    me.msg);
                    goto out;
                }
                m->refused = sm_strdup(me.msg);
            }
            /* Many members, each small enough, can be a bomb together. */
            total += got;
            if (ing_bomb_check(la.filter_bytes(a, -1), total, max_expansion, &me)) {
                rc = sm_err_set(err, SM_EPARSE, "the archive as a whole is %s", me.msg);
                goto out;
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
            if (ms[i].path && !ms[i].in_memory)
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
    const struct ing_extract_opts *o;
    size_t part, nparts;
    struct ing_member *ms;
    size_t n;
    int rc;
    struct sm_err err;
};

static void *part_worker(void *arg)
{
    struct part_job *j = arg;
    j->rc =
        extract_part(j->path, j->tmpdir, j->src, j->o, j->part, j->nparts, &j->ms, &j->n, &j->err);
    return NULL;
}

int ing_archive_extract(const char *path, const char *tmpdir, const struct prj_source *src,
                        const struct ing_extract_opts *o, struct ing_member **out, size_t *out_n,
                        struct sm_err *err)
{
    bool zip = sm_ends_with(path, ".zip");
    int fast = zip ? ing_zip_extract(path, tmpdir, src, o, out, out_n, err) : ING_ZIP_DECLINED;
    if (fast != ING_ZIP_DECLINED)
        return fast;
    if (zip)
        sm_debug("%s: read by libarchive (not a plain zip)", path);
    size_t np = o->nthreads > 1 && zip ? (size_t)o->nthreads : 1;
    if (np == 1)
        return extract_part(path, tmpdir, src, o, 0, 1, out, out_n, err);
    struct part_job *jobs = sm_calloc(np, sizeof(*jobs));
    pthread_t *th = sm_calloc(np, sizeof(*th));
    bool *started = sm_calloc(np, sizeof(bool));
    for (size_t k = 0; k < np; k++) {
        jobs[k] = (struct part_job){
            .path = path, .tmpdir = tmpdir, .src = src, .o = o, .part = k, .nparts = np};
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
            if (jobs[k].ms[i].path && !jobs[k].ms[i].in_memory)
                unlink(jobs[k].ms[i].path);
        ing_members_free(jobs[k].ms, jobs[k].n);
    }
    free(jobs);
    free(th);
    free(started);
    return rc;
}
