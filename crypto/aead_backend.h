/* What a backend provides to the AEAD dispatcher (internal to crypto/). */
#ifndef FTPS_CRYPTO_AEAD_BACKEND_H
#define FTPS_CRYPTO_AEAD_BACKEND_H

#include "aead.h"

struct aead_backend {
	const char *name;
	/* True when the backend can run here (library present, device up). */
	bool (*available)(void);
	bool (*supports)(enum aead_alg alg);
	/* Set up key->priv from key->alg and key->key; 0 or AEAD_ERR_*. */
	int (*key_init)(struct aead_key *key);
	void (*key_fini)(struct aead_key *key);
	/* Every op in the burst has key->backend == this backend and has
	 * passed the dispatcher's argument checks. Each sets op->status. */
	void (*seal_burst)(struct aead_op *ops, unsigned n);
	void (*open_burst)(struct aead_op *ops, unsigned n);
};

extern const struct aead_backend aead_backend_openssl;
extern const struct aead_backend aead_backend_ipsecmb;
extern const struct aead_backend aead_backend_vaes_avx2;
extern const struct aead_backend aead_backend_cryptodev;

#endif

/* Walks a source and a destination iovec list of equal total length in
 * chunks that lie inside one segment of each. */
struct aead_iov_pair {
	const struct iovec *src, *dst;
	unsigned src_cnt, dst_cnt;
	unsigned si, di;
	size_t soff, doff;
};

static inline void aead_iov_pair_init(struct aead_iov_pair *p, const struct aead_op *op)
{
	p->src = op->src;
	p->dst = op->dst;
	p->src_cnt = op->src_cnt;
	p->dst_cnt = op->dst_cnt;
	p->si = p->di = 0;
	p->soff = p->doff = 0;
}

/* Next chunk: returns its length (0 at the end) and sets *s and *d. */
static inline size_t aead_iov_pair_next(struct aead_iov_pair *p, const uint8_t **s, uint8_t **d)
{
	while (p->si < p->src_cnt && p->soff == p->src[p->si].iov_len) {
		p->si++;
		p->soff = 0;
	}
	while (p->di < p->dst_cnt && p->doff == p->dst[p->di].iov_len) {
		p->di++;
		p->doff = 0;
	}
	if (p->si >= p->src_cnt || p->di >= p->dst_cnt)
		return 0;
	size_t sl = p->src[p->si].iov_len - p->soff;
	size_t dl = p->dst[p->di].iov_len - p->doff;
	size_t n = sl < dl ? sl : dl;

	*s = (const uint8_t *)p->src[p->si].iov_base + p->soff;
	*d = (uint8_t *)p->dst[p->di].iov_base + p->doff;
	p->soff += n;
	p->doff += n;
	return n;
}
