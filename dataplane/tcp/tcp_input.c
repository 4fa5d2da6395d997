/* Segment arrival (RFC 9293 3.10.7), with the blind-attack defences of
 * RFC 5961, PAWS of RFC 7323, SACK (RFC 2018, 6675) and fast retransmit
 * (RFC 5681 3.2).  Steps are numbered after RFC 9293 3.10.7.4. */
#include <errno.h>
#include <string.h>

#include <rte_ip.h>

#include "net_checksum.h"
#include "tcp_internal.h"

#define TCPOPT_EOL       0
#define TCPOPT_NOP       1
#define TCPOPT_MSS       2
#define TCPOPT_WS        3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK      5
#define TCPOPT_TS        8

#define TCP_PAWS_IDLE_MS (24ull * 24 * 3600 * 1000) /* RFC 7323 5.5 */
#define TCP_RQ_SEGS_MAX  60000                      /* nb_segs of the chain tcp_recv returns */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A bounded walk over the option bytes: every read is checked against the
 * remaining length first.  Returns 0, or -1 for a malformed list. */
int tcp_parse_options(const uint8_t *p, uint32_t len, bool syn, struct tcp_options *o)
{
	memset(o, 0, sizeof(*o));
	uint32_t i = 0;
	while (i < len) {
		uint8_t kind = p[i];
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		uint8_t olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return -1;
		const uint8_t *v = p + i + 2;
		switch (kind) {
		case TCPOPT_MSS:
			if (olen != 4)
				return -1;
			if (syn) {
				o->mss_present = true;
				o->mss = (uint16_t)(v[0] << 8 | v[1]);
			}
			break;
		case TCPOPT_WS:
			if (olen != 3)
				return -1;
			if (syn) {
				o->ws_present = true;
				/* RFC 7323 2.3: larger than 14 is used as 14. */
				o->wscale = v[0] > 14 ? 14 : v[0];
			}
			break;
		case TCPOPT_SACK_PERM:
			if (olen != 2)
				return -1;
			if (syn)
				o->sack_permitted = true;
			break;
		case TCPOPT_TS:
			if (olen != 10)
				return -1;
			o->ts_present = true;
			o->ts_val = get32(v);
			o->ts_ecr = get32(v + 4);
			break;
		case TCPOPT_SACK: {
			uint32_t blocks = (uint32_t)(olen - 2) / 8;
			if ((olen - 2) % 8 != 0 || blocks == 0 || blocks > TCP_SACK_MAX_BLOCKS)
				return -1;
			for (uint32_t b = 0; b < blocks; b++) {
				o->sack[b].start = get32(v + 8 * b);
				o->sack[b].end = get32(v + 8 * b + 4);
			}
			o->sack_count = (uint8_t)blocks;
			break;
		}
		default:
			break; /* unknown options are skipped (RFC 9293 3.2) */
		}
		i += olen;
	}
	return 0;
}

static void cc_initial_window(struct tcp_conn *c)
{
	uint32_t mss = tcp_effective_mss(c);
	/* RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)); one segment when
	 * the SYN or SYN-ACK was lost (RFC 5681 3.1). */
	uint32_t iw = 10 * mss;
	uint32_t cap = 2 * mss > 14600 ? 2 * mss : 14600;
	if (iw > cap)
		iw = cap;
	if (c->retries > 0)
		iw = mss;
	c->cwnd = iw;
	c->ssthresh = UINT32_MAX / 2;
	c->cc->init(c);
}

/* Options negotiated by a SYN exchange (RFC 9293 3.7.1, RFC 7323 2.2 and
 * 3.2, RFC 2018 2). */
static void apply_syn_options(struct tcp_conn *c, const struct tcp_options *o)
{
	struct tcp_stack *s = c->stack;
	uint32_t mss = o->mss_present ? o->mss : TCP_MSS_DEFAULT;
	if (mss > s->mss_local)
		mss = s->mss_local;
	if (mss < 88)
		mss = 88; /* refuse absurd MSS values that multiply our per-byte work */
	c->snd_mss = (uint16_t)mss;
	c->ws_ok = o->ws_present;
	c->snd_wscale = o->ws_present ? o->wscale : 0;
	c->rcv_wscale = o->ws_present ? TCP_OUR_WSCALE : 0;
	c->sack_ok = o->sack_permitted;
	c->ts_ok = o->ts_present;
	if (c->ts_ok) {
		c->ts_recent = o->ts_val;
		c->ts_recent_at_tsc = s->now_tsc;
	}
}

static void enter_time_wait(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	tcp_conn_set_state(c, TCP_TIME_WAIT);
	c->rto_at = c->persist_at = c->keepalive_at = c->tlp_at = 0;
	rte_pktmbuf_free(c->sq_head);
	c->sq_head = c->sq_tail = c->cur_seg = NULL;
	c->sq_bytes = 0;
	c->time_wait_at = s->now_tsc + tcp_ms_to_tsc(s, s->config.time_wait_ms);
	tcp_conn_timer_update(c);
}

/* The peer's FIN is next in sequence (RFC 9293 3.10.7.4 eighth). */
static void process_fin(struct tcp_conn *c)
{
	c->rcv_nxt++;
	c->fin_received = true;
	c->ooo_fin = false;
	c->ack_now = true;
	tcp_conn_mark(c, TCP_EV_READABLE | TCP_EV_OUTPUT);
	switch (c->state) {
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
		tcp_conn_set_state(c, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT_1:
		if (c->fin_sent && c->snd_una == c->snd_max)
			enter_time_wait(c);
		else
			tcp_conn_set_state(c, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT_2:
		enter_time_wait(c);
		break;
	case TCP_TIME_WAIT:
		enter_time_wait(c); /* restart the 2 MSL timeout */
		break;
	default:
		break;
	}
}

static uint32_t ooo_seq(const struct rte_mbuf *m)
{
	return m->hash.usr;
}

/* Appends in-order data to the receive queue.  m may be a chain (a frame
 * the port delivered in several mbufs): its segments join the queue one by
 * one, empty ones (emptied by trimming) are freed. */
static void rq_append(struct tcp_conn *c, struct rte_mbuf *m)
{
	while (m != NULL) {
		struct rte_mbuf *next = m->next;
		m->next = NULL;
		m->nb_segs = 1;
		m->pkt_len = m->data_len;
		if (m->data_len == 0) {
			rte_pktmbuf_free(m);
			m = next;
			continue;
		}
		if (c->rq_tail != NULL)
			c->rq_tail->next = m;
		else
			c->rq_head = m;
		c->rq_tail = m;
		c->rq_bytes += m->data_len;
		c->rq_segs++;
		c->rcv_nxt += m->data_len;
		c->bytes_received += m->data_len;
		m = next;
	}
}

/* rte_pktmbuf_adj and rte_pktmbuf_trim for chains: n bytes off the front
 * or the end, across segments (emptied segments stay until rq_append or
 * ooo_insert_chain frees them). */
static void chain_adj(struct rte_mbuf *m, uint32_t n)
{
	m->pkt_len -= n;
	for (struct rte_mbuf *seg = m; seg != NULL && n > 0; seg = seg->next) {
		uint32_t d = seg->data_len < n ? seg->data_len : n;
		seg->data_off = (uint16_t)(seg->data_off + d);
		seg->data_len = (uint16_t)(seg->data_len - d);
		n -= d;
	}
}

static void chain_trim(struct rte_mbuf *m, uint32_t n)
{
	uint32_t keep = m->pkt_len - n;
	m->pkt_len = keep;
	for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
		if (seg->data_len > keep)
			seg->data_len = (uint16_t)keep;
		keep -= seg->data_len;
	}
}

/* Moves out-of-order segments that became in order to the receive queue. */
static void ooo_drain(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	while (c->ooo_head != NULL && seq_leq(ooo_seq(c->ooo_head), c->rcv_nxt)) {
		struct rte_mbuf *m = c->ooo_head;
		c->ooo_head = m->next;
		if (c->ooo_head == NULL)
			c->ooo_tail = NULL;
		m->next = NULL;
		c->ooo_count--;
		s->ooo_total--;
		uint32_t start = ooo_seq(m), end = start + m->data_len;
		if (seq_leq(end, c->rcv_nxt)) {
			rte_pktmbuf_free(m);
			continue;
		}
		rte_pktmbuf_adj(m, (uint16_t)(c->rcv_nxt - start));
		rq_append(c, m);
	}
}

/* Inserts an out-of-order segment, trimmed against its neighbours so the
 * queue holds each byte once.  Returns true when m was kept. */
static bool ooo_insert(struct tcp_conn *c, struct rte_mbuf *m, uint32_t seq)
{
	struct tcp_stack *s = c->stack;
	if (c->ooo_count >= s->config.ooo_segments_max || s->ooo_total >= s->config.ooo_lcore_max) {
		tcp_count(s, TCP_COUNTER_drop_ooo_full);
		return false;
	}
	uint32_t end = seq + m->data_len;
	struct rte_mbuf *prev = NULL, *cur = c->ooo_head;
	if (c->ooo_tail != NULL && seq_geq(seq, ooo_seq(c->ooo_tail))) {
		prev = c->ooo_tail; /* the common case: beyond everything held */
		cur = NULL;
	} else {
		while (cur != NULL && seq_lt(ooo_seq(cur), seq)) {
			prev = cur;
			cur = cur->next;
		}
	}
	if (prev != NULL) {
		uint32_t prev_end = ooo_seq(prev) + prev->data_len;
		if (seq_geq(prev_end, end))
			return false; /* already held */
		if (seq_gt(prev_end, seq)) {
			rte_pktmbuf_adj(m, (uint16_t)(prev_end - seq));
			seq = prev_end;
		}
	}
	/* Later segments wholly covered by this one go; a partial overlap
	 * trims this one's tail. */
	while (cur != NULL && seq_leq(ooo_seq(cur) + cur->data_len, end)) {
		struct rte_mbuf *next = cur->next;
		cur->next = NULL;
		rte_pktmbuf_free(cur);
		c->ooo_count--;
		s->ooo_total--;
		cur = next;
	}
	if (cur != NULL && seq_lt(ooo_seq(cur), end)) {
		rte_pktmbuf_trim(m, (uint16_t)(end - ooo_seq(cur)));
		end = ooo_seq(cur);
	}
	if (seq_leq(end, seq))
		return false;
	m->hash.usr = seq;
	m->next = cur;
	if (prev != NULL)
		prev->next = m;
	else
		c->ooo_head = m;
	if (cur == NULL)
		c->ooo_tail = m;
	c->ooo_count++;
	s->ooo_total++;
	c->ooo_last_start = seq;
	tcp_count(s, TCP_COUNTER_ooo_segments);
	return true;
}

/* Data in the window (RFC 9293 3.10.7.4 seventh).  Returns true when m
 * was queued (ownership taken). */
static bool receive_data(struct tcp_conn *c, struct rte_mbuf *m, uint32_t seq, bool fin, bool psh)
{
	struct tcp_stack *s = c->stack;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	if (seq == c->rcv_nxt) {
		if (c->rq_segs + m->nb_segs > TCP_RQ_SEGS_MAX) {
			tcp_count(s, TCP_COUNTER_drop_rcv_window_full);
			return false;
		}
		bool had_ooo = c->ooo_head != NULL;
		rq_append(c, m);
		if (had_ooo) {
			ooo_drain(c);
			c->ack_now = true; /* RFC 5681 4.2: ACK a segment that fills a hole */
		}
		if (fin)
			process_fin(c);
		else if (c->ooo_fin && c->rcv_nxt == c->ooo_fin_seq)
			process_fin(c);
		/* RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2: at least every second
		 * full-sized segment; quick ACKs while the connection starts, and
		 * at a push so request/response never waits for the timer. */
		c->segs_unacked++;
		if (c->quickacks > 0) {
			c->quickacks--;
			c->ack_now = true;
		}
		if (c->segs_unacked >= 2 || (psh && len < c->snd_mss))
			c->ack_now = true;
		c->ack_pending = true;
		tcp_conn_mark(c, TCP_EV_READABLE | TCP_EV_OUTPUT);
		return true;
	}
	/* Out of order: RFC 5681 4.2 and RFC 2018 4: an immediate ACK with
	 * SACK blocks describing what we hold. */
	c->ack_now = true;
	tcp_conn_mark(c, TCP_EV_OUTPUT);
	if (fin) {
		c->ooo_fin = true;
		c->ooo_fin_seq = seq + len;
	}
	if (m->nb_segs == 1)
		return ooo_insert(c, m, seq);
	/* A chain: the queue holds single mbufs, each with its own sequence
	 * number. */
	while (m != NULL) {
		struct rte_mbuf *next = m->next;
		uint32_t n = m->data_len;
		m->next = NULL;
		m->nb_segs = 1;
		m->pkt_len = n;
		if (n == 0 || !ooo_insert(c, m, seq))
			rte_pktmbuf_free(m);
		seq += n;
		m = next;
	}
	return true;
}

/* A pass resending the holes has sent up to pass_high.  Once that is past
 * the highest SACKed byte the pass is done; a hole still open an RTT and
 * more after that was lost again, and another pass starts (RACK-style, RFC
 * 8985 6.2).  Timed from the pass's end, not its start: a pass that took
 * longer than an RTT would otherwise resend holes still in flight. */
static bool hole_pass_lost(struct tcp_conn *c, uint32_t pass_high)
{
	struct tcp_stack *s = c->stack;
	if (seq_lt(pass_high, tcp_scoreboard_high(c)))
		return false;
	if (c->hole_pass_done_tsc == 0) {
		c->hole_pass_done_tsc = s->now_tsc;
		return false;
	}
	uint64_t wait_us = (uint64_t)c->srtt_us + 4 * (uint64_t)c->rttvar_us;
	if (wait_us < 2000)
		wait_us = 2000;
	if (s->now_tsc - c->hole_pass_done_tsc <= wait_us * s->tsc_hz / 1000000)
		return false;
	c->hole_pass_done_tsc = 0;
	tcp_count(s, TCP_COUNTER_lost_retransmits);
	return true;
}

/* The RFC 5681 / 6675 reaction to an ACK, congestion control included. */
static void process_ack(struct tcp_conn *c, const struct tcp_segment *seg)
{
	struct tcp_stack *s = c->stack;
	uint32_t ack = seg->ack;
	uint32_t wnd = seg->wnd << c->snd_wscale;
	uint32_t mss = tcp_effective_mss(c);
	uint32_t sacked_before = c->sacked_bytes;
	if (c->sack_ok && seg->opt.sack_count > 0)
		tcp_scoreboard_update(c, &seg->opt);
	if (seq_gt(ack, c->snd_una)) {
		uint32_t acked = ack - c->snd_una;
		uint32_t flight_before = c->snd_max - c->snd_una;
		uint32_t data_acked = acked < c->sq_bytes ? acked : c->sq_bytes;
		uint32_t n = data_acked;
		while (n > 0 && c->sq_head != NULL) {
			struct rte_mbuf *seg_m = c->sq_head;
			uint32_t avail = seg_m->data_len - c->sq_head_off;
			if (n < avail) {
				c->sq_head_off += n;
				break;
			}
			n -= avail;
			c->sq_head = seg_m->next;
			c->sq_head_off = 0;
			if (c->cur_seg == seg_m)
				c->cur_seg = NULL;
			seg_m->next = NULL;
			seg_m->nb_segs = 1;
			rte_pktmbuf_free_seg(seg_m);
		}
		if (c->sq_head == NULL) {
			c->sq_tail = NULL;
			c->sq_head_off = 0;
		}
		c->sq_bytes -= data_acked;
		c->snd_una = ack;
		if (seq_gt(c->snd_una, c->snd_nxt)) {
			c->snd_nxt = c->snd_una;
			c->cur_seg = NULL;
		}
		c->retries = 0;
		c->backoff = 0;
		/* RTT (RFC 6298 3, RFC 7323 4): the timed segment, or the
		 * echoed timestamp once Karn's rule stopped timing. */
		if (c->rtt_timing && seq_gt(ack, c->rtt_seq)) {
			c->rtt_timing = false;
			tcp_rtt_sample(
			    c, (uint32_t)((s->now_tsc - c->rtt_start_tsc) * 1000000 / s->tsc_hz));
		} else if (c->ts_ok && seg->opt.ts_ecr != 0 && !c->rtt_timing && c->srtt_us == 0) {
			uint32_t ms = tcp_now_ms(s) - seg->opt.ts_ecr;
			if (ms < 60000)
				tcp_rtt_sample(c, ms * 1000);
		}
		tcp_scoreboard_ack(c);
		if (c->in_recovery) {
			if (seq_geq(ack, c->recover)) {
				/* RFC 6582 3.2 step 3 / RFC 6675 5: leave recovery. */
				c->in_recovery = false;
				c->dupacks = 0;
				c->cwnd = c->ssthresh > mss ? c->ssthresh : mss;
			} else {
				/* Partial ACK (RFC 6582 3.2 step 4): retransmit the
				 * next hole at once. */
				if (seq_lt(c->rexmit_high, c->snd_una))
					c->rexmit_high = c->snd_una;
				if (!c->sack_ok) {
					c->dupacks = 0;
					tcp_retransmit_range(c, c->snd_una, mss);
				}
			}
		} else {
			c->dupacks = 0;
			/* RFC 7661: the window grows only while it is what limits
			 * the sender (as Linux: at least half of it in flight).  A
			 * sender held back by its budget or the peer's window would
			 * otherwise grow it without bound -- to 200 MB at 20 ms --
			 * and a loss would then cut it to a size still far beyond
			 * the path's. */
			if (flight_before >= c->cwnd / 2)
				c->cc->on_ack(c, acked);
			else /* RFC 9438 5.8: no CUBIC growth for time held back */
				c->cubic_epoch_tsc = 0;
		}
		if (c->after_timeout && seq_geq(c->snd_una, c->timeout_recover))
			c->after_timeout = false;
		if (c->snd_una == c->snd_max)
			c->rto_at = 0;
		else
			tcp_rto_arm(c); /* RFC 6298 5.3 */
		c->tlp_sent = false;
		tcp_tlp_arm(c);
		if (c->want_writable && tcp_send_space(c) >= c->snd_budget / 2) {
			c->want_writable = false;
			tcp_conn_mark(c, TCP_EV_WRITABLE);
		}
	} else if (ack == c->snd_una && c->snd_una != c->snd_max && seg->len == 0 &&
	           !(seg->flags & (RTE_TCP_SYN_FLAG | RTE_TCP_FIN_FLAG)) &&
	           (wnd == c->snd_wnd || c->sacked_bytes > sacked_before)) {
		/* A duplicate ACK (RFC 5681 2; RFC 6675 2 with SACK). */ c->dupacks++;
		/* RFC 6675 IsLost, or the tail probe's SACK showing that what
		 * lies below it is gone (RFC 8985 7.4). */
		bool sack_lost = c->sack_ok && (c->sacked_bytes >= 3 * mss ||
		                                (c->tlp_sent && c->sacked_bytes > sacked_before));
		if (c->in_recovery && c->sack_ok && hole_pass_lost(c, c->rexmit_high))
			c->rexmit_high = c->snd_una; /* another round */
		/* After a timeout the resending runs at SND.NXT; once it has
		 * passed every hole, one still open is resent at once (the
		 * window stays as it is) rather than at another timeout. */
		if (c->after_timeout && c->sack_ok && (c->dupacks >= 3 || sack_lost) &&
		    hole_pass_lost(c, c->snd_nxt)) {
			c->snd_nxt = c->snd_una;
			c->cur_seg = NULL;
		}
		if (!c->in_recovery && !c->after_timeout && (c->dupacks >= 3 || sack_lost)) {
			/* RFC 5681 3.2 steps 2-3 / RFC 6675 5 steps 4.1-4.3. */
			tcp_count(s, TCP_COUNTER_fast_retransmits);
			c->recover = c->snd_max;
			c->cc->on_congestion(c);
			c->in_recovery = true;
			c->rtt_timing = false;
			c->hole_pass_done_tsc = 0;
			c->rexmit_high = c->snd_una;
			int sent = tcp_retransmit_range(c, c->snd_una, mss);
			if (sent > 0)
				c->rexmit_high = c->snd_una + (uint32_t)sent;
			tcp_tlp_arm(c);
		}
	}
	/* RFC 9293 3.10.7.4 fifth, window update with the SND.WL1/WL2 rule. */
	if (seq_lt(c->snd_wl1, seg->seq) || (c->snd_wl1 == seg->seq && seq_leq(c->snd_wl2, ack))) {
		c->snd_wnd = wnd;
		c->snd_wl1 = seg->seq;
		c->snd_wl2 = ack;
		if (wnd > c->max_snd_wnd)
			c->max_snd_wnd = wnd;
		if (wnd > 0 && c->persist_at != 0) {
			c->persist_at = 0;
			c->persist_backoff = 0;
		}
	}
	tcp_conn_mark(c, TCP_EV_OUTPUT);
}

static struct tcp_listener *find_listener(struct tcp_stack *s, const struct tcp_segment *seg)
{
	for (unsigned int i = 0; i < TCP_MAX_LISTENERS; i++) {
		struct tcp_listener *l = &s->listeners[i];
		if (l->active && l->port == seg->dport && (l->peer == 0 || l->peer == seg->saddr))
			return l;
	}
	return NULL;
}

static void conn_input(struct tcp_conn *c, struct tcp_segment *seg, struct rte_mbuf *m);

/* A segment for a listener (RFC 9293 3.10.7.2). */
static void listen_input(struct tcp_stack *s, struct tcp_segment *seg, struct rte_mbuf *m)
{
	struct tcp_listener *l = find_listener(s, seg);
	if (l == NULL) {
		tcp_count(s, TCP_COUNTER_drop_no_listener);
		tcp_send_rst_for(s, seg);
		goto drop;
	}
	if (seg->flags & RTE_TCP_RST_FLAG)
		goto drop_flags; /* first: an RST is ignored */
	if (seg->flags & RTE_TCP_ACK_FLAG) {
		/* second: an ACK is bad, unless it returns one of our cookies. */
		uint16_t mss;
		if (!(seg->flags & RTE_TCP_SYN_FLAG) && s->config.syn_cookies &&
		    tcp_syncookie_check(s, seg, &mss)) {
			if (s->conn_count >= s->config.max_connections) {
				tcp_count(s, TCP_COUNTER_drop_conn_limit);
				goto drop;
			}
			struct tcp_conn *c = tcp_conn_alloc(s, seg->saddr, seg->sport, seg->dport);
			if (c == NULL) {
				tcp_count(s, TCP_COUNTER_drop_conn_limit);
				goto drop;
			}
			struct tcp_options o = {0};
			o.mss_present = true;
			o.mss = mss;
			if (seg->opt.ts_present)
				tcp_syncookie_tsecr_options(seg->opt.ts_ecr, &o);
			o.ts_val = seg->opt.ts_val;
			apply_syn_options(c, &o);
			c->syn_cookie = true;
			c->listener = l;
			l->attached++;
			c->irs = seg->seq - 1;
			c->rcv_nxt = seg->seq;
			c->rcv_adv = seg->seq +
			             (s->config.rcv_budget > 65535 ? 65535 : s->config.rcv_budget);
			c->iss = seg->ack - 1;
			c->snd_una = c->snd_nxt = c->snd_max = seg->ack;
			c->snd_wl1 = seg->seq - 1;
			c->snd_wl2 = seg->ack;
			tcp_conn_set_state(c, TCP_ESTABLISHED);
			cc_initial_window(c);
			tcp_count(s, TCP_COUNTER_rx_syn_cookies_ok);
			tcp_count(s, TCP_COUNTER_passive_opens);
			tcp_conn_mark(c, TCP_EV_ACCEPTED);
			conn_input(c, seg, m);
			return;
		}
		if (!(seg->flags & RTE_TCP_SYN_FLAG))
			tcp_count(s, TCP_COUNTER_drop_bad_cookie);
		tcp_send_rst_for(s, seg);
		goto drop;
	}
	if (!(seg->flags & RTE_TCP_SYN_FLAG))
		goto drop_flags;
	/* third: a SYN. */
	if (s->conn_count >= s->config.max_connections) {
		tcp_count(s, TCP_COUNTER_drop_conn_limit);
		goto drop;
	}
	if (l->half_open >= s->config.syn_backlog) {
		if (!s->config.syn_cookies) {
			tcp_count(s, TCP_COUNTER_drop_backlog_full);
			goto drop;
		}
		uint16_t mss;
		uint32_t cookie = tcp_syncookie_make(s, seg, &mss);
		tcp_send_synack_cookie(s, seg, cookie, mss, tcp_syncookie_tsval(s, &seg->opt));
		goto drop;
	}
	struct tcp_conn *c = tcp_conn_alloc(s, seg->saddr, seg->sport, seg->dport);
	if (c == NULL) {
		tcp_count(s, TCP_COUNTER_drop_conn_limit);
		goto drop;
	}
	apply_syn_options(c, &seg->opt);
	c->listener = l;
	l->attached++;
	l->half_open++;
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->iss = tcp_isn(s, seg->saddr, seg->sport, seg->dport);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_wnd = seg->wnd; /* RFC 7323 2.2: never scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = c->iss;
	tcp_conn_set_state(c, TCP_SYN_RECEIVED);
	tcp_send_syn(c);
	c->rtt_start_tsc = s->now_tsc;
	tcp_rto_arm(c);
	tcp_conn_timer_update(c);
	goto drop; /* data on a SYN is not queued; the peer sends it again */
drop_flags:
	tcp_count(s, TCP_COUNTER_drop_listen_bad_flags);
drop:
	rte_pktmbuf_free(m);
}

/* RFC 9293 3.10.7.3: SYN-SENT. */
static void syn_sent_input(struct tcp_conn *c, struct tcp_segment *seg, struct rte_mbuf *m)
{
	struct tcp_stack *s = c->stack;
	bool has_ack = seg->flags & RTE_TCP_ACK_FLAG;
	if (has_ack && (seq_leq(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max))) {
		tcp_count(s, TCP_COUNTER_drop_syn_sent_bad_ack);
		tcp_send_rst_for(s, seg);
		goto drop;
	}
	if (seg->flags & RTE_TCP_RST_FLAG) {
		/* Acceptable only with an ACK of our SYN (RFC 5961 3.2 note). */
		if (has_ack) {
			tcp_count(s, TCP_COUNTER_resets_received);
			tcp_conn_terminate(c, -ECONNREFUSED);
		}
		goto drop;
	}
	if (!(seg->flags & RTE_TCP_SYN_FLAG))
		goto drop;
	apply_syn_options(c, &seg->opt);
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->snd_wnd = seg->wnd;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = seg->ack;
	if (has_ack) {
		c->snd_una = seg->ack;
		if (c->retries == 0)
			tcp_rtt_sample(
			    c, (uint32_t)((s->now_tsc - c->rtt_start_tsc) * 1000000 / s->tsc_hz));
		c->rto_at = 0;
		c->backoff = 0;
		cc_initial_window(c);
		c->retries = 0;
		tcp_conn_set_state(c, TCP_ESTABLISHED);
		c->ack_now = true;
		tcp_conn_mark(c, TCP_EV_CONNECTED | TCP_EV_OUTPUT);
		tcp_conn_timer_update(c);
	} else {
		/* Simultaneous open: SYN-RECEIVED, answer with SYN,ACK on our
		 * own ISS (RFC 9293 3.5 figure 8). */
		tcp_conn_set_state(c, TCP_SYN_RECEIVED);
		tcp_send_syn(c);
		tcp_rto_arm(c);
		tcp_conn_timer_update(c);
	}
drop:
	rte_pktmbuf_free(m);
}

static void conn_input(struct tcp_conn *c, struct tcp_segment *seg, struct rte_mbuf *m)
{
	struct tcp_stack *s = c->stack;
	uint8_t flags = seg->flags;
	uint32_t seq = seg->seq;
	uint32_t len = seg->len;
	c->last_rx_tsc = s->now_tsc;
	c->keepalive_sent = 0;

	/* Simultaneous open (RFC 9293 3.5 figure 8): the peer's SYN,ACK in
	 * SYN-RECEIVED repeats the SYN we already took; its ACK completes. */
	if (c->state == TCP_SYN_RECEIVED && c->listener == NULL &&
	    (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) ==
	        (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG) &&
	    seq == c->irs) {
		flags &= (uint8_t)~RTE_TCP_SYN_FLAG;
		seq++;
	}

	/* RFC 7323 5.3 R1: PAWS. */
	if (c->ts_ok && seg->opt.ts_present && !(flags & RTE_TCP_RST_FLAG) &&
	    seq_lt(seg->opt.ts_val, c->ts_recent) &&
	    s->now_tsc - c->ts_recent_at_tsc < tcp_ms_to_tsc(s, TCP_PAWS_IDLE_MS)) {
		tcp_count(s, TCP_COUNTER_drop_paws);
		c->ack_now = true;
		tcp_conn_mark(c, TCP_EV_OUTPUT);
		goto drop;
	}

	/* First: sequence number (RFC 9293 3.10.7.4, the four cases). */
	uint32_t rcv_wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t seg_len =
	    len + ((flags & RTE_TCP_SYN_FLAG) ? 1 : 0) + ((flags & RTE_TCP_FIN_FLAG) ? 1 : 0);
	bool acceptable;
	if (seg_len == 0)
		acceptable = rcv_wnd == 0
		                 ? seq == c->rcv_nxt
		                 : seq_geq(seq, c->rcv_nxt) && seq_lt(seq, c->rcv_nxt + rcv_wnd);
	else if (rcv_wnd == 0)
		acceptable = false;
	else
		acceptable = (seq_geq(seq, c->rcv_nxt) && seq_lt(seq, c->rcv_nxt + rcv_wnd)) ||
		             (seq_geq(seq + seg_len - 1, c->rcv_nxt) &&
		              seq_lt(seq + seg_len - 1, c->rcv_nxt + rcv_wnd));
	/* A zero window still takes valid ACKs and RSTs at RCV.NXT. */
	bool ack_only = false;
	if (!acceptable && rcv_wnd == 0 && seq == c->rcv_nxt) {
		acceptable = true;
		ack_only = true;
		if (len > 0)
			tcp_count(s, TCP_COUNTER_drop_rcv_window_full);
	}
	if (!acceptable) {
		if (flags & RTE_TCP_RST_FLAG) {
			tcp_count(s, TCP_COUNTER_drop_rst_out_of_window);
		} else {
			if (c->state == TCP_TIME_WAIT) {
				tcp_count(s, TCP_COUNTER_drop_time_wait);
				/* A retransmitted FIN: our last ACK was lost;
				 * restart 2 MSL (RFC 9293 3.10.7.4 eighth). */
				if (flags & RTE_TCP_FIN_FLAG)
					enter_time_wait(c);
			} else if (seq_leq(seq + seg_len, c->rcv_nxt))
				tcp_count(s, TCP_COUNTER_drop_duplicate);
			else
				tcp_count(s, TCP_COUNTER_drop_out_of_window);
			c->ack_now = true;
			c->quickacks = c->quickacks < 2 ? 2 : c->quickacks;
			tcp_conn_mark(c, TCP_EV_OUTPUT);
		}
		goto drop;
	}

	/* Second: RST (RFC 5961 3.2): exact RCV.NXT resets, anything else
	 * in the window draws a challenge ACK. */
	if (flags & RTE_TCP_RST_FLAG) {
		if (seq != c->rcv_nxt) {
			tcp_count(s, TCP_COUNTER_drop_rst_challenged);
			tcp_send_challenge_ack(c);
			goto drop;
		}
		switch (c->state) {
		case TCP_SYN_RECEIVED:
			/* Passive: back to LISTEN (forget it); active: refused. */
			tcp_conn_terminate(c, c->listener != NULL ? 0 : -ECONNREFUSED);
			break;
		case TCP_CLOSING:
		case TCP_LAST_ACK:
		case TCP_TIME_WAIT:
			tcp_conn_terminate(c, 0);
			break;
		default:
			tcp_count(s, TCP_COUNTER_resets_received);
			tcp_conn_terminate(c, -ECONNRESET);
			break;
		}
		goto drop;
	}

	/* Fourth: SYN in a synchronized state (RFC 5961 4.2). */
	if (flags & RTE_TCP_SYN_FLAG) {
		if (c->state == TCP_SYN_RECEIVED && seq == c->irs && !(flags & RTE_TCP_ACK_FLAG)) {
			tcp_send_syn(c); /* our SYN-ACK was lost */
			goto drop;
		}
		tcp_count(s, TCP_COUNTER_drop_syn_challenged);
		tcp_send_challenge_ack(c);
		goto drop;
	}

	/* RFC 7323 4.3: remember the timestamp of an in-order segment. */
	if (c->ts_ok && seg->opt.ts_present && seq_leq(seq, c->last_ack_sent) &&
	    seq_geq(seg->opt.ts_val, c->ts_recent)) {
		c->ts_recent = seg->opt.ts_val;
		c->ts_recent_at_tsc = s->now_tsc;
	}

	/* Trim to the window: old bytes off the front, excess off the end. */
	if (seq_lt(seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - seq;
		if (d > len) {
			d = len;
			flags &= (uint8_t)~RTE_TCP_FIN_FLAG; /* the FIN is old too */
		}
		chain_adj(m, d);
		len -= d;
		seq += d;
	}
	if (ack_only)
		len = 0, flags &= (uint8_t)~RTE_TCP_FIN_FLAG;
	else if (seq_gt(seq + len, c->rcv_nxt + rcv_wnd)) {
		uint32_t excess = seq + len - (c->rcv_nxt + rcv_wnd);
		chain_trim(m, excess);
		len -= excess;
		flags &= (uint8_t)~RTE_TCP_FIN_FLAG;
	}

	/* Fifth: ACK. */
	if (!(flags & RTE_TCP_ACK_FLAG)) {
		tcp_count(s, TCP_COUNTER_drop_no_ack);
		goto drop;
	}
	if (c->state == TCP_SYN_RECEIVED) {
		if (!(seq_lt(c->snd_una, seg->ack) && seq_leq(seg->ack, c->snd_max))) {
			tcp_send_rst_for(s, seg);
			goto drop;
		}
		if (c->listener != NULL && c->listener->half_open > 0)
			c->listener->half_open--;
		if (c->retries == 0 && c->rtt_start_tsc != 0)
			tcp_rtt_sample(
			    c, (uint32_t)((s->now_tsc - c->rtt_start_tsc) * 1000000 / s->tsc_hz));
		c->rto_at = 0;
		c->backoff = 0;
		cc_initial_window(c);
		c->retries = 0;
		c->snd_una = seg->ack;
		c->snd_wnd = seg->wnd << c->snd_wscale;
		c->max_snd_wnd = c->snd_wnd;
		c->snd_wl1 = seq;
		c->snd_wl2 = seg->ack;
		tcp_conn_set_state(c, TCP_ESTABLISHED);
		if (c->listener != NULL) {
			tcp_count(s, TCP_COUNTER_passive_opens);
			tcp_conn_mark(c, TCP_EV_ACCEPTED);
		} else {
			tcp_conn_mark(c, TCP_EV_CONNECTED);
		}
		tcp_conn_timer_update(c);
	} else {
		/* RFC 5961 5.2: acceptable ACKs lie in
		 * [SND.UNA - MAX.SND.WND, SND.NXT]. */
		if (seq_gt(seg->ack, c->snd_max)) {
			tcp_count(s, TCP_COUNTER_drop_ack_too_new);
			c->ack_now = true;
			tcp_conn_mark(c, TCP_EV_OUTPUT);
			goto drop;
		}
		uint32_t max_wnd = c->max_snd_wnd > 65535 ? c->max_snd_wnd : 65535;
		if (seq_lt(seg->ack, c->snd_una - max_wnd)) {
			tcp_count(s, TCP_COUNTER_drop_ack_too_old);
			tcp_send_challenge_ack(c);
			goto drop;
		}
		seg->seq = seq;
		seg->len = len;
		process_ack(c, seg);
		bool fin_acked = c->fin_sent && c->snd_una == c->snd_max;
		switch (c->state) {
		case TCP_FIN_WAIT_1:
			if (fin_acked) {
				tcp_conn_set_state(c, TCP_FIN_WAIT_2);
				if (c->app_closed && c->time_wait_at == 0) {
					/* An orphan waits a bounded time for the FIN. */
					c->time_wait_at =
					    s->now_tsc + tcp_ms_to_tsc(s, s->config.time_wait_ms);
					tcp_conn_timer_update(c);
				}
			}
			break;
		case TCP_CLOSING:
			if (fin_acked)
				enter_time_wait(c);
			break;
		case TCP_LAST_ACK:
			if (fin_acked) {
				tcp_conn_terminate(c, 0);
				goto drop;
			}
			break;
		case TCP_TIME_WAIT:
			/* The only thing arriving here is a retransmitted FIN. */
			if (flags & RTE_TCP_FIN_FLAG) {
				c->ack_now = true;
				tcp_conn_mark(c, TCP_EV_OUTPUT);
				enter_time_wait(c);
			}
			goto drop;
		default:
			break;
		}
	}

	/* Seventh: data. */
	bool fin = flags & RTE_TCP_FIN_FLAG;
	if (len > 0) {
		switch (c->state) {
		case TCP_ESTABLISHED:
		case TCP_FIN_WAIT_1:
		case TCP_FIN_WAIT_2:
			if (c->app_closed) {
				tcp_count(s, TCP_COUNTER_drop_data_after_close);
				tcp_send_rst(c);
				tcp_conn_terminate(c, 0);
				goto drop;
			}
			if (receive_data(c, m, seq, fin, flags & RTE_TCP_PSH_FLAG))
				return;
			goto drop;
		default:
			goto drop; /* after the peer's FIN no data is valid */
		}
	}
	/* Eighth: FIN. */
	if (fin && c->state != TCP_CLOSED) {
		if (seq == c->rcv_nxt)
			process_fin(c);
		else {
			c->ooo_fin = true;
			c->ooo_fin_seq = seq;
			c->ack_now = true;
			tcp_conn_mark(c, TCP_EV_OUTPUT);
		}
	}
drop:
	rte_pktmbuf_free(m);
}

/* RFC 9293 3.1: the checksum over the pseudo-header and the segment (which
 * may span a chain). */
static bool cksum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint32_t len)
{
	uint16_t sum;
	if (net_checksum_mbuf(m, 0, len, &sum) != 0)
		return false;
	uint32_t total =
	    (uint32_t)sum + net_ipv4_pseudo_sum(ip->src_addr, ip->dst_addr, IPPROTO_TCP, len);
	return net_checksum_fold(total) == 0xffff;
}

void tcp_input_segment(struct tcp_stack *s, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	tcp_count(s, TCP_COUNTER_rx_segments);
	uint32_t total = rte_pktmbuf_pkt_len(m);
	/* The header and its options must sit in the first mbuf; the payload
	 * may continue in a chain (large frames from net_memif). */
	if (total < sizeof(struct rte_tcp_hdr) || m->data_len < sizeof(struct rte_tcp_hdr)) {
		tcp_count(s, TCP_COUNTER_drop_short);
		rte_pktmbuf_free(m);
		return;
	}
	const struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, const struct rte_tcp_hdr *);
	uint32_t hdr_len = (uint32_t)(th->data_off >> 4) * 4;
	if (hdr_len < sizeof(struct rte_tcp_hdr) || hdr_len > m->data_len) {
		tcp_count(s, TCP_COUNTER_drop_short);
		rte_pktmbuf_free(m);
		return;
	}
	/* A trusted link (see net_lcore.l4_checksum_trusted) carries no L4
	 * checksums, as Linux veth does with CHECKSUM_PARTIAL. */
	uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (!s->l4_checksum_trusted &&
	    (ck == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
	     (ck == RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN && !cksum_ok(m, ip, total)))) {
		tcp_count(s, TCP_COUNTER_drop_bad_checksum);
		rte_pktmbuf_free(m);
		return;
	}
	struct tcp_segment seg;
	seg.th = th;
	seg.saddr = ip->src_addr;
	seg.daddr = ip->dst_addr;
	seg.sport = rte_be_to_cpu_16(th->src_port);
	seg.dport = rte_be_to_cpu_16(th->dst_port);
	seg.seq = rte_be_to_cpu_32(th->sent_seq);
	seg.ack = rte_be_to_cpu_32(th->recv_ack);
	seg.wnd = rte_be_to_cpu_16(th->rx_win);
	seg.flags = th->tcp_flags & 0x3f;
	seg.len = total - hdr_len;
	if (tcp_parse_options((const uint8_t *)(th + 1), hdr_len - sizeof(*th),
	                      (seg.flags & RTE_TCP_SYN_FLAG) != 0, &seg.opt) != 0) {
		tcp_count(s, TCP_COUNTER_drop_bad_options);
		rte_pktmbuf_free(m);
		return;
	}
	if (seg.sport == 0 || seg.dport == 0) {
		tcp_count(s, TCP_COUNTER_drop_short);
		rte_pktmbuf_free(m);
		return;
	}
	rte_pktmbuf_adj(m, (uint16_t)hdr_len);
	struct tcp_conn *c = tcp_conn_lookup(s, seg.saddr, seg.sport, seg.dport);
	if (c == NULL) {
		listen_input(s, &seg, m);
		return;
	}
	if (c->state == TCP_TIME_WAIT && (seg.flags & RTE_TCP_SYN_FLAG) &&
	    !(seg.flags & RTE_TCP_ACK_FLAG) &&
	    (seq_gt(seg.seq, c->rcv_nxt) ||
	     (c->ts_ok && seg.opt.ts_present && seq_gt(seg.opt.ts_val, c->ts_recent)))) {
		/* RFC 6191 / RFC 1122 4.2.2.13: a new incarnation may reopen a
		 * TIME_WAIT connection. */
		tcp_count(s, TCP_COUNTER_drop_time_wait);
		bool owned = c->app_owned;
		tcp_conn_terminate(c, 0);
		if (!owned) {
			listen_input(s, &seg, m);
			return;
		}
		rte_pktmbuf_free(m);
		return;
	}
	if (c->state == TCP_SYN_SENT)
		syn_sent_input(c, &seg, m);
	else
		conn_input(c, &seg, m);
}
