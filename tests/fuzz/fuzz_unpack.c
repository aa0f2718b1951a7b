/*
 * libFuzzer target: compressed files and archives as they arrive (outside
 * input), through unpack.c. The first byte says what the rest is:
 *
 *  - even: a .gz file, checked three times, by the in-memory path
 *    (libdeflate) keeping a copy in memory, by zlib's streaming path
 *    writing a plain copy to a file, and by the in-memory path with no
 *    room in memory, writing the copy to a file. Aborts when they disagree
 *    on whether the file is good, or, for a good file, on its lines (count
 *    and blank lines) or on the plain text the copies hold, or when a
 *    copy is left behind for a file refused.
 *  - odd: a .zip, .tar or .tar.gz (by the byte's next bits), extracted
 *    member by member, some members into memfds. Aborts when an extracted
 *    member is anywhere but the temporary folder or a memfd, or when a
 *    member is both refused and extracted. A zip is extracted twice, by
 *    zip.c's own reader (unless it declines) and by libarchive: aborts when
 *    a member both extracted differs.
 */
#include "ingest/ingest_int.h"

#include <fcntl.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_unpack.XXXXXX";

static void put(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
}

static bool accept_all(const struct prj_source *src, const char *name)
{
    (void)src;
    return name[0] != 'x'; /* some refusals too */
}

/* The plain text of a memfd, or NULL for -1. */
static char *slurp(int fd, size_t *len)
{
    *len = 0;
    if (fd < 0)
        return NULL;
    char *buf = NULL;
    struct sm_err err = SM_ERR_INIT;
    char *path = sm_asprintf("/proc/self/fd/%d", fd);
    if (sm_read_file(path, &buf, len, &err))
        abort();
    free(path);
    return buf;
}

static void check_gzip(const char *path)
{
    struct ing_lines a, b;
    ing_lines_init(&a, NULL);
    ing_lines_init(&b, NULL);
    struct sm_err ea = SM_ERR_INIT, eb = SM_ERR_INIT, ec = SM_ERR_INIT;
    int fa = -1, fb = -1, fc = -1;
    char *pb = sm_asprintf("%s/plain_b", dir), *pc = sm_asprintf("%s/plain_c", dir);
    ing_gzip_streaming_only = false;
    int ra = ing_check_gzip_lines(path, &a, 1000, INT64_MAX, NULL, &fa, &ea);
    int rc = ing_check_gzip_lines(path, NULL, 1000, 0, pc, &fc, &ec);
    ing_gzip_streaming_only = true;
    int rb = ing_check_gzip_lines(path, &b, 1000, 0, pb, &fb, &eb);
    if ((ra == 0) != (rb == 0) || (ra == 0) != (rc == 0) || fb >= 0 || fc >= 0)
        abort();
    if ((ra && !ea.msg[0]) || (rb && !eb.msg[0]) || (rc && !ec.msg[0]))
        abort(); /* a refusal says why */
    if (ra && (!access(pb, F_OK) || !access(pc, F_OK)))
        abort(); /* a copy of a file refused */
    if (!ra) {
        if (a.nlines != b.nlines || a.nblank != b.nblank)
            abort();
        for (size_t i = 0; i < a.nblank; i++)
            if (a.blank[i] != b.blank[i])
                abort();
        /* The copies on disk are the same plain text, with as many lines;
         * the memory copy, when made, too. */
        size_t lb = 0, lc = 0, la = 0;
        char *tb = NULL, *tc = NULL;
        struct sm_err e = SM_ERR_INIT;
        if (sm_read_file(pb, &tb, &lb, &e) || sm_read_file(pc, &tc, &lc, &e))
            abort();
        if (lb != lc || memcmp(tb, tc, lb))
            abort();
        struct ing_lines c;
        ing_lines_init(&c, NULL);
        ing_lines_feed(&c, tb, lb);
        ing_lines_finish(&c);
        if (c.nlines != a.nlines)
            abort();
        ing_lines_release(&c);
        char *ta = slurp(fa, &la);
        if (ta && (la != lb || memcmp(ta, tb, la)))
            abort();
        free(ta);
        free(tb);
        free(tc);
    }
    unlink(pb);
    unlink(pc);
    free(pb);
    free(pc);
    if (fa >= 0)
        close(fa);
    ing_lines_release(&a);
    ing_lines_release(&b);
}

/* What one extraction gave: each member's name, and its text when it was
 * extracted (NULL when refused). */
struct got {
    size_t n;
    char **names, **texts;
    size_t *lens;
};

static void got_release(struct got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->names[i]);
        free(g->texts[i]);
    }
    free(g->names);
    free(g->texts);
    free(g->lens);
}

/* Extract; abort when a member lands anywhere but tmp or a memfd, or is
 * both refused and extracted. Returns whether the archive was read. */
static bool extract(const char *path, const char *tmp, struct got *g)
{
    struct prj_source src;
    memset(&src, 0, sizeof(src));
    src.name = "fuzz";
    src.format = PRJ_FMT_CSV;
    _Atomic int64_t room = (int64_t)3 << 20; /* some members in memory, the rest in files */
    struct ing_extract_opts o = {
        .accept = accept_all, .nthreads = 2, .max_expansion = 1000, .mem_room = &room};
    struct ing_member *ms = NULL;
    size_t n = 0;
    struct sm_err err = SM_ERR_INIT;
    memset(g, 0, sizeof(*g));
    if (ing_archive_extract(path, tmp, &src, &o, &ms, &n, &err)) {
        if (!err.msg[0] || ms || n)
            abort();
        return false;
    }
    g->n = n;
    g->names = sm_calloc(n ? n : 1, sizeof(char *));
    g->texts = sm_calloc(n ? n : 1, sizeof(char *));
    g->lens = sm_calloc(n ? n : 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        const struct ing_member *m = &ms[i];
        g->names[i] = sm_strdup(m->name);
        if (m->refused && m->path)
            abort();
        if (!m->refused && !m->path)
            abort();
        if (m->path && !sm_starts_with(m->path, tmp) &&
            !(m->in_memory && sm_starts_with(m->path, "/proc/self/fd/")))
            abort();
        if (m->path && sm_read_file(m->path, &g->texts[i], &g->lens[i], &err))
            abort();
        if (m->path && !m->in_memory)
            unlink(m->path);
    }
    ing_members_free(ms, n);
    return true;
}

static size_t count_named(const struct got *g, const char *name)
{
    size_t c = 0;
    for (size_t i = 0; i < g->n; i++)
        c += !strcmp(g->names[i], name);
    return c;
}

/* The member of b that is a's member i: the same place in the same list
 * of names, or else the one member of that name in each (names repeat in
 * archives); b->n when there is none. */
static size_t paired(const struct got *a, const struct got *b, size_t i)
{
    if (a->n == b->n && !strcmp(a->names[i], b->names[i]))
        return i;
    if (count_named(a, a->names[i]) != 1 || count_named(b, a->names[i]) != 1)
        return b->n;
    for (size_t k = 0; k < b->n; k++)
        if (!strcmp(a->names[i], b->names[k]))
            return k;
    return b->n;
}

/* A zip goes through zip.c's own reader unless it declines, and through
 * libarchive: when both read the archive, a member both extracted has the
 * same text. */
static void check_archive(const char *path, const char *tmp, bool zip)
{
    struct got a, b;
    ing_zip_libarchive_only = false;
    bool ra = extract(path, tmp, &a);
    if (zip) {
        ing_zip_libarchive_only = true;
        bool rb = extract(path, tmp, &b);
        for (size_t i = 0; ra && rb && i < a.n; i++) {
            size_t k = paired(&a, &b, i);
            if (k < b.n && a.texts[i] && b.texts[k] &&
                (a.lens[i] != b.lens[k] || memcmp(a.texts[i], b.texts[k], a.lens[i])))
                abort();
        }
        if (rb)
            got_release(&b);
    }
    if (ra)
        got_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool made;
    if (!made && !mkdtemp(dir))
        abort();
    made = true;
    if (!size)
        return 0;
    static const char *const kinds[] = {"in.zip", "in.tar", "in.tar.gz", "in.zip"};
    uint8_t k = data[0];
    char *path = sm_asprintf("%s/%s", dir, k % 2 ? kinds[(k >> 1) % 4] : "in.csv.gz");
    char *tmp = sm_asprintf("%s/x", dir);
    struct sm_err err = SM_ERR_INIT;
    if (sm_mkdirs(tmp, &err))
        abort();
    put(path, data + 1, size - 1);
    if (k % 2)
        check_archive(path, tmp, sm_ends_with(path, ".zip"));
    else
        check_gzip(path);
    if (sm_rmtree(tmp, &err))
        abort();
    unlink(path);
    free(path);
    free(tmp);
    return 0;
}
