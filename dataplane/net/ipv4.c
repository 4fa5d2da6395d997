#include "ipv4.h"

#include <rte_cycles.h>
#include <rte_ether.h>

#include "icmp.h"
#include "net_lcore.h"
#include "net_mbuf.h"

/* RFC 1812 5.3.7 / RFC 1122 3.2.1.3: sources that no real host has. */
static bool ipv4_source_is_bogus(const struct net_lcore *nl, rte_be32_t source)
{
	uint32_t s = rte_be_to_cpu_32(source);
	if ((s >> 24) == 127 || (s >> 28) == 0xe || (s >> 28) == 0xf)
		return true;
	if (source == nl->ip.address)
		return true;
	return net_address_is_local_broadcast(nl, source);
}

void ipv4_input(struct net_lcore *nl, struct rte_mbuf *m)
{
	/* The frame may be a chain; the IPv4 header must lie in its first
	 * mbuf (first_len), the datagram may continue beyond. */
	uint32_t frame_len = rte_pktmbuf_pkt_len(m);
	uint32_t first_len = rte_pktmbuf_data_len(m);
	const uint32_t eth_len = sizeof(struct rte_ether_hdr);
	if (frame_len < eth_len + sizeof(struct rte_ipv4_hdr)) {
		net_drop(nl, m, NET_COUNTER_drop_ipv4_short);
		return;
	}
	if (first_len < eth_len + sizeof(struct rte_ipv4_hdr)) {
		net_drop(nl, m, NET_COUNTER_drop_eth_segmented);
		return;
	}
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, eth_len);
	/* RFC 1812 5.2.2, in order: version, header length, total length,
	 * checksum. */
	if ((ip->version_ihl >> 4) != 4) {
		net_drop(nl, m, NET_COUNTER_drop_ipv4_bad_version);
		return;
	}
	uint32_t header_len = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	if (header_len < sizeof(struct rte_ipv4_hdr) || eth_len + header_len > frame_len) {
		net_drop(nl, m, NET_COUNTER_drop_ipv4_bad_header_length);
		return;
	}
	if (eth_len + header_len > first_len) {
		net_drop(nl, m, NET_COUNTER_drop_eth_segmented);
		return;
	}
	uint32_t total_len = rte_be_to_cpu_16(ip->total_length);
	if (total_len < header_len || eth_len + total_len > frame_len) {
		net_drop(nl, m, NET_COUNTER_drop_ipv4_bad_total_length);
		return;
	}
	uint64_t ip_ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (ip_ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	    (ip_ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && rte_raw_cksum(ip, header_len) != 0xffff)) {
		net_drop(nl, m, NET_COUNTER_drop_ipv4_bad_checksum);
		return;
	}
	/* More-fragments set or a non-zero offset: a fragment. */
	if ((ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) !=
	    0) {
		net_drop(nl, m, NET_COUNTER_drop_ipv4_fragment);
		return;
	}
	bool broadcast = net_address_is_local_broadcast(nl, ip->dst_addr);
	if (ip->dst_addr != nl->ip.address && !broadcast) {
		net_drop(nl, m, NET_COUNTER_drop_ipv4_not_for_us);
		return;
	}
	if (ipv4_source_is_bogus(nl, ip->src_addr)) {
		net_drop(nl, m, NET_COUNTER_drop_ipv4_bad_source);
		return;
	}
	/* Ethernet padding past the IP datagram is not payload. */
	if (eth_len + total_len < frame_len)
		net_chain_trim(m, frame_len - eth_len - total_len);
	net_count(nl, NET_COUNTER_rx_ipv4);
	m->l2_len = eth_len;
	m->l3_len = header_len;
	rte_pktmbuf_adj(m, (uint16_t)(eth_len + header_len));
	switch (ip->next_proto_id) {
	case IPPROTO_ICMP:
		if (m->nb_segs != 1) {
			/* Echo replies are built in place in one mbuf; pings
			 * larger than an mbuf are not worth a copy. */
			net_drop(nl, m, NET_COUNTER_drop_eth_segmented);
			return;
		}
		if (broadcast) {
			/* RFC 1122 3.2.2.6 allows silence; a smurf amplifier we are not. */
			net_drop(nl, m, NET_COUNTER_drop_icmp_broadcast_echo);
			return;
		}
		icmp_input(nl, m, ip);
		return;
	case IPPROTO_TCP:
		if (broadcast) {
			net_drop(nl, m, NET_COUNTER_drop_ipv4_not_for_us);
			return;
		}
		if (nl->tcp_input == NULL) {
			net_drop(nl, m, NET_COUNTER_drop_tcp_no_stack);
			return;
		}
		nl->tcp_input(nl, m, ip);
		return;
	default:
		net_drop(nl, m, NET_COUNTER_drop_ipv4_unknown_protocol);
		return;
	}
}

/* Prepends the IPv4 and Ethernet headers (destination MAC left to fill);
 * returns the Ethernet header or NULL after dropping the packet. */
static struct rte_ether_hdr *ipv4_prepend_headers(struct net_lcore *nl, struct rte_mbuf *m,
                                                  rte_be32_t destination, uint8_t protocol)
{
	uint32_t payload_len = rte_pktmbuf_pkt_len(m);
	struct rte_ipv4_hdr *ip =
	    (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, sizeof(struct rte_ipv4_hdr));
	struct rte_ether_hdr *eth =
	    ip == NULL
	        ? NULL
	        : (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(struct rte_ether_hdr));
	if (eth == NULL || payload_len + sizeof(*ip) > UINT16_MAX) {
		net_drop(nl, m, NET_COUNTER_drop_mbuf_exhausted);
		return NULL;
	}
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(payload_len + sizeof(*ip)));
	ip->packet_id = 0;
	/* Don't fragment: TCP finds the path MTU by MSS, and we never fragment. */
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = protocol;
	ip->src_addr = nl->ip.address;
	ip->dst_addr = destination;
	ip->hdr_checksum = 0;
	m->l2_len = sizeof(*eth);
	m->l3_len = sizeof(*ip);
	m->ol_flags |= RTE_MBUF_F_TX_IPV4;
	if (nl->tx_ipv4_checksum_offload)
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	else
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	eth->src_addr = nl->mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	return eth;
}

void ipv4_output(struct net_lcore *nl, struct rte_mbuf *m, rte_be32_t destination, uint8_t protocol,
                 uint64_t now_tsc)
{
	rte_be32_t next_hop = destination;
	if ((destination & nl->ip.netmask) != (nl->ip.address & nl->ip.netmask)) {
		if (nl->ip.gateway == 0) {
			net_drop(nl, m, NET_COUNTER_drop_ipv4_no_route);
			return;
		}
		next_hop = nl->ip.gateway;
	}
	if (ipv4_prepend_headers(nl, m, destination, protocol) == NULL)
		return;
	arp_output(nl, m, next_hop, now_tsc);
}

void ipv4_output_to_mac(struct net_lcore *nl, struct rte_mbuf *m, rte_be32_t destination,
                        uint8_t protocol, const struct rte_ether_addr *mac)
{
	struct rte_ether_hdr *eth = ipv4_prepend_headers(nl, m, destination, protocol);
	if (eth == NULL)
		return;
	eth->dst_addr = *mac;
	net_transmit_frame(nl, m);
}
