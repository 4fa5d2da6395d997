/* Small mbuf-chain helpers shared by the relay and the transfer engine. */
#ifndef FTPS_NET_MBUF_H
#define FTPS_NET_MBUF_H

#include <stdint.h>

#include <rte_mbuf.h>

/* Drops n bytes from the front of a chain, freeing segments that empty;
 * returns what is left (NULL when nothing is). */
static inline struct rte_mbuf *net_chain_consume(struct rte_mbuf *m, uint32_t n)
{
	while (m != NULL && n > 0) {
		if (m->data_len > n) {
			rte_pktmbuf_adj(m, (uint16_t)n);
			return m;
		}
		n -= m->data_len;
		struct rte_mbuf *next = m->next;
		if (next != NULL) {
			next->pkt_len = m->pkt_len - m->data_len;
			next->nb_segs = (uint16_t)(m->nb_segs - 1);
		}
		m->next = NULL;
		m->nb_segs = 1;
		rte_pktmbuf_free(m);
		m = next;
	}
	if (m != NULL && m->pkt_len == 0) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	return m;
}

/* Drops n bytes (n <= pkt_len) from the end of a chain, freeing segments
 * that empty (never the first). */
static inline void net_chain_trim(struct rte_mbuf *m, uint32_t n)
{
	uint32_t keep = m->pkt_len - n;
	m->pkt_len = keep;
	struct rte_mbuf *seg = m, *last = m;
	uint16_t segs = 0;
	while (seg != NULL) {
		if (seg != m && keep == 0)
			break;
		if (seg->data_len > keep)
			seg->data_len = (uint16_t)keep;
		keep -= seg->data_len;
		segs++;
		last = seg;
		seg = seg->next;
	}
	last->next = NULL;
	m->nb_segs = segs;
	if (seg != NULL)
		rte_pktmbuf_free(seg); /* the emptied tail, itself a chain */
}

#endif
