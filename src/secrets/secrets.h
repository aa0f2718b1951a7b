/*
 * secrets — the only module that includes libsodium: SHA-256 for content
 * hashes, and the cryptography of the secret store. It sits below state/
 * (DESIGN.md §3), so it never touches state.db: callers store and fetch the
 * nonce and ciphertext blobs (st_secret_*) and hand them to this module.
 *
 * Hashing:
 *
 *     struct sec_sha256 h;
 *     sec_sha256_init(&h);
 *     sec_sha256_update(&h, buf, n);
 *     char hex[SEC_SHA256_HEX];
 *     sec_sha256_final(&h, hex);
 *
 * The secret store. A secret is a NAME ([A-Za-z_][A-Za-z0-9_]*) and a text
 * value. Values are encrypted with crypto_secretbox (XSalsa20-Poly1305), a
 * fresh random nonce per value, under a per-name key derived from the 32-byte
 * master key (keyed BLAKE2b of the name), so a ciphertext moved to another
 * name does not decrypt. The master key comes from the environment variable
 * SMELT_MASTER_KEY (64 hex digits or base64 of 32 bytes) or else from the key
 * file <project>/.smelt/master.key (64 hex digits and a newline, mode 0600),
 * created on first use. A state.db without its key reveals the names only.
 *
 *     struct sec_key key;
 *     unsigned char nonce[SEC_NONCE_BYTES], *ct;
 *     size_t ct_len;
 *     char *value;
 *     if (sec_key_load(".smelt", true, &key, &err))
 *         return ...;
 *     sec_encrypt(&key, "api_token", "s3cr3t", nonce, &ct, &ct_len, &err);
 *     ... st_secret_put() the nonce and ct, free(ct) ...
 *     sec_decrypt(&key, "api_token", nonce, sizeof(nonce), ct, ct_len, &value, &err);
 *     sec_value_free(value);      // wipes, then frees
 *     sec_key_release(&key);      // wipes
 *
 * Templates in project files name secrets and environment variables, and are
 * resolved at the moment of use, so the raw template is what stays in memory
 * and in logs:
 *
 *     auth: {type: bearer, token: "${secret:support_api_token}"}
 *     char *token;
 *     sec_resolve(src->token, my_lookup, my_ctx, &token, &err);
 *     ... use token ...
 *     sec_value_free(token);
 *
 * Rule for every function here: an error message may name a secret, a file
 * or an environment variable, never a value or a key.
 */
#ifndef SM_SECRETS_H
#define SM_SECRETS_H

#include "util/util.h"

/* --- hashing ----------------------------------------------------------------- */

#define SEC_SHA256_HEX 65 /* 64 hex digits + NUL */

/* Opaque-sized state large enough for OpenSSL's SHA256_CTX, or
 * libsodium's SHA-256 state when libcrypto cannot be loaded. */
struct sec_sha256 {
    _Alignas(16) unsigned char opaque[128];
    bool openssl; /* which of the two opaque holds */
};

void sec_sha256_init(struct sec_sha256 *h);
void sec_sha256_update(struct sec_sha256 *h, const void *data, size_t n);
void sec_sha256_final(struct sec_sha256 *h, char out_hex[SEC_SHA256_HEX]);

/* --- master key -------------------------------------------------------------- */

#define SEC_KEY_BYTES 32
#define SEC_NONCE_BYTES 24 /* crypto_secretbox_NONCEBYTES */
#define SEC_MAC_BYTES 16   /* crypto_secretbox_MACBYTES: ciphertext = value + this */
#define SEC_KEY_ENV "SMELT_MASTER_KEY"
#define SEC_KEY_FILE "master.key" /* inside the state directory (.smelt) */
#define SEC_NAME_MAX 128          /* longest secret name */
#define SEC_VALUE_MAX (64 * 1024) /* longest secret value, in bytes */

/* Where a key came from, for messages that must say which key failed. */
enum sec_key_origin { SEC_KEY_FROM_ENV, SEC_KEY_FROM_FILE, SEC_KEY_CREATED };

/* A master key. Caller-owned; sec_key_release() wipes it (and is safe on a
 * zeroed or already released struct). */
struct sec_key {
    unsigned char bytes[SEC_KEY_BYTES];
    enum sec_key_origin origin;
    char *source; /* "SMELT_MASTER_KEY" or the key file's path; owned */
};
void sec_key_release(struct sec_key *k);

/* Parse a key written as 64 hex digits or as base64 (standard or URL-safe,
 * padded or not) of exactly 32 bytes; surrounding white space is ignored.
 * `what` names the text in the error ("SMELT_MASTER_KEY", a path), which
 * never quotes the text itself. out->source is set to a copy of `what`.
 * Malformed text is SM_ECONFIG. */
int sec_key_parse(const char *text, const char *what, struct sec_key *out,
                  struct sm_err *err) SM_MUST_USE;

/* A new random key (origin SEC_KEY_CREATED, no source). */
void sec_key_generate(struct sec_key *out);
/* Do a and b hold the same key bytes? (Constant time.) */
bool sec_key_equal(const struct sec_key *a, const struct sec_key *b);

/* Read a key file. A file that group or others may access is refused
 * (SM_ECONFIG, saying to chmod 600) before its bytes are read; a missing
 * file is SM_ENOTFOUND. */
int sec_key_read_file(const char *path, struct sec_key *out, struct sm_err *err) SM_MUST_USE;

/* Create path (which must not exist: SM_ECONFLICT) with mode 0600 holding k
 * as 64 hex digits and a newline, synced to disk with its directory. On any
 * failure the file is removed. */
int sec_key_write_file(const char *path, const struct sec_key *k, struct sm_err *err) SM_MUST_USE;
/* Move a key file written by sec_key_write_file() over `to` (rename, then
 * sync the directory), so `to` holds either the old key or the new one. */
int sec_key_file_rename(const char *from, const char *to, struct sm_err *err) SM_MUST_USE;

/* The master key of a project whose state directory (which must exist) is
 * state_dir: from SMELT_MASTER_KEY when it is set and not empty, else from
 * state_dir/master.key. When neither exists: with create, a new key is
 * written to state_dir/master.key (origin SEC_KEY_CREATED; two processes
 * racing to create it end up with the same key); without create, the result
 * is SM_ENOTFOUND with a message saying where the key was looked for. */
int sec_key_load(const char *state_dir, bool create, struct sec_key *out,
                 struct sm_err *err) SM_MUST_USE;

/* --- values ------------------------------------------------------------------ */

/* Is name a valid secret (or environment variable) name:
 * [A-Za-z_][A-Za-z0-9_]*, at most SEC_NAME_MAX characters? */
bool sec_name_valid(const char *name);
/* SM_EINVALID with a message saying what a name may hold, unless valid. */
int sec_name_check(const char *name, struct sm_err *err) SM_MUST_USE;

/* Wipe a value (sodium_memzero over its strlen + 1 bytes) and free it.
 * Every value this module returns is allocated to exactly that size, so no
 * copy of it is left behind. NULL is a no-op. */
void sec_value_free(char *value);

/* Read a value for secret `name` (used in the prompt only). On a terminal:
 * prompt on stderr, read a line with echo off, ask again to confirm (a
 * mismatch is SM_EINVALID). Otherwise: read everything up to end of file
 * (at most SEC_VALUE_MAX bytes) and drop one trailing "\n" or "\r\n". An
 * empty value, or one holding a NUL byte, is SM_EINVALID. The caller frees
 * *out with sec_value_free(). */
int sec_value_read(int fd, const char *name, char **out, struct sm_err *err) SM_MUST_USE;

/* --- encryption -------------------------------------------------------------- */

/* Encrypt value (a NUL-terminated string) for the secret `name`. Fills
 * out_nonce with a fresh random nonce; *out_ct is a new buffer of
 * strlen(value) + SEC_MAC_BYTES bytes the caller frees with free(). */
int sec_encrypt(const struct sec_key *k, const char *name, const char *value,
                unsigned char out_nonce[SEC_NONCE_BYTES], unsigned char **out_ct,
                size_t *out_ct_len, struct sm_err *err) SM_MUST_USE;

/* Decrypt what sec_encrypt() produced for `name`. A wrong key, a
 * ciphertext altered or moved from another name, or a malformed nonce all
 * fail the same way: SM_ECONFIG, naming the secret and where the key came
 * from. The caller frees *out_value with sec_value_free(). */
int sec_decrypt(const struct sec_key *k, const char *name, const unsigned char *nonce,
                size_t nonce_len, const unsigned char *ct, size_t ct_len, char **out_value,
                struct sm_err *err) SM_MUST_USE;

/* --- templates --------------------------------------------------------------- */

/* Find the value of secret `name`: 0 and a new value in *out_value (freed
 * by the caller with sec_value_free()), or an error code with err set --
 * SM_ENOTFOUND for a secret that does not exist. ctx is the caller's. */
typedef int (*sec_lookup_fn)(void *ctx, const char *name, char **out_value, struct sm_err *err);

/* Replace every ${secret:NAME} (through lookup) and ${env:NAME} (through
 * getenv; an unset variable is SM_ENOTFOUND) in template; "$${" stands for
 * a literal "${". Any other "${...}", an unterminated one or an invalid name
 * is SM_ECONFIG. lookup may be NULL when no secret store is available (a
 * ${secret:...} is then SM_ECONFIG). Errors name the reference, never a
 * value. *out is a new string, freed with sec_value_free(). */
int sec_resolve(const char *template, sec_lookup_fn lookup, void *ctx, char **out,
                struct sm_err *err) SM_MUST_USE;

/* Check a template's syntax and names without resolving anything (for
 * `smelt validate`): the errors sec_resolve() would give for the template
 * itself, not for missing secrets or variables. */
int sec_template_check(const char *template, struct sm_err *err) SM_MUST_USE;

#endif
