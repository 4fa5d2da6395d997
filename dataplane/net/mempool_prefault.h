/* Faulting a pool's memory in before the first packet. */
#ifndef FTPS_MEMPOOL_PREFAULT_H
#define FTPS_MEMPOOL_PREFAULT_H

#include <rte_mempool.h>

/* Without hugepages (--no-huge) the EAL's memory is shared memory that the
 * kernel fills on first touch, one 4 KiB page at a time.  Objects pass
 * through a pool's ring in FIFO order, so a busy pool soon uses every
 * object, and each one's first use took a page fault on the lcore in the
 * middle of a transfer: the DPDK loadgen spent a third of its cycles in
 * shmem faults during a 512 MiB upload (perf, 2026-11-29).  This touches
 * every page of the pool once, at start-up.  With hugepages the EAL has
 * already populated its memory and this does nothing. */
void mempool_prefault(struct rte_mempool *pool);

#endif
