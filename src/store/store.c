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
                        int64_t *out_size, struct sm_err *err)
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
    return hash_or_copy(path, -1, NULL, out_sha256, NULL, err);
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
    char *rnd = sm_random_hex(6);
    char *tmp = sm_asprintf("%s.tmp-%s", dst, rnd);
    free(rnd);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = sm_err_set(err, SM_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    rc = hash_or_copy(src, fd, tmp, out_sha256, out_size, err);
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
    return strcmp(((const struct sto_entry *)a)->name, ((const struct sto_entry *)b)->name);
}

int sto_list(const char *dir, const char *pattern, struct sto_entry **out, size_t *n,
             struct sm_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return sm_err_set(err, errno == ENOENT ? SM_ENOTFOUND : SM_EIO, "cannot open folder '%s': %s",
                          dir, strerror(errno));
    struct sto_entry *arr = NULL;
    size_t cnt = 0, alloc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || fnmatch(pattern, e->d_name, FNM_PERIOD))
            continue;
        char *path = sm_path_join(dir, e->d_name);
        struct stat st;
        if (stat(path, &st) || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        SM_ALLOC_GROW(arr, cnt + 1, alloc);
        arr[cnt].path = path;
        arr[cnt].name = sm_strdup(e->d_name);
        arr[cnt].size = st.st_size;
        arr[cnt].mtime = st.st_mtime;
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(arr, cnt, sizeof(*arr), cmp_entry);
    *out = arr;
    *n = cnt;
    return 0;
}

void sto_entries_free(struct sto_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].path);
        free(e[i].name);
    }
    free(e);
}
