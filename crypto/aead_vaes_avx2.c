/* AEAD backend on gcm_vaes_avx2.c: AES-128-GCM and AES-256-GCM with 256-bit
 * VAES, for CPUs that have it without AVX-512. Available only where the CPU
 * runs it; connections with other AEADs fall back (tls_conn_init). */
#include "aead_backend.h"
#include "gcm_vaes_avx2.h"

#include <stdlib.h>

#include <openssl/crypto.h>

static bool vaes_available(void)
{
	return gcm_vaes_cpu_supported();
}

static bool vaes_supports(enum aead_alg alg)
{
	return vaes_available() && (alg == AEAD_AES_128_GCM || alg == AEAD_AES_256_GCM);
}

static int vaes_key_init(struct aead_key *key)
{
	struct gcm_vaes_key *k;

	if (!vaes_supports(key->alg))
		return AEAD_ERR_UNSUPPORTED;
	k = aligned_alloc(32, (sizeof(*k) + 31) & ~(size_t)31);
	if (k == NULL)
		return AEAD_ERR_BACKEND;
	if (gcm_vaes_key_init(k, key->key, key->key_len) != 0) {
		free(k);
		return AEAD_ERR_UNSUPPORTED;
	}
	key->priv = k;
	return AEAD_OK;
}

static void vaes_key_fini(struct aead_key *key)
{
	if (key->priv != NULL) {
		OPENSSL_cleanse(key->priv, sizeof(struct gcm_vaes_key));
		free(key->priv);
		key->priv = NULL;
	}
}

static void run(struct aead_op *op, bool seal)
{
	const struct gcm_vaes_key *k = op->key->priv;
	struct gcm_vaes_state st;
	struct aead_iov_pair it;
	uint8_t computed[AEAD_TAG_LEN];
	const uint8_t *s;
	uint8_t *d;
	size_t n;

	gcm_vaes_start(k, &st, op->nonce, op->aad, op->aad_len);
	aead_iov_pair_init(&it, op);
	while ((n = aead_iov_pair_next(&it, &s, &d)) > 0) {
		if (seal)
			gcm_vaes_encrypt(k, &st, d, s, n);
		else
			gcm_vaes_decrypt(k, &st, d, s, n);
	}
	gcm_vaes_finish(k, &st, seal ? op->tag : computed); /* wipes st */
	if (!seal && CRYPTO_memcmp(computed, op->tag, AEAD_TAG_LEN) != 0) {
		aead_iov_wipe(op->dst, op->dst_cnt);
		op->status = AEAD_ERR_AUTH;
	} else {
		op->status = AEAD_OK;
	}
	/* After a forgery this is the valid tag for the forger's text. */
	OPENSSL_cleanse(computed, sizeof(computed));
}

static void vaes_seal_burst(struct aead_op *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		run(&ops[i], true);
}

static void vaes_open_burst(struct aead_op *ops, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		run(&ops[i], false);
}

const struct aead_backend aead_backend_vaes_avx2 = {
    .name = "vaes-avx2",
    .available = vaes_available,
    .supports = vaes_supports,
    .key_init = vaes_key_init,
    .key_fini = vaes_key_fini,
    .seal_burst = vaes_seal_burst,
    .open_burst = vaes_open_burst,
};
