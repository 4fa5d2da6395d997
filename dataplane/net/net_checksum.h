/* Internet checksum over an mbuf chain.  DPDK 22.11's rte_raw_cksum_mbuf()
 * truncates each segment's 32-bit partial sum to 16 bits before swapping the
 * bytes of a segment that starts at an odd offset, losing the carries, so a
 * chain whose segments hold more than a few hundred bytes gets a wrong sum
 * (fixed in later DPDK).  This one folds first. */
#ifndef FTPS_NET_CHECKSUM_H
#define FTPS_NET_CHECKSUM_H

#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

static inline uint32_t net_checksum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* One's-complement sum (not inverted) of len bytes from offset off; returns
 * -1 when the chain is shorter than off + len. */
static inline int net_checksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len,
                                    uint16_t *sum_out)
{
	if (off + len > rte_pktmbuf_pkt_len(m))
		return -1;
	while (m != NULL && off >= rte_pktmbuf_data_len(m)) {
		off -= rte_pktmbuf_data_len(m);
		m = m->next;
	}
	uint32_t sum = 0, done = 0;
	while (done < len && m != NULL) {
		uint32_t seg = rte_pktmbuf_data_len(m) - off;
		if (seg > len - done)
			seg = len - done;
		uint32_t part = net_checksum_fold(
		    __rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const void *, off), seg, 0));
		/* Bytes that start at an odd position sit in the other half of
		 * each 16-bit word. */
		if (done & 1)
			part = rte_bswap16((uint16_t)part);
		sum += part;
		done += seg;
		off = 0;
		m = m->next;
	}
	*sum_out = (uint16_t)net_checksum_fold(sum);
	return 0;
}

/* The TCP or UDP checksum of an IPv4 datagram held in a chain, l4_offset
 * bytes into it, ready to store in the header (the header's checksum field
 * must be zero while summing). */
static inline uint16_t net_ipv4_l4_checksum_mbuf(const struct rte_mbuf *m,
                                                 const struct rte_ipv4_hdr *ip, uint32_t l4_offset)
{
	uint32_t l4_len = (uint32_t)rte_be_to_cpu_16(ip->total_length) - rte_ipv4_hdr_len(ip);
	uint16_t sum = 0;
	if (net_checksum_mbuf(m, l4_offset, l4_len, &sum) != 0)
		return 0;
	uint32_t total = (uint32_t)sum + rte_ipv4_phdr_cksum(ip, 0);
	return (uint16_t)~net_checksum_fold(total);
}

#endif
