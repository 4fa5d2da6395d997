/* Cipher-suite table and TLS key derivations on OpenSSL's EVP_KDF. */
#include "tls_keys.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static const struct tls_suite suites[] = {
    {0x1301, TLS_VERSION_13, "TLS_AES_128_GCM_SHA256", AEAD_AES_128_GCM, "SHA256", 16, 12, 0, 32},
    {0x1302, TLS_VERSION_13, "TLS_AES_256_GCM_SHA384", AEAD_AES_256_GCM, "SHA384", 32, 12, 0, 48},
    {0x1303, TLS_VERSION_13, "TLS_CHACHA20_POLY1305_SHA256", AEAD_CHACHA20_POLY1305, "SHA256", 32,
     12, 0, 32},
    {0xC02B, TLS_VERSION_12, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", AEAD_AES_128_GCM, "SHA256",
     16, 4, 8, 0},
    {0xC02F, TLS_VERSION_12, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", AEAD_AES_128_GCM, "SHA256",
     16, 4, 8, 0},
    {0xC02C, TLS_VERSION_12, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", AEAD_AES_256_GCM, "SHA384",
     32, 4, 8, 0},
    {0xC030, TLS_VERSION_12, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", AEAD_AES_256_GCM, "SHA384",
     32, 4, 8, 0},
    {0xCCA9, TLS_VERSION_12, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
     AEAD_CHACHA20_POLY1305, "SHA256", 32, 12, 0, 0},
    {0xCCA8, TLS_VERSION_12, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", AEAD_CHACHA20_POLY1305,
     "SHA256", 32, 12, 0, 0},
};

const struct tls_suite *tls_suite_find(uint16_t version, uint16_t id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (suites[i].id == id && suites[i].version == version)
			return &suites[i];
	}
	return NULL;
}

/* Runs one EVP_KDF with the given parameters; 0 on success, -1 on error. */
static int run_kdf(const char *kdf_name, OSSL_PARAM *params, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, kdf_name, NULL);
	EVP_KDF_CTX *ctx = NULL;
	int rc = -1;

	if (kdf == NULL)
		return -1;
	ctx = EVP_KDF_CTX_new(kdf);
	if (ctx != NULL && EVP_KDF_derive(ctx, out, out_len, params) == 1)
		rc = 0;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

int tls13_expand_label(const char *digest, const uint8_t *secret, size_t secret_len,
                       const char *label, const uint8_t *context, size_t context_len, uint8_t *out,
                       size_t out_len)
{
	/* struct HkdfLabel { uint16 length; opaque label<7..255>;
	 * opaque context<0..255>; } with label = "tls13 " + Label. */
	uint8_t info[2 + 1 + 255 + 1 + 255];
	size_t label_len = strlen(label);
	size_t full_label = 6 + label_len;
	size_t n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;

	if (out_len > 0xffff || full_label > 255 || context_len > 255 ||
	    (context_len > 0 && context == NULL))
		return -1;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)full_label;
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, label_len);
	n += label_len;
	info[n++] = (uint8_t)context_len;
	if (context_len > 0)
		memcpy(info + n, context, context_len);
	n += context_len;

	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
	    OSSL_PARAM_construct_end(),
	};
	return run_kdf("HKDF", params, out, out_len);
}

int tls13_traffic_keys(const struct tls_suite *s, const uint8_t *secret, uint8_t *key, uint8_t *iv)
{
	if (s == NULL || s->version != TLS_VERSION_13)
		return -1;
	if (tls13_expand_label(s->digest, secret, s->hash_len, "key", NULL, 0, key, s->key_len) !=
	    0)
		return -1;
	return tls13_expand_label(s->digest, secret, s->hash_len, "iv", NULL, 0, iv, TLS_IV_LEN);
}

int tls13_next_secret(const struct tls_suite *s, const uint8_t *secret, uint8_t *next)
{
	uint8_t tmp[TLS_MAX_SECRET_LEN];
	int rc;

	if (s == NULL || s->version != TLS_VERSION_13)
		return -1;
	/* Derive into a temporary so secret and next may be the same buffer. */
	rc = tls13_expand_label(s->digest, secret, s->hash_len, "traffic upd", NULL, 0, tmp,
	                        s->hash_len);
	if (rc == 0)
		memcpy(next, tmp, s->hash_len);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return rc;
}

int tls12_key_block(const struct tls_suite *s, const uint8_t *master, size_t master_len,
                    const uint8_t client_random[32], const uint8_t server_random[32], uint8_t *out,
                    size_t out_len)
{
	static const char label[] = "key expansion";
	uint8_t seed[sizeof(label) - 1 + 64];

	if (s == NULL || s->version != TLS_VERSION_12)
		return -1;
	/* The key expansion seed is label + server_random + client_random. */
	memcpy(seed, label, sizeof(label) - 1);
	memcpy(seed + sizeof(label) - 1, server_random, 32);
	memcpy(seed + sizeof(label) - 1 + 32, client_random, 32);

	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)s->digest, 0),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)master, master_len),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof(seed)),
	    OSSL_PARAM_construct_end(),
	};
	return run_kdf("TLS1-PRF", params, out, out_len);
}
