/*
 * store.c — local file-system backend. Every write goes to a temporary file
 * beside its destination, is fsynced, renamed into place, and the directory is
 * fsynced, so a crash leaves either the old state or the complete new file.
 */
#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>

static int hash_or_copy(const char *src, int out_fd, const char *dst, char sha[SEC_SHA256_HEX],
                        int64_t *out_size, sto_progress_fn on_bytes, void *ctx, struct sm_err *err)
{
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_err_set(err, errno == ENOENT ? SM_ENOTFOUND : SM_EIO, "cannot open '%s': %s",
                          src, strerror(errno));
    struct sec_sha256 h;
    sec_sha256_init(&h);
    size_t bufsz = 1 << 20;
    char *buf = sm_malloc(bufsz);
    int64_t total = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, bufsz);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sm_err_set(err, SM_EIO, "cannot read '%s': %s", src, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        sec_sha256_update(&h, buf, (size_t)n);
        total += n;
        for (ssize_t off = 0; out_fd >= 0 && off < n;) {
            ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = sm_err_set(err, SM_EIO, "cannot write '%s': %s", dst, strerror(errno));
                break;
            }
            off += w;
        }
        if (rc)
            break;
        /* Start writing the copy back now rather than all at the fsync,
         * so the disk works while the next bytes are read and hashed. */
        if (out_fd >= 0)
            (void)sync_file_range(out_fd, total - n, n, SYNC_FILE_RANGE_WRITE);
        if (on_bytes)
            on_bytes(ctx, n);
    }
    free(buf);
    close(fd);
    if (!rc) {
        sec_sha256_final(&h, sha);
        if (out_size)
            *out_size = total;
    }
    return rc;
}

int sto_hash_file(const char *path, char out_sha256[SEC_SHA256_HEX], struct sm_err *err)
{
    return hash_or_copy(path, -1, NULL, out_sha256, NULL, NULL, NULL, err);
}

static void fsync_dir_of(const char *path)
{
    char *dir = sm_strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        int fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
    free(dir);
}

int sto_copy_file(const char *src, const char *dst, char out_sha256[SEC_SHA256_HEX],
                  int64_t *out_size, struct sm_err *err)
{
    return sto_copy_file_progress(src, dst, out_sha256, out_size, NULL, NULL, err);
}

int sto_copy_file_progress(const char *src, const char *dst, char out_sha256[SEC_SHA256_HEX],
                           int64_t *out_size, sto_progress_fn on_bytes, void *ctx,
                           struct sm_err *err)
{
    char *rnd = sm_random_hex(6);
    char *tmp = sm_asprintf("%s.tmp-%s", dst, rnd);
    free(rnd);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = sm_err_set(err, SM_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    rc = hash_or_copy(src, fd, tmp, out_sha256, out_size, on_bytes, ctx, err);
    if (!rc && fsync(fd))
        rc = sm_err_set(err, SM_EIO, "cannot sync '%s': %s", tmp, strerror(errno));
    close(fd);
    if (!rc && rename(tmp, dst))
        rc = sm_err_set(err, SM_EIO, "cannot rename '%s' to '%s': %s", tmp, dst, strerror(errno));
    if (rc)
        unlink(tmp);
    else
        fsync_dir_of(dst);
out:
    free(tmp);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct sto_entry *)a)->rel, ((const struct sto_entry *)b)->rel);
}

struct listing {
    const char *root, *pattern;
    bool deep; /* the pattern has a '/': walk sub-folders */
    struct sto_entry *arr;
    size_t n, alloc;
};

enum { MAX_LIST_DEPTH = 64 };

/* Add the matching files of root/rel (rel "" for root itself). */
static int list_dir(struct listing *l, const char *rel, int depth, struct sm_err *err)
{
    char *dir = *rel ? sm_path_join(l->root, rel) : sm_strdup(l->root);
    DIR *d = opendir(dir);
    if (!d) {
        int rc = sm_err_set(err, errno == ENOENT ? SM_ENOTFOUND : SM_EIO,
                            "cannot open folder '%s': %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = sm_path_join(dir, e->d_name);
        char *erel = *rel ? sm_asprintf("%s/%s", rel, e->d_name) : sm_strdup(e->d_name);
        struct stat st, lst;
        if (!stat(path, &st) && S_ISREG(st.st_mode) && sm_glob_match(l->pattern, erel)) {
            SM_ALLOC_GROW(l->arr, l->n + 1, l->alloc);
            struct sto_entry *x = &l->arr[l->n++];
            x->path = path;
            x->rel = erel;
            x->name = sm_strdup(e->d_name);
            x->size = st.st_size;
            x->mtime = st.st_mtime;
            continue;
        }
        if (l->deep && depth < MAX_LIST_DEPTH && !lstat(path, &lst) && S_ISDIR(lst.st_mode))
            rc = list_dir(l, erel, depth + 1, err);
        free(path);
        free(erel);
    }
    closedir(d);
    free(dir);
    return rc;
}

int sto_list(const char *dir, const char *pattern, struct sto_entry **out, size_t *n,
             struct sm_err *err)
{
    struct listing l = {.root = dir,
                        .pattern = pattern,
                        .deep = strchr(pattern, '/') || strstr(pattern, "**")};
    int rc = list_dir(&l, "", 0, err);
    if (rc) {
        sto_entries_free(l.arr, l.n);
        return rc;
    }
    if (l.n)
        qsort(l.arr, l.n, sizeof(*l.arr), cmp_entry);
    *out = l.arr;
    *n = l.n;
    return 0;
}

void sto_entries_free(struct sto_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].path);
        free(e[i].rel);
        free(e[i].name);
    }
    free(e);
}
