/*
 * util — the bottom layer every other module uses: error codes and the error
 * struct, the one growable string buffer, logging, small path and time
 * helpers.
 *
 * Errors: a fallible function returns int, 0 on success or an enum sm_rc,
 * and takes an optional `struct sm_err *err` last (NULL is always allowed).
 * The first error message set wins; outer layers add context with
 * sm_err_prefix(), they never overwrite the root cause.
 *
 *     struct sm_err err = SM_ERR_INIT;
 *     if (prj_load(dir, &p, &err))
 *         die("%s", err.msg);
 *
 * Buffers: struct sm_buf is always NUL-terminated, grows as needed and may
 * carry a size cap for untrusted input.
 *
 *     struct sm_buf b = SM_BUF_INIT;
 *     sm_buf_addf(&b, "%s.%s", zone, name);
 *     char *s = sm_buf_detach(&b);   // caller frees s
 */
#ifndef SM_UTIL_H
#define SM_UTIL_H

/* The system headers every module uses come first, so that banned.h (last)
 * cannot clash with their declarations. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SM_MUST_USE __attribute__((warn_unused_result))

enum sm_rc {
    SM_OK = 0,
    SM_ENOMEM,
    SM_EINVALID,
    SM_EIO,
    SM_EPARSE,
    SM_ECONFIG,
    SM_ENET,
    SM_EDB,
    SM_EENGINE,
    SM_ENOTFOUND,
    SM_ECONFLICT,
    SM_ETIMEOUT,
    SM_ECANCELLED,
    SM_EINTERNAL,
};

#define SM_ERR_MSG_MAX 2048
struct sm_err {
    int code;
    char msg[SM_ERR_MSG_MAX];
};
#define SM_ERR_INIT {0, {0}}

/* Set err (if non-NULL and not already set) and return code. */
int sm_err_set(struct sm_err *err, int code, const char *fmt, ...) SM_PRINTF(3, 4);
/* Prepend "context: " to an already set message. Returns err->code (or code
 * when err is NULL). */
int sm_err_prefix(struct sm_err *err, int code, const char *fmt, ...) SM_PRINTF(3, 4);
void sm_err_clear(struct sm_err *err);
const char *sm_rc_name(int rc);

#define SM_TRY(expr)                                                                               \
    do {                                                                                           \
        int sm_try_rc_ = (expr);                                                                   \
        if (sm_try_rc_)                                                                            \
            return sm_try_rc_;                                                                     \
    } while (0)

/* Programmer error: print and abort. */
#define SM_BUG(...) sm_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void sm_bug(const char *file, int line, const char *fmt, ...) SM_PRINTF(3, 4);

/* Allocation that aborts on out-of-memory; nothing in smelt can make progress
 * without memory, so callers do not check. */
void *sm_malloc(size_t n);
void *sm_calloc(size_t n, size_t size);
void *sm_realloc(void *p, size_t n);
char *sm_strdup(const char *s);
char *sm_strndup(const char *s, size_t n);
char *sm_asprintf(const char *fmt, ...) SM_PRINTF(1, 2);

/* Growable array helper: grow *arr (element size es) so that it holds at
 * least n elements; *alloc tracks capacity. */
void sm_grow(void **arr, size_t *alloc, size_t n, size_t es);
#define SM_ALLOC_GROW(arr, n, alloc) sm_grow((void **)&(arr), &(alloc), (n), sizeof(*(arr)))

/* --- sm_buf --------------------------------------------------------------- */
struct sm_buf {
    char *buf;   /* never NULL after init: points at "" when empty */
    size_t len;
    size_t alloc;
    size_t cap;  /* 0 = unlimited; otherwise adds beyond cap fail */
};
extern char sm_buf_empty[];
#define SM_BUF_INIT {sm_buf_empty, 0, 0, 0}

void sm_buf_init(struct sm_buf *b, size_t cap);
void sm_buf_release(struct sm_buf *b);
void sm_buf_reset(struct sm_buf *b);
/* The add functions return 0, or SM_ENOMEM when the cap would be exceeded. */
int sm_buf_add(struct sm_buf *b, const void *data, size_t len);
int sm_buf_adds(struct sm_buf *b, const char *s);
int sm_buf_addc(struct sm_buf *b, char c);
int sm_buf_addf(struct sm_buf *b, const char *fmt, ...) SM_PRINTF(2, 3);
int sm_buf_vaddf(struct sm_buf *b, const char *fmt, va_list ap) SM_PRINTF(2, 0);
/* Append s as a SQL string literal: 'it''s'. */
int sm_buf_add_sql_str(struct sm_buf *b, const char *s);
/* Append s as a SQL identifier: "a""b". */
int sm_buf_add_sql_ident(struct sm_buf *b, const char *s);
/* Append s as a JSON string literal with escapes. */
int sm_buf_add_json_str(struct sm_buf *b, const char *s);
/* Hand the string to the caller (who frees it) and reset b. */
char *sm_buf_detach(struct sm_buf *b);

/* --- sm_map: string -> pointer hash map -------------------------------------
 * Keys are copied; values are borrowed pointers the caller owns. */
struct sm_map_entry {
    char *key;   /* NULL = empty slot */
    void *value;
    bool deleted;
};
struct sm_map {
    struct sm_map_entry *slots;
    size_t nslots, count, used;
};
#define SM_MAP_INIT {NULL, 0, 0, 0}
void sm_map_release(struct sm_map *m);
/* Set key to value (replacing). */
void sm_map_put(struct sm_map *m, const char *key, void *value);
/* Value for key, or NULL. */
void *sm_map_get(const struct sm_map *m, const char *key);
/* Remove key; returns its value or NULL. */
void *sm_map_del(struct sm_map *m, const char *key);

/* --- work on several threads ------------------------------------------------ */

/* Call fn(i, ctx) for every i in 0..n-1 on up to threads threads (each
 * takes the next index when it is free); returns when all are done. When
 * no thread can be started, the calls run on the caller's thread. */
void sm_parallel_for(size_t n, size_t threads, void (*fn)(size_t i, void *ctx), void *ctx);

/* --- libraries loaded on first use ----------------------------------------
 * A library that most commands never use (libcurl, say) is not linked:
 * its module loads it the first time it is needed, because loading a
 * library and what it pulls in slows the start of every command. The
 * module calls the library's functions through a table of pointers that
 * sm_lib_ready() fills once for the process:
 *
 *     static struct { __typeof__(foo_open) *open; } foo;
 *     static const struct sm_lib_fn foo_fns[] = {{"foo_open", &foo.open}};
 *     static struct sm_lib foo_lib =
 *         SM_LIB_INIT("libfoo.so.1", "libfoo1", "foo files", foo_fns, NULL);
 *     ...
 *     SM_TRY(sm_lib_ready(&foo_lib, err));   // then foo.open(...)
 */
struct sm_lib_fn {
    const char *name; /* the symbol, e.g. "curl_easy_init" */
    void *slot;       /* the address of the function pointer it goes into */
};

struct sm_lib {
    const char *soname;  /* what dlopen() is given: "libcurl.so.4" */
    const char *package; /* the Debian package that has it: "libcurl4" */
    const char *purpose; /* what needs it, for the error: "HTTP requests" */
    const struct sm_lib_fn *fns;
    size_t nfns;
    /* Run once after the functions are found (curl_global_init()), or NULL. */
    int (*init)(struct sm_err *err);
    /* Set by sm_lib_ready(), under its lock. */
    bool tried;
    struct sm_err err;
};

/* A struct sm_lib for the array fns (its size is counted) and init. */
#define SM_LIB_INIT(soname_, package_, purpose_, fns_, init_)                                      \
    {                                                                                              \
        .soname = (soname_), .package = (package_), .purpose = (purpose_), .fns = (fns_),          \
        .nfns = sizeof(fns_) / sizeof((fns_)[0]), .init = (init_)                                  \
    }

/* 0 once lib is loaded, every function of lib->fns found and lib->init
 * run; otherwise the error of the first attempt (SM_EINTERNAL, naming the
 * library and the package to install), every time, without trying again.
 * Thread-safe: the first call does the work under a lock, which also makes
 * the filled pointers visible to every thread that calls it after. The
 * library stays loaded until the process exits. */
int sm_lib_ready(struct sm_lib *lib, struct sm_err *err) SM_MUST_USE;

/* --- logging -------------------------------------------------------------- */
enum sm_log_level { SM_LOG_DEBUG, SM_LOG_INFO, SM_LOG_WARN, SM_LOG_ERROR };
void sm_log_set_level(enum sm_log_level lvl);
void sm_log(enum sm_log_level lvl, const char *fmt, ...) SM_PRINTF(2, 3);
#define sm_debug(...) sm_log(SM_LOG_DEBUG, __VA_ARGS__)
#define sm_info(...) sm_log(SM_LOG_INFO, __VA_ARGS__)
#define sm_warn(...) sm_log(SM_LOG_WARN, __VA_ARGS__)

/* --- strings, paths, time ------------------------------------------------- */
/* s, or dflt when s is NULL. */
static inline const char *sm_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}
bool sm_starts_with(const char *s, const char *prefix);
bool sm_ends_with(const char *s, const char *suffix);
/* s (n bytes) with its %XX escapes decoded (a '%' not followed by two hex
 * digits stays as it is). Caller frees. */
char *sm_percent_decode(const char *s, size_t n);
/* A human size into buf: "812 B", "1.3 kB", "41.0 MB" (powers of 1000). */
void sm_fmt_bytes(char *buf, size_t len, int64_t n);
/* Parse a whole decimal integer; returns 0 or SM_EINVALID. */
int sm_parse_i64(const char *s, int64_t *out);
/* Join two path parts with one '/'. Caller frees. An absolute b wins. */
char *sm_path_join(const char *a, const char *b);
/* mkdir -p. */
int sm_mkdirs(const char *path, struct sm_err *err) SM_MUST_USE;
/* rm -rf; missing path is fine. */
int sm_rmtree(const char *path, struct sm_err *err) SM_MUST_USE;
bool sm_path_exists(const char *path);
bool sm_is_dir(const char *path);
/* Read a whole file into a NUL-terminated malloc'd buffer. */
int sm_read_file(const char *path, char **out, size_t *out_len, struct sm_err *err) SM_MUST_USE;
/* Write data to path (created or truncated, mode 0600), no fsync: for
 * temporary files. On failure the file is removed. */
int sm_write_file(const char *path, const void *data, size_t len, struct sm_err *err) SM_MUST_USE;
/* Write data atomically: temp file in the same directory, fsync, rename. */
int sm_write_file_atomic(const char *path, const void *data, size_t len,
                         struct sm_err *err) SM_MUST_USE;
/* Seconds since the epoch, with microseconds. */
double sm_now(void);
int64_t sm_now_ms(void);
/* UTC ISO-8601 "2026-11-21T13:22:01.123Z" into buf (>= 32 bytes). */
void sm_iso8601(int64_t ms, char *buf, size_t n);
/* Random lowercase hex id of n bytes (2n chars) into a new string. */
char *sm_random_hex(size_t n);
/* A v4 UUID string (36 chars). Caller frees. */
char *sm_uuid4(void);
/* Does path ("a/b/c.csv", relative, '/'-separated) match pattern? Each
 * '/'-separated segment of the pattern is an fnmatch(3) pattern for one
 * segment of the path (a leading '.' is matched only explicitly), except
 * "**", which matches any number of segments, none included:
 * "**" + "/" + "*.csv" matches "x.csv" and "a/b/x.csv". */
bool sm_glob_match(const char *pattern, const char *path);
/* Levenshtein distance, for "did you mean" hints. */
size_t sm_edit_distance(const char *a, const char *b);
/* Is stdout a terminal (and not disabled by NO_COLOR/--format)? */
bool sm_stdout_is_tty(void);
/* Terminal width, or 100 when unknown. */
int sm_term_width(void);

#include "util/banned.h"

#endif
