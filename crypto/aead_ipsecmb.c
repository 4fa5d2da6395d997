/* AEAD backend on intel-ipsec-mb's direct API: AES-GCM (128/256) and
 * ChaCha20-Poly1305. One-shot calls for single-segment buffers, the
 * init/update/finalize calls for scatter-gather. Each thread gets its own
 * manager (the library records errors in it); expanded keys do not depend
 * on the manager, so a key made on one thread works on another. */
#include "aead_backend.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>

static __thread IMB_MGR *mgr;
static bool probed_ok;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* This thread's manager, made on first use; NULL if the library cannot
 * run here. */
static IMB_MGR *thread_mgr(void)
{
	IMB_MGR *m;

	if (mgr != NULL)
		return mgr;
	m = alloc_mb_mgr(0);
	if (m == NULL)
		return NULL;
	init_mb_mgr_auto(m, NULL);
	if (imb_get_errno(m) != 0) {
		free_mb_mgr(m);
		return NULL;
	}
	mgr = m;
	return m;
}

static void probe(void)
{
	probed_ok = thread_mgr() != NULL;
}

static bool imb_available(void)
{
	return pthread_once(&probe_once, probe) == 0 && probed_ok;
}

static bool imb_supports(enum aead_alg alg)
{
	return imb_available() && (alg == AEAD_AES_128_GCM || alg == AEAD_AES_256_GCM ||
	                           alg == AEAD_CHACHA20_POLY1305);
}

static int imb_key_init(struct aead_key *key)
{
	struct gcm_key_data *gk;

	if (!imb_supports(key->alg))
		return AEAD_ERR_UNSUPPORTED;
	if (thread_mgr() == NULL)
		return AEAD_ERR_BACKEND;
	if (key->alg == AEAD_CHACHA20_POLY1305) {
		key->priv = NULL; /* the raw key is used directly */
		return AEAD_OK;
	}
	/* The expanded keys must be 64-byte aligned for the AVX-512 paths. */
	gk = aligned_alloc(64, (sizeof(*gk) + 63) & ~(size_t)63);
	if (gk == NULL)
		return AEAD_ERR_BACKEND;
	if (key->alg == AEAD_AES_128_GCM)
		IMB_AES128_GCM_PRE(mgr, key->key, gk);
	else
		IMB_AES256_GCM_PRE(mgr, key->key, gk);
	key->priv = gk;
	return AEAD_OK;
}

static void imb_key_fini(struct aead_key *key)
{
	if (key->priv != NULL) {
		OPENSSL_cleanse(key->priv, sizeof(struct gcm_key_data));
		free(key->priv);
		key->priv = NULL;
	}
}

static bool single_segment(const struct aead_op *op)
{
	return op->src_cnt <= 1 && op->dst_cnt <= 1;
}

static const void *seg0(const struct iovec *v, unsigned cnt)
{
	return cnt > 0 ? v[0].iov_base : NULL;
}

static uint64_t op_len(const struct aead_op *op)
{
	return op->src_cnt > 0 ? op->src[0].iov_len : 0;
}

static void gcm_op(struct aead_op *op, bool seal, uint8_t *tag)
{
	const struct gcm_key_data *gk = op->key->priv;
	bool k128 = op->key->alg == AEAD_AES_128_GCM;
	struct gcm_context_data ctx;
	struct aead_iov_pair it;
	const uint8_t *s;
	uint8_t *d;
	size_t n;

	if (single_segment(op)) {
		const void *src = seg0(op->src, op->src_cnt);
		void *dst = (void *)seg0(op->dst, op->dst_cnt);
		uint64_t len = op_len(op);

		if (seal && k128)
			IMB_AES128_GCM_ENC(mgr, gk, &ctx, dst, src, len, op->nonce, op->aad,
			                   op->aad_len, tag, AEAD_TAG_LEN);
		else if (seal)
			IMB_AES256_GCM_ENC(mgr, gk, &ctx, dst, src, len, op->nonce, op->aad,
			                   op->aad_len, tag, AEAD_TAG_LEN);
		else if (k128)
			IMB_AES128_GCM_DEC(mgr, gk, &ctx, dst, src, len, op->nonce, op->aad,
			                   op->aad_len, tag, AEAD_TAG_LEN);
		else
			IMB_AES256_GCM_DEC(mgr, gk, &ctx, dst, src, len, op->nonce, op->aad,
			                   op->aad_len, tag, AEAD_TAG_LEN);
		return;
	}
	if (k128)
		IMB_AES128_GCM_INIT(mgr, gk, &ctx, op->nonce, op->aad, op->aad_len);
	else
		IMB_AES256_GCM_INIT(mgr, gk, &ctx, op->nonce, op->aad, op->aad_len);
	aead_iov_pair_init(&it, op);
	while ((n = aead_iov_pair_next(&it, &s, &d)) > 0) {
		if (seal && k128)
			IMB_AES128_GCM_ENC_UPDATE(mgr, gk, &ctx, d, s, n);
		else if (seal)
			IMB_AES256_GCM_ENC_UPDATE(mgr, gk, &ctx, d, s, n);
		else if (k128)
			IMB_AES128_GCM_DEC_UPDATE(mgr, gk, &ctx, d, s, n);
		else
			IMB_AES256_GCM_DEC_UPDATE(mgr, gk, &ctx, d, s, n);
	}
	if (seal && k128)
		IMB_AES128_GCM_ENC_FINALIZE(mgr, gk, &ctx, tag, AEAD_TAG_LEN);
	else if (seal)
		IMB_AES256_GCM_ENC_FINALIZE(mgr, gk, &ctx, tag, AEAD_TAG_LEN);
	else if (k128)
		IMB_AES128_GCM_DEC_FINALIZE(mgr, gk, &ctx, tag, AEAD_TAG_LEN);
	else
		IMB_AES256_GCM_DEC_FINALIZE(mgr, gk, &ctx, tag, AEAD_TAG_LEN);
}

static void chacha_op(struct aead_op *op, bool seal, uint8_t *tag)
{
	struct chacha20_poly1305_context_data ctx;
	struct aead_iov_pair it;
	const uint8_t *s;
	uint8_t *d;
	size_t n;

	IMB_CHACHA20_POLY1305_INIT(mgr, op->key->key, &ctx, op->nonce, op->aad, op->aad_len);
	aead_iov_pair_init(&it, op);
	while ((n = aead_iov_pair_next(&it, &s, &d)) > 0) {
		if (seal)
			IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr, op->key->key, &ctx, d, s, n);
		else
			IMB_CHACHA20_POLY1305_DEC_UPDATE(mgr, op->key->key, &ctx, d, s, n);
	}
	if (seal)
		IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr, &ctx, tag, AEAD_TAG_LEN);
	else
		IMB_CHACHA20_POLY1305_DEC_FINALIZE(mgr, &ctx, tag, AEAD_TAG_LEN);
	OPENSSL_cleanse(&ctx, sizeof(ctx));
}

static void run(struct aead_op *op, bool seal)
{
	uint8_t computed[AEAD_TAG_LEN];
	uint8_t *tag = seal ? op->tag : computed;

	if (op->key->alg == AEAD_CHACHA20_POLY1305)
		chacha_op(op, seal, tag);
	else
		gcm_op(op, seal, tag);
	if (seal) {
		op->status = AEAD_OK;
		return;
	}
	/* The direct API only computes the tag; compare in constant time. */
	if (CRYPTO_memcmp(computed, op->tag, AEAD_TAG_LEN) != 0) {
		aead_iov_wipe(op->dst, op->dst_cnt);
		op->status = AEAD_ERR_AUTH;
		return;
	}
	op->status = AEAD_OK;
}

static void imb_seal_burst(struct aead_op *ops, unsigned n)
{
	if (thread_mgr() == NULL) {
		for (unsigned i = 0; i < n; i++)
			ops[i].status = AEAD_ERR_BACKEND;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		run(&ops[i], true);
}

static void imb_open_burst(struct aead_op *ops, unsigned n)
{
	if (thread_mgr() == NULL) {
		for (unsigned i = 0; i < n; i++) {
			ops[i].status = AEAD_ERR_BACKEND;
			aead_iov_wipe(ops[i].dst, ops[i].dst_cnt);
		}
		return;
	}
	for (unsigned i = 0; i < n; i++)
		run(&ops[i], false);
}

const struct aead_backend aead_backend_ipsecmb = {
    .name = "ipsec-mb",
    .available = imb_available,
    .supports = imb_supports,
    .key_init = imb_key_init,
    .key_fini = imb_key_fini,
    .seal_burst = imb_seal_burst,
    .open_burst = imb_open_burst,
};
