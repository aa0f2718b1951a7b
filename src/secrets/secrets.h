/*
 * secrets — the only module that includes libsodium: hashing now, and the
 * encrypted secret store (${secret:NAME}) when the ingestion issue lands.
 *
 *     struct sec_sha256 h;
 *     sec_sha256_init(&h);
 *     sec_sha256_update(&h, buf, n);
 *     char hex[SEC_SHA256_HEX];
 *     sec_sha256_final(&h, hex);
 */
#ifndef SM_SECRETS_H
#define SM_SECRETS_H

#include "util/util.h"

#define SEC_SHA256_HEX 65 /* 64 hex digits + NUL */

/* Opaque-sized state large enough for crypto_hash_sha256_state. */
struct sec_sha256 {
    _Alignas(16) unsigned char opaque[128];
};

void sec_sha256_init(struct sec_sha256 *h);
void sec_sha256_update(struct sec_sha256 *h, const void *data, size_t n);
void sec_sha256_final(struct sec_sha256 *h, char out_hex[SEC_SHA256_HEX]);

#endif
