/* The seeded byte pattern of the test peer's pattern service: byte i of the
 * stream is block[i mod 65521], the block being the first 65521 bytes of
 * SplitMix64(seed) output, little endian.  A prime period keeps a chunk
 * shifted by whole blocks from matching.  tests/tcp/tcp_clients.py computes
 * the same. */
#ifndef FTPS_TEST_TCP_PATTERN_H
#define FTPS_TEST_TCP_PATTERN_H

#include <stdint.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>

#define TCP_PATTERN_PERIOD 65521u

struct tcp_pattern {
	uint8_t block[2 * TCP_PATTERN_PERIOD]; /* twice, so any slice is contiguous */
};

static inline void tcp_pattern_init(struct tcp_pattern *p, uint64_t seed)
{
	uint64_t state = seed;
	for (uint32_t i = 0; i < TCP_PATTERN_PERIOD; i += 8) {
		state += 0x9e3779b97f4a7c15ull;
		uint64_t z = state;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		for (uint32_t k = 0; k < 8 && i + k < TCP_PATTERN_PERIOD; k++)
			p->block[i + k] = (uint8_t)(z >> (8 * k));
	}
	memcpy(p->block + TCP_PATTERN_PERIOD, p->block, TCP_PATTERN_PERIOD);
}

/* Copies n bytes of the stream starting at offset. */
static inline void tcp_pattern_fill(const struct tcp_pattern *p, uint64_t offset, void *dst,
                                    uint32_t n)
{
	uint8_t *d = dst;
	while (n > 0) {
		uint32_t at = (uint32_t)(offset % TCP_PATTERN_PERIOD);
		uint32_t run = TCP_PATTERN_PERIOD - at;
		if (run > n)
			run = n;
		memcpy(d, p->block + at, run);
		d += run;
		offset += run;
		n -= run;
	}
}

/* The pattern lives in one buffer per session that mbufs reference as an
 * external buffer (zero copy): the stack keeps those mbufs until the bytes
 * are acknowledged, so the buffer is freed by the callback that runs when
 * the last reference goes, which may be after the session ended. */
struct pattern_buf {
	struct rte_mbuf_ext_shared_info shinfo;
	struct tcp_pattern pattern;
};

static inline void pattern_buf_free(void *addr, void *opaque)
{
	(void)addr;
	rte_free(opaque);
}

static inline struct pattern_buf *pattern_buf_new(uint64_t seed)
{
	struct pattern_buf *pb = rte_malloc("pattern", sizeof(*pb), RTE_CACHE_LINE_SIZE);
	if (pb == NULL)
		return NULL;
	tcp_pattern_init(&pb->pattern, seed);
	pb->shinfo.free_cb = pattern_buf_free;
	pb->shinfo.fcb_opaque = pb;
	rte_mbuf_ext_refcnt_set(&pb->shinfo, 1); /* the session's own reference */
	return pb;
}

static inline void pattern_buf_put(struct pattern_buf *pb)
{
	if (pb != NULL && rte_mbuf_ext_refcnt_update(&pb->shinfo, -1) == 0)
		rte_free(pb);
}

/* One mbuf holding stream bytes [offset, offset + n) of pb, zero copy
 * (n <= 32768 keeps the slice inside the doubled block). */
static inline struct rte_mbuf *pattern_buf_mbuf(struct pattern_buf *pb, struct rte_mempool *pool,
                                                uint64_t offset, uint32_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		return NULL;
	uint8_t *addr = pb->pattern.block + offset % TCP_PATTERN_PERIOD;
	rte_mbuf_ext_refcnt_update(&pb->shinfo, 1);
	/* rte_malloc_virt2iova wants the start of an allocation; addr lies
	 * inside one (it crashed with hugepages in IOVA-as-PA mode). */
	rte_pktmbuf_attach_extbuf(m, addr,
	                          rte_eal_iova_mode() == RTE_IOVA_VA ? (rte_iova_t)(uintptr_t)addr
	                                                             : rte_mem_virt2iova(addr),
	                          (uint16_t)n, &pb->shinfo);
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	return m;
}

#endif
