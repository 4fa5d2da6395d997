/* The impairment layer: same seed and input give the same faults; rates
 * land within tolerance of the configuration; bad specifications are refused
 * with a message; nothing leaks. */
#include <math.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "check.h"
#include "impair.h"
#include "test_eal.h"

#define FRAMES 200000
#define BURST  32

static struct rte_mempool *pool;

struct run_result {
	uint64_t lost, duplicated, reordered, corrupted, delayed;
	uint32_t out_count;
	uint64_t fingerprint; /* order and content of what came out */
	uint32_t out_of_order;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h;
}

static struct run_result run(const struct impair_config *config, uint64_t stream)
{
	struct run_result r;
	memset(&r, 0, sizeof(r));
	struct impair imp;
	memset(&imp, 0, sizeof(imp));
	imp.lost = &r.lost;
	imp.duplicated = &r.duplicated;
	imp.reordered = &r.reordered;
	imp.corrupted = &r.corrupted;
	imp.delayed = &r.delayed;
	impair_init(&imp, config, stream, pool, rte_get_tsc_hz());
	uint32_t next = 0, highest = 0;
	struct rte_mbuf *in[BURST], *out[IMPAIR_HOLD_MAX];
	/* A fixed clock: time-based release never fires, so the result depends
	 * on the seed and the input alone. */
	const uint64_t now = 1000;
	while (next < FRAMES) {
		uint16_t n = 0;
		for (; n < BURST && next < FRAMES; n++, next++) {
			in[n] = rte_pktmbuf_alloc(pool);
			uint32_t *p = (uint32_t *)rte_pktmbuf_append(in[n], 64);
			memset(p, 0, 64);
			p[0] = next;
		}
		uint16_t got = impair_apply(&imp, in, n, out, RTE_DIM(out), now);
		for (uint16_t i = 0; i < got; i++) {
			const uint8_t *d = rte_pktmbuf_mtod(out[i], const uint8_t *);
			uint32_t id;
			memcpy(&id, d, 4);
			if (id < highest)
				r.out_of_order++;
			else
				highest = id;
			r.fingerprint = mix(r.fingerprint, rte_raw_cksum(d, 64));
			r.fingerprint = mix(r.fingerprint, id);
			rte_pktmbuf_free(out[i]);
			r.out_count++;
		}
	}
	uint16_t got;
	while ((got = impair_release(&imp, out, RTE_DIM(out), now, true)) > 0) {
		for (uint16_t i = 0; i < got; i++) {
			r.out_count++;
			rte_pktmbuf_free(out[i]);
		}
	}
	impair_free_held(&imp);
	return r;
}

static int within(uint64_t observed, double probability, double tolerance)
{
	double expected = probability * FRAMES;
	return fabs((double)observed - expected) <= expected * tolerance + 10;
}

int main(void)
{
	if (test_eal_init("test_impair") != 0)
		return 1;
	pool = rte_pktmbuf_pool_create("test_impair", 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (pool == NULL)
		return 1;
	unsigned int start = rte_mempool_avail_count(pool);

	struct impair_config config = {.seed = 7};
	CHECK(impair_parse("loss=0.02,reorder=0.01,depth=3,dup=0.005,corrupt=0.001", &config) ==
	      NULL);
	CHECK_EQ(config.seed, 7);
	CHECK(fabs(config.loss - 0.02) < 1e-12);
	CHECK_EQ(config.reorder_depth, 3);

	struct run_result a = run(&config, 0), b = run(&config, 0);
	CHECK_EQ(a.fingerprint, b.fingerprint);
	CHECK_EQ(a.lost, b.lost);
	CHECK_EQ(a.out_count, b.out_count);
	CHECK_EQ(a.corrupted, b.corrupted);
	/* Configured rates within 10 percent (and a small absolute slack). */
	CHECK(within(a.lost, 0.02, 0.10));
	CHECK(within(a.reordered, 0.01 * 0.98, 0.10));
	CHECK(within(a.duplicated, 0.005 * 0.98, 0.15));
	CHECK(within(a.corrupted, 0.001 * 0.98, 0.25));
	CHECK(a.out_of_order > 0);
	/* Conservation: everything in is out, lost, or a duplicate extra. */
	CHECK_EQ((uint64_t)a.out_count, FRAMES - a.lost + a.duplicated);

	/* Another seed, or another lcore's stream, gives other faults. */
	struct impair_config other = config;
	other.seed = 8;
	struct run_result c = run(&other, 0), d = run(&config, 1);
	CHECK(c.fingerprint != a.fingerprint);
	CHECK(d.fingerprint != a.fingerprint);

	/* Off means untouched and in order. */
	struct impair_config off = {0};
	struct run_result e = run(&off, 0);
	CHECK_EQ(e.out_count, FRAMES);
	CHECK_EQ(e.out_of_order, 0);
	CHECK_EQ(e.lost + e.duplicated + e.corrupted + e.reordered, 0);

	/* Corruption reaches every part of a chained frame (64 KB frames are
	 * chains whose first mbuf is mostly headers): one bit flipped per
	 * frame, beyond the first mbuf in most of them. */
	struct impair_config corrupt_all = {.seed = 3, .corrupt = 1.0};
	struct impair chained;
	uint64_t unused[4] = {0}, corrupted = 0;
	memset(&chained, 0, sizeof(chained));
	chained.lost = &unused[0];
	chained.duplicated = &unused[1];
	chained.reordered = &unused[2];
	chained.delayed = &unused[3];
	chained.corrupted = &corrupted;
	impair_init(&chained, &corrupt_all, 0, pool, rte_get_tsc_hz());
	unsigned int beyond_first = 0, one_bit = 0;
	for (unsigned int i = 0; i < 64; i++) {
		struct rte_mbuf *head = rte_pktmbuf_alloc(pool);
		memset(rte_pktmbuf_append(head, 64), 0, 64);
		for (unsigned int k = 0; k < 7; k++) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
			memset(rte_pktmbuf_append(m, 1024), 0, 1024);
			CHECK(rte_pktmbuf_chain(head, m) == 0);
		}
		struct rte_mbuf *out_one[IMPAIR_HOLD_MAX];
		uint16_t got = impair_apply(&chained, &head, 1, out_one, RTE_DIM(out_one), 1000);
		CHECK_EQ(got, 1);
		/* (The faulty copy may lay the bytes out in other mbufs: count
		 * by offset in the frame.) */
		unsigned int bits = 0, at = 0, offset = 0;
		for (struct rte_mbuf *m = out_one[0]; m != NULL; m = m->next) {
			const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
			for (uint16_t j = 0; j < m->data_len; j++, offset++) {
				if (d[j] != 0)
					at = offset;
				bits += (unsigned int)__builtin_popcount(d[j]);
			}
		}
		one_bit += bits == 1;
		beyond_first += bits == 1 && at >= 64;
		rte_pktmbuf_free(out_one[0]);
	}
	CHECK_EQ(one_bit, 64);
	CHECK_EQ(corrupted, 64);
	CHECK(beyond_first > 48); /* 7168 of the 7232 bytes lie beyond the first mbuf */
	impair_free_held(&chained);

	/* A delay holds every frame until it is due, then lets all of them
	 * go in the order they came, however many: the ring's head is all a
	 * poll looks at. */
	struct impair_config delay_only = {.seed = 5, .delay_us = 1000};
	struct impair delaying;
	uint64_t delay_counters[5] = {0};
	memset(&delaying, 0, sizeof(delaying));
	delaying.lost = &delay_counters[0];
	delaying.duplicated = &delay_counters[1];
	delaying.reordered = &delay_counters[2];
	delaying.corrupted = &delay_counters[3];
	delaying.delayed = &delay_counters[4];
	impair_init(&delaying, &delay_only, 0, pool, 1000000); /* 1 tick per us */
	struct rte_mbuf *batch[64], *released[IMPAIR_HOLD_MAX];
	uint32_t sent = 0;
	for (uint64_t t = 0; t < 10; t++) { /* 640 frames over 10 us */
		for (unsigned int i = 0; i < 64; i++, sent++) {
			batch[i] = rte_pktmbuf_alloc(pool);
			*(uint32_t *)rte_pktmbuf_append(batch[i], 4) = sent;
		}
		CHECK_EQ(impair_apply(&delaying, batch, 64, released, RTE_DIM(released), 5000 + t),
		         0);
	}
	CHECK_EQ(impair_held_count(&delaying), 640);
	CHECK_EQ(delay_counters[4], 640);
	CHECK_EQ(impair_release(&delaying, released, RTE_DIM(released), 5999, false), 0);
	uint32_t expect = 0;
	for (uint64_t t = 6000; t < 6010; t++) {
		uint16_t got = impair_release(&delaying, released, RTE_DIM(released), t, false);
		CHECK_EQ(got, 64); /* the frames that came 1000 us earlier, no more */
		for (uint16_t i = 0; i < got; i++) {
			CHECK_EQ(*rte_pktmbuf_mtod(released[i], uint32_t *), expect);
			expect++;
			rte_pktmbuf_free(released[i]);
		}
	}
	CHECK_EQ(impair_held_count(&delaying), 0);
	/* Held frames are freed when the owner goes away. */
	for (unsigned int i = 0; i < 8; i++)
		batch[i] = rte_pktmbuf_alloc(pool);
	CHECK_EQ(impair_apply(&delaying, batch, 8, released, RTE_DIM(released), 7000), 0);
	unsigned int before_free = rte_mempool_avail_count(pool);
	impair_free_held(&delaying);
	CHECK_EQ(rte_mempool_avail_count(pool), before_free + 8);

	/* Bad specifications name the culprit. */
	struct impair_config bad = {0};
	const char *msg = impair_parse("loss=2", &bad);
	CHECK(msg != NULL && strstr(msg, "loss") != NULL);
	msg = impair_parse("jitter=1", &bad);
	CHECK(msg != NULL && strstr(msg, "unknown impairment") != NULL);
	msg = impair_parse("loss", &bad);
	CHECK(msg != NULL && strstr(msg, "key=value") != NULL);
	msg = impair_parse("reorder=0.1,depth=0", &bad);
	CHECK(msg != NULL && strstr(msg, "depth") != NULL);
	msg = impair_parse("delay_us=-5", &bad);
	CHECK(msg != NULL);

	CHECK_EQ(rte_mempool_avail_count(pool), start);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return check_finish("impair");
}
