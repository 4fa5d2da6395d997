/* Receives frames from a net_tap port's kernel end ourselves, one readv
 * per frame into a chain of mbufs, without the PMD's receive trigger.
 *
 * DPDK 22.11's net_tap asks the kernel for a real-time signal on every
 * frame the tap queues (O_ASYNC with F_SETSIG), so that an empty poll can
 * skip its readv.  On a VM each signal is an inter-processor interrupt to
 * the polling lcore and a signal frame there, paid also by the sender:
 * `perf` during a curl upload through the tap put 17% of curl's CPU in
 * kill_fasync and a quarter of the dataplane lcore's in signal delivery.
 * The reader turns the signal off on the queue (the PMD's own receive
 * would then stall, so a port whose queue has a reader is never polled
 * through rte_eth_rx_burst) and pays one readv per poll instead, which
 * returns at once when the queue is empty.
 *
 * It keeps one chain's worth of mbufs ready, enough for the largest frame
 * the kernel end may send (receive_mtu), and hands them out as a chain cut
 * to the frame's length; only those are replaced.  The first mbuf keeps
 * its headroom, as the PMD's do. */
#ifndef FTPS_TAP_READER_H
#define FTPS_TAP_READER_H

#include <linux/if_tun.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

/* 65535 bytes in mbufs of 2 KB, the smallest room the dataplane uses. */
#define TAP_READER_MAX_SEGMENTS 40

struct tap_reader {
	int fd; /* -1: the port is read through the PMD; owned by net_tap */
	uint16_t port_id;
	struct rte_mempool *pool;
	uint16_t segments; /* mbufs the largest frame needs */
	uint16_t ready;    /* of them allocated, in ready[0..ready) */
	struct rte_mbuf *ready_mbufs[TAP_READER_MAX_SEGMENTS];
	struct tun_pi information;
	struct iovec iov[TAP_READER_MAX_SEGMENTS + 1];
	uint64_t frames;
	/* Counters in the owner's array (NULL: not counted), as impair's. */
	uint64_t *truncated;   /* larger than the chain: dropped by the kernel's cut */
	uint64_t *no_mbufs;    /* polls that could not refill the chain */
	uint64_t *read_errors; /* readv failed other than for an empty queue */
};

/* Mbufs of pool a frame of frame_bytes (Ethernet header included) needs
 * when the first keeps its headroom; 0 when the mbufs have no room. */
uint16_t tap_reader_segments(struct rte_mempool *pool, uint32_t frame_bytes);

/* Stops the kernel's per-frame signal on the tap queue fd (which the
 * reader then owns for reading).  Returns 0, or -1 with the reason. */
int tap_reader_take_queue(int fd, char *error, size_t error_len);

/* Prepares a reader on fd (already taken) for frames up to frame_bytes
 * (Ethernet header included) in mbufs from pool, counting nothing until
 * its counter pointers are set.  Returns 0, or -1 when the pool's mbufs are
 * too small for a chain of TAP_READER_MAX_SEGMENTS. */
int tap_reader_init(struct tap_reader *reader, int fd, uint16_t port_id, struct rte_mempool *pool,
                    uint32_t frame_bytes, char *error, size_t error_len);

/* Reads up to count frames that the tap has queued into frames[];
 * returns how many.  Never blocks. */
uint16_t tap_reader_receive(struct tap_reader *reader, struct rte_mbuf **frames, uint16_t count);

/* Returns the ready mbufs to their pool. */
void tap_reader_release(struct tap_reader *reader);

#endif
