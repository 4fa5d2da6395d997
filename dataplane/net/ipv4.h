/* IPv4 (RFC 791, host requirements of RFC 1122, validity checks of RFC 1812
 * 5.2.2) for one worker lcore. */
#ifndef FTPS_IPV4_H
#define FTPS_IPV4_H

#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

struct net_lcore;

/* Takes a frame whose data offset is at the Ethernet header. */
void ipv4_input(struct net_lcore *nl, struct rte_mbuf *m);

/* Room a protocol must leave in front of its header for ipv4_output. */
#define IPV4_OUTPUT_HEADROOM (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr))

/* Sends a transport payload: m's data starts at the transport header and has
 * IPV4_OUTPUT_HEADROOM bytes of headroom.  Fills the IPv4 and Ethernet
 * headers, picks the next hop, resolves it and transmits.  The IPv4 header
 * checksum is left to the port when it offers the offload.  Takes ownership. */
void ipv4_output(struct net_lcore *nl, struct rte_mbuf *m, rte_be32_t destination, uint8_t protocol,
                 uint64_t now_tsc);

/* The same, to a known MAC address (a reply to the frame's sender). */
void ipv4_output_to_mac(struct net_lcore *nl, struct rte_mbuf *m, rte_be32_t destination,
                        uint8_t protocol, const struct rte_ether_addr *mac);

#endif
