/* Data transfer at the packet level: SACK blocks, RTO with backoff, fast
 * retransmit and SACK recovery, zero window and persist probes, window
 * scaling across the 2^32 wrap, receive budget backpressure, delayed ACK. */
#include "tcp_harness.h"

#define MSS 1460

static uint8_t pattern[1 << 20];

static void inject_data(struct harness *h, uint32_t seq, uint32_t ack, uint16_t wnd,
                        const void *data, uint32_t len, bool psh)
{
	h_inject(h, H_SPORT, H_LPORT, (uint8_t)(RTE_TCP_ACK_FLAG | (psh ? RTE_TCP_PSH_FLAG : 0)),
	         seq, ack, wnd, NULL, 0, data, len);
}

static void test_sack_generation(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, 1460, 7, true, true);
	uint32_t base = 101;
	uint8_t o[40];
	unsigned int n = h_opt_ts(o, 2000, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, base, iss + 1, 1000, o, n, pattern, 100);
	h_poll(&h);
	/* 301..400 arrives before 201..300: an immediate ACK with a block. */
	h_free_out(&h);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, base + 200, iss + 1, 1000, o, n,
	         pattern + 200, 100);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	struct h_seg a = h_last(&h);
	CHECK_EQ(a.ack, base + 100);
	CHECK_EQ(a.opt.sack_count, 1);
	CHECK_EQ(a.opt.sack[0].start, base + 200);
	CHECK_EQ(a.opt.sack[0].end, base + 300);
	/* A second island: it is reported first (RFC 2018 4). */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, base + 400, iss + 1, 1000, o, n,
	         pattern + 400, 100);
	h_poll(&h);
	a = h_last(&h);
	CHECK_EQ(a.ack, base + 100);
	CHECK_EQ(a.opt.sack_count, 2);
	CHECK_EQ(a.opt.sack[0].start, base + 400);
	CHECK_EQ(a.opt.sack[1].start, base + 200);
	/* An island that grows an existing one is reported as the merged range. */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, base + 300, iss + 1, 1000, o, n,
	         pattern + 300, 50);
	h_poll(&h);
	a = h_last(&h);
	CHECK_EQ(a.opt.sack_count, 2);
	CHECK_EQ(a.opt.sack[0].start, base + 200);
	CHECK_EQ(a.opt.sack[0].end, base + 350);
	/* Filling the first hole: cumulative ACK jumps, one block remains. */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, base + 100, iss + 1, 1000, o, n,
	         pattern + 100, 100);
	h_poll(&h);
	a = h_last(&h);
	CHECK_EQ(a.ack, base + 350);
	CHECK_EQ(a.opt.sack_count, 1);
	CHECK_EQ(a.opt.sack[0].start, base + 400);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, base + 340, iss + 1, 1000, o, n,
	         pattern + 340, 60); /* overlaps what we hold */
	h_poll(&h);
	a = h_last(&h);
	CHECK_EQ(a.ack, base + 500);
	CHECK_EQ(a.opt.sack_count, 0);
	CHECK_EQ(h.rx_len, 500);
	CHECK(memcmp(h.rx, pattern, 500) == 0);
	h_fini(&h);
}

static void test_rto_backoff(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, 1460, -1, false, false);
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 1000)), 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	CHECK_EQ(h_last(&h).len, 1000);
	CHECK_EQ(h_last(&h).seq, iss + 1);
	struct tcp_conn_info info;
	tcp_conn_get_info(h.conn, &info);
	uint32_t rto = info.rto_ms;
	CHECK_EQ(rto, 200); /* the floor: the handshake RTT here is ~0 */
	/* Retransmissions at RTO, then 2x, then 4x (RFC 6298 5.5). */ /* First a tail loss probe
	                                                                * (RFC 8985: 2 SRTT +
	                                                                * delayed-ACK allowance for
	                                                                * a lone segment), which
	                                                                * does not restart the RTO.
	                                                                */
	uint64_t waited = 0;
	h_free_out(&h);
	while (h.n_out == 0 && waited < 10000) {
		h_advance(&h, 1);
		waited++;
	}
	CHECK(waited >= 50 && waited <= 52);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_tlp_probes], 1);
	CHECK_EQ(h_last(&h).seq, iss + 1);
	uint64_t expect = rto;
	for (int i = 0; i < 3; i++) {
		h_free_out(&h);
		if (i > 0)
			waited = 0;
		while (h.n_out == 0 && waited < 10000) {
			h_advance(&h, 1);
			waited++;
		}
		/* The wheel never fires early and at most one tick late. */
		CHECK(waited >= expect && waited <= expect + 2);
		CHECK_EQ(h.n_out, 1);
		struct h_seg r = h_last(&h);
		CHECK_EQ(r.seq, iss + 1);
		CHECK_EQ(r.len, 1000);
		CHECK(memcmp(r.payload, pattern, 1000) == 0);
		expect *= 2;
	}
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_rto_fired], 3);
	/* The ACK ends the backoff. */
	inject_data(&h, 101, iss + 1001, 1000, NULL, 0, false);
	h_poll(&h);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.retransmits, 4);
	h_free_out(&h);
	h_advance(&h, 2000);
	CHECK_EQ(h.n_out, 0);
	h_fini(&h);
}

static bool sent_seq(struct harness *h, uint32_t seq)
{
	for (unsigned int i = 0; i < h->n_out; i++)
		if (h_out(h, i).seq == seq && h_out(h, i).len > 0)
			return true;
	return false;
}

/* Advances the clock 1 ms at a time until the stack's fired-RTO count
 * reaches fired (2 s at most per timeout), dropping what each step sent
 * except the last: the timeout's retransmission stays in h->out. */
static void advance_until_rto(struct harness *h, uint64_t fired)
{
	for (int waited = 0;
	     waited < 3000 && tcp_stack_counters(h->s)[TCP_COUNTER_rto_fired] < fired; waited++) {
		h_free_out(h);
		h_advance(h, 1);
	}
}

static void test_fast_retransmit_sack_recovery(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, MSS, -1, true, false);
	uint32_t s0 = iss + 1;
#define SEG(i) (s0 + (uint32_t)(i)*MSS)
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 40 * MSS)), 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 10); /* IW10 (RFC 6928) */
	CHECK_EQ(h_out(&h, 9).seq, SEG(9));
	h_free_out(&h);
	/* Segment 0 arrives, 1 and 3 are lost, 2, 4, 5 arrive. */
	uint8_t o[40];
	uint32_t e1[] = {SEG(2), SEG(3)};
	uint32_t e2[] = {SEG(4), SEG(5), SEG(2), SEG(3)};
	uint32_t e3[] = {SEG(4), SEG(6), SEG(2), SEG(3)};
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(1), 65535, NULL, 0, NULL, 0);
	h_poll(&h);
	unsigned int new_after_ack = h.n_out;
	CHECK(new_after_ack >= 1); /* slow start grew the window */
	h_free_out(&h);
	unsigned int n = h_opt_sack(o, e1, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(1), 65535, o, n, NULL, 0);
	n = h_opt_sack(o, e2, 2);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(1), 65535, o, n, NULL, 0);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_fast_retransmits], 0);
	n = h_opt_sack(o, e3, 2);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(1), 65535, o, n, NULL, 0);
	h_poll(&h);
	/* Third duplicate: fast retransmit of 1 (RFC 6675 5 step 4). */
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_fast_retransmits], 1);
	CHECK(sent_seq(&h, SEG(1)));
	/* The next SACK lowers pipe: the scoreboard sends the other hole (3),
	 * nothing SACKed (NextSeg rule 1). */
	uint32_t e4[] = {SEG(4), SEG(7), SEG(2), SEG(3)};
	n = h_opt_sack(o, e4, 2);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(1), 65535, o, n, NULL, 0);
	h_poll(&h);
	CHECK(sent_seq(&h, SEG(3)));
	CHECK(!sent_seq(&h, SEG(2)));
	CHECK(!sent_seq(&h, SEG(4)));
	CHECK(!sent_seq(&h, SEG(5)));
	struct tcp_conn_info info;
	tcp_conn_get_info(h.conn, &info);
	CHECK(info.cwnd < 12 * MSS);
	uint32_t ssthresh = info.ssthresh;
	/* Partial ACK up to 3, then the ACK of everything sent: recovery ends
	 * with cwnd = ssthresh. */
	h_free_out(&h);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(3), 65535, o, n, NULL, 0);
	h_poll(&h);
	uint32_t high = tcp_stack_counters(h.s)[TCP_COUNTER_tx_data_segments] > 0 ? 0 : 0;
	(void)high;
	tcp_conn_get_info(h.conn, &info);
	uint32_t snd_max = h.conn->snd_max;
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, snd_max, 65535, NULL, 0, NULL, 0);
	h_poll(&h);
	tcp_conn_get_info(h.conn, &info);
	CHECK(!h.conn->in_recovery);
	CHECK(info.cwnd >= ssthresh);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_rto_fired], 0);
	h_fini(&h);

	/* Without SACK: NewReno after three duplicates. */
	h_init(&h);
	iss = h_establish(&h, 100, MSS, -1, false, false);
	s0 = iss + 1;
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 20 * MSS)), 0);
	h_poll(&h);
	h_free_out(&h);
	for (int i = 0; i < 3; i++)
		h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(0), 65535, NULL, 0, NULL,
		         0);
	h_poll(&h);
	CHECK(sent_seq(&h, SEG(0)));
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_fast_retransmits], 1);
	/* Partial ACK: the next segment goes at once (RFC 6582). */
	h_free_out(&h);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(4), 65535, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK(sent_seq(&h, SEG(4)));
	h_fini(&h);
#undef SEG
}

/* Slow start counts every byte a stretch ACK covers (one ACK for a whole
 * burst, as receivers that ACK once per poll or per GRO batch send).  After
 * a retransmission timeout, until what was out at the timeout is
 * acknowledged, it counts only bytes sent since the timeout: such an ACK
 * may cover what the receiver held out of order (RFC 3465 2.3), yet one
 * stretch ACK per round trip must still double the window.  And a window
 * that is not what limits the sender does not grow (RFC 7661). */
static void test_slow_start_stretch_acks(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, MSS, -1, true, false);
	uint32_t s0 = iss + 1;
	struct tcp_conn_info info;
	/* Two segments out of a window of ten: their ACK grows nothing. */
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 2 * MSS)), 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 2);
	h_free_out(&h);
	tcp_conn_get_info(h.conn, &info);
	uint32_t iw = info.cwnd;
	CHECK_EQ(iw, 10 * MSS);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, s0 + 2 * MSS, 65535, NULL, 0, NULL,
	         0);
	h_poll(&h);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.cwnd, iw);
	/* A full window, acknowledged by one ACK: the window doubles. */
	uint32_t base = s0 + 2 * MSS;
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 40 * MSS)), 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 10);
	h_free_out(&h);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, base + 10 * MSS, 65535, NULL, 0, NULL,
	         0);
	h_poll(&h);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.cwnd, 20 * MSS); /* with L = 2 MSS it was 12 */
	CHECK_EQ(h.n_out, 20);
	h_free_out(&h);
	/* Nothing more is acknowledged: the timeout collapses the window. */
	advance_until_rto(&h, 1);
	h_free_out(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_rto_fired], 1);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.cwnd, MSS);
	/* The retransmission's ACK covers 15 segments the receiver held: the
	 * window grows by the one segment sent since the timeout, not 15. */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, base + 25 * MSS, 65535, NULL, 0, NULL,
	         0);
	h_poll(&h);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.cwnd, 2 * MSS);
	CHECK_EQ(h.n_out, 2);
	CHECK(sent_seq(&h, base + 25 * MSS) && sent_seq(&h, base + 26 * MSS));
	h_free_out(&h);
	/* One stretch ACK for both: the window doubles (2 MSS per ACK, RFC
	 * 3465's L, gave 4 MSS and grew linearly with one ACK per round trip). */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, base + 27 * MSS, 65535, NULL, 0, NULL,
	         0);
	h_poll(&h);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.cwnd, 4 * MSS);
	CHECK_EQ(h.n_out, 4);
	h_free_out(&h);
	h_fini(&h);
}

/* After a retransmission timeout, duplicate ACKs for what was out at the
 * timeout start no fast recovery (RFC 6675 5.1, RFC 6582 4): that loss was
 * answered already, and a second reduction from the collapsed window set
 * ssthresh to 2 MSS (at MTU 1500 over 20 ms a download then repaired 5 MB
 * of holes at 2 MSS per round trip for 36 s).  SACKed data that SND.NXT
 * skipped while resending is not in flight, and a hole still open an RTT
 * after every hole was resent is resent again without waiting for another
 * timeout.  A second timeout for the same data keeps ssthresh.  Once
 * everything out at the timeout is acknowledged, fast recovery works
 * again. */
static void test_loss_after_timeout(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, MSS, -1, true, false);
	uint32_t s0 = iss + 1;
#define SEG(i) (s0 + (uint32_t)(i)*MSS)
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 60 * MSS)), 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 10);
	h_free_out(&h);
	/* Segments 0 and 1 are lost; 2-9 arrive and are SACKed: fast
	 * recovery resends 0 and 1 and sends 10-14; all of that is lost, and
	 * nothing comes back until the timeout. */
	uint8_t o[40];
	uint32_t e1[] = {SEG(2), SEG(5)};
	uint32_t e2[] = {SEG(2), SEG(10)};
	unsigned int n = h_opt_sack(o, e1, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(0), 65535, o, n, NULL, 0);
	n = h_opt_sack(o, e2, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(0), 65535, o, n, NULL, 0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_fast_retransmits], 1);
	CHECK(sent_seq(&h, SEG(0)) && sent_seq(&h, SEG(1)) && sent_seq(&h, SEG(14)));
	h_free_out(&h);
	advance_until_rto(&h, 1);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_rto_fired], 1);
	CHECK(sent_seq(&h, SEG(0)));
	h_free_out(&h);
	struct tcp_conn_info info;
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.cwnd, MSS);
	uint32_t ssthresh = info.ssthresh;
	CHECK(ssthresh > 2 * MSS);
	/* Segment 0 arrives: the window doubles; 1 is resent, 2-9 are
	 * skipped, 10 goes out. */
	n = h_opt_sack(o, e2, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(1), 65535, o, n, NULL, 0);
	h_poll(&h);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.cwnd, 2 * MSS);
	CHECK(sent_seq(&h, SEG(1)));
	CHECK(sent_seq(&h, SEG(10)));
	CHECK(!sent_seq(&h, SEG(2)) && !sent_seq(&h, SEG(9)));
	CHECK(!sent_seq(&h, SEG(11)));
	h_free_out(&h);
	/* The resent 1 is lost again; 10 arrives.  Three and more duplicate
	 * ACKs: no new fast recovery, no second reduction (which cut ssthresh
	 * to 2 MSS from the collapsed window), and with 1 the only
	 * segment in flight, 11 goes out (SND.NXT - SND.UNA counted the 8
	 * SACKed segments as in flight and sent nothing). */
	uint32_t e3[] = {SEG(2), SEG(11)};
	n = h_opt_sack(o, e3, 1);
	for (int i = 0; i < 4; i++)
		h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(1), 65535, o, n, NULL, 0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_fast_retransmits], 1);
	CHECK(!h.conn->in_recovery);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.ssthresh, ssthresh);
	CHECK(sent_seq(&h, SEG(11)));
	CHECK(!sent_seq(&h, SEG(12)));
	h_free_out(&h);
	/* Every hole was resent and 1 is still open well over an RTT later:
	 * it goes again at once, not after another timeout, and only it. */
	uint64_t lost_again = tcp_stack_counters(h.s)[TCP_COUNTER_lost_retransmits];
	h_advance(&h, 50);
	h_free_out(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_rto_fired], 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, SEG(1), 65535, o, n, NULL, 0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_lost_retransmits], lost_again + 1);
	CHECK(sent_seq(&h, SEG(1)));
	CHECK(!sent_seq(&h, SEG(2)) && !sent_seq(&h, SEG(10)));
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_fast_retransmits], 1);
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.ssthresh, ssthresh);
	h_free_out(&h);
	/* That is lost as well, and nothing comes back: a second timeout for
	 * the same data collapses the window again but keeps ssthresh (one
	 * reduction per episode; from the collapsed window it was 2 MSS). */
	advance_until_rto(&h, 2);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_rto_fired], 2);
	CHECK(sent_seq(&h, SEG(1)));
	tcp_conn_get_info(h.conn, &info);
	CHECK_EQ(info.cwnd, MSS);
	CHECK_EQ(info.ssthresh, ssthresh);
	h_free_out(&h);
	/* Everything out at the timeout (0-9) and what was sent since is
	 * acknowledged: the next loss is a new one and gets fast recovery. */
	uint32_t snd_max = h.conn->snd_max;
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, snd_max, 65535, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK(h.n_out >= 1);
	uint32_t lost = snd_max;
	h_free_out(&h);
	uint32_t high = h.conn->snd_max;
	CHECK(seq_geq(high, lost + 2 * MSS));
	for (uint32_t i = 1; i <= 3; i++) {
		uint32_t e[] = {lost + MSS, seq_min(lost + (i + 1) * MSS, high)};
		n = h_opt_sack(o, e, 1);
		h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, lost, 65535, o, n, NULL, 0);
	}
	h_poll(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_fast_retransmits], 2);
	CHECK(h.conn->in_recovery);
	CHECK(sent_seq(&h, lost));
	h_free_out(&h);
	h_fini(&h);
#undef SEG
}

static void test_zero_window_persist(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, MSS, -1, false, false);
	/* The peer closes its window. */
	inject_data(&h, 101, iss + 1, 0, NULL, 0, false);
	h_poll(&h);
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 3000)), 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 0);
	/* Probes at RTO, then backing off. */
	h_advance(&h, 201);
	CHECK_EQ(h.n_out, 1);
	struct h_seg p = h_last(&h);
	CHECK_EQ(p.len, 1);
	CHECK_EQ(p.seq, iss + 1);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_persist_probes], 1);
	/* Still zero: the probe is answered by an ACK of nothing new. */
	inject_data(&h, 101, iss + 1, 0, NULL, 0, false);
	h_free_out(&h);
	h_advance(&h, 350);
	CHECK_EQ(h.n_out, 0);
	h_advance(&h, 60);
	CHECK_EQ(h.n_out, 1);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_persist_probes], 2);
	/* The window opens: the data flows. */
	h_free_out(&h);
	inject_data(&h, 101, iss + 1, 5000, NULL, 0, false);
	h_poll(&h);
	uint32_t bytes = 0;
	for (unsigned int i = 0; i < h.n_out; i++)
		bytes += h_out(&h, i).len;
	CHECK_EQ(bytes, 3000);
	CHECK_EQ(h_out(&h, 0).seq, iss + 1);
	CHECK(memcmp(h_out(&h, 0).payload, pattern, h_out(&h, 0).len) == 0);
	h_fini(&h);
}

static void test_window_scaling_wrap(void)
{
	struct harness h;
	h_init(&h);
	uint32_t piss = 0xffffffffu - 20000;
	uint32_t iss = h_establish(&h, piss, MSS, 10, true, false);
	/* Their window field 3 with scale 10 allows 3072 bytes. */
	inject_data(&h, piss + 1, iss + 1, 3, NULL, 0, false);
	h_poll(&h);
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 10000)), 0);
	h_poll(&h);
	uint32_t bytes = 0;
	for (unsigned int i = 0; i < h.n_out; i++)
		bytes += h_out(&h, i).len;
	/* 3072 allowed; the sender's SWS rule (RFC 9293 3.8.6.2.1) holds back
	 * the 152-byte remainder. */
	CHECK_EQ(bytes, 2 * MSS);
	/* 100 KB from them across the 2^32 wrap, all in order. */
	uint32_t seq = piss + 1;
	for (int i = 0; i < 70; i++) {
		inject_data(&h, seq, iss + 1, 3, pattern + i * MSS, MSS, false);
		seq += MSS;
	}
	h_free_out(&h);
	h_poll(&h);
	CHECK(seq < piss); /* wrapped */
	CHECK_EQ(h.rx_len, 70 * MSS);
	CHECK(memcmp(h.rx, pattern, 70 * MSS) == 0);
	struct h_seg a = h_last(&h);
	CHECK_EQ(a.ack, seq);
	/* Our window field is scaled by 2^9: 4 MiB budget -> 8192. */
	CHECK_EQ(a.wnd, (4u << 20) >> TCP_OUR_WSCALE);
	/* Old data (before the wrap) is a duplicate: ACK, not delivered. */
	h_free_out(&h);
	inject_data(&h, piss + 1, iss + 1, 3, pattern, MSS, false);
	h_poll(&h);
	CHECK_EQ(h.rx_len, 70 * MSS);
	CHECK_EQ(h_last(&h).ack, seq);
	h_fini(&h);
}

static void test_receive_budget_and_delack(void)
{
	struct harness h;
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 16;
	config.rcv_budget = 4 * MSS;
	h_init_config(&h, &config);
	uint32_t iss = h_establish(&h, 100, MSS, -1, false, false);
	h.auto_read = false;
	uint32_t seq = 101;
	for (int i = 0; i < 4; i++) {
		inject_data(&h, seq, iss + 1, 5000, pattern + i * MSS, MSS, false);
		seq += MSS;
	}
	h_poll(&h);
	struct h_seg a = h_last(&h);
	CHECK_EQ(a.ack, seq);
	CHECK_EQ(a.wnd, 0); /* the application read nothing: window closed */
	/* Beyond the window: dropped and ACKed. */
	inject_data(&h, seq, iss + 1, 5000, pattern, MSS, false);
	h_poll(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_drop_rcv_window_full] +
	             tcp_stack_counters(h.s)[TCP_COUNTER_drop_out_of_window],
	         1);
	/* Reading reopens it with an update. */
	h_free_out(&h);
	h_drain(&h);
	CHECK_EQ(h.rx_len, 4 * MSS);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	CHECK_EQ(h_last(&h).wnd, 4 * MSS);
	/* After the quick-ACK phase a lone full segment waits for the
	 * delayed-ACK timer, a second one is ACKed at once. */
	tcp_set_receive_budget(h.conn, 1 << 20);
	h.auto_read = true;
	for (int i = 0; i < 20; i++) {
		inject_data(&h, seq, iss + 1, 5000, pattern, MSS, false);
		seq += MSS;
		h_poll(&h);
	}
	h_free_out(&h);
	inject_data(&h, seq, iss + 1, 5000, pattern, MSS, false);
	seq += MSS;
	h_poll(&h);
	CHECK_EQ(h.n_out, 0);
	h_advance(&h, 11);
	CHECK_EQ(h.n_out, 1);
	CHECK_EQ(h_last(&h).ack, seq);
	CHECK(tcp_stack_counters(h.s)[TCP_COUNTER_delayed_acks] >= 1);
	h_free_out(&h);
	/* A small pushed segment (a request) is ACKed at once. */
	inject_data(&h, seq, iss + 1, 5000, "GET", 3, true);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	h_fini(&h);
}

static void test_keepalive(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, MSS, -1, false, false);
	tcp_set_keepalive(h.conn, 1, 1, 2);
	h_advance(&h, 990);
	CHECK_EQ(h.n_out, 0);
	h_advance(&h, 20);
	CHECK_EQ(h.n_out, 1);
	struct h_seg k = h_last(&h);
	CHECK_EQ(k.seq, iss); /* SND.NXT - 1 (RFC 1122 4.2.3.6) */
	CHECK_EQ(k.len, 0);
	/* The peer answers: the connection lives, probing restarts after idle. */
	inject_data(&h, 101, iss + 1, 5000, NULL, 0, false);
	h_poll(&h);
	h_free_out(&h);
	h_advance(&h, 900);
	CHECK_EQ(h.n_out, 0);
	/* Silence: two probes a second apart, then the connection times out. */
	h_advance(&h, 3200);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_keepalive_probes], 3);
	CHECK_EQ(h.closed, 1);
	CHECK_EQ(h.closed_error, -ETIMEDOUT);
	CHECK_EQ(h_last(&h).flags & RTE_TCP_RST_FLAG, RTE_TCP_RST_FLAG);
	h_fini(&h);
}

/* With offloads: one TSO segment carries the initial window, marked for the
 * port with the pseudo-header checksum (length 0) and the MSS payload. */
static void test_offloads(void)
{
	struct harness h;
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 16;
	memset(&h, 0, sizeof(h));
	h_pool_only_init(&h, &config, true);
	uint32_t iss = h_establish(&h, 100, MSS, 7, true, true);
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 40000)), 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	struct rte_mbuf *m = h.out[0];
	const struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, const struct rte_tcp_hdr *);
	uint32_t hl = (uint32_t)(th->data_off >> 4) * 4;
	CHECK(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG);
	CHECK_EQ(m->tso_segsz, MSS - 12); /* timestamps take 12 bytes per segment */
	CHECK_EQ(m->l4_len, hl);
	CHECK_EQ(rte_pktmbuf_pkt_len(m) - hl, 10 * (MSS - 12)); /* IW10 */
	CHECK_EQ(rte_be_to_cpu_32(th->sent_seq), iss + 1);
	struct {
		rte_be32_t s, d;
		uint8_t z, p;
		rte_be16_t l;
	} __rte_packed ph = {h_addr(H_LOCAL), h_addr(H_PEER), 0, IPPROTO_TCP, 0};
	CHECK_EQ(th->cksum, rte_raw_cksum(&ph, sizeof(ph)));
	/* Zero copy: the payload is indirect mbufs on the application's data. */
	CHECK(m->next != NULL && RTE_MBUF_CLONED(m->next));
	/* The ACK lets the rest go, again as TSO segments. */
	h_free_out(&h);
	uint8_t o[40];
	unsigned int n = h_opt_ts(o, 2000, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, iss + 1 + 10 * (MSS - 12), 65535, o,
	         n, NULL, 0);
	h_poll(&h);
	CHECK(h.n_out >= 1);
	CHECK(h.n_out >= 1 && (h.out[0]->ol_flags & RTE_MBUF_F_TX_TCP_SEG));
	h_fini(&h);
}

/* Injects a data segment from the peer as an mbuf chain, the way net_memif
 * hands over a frame larger than one mbuf: the frame is built flat, summed,
 * then copied into segments of the given sizes (the last takes the rest).
 * first_cut is the size of the first mbuf counted from the TCP header.
 * flip, when not negative, flips a payload byte after summing. */
static void inject_chain(struct harness *h, uint32_t seq, uint32_t ack, const uint8_t *data,
                         uint32_t len, uint32_t first_cut, uint32_t piece, long flip)
{
	static uint8_t frame[70000];
	uint32_t tcp_len = (uint32_t)sizeof(struct rte_tcp_hdr) + len;
	memset(frame, 0, 34);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(frame + 14);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + tcp_len));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = h_addr(H_PEER);
	ip->dst_addr = h_addr(H_LOCAL);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	memset(th, 0, sizeof(*th));
	th->src_port = rte_cpu_to_be_16(H_SPORT);
	th->dst_port = rte_cpu_to_be_16(H_LPORT);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)((20 / 4) << 4);
	th->tcp_flags = RTE_TCP_ACK_FLAG;
	th->rx_win = rte_cpu_to_be_16(65535);
	memcpy(th + 1, data, len);
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	if (flip >= 0)
		((uint8_t *)(th + 1))[flip] ^= 0x10;
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t done = 0, total = 34 + tcp_len, cut = 34 + first_cut;
	while (done < total) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(h_pool);
		if (m == NULL)
			exit(1);
		uint32_t n = total - done < cut ? total - done : cut;
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), frame + done, n);
		done += n;
		cut = piece;
		if (head == NULL) {
			head = tail = m;
		} else {
			tail->next = m;
			tail = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
	}
	const struct rte_ipv4_hdr *hip = rte_pktmbuf_mtod_offset(head, struct rte_ipv4_hdr *, 14);
	rte_pktmbuf_adj(head, 34);
	tcp_stack_input(h->s, head, hip, h->now);
}

/* tcp_send_unsent counts queued bytes never sent: what the window holds
 * back, not what is in flight, resent after a timeout, or the FIN. */
static void test_send_unsent(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, MSS, -1, true, false);
	uint32_t s0 = iss + 1;
	CHECK_EQ(tcp_send_unsent(h.conn), 0);
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 14 * MSS)), 0);
	CHECK_EQ(tcp_send_unsent(h.conn), 14 * MSS);
	h_poll(&h);
	CHECK_EQ(h.n_out, 10); /* the initial window */
	h_free_out(&h);
	CHECK_EQ(tcp_send_unsent(h.conn), 4 * MSS);
	/* The timeout resends the first segment: still nothing new is out. */
	advance_until_rto(&h, 1);
	h_free_out(&h);
	CHECK_EQ(tcp_send_unsent(h.conn), 4 * MSS);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, s0 + 10 * MSS, 65535, NULL, 0, NULL,
	         0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 2); /* slow start again after the timeout */
	h_free_out(&h);
	CHECK_EQ(tcp_send_unsent(h.conn), 2 * MSS);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, s0 + 12 * MSS, 65535, NULL, 0, NULL,
	         0);
	h_poll(&h);
	h_free_out(&h);
	CHECK_EQ(tcp_send_unsent(h.conn), 0);
	CHECK_EQ(tcp_shutdown(h.conn), 0);
	h_poll(&h);
	h_free_out(&h);
	CHECK_EQ(tcp_send_unsent(h.conn), 0); /* the FIN is not a byte of data */
	h_fini(&h);
}

/* Pacing (tcp_pacing.c): once an RTT is known, a window that opens at once
 * leaves as bursts of at most 64 KiB spread at 2 x cwnd / SRTT in slow
 * start, not as one burst of the whole window; with pacing off it is one
 * burst. */
static void pacing_run(bool pacing)
{
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.pacing = pacing;
	struct harness h;
	h_init_config(&h, &config);
	uint32_t iss = h_establish(&h, 100, MSS, 7, true, false);
	CHECK_EQ(tcp_send(h.conn, h_data_mbuf(pattern, 600 * MSS)), 0);
	/* Slow start over 10 ms round trips until the window passes 64 KiB:
	 * each round, everything sent is acknowledged at once. */
	struct tcp_conn_info info;
	uint32_t sent = 0;
	for (int round = 0; round < 6; round++) {
		h_poll(&h);
		for (int ms = 0; ms < 10; ms++)
			h_advance(&h, 1);
		sent += h.n_out;
		h_free_out(&h);
		h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 101, iss + 1 + sent * MSS, 65535,
		         NULL, 0, NULL, 0);
		tcp_conn_get_info(h.conn, &info);
		if (info.cwnd > 2 * TCP_PACING_QUANTUM)
			break;
	}
	CHECK(info.srtt_us >= 1000);
	/* This ACK opens the whole window at once. */
	h_poll(&h);
	tcp_conn_get_info(h.conn, &info);
	uint32_t window_segments = info.cwnd / MSS;
	CHECK(window_segments > 2 * TCP_PACING_QUANTUM / MSS);
	if (!pacing) {
		CHECK_EQ(h.n_out, window_segments);
		h_free_out(&h);
		h_fini(&h);
		return;
	}
	/* 64 KiB back to back, then nothing until the schedule allows more. */
	uint32_t burst = (TCP_PACING_QUANTUM + MSS - 1) / MSS;
	CHECK_EQ(h.n_out, burst);
	h_poll(&h);
	CHECK_EQ(h.n_out, burst);
	/* The rest follows within the round trip (2 x cwnd / SRTT). */
	for (int ms = 0; ms < 10 && h.n_out < window_segments; ms++)
		h_advance(&h, 1);
	CHECK_EQ(h.n_out, window_segments);
	h_free_out(&h);
	h_fini(&h);
}

static void test_pacing(void)
{
	pacing_run(true);
	pacing_run(false);
}

/* Frames larger than an mbuf arrive as chains (net_memif with jumbo
 * frames): in order, out of order, overlapping old data across segment
 * boundaries, with a bad checksum in a later segment, with the header not
 * in the first mbuf; and the trusted-link mode that skips checksums. */
static void test_chained_segments(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, 1460, 7, true, false);
	uint32_t base = 101;
	const uint64_t *cnt = tcp_stack_counters(h.s);
	/* 6000 bytes in order: header + 100 bytes, then 2000-byte pieces. */
	inject_chain(&h, base, iss + 1, pattern, 6000, 20 + 100, 2000, -1);
	h_poll(&h);
	CHECK_EQ(h.rx_len, 6000);
	CHECK(memcmp(h.rx, pattern, 6000) == 0);
	CHECK_EQ(h_last(&h).ack, base + 6000);
	/* 9000..12000 before 6000..9000: held out of order, one SACK block. */
	h_free_out(&h);
	inject_chain(&h, base + 9000, iss + 1, pattern + 9000, 3000, 20, 1000, -1);
	h_poll(&h);
	CHECK_EQ(h.rx_len, 6000);
	struct h_seg a = h_last(&h);
	CHECK_EQ(a.ack, base + 6000);
	CHECK_EQ(a.opt.sack_count, 1);
	CHECK_EQ(a.opt.sack[0].start, base + 9000);
	CHECK_EQ(a.opt.sack[0].end, base + 12000);
	/* 5000..9500 fills the hole: 1000 old bytes trimmed off the front
	 * across the first two mbufs (500 + 700), 500 bytes already held
	 * overlap the tail. */
	inject_chain(&h, base + 5000, iss + 1, pattern + 5000, 4500, 20 + 500, 700, -1);
	h_poll(&h);
	CHECK_EQ(h.rx_len, 12000);
	CHECK(memcmp(h.rx, pattern, 12000) == 0);
	CHECK_EQ(h_last(&h).ack, base + 12000);
	/* A corrupted byte in the third mbuf: dropped by the checksum. */
	uint64_t bad = cnt[TCP_COUNTER_drop_bad_checksum];
	inject_chain(&h, base + 12000, iss + 1, pattern + 12000, 3000, 20, 1000, 2500);
	h_poll(&h);
	CHECK_EQ(cnt[TCP_COUNTER_drop_bad_checksum], bad + 1);
	CHECK_EQ(h.rx_len, 12000);
	/* The TCP header split over two mbufs: dropped, counted. */
	uint64_t shorts = cnt[TCP_COUNTER_drop_short];
	inject_chain(&h, base + 12000, iss + 1, pattern + 12000, 3000, 10, 1000, -1);
	h_poll(&h);
	CHECK_EQ(cnt[TCP_COUNTER_drop_short], shorts + 1);
	CHECK_EQ(h.rx_len, 12000);
	/* On a trusted link the same corrupted chain is taken as it is (no
	 * verification), and what we send carries only the pseudo-header
	 * sum, as Linux veth does with CHECKSUM_PARTIAL. */
	h.s->l4_checksum_trusted = true;
	h_free_out(&h);
	inject_chain(&h, base + 12000, iss + 1, pattern + 12000, 3000, 20, 1000, 2500);
	h_poll(&h);
	CHECK_EQ(cnt[TCP_COUNTER_drop_bad_checksum], bad + 1);
	CHECK_EQ(h.rx_len, 15000);
	CHECK(memcmp(h.rx, pattern, 14500) == 0);
	CHECK(h.rx[14500] == (pattern[14500] ^ 0x10));
	CHECK(h.n_out > 0);
	CHECK(!h_last(&h).cksum_ok);
	h_fini(&h);
}

int main(void)
{
	h_eal();
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 8));
	unsigned int start = rte_mempool_avail_count(h_pool);
	test_sack_generation();
	test_rto_backoff();
	test_fast_retransmit_sack_recovery();
	test_slow_start_stretch_acks();
	test_loss_after_timeout();
	test_send_unsent();
	test_pacing();
	test_zero_window_persist();
	test_window_scaling_wrap();
	test_receive_budget_and_delack();
	test_keepalive();
	test_offloads();
	test_chained_segments();
	CHECK_EQ(rte_mempool_avail_count(h_pool), start);
	return check_finish("tcp-data");
}
