/* Segment construction and the send decision: headers and options,
 * checksums (offloaded or software), TSO, data from the send queue as
 * indirect mbufs (zero copy; the queue keeps the originals for
 * retransmission), window advertisement, ACK, RST and probes. */
#include <string.h>

#include <rte_ip.h>

#include "ipv4.h"
#include "net_checksum.h"
#include "tcp_internal.h"

#define TCPOPT_EOL       0
#define TCPOPT_NOP       1
#define TCPOPT_MSS       2
#define TCPOPT_WS        3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK      5
#define TCPOPT_TS        8

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static unsigned int put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
	p[0] = TCPOPT_NOP;
	p[1] = TCPOPT_NOP;
	p[2] = TCPOPT_TS;
	p[3] = 10;
	put32(p + 4, tsval);
	put32(p + 8, tsecr);
	return 12;
}

/* SYN options (RFC 9293 3.7.1, RFC 7323 2 and 3, RFC 2018 2), laid out so
 * every option is aligned as RFC 7323 Appendix A suggests. */
static unsigned int put_syn_options(uint8_t *p, uint16_t mss, bool ws, uint8_t wscale, bool sack,
                                    bool ts, uint32_t tsval, uint32_t tsecr)
{
	unsigned int n = 0;
	p[n++] = TCPOPT_MSS;
	p[n++] = 4;
	p[n++] = (uint8_t)(mss >> 8);
	p[n++] = (uint8_t)mss;
	if (ts) {
		if (sack) {
			p[n++] = TCPOPT_SACK_PERM;
			p[n++] = 2;
		} else {
			p[n++] = TCPOPT_NOP;
			p[n++] = TCPOPT_NOP;
		}
		p[n++] = TCPOPT_TS;
		p[n++] = 10;
		put32(p + n, tsval);
		put32(p + n + 4, tsecr);
		n += 8;
	} else if (sack) {
		p[n++] = TCPOPT_NOP;
		p[n++] = TCPOPT_NOP;
		p[n++] = TCPOPT_SACK_PERM;
		p[n++] = 2;
	}
	if (ws) {
		p[n++] = TCPOPT_NOP;
		p[n++] = TCPOPT_WS;
		p[n++] = 3;
		p[n++] = wscale;
	}
	return n;
}

uint32_t tcp_effective_mss(const struct tcp_conn *c)
{
	uint32_t opt = c->ts_ok ? 12u : 0u;
	if (c->sack_ok && c->ooo_head != NULL) {
		struct tcp_sack_range blocks[TCP_SACK_MAX_BLOCKS];
		unsigned int n = tcp_sack_blocks(c, blocks, c->ts_ok ? 3 : 4);
		if (n > 0)
			opt += 4 + 8 * n;
	}
	return (uint32_t)c->snd_mss - opt;
}

uint32_t tcp_flight_size(const struct tcp_conn *c)
{
	return c->snd_nxt - c->snd_una;
}

uint32_t tcp_rcv_window(const struct tcp_conn *c)
{
	uint32_t avail = c->rcv_budget > c->rq_bytes ? c->rcv_budget - c->rq_bytes : 0;
	uint32_t cap = c->ws_ok ? 65535u << c->rcv_wscale : 65535u;
	return avail > cap ? cap : avail;
}

/* The window field for a non-SYN segment: never shrinks the right edge
 * already offered (RFC 9293 3.8.6.2.2 / 7323 2.4), and avoids silly-window
 * increments smaller than min(budget/2, MSS). */
static uint16_t advertise_window(struct tcp_conn *c)
{
	uint32_t avail = tcp_rcv_window(c);
	uint32_t right = c->rcv_nxt + avail;
	uint32_t sws = c->rcv_budget / 2 < c->snd_mss ? c->rcv_budget / 2 : c->snd_mss;
	uint32_t floor = seq_max(c->rcv_adv, c->rcv_nxt);
	if (seq_lt(right, floor + sws) && avail < c->rcv_budget)
		right = floor;
	uint32_t wnd = right - c->rcv_nxt;
	uint8_t ws = c->ws_ok ? c->rcv_wscale : 0;
	uint32_t field = (wnd + (1u << ws) - 1) >> ws;
	if (field > 65535)
		field = 65535;
	c->rcv_adv = seq_max(c->rcv_adv, c->rcv_nxt + (field << ws));
	return (uint16_t)field;
}

static uint16_t pseudo_header_sum(rte_be32_t src, rte_be32_t dst, uint32_t l4_len)
{
	return net_ipv4_pseudo_sum(src, dst, IPPROTO_TCP, l4_len);
}

/* Checksum (offload or software), TSO marking, and hand-off to IPv4. */
static void transmit(struct tcp_stack *s, struct rte_mbuf *m, rte_be32_t dst, uint32_t hdr_len,
                     uint32_t payload, uint32_t seg_payload)
{
	struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, struct rte_tcp_hdr *);
	m->l4_len = (uint8_t)hdr_len;
	th->cksum = 0;
	if (s->tso && payload > seg_payload) {
		m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4;
		m->tso_segsz = (uint16_t)seg_payload;
		th->cksum = pseudo_header_sum(s->local_address, dst, 0);
	} else if (s->tx_cksum_offload) {
		m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4;
		th->cksum = pseudo_header_sum(s->local_address, dst, hdr_len + payload);
	} else if (s->l4_checksum_trusted) {
		/* What Linux puts on the wire for CHECKSUM_PARTIAL over veth: the
		 * pseudo-header sum only; the receiver on this link trusts it. */
		th->cksum = pseudo_header_sum(s->local_address, dst, hdr_len + payload);
	} else {
		uint16_t raw = 0;
		if (net_checksum_mbuf(m, 0, hdr_len + payload, &raw) != 0)
			raw = 0; /* cannot happen: m was built hdr_len + payload long */
		uint32_t sum =
		    (uint32_t)raw + pseudo_header_sum(s->local_address, dst, hdr_len + payload);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		th->cksum = (uint16_t)~sum;
	}
	tcp_count(s, TCP_COUNTER_tx_segments);
	s->tx_this_poll++;
	s->output(s->output_context, m, dst, s->now_tsc);
}

/* A header-only mbuf with room for IPv4 and Ethernet in front. */
static struct rte_mbuf *header_mbuf(struct tcp_stack *s, unsigned int hdr_len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->pool);
	if (m == NULL) {
		tcp_count(s, TCP_COUNTER_drop_mbuf_exhausted);
		return NULL;
	}
	if (rte_pktmbuf_headroom(m) < IPV4_OUTPUT_HEADROOM ||
	    rte_pktmbuf_append(m, (uint16_t)hdr_len) == NULL) {
		rte_pktmbuf_free(m);
		tcp_count(s, TCP_COUNTER_drop_mbuf_exhausted);
		return NULL;
	}
	return m;
}

static void fill_header(struct rte_tcp_hdr *th, uint16_t sport, uint16_t dport, uint32_t seq,
                        uint32_t ack, uint8_t flags, uint16_t wnd, unsigned int hdr_len)
{
	th->src_port = rte_cpu_to_be_16(sport);
	th->dst_port = rte_cpu_to_be_16(dport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)((hdr_len / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
}

/* Options of an established connection: timestamps and SACK blocks. */
static unsigned int conn_options(struct tcp_conn *c, uint8_t *p, bool with_sack)
{
	unsigned int n = 0;
	if (c->ts_ok)
		n += put_ts(p, tcp_now_ms(c->stack), c->ts_recent);
	if (with_sack && c->sack_ok && c->ooo_head != NULL) {
		struct tcp_sack_range blocks[TCP_SACK_MAX_BLOCKS];
		unsigned int max = c->ts_ok ? 3 : 4;
		unsigned int count = tcp_sack_blocks(c, blocks, max);
		if (count > 0) {
			p[n++] = TCPOPT_NOP;
			p[n++] = TCPOPT_NOP;
			p[n++] = TCPOPT_SACK;
			p[n++] = (uint8_t)(2 + 8 * count);
			for (unsigned int i = 0; i < count; i++) {
				put32(p + n, blocks[i].start);
				put32(p + n + 4, blocks[i].end);
				n += 8;
			}
		}
	}
	return n;
}

/* Sending any segment with ACK set acknowledges everything received. */
static void ack_sent(struct tcp_conn *c)
{
	c->ack_now = false;
	c->ack_pending = false;
	c->segs_unacked = 0;
	c->delack_at = 0;
	c->last_ack_sent = c->rcv_nxt;
}

/* Builds a segment of len bytes starting at seq (len may be 0) plus flags
 * (ACK always; FIN as given) and sends it.  Returns 0 or -1 (no mbuf). */
static int send_segment(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct tcp_stack *s = c->stack;
	uint8_t opts[TCP_OPTIONS_MAX];
	unsigned int optlen = conn_options(c, opts, true);
	unsigned int hdr_len = sizeof(struct rte_tcp_hdr) + optlen;
	struct rte_mbuf *m = header_mbuf(s, hdr_len);
	if (m == NULL)
		return -1;
	if (len > 0) {
		/* Find seq in the send queue: from the cursor for new data,
		 * else from the head. */
		uint32_t off;
		struct rte_mbuf *seg;
		if (c->cur_seg != NULL && seq_geq(seq, c->cur_seq)) {
			seg = c->cur_seg;
			off = seq - c->cur_seq;
		} else {
			seg = c->sq_head;
			off = seq - c->snd_una + c->sq_head_off;
		}
		uint32_t seg_seq = seq - off;
		while (seg != NULL && off >= seg->data_len) {
			off -= seg->data_len;
			seg_seq += seg->data_len;
			seg = seg->next;
		}
		struct rte_mbuf *tail = m;
		uint32_t left = len;
		while (left > 0 && seg != NULL) {
			uint32_t piece = seg->data_len - off;
			if (piece > left)
				piece = left;
			if (piece > 0) {
				struct rte_mbuf *mi = rte_pktmbuf_alloc(s->pool);
				if (mi == NULL) {
					rte_pktmbuf_free(m);
					tcp_count(s, TCP_COUNTER_drop_mbuf_exhausted);
					return -1;
				}
				rte_pktmbuf_attach(mi, seg);
				mi->data_off = (uint16_t)(seg->data_off + off);
				mi->data_len = (uint16_t)piece;
				mi->pkt_len = piece;
				tail->next = mi;
				tail = mi;
				m->nb_segs++;
				m->pkt_len += piece;
				left -= piece;
			}
			off += piece;
			if (off >= seg->data_len) {
				off = 0;
				seg_seq += seg->data_len;
				seg = seg->next;
			}
		}
		if (left > 0) { /* the queue is shorter than the sequence space */
			rte_pktmbuf_free(m);
			return -1;
		}
		/* The cursor follows the end of what was just built. */
		if (seg != NULL) {
			c->cur_seg = seg;
			c->cur_seq = seg_seq;
		}
	}
	struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, struct rte_tcp_hdr *);
	fill_header(th, c->key.local_port, c->key.remote_port, seq, c->rcv_nxt,
	            (uint8_t)(RTE_TCP_ACK_FLAG | flags | (len > 0 ? RTE_TCP_PSH_FLAG : 0)),
	            advertise_window(c), hdr_len);
	memcpy(th + 1, opts, optlen);
	ack_sent(c);
	if (len > 0) {
		tcp_count(s, TCP_COUNTER_tx_data_segments);
		c->bytes_sent += len;
	}
	transmit(s, m, c->key.remote_address, hdr_len, len, c->snd_mss - optlen);
	return 0;
}

void tcp_send_ack(struct tcp_conn *c)
{
	send_segment(c, c->snd_nxt, 0, 0);
}

void tcp_send_challenge_ack(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	/* RFC 5961 7: a bounded number per second, so challenge ACKs cannot
	 * be turned into an amplifier or a side channel. */
	if (s->now_tsc - s->challenge_window_tsc >= s->tsc_hz) {
		s->challenge_window_tsc = s->now_tsc;
		s->challenge_count = 0;
	}
	if (s->config.challenge_acks_per_s != 0 &&
	    s->challenge_count >= s->config.challenge_acks_per_s) {
		tcp_count(s, TCP_COUNTER_challenge_ack_limited);
		return;
	}
	s->challenge_count++;
	tcp_count(c->stack, TCP_COUNTER_tx_challenge_ack);
	send_segment(c, c->snd_nxt, 0, 0);
}

void tcp_send_keepalive(struct tcp_conn *c)
{
	/* RFC 1122 4.2.3.6: SEG.SEQ = SND.NXT - 1 elicits an ACK. */
	send_segment(c, c->snd_una - 1, 0, 0);
}

/* RFC 9293 3.8.6.1: probe a zero window with one octet.  The octet is
 * not counted as sent (snd_nxt stays), only snd_max covers it so that an
 * ACK for it is acceptable. */
void tcp_send_window_probe(struct tcp_conn *c)
{
	uint32_t data_end = c->snd_una + c->sq_bytes;
	if (seq_lt(c->snd_nxt, data_end)) {
		if (send_segment(c, c->snd_nxt, 1, 0) == 0)
			c->snd_max = seq_max(c->snd_max, c->snd_nxt + 1);
	} else {
		tcp_send_keepalive(c);
	}
}

int tcp_retransmit_range(struct tcp_conn *c, uint32_t seq, uint32_t max_len)
{
	uint32_t data_end = c->snd_una + c->sq_bytes;
	uint32_t len = seq_lt(seq, data_end) ? data_end - seq : 0;
	uint32_t mss = tcp_effective_mss(c);
	if (len > mss)
		len = mss;
	if (len > max_len)
		len = max_len;
	uint8_t flags = 0;
	if (c->fin_sent && seq + len == data_end)
		flags = RTE_TCP_FIN_FLAG;
	if (len == 0 && flags == 0)
		return 0;
	if (send_segment(c, seq, len, flags) != 0)
		return -1;
	c->retransmits++;
	tcp_count(c->stack, TCP_COUNTER_tx_retransmits);
	if (c->rto_at == 0)
		tcp_rto_arm(c);
	return (int)len + (flags ? 1 : 0);
}

void tcp_send_syn(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	uint8_t opts[TCP_OPTIONS_MAX];
	bool synack = c->state == TCP_SYN_RECEIVED;
	/* SYN: offer everything.  SYN-ACK: answer only what the peer offered
	 * (RFC 7323 2.2, 3.2; RFC 2018 2). */
	bool ws = synack ? c->ws_ok : true;
	bool sack = synack ? c->sack_ok : true;
	bool ts = synack ? c->ts_ok : true;
	unsigned int optlen = put_syn_options(opts, s->mss_advertised, ws, c->rcv_wscale, sack, ts,
	                                      tcp_now_ms(s), synack ? c->ts_recent : 0);
	unsigned int hdr_len = sizeof(struct rte_tcp_hdr) + optlen;
	struct rte_mbuf *m = header_mbuf(s, hdr_len);
	if (m == NULL)
		return;
	uint32_t wnd = tcp_rcv_window(c);
	if (wnd > 65535)
		wnd = 65535; /* RFC 7323 2.2: the SYN's window is never scaled */
	struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, struct rte_tcp_hdr *);
	fill_header(th, c->key.local_port, c->key.remote_port, c->iss, synack ? c->rcv_nxt : 0,
	            (uint8_t)(RTE_TCP_SYN_FLAG | (synack ? RTE_TCP_ACK_FLAG : 0)), (uint16_t)wnd,
	            hdr_len);
	memcpy(th + 1, opts, optlen);
	if (synack) {
		c->rcv_adv = c->rcv_nxt + wnd;
		c->last_ack_sent = c->rcv_nxt;
	}
	transmit(s, m, c->key.remote_address, hdr_len, 0, 0);
}

void tcp_send_synack_cookie(struct tcp_stack *s, const struct tcp_segment *seg, uint32_t isn,
                            uint16_t mss, uint32_t tsval)
{
	(void)mss;
	uint8_t opts[TCP_OPTIONS_MAX];
	const struct tcp_options *o = &seg->opt;
	unsigned int optlen =
	    put_syn_options(opts, s->mss_advertised, o->ws_present, TCP_OUR_WSCALE,
	                    o->sack_permitted && o->ts_present, o->ts_present, tsval, o->ts_val);
	unsigned int hdr_len = sizeof(struct rte_tcp_hdr) + optlen;
	struct rte_mbuf *m = header_mbuf(s, hdr_len);
	if (m == NULL)
		return;
	uint32_t wnd = s->config.rcv_budget > 65535 ? 65535 : s->config.rcv_budget;
	struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, struct rte_tcp_hdr *);
	fill_header(th, seg->dport, seg->sport, isn, seg->seq + 1,
	            RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG, (uint16_t)wnd, hdr_len);
	memcpy(th + 1, opts, optlen);
	tcp_count(s, TCP_COUNTER_tx_syn_cookies);
	transmit(s, m, seg->saddr, hdr_len, 0, 0);
}

/* RFC 9293 3.10.7.1: the reset for a segment that belongs to nothing. */
void tcp_send_rst_for(struct tcp_stack *s, const struct tcp_segment *seg)
{
	if (seg->flags & RTE_TCP_RST_FLAG)
		return;
	unsigned int hdr_len = sizeof(struct rte_tcp_hdr);
	struct rte_mbuf *m = header_mbuf(s, hdr_len);
	if (m == NULL)
		return;
	struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, struct rte_tcp_hdr *);
	if (seg->flags & RTE_TCP_ACK_FLAG) {
		fill_header(th, seg->dport, seg->sport, seg->ack, 0, RTE_TCP_RST_FLAG, 0, hdr_len);
	} else {
		uint32_t ack = seg->seq + seg->len + ((seg->flags & RTE_TCP_SYN_FLAG) ? 1 : 0) +
		               ((seg->flags & RTE_TCP_FIN_FLAG) ? 1 : 0);
		fill_header(th, seg->dport, seg->sport, 0, ack, RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG,
		            0, hdr_len);
	}
	tcp_count(s, TCP_COUNTER_tx_rst);
	transmit(s, m, seg->saddr, hdr_len, 0, 0);
}

/* RFC 9293 3.10.5 (ABORT): <SEQ=SND.NXT><CTL=RST>. */
void tcp_send_rst(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	unsigned int hdr_len = sizeof(struct rte_tcp_hdr);
	struct rte_mbuf *m = header_mbuf(s, hdr_len);
	if (m == NULL)
		return;
	struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, struct rte_tcp_hdr *);
	fill_header(th, c->key.local_port, c->key.remote_port, c->snd_max, c->rcv_nxt,
	            RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG, 0, hdr_len);
	tcp_count(s, TCP_COUNTER_tx_rst);
	transmit(s, m, c->key.remote_address, hdr_len, 0, 0);
}

/* Sender-side silly window avoidance and the congestion window decide how
 * much new data goes out (RFC 9293 3.8.6.2.1, RFC 5681, RFC 6675 5). */
static void send_new_data(struct tcp_conn *c, uint32_t budget)
{
	struct tcp_stack *s = c->stack;
	uint32_t mss = tcp_effective_mss(c);
	uint32_t data_end = c->snd_una + c->sq_bytes;
	uint32_t max_burst = s->tso ? (TCP_TSO_MAX / mss) * mss : mss;
	if (max_burst == 0)
		max_burst = mss;
	for (;;) {
		uint32_t sack_room = UINT32_MAX;
		if (c->sb_count > 0 && seq_lt(c->snd_nxt, c->snd_max)) {
			uint32_t next = tcp_scoreboard_skip(c, c->snd_nxt, &sack_room);
			if (next != c->snd_nxt) {
				c->snd_nxt = next;
				c->cur_seg = NULL;
			}
		}
		uint32_t unsent = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
		if ((s->config.tx_segments_per_poll != 0 && s->tx_this_poll >= s->tx_poll_limit) ||
		    s->tx_this_poll >= s->tx_backlog_room) {
			/* Enough for this loop iteration: the port's ring drains
			 * while we receive; continue in the next poll step. */
			if (unsent > 0)
				tcp_conn_mark(c, TCP_EV_OUTPUT);
			return;
		}
		bool fin_due = c->fin_queued && !c->fin_sent && c->snd_nxt == data_end;
		bool fin_resend =
		    c->fin_sent && c->snd_nxt == data_end && seq_lt(c->snd_nxt, c->snd_max);
		if (unsent == 0) {
			if (fin_due || fin_resend) {
				if (send_segment(c, c->snd_nxt, 0, RTE_TCP_FIN_FLAG) != 0)
					return;
				if (fin_due) {
					c->fin_sent = true;
					if (c->state == TCP_ESTABLISHED)
						tcp_conn_set_state(c, TCP_FIN_WAIT_1);
					else if (c->state == TCP_CLOSE_WAIT)
						tcp_conn_set_state(c, TCP_LAST_ACK);
				}
				c->snd_nxt++;
				c->snd_max = seq_max(c->snd_max, c->snd_nxt);
				if (c->rto_at == 0)
					tcp_rto_arm(c);
			}
			return;
		}
		uint32_t right = c->snd_una + c->snd_wnd;
		uint32_t wnd_room = seq_lt(c->snd_nxt, right) ? right - c->snd_nxt : 0;
		uint32_t len = unsent;
		if (len > wnd_room)
			len = wnd_room;
		if (len > budget)
			len = budget;
		if (len > max_burst)
			len = max_burst;
		if (len > sack_room)
			len = sack_room; /* stop short of data the peer holds */
		if (len == 0)
			break;
		if (len < unsent && len > mss)
			len -= len % mss; /* whole segments while more waits */
		if (len < mss && len < unsent && len < c->max_snd_wnd / 2)
			break; /* silly window: wait for a larger opening */
		bool new_data = c->snd_nxt == c->snd_max;
		if (new_data && !tcp_pacing_allows(c)) {
			tcp_conn_mark(c, TCP_EV_OUTPUT); /* the next poll step tries again */
			break;
		}
		uint8_t flags = 0;
		if (c->fin_queued && c->snd_nxt + len == data_end)
			flags = RTE_TCP_FIN_FLAG;
		if (send_segment(c, c->snd_nxt, len, flags) != 0)
			return;
		if (flags && !c->fin_sent) {
			c->fin_sent = true;
			if (c->state == TCP_ESTABLISHED)
				tcp_conn_set_state(c, TCP_FIN_WAIT_1);
			else if (c->state == TCP_CLOSE_WAIT)
				tcp_conn_set_state(c, TCP_LAST_ACK);
		}
		if (!new_data) {
			c->retransmits++;
			tcp_count(s, TCP_COUNTER_tx_retransmits);
		} else {
			tcp_pacing_sent(c, len);
			if (!c->rtt_timing) {
				/* RFC 6298 3: time one segment per RTT (Karn's
				 * rule applies: only new data is timed). */
				c->rtt_timing = true;
				c->rtt_seq = c->snd_nxt;
				c->rtt_start_tsc = s->now_tsc;
			}
		}
		c->snd_nxt += len + (flags ? 1 : 0);
		c->snd_max = seq_max(c->snd_max, c->snd_nxt);
		if (c->after_timeout)
			c->timeout_sent += len;
		budget -= len;
		if (c->rto_at == 0)
			tcp_rto_arm(c);
		if (new_data && c->tlp_at == 0)
			tcp_tlp_arm(c);
		if (flags)
			return;
	}
	/* RFC 9293 3.8.6.1: data waits behind a zero window with nothing in
	 * flight to carry an update: start probing. */
	if (c->snd_wnd == 0 && seq_lt(c->snd_nxt, data_end) && c->snd_una == c->snd_max &&
	    c->persist_at == 0) {
		c->persist_backoff = 0;
		c->persist_at = s->now_tsc + tcp_ms_to_tsc(s, c->rto_ms);
	}
}

void tcp_output(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	switch (c->state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
	case TCP_CLOSING:
	case TCP_LAST_ACK: {
		uint32_t mss = tcp_effective_mss(c);
		if (c->in_recovery && c->sack_ok) {
			/* RFC 6675 5 step (C): while pipe leaves room, send
			 * holes first (NextSeg rule 1), then new data. */
			for (;;) {
				uint32_t pipe = tcp_pipe(c);
				if (pipe + mss > c->cwnd)
					break;
				uint32_t start, len;
				if (!tcp_scoreboard_next_hole(c, c->rexmit_high, &start, &len)) {
					send_new_data(c, c->cwnd - pipe);
					break;
				}
				int n = tcp_retransmit_range(c, start, len);
				if (n <= 0)
					break;
				c->rexmit_high = start + (uint32_t)n;
			}
		} else {
			/* After a timeout, SND.NXT skips what the peer SACKed:
			 * that is not in flight (RFC 6675 4 pipe). */
			uint32_t flight =
			    tcp_flight_size(c) - tcp_scoreboard_sacked_below(c, c->snd_nxt);
			uint32_t extra =
			    c->in_recovery ? c->dupacks * mss : 0; /* NewReno inflation */
			uint32_t room = c->cwnd + extra > flight ? c->cwnd + extra - flight : 0;
			if (room > 0)
				send_new_data(c, room);
		}
		break;
	}
	default:
		break;
	}
	if (c->state == TCP_CLOSED || c->state == TCP_SYN_SENT)
		return;
	if (c->ack_now && c->state != TCP_SYN_RECEIVED)
		tcp_send_ack(c);
	else if (c->ack_pending && c->delack_at == 0)
		c->delack_at = s->now_tsc + tcp_ms_to_tsc(s, s->config.delack_ms);
	tcp_conn_timer_update(c);
}
