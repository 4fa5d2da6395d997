/* The network state one worker lcore owns.  Nothing in here is written by
 * another thread; the telemetry thread only reads the counters (aligned
 * 64-bit loads, so a reader sees a stale value at worst, never a torn one). */
#ifndef FTPS_NET_LCORE_H
#define FTPS_NET_LCORE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "arp.h"
#include "impair.h"
#include "net_counters.h"
#include "tap_reader.h"
#include "tap_writer.h"

#define NET_TX_BATCH 64
/* Frames the port's sink may hold while its transmit ring is full (a power
 * of two).  Enough for a few bursts of large TCP windows; beyond it frames
 * are dropped and counted. */
#define NET_TX_BACKLOG 1024

struct net_lcore;

/* Hook for IPv4 payload protocols layered above (TCP).  The hook takes
 * ownership of the mbuf; its data offset points at the transport header and
 * ip_header points inside the same mbuf. */
typedef void (*net_protocol_input_fn)(struct net_lcore *nl, struct rte_mbuf *m,
                                      const struct rte_ipv4_hdr *ip_header);

/* Where finished frames go.  The worker sends them to the port; unit tests
 * capture them instead.  The sink takes ownership of every mbuf. */
typedef void (*net_frame_sink_fn)(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count);

struct net_address_config {
	rte_be32_t address; /* network order */
	rte_be32_t netmask;
	rte_be32_t gateway; /* 0: no default route */
	uint16_t mtu;
};

struct net_lcore {
	uint64_t counters[NET_COUNTER_COUNT];

	unsigned int worker_index;
	uint16_t port_id;
	uint16_t queue_id;
	struct rte_ether_addr mac;
	struct net_address_config ip;
	/* The largest IP packet accepted: ip.mtu, or more where the link's far
	 * end sends larger frames than we can send back (net_tap: see
	 * port_info.receive_mtu).  TCP advertises its MSS from it. */
	uint16_t receive_mtu;
	struct rte_mempool *pool;

	/* Offloads the port offers; when false the stack computes in software. */
	bool tx_ipv4_checksum_offload;
	bool tx_tcp_checksum_offload;
	bool tx_tcp_segmentation_offload;
	bool tx_chained_checksum_fixup; /* see port_info.tx_chained_checksum_broken */
	/* Neither compute nor verify TCP checksums: only for a link between two
	 * of our processes through shared memory (net_memif), where nothing
	 * can corrupt a frame in flight.  Linux veth does the same with
	 * CHECKSUM_PARTIAL.  Off by default (port_config.trusted_link). */
	bool l4_checksum_trusted;
	/* Frames written to net_tap's kernel end by us (fd >= 0), not by the
	 * PMD: see port_info.tap_writer. */
	struct tap_writer tap_writer;
	/* Frames read from net_tap's kernel end by us (fd >= 0), not through
	 * the PMD: see tap_reader.h and port_info.tap_reader_fd. */
	struct tap_reader tap_reader;

	struct arp_cache arp;
	struct impair impair_rx;
	struct impair impair_tx;

	net_protocol_input_fn tcp_input;
	void *tcp_context;

	net_frame_sink_fn sink;
	void *sink_context;

	uint16_t tx_count;
	struct rte_mbuf *tx_pending[NET_TX_BATCH];

	/* Frames the sink accepted but the port's ring did not yet take, in
	 * wire order (a ring: head and count).  Owned by the sink; the TCP
	 * stack reads tx_backlog_count as backpressure. */
	uint16_t tx_backlog_head;
	uint16_t tx_backlog_count;
	struct rte_mbuf *tx_backlog[NET_TX_BACKLOG];
} __rte_cache_aligned;

static inline void net_count(struct net_lcore *nl, enum net_counter c)
{
	nl->counters[c]++;
}

/* Drops a packet the stack will not take and counts why. */
static inline void net_drop(struct net_lcore *nl, struct rte_mbuf *m, enum net_counter why)
{
	nl->counters[why]++;
	rte_pktmbuf_free(m);
}

void net_lcore_init(struct net_lcore *nl, unsigned int worker_index, uint16_t port_id,
                    uint16_t queue_id, const struct rte_ether_addr *mac,
                    const struct net_address_config *ip, struct rte_mempool *pool);

/* Queues a complete Ethernet frame for transmission (through the TX
 * impairment stage); flushes when the batch is full. */
void net_transmit_frame(struct net_lcore *nl, struct rte_mbuf *frame);

/* Hands every queued frame to the sink (also when none is queued but the
 * sink's backlog holds frames, so the backlog drains every loop). */
void net_flush(struct net_lcore *nl);

/* Receive path entry: one frame, owned by the stack from here on. */
void eth_input(struct net_lcore *nl, struct rte_mbuf *m);

/* Receive a burst: impairment stage first, then eth_input for each frame. */
void net_receive_burst(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count,
                       uint64_t now_tsc);

/* Takes up to count frames from the lcore's queue: the tap reader's when it
 * has one, the port's RX queue otherwise. */
uint16_t net_lcore_receive(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count);

/* Housekeeping driven by the poll loop: ARP timeouts, impairment releases. */
void net_poll_timers(struct net_lcore *nl, uint64_t now_tsc);

/* Releases everything the lcore still holds (shutdown). */
void net_lcore_release(struct net_lcore *nl);

static inline bool net_address_is_local_broadcast(const struct net_lcore *nl, rte_be32_t a)
{
	return a == RTE_BE32(0xffffffff) ||
	       a == ((nl->ip.address & nl->ip.netmask) | ~nl->ip.netmask);
}

#endif
