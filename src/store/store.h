/*
 * store — object storage. Today the local file system; the S3 backend
 * (libcurl SigV4) will sit behind the same calls. Writes are atomic: a
 * temporary name in the same directory, fsync, rename.
 *
 *     char sha[SEC_SHA256_HEX];
 *     int64_t size;
 *     sto_copy_file("in/a.csv", "lake/landing/x/a.csv", sha, &size, &err);
 */
#ifndef SM_STORE_H
#define SM_STORE_H

#include "secrets/secrets.h"
#include "util/util.h"

/* Copy src to dst atomically, hashing the bytes on the way; the copy is
 * fsynced before it appears under dst. */
int sto_copy_file(const char *src, const char *dst, char out_sha256[SEC_SHA256_HEX],
                  int64_t *out_size, struct sm_err *err) SM_MUST_USE;
/* Called with the number of bytes just copied, for progress bars. */
typedef void (*sto_progress_fn)(void *ctx, int64_t nbytes);
/* sto_copy_file() that reports its progress to on_bytes (may be NULL). */
int sto_copy_file_progress(const char *src, const char *dst, char out_sha256[SEC_SHA256_HEX],
                           int64_t *out_size, sto_progress_fn on_bytes, void *ctx,
                           struct sm_err *err) SM_MUST_USE;
/* SHA-256 of a file's bytes. */
int sto_hash_file(const char *path, char out_sha256[SEC_SHA256_HEX], struct sm_err *err) SM_MUST_USE;

struct sto_entry {
    char *path; /* dir/rel */
    char *rel;  /* relative to dir, e.g. "2026/01/orders.csv" */
    char *name; /* the last segment of rel */
    int64_t size;
    int64_t mtime;
};
/* Regular files under dir whose path relative to dir matches pattern (see
 * sm_glob_match(): a pattern without '/' looks at dir itself only, "**"
 * descends into sub-folders; hidden files and folders are skipped and
 * symbolic links to folders are not followed), sorted by that relative path.
 * SM_ENOTFOUND when dir does not exist. Free with sto_entries_free. */
int sto_list(const char *dir, const char *pattern, struct sto_entry **out, size_t *n,
             struct sm_err *err) SM_MUST_USE;
void sto_entries_free(struct sto_entry *e, size_t n);

#endif
