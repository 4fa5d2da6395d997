#include "arp.h"

#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>

#include "net_lcore.h"

void arp_cache_init(struct arp_cache *cache, uint64_t tsc_hz)
{
	memset(cache, 0, sizeof(*cache));
	cache->tsc_hz = tsc_hz;
}

static uint32_t arp_slot(rte_be32_t address)
{
	uint32_t h = rte_be_to_cpu_32(address) * 2654435761u;
	return h >> (32 - 8); /* ARP_CACHE_SIZE == 256 */
}

/* Open addressing with linear probing; returns the entry for address, or the
 * first free slot on its probe path when create is set, or NULL. */
static struct arp_entry *arp_find(struct arp_cache *cache, rte_be32_t address, bool create)
{
	uint32_t slot = arp_slot(address);
	struct arp_entry *free_slot = NULL;
	for (unsigned int i = 0; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &cache->entries[(slot + i) & (ARP_CACHE_SIZE - 1)];
		if (e->state == ARP_ENTRY_FREE) {
			if (free_slot == NULL)
				free_slot = e;
			/* Entries are never removed mid-chain without a rebuild,
			 * so a free slot ends the probe. */
			break;
		}
		if (e->address == address)
			return e;
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->address = address;
	return free_slot;
}

bool arp_lookup(const struct arp_cache *cache, rte_be32_t next_hop, struct rte_ether_addr *mac)
{
	struct arp_entry *e = arp_find((struct arp_cache *)(uintptr_t)cache, next_hop, false);
	if (e == NULL || e->state != ARP_ENTRY_RESOLVED)
		return false;
	*mac = e->mac;
	return true;
}

static void arp_remove(struct arp_cache *cache, struct arp_entry *victim)
{
	/* Removing from a linear-probe table: clear, then re-insert the rest of
	 * the cluster so later lookups still find them. */
	unsigned int index = (unsigned int)(victim - cache->entries);
	victim->state = ARP_ENTRY_FREE;
	for (unsigned int i = 1; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &cache->entries[(index + i) & (ARP_CACHE_SIZE - 1)];
		if (e->state == ARP_ENTRY_FREE)
			break;
		struct arp_entry moved = *e;
		e->state = ARP_ENTRY_FREE;
		struct arp_entry *slot = arp_find(cache, moved.address, true);
		*slot = moved;
	}
}

static struct rte_mbuf *arp_build(struct net_lcore *nl, uint16_t opcode,
                                  const struct rte_ether_addr *eth_dst,
                                  const struct rte_ether_addr *target_mac, rte_be32_t target_ip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(nl->pool);
	if (m == NULL) {
		net_count(nl, NET_COUNTER_drop_mbuf_exhausted);
		return NULL;
	}
	size_t len = sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)len);
	if (eth == NULL) {
		rte_pktmbuf_free(m);
		net_count(nl, NET_COUNTER_drop_mbuf_exhausted);
		return NULL;
	}
	eth->dst_addr = *eth_dst;
	eth->src_addr = nl->mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = sizeof(uint32_t);
	arp->arp_opcode = rte_cpu_to_be_16(opcode);
	arp->arp_data.arp_sha = nl->mac;
	arp->arp_data.arp_sip = nl->ip.address;
	arp->arp_data.arp_tha = *target_mac;
	arp->arp_data.arp_tip = target_ip;
	return m;
}

static void arp_send_request(struct net_lcore *nl, rte_be32_t target)
{
	static const struct rte_ether_addr broadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	static const struct rte_ether_addr zero = {{0}};
	struct rte_mbuf *m = arp_build(nl, RTE_ARP_OP_REQUEST, &broadcast, &zero, target);
	if (m == NULL)
		return;
	net_count(nl, NET_COUNTER_tx_arp_request);
	net_transmit_frame(nl, m);
}

void arp_send_gratuitous(struct net_lcore *nl)
{
	static const struct rte_ether_addr broadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	/* A gratuitous request: sender and target IP are both ours. */
	struct rte_mbuf *m =
	    arp_build(nl, RTE_ARP_OP_REQUEST, &broadcast, &broadcast, nl->ip.address);
	if (m == NULL)
		return;
	net_count(nl, NET_COUNTER_tx_gratuitous_arp);
	net_transmit_frame(nl, m);
}

static void arp_flush_pending(struct net_lcore *nl, struct arp_entry *e)
{
	for (unsigned int i = 0; i < e->pending_count; i++) {
		struct rte_mbuf *frame = e->pending[i];
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(frame, struct rte_ether_hdr *);
		eth->dst_addr = e->mac;
		net_transmit_frame(nl, frame);
	}
	e->pending_count = 0;
}

/* Records a mapping; returns true when it was new or changed. */
static bool arp_learn(struct net_lcore *nl, rte_be32_t address, const struct rte_ether_addr *mac,
                      bool create)
{
	struct arp_cache *cache = &nl->arp;
	struct arp_entry *e = arp_find(cache, address, create);
	if (e == NULL)
		return false;
	bool changed = e->state != ARP_ENTRY_RESOLVED || !rte_is_same_ether_addr(&e->mac, mac);
	if (e->state != ARP_ENTRY_RESOLVED)
		net_count(nl, NET_COUNTER_arp_resolved);
	e->state = ARP_ENTRY_RESOLVED;
	e->mac = *mac;
	e->deadline_tsc = rte_get_tsc_cycles() + cache->tsc_hz * ARP_ENTRY_LIFETIME_S;
	e->requests_sent = 0;
	arp_flush_pending(nl, e);
	return changed;
}

static void arp_share(struct net_lcore *nl, rte_be32_t address, const struct rte_ether_addr *mac)
{
	struct arp_learned note = {.address = address, .mac = *mac};
	for (unsigned int i = 0; i < nl->arp.peer_count; i++) {
		/* A full inbox only costs the peer an ARP request of its own. */
		(void)rte_ring_enqueue_elem(nl->arp.peers[i], &note, sizeof(note));
	}
}

void arp_input(struct net_lcore *nl, struct rte_mbuf *m)
{
	if (rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr)) {
		net_drop(nl, m, NET_COUNTER_drop_arp_malformed);
		return;
	}
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	if (arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != sizeof(uint32_t)) {
		net_drop(nl, m, NET_COUNTER_drop_arp_malformed);
		return;
	}
	uint16_t opcode = rte_be_to_cpu_16(arp->arp_opcode);
	if (opcode != RTE_ARP_OP_REQUEST && opcode != RTE_ARP_OP_REPLY) {
		net_drop(nl, m, NET_COUNTER_drop_arp_bad_opcode);
		return;
	}
	const struct rte_ether_addr sender_mac = arp->arp_data.arp_sha;
	rte_be32_t sender_ip = arp->arp_data.arp_sip;
	if (!rte_is_unicast_ether_addr(&sender_mac) || rte_is_zero_ether_addr(&sender_mac)) {
		net_drop(nl, m, NET_COUNTER_drop_arp_bad_sender);
		return;
	}
	bool for_us = arp->arp_data.arp_tip == nl->ip.address;
	/* RFC 826: update an existing entry from any ARP packet; create one only
	 * when the packet is addressed to us. A probe (sender 0.0.0.0) teaches
	 * nothing. */
	if (sender_ip != 0 && sender_ip != nl->ip.address) {
		if (arp_learn(nl, sender_ip, &sender_mac, for_us))
			arp_share(nl, sender_ip, &sender_mac);
	}
	if (!for_us) {
		net_drop(nl, m, NET_COUNTER_drop_arp_not_for_us);
		return;
	}
	net_count(nl, NET_COUNTER_rx_arp);
	if (opcode != RTE_ARP_OP_REQUEST) {
		rte_pktmbuf_free(m);
		return;
	}
	/* Answer in place: the request mbuf becomes the reply. */
	rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - sizeof(struct rte_ether_hdr) -
	                               sizeof(struct rte_arp_hdr)));
	eth->dst_addr = sender_mac;
	eth->src_addr = nl->mac;
	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = sender_mac;
	arp->arp_data.arp_tip = sender_ip;
	arp->arp_data.arp_sha = nl->mac;
	arp->arp_data.arp_sip = nl->ip.address;
	m->ol_flags = 0;
	net_count(nl, NET_COUNTER_tx_arp_reply);
	net_transmit_frame(nl, m);
}

void arp_output(struct net_lcore *nl, struct rte_mbuf *frame, rte_be32_t next_hop, uint64_t now_tsc)
{
	struct arp_cache *cache = &nl->arp;
	struct arp_entry *e = arp_find(cache, next_hop, true);
	if (e == NULL) {
		net_drop(nl, frame, NET_COUNTER_drop_arp_queue_full);
		return;
	}
	if (e->state == ARP_ENTRY_RESOLVED) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(frame, struct rte_ether_hdr *);
		eth->dst_addr = e->mac;
		net_transmit_frame(nl, frame);
		return;
	}
	if (e->state == ARP_ENTRY_FREE) {
		e->state = ARP_ENTRY_PENDING;
		e->requests_sent = 0;
		e->deadline_tsc = now_tsc;
	}
	if (e->pending_count == ARP_PENDING_PER_ENTRY) {
		net_drop(nl, frame, NET_COUNTER_drop_arp_queue_full);
		return;
	}
	e->pending[e->pending_count++] = frame;
	if (e->requests_sent == 0) {
		arp_send_request(nl, next_hop);
		e->requests_sent = 1;
		e->deadline_tsc = now_tsc + cache->tsc_hz * ARP_REQUEST_INTERVAL_MS / 1000;
	}
}

void arp_prime(struct net_lcore *nl, rte_be32_t address, uint64_t now_tsc)
{
	struct arp_entry *e = arp_find(&nl->arp, address, true);
	if (e == NULL || e->state != ARP_ENTRY_FREE)
		return;
	e->state = ARP_ENTRY_PENDING;
	arp_send_request(nl, address);
	e->requests_sent = 1;
	e->deadline_tsc = now_tsc + nl->arp.tsc_hz * ARP_REQUEST_INTERVAL_MS / 1000;
}

void arp_poll(struct net_lcore *nl, uint64_t now_tsc)
{
	struct arp_cache *cache = &nl->arp;
	if (cache->inbox != NULL) {
		struct arp_learned note;
		while (rte_ring_dequeue_elem(cache->inbox, &note, sizeof(note)) == 0)
			arp_learn(nl, note.address, &note.mac, true);
	}
	for (unsigned int i = 0; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &cache->entries[i];
		if (e->state == ARP_ENTRY_FREE || now_tsc < e->deadline_tsc)
			continue;
		if (e->state == ARP_ENTRY_RESOLVED) {
			arp_remove(cache, e);
			i--; /* the slot may now hold a moved entry */
			continue;
		}
		if (e->requests_sent < ARP_REQUEST_RETRIES) {
			arp_send_request(nl, e->address);
			e->requests_sent++;
			e->deadline_tsc = now_tsc + cache->tsc_hz * ARP_REQUEST_INTERVAL_MS / 1000;
			continue;
		}
		for (unsigned int k = 0; k < e->pending_count; k++)
			net_drop(nl, e->pending[k], NET_COUNTER_drop_arp_timeout);
		e->pending_count = 0;
		arp_remove(cache, e);
		i--;
	}
}

void arp_cache_release(struct arp_cache *cache)
{
	for (unsigned int i = 0; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &cache->entries[i];
		for (unsigned int k = 0; k < e->pending_count; k++)
			rte_pktmbuf_free(e->pending[k]);
		e->pending_count = 0;
		e->state = ARP_ENTRY_FREE;
	}
}
