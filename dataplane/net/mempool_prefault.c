#include "mempool_prefault.h"

#include <stdint.h>
#include <unistd.h>

#include <rte_eal.h>

static void touch_chunk(struct rte_mempool *pool, void *opaque, struct rte_mempool_memhdr *chunk,
                        unsigned int index)
{
	(void)pool;
	(void)index;
	const uintptr_t page = *(const uintptr_t *)opaque;
	uintptr_t start = (uintptr_t)chunk->addr, end = start + chunk->len;
	/* A write, not a read, so that the page is allocated and mapped for
	 * writing whatever the mapping (a read of private memory would only
	 * map the shared zero page).  The bytes keep their values: mbuf
	 * headers live here. */
	for (uintptr_t at = start; at < end; at = (at | (page - 1)) + 1) {
		volatile uint8_t *byte = (volatile uint8_t *)at;
		*byte = *byte;
	}
}

void mempool_prefault(struct rte_mempool *pool)
{
	if (pool == NULL || rte_eal_has_hugepages())
		return;
	long size = sysconf(_SC_PAGESIZE);
	uintptr_t page = size > 0 ? (uintptr_t)size : 4096;
	rte_mempool_mem_iter(pool, touch_chunk, &page);
}
