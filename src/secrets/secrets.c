/*
 * secrets.c — libsodium wrappers. SHA-256 identifies landed files by
 * content, so that a file is landed once whatever its name or mtime. The
 * rest is the secret store's cryptography: the master key (environment or
 * key file), per-value encryption, reading a value from a terminal or a
 * pipe, and ${secret:NAME} / ${env:NAME} templates.
 *
 * Invariants:
 *   - no error message, log line or return value other than the one asked
 *     for holds a secret value or key bytes;
 *   - every buffer that held a value or a key is wiped (sodium_memzero)
 *     before it is freed or goes out of scope, and a growing buffer copies
 *     into a new allocation and wipes the old one instead of realloc(),
 *     which could leave a copy behind in freed memory;
 *   - every value handed out is allocated to exactly strlen + 1 bytes, so
 *     sec_value_free() can wipe all of it.
 */
#include "secrets.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
/* SHA256_Init and friends: deprecated in OpenSSL 3 in favour of EVP, whose
 * state lives on the heap; the plain struct fits struct sec_sha256. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sys/stat.h>
#include <termios.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct sec_sha256 *)0)->opaque),
               "struct sec_sha256 too small for OpenSSL's SHA256_CTX");
_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((struct sec_sha256 *)0)->opaque),
               "struct sec_sha256 too small for libsodium's SHA-256 state");
_Static_assert(SEC_KEY_BYTES == crypto_secretbox_KEYBYTES, "secretbox key size");
_Static_assert(SEC_NONCE_BYTES == crypto_secretbox_NONCEBYTES, "secretbox nonce size");
_Static_assert(SEC_MAC_BYTES == crypto_secretbox_MACBYTES, "secretbox MAC size");

/* Domain separation for the per-name keys; changing it makes every stored
 * secret unreadable, so a new scheme needs a new prefix and a migration. */
static const char subkey_context[] = "smelt secret v1\n";

static void sodium_ready(void)
{
    if (sodium_init() < 0)
        SM_BUG("libsodium failed to initialize");
}

/* --- hashing ----------------------------------------------------------------- */

/* SHA-256 of every landed byte is on the path of every ingest: OpenSSL's
 * uses the CPU's SHA extensions where there are some (about 4 times
 * libsodium's portable code on x86-64 with SHA-NI). libcrypto is loaded by
 * the first hash rather than linked (util.h, sm_lib_ready()), because
 * loading it costs every command about 1 ms at start and most commands
 * hash nothing. Should it not load, libsodium's SHA-256 gives the same
 * digests, slower. */
static struct {
    __typeof__(SHA256_Init) *init;
    __typeof__(SHA256_Update) *update;
    __typeof__(SHA256_Final) *final;
} ossl;

static const struct sm_lib_fn ossl_fns[] = {
    {"SHA256_Init", &ossl.init},
    {"SHA256_Update", &ossl.update},
    {"SHA256_Final", &ossl.final},
};

static struct sm_lib ossl_lib =
    SM_LIB_INIT("libcrypto.so.3", "libssl3", "fast SHA-256 hashes", ossl_fns, NULL);

void sec_sha256_init(struct sec_sha256 *h)
{
    h->openssl = !sm_lib_ready(&ossl_lib, NULL);
    if (h->openssl) {
        ossl.init((SHA256_CTX *)(void *)h->opaque);
    } else {
        sodium_ready();
        crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)h->opaque);
    }
}

void sec_sha256_update(struct sec_sha256 *h, const void *data, size_t n)
{
    if (h->openssl)
        ossl.update((SHA256_CTX *)(void *)h->opaque, data, n);
    else
        crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)h->opaque, data, n);
}

void sec_sha256_final(struct sec_sha256 *h, char out_hex[SEC_SHA256_HEX])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    if (h->openssl)
        ossl.final(d, (SHA256_CTX *)(void *)h->opaque);
    else
        crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)h->opaque, d);
    sodium_bin2hex(out_hex, SEC_SHA256_HEX, d, sizeof(d));
}

/* --- a buffer for secret bytes ---------------------------------------------- */

/* Like sm_buf, but growth copies and wipes instead of realloc(). */
struct vbuf {
    char *p;
    size_t len, alloc;
};

static void vbuf_release(struct vbuf *b)
{
    if (b->p) {
        sodium_memzero(b->p, b->alloc);
        free(b->p);
    }
    memset(b, 0, sizeof(*b));
}

static void vbuf_add(struct vbuf *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->alloc) {
        size_t alloc = b->alloc ? b->alloc : 64;
        while (alloc < b->len + n + 1)
            alloc *= 2;
        char *p = sm_malloc(alloc);
        if (b->len)
            memcpy(p, b->p, b->len);
        size_t len = b->len;
        vbuf_release(b);
        b->p = p;
        b->len = len;
        b->alloc = alloc;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* The contents as a value of exactly len + 1 bytes; b is released. */
static char *vbuf_take(struct vbuf *b)
{
    char *v = sm_malloc(b->len + 1);
    if (b->len)
        memcpy(v, b->p, b->len);
    v[b->len] = '\0';
    vbuf_release(b);
    return v;
}

void sec_value_free(char *value)
{
    if (!value)
        return;
    sodium_memzero(value, strlen(value) + 1);
    free(value);
}

/* --- names ------------------------------------------------------------------- */

static bool name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* Is s[0..n) a valid name? */
static bool name_valid_n(const char *s, size_t n)
{
    if (n == 0 || n > SEC_NAME_MAX || !name_start(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!name_char(s[i]))
            return false;
    return true;
}

bool sec_name_valid(const char *name)
{
    return name && name_valid_n(name, strlen(name));
}

int sec_name_check(const char *name, struct sm_err *err)
{
    if (sec_name_valid(name))
        return 0;
    return sm_err_set(err, SM_EINVALID,
                      "invalid secret name '%.*s': use letters, digits and '_', starting with a "
                      "letter or '_' (at most %d characters)",
                      64, name ? name : "", SEC_NAME_MAX);
}

/* --- master key -------------------------------------------------------------- */

void sec_key_release(struct sec_key *k)
{
    if (!k)
        return;
    free(k->source);
    sodium_memzero(k, sizeof(*k));
}

void sec_key_generate(struct sec_key *out)
{
    sodium_ready();
    memset(out, 0, sizeof(*out));
    crypto_secretbox_keygen(out->bytes);
    out->origin = SEC_KEY_CREATED;
}

bool sec_key_equal(const struct sec_key *a, const struct sec_key *b)
{
    return sodium_memcmp(a->bytes, b->bytes, SEC_KEY_BYTES) == 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Decode text[0..n) as hex or base64 of exactly SEC_KEY_BYTES into out. */
static bool decode_key(const char *text, size_t n, unsigned char out[SEC_KEY_BYTES])
{
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    const char *end = NULL;
    size_t len = 0;
    if (n == 2 * SEC_KEY_BYTES &&
        sodium_hex2bin(out, SEC_KEY_BYTES, text, n, NULL, &len, &end) == 0 &&
        len == SEC_KEY_BYTES && end == text + n)
        return true;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
        if (sodium_base642bin(out, SEC_KEY_BYTES, text, n, NULL, &len, &end, variants[i]) == 0 &&
            len == SEC_KEY_BYTES && end == text + n)
            return true;
    return false;
}

int sec_key_parse(const char *text, const char *what, struct sec_key *out, struct sm_err *err)
{
    sodium_ready();
    memset(out, 0, sizeof(*out));
    const char *s = text ? text : "";
    size_t n = strlen(s);
    while (n && is_space(*s))
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    if (!decode_key(s, n, out->bytes)) {
        sodium_memzero(out->bytes, sizeof(out->bytes));
        return sm_err_set(err, SM_ECONFIG,
                          "%s is not a valid master key: expected 64 hex digits or the base64 of "
                          "32 bytes, got %zu characters",
                          what, n);
    }
    out->origin = SEC_KEY_FROM_ENV;
    out->source = sm_strdup(what);
    return 0;
}

/* fsync the directory holding path, so a created or renamed entry in it
 * survives a crash. */
static int sync_parent(const char *path, struct sm_err *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? (slash == path ? sm_strdup("/") : sm_strndup(path, (size_t)(slash - path)))
                      : sm_strdup(".");
    int rc = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd))
        rc = sm_err_set(err, SM_EIO, "cannot sync directory '%s': %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

int sec_key_read_file(const char *path, struct sec_key *out, struct sm_err *err)
{
    char buf[256];
    struct stat st;
    ssize_t n = 0;
    size_t len = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_err_set(err, errno == ENOENT ? SM_ENOTFOUND : SM_EIO,
                          "cannot open master key file '%s': %s", path, strerror(errno));
    /* Checked on the open descriptor, so the file cannot change between
     * the check and the read. */
    if (fstat(fd, &st)) {
        rc = sm_err_set(err, SM_EIO, "cannot stat master key file '%s': %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = sm_err_set(err, SM_ECONFIG, "master key file '%s' is not a regular file", path);
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = sm_err_set(err, SM_ECONFIG,
                        "master key file '%s' may be accessed by group or others (mode %04o): "
                        "run 'chmod 600 %s'",
                        path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sm_err_set(err, SM_EIO, "cannot read master key file '%s': %s", path,
                            strerror(errno));
            goto out;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (len == sizeof(buf) - 1 || strlen(buf) != len) {
        rc = sm_err_set(err, SM_ECONFIG,
                        "master key file '%s' is not a valid key: expected 64 hex digits", path);
        goto out;
    }
    if ((rc = sec_key_parse(buf, path, out, err)))
        goto out;
    out->origin = SEC_KEY_FROM_FILE;
out:
    sodium_memzero(buf, sizeof(buf));
    close(fd);
    return rc;
}

int sec_key_write_file(const char *path, const struct sec_key *k, struct sm_err *err)
{
    char hex[2 * SEC_KEY_BYTES + 2];
    int rc = 0;

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sm_err_set(err, errno == EEXIST ? SM_ECONFLICT : SM_EIO,
                          "cannot create master key file '%s': %s", path, strerror(errno));
    sodium_bin2hex(hex, sizeof(hex) - 1, k->bytes, SEC_KEY_BYTES);
    hex[2 * SEC_KEY_BYTES] = '\n';
    hex[2 * SEC_KEY_BYTES + 1] = '\0';
    /* open()'s mode went through the umask, which may have taken the
     * owner's own read bit away. */
    if (fchmod(fd, 0600)) {
        rc =
            sm_err_set(err, SM_EIO, "cannot chmod master key file '%s': %s", path, strerror(errno));
        goto out;
    }
    for (size_t off = 0, len = sizeof(hex) - 1; off < len;) {
        ssize_t n = write(fd, hex + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sm_err_set(err, SM_EIO, "cannot write master key file '%s': %s", path,
                            strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd))
        rc = sm_err_set(err, SM_EIO, "cannot sync master key file '%s': %s", path, strerror(errno));
out:
    sodium_memzero(hex, sizeof(hex));
    if (close(fd) && !rc)
        rc =
            sm_err_set(err, SM_EIO, "cannot write master key file '%s': %s", path, strerror(errno));
    if (!rc)
        rc = sync_parent(path, err);
    if (rc)
        unlink(path);
    return rc;
}

int sec_key_file_rename(const char *from, const char *to, struct sm_err *err)
{
    if (rename(from, to))
        return sm_err_set(err, SM_EIO, "cannot rename '%s' to '%s': %s", from, to, strerror(errno));
    return sync_parent(to, err);
}

int sec_key_load(const char *state_dir, bool create, struct sec_key *out, struct sm_err *err)
{
    struct sm_err e = SM_ERR_INIT;
    const char *env = getenv(SEC_KEY_ENV);
    int rc;

    memset(out, 0, sizeof(*out));
    if (env && *env)
        return sec_key_parse(env, SEC_KEY_ENV, out, err);
    char *path = sm_path_join(state_dir, SEC_KEY_FILE);
    rc = sec_key_read_file(path, out, &e);
    if (rc == SM_ENOTFOUND && !create) {
        rc = sm_err_set(err, SM_ENOTFOUND,
                        "no master key: %s is not set and '%s' does not exist; secrets can only "
                        "be read with the key they were stored under: restore that file or set "
                        "%s",
                        SEC_KEY_ENV, path, SEC_KEY_ENV);
    } else if (rc == SM_ENOTFOUND) {
        sm_err_clear(&e);
        sec_key_generate(out);
        rc = sec_key_write_file(path, out, &e);
        if (rc == SM_ECONFLICT) {
            /* Another smelt created it first: use theirs. */
            sec_key_release(out);
            sm_err_clear(&e);
            rc = sec_key_read_file(path, out, &e);
        } else if (!rc) {
            out->source = sm_strdup(path);
        }
    }
    if (rc && e.code)
        sm_err_set(err, e.code, "%s", e.msg);
    if (rc)
        sec_key_release(out);
    free(path);
    return rc;
}

/* --- reading a value --------------------------------------------------------- */

/* The terminal's settings before and while echo is off, for the signal
 * handler: a Ctrl-C at the prompt must not leave the user's terminal
 * silent, and after a Ctrl-Z and `fg` the typing must be hidden again. */
static struct termios saved_tio, hidden_tio;
static int saved_fd = -1;
static const int restore_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define N_RESTORE_SIGNALS (sizeof(restore_signals) / sizeof(restore_signals[0]))
static struct sigaction saved_act[N_RESTORE_SIGNALS];

/* Put the terminal back, let the signal do what it did before we caught
 * it (end or stop the process, or run the caller's handler), and if the
 * process goes on, hide the typing again. */
static void on_signal(int sig)
{
    int saved_errno = errno;
    struct sigaction ours;
    sigset_t set;
    size_t i = 0;
    while (i < N_RESTORE_SIGNALS - 1 && restore_signals[i] != sig)
        i++;
    if (saved_fd >= 0)
        tcsetattr(saved_fd, TCSAFLUSH, &saved_tio);
    sigaction(sig, &saved_act[i], &ours);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    sigaction(sig, &ours, NULL);
    if (saved_fd >= 0)
        tcsetattr(saved_fd, TCSAFLUSH, &hidden_tio);
    errno = saved_errno;
}

/* One line from the terminal fd with echo off, into b (without "\n"). */
static int read_hidden_line(int fd, const char *prompt, struct vbuf *b, struct sm_err *err)
{
    struct sigaction sa;
    int rc = 0;
    char c = 0;

    if (tcgetattr(fd, &saved_tio))
        return sm_err_set(err, SM_EIO, "cannot read the terminal's settings: %s", strerror(errno));
    hidden_tio = saved_tio;
    hidden_tio.c_lflag &= (tcflag_t)~ECHO;
    hidden_tio.c_lflag |= ICANON;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    saved_fd = fd;
    /* A signal the caller ignores stays ignored. */
    for (size_t i = 0; i < N_RESTORE_SIGNALS; i++)
        if (!sigaction(restore_signals[i], &sa, &saved_act[i]) &&
            saved_act[i].sa_handler == SIG_IGN)
            sigaction(restore_signals[i], &saved_act[i], NULL);
    fputs(prompt, stderr);
    fflush(stderr);
    if (tcsetattr(fd, TCSAFLUSH, &hidden_tio)) {
        rc = sm_err_set(err, SM_EIO, "cannot turn off the terminal's echo: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sm_err_set(err, SM_EIO, "cannot read from the terminal: %s", strerror(errno));
            break;
        }
        if (n == 0 || c == '\n')
            break;
        if (b->len >= SEC_VALUE_MAX) {
            rc = sm_err_set(err, SM_EINVALID, "the value is longer than %d bytes", SEC_VALUE_MAX);
            break;
        }
        vbuf_add(b, &c, 1);
    }
    c = 0;
    if (b->len && b->p[b->len - 1] == '\r')
        b->p[--b->len] = '\0';
    tcsetattr(fd, TCSAFLUSH, &saved_tio);
    fputc('\n', stderr); /* the user's Enter was not echoed */
out:
    for (size_t i = 0; i < N_RESTORE_SIGNALS; i++)
        sigaction(restore_signals[i], &saved_act[i], NULL);
    saved_fd = -1;
    return rc;
}

/* Everything up to end of file on fd into b, at most SEC_VALUE_MAX bytes. */
static int read_all(int fd, const char *name, struct vbuf *b, struct sm_err *err)
{
    char chunk[4096];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sm_err_set(err, SM_EIO, "cannot read the value of secret '%s' from stdin: %s",
                            name, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (b->len + (size_t)n > SEC_VALUE_MAX + 2) { /* + room for a "\r\n" */
            rc = sm_err_set(err, SM_EINVALID, "the value of secret '%s' is longer than %d bytes",
                            name, SEC_VALUE_MAX);
            break;
        }
        vbuf_add(b, chunk, (size_t)n);
    }
    sodium_memzero(chunk, sizeof(chunk));
    if (!rc && b->len && b->p[b->len - 1] == '\n') {
        b->p[--b->len] = '\0';
        if (b->len && b->p[b->len - 1] == '\r')
            b->p[--b->len] = '\0';
    }
    if (!rc && b->len > SEC_VALUE_MAX)
        rc = sm_err_set(err, SM_EINVALID, "the value of secret '%s' is longer than %d bytes", name,
                        SEC_VALUE_MAX);
    return rc;
}

int sec_value_read(int fd, const char *name, char **out, struct sm_err *err)
{
    struct vbuf a = {0}, b = {0};
    int rc;

    sodium_ready();
    *out = NULL;
    if (isatty(fd)) {
        char prompt[SEC_NAME_MAX + 64];
        snprintf(prompt, sizeof(prompt), "value for secret '%s': ", name);
        if ((rc = read_hidden_line(fd, prompt, &a, err)))
            goto out;
        if (a.len && (rc = read_hidden_line(fd, "again, to confirm: ", &b, err)))
            goto out;
        if (a.len && (a.len != b.len || sodium_memcmp(a.p, b.p, a.len))) {
            rc =
                sm_err_set(err, SM_EINVALID,
                           "the two values typed for secret '%s' differ; nothing was stored", name);
            goto out;
        }
    } else if ((rc = read_all(fd, name, &a, err))) {
        goto out;
    }
    if (!a.len) {
        rc = sm_err_set(err, SM_EINVALID,
                        "empty value for secret '%s': pipe the value into stdin or type it at the "
                        "prompt",
                        name);
        goto out;
    }
    if (memchr(a.p, '\0', a.len)) {
        rc = sm_err_set(err, SM_EINVALID, "the value of secret '%s' contains a NUL byte", name);
        goto out;
    }
    *out = vbuf_take(&a);
out:
    vbuf_release(&a);
    vbuf_release(&b);
    return rc;
}

/* --- encryption -------------------------------------------------------------- */

/* The key that encrypts the value of `name`: BLAKE2b keyed with the master
 * key over a fixed context and the name. Binding the name into the key
 * means a row copied onto another name fails to decrypt. */
static void name_key(const struct sec_key *k, const char *name,
                     unsigned char out[crypto_secretbox_KEYBYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, k->bytes, SEC_KEY_BYTES, crypto_secretbox_KEYBYTES);
    crypto_generichash_update(&st, (const unsigned char *)subkey_context,
                              sizeof(subkey_context) - 1);
    crypto_generichash_update(&st, (const unsigned char *)name, strlen(name));
    crypto_generichash_final(&st, out, crypto_secretbox_KEYBYTES);
    sodium_memzero(&st, sizeof(st));
}

int sec_encrypt(const struct sec_key *k, const char *name, const char *value,
                unsigned char out_nonce[SEC_NONCE_BYTES], unsigned char **out_ct,
                size_t *out_ct_len, struct sm_err *err)
{
    unsigned char key[crypto_secretbox_KEYBYTES];
    sodium_ready();
    *out_ct = NULL;
    *out_ct_len = 0;
    SM_TRY(sec_name_check(name, err));
    size_t n = strlen(value);
    if (n > SEC_VALUE_MAX)
        return sm_err_set(err, SM_EINVALID, "the value of secret '%s' is longer than %d bytes",
                          name, SEC_VALUE_MAX);
    unsigned char *ct = sm_malloc(n + SEC_MAC_BYTES);
    name_key(k, name, key);
    randombytes_buf(out_nonce, SEC_NONCE_BYTES);
    crypto_secretbox_easy(ct, (const unsigned char *)value, n, out_nonce, key);
    sodium_memzero(key, sizeof(key));
    *out_ct = ct;
    *out_ct_len = n + SEC_MAC_BYTES;
    return 0;
}

static void key_description(const struct sec_key *k, char *buf, size_t n)
{
    if (k->origin == SEC_KEY_FROM_ENV)
        snprintf(buf, n, "%s", k->source ? k->source : SEC_KEY_ENV);
    else if (k->source)
        snprintf(buf, n, "'%s'", k->source);
    else
        snprintf(buf, n, "a new key");
}

int sec_decrypt(const struct sec_key *k, const char *name, const unsigned char *nonce,
                size_t nonce_len, const unsigned char *ct, size_t ct_len, char **out_value,
                struct sm_err *err)
{
    unsigned char key[crypto_secretbox_KEYBYTES];
    char desc[512];
    sodium_ready();
    *out_value = NULL;
    SM_TRY(sec_name_check(name, err));
    if (nonce_len == SEC_NONCE_BYTES && ct_len >= SEC_MAC_BYTES && nonce && ct) {
        size_t n = ct_len - SEC_MAC_BYTES;
        unsigned char *m = sm_malloc(n + 1);
        name_key(k, name, key);
        int bad = crypto_secretbox_open_easy(m, ct, ct_len, nonce, key);
        sodium_memzero(key, sizeof(key));
        m[n] = '\0';
        if (!bad && !memchr(m, '\0', n)) {
            *out_value = (char *)m;
            return 0;
        }
        sodium_memzero(m, n + 1);
        free(m);
    }
    key_description(k, desc, sizeof(desc));
    return sm_err_set(err, SM_ECONFIG,
                      "cannot decrypt secret '%s' with the master key from %s: it was stored "
                      "under another key, or its stored bytes were altered",
                      name, desc);
}

/* --- templates --------------------------------------------------------------- */

/* One piece of the output: literal text borrowed from the template, or a
 * value owned here. */
struct piece {
    const char *text;
    size_t len;
    char *owned;
};

/* Split template into pieces; with resolve false only the syntax and the
 * names are checked and no piece is kept. */
static int parse_template(const char *template, bool resolve, sec_lookup_fn lookup, void *ctx,
                          struct piece **out, size_t *out_n, struct sm_err *err)
{
    struct piece *v = NULL;
    size_t n = 0, alloc = 0;
    const char *p = template, *lit = template;
    int rc = 0;

#define ADD_PIECE(t, l, o)                                                                         \
    do {                                                                                           \
        if (resolve) {                                                                             \
            SM_ALLOC_GROW(v, n + 1, alloc);                                                        \
            v[n++] = (struct piece){(t), (l), (o)};                                                \
        }                                                                                          \
    } while (0)

    while (*p) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            ADD_PIECE(lit, (size_t)(p - lit), NULL);
            ADD_PIECE(p + 1, 2, NULL); /* "${" */
            p += 3;
            lit = p;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            p++;
            continue;
        }
        ADD_PIECE(lit, (size_t)(p - lit), NULL);
        const char *ref = p + 2, *close = strchr(ref, '}');
        if (!close) {
            rc = sm_err_set(err, SM_ECONFIG,
                            "unterminated reference '%.40s' in a template: close it with '}' "
                            "(write $${ for a literal ${)",
                            p);
            goto out;
        }
        int reflen = (int)(close - ref);
        bool is_secret = sm_starts_with(ref, "secret:"), is_env = sm_starts_with(ref, "env:");
        const char *name = is_secret ? ref + 7 : is_env ? ref + 4 : ref;
        size_t namelen = (size_t)(close - name);
        if (!is_secret && !is_env) {
            rc = sm_err_set(err, SM_ECONFIG,
                            "unknown reference '${%.*s}' in a template: use ${secret:NAME} or "
                            "${env:NAME} (write $${ for a literal ${)",
                            reflen > 80 ? 80 : reflen, ref);
            goto out;
        }
        if (!name_valid_n(name, namelen)) {
            rc = sm_err_set(err, SM_ECONFIG,
                            "invalid name in '${%.*s}': use letters, digits and '_', starting "
                            "with a letter or '_'",
                            reflen > 80 ? 80 : reflen, ref);
            goto out;
        }
        if (resolve) {
            char *nm = sm_strndup(name, namelen), *val = NULL;
            if (is_env) {
                const char *e = getenv(nm);
                if (e)
                    val = sm_strdup(e);
                else
                    rc = sm_err_set(err, SM_ENOTFOUND,
                                    "environment variable '%s' is not set (used as ${env:%s})", nm,
                                    nm);
            } else if (!lookup) {
                rc = sm_err_set(err, SM_ECONFIG,
                                "'${secret:%s}' cannot be used here: no secret store is open", nm);
            } else if ((rc = lookup(ctx, nm, &val, err))) {
                sm_err_prefix(err, rc, "cannot resolve ${secret:%s}", nm);
            } else if (!val) {
                rc = sm_err_set(err, SM_EINTERNAL, "no value for ${secret:%s}", nm);
            }
            free(nm);
            if (rc) {
                sec_value_free(val);
                goto out;
            }
            ADD_PIECE(val, strlen(val), val);
        }
        p = close + 1;
        lit = p;
    }
    ADD_PIECE(lit, (size_t)(p - lit), NULL);
#undef ADD_PIECE
out:
    if (rc) {
        for (size_t i = 0; i < n; i++)
            sec_value_free(v[i].owned);
        free(v);
        return rc;
    }
    if (resolve) {
        *out = v;
        *out_n = n;
    }
    return 0;
}

int sec_resolve(const char *template, sec_lookup_fn lookup, void *ctx, char **out,
                struct sm_err *err)
{
    struct piece *v = NULL;
    size_t n = 0, total = 0;
    *out = NULL;
    SM_TRY(parse_template(template, true, lookup, ctx, &v, &n, err));
    /* Sized once, so no growth ever leaves a partial copy of a value. */
    for (size_t i = 0; i < n; i++)
        total += v[i].len;
    char *s = sm_malloc(total + 1), *q = s;
    for (size_t i = 0; i < n; i++) {
        memcpy(q, v[i].text, v[i].len);
        q += v[i].len;
        sec_value_free(v[i].owned);
    }
    *q = '\0';
    free(v);
    *out = s;
    return 0;
}

int sec_template_check(const char *template, struct sm_err *err)
{
    return parse_template(template, false, NULL, NULL, NULL, NULL, err);
}
