#include "net_lcore.h"

#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "ipv4.h"

const char *const net_counter_names[NET_COUNTER_COUNT] = {
#define NET_COUNTER_NAME(name, description) #name,
    NET_COUNTER_LIST(NET_COUNTER_NAME)
#undef NET_COUNTER_NAME
};

const char *const net_counter_descriptions[NET_COUNTER_COUNT] = {
#define NET_COUNTER_DESCRIPTION(name, description) description,
    NET_COUNTER_LIST(NET_COUNTER_DESCRIPTION)
#undef NET_COUNTER_DESCRIPTION
};

void net_lcore_init(struct net_lcore *nl, unsigned int worker_index, uint16_t port_id,
                    uint16_t queue_id, const struct rte_ether_addr *mac,
                    const struct net_address_config *ip, struct rte_mempool *pool)
{
	memset(nl, 0, sizeof(*nl));
	nl->worker_index = worker_index;
	nl->port_id = port_id;
	nl->queue_id = queue_id;
	nl->mac = *mac;
	nl->ip = *ip;
	nl->receive_mtu = ip->mtu;
	nl->pool = pool;
	nl->tap_writer.fd = -1;
	nl->tap_reader.fd = -1;
	uint64_t hz = rte_get_tsc_hz();
	arp_cache_init(&nl->arp, hz);
	nl->impair_rx.lost = &nl->counters[NET_COUNTER_impair_rx_lost];
	nl->impair_rx.duplicated = &nl->counters[NET_COUNTER_impair_rx_duplicated];
	nl->impair_rx.reordered = &nl->counters[NET_COUNTER_impair_rx_reordered];
	nl->impair_rx.corrupted = &nl->counters[NET_COUNTER_impair_rx_corrupted];
	nl->impair_rx.delayed = &nl->counters[NET_COUNTER_impair_rx_delayed];
	nl->impair_tx.lost = &nl->counters[NET_COUNTER_impair_tx_lost];
	nl->impair_tx.duplicated = &nl->counters[NET_COUNTER_impair_tx_duplicated];
	nl->impair_tx.reordered = &nl->counters[NET_COUNTER_impair_tx_reordered];
	nl->impair_tx.corrupted = &nl->counters[NET_COUNTER_impair_tx_corrupted];
	nl->impair_tx.delayed = &nl->counters[NET_COUNTER_impair_tx_delayed];
	struct impair_config off = {0};
	impair_init(&nl->impair_rx, &off, 0, pool, hz);
	impair_init(&nl->impair_tx, &off, 0, pool, hz);
}

static void net_sink(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count)
{
	if (count == 0 && nl->tx_backlog_count == 0)
		return;
	nl->counters[NET_COUNTER_tx_frames] += count;
	nl->sink(nl, frames, count);
}

void net_flush(struct net_lcore *nl)
{
	uint16_t n = nl->tx_count;
	nl->tx_count = 0;
	if (!nl->impair_tx.enabled) {
		net_sink(nl, nl->tx_pending, n);
		return;
	}
	struct rte_mbuf *out[NET_TX_BATCH * 2];
	uint16_t released = impair_apply(&nl->impair_tx, nl->tx_pending, n, out, RTE_DIM(out),
	                                 rte_get_tsc_cycles());
	net_sink(nl, out, released);
}

void net_transmit_frame(struct net_lcore *nl, struct rte_mbuf *frame)
{
	nl->tx_pending[nl->tx_count++] = frame;
	if (nl->tx_count == NET_TX_BATCH)
		net_flush(nl);
}

void eth_input(struct net_lcore *nl, struct rte_mbuf *m)
{
	nl->counters[NET_COUNTER_rx_frames]++;
	/* A frame may arrive as a chain (net_memif hands large frames over in
	 * several mbufs); the headers must sit in the first one. */
	if (rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr)) {
		net_drop(nl, m,
		         rte_pktmbuf_pkt_len(m) < sizeof(struct rte_ether_hdr)
		             ? NET_COUNTER_drop_eth_short
		             : NET_COUNTER_drop_eth_segmented);
		return;
	}
	if (rte_pktmbuf_pkt_len(m) > (uint32_t)nl->receive_mtu + RTE_ETHER_HDR_LEN + 4 /* VLAN */) {
		net_drop(nl, m, NET_COUNTER_drop_eth_oversized);
		return;
	}
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (!rte_is_same_ether_addr(&eth->dst_addr, &nl->mac) &&
	    !rte_is_broadcast_ether_addr(&eth->dst_addr)) {
		net_drop(nl, m, NET_COUNTER_drop_eth_not_for_us);
		return;
	}
	switch (eth->ether_type) {
	case RTE_BE16(RTE_ETHER_TYPE_ARP):
		if (m->nb_segs != 1) {
			net_drop(nl, m, NET_COUNTER_drop_eth_segmented);
			return;
		}
		arp_input(nl, m);
		return;
	case RTE_BE16(RTE_ETHER_TYPE_IPV4):
		ipv4_input(nl, m);
		return;
	default:
		net_drop(nl, m, NET_COUNTER_drop_eth_unknown_type);
		return;
	}
}

void net_receive_burst(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count,
                       uint64_t now_tsc)
{
	if (!nl->impair_rx.enabled) {
		for (uint16_t i = 0; i < count; i++)
			eth_input(nl, frames[i]);
		return;
	}
	struct rte_mbuf *out[IMPAIR_HOLD_MAX];
	uint16_t n = impair_apply(&nl->impair_rx, frames, count, out, RTE_DIM(out), now_tsc);
	for (uint16_t i = 0; i < n; i++)
		eth_input(nl, out[i]);
}

void net_poll_timers(struct net_lcore *nl, uint64_t now_tsc)
{
	arp_poll(nl, now_tsc);
	if (impair_held_count(&nl->impair_rx) > 0) {
		struct rte_mbuf *out[IMPAIR_HOLD_MAX];
		uint16_t n = impair_release(&nl->impair_rx, out, RTE_DIM(out), now_tsc, false);
		for (uint16_t i = 0; i < n; i++)
			eth_input(nl, out[i]);
	}
	if (impair_held_count(&nl->impair_tx) > 0) {
		struct rte_mbuf *out[IMPAIR_HOLD_MAX];
		uint16_t n = impair_release(&nl->impair_tx, out, RTE_DIM(out), now_tsc, false);
		net_sink(nl, out, n);
	}
}

uint16_t net_lcore_receive(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count)
{
	struct tap_reader *reader = &nl->tap_reader;
	if (reader->fd < 0)
		return rte_eth_rx_burst(nl->port_id, nl->queue_id, frames, count);
	return tap_reader_receive(reader, frames, count);
}

void net_lcore_release(struct net_lcore *nl)
{
	net_flush(nl);
	tap_reader_release(&nl->tap_reader);
	arp_cache_release(&nl->arp);
	impair_free_held(&nl->impair_rx);
	impair_free_held(&nl->impair_tx);
	while (nl->tx_backlog_count > 0) {
		rte_pktmbuf_free(nl->tx_backlog[nl->tx_backlog_head]);
		nl->tx_backlog_head = (uint16_t)((nl->tx_backlog_head + 1) % NET_TX_BACKLOG);
		nl->tx_backlog_count--;
	}
}
