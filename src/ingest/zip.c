/*
 * zip.c — zip archives read without libarchive when they are plain, as
 * nearly all are: one disk, no zip64, no encryption, members stored or
 * deflated, ASCII names, plain (uncompressed) members of at most 256 MB.
 * The central directory is parsed here; each member is inflated by
 * libdeflate from one buffer into one buffer (about three times as fast as
 * zlib, which libarchive uses) and checked against its CRC-32, on up to
 * nthreads threads. Any archive that is not plain is declined and
 * ing_archive_extract() hands it to libarchive, which also words the
 * errors of archives too damaged to list.
 *
 * Members come in the order of their local headers, as libarchive's
 * seekable zip reader gives them; the refusals (links, special files,
 * unsafe names, names that do not fit the source, bombs) are the ones
 * unpack.c makes, with the same words.
 */
#include "ingest_int.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>

bool ing_zip_libarchive_only;

enum {
    EOCD_SIG = 0x06054b50,
    EOCD_LEN = 22,
    ZIP64_LOCATOR_SIG = 0x07064b50,
    ZIP64_LOCATOR_LEN = 20,
    CDH_SIG = 0x02014b50,
    CDH_LEN = 46,
    LFH_SIG = 0x04034b50,
    LFH_LEN = 30,
    MAX_COMMENT = 0xffff,
    MAX_CD = 64 << 20,        /* a bigger central directory is left to libarchive */
    MAX_MEMBER = 256 << 20,   /* and so is a member that inflates to more */
    FLAG_ENCRYPTED = 0x0001,
    FLAG_STRONG = 0x0040,
    FLAG_MASKED = 0x2000,
    METHOD_STORED = 0,
    METHOD_DEFLATED = 8,
    HOST_UNIX = 3,
    DOS_DIR = 0x10,
};

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const uint8_t *p)
{
    return rd16(p) | rd16(p + 2) << 16;
}

static bool read_at(int fd, void *buf, size_t n, int64_t off)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

struct zentry {
    const uint8_t *name; /* in the central directory buffer */
    size_t namelen;
    uint32_t method, crc;
    int64_t csize, usize, local, data;
    const char *type_refusal; /* a link or special file: why it is refused */
    bool dir;
    size_t cd_index;
};

static int cmp_local(const void *a, const void *b)
{
    const struct zentry *x = a, *y = b;
    if (x->local != y->local)
        return x->local < y->local ? -1 : 1;
    return x->cd_index < y->cd_index ? -1 : x->cd_index > y->cd_index;
}

/* The central directory of the zip open as fd, of size bytes, into *cd and
 * its entries; false when the archive is not plain (see the top). */
static bool read_directory(int fd, int64_t size, uint8_t **cd, struct zentry **out, size_t *n)
{
    size_t tail = (size_t)(size < EOCD_LEN + MAX_COMMENT ? size : EOCD_LEN + MAX_COMMENT);
    if (tail < EOCD_LEN)
        return false;
    uint8_t *t = sm_malloc(tail);
    int64_t tail_off = size - (int64_t)tail;
    bool ok = read_at(fd, t, tail, tail_off);
    int64_t eocd = -1;
    /* the last end record whose comment reaches exactly to the end */
    for (size_t i = tail - EOCD_LEN + 1; ok && i-- > 0;) {
        if (rd32(t + i) == EOCD_SIG && i + EOCD_LEN + rd16(t + i + 20) == tail) {
            eocd = tail_off + (int64_t)i;
            break;
        }
    }
    const uint8_t *e = eocd >= 0 ? t + (eocd - tail_off) : NULL;
    uint32_t entries = e ? rd16(e + 10) : 0, cd_len = e ? rd32(e + 12) : 0,
             cd_off = e ? rd32(e + 16) : 0;
    ok = e && rd16(e + 4) == 0 && rd16(e + 6) == 0 && rd16(e + 8) == entries &&
         entries != 0xffff && cd_len != 0xffffffff && cd_off != 0xffffffff &&
         (int64_t)cd_off + cd_len <= eocd && cd_len <= MAX_CD &&
         !(eocd - tail_off >= ZIP64_LOCATOR_LEN &&
           rd32(e - ZIP64_LOCATOR_LEN) == ZIP64_LOCATOR_SIG);
    free(t);
    if (!ok)
        return false;
    *cd = sm_malloc(cd_len ? cd_len : 1);
    if (!read_at(fd, *cd, cd_len, cd_off))
        return false;
    struct zentry *z = sm_calloc(entries ? entries : 1, sizeof(*z));
    *out = z;
    *n = 0;
    size_t pos = 0;
    for (uint32_t k = 0; k < entries; k++) {
        const uint8_t *h = *cd + pos;
        if (cd_len - pos < CDH_LEN || rd32(h) != CDH_SIG)
            return false;
        size_t nl = rd16(h + 28), xl = rd16(h + 30), cl = rd16(h + 32);
        if (cd_len - pos - CDH_LEN < nl + xl + cl)
            return false;
        uint32_t flags = rd16(h + 8), csize = rd32(h + 20), usize = rd32(h + 24),
                 local = rd32(h + 42), ext = rd32(h + 38);
        struct zentry *x = &z[(*n)++];
        *x = (struct zentry){.name = h + CDH_LEN,
                             .namelen = nl,
                             .method = rd16(h + 10),
                             .crc = rd32(h + 16),
                             .csize = csize,
                             .usize = usize,
                             .local = local,
                             .cd_index = k};
        if ((flags & (FLAG_ENCRYPTED | FLAG_STRONG | FLAG_MASKED)) ||
            (x->method != METHOD_STORED && x->method != METHOD_DEFLATED) || rd16(h + 34) != 0 ||
            csize == 0xffffffff || usize == 0xffffffff || local == 0xffffffff ||
            local >= cd_off || usize > MAX_MEMBER)
            return false;
        for (size_t i = 0; i < nl; i++)
            if (!x->name[i] || x->name[i] >= 0x80)
                return false; /* libarchive would convert the name's charset */
        uint32_t mode = (rd16(h + 4) >> 8) == HOST_UNIX ? ext >> 16 : 0;
        x->dir = (nl && x->name[nl - 1] == '/') || (mode & S_IFMT) == S_IFDIR ||
                 (!(mode & S_IFMT) && (ext & DOS_DIR));
        if ((mode & S_IFMT) == S_IFLNK)
            x->type_refusal = ing_refusal_symlink;
        else if ((mode & S_IFMT) && (mode & S_IFMT) != S_IFREG && !x->dir)
            x->type_refusal = ing_refusal_special;
        pos += CDH_LEN + nl + xl + cl;
    }
    qsort(z, *n, sizeof(*z), cmp_local);
    /* where each member's data starts, and that it ends before the next */
    for (size_t k = 0; k < *n; k++) {
        uint8_t lh[LFH_LEN];
        struct zentry *x = &z[k];
        int64_t next = k + 1 < *n ? z[k + 1].local : (int64_t)cd_off;
        if (!read_at(fd, lh, LFH_LEN, x->local) || rd32(lh) != LFH_SIG ||
            rd16(lh + 26) != x->namelen)
            return false;
        x->data = x->local + LFH_LEN + rd16(lh + 26) + rd16(lh + 28);
        if (x->data + x->csize > next)
            return false;
    }
    return true;
}

struct zjob {
    struct ing_member *m;
    const struct zentry *z;
    size_t seq;
};

struct zctx {
    int fd;
    const char *tmpdir;
    const struct ing_extract_opts *o;
    struct zjob *jobs;
};

/* Inflate one member into a memfd (while o->mem_room lasts) or a file under
 * tmpdir; a member that cannot be read is refused, as by libarchive. */
static void extract_one(size_t i, void *arg)
{
    struct zctx *c = arg;
    struct zjob *j = &c->jobs[i];
    const struct zentry *z = j->z;
    struct ing_member *m = j->m;
    size_t cs = (size_t)z->csize, us = (size_t)z->usize;
    uint8_t *in = sm_malloc(cs ? cs : 1);
    uint8_t *out = z->method == METHOD_STORED ? in : sm_malloc(us ? us : 1);
    const char *why = NULL;
    if (!read_at(c->fd, in, cs, z->data)) {
        why = "cannot read the member: the archive ends inside it";
    } else if (z->method == METHOD_STORED) {
        if (cs != us)
            why = "cannot read the member: its stored size and its size disagree";
    } else {
        struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
        size_t got = 0;
        enum libdeflate_result r =
            d ? libdeflate_deflate_decompress(d, in, cs, out, us, &got) : LIBDEFLATE_BAD_DATA;
        libdeflate_free_decompressor(d);
        if (!d)
            why = "cannot read the member: out of memory";
        else if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
            m->refused = sm_asprintf("the member holds more than the %lld bytes the archive "
                                     "says it has",
                                     (long long)z->usize);
        else if (r != LIBDEFLATE_SUCCESS)
            why = "cannot read the member: its compressed data is corrupt";
        else if (got != us)
            m->refused = sm_asprintf("cannot read the member: it holds %zu bytes, the archive "
                                     "says %lld",
                                     got, (long long)z->usize);
    }
    if (!why && !m->refused && libdeflate_crc32(0, out, us) != z->crc)
        why = "cannot read the member: its CRC-32 does not match (the archive is damaged)";
    if (why)
        m->refused = sm_strdup(why);
    if (!m->refused) {
        ing_lines_feed(&m->lines, (const char *)out, us);
        ing_lines_finish(&m->lines);
        int fd = -1;
        if (ing_take_room(c->o->mem_room, z->usize) && (fd = ing_memory_file(out, us)) < 0)
            atomic_fetch_add(c->o->mem_room, ing_mem_cost(z->usize));
        if (fd >= 0) {
            m->path = sm_asprintf("/proc/self/fd/%d", fd);
            m->in_memory = true;
            m->mem_fd = fd;
        } else {
            char *path = sm_asprintf("%s/m%zu", c->tmpdir, j->seq);
            struct sm_err e = SM_ERR_INIT;
            if (sm_write_file(path, out, us, &e)) {
                m->refused = sm_strdup(e.msg);
                free(path);
            } else {
                m->path = path;
            }
        }
    }
    if (out != in)
        free(out);
    free(in);
}

int ing_zip_extract(const char *path, const char *tmpdir, const struct prj_source *src,
                    const struct ing_extract_opts *o, struct ing_member **out, size_t *out_n,
                    struct sm_err *err)
{
    if (ing_zip_libarchive_only)
        return ING_ZIP_DECLINED;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        if (fd >= 0)
            close(fd);
        return ING_ZIP_DECLINED; /* libarchive words the error */
    }
    uint8_t *cd = NULL;
    struct zentry *z = NULL;
    size_t nz = 0;
    if (!read_directory(fd, sb.st_size, &cd, &z, &nz)) {
        free(cd);
        free(z);
        close(fd);
        return ING_ZIP_DECLINED;
    }
    for (size_t k = 0; k < nz; k++) {
        if (z[k].dir)
            continue;
        /* a compressed member (.csv.gz in a zip) goes through libarchive's
         * path, which unpacks it after extracting it */
        char *nm = sm_strndup((const char *)z[k].name, z[k].namelen);
        bool comp = !z[k].type_refusal && ing_comp_of(nm, NULL) != ING_COMP_NONE;
        free(nm);
        if (comp) {
            free(cd);
            free(z);
            close(fd);
            return ING_ZIP_DECLINED;
        }
    }
    struct ing_member *ms = sm_calloc(nz ? nz : 1, sizeof(*ms));
    struct zjob *jobs = sm_calloc(nz ? nz : 1, sizeof(*jobs));
    size_t n = 0, nj = 0;
    int64_t total = 0;
    int rc = 0;
    for (size_t k = 0; k < nz && !rc; k++) {
        const struct zentry *x = &z[k];
        if (x->dir)
            continue;
        struct ing_member *m = &ms[n++];
        ing_lines_init(&m->lines, o->proto);
        char *nm = sm_strndup((const char *)x->name, x->namelen);
        m->name = ing_member_name_shown(nm, x->namelen);
        struct sm_err me = SM_ERR_INIT;
        if (x->type_refusal) {
            m->refused = sm_strdup(x->type_refusal);
        } else if (ing_member_name_check(nm, x->namelen, &me)) {
            m->refused = sm_strdup(me.msg);
        } else if (!o->accept(src, nm)) {
            m->refused = sm_asprintf("the member's name does not look like a %s file",
                                     prj_format_name(src->format));
        } else if (ing_bomb_check(x->csize, x->usize, o->max_expansion, &me)) {
            m->refused = sm_strdup(me.msg);
        } else {
            jobs[nj++] = (struct zjob){.m = m, .z = x, .seq = k};
            total += x->usize;
            /* Many members, each small enough, can be a bomb together. */
            if (ing_bomb_check(x->data + x->csize, total, o->max_expansion, &me))
                rc = sm_err_set(err, SM_EPARSE, "the archive as a whole is %s", me.msg);
        }
        free(nm);
    }
    if (!rc) {
        struct zctx c = {.fd = fd, .tmpdir = tmpdir, .o = o, .jobs = jobs};
        sm_parallel_for(nj, o->nthreads > 1 ? (size_t)o->nthreads : 1, extract_one, &c);
    }
    close(fd);
    free(jobs);
    free(cd);
    free(z);
    if (rc) {
        ing_members_free(ms, n);
        return rc;
    }
    *out = ms;
    *out_n = n;
    return 0;
}
