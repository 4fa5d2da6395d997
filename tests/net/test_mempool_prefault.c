/* Without hugepages, mempool_prefault() leaves every page of a pool's
 * memory resident, and the objects in it as they were: a pool of jumbo
 * mbufs, whose data rooms creation never touches, is counted page by page
 * with mincore() before and after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "check.h"
#include "net/mempool_prefault.h"

#define POOL_MBUFS 2047
#define DATA_ROOM  (RTE_PKTMBUF_HEADROOM + 9216)

struct residency {
	size_t page;
	size_t pages, resident;
};

static void count_chunk(struct rte_mempool *pool, void *opaque, struct rte_mempool_memhdr *chunk,
                        unsigned int index)
{
	(void)pool;
	(void)index;
	struct residency *r = opaque;
	uintptr_t start = (uintptr_t)chunk->addr & ~(uintptr_t)(r->page - 1);
	uintptr_t end = (uintptr_t)chunk->addr + chunk->len;
	size_t n = (end - start + r->page - 1) / r->page;
	unsigned char *vec = calloc(n, 1);
	CHECK(vec != NULL);
	if (vec == NULL)
		return;
	CHECK_EQ(mincore((void *)start, end - start, vec), 0);
	for (size_t i = 0; i < n; i++)
		r->resident += vec[i] & 1;
	r->pages += n;
	free(vec);
}

static struct residency residency(struct rte_mempool *pool)
{
	struct residency r = {.page = (size_t)sysconf(_SC_PAGESIZE)};
	rte_mempool_mem_iter(pool, count_chunk, &r);
	return r;
}

int main(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_prefault_%d", (int)getpid());
	char *argv[] = {
	    "test_mempool_prefault", "--no-huge",      "--no-pci", "--no-shconf", "-m",   "256",
	    "--log-level=error",     "--no-telemetry", "-l",       "0",           prefix, NULL};
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "test_mempool_prefault: EAL init failed\n");
		return 1;
	}
	CHECK(!rte_eal_has_hugepages());
	struct rte_mempool *pool =
	    rte_pktmbuf_pool_create("prefault", POOL_MBUFS, 0, 0, DATA_ROOM, 0);
	CHECK(pool != NULL);
	if (pool == NULL)
		return check_finish("mempool-prefault");

	struct residency before = residency(pool);
	/* 2047 data rooms of 9 KiB span about 4700 pages; creation wrote
	 * only the headers. */
	CHECK(before.pages > 4000);
	CHECK(before.resident < before.pages / 2);
	mempool_prefault(pool);
	struct residency after = residency(pool);
	CHECK_EQ(after.pages, before.pages);
	CHECK_EQ(after.resident, after.pages);
	printf("pool pages %zu: resident %zu before, %zu after\n", after.pages, before.resident,
	       after.resident);

	/* The headers kept their values: every mbuf comes out whole. */
	static struct rte_mbuf *all[POOL_MBUFS];
	CHECK_EQ(rte_pktmbuf_alloc_bulk(pool, all, POOL_MBUFS), 0);
	unsigned int whole = 0;
	for (unsigned int i = 0; i < POOL_MBUFS; i++)
		whole += all[i]->pool == pool && all[i]->buf_len == DATA_ROOM &&
		         all[i]->data_off == RTE_PKTMBUF_HEADROOM && all[i]->nb_segs == 1 &&
		         rte_pktmbuf_data_len(all[i]) == 0;
	CHECK_EQ(whole, POOL_MBUFS);
	memset(rte_pktmbuf_mtod(all[0], void *), 0xab, 9216); /* writable, end to end */
	rte_pktmbuf_free_bulk(all, POOL_MBUFS);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return check_finish("mempool-prefault");
}
