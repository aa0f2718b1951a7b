/*
 * test_secrets.c — unit tests for the secret store: the cryptography and
 * master-key handling of src/secrets/, template resolution, and the
 * st_secret_* accessors of src/state/ that keep the encrypted blobs. Every
 * test that touches files gets its own directory under /tmp.
 */
#include "secrets/secrets.h"
#include "state/state.h"

/* cmocka needs these before it, in this order. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on

#include <sys/stat.h>

#define HEX_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX_KEY_UPPER "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
/* The same 32 bytes in base64, padded and not. */
#define B64_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define B64_KEY_NOPAD "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/smelt-test-secrets-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return sm_strdup(tmpl);
}

static void remove_tmpdir(char *dir)
{
    assert_int_equal(sm_rmtree(dir, NULL), 0);
    free(dir);
}

/* Does the n bytes at p contain the string s? */
static bool mem_has(const void *p, size_t n, const char *s)
{
    size_t m = strlen(s);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp((const char *)p + i, s, m))
            return true;
    return false;
}

/* --- encryption ------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    struct sec_key k;
    struct sm_err err = SM_ERR_INIT;
    unsigned char n1[SEC_NONCE_BYTES], n2[SEC_NONCE_BYTES], *c1, *c2;
    size_t l1, l2;
    char *v = NULL;

    sec_key_generate(&k);
    assert_int_equal(sec_encrypt(&k, "api_token", "hunter2-value", n1, &c1, &l1, &err), 0);
    assert_int_equal(l1, strlen("hunter2-value") + SEC_MAC_BYTES);
    assert_false(mem_has(c1, l1, "hunter2"));
    /* A fresh nonce each time: the same value never encrypts the same way. */
    assert_int_equal(sec_encrypt(&k, "api_token", "hunter2-value", n2, &c2, &l2, &err), 0);
    assert_memory_not_equal(n1, n2, SEC_NONCE_BYTES);
    assert_memory_not_equal(c1, c2, l1);

    assert_int_equal(sec_decrypt(&k, "api_token", n1, sizeof(n1), c1, l1, &v, &err), 0);
    assert_string_equal(v, "hunter2-value");
    sec_value_free(v);
    assert_int_equal(sec_decrypt(&k, "api_token", n2, sizeof(n2), c2, l2, &v, &err), 0);
    assert_string_equal(v, "hunter2-value");
    sec_value_free(v);
    sec_value_free(NULL);
    free(c1);
    free(c2);
    sec_key_release(&k);
}

static void test_wrong_key_fails_clearly(void **state)
{
    (void)state;
    struct sec_key k, other;
    struct sm_err err = SM_ERR_INIT;
    unsigned char nonce[SEC_NONCE_BYTES], *ct;
    size_t len;
    char *v = NULL;

    sec_key_generate(&k);
    assert_int_equal(sec_key_parse(HEX_KEY, SEC_KEY_ENV, &other, &err), 0);
    assert_int_equal(sec_encrypt(&k, "db_password", "pa55word", nonce, &ct, &len, &err), 0);
    assert_int_equal(sec_decrypt(&other, "db_password", nonce, sizeof(nonce), ct, len, &v, &err),
                     SM_ECONFIG);
    assert_null(v);
    assert_non_null(strstr(err.msg, "cannot decrypt secret 'db_password'"));
    assert_non_null(strstr(err.msg, "SMELT_MASTER_KEY")); /* says which key was used */
    assert_null(strstr(err.msg, "pa55word"));
    assert_null(strstr(err.msg, HEX_KEY));

    /* A ciphertext moved onto another name does not open either. */
    sm_err_clear(&err);
    assert_int_equal(sec_decrypt(&k, "other_name", nonce, sizeof(nonce), ct, len, &v, &err),
                     SM_ECONFIG);
    assert_non_null(strstr(err.msg, "'other_name'"));
    free(ct);
    sec_key_release(&k);
    sec_key_release(&other);
}

static void test_tampered_ciphertext_fails(void **state)
{
    (void)state;
    struct sec_key k;
    struct sm_err err = SM_ERR_INIT;
    unsigned char nonce[SEC_NONCE_BYTES], *ct;
    size_t len;
    char *v = NULL;

    sec_key_generate(&k);
    assert_int_equal(sec_encrypt(&k, "tok", "value-123", nonce, &ct, &len, &err), 0);
    for (size_t i = 0; i < len; i++) {
        ct[i] ^= 0x01;
        sm_err_clear(&err);
        assert_int_equal(sec_decrypt(&k, "tok", nonce, sizeof(nonce), ct, len, &v, &err),
                         SM_ECONFIG);
        assert_null(v);
        assert_non_null(strstr(err.msg, "altered"));
        ct[i] ^= 0x01;
    }
    nonce[0] ^= 0x80;
    assert_int_equal(sec_decrypt(&k, "tok", nonce, sizeof(nonce), ct, len, &v, NULL), SM_ECONFIG);
    nonce[0] ^= 0x80;
    /* Truncated, empty, short nonce. */
    assert_int_equal(sec_decrypt(&k, "tok", nonce, sizeof(nonce), ct, len - 1, &v, NULL),
                     SM_ECONFIG);
    assert_int_equal(sec_decrypt(&k, "tok", nonce, sizeof(nonce), ct, 3, &v, NULL), SM_ECONFIG);
    assert_int_equal(sec_decrypt(&k, "tok", nonce, 8, ct, len, &v, NULL), SM_ECONFIG);
    assert_int_equal(sec_decrypt(&k, "tok", NULL, 0, NULL, 0, &v, NULL), SM_ECONFIG);
    /* Untouched, it still opens. */
    assert_int_equal(sec_decrypt(&k, "tok", nonce, sizeof(nonce), ct, len, &v, &err), 0);
    assert_string_equal(v, "value-123");
    sec_value_free(v);
    free(ct);
    sec_key_release(&k);
}

static void test_names(void **state)
{
    (void)state;
    struct sm_err err = SM_ERR_INIT;
    char longname[SEC_NAME_MAX + 2];
    assert_true(sec_name_valid("api_token"));
    assert_true(sec_name_valid("_X9"));
    assert_true(sec_name_valid("A"));
    assert_false(sec_name_valid(""));
    assert_false(sec_name_valid(NULL));
    assert_false(sec_name_valid("9lives"));
    assert_false(sec_name_valid("with-dash"));
    assert_false(sec_name_valid("with space"));
    assert_false(sec_name_valid("dot.ted"));
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(sec_name_valid(longname));
    longname[SEC_NAME_MAX] = '\0';
    assert_true(sec_name_valid(longname));
    assert_int_equal(sec_name_check("bad-name", &err), SM_EINVALID);
    assert_non_null(strstr(err.msg, "invalid secret name 'bad-name'"));

    /* sec_encrypt() refuses a bad name. */
    struct sec_key k;
    unsigned char nonce[SEC_NONCE_BYTES], *ct = NULL;
    size_t len;
    sec_key_generate(&k);
    assert_int_equal(sec_encrypt(&k, "no-dash", "v", nonce, &ct, &len, NULL), SM_EINVALID);
    assert_null(ct);
    sec_key_release(&k);
}

/* --- master key ------------------------------------------------------------ */

static void test_key_parse_hex_and_base64(void **state)
{
    (void)state;
    static const char *const good[] = {HEX_KEY, HEX_KEY_UPPER, "  " HEX_KEY "\n",
                                       B64_KEY, B64_KEY_NOPAD, B64_KEY "\r\n"};
    struct sm_err err = SM_ERR_INIT;
    struct sec_key ref, k;
    assert_int_equal(sec_key_parse(HEX_KEY, "test", &ref, &err), 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(ref.bytes[i], i);
    assert_int_equal(ref.origin, SEC_KEY_FROM_ENV);
    assert_string_equal(ref.source, "test");
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(sec_key_parse(good[i], "test", &k, &err), 0);
        assert_true(sec_key_equal(&k, &ref));
        sec_key_release(&k);
    }
    /* URL-safe base64 of bytes that use '-' and '_'. */
    assert_int_equal(sec_key_parse("-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8", "test", &k, &err),
                     0);
    sec_key_release(&k);

    static const char *const bad[] = {
        "",
        "not a key",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e",     /* 31 bytes */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00", /* 33 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",   /* not hex */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",                       /* 31 bytes */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==",                   /* 34 bytes */
        "000102030405060708090a0b 0c0d0e0f101112131415161718191a1b1c1d1e1f",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sm_err_clear(&err);
        assert_int_equal(sec_key_parse(bad[i], SEC_KEY_ENV, &k, &err), SM_ECONFIG);
        assert_non_null(strstr(err.msg, "SMELT_MASTER_KEY is not a valid master key"));
        assert_non_null(strstr(err.msg, "64 hex digits or the base64 of 32 bytes"));
        if (bad[i][0])
            assert_null(strstr(err.msg, bad[i])); /* never quotes the key */
        assert_null(k.source);
        sec_key_release(&k);
    }
    sec_key_release(&ref);
}

static void test_key_from_env(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    struct sm_err err = SM_ERR_INIT;
    struct sec_key k, ref;
    assert_int_equal(sec_key_parse(HEX_KEY, "x", &ref, &err), 0);

    assert_int_equal(setenv(SEC_KEY_ENV, B64_KEY, 1), 0);
    assert_int_equal(sec_key_load(dir, true, &k, &err), 0);
    assert_int_equal(k.origin, SEC_KEY_FROM_ENV);
    assert_true(sec_key_equal(&k, &ref));
    sec_key_release(&k);
    /* The environment wins and no key file is written. */
    char *kf = sm_path_join(dir, SEC_KEY_FILE);
    assert_false(sm_path_exists(kf));

    assert_int_equal(setenv(SEC_KEY_ENV, "0123abcd", 1), 0);
    assert_int_equal(sec_key_load(dir, true, &k, &err), SM_ECONFIG);
    assert_non_null(strstr(err.msg, "SMELT_MASTER_KEY is not a valid master key"));
    assert_null(strstr(err.msg, "0123abcd"));
    assert_false(sm_path_exists(kf));

    /* Empty counts as unset. */
    assert_int_equal(setenv(SEC_KEY_ENV, "", 1), 0);
    sm_err_clear(&err);
    assert_int_equal(sec_key_load(dir, false, &k, &err), SM_ENOTFOUND);
    assert_int_equal(unsetenv(SEC_KEY_ENV), 0);
    free(kf);
    sec_key_release(&ref);
    remove_tmpdir(dir);
}

static void test_key_file(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = sm_path_join(dir, SEC_KEY_FILE);
    struct sm_err err = SM_ERR_INIT;
    struct sec_key k, again;
    struct stat st;
    assert_int_equal(unsetenv(SEC_KEY_ENV), 0);

    /* Without create, a missing key is a clear error. */
    assert_int_equal(sec_key_load(dir, false, &k, &err), SM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no master key"));
    assert_non_null(strstr(err.msg, "SMELT_MASTER_KEY"));
    assert_non_null(strstr(err.msg, path));
    assert_false(sm_path_exists(path));

    /* First use creates it, mode 0600 whatever the umask. */
    mode_t old = umask(0);
    assert_int_equal(sec_key_load(dir, true, &k, &err), 0);
    umask(old);
    assert_int_equal(k.origin, SEC_KEY_CREATED);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(sm_read_file(path, &text, &len, &err), 0);
    assert_int_equal(len, 65);
    assert_int_equal(text[64], '\n');
    free(text);

    /* Later uses read the same key. */
    assert_int_equal(sec_key_load(dir, true, &again, &err), 0);
    assert_int_equal(again.origin, SEC_KEY_FROM_FILE);
    assert_true(sec_key_equal(&k, &again));
    sec_key_release(&again);

    /* Group or other permissions: refused, with what to do. */
    static const mode_t loose[] = {0640, 0604, 0660, 0644, 0610, 0601};
    for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
        assert_int_equal(chmod(path, loose[i]), 0);
        sm_err_clear(&err);
        assert_int_equal(sec_key_load(dir, true, &again, &err), SM_ECONFIG);
        assert_non_null(strstr(err.msg, "chmod 600"));
        assert_non_null(strstr(err.msg, path));
    }
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(sec_key_read_file(path, &again, &err), 0);
    assert_true(sec_key_equal(&k, &again));
    sec_key_release(&again);
    assert_int_equal(chmod(path, 0600), 0);

    /* Never overwritten. */
    assert_int_equal(sec_key_write_file(path, &k, NULL), SM_ECONFLICT);

    /* A file that is not a key. */
    char *junk = sm_path_join(dir, "junk.key");
    assert_int_equal(sm_write_file_atomic(junk, "hello\n", 6, NULL), 0);
    assert_int_equal(chmod(junk, 0600), 0);
    sm_err_clear(&err);
    assert_int_equal(sec_key_read_file(junk, &again, &err), SM_ECONFIG);
    assert_non_null(strstr(err.msg, "is not a valid master key"));
    assert_null(strstr(err.msg, "hello"));

    /* sec_key_file_rename() moves a new key over the old one. */
    struct sec_key nk;
    char *pending = sm_path_join(dir, "master.key.new");
    sec_key_generate(&nk);
    assert_int_equal(sec_key_write_file(pending, &nk, &err), 0);
    assert_int_equal(sec_key_file_rename(pending, path, &err), 0);
    assert_false(sm_path_exists(pending));
    assert_int_equal(sec_key_read_file(path, &again, &err), 0);
    assert_true(sec_key_equal(&nk, &again));
    assert_false(sec_key_equal(&k, &again));
    sec_key_release(&again);
    sec_key_release(&nk);

    free(pending);
    free(junk);
    sec_key_release(&k);
    free(path);
    remove_tmpdir(dir);
}

/* --- reading values -------------------------------------------------------- */

/* sec_value_read() of the bytes in (n of them) through a pipe. */
static int read_piped(const char *in, size_t n, char **out, struct sm_err *err)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], in, n), (ssize_t)n);
    close(fds[1]);
    int rc = sec_value_read(fds[0], "tok", out, err);
    close(fds[0]);
    return rc;
}

static void test_value_read(void **state)
{
    (void)state;
    struct sm_err err = SM_ERR_INIT;
    char *v = NULL;
    assert_int_equal(read_piped("s3cret\n", 7, &v, &err), 0);
    assert_string_equal(v, "s3cret");
    sec_value_free(v);
    assert_int_equal(read_piped("win\r\n", 5, &v, &err), 0);
    assert_string_equal(v, "win");
    sec_value_free(v);
    assert_int_equal(read_piped("no newline", 10, &v, &err), 0);
    assert_string_equal(v, "no newline");
    sec_value_free(v);
    assert_int_equal(read_piped("two\nlines\n\n", 11, &v, &err), 0);
    assert_string_equal(v, "two\nlines\n");
    sec_value_free(v);

    assert_int_equal(read_piped("", 0, &v, &err), SM_EINVALID);
    assert_null(v);
    assert_non_null(strstr(err.msg, "empty value for secret 'tok'"));
    assert_int_equal(read_piped("\n", 1, &v, NULL), SM_EINVALID);
    sm_err_clear(&err);
    assert_int_equal(read_piped("a\0b", 3, &v, &err), SM_EINVALID);
    assert_non_null(strstr(err.msg, "NUL"));

    /* A long value through a growing buffer; one past the limit fails. */
    size_t n = SEC_VALUE_MAX;
    char *big = sm_malloc(n + 2);
    memset(big, 'x', n + 1);
    big[n + 1] = '\0';
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        ssize_t w = write(fds[1], big, n);
        _exit(w == (ssize_t)n ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(sec_value_read(fds[0], "big", &v, &err), 0);
    close(fds[0]);
    assert_int_equal(strlen(v), n);
    sec_value_free(v);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        ssize_t w = write(fds[1], big, n + 1);
        _exit(w == (ssize_t)n + 1 ? 0 : 1);
    }
    close(fds[1]);
    sm_err_clear(&err);
    assert_int_equal(sec_value_read(fds[0], "big", &v, &err), SM_EINVALID);
    close(fds[0]);
    assert_non_null(strstr(err.msg, "longer than"));
    free(big);
}

/* --- templates ------------------------------------------------------------- */

struct fake_store {
    const char *names[4];
    const char *values[4];
    int calls;
};

static int fake_lookup(void *ctx, const char *name, char **out_value, struct sm_err *err)
{
    struct fake_store *s = ctx;
    s->calls++;
    for (int i = 0; i < 4 && s->names[i]; i++)
        if (!strcmp(s->names[i], name)) {
            *out_value = sm_strdup(s->values[i]);
            return 0;
        }
    return sm_err_set(err, SM_ENOTFOUND, "no secret '%s'", name);
}

static void test_resolve(void **state)
{
    (void)state;
    struct fake_store fs = {{"api_token", "user", NULL}, {"tok-VALUE-1", "bob", NULL}, 0};
    struct sm_err err = SM_ERR_INIT;
    char *out = NULL;

    assert_int_equal(setenv("SMELT_TEST_HOST", "api.example.com", 1), 0);
    assert_int_equal(sec_resolve("Bearer ${secret:api_token}", fake_lookup, &fs, &out, &err), 0);
    assert_string_equal(out, "Bearer tok-VALUE-1");
    sec_value_free(out);
    assert_int_equal(sec_resolve("https://${secret:user}@${env:SMELT_TEST_HOST}/v2?"
                                 "a=${secret:api_token}&b=${secret:api_token}",
                                 fake_lookup, &fs, &out, &err),
                     0);
    assert_string_equal(out, "https://bob@api.example.com/v2?a=tok-VALUE-1&b=tok-VALUE-1");
    sec_value_free(out);

    /* No references: a copy; "$${" is a literal "${"; a lone $ stays. */
    assert_int_equal(sec_resolve("plain $5 and $x {y}", fake_lookup, &fs, &out, &err), 0);
    assert_string_equal(out, "plain $5 and $x {y}");
    sec_value_free(out);
    assert_int_equal(
        sec_resolve("$${secret:api_token} ${env:SMELT_TEST_HOST}$$", NULL, NULL, &out, &err), 0);
    assert_string_equal(out, "${secret:api_token} api.example.com$$");
    sec_value_free(out);
    assert_int_equal(sec_resolve("", NULL, NULL, &out, &err), 0);
    assert_string_equal(out, "");
    sec_value_free(out);
    unsetenv("SMELT_TEST_HOST");
}

static void test_resolve_errors(void **state)
{
    (void)state;
    struct fake_store fs = {{"api_token", NULL}, {"tok-VALUE-1", NULL}, 0};
    struct sm_err err = SM_ERR_INIT;
    char *out = NULL;

    /* A missing secret is named; the values resolved before it are not
     * shown and not leaked (the sanitizer build checks the frees). */
    assert_int_equal(
        sec_resolve("${secret:api_token}:${secret:missing_one}", fake_lookup, &fs, &out, &err),
        SM_ENOTFOUND);
    assert_null(out);
    assert_non_null(strstr(err.msg, "missing_one"));
    assert_non_null(strstr(err.msg, "${secret:missing_one}"));
    assert_null(strstr(err.msg, "tok-VALUE-1"));

    unsetenv("SMELT_TEST_UNSET_VAR");
    sm_err_clear(&err);
    assert_int_equal(sec_resolve("x ${env:SMELT_TEST_UNSET_VAR}", fake_lookup, &fs, &out, &err),
                     SM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "environment variable 'SMELT_TEST_UNSET_VAR' is not set"));

    static const struct {
        const char *tpl, *msg;
    } bad[] = {
        {"${secret:api_token", "unterminated reference"},
        {"${nope:x}", "unknown reference '${nope:x}'"},
        {"${api_token}", "use ${secret:NAME} or ${env:NAME}"},
        {"${secret:}", "invalid name"},
        {"${secret:bad-name}", "invalid name in '${secret:bad-name}'"},
        {"${env:9x}", "invalid name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sm_err_clear(&err);
        int calls = fs.calls;
        assert_int_equal(sec_resolve(bad[i].tpl, fake_lookup, &fs, &out, &err), SM_ECONFIG);
        assert_null(out);
        assert_non_null(strstr(err.msg, bad[i].msg));
        assert_int_equal(fs.calls, calls);
        sm_err_clear(&err);
        assert_int_equal(sec_template_check(bad[i].tpl, &err), SM_ECONFIG);
        assert_non_null(strstr(err.msg, bad[i].msg));
    }
    /* No store: ${secret:...} is a clear error, ${env:...} still works. */
    sm_err_clear(&err);
    assert_int_equal(sec_resolve("${secret:api_token}", NULL, NULL, &out, &err), SM_ECONFIG);
    assert_non_null(strstr(err.msg, "no secret store"));
    /* The check resolves nothing. */
    assert_int_equal(sec_template_check("${secret:missing} ${env:SMELT_TEST_UNSET_VAR}", &err), 0);
}

/* --- state accessors ------------------------------------------------------- */

static void test_state_secrets(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = sm_path_join(dir, "state.db");
    struct sm_err err = SM_ERR_INIT;
    struct st_db *db = NULL;
    unsigned char nonce[SEC_NONCE_BYTES] = {1, 2, 3}, ct[40] = {9, 8, 7};
    struct st_secret in = {.name = (char *)"b_token",
                           .nonce = nonce,
                           .nonce_len = sizeof(nonce),
                           .ciphertext = ct,
                           .ciphertext_len = sizeof(ct)};
    struct st_secret got, *arr = NULL;
    bool found = true;
    size_t n = 0;

    assert_int_equal(st_open(path, &db, &err), 0);
    assert_true(st_schema_version(db) >= 2);
    assert_int_equal(st_secret_get(db, "b_token", &got, &found, &err), 0);
    assert_false(found);
    assert_int_equal(st_secret_list(db, &arr, &n, &err), 0);
    assert_int_equal(n, 0);
    st_secret_free_array(arr, n);

    assert_int_equal(st_secret_put(db, &in, ST_SECRET_CREATE, &err), 0);
    assert_int_equal(st_secret_put(db, &in, ST_SECRET_CREATE, &err), SM_ECONFLICT);
    assert_non_null(strstr(err.msg, "secret 'b_token' already exists"));
    in.name = (char *)"a_key";
    assert_int_equal(st_secret_put(db, &in, ST_SECRET_CREATE, NULL), 0);

    assert_int_equal(st_secret_get(db, "b_token", &got, &found, &err), 0);
    assert_true(found);
    assert_string_equal(got.name, "b_token");
    assert_int_equal(got.nonce_len, sizeof(nonce));
    assert_memory_equal(got.nonce, nonce, sizeof(nonce));
    assert_int_equal(got.ciphertext_len, sizeof(ct));
    assert_memory_equal(got.ciphertext, ct, sizeof(ct));
    assert_non_null(got.created_at);
    assert_null(got.rotated_at);
    char *created = sm_strdup(got.created_at);
    st_secret_release(&got);

    /* Rotate: new blobs and a rotation date, the creation date kept. */
    ct[0] = 42;
    in.name = (char *)"b_token";
    assert_int_equal(st_secret_put(db, &in, ST_SECRET_ROTATE, &err), 0);
    assert_int_equal(st_secret_get(db, "b_token", &got, &found, &err), 0);
    assert_int_equal(got.ciphertext[0], 42);
    assert_string_equal(got.created_at, created);
    assert_non_null(got.rotated_at);
    char *rotated = sm_strdup(got.rotated_at);
    st_secret_release(&got);
    /* Rewrap (rekey): new blobs, both dates kept. */
    ct[0] = 43;
    assert_int_equal(st_secret_put(db, &in, ST_SECRET_REWRAP, &err), 0);
    assert_int_equal(st_secret_get(db, "b_token", &got, &found, &err), 0);
    assert_int_equal(got.ciphertext[0], 43);
    assert_string_equal(got.created_at, created);
    assert_string_equal(got.rotated_at, rotated);
    st_secret_release(&got);
    in.name = (char *)"nope";
    sm_err_clear(&err);
    assert_int_equal(st_secret_put(db, &in, ST_SECRET_ROTATE, &err), SM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no secret 'nope'"));
    assert_int_equal(st_secret_put(db, &in, ST_SECRET_REWRAP, NULL), SM_ENOTFOUND);
    in.ciphertext = NULL;
    assert_int_equal(st_secret_put(db, &in, ST_SECRET_CREATE, NULL), SM_EINVALID);

    /* Listed by name. */
    assert_int_equal(st_secret_list(db, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(arr[0].name, "a_key");
    assert_string_equal(arr[1].name, "b_token");
    st_secret_free_array(arr, n);

    assert_int_equal(st_secret_rm(db, "a_key", &err), 0);
    sm_err_clear(&err);
    assert_int_equal(st_secret_rm(db, "a_key", &err), SM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no secret 'a_key'"));
    assert_int_equal(st_secret_list(db, &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    st_secret_free_array(arr, n);

    /* Reopening keeps everything (migration 2 is applied once). */
    st_close(db);
    assert_int_equal(st_open(path, &db, &err), 0);
    assert_int_equal(st_secret_get(db, "b_token", &got, &found, &err), 0);
    assert_true(found);
    st_secret_release(&got);
    st_close(db);
    free(created);
    free(rotated);
    free(path);
    remove_tmpdir(dir);
}

/* The whole path the CLI takes: a value encrypted, stored, read back by a
 * second connection and decrypted; the database file never holds it. */
static void test_store_and_resolve(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = sm_path_join(dir, "state.db");
    struct sm_err err = SM_ERR_INIT;
    struct st_db *db = NULL;
    struct sec_key k;
    unsigned char nonce[SEC_NONCE_BYTES];
    struct st_secret sec = {
        .name = (char *)"api_token", .nonce = nonce, .nonce_len = sizeof(nonce)};
    sec_key_generate(&k);
    assert_int_equal(sec_encrypt(&k, "api_token", "VeryDistinctiveValue42", nonce, &sec.ciphertext,
                                 &sec.ciphertext_len, &err),
                     0);
    assert_int_equal(st_open(path, &db, &err), 0);
    assert_int_equal(st_secret_put(db, &sec, ST_SECRET_CREATE, &err), 0);
    free(sec.ciphertext);
    st_close(db);

    char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(sm_read_file(path, &bytes, &len, &err), 0);
    assert_true(mem_has(bytes, len, "api_token"));
    assert_false(mem_has(bytes, len, "VeryDistinctiveValue42"));
    free(bytes);

    struct st_secret got;
    bool found = false;
    char *v = NULL;
    assert_int_equal(st_open(path, &db, &err), 0);
    assert_int_equal(st_secret_get(db, "api_token", &got, &found, &err), 0);
    assert_true(found);
    assert_int_equal(sec_decrypt(&k, got.name, got.nonce, got.nonce_len, got.ciphertext,
                                 got.ciphertext_len, &v, &err),
                     0);
    assert_string_equal(v, "VeryDistinctiveValue42");
    sec_value_free(v);
    st_secret_release(&got);
    st_close(db);
    sec_key_release(&k);
    free(path);
    remove_tmpdir(dir);
}

/* SHA-256 (libcrypto loaded on first use, or libsodium's) against the
 * vectors of FIPS 180-2, whole and in pieces. */
static void test_sha256(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t repeat;
        const char *hex;
    } cases[] = {
        {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sec_sha256 h;
        char hex[SEC_SHA256_HEX];
        sec_sha256_init(&h);
        for (size_t k = 0; k < cases[i].repeat; k++)
            sec_sha256_update(&h, cases[i].in, strlen(cases[i].in));
        sec_sha256_final(&h, hex);
        assert_string_equal(hex, cases[i].hex);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wrong_key_fails_clearly),
        cmocka_unit_test(test_tampered_ciphertext_fails),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_key_parse_hex_and_base64),
        cmocka_unit_test(test_key_from_env),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_value_read),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_resolve_errors),
        cmocka_unit_test(test_state_secrets),
        cmocka_unit_test(test_store_and_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
