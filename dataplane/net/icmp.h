/* ICMP (RFC 792): echo reply only. */
#ifndef FTPS_ICMP_H
#define FTPS_ICMP_H

#include <rte_ip.h>
#include <rte_mbuf.h>

struct net_lcore;

/* m's data offset is at the ICMP header; the IPv4 header is in the same mbuf. */
void icmp_input(struct net_lcore *nl, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip_header);

#endif
