/* TLS cipher suites this layer can take over, and their key schedules:
 * HKDF-Expand-Label (RFC 8446 7.1, 7.2, 7.3) and the TLS 1.2 PRF key block
 * (RFC 5246 6.3), both through OpenSSL's EVP_KDF. */
#ifndef FTPS_CRYPTO_TLS_KEYS_H
#define FTPS_CRYPTO_TLS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"

#define TLS_VERSION_12 0x0303
#define TLS_VERSION_13 0x0304

#define TLS_MAX_SECRET_LEN 48
#define TLS_MAX_KEY_LEN    32
#define TLS_IV_LEN         12

struct tls_suite {
	uint16_t id;      /* IANA cipher suite number */
	uint16_t version; /* TLS_VERSION_12 or TLS_VERSION_13 */
	const char *name; /* IANA name */
	enum aead_alg alg;
	const char *digest; /* HKDF / PRF hash */
	uint8_t key_len;
	uint8_t fixed_iv_len;    /* 12, or 4 for TLS 1.2 AES-GCM (the salt) */
	uint8_t explicit_iv_len; /* 8 for TLS 1.2 AES-GCM, else 0 */
	uint8_t hash_len;        /* traffic secret length (TLS 1.3) */
};

/* The suite with this number for this version, or NULL (not supported). */
const struct tls_suite *tls_suite_find(uint16_t version, uint16_t id);

/* HKDF-Expand-Label(secret, "tls13 " + label, context, out_len). */
int tls13_expand_label(const char *digest, const uint8_t *secret, size_t secret_len,
                       const char *label, const uint8_t *context, size_t context_len, uint8_t *out,
                       size_t out_len);
/* [sender]_write_key and _iv from a traffic secret (RFC 8446 7.3). */
int tls13_traffic_keys(const struct tls_suite *s, const uint8_t *secret, uint8_t *key, uint8_t *iv);
/* application_traffic_secret_N+1 (RFC 8446 7.2, "traffic upd"). */
int tls13_next_secret(const struct tls_suite *s, const uint8_t *secret, uint8_t *next);
/* TLS 1.2 key_block = PRF(master, "key expansion", server_random +
 * client_random), out_len bytes (RFC 5246 6.3). */
int tls12_key_block(const struct tls_suite *s, const uint8_t *master, size_t master_len,
                    const uint8_t client_random[32], const uint8_t server_random[32], uint8_t *out,
                    size_t out_len);

#endif
