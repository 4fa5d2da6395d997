/* AEAD backend on OpenSSL 3 EVP: AES-GCM and ChaCha20-Poly1305. Portable;
 * the reference the other backends are tested against. */
#include "aead_backend.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include <openssl/evp.h>

struct ossl_key {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

static EVP_CIPHER *ciphers[AEAD_ALG_COUNT];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/* Fetch the cipher implementations once: an explicit fetch avoids a
 * provider lookup on every key set-up. */
static void fetch_ciphers(void)
{
	ciphers[AEAD_AES_128_GCM] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	ciphers[AEAD_AES_256_GCM] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ciphers[AEAD_CHACHA20_POLY1305] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

static bool ossl_available(void)
{
	return pthread_once(&fetch_once, fetch_ciphers) == 0;
}

static bool ossl_supports(enum aead_alg alg)
{
	return ossl_available() && (unsigned)alg < AEAD_ALG_COUNT && ciphers[alg] != NULL;
}

static EVP_CIPHER_CTX *new_ctx(const EVP_CIPHER *c, const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (ctx == NULL)
		return NULL;
	if (EVP_CipherInit_ex(ctx, c, NULL, key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int ossl_key_init(struct aead_key *key)
{
	struct ossl_key *k;

	if (!ossl_supports(key->alg))
		return AEAD_ERR_UNSUPPORTED;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return AEAD_ERR_BACKEND;
	k->enc = new_ctx(ciphers[key->alg], key->key, 1);
	k->dec = new_ctx(ciphers[key->alg], key->key, 0);
	if (k->enc == NULL || k->dec == NULL) {
		EVP_CIPHER_CTX_free(k->enc);
		EVP_CIPHER_CTX_free(k->dec);
		free(k);
		return AEAD_ERR_BACKEND;
	}
	key->priv = k;
	return AEAD_OK;
}

static void ossl_key_fini(struct aead_key *key)
{
	struct ossl_key *k = key->priv;

	if (k == NULL)
		return;
	EVP_CIPHER_CTX_free(k->enc);
	EVP_CIPHER_CTX_free(k->dec);
	free(k);
	key->priv = NULL;
}

static int run_op(struct aead_op *op, bool seal)
{
	struct ossl_key *k = op->key->priv;
	EVP_CIPHER_CTX *ctx = seal ? k->enc : k->dec;
	struct aead_iov_pair it;
	const uint8_t *s;
	uint8_t *d;
	size_t n;
	int outl;

	if (op->aad_len > INT_MAX)
		return AEAD_ERR_INVAL;
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, op->nonce, seal ? 1 : 0) != 1)
		return AEAD_ERR_BACKEND;
	if (op->aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, op->aad, (int)op->aad_len) != 1)
		return AEAD_ERR_BACKEND;
	aead_iov_pair_init(&it, op);
	while ((n = aead_iov_pair_next(&it, &s, &d)) > 0) {
		/* Stream ciphers underneath: output length equals input. */
		if (n > INT_MAX || EVP_CipherUpdate(ctx, d, &outl, s, (int)n) != 1 ||
		    (size_t)outl != n)
			return AEAD_ERR_BACKEND;
	}
	if (seal) {
		if (EVP_CipherFinal_ex(ctx, NULL, &outl) != 1)
			return AEAD_ERR_BACKEND;
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, op->tag) != 1)
			return AEAD_ERR_BACKEND;
		return AEAD_OK;
	}
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, op->tag) != 1)
		return AEAD_ERR_BACKEND;
	if (EVP_CipherFinal_ex(ctx, NULL, &outl) != 1)
		return AEAD_ERR_AUTH;
	return AEAD_OK;
}

static void ossl_seal_burst(struct aead_op *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ops[i].status = run_op(&ops[i], true);
}

static void ossl_open_burst(struct aead_op *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		ops[i].status = run_op(&ops[i], false);
		if (ops[i].status != AEAD_OK)
			aead_iov_wipe(ops[i].dst, ops[i].dst_cnt);
	}
}

const struct aead_backend aead_backend_openssl = {
    .name = "openssl",
    .available = ossl_available,
    .supports = ossl_supports,
    .key_init = ossl_key_init,
    .key_fini = ossl_key_fini,
    .seal_burst = ossl_seal_burst,
    .open_burst = ossl_open_burst,
};
