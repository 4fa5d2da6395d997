#include "icmp.h"

#include <rte_icmp.h>

#include "ipv4.h"
#include "net_lcore.h"

void icmp_input(struct net_lcore *nl, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip_header)
{
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len < sizeof(struct rte_icmp_hdr)) {
		net_drop(nl, m, NET_COUNTER_drop_icmp_short);
		return;
	}
	struct rte_icmp_hdr *icmp = rte_pktmbuf_mtod(m, struct rte_icmp_hdr *);
	if (rte_raw_cksum(icmp, len) != 0xffff) {
		net_drop(nl, m, NET_COUNTER_drop_icmp_bad_checksum);
		return;
	}
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
		net_drop(nl, m, NET_COUNTER_drop_icmp_ignored);
		return;
	}
	/* A link may bring us larger packets than it lets us send (net_tap). */
	if (len + sizeof(struct rte_ipv4_hdr) > nl->ip.mtu) {
		net_drop(nl, m, NET_COUNTER_drop_icmp_echo_too_big);
		return;
	}
	/* Reply in place (RFC 792): same identifier, sequence and data.  The
	 * checksum changes only by the type field, but a fresh sum is cheap at
	 * ping sizes and obviously right. */
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, len);
	rte_be32_t requester = ip_header->src_addr;
	/* Options of the request are not echoed: the reply gets a plain header. */
	m->ol_flags = 0;
	net_count(nl, NET_COUNTER_rx_icmp_echo);
	/* The requester's MAC is in the frame we just received; answering to it
	 * avoids an ARP round trip for a peer that may not be in the cache. */
	struct rte_ether_addr requester_mac =
	    ((const struct rte_ether_hdr *)((const uint8_t *)ip_header -
	                                    sizeof(struct rte_ether_hdr)))
	        ->src_addr;
	ipv4_output_to_mac(nl, m, requester, IPPROTO_ICMP, &requester_mac);
}
