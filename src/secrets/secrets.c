/*
 * secrets.c — libsodium wrappers. SHA-256 is used to identify landed files by
 * content, so that a file is landed once whatever its name or mtime.
 */
#include "secrets.h"

#include <sodium.h>

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(struct sec_sha256),
               "struct sec_sha256 too small for libsodium's state");

void sec_sha256_init(struct sec_sha256 *h)
{
    if (sodium_init() < 0)
        SM_BUG("libsodium failed to initialize");
    crypto_hash_sha256_init((crypto_hash_sha256_state *)h->opaque);
}

void sec_sha256_update(struct sec_sha256 *h, const void *data, size_t n)
{
    crypto_hash_sha256_update((crypto_hash_sha256_state *)h->opaque, data, n);
}

void sec_sha256_final(struct sec_sha256 *h, char out_hex[SEC_SHA256_HEX])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final((crypto_hash_sha256_state *)h->opaque, d);
    sodium_bin2hex(out_hex, SEC_SHA256_HEX, d, sizeof(d));
}
