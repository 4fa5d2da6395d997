/* The Internet checksum (RFC 1071), the one implementation the dataplane
 * uses (IPv4 input, TCP in and out, the net_tap chained-frame fix-up).
 *
 * net_checksum_raw returns the same folded sum as rte_raw_cksum (16-bit
 * words in host order), much faster, which matters on ports without
 * checksum offload (net_memif): every segment is summed once on transmit
 * and once on receive.  Portable code sums 16 bytes per step into two
 * 64-bit accumulators (about 9 bytes per cycle here, 4x rte_raw_cksum);
 * on CPUs with AVX2 (checked at run time; DPDK's flags only assume SSE4.2)
 * buffers of 256 bytes or more take a vector path, about 20 bytes per
 * cycle.
 *
 * net_checksum_mbuf sums over an mbuf chain.  DPDK 22.11's
 * rte_raw_cksum_mbuf() truncates each segment's 32-bit partial sum to 16
 * bits before swapping the bytes of a segment that starts at an odd offset,
 * losing the carries, so a chain whose segments hold more than a few hundred
 * bytes gets a wrong sum (fixed in later DPDK).  This one folds first. */
#ifndef FTPS_NET_CHECKSUM_H
#define FTPS_NET_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

static inline uint32_t net_checksum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* Folds a 64-bit accumulator to the 16-bit one's-complement sum. */
static inline uint16_t net_checksum_fold64(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	return (uint16_t)net_checksum_fold((uint32_t)((s & 0xffffu) + (s >> 16)));
}

/* The portable sum. */
static inline uint16_t net_checksum_raw_scalar(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t a = 0, b = 0;
	while (len >= 16) {
		uint64_t x, y;
		memcpy(&x, p, 8);
		memcpy(&y, p + 8, 8);
		a += (x & 0xffffffffu) + (x >> 32);
		b += (y & 0xffffffffu) + (y >> 32);
		p += 16;
		len -= 16;
	}
	if (len >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		a += (x & 0xffffffffu) + (x >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t x;
		memcpy(&x, p, 4);
		a += x;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t x;
		memcpy(&x, p, 2);
		b += x;
		p += 2;
		len -= 2;
	}
	if (len == 1)
		b += *p; /* the low byte of a 16-bit word on a little-endian host */
	return net_checksum_fold64(a + b);
}

#if defined(__x86_64__)
/* 32 bytes at a time: the 16-bit words of each 32-bit lane are added to
 * 32-bit lane sums (at most 2 x 65535 per lane and step, so the sums are
 * folded to 64 bits every 16384 steps of 64 bytes, before they could
 * overflow). */
__attribute__((target("avx2"))) static inline uint16_t net_checksum_raw_avx2(const void *buf,
                                                                             size_t len)
{
	const uint8_t *p = buf;
	const __m256i low16 = _mm256_set1_epi32(0xffff);
	const __m256i low32 = _mm256_set1_epi64x(0xffffffff);
	uint64_t total = 0;
	while (len >= 64) {
		size_t steps = len / 64 < 16384 ? len / 64 : 16384;
		__m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
		for (size_t i = 0; i < steps; i++) {
			__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
			__m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
			a = _mm256_add_epi32(a, _mm256_and_si256(x, low16));
			a = _mm256_add_epi32(a, _mm256_srli_epi32(x, 16));
			b = _mm256_add_epi32(b, _mm256_and_si256(y, low16));
			b = _mm256_add_epi32(b, _mm256_srli_epi32(y, 16));
			p += 64;
		}
		len -= steps * 64;
		__m256i s = _mm256_add_epi64(_mm256_and_si256(a, low32), _mm256_srli_epi64(a, 32));
		s = _mm256_add_epi64(s, _mm256_and_si256(b, low32));
		s = _mm256_add_epi64(s, _mm256_srli_epi64(b, 32));
		uint64_t lanes[4];
		_mm256_storeu_si256((__m256i *)(void *)lanes, s);
		total += lanes[0] + lanes[1] + lanes[2] + lanes[3];
	}
	/* p has advanced by a multiple of 64 bytes: the rest keeps the word
	 * alignment of the whole. */
	return net_checksum_fold64(total + net_checksum_raw_scalar(p, len));
}
#endif

/* One's-complement sum (not inverted) of len bytes at buf, as 16-bit words
 * in host order (the convention of rte_raw_cksum). */
static inline uint16_t net_checksum_raw(const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (len >= 256 && __builtin_cpu_supports("avx2"))
		return net_checksum_raw_avx2(buf, len);
#endif
	return net_checksum_raw_scalar(buf, len);
}

/* One's-complement sum (not inverted) of len bytes from offset off of a
 * chain; returns -1 when the chain is shorter than off + len. */
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
		uint32_t part =
		    net_checksum_raw(rte_pktmbuf_mtod_offset(m, const void *, off), seg);
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

/* The one's-complement sum of the IPv4 pseudo-header (RFC 9293 3.1,
 * RFC 768) for an upper-layer length, not inverted. */
static inline uint16_t net_ipv4_pseudo_sum(rte_be32_t src, rte_be32_t dst, uint8_t proto,
                                           uint32_t l4_len)
{
	uint64_t s = (uint64_t)(src & 0xffff) + (src >> 16) + (dst & 0xffff) + (dst >> 16) +
	             rte_cpu_to_be_16((uint16_t)proto) + rte_cpu_to_be_16((uint16_t)l4_len);
	return net_checksum_fold64(s);
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
