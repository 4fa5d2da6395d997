/* Connection establishment and teardown at the packet level: handshakes
 * with each option combination, simultaneous open, RST and SYN handling
 * (RFC 5961), PAWS, half-close, TIME_WAIT, SYN cookies. */
#include <rte_thash.h>

#include "tcp_harness.h"

static void test_handshake_options(void)
{
	for (int combo = 0; combo < 16; combo++) {
		bool mss = combo & 1, ws = combo & 2, sack = combo & 4, ts = combo & 8;
		struct harness h;
		h_init(&h);
		CHECK_EQ(tcp_listen(h.s, H_LPORT, 0, &h_callbacks, &h), 0);
		uint8_t o[40];
		unsigned int n = h_opt_syn(o, mss ? 1400 : 0, ws ? 7 : -1, sack, ts, 5000, 0);
		h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_SYN_FLAG, 1000, 0, 65535, o, n, NULL, 0);
		h_poll(&h);
		CHECK_EQ(h.n_out, 1);
		struct h_seg sa = h_last(&h);
		CHECK(sa.cksum_ok);
		CHECK_EQ(sa.flags, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
		CHECK_EQ(sa.ack, 1001);
		CHECK(sa.opt.mss_present);
		CHECK_EQ(sa.opt.mss, 1460);
		/* RFC 7323 / 2018: only what the peer offered is answered. */
		CHECK_EQ(sa.opt.ws_present, ws);
		CHECK_EQ(sa.opt.sack_permitted, sack);
		CHECK_EQ(sa.opt.ts_present, ts);
		if (ts)
			CHECK_EQ(sa.opt.ts_ecr, 5000);
		if (ws)
			CHECK_EQ(sa.opt.wscale, TCP_OUR_WSCALE);
		n = ts ? h_opt_ts(o, 5001, sa.opt.ts_val) : 0;
		h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 1001, sa.seq + 1, 100, o, n, NULL,
		         0);
		h_poll(&h);
		CHECK_EQ(h.accepted, 1);
		struct tcp_conn_info info;
		tcp_conn_get_info(h.conn, &info);
		CHECK_EQ(info.timestamps, ts);
		CHECK_EQ(info.sack, sack);
		CHECK_EQ(info.window_scaling, ws);
		CHECK_EQ(info.snd_mss, mss ? 1400 : 536);
		/* The window of the first non-SYN segment is scaled. */
		CHECK_EQ(info.snd_wnd, ws ? 100u << 7 : 100u);
		CHECK(strcmp(info.state, "ESTABLISHED") == 0);
		h_fini(&h);
	}
}

static void test_active_open(void)
{
	struct harness h;
	h_init(&h);
	int err = 1;
	struct tcp_conn *c = tcp_connect(h.s, h_addr(H_PEER), 80, &h_callbacks, &h, &err);
	CHECK(c != NULL);
	CHECK_EQ(err, 0);
	h.conn = c;
	CHECK_EQ(h.n_out, 1);
	struct h_seg syn = h_last(&h);
	CHECK_EQ(syn.flags, RTE_TCP_SYN_FLAG);
	CHECK(syn.opt.mss_present && syn.opt.ws_present && syn.opt.sack_permitted &&
	      syn.opt.ts_present);
	struct tcp_conn_info info;
	tcp_conn_get_info(c, &info);
	CHECK(info.local_port >= 32768 && info.local_port <= 60999);
	uint8_t o[40];
	unsigned int n = h_opt_syn(o, 1460, 2, true, true, 777, syn.opt.ts_val);
	h_inject(&h, 80, info.local_port, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG, 9000, syn.seq + 1,
	         1000, o, n, NULL, 0);
	h_poll(&h);
	CHECK_EQ(h.connected, 1);
	struct h_seg ack = h_last(&h);
	CHECK_EQ(ack.flags, RTE_TCP_ACK_FLAG);
	CHECK_EQ(ack.seq, syn.seq + 1);
	CHECK_EQ(ack.ack, 9001);
	CHECK_EQ(ack.opt.ts_ecr, 777);
	/* SYN-ACK window is never scaled (RFC 7323 2.2). */
	tcp_conn_get_info(c, &info);
	CHECK_EQ(info.snd_wnd, 1000);
	/* A second connection gets another port. */
	struct tcp_conn *c2 = tcp_connect(h.s, h_addr(H_PEER), 80, &h_callbacks, &h, &err);
	struct tcp_conn_info info2;
	tcp_conn_get_info(c2, &info2);
	CHECK(info2.local_port != info.local_port);
	/* RST answering our SYN: refused. */
	h_free_out(&h);
	h_inject(&h, 80, info2.local_port, RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG, 0,
	         h.s->conns[0].iss, 0, NULL, 0, NULL, 0); /* wrong ack: ignored */
	h_poll(&h);
	CHECK_EQ(h.closed, 0);
	h_fini(&h);
}

static void test_simultaneous_open(void)
{
	struct harness h;
	h_init(&h);
	int err;
	struct tcp_conn *c = tcp_connect(h.s, h_addr(H_PEER), 7000, &h_callbacks, &h, &err);
	h.conn = c;
	struct h_seg syn = h_last(&h);
	struct tcp_conn_info info;
	tcp_conn_get_info(c, &info);
	uint8_t o[40];
	unsigned int n = h_opt_syn(o, 1460, -1, false, false, 0, 0);
	/* Their SYN crosses ours. */
	h_inject(&h, 7000, info.local_port, RTE_TCP_SYN_FLAG, 5555, 0, 8000, o, n, NULL, 0);
	h_poll(&h);
	struct h_seg sa = h_last(&h);
	CHECK_EQ(sa.flags, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
	CHECK_EQ(sa.seq, syn.seq); /* the same ISS */
	CHECK_EQ(sa.ack, 5556);
	tcp_conn_get_info(c, &info);
	CHECK(strcmp(info.state, "SYN_RECEIVED") == 0);
	CHECK_EQ(h.connected, 0);
	/* Their SYN,ACK acknowledges our SYN. */
	h_inject(&h, 7000, info.local_port, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG, 5555, syn.seq + 1,
	         8000, o, n, NULL, 0);
	h_poll(&h);
	tcp_conn_get_info(c, &info);
	CHECK(strcmp(info.state, "ESTABLISHED") == 0);
	CHECK_EQ(h.connected, 1);
	/* Simultaneous close: both FINs cross. */
	CHECK_EQ(tcp_shutdown(c), 0);
	h_free_out(&h);
	h_poll(&h);
	struct h_seg fin = h_last(&h);
	CHECK(fin.flags & RTE_TCP_FIN_FLAG);
	h_inject(&h, 7000, info.local_port, RTE_TCP_FIN_FLAG | RTE_TCP_ACK_FLAG, 5556, syn.seq + 1,
	         8000, NULL, 0, NULL, 0);
	h_poll(&h);
	tcp_conn_get_info(c, &info);
	CHECK(strcmp(info.state, "CLOSING") == 0);
	h_inject(&h, 7000, info.local_port, RTE_TCP_ACK_FLAG, 5557, fin.seq + 1, 8000, NULL, 0,
	         NULL, 0);
	h_poll(&h);
	tcp_conn_get_info(c, &info);
	CHECK(strcmp(info.state, "TIME_WAIT") == 0);
	CHECK_EQ(tcp_stack_time_wait_count(h.s), 1);
	tcp_close(c);
	h_fini(&h);
}

static void test_rst_rules(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, 1460, 7, true, false);
	uint32_t rcv_nxt = 101;
	/* In window but not exact: challenge ACK, connection survives. */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_RST_FLAG, rcv_nxt + 1000, 0, 0, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	struct h_seg ca = h_last(&h);
	CHECK_EQ(ca.flags, RTE_TCP_ACK_FLAG);
	CHECK_EQ(ca.seq, iss + 1);
	CHECK_EQ(ca.ack, rcv_nxt);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_tx_challenge_ack], 1);
	CHECK_EQ(h.closed, 0);
	/* Out of window: silently dropped. */
	h_free_out(&h);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_RST_FLAG, rcv_nxt + 50000000, 0, 0, NULL, 0, NULL,
	         0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 0);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_drop_rst_out_of_window], 1);
	CHECK_EQ(h.closed, 0);
	/* SYN on an established connection: challenge ACK (RFC 5961 4). */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_SYN_FLAG, rcv_nxt + 10, 0, 0, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	CHECK_EQ(h_last(&h).ack, rcv_nxt);
	CHECK_EQ(h.closed, 0);
	/* ACK for data never sent: ACKed and dropped. */
	h_free_out(&h);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, rcv_nxt, iss + 5000, 1000, NULL, 0, NULL,
	         0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_drop_ack_too_new], 1);
	/* Exact RST: reset reported. */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_RST_FLAG, rcv_nxt, 0, 0, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(h.closed, 1);
	CHECK_EQ(h.closed_error, -ECONNRESET);
	CHECK_EQ(tcp_stack_connection_count(h.s), 0);
	/* A segment for no connection and no listener draws an RST. */
	h_free_out(&h);
	h_inject(&h, 1234, 9999, RTE_TCP_ACK_FLAG, 1, 777, 0, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	struct h_seg rst = h_last(&h);
	CHECK_EQ(rst.flags, RTE_TCP_RST_FLAG);
	CHECK_EQ(rst.seq, 777);
	h_free_out(&h);
	h_inject(&h, 1234, 9999, RTE_TCP_SYN_FLAG, 50, 0, 0, NULL, 0, "ab", 2);
	h_poll(&h);
	rst = h_last(&h);
	CHECK_EQ(rst.flags, RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG);
	CHECK_EQ(rst.ack, 50 + 1 + 2);
	h_fini(&h);
}

static void test_paws(void)
{
	struct harness h;
	h_init(&h);
	uint32_t iss = h_establish(&h, 100, 1460, 7, true, true);
	uint8_t o[40];
	unsigned int n = h_opt_ts(o, 2000, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG, 101, iss + 1, 1000, o,
	         n, "hello", 5);
	h_poll(&h);
	CHECK_EQ(h.rx_len, 5);
	struct h_seg ack = h_last(&h);
	CHECK_EQ(ack.ack, 106);
	CHECK_EQ(ack.opt.ts_ecr, 2000);
	/* An older timestamp on a fresh sequence number: PAWS rejects it. */
	h_free_out(&h);
	n = h_opt_ts(o, 1500, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG, 106, iss + 1, 1000, o,
	         n, "old!!", 5);
	h_poll(&h);
	CHECK_EQ(h.rx_len, 5);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_drop_paws], 1);
	CHECK_EQ(h.n_out, 1); /* an ACK answers it */
	CHECK_EQ(h_last(&h).ack, 106);
	/* Timestamps wrap: 2^31 ahead is still newer. */
	n = h_opt_ts(o, 2000 + 0x7fff0000u, 1);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG, 106, iss + 1, 1000, o,
	         n, "new!!", 5);
	h_poll(&h);
	CHECK_EQ(h.rx_len, 10);
	CHECK(memcmp(h.rx, "hellonew!!", 10) == 0);
	h_fini(&h);
}

/* Every download ends with our FIN first, so a busy server collects
 * TIME_WAIT connections. At most half the table waits: past that the
 * oldest ends early, and new connections are still accepted when every
 * closed one would otherwise still be waiting out its 2 MSL. */
static void test_time_wait_holds_half_the_table(void)
{
	struct harness h;
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 8;
	config.time_wait_ms = 60000;
	h_init_config(&h, &config);
	CHECK_EQ(tcp_listen(h.s, H_LPORT, 0, &h_callbacks, &h), 0);
	for (uint16_t i = 0; i < 20; i++) {
		uint16_t sport = (uint16_t)(41000 + i);
		uint32_t piss = 1000u * i;
		h_free_out(&h);
		h_inject(&h, sport, H_LPORT, RTE_TCP_SYN_FLAG, piss, 0, 65535, NULL, 0, NULL, 0);
		h_poll(&h);
		CHECK_EQ(h.n_out, 1); /* a SYN-ACK: the table had room */
		struct h_seg synack = h_last(&h);
		CHECK_EQ(synack.flags, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
		h_inject(&h, sport, H_LPORT, RTE_TCP_ACK_FLAG, piss + 1, synack.seq + 1, 65535,
		         NULL, 0, NULL, 0);
		h_poll(&h);
		CHECK_EQ(h.accepted, (unsigned int)i + 1);
		/* Our FIN first, the peer's ACK and FIN: TIME_WAIT. */
		tcp_close(h.conn);
		h_free_out(&h);
		h_poll(&h);
		struct h_seg fin = h_last(&h);
		CHECK(fin.flags & RTE_TCP_FIN_FLAG);
		h_inject(&h, sport, H_LPORT, RTE_TCP_ACK_FLAG | RTE_TCP_FIN_FLAG, piss + 1,
		         fin.seq + 1, 65535, NULL, 0, NULL, 0);
		h_poll(&h);
		h_advance(&h, 5); /* the timer tick that ends the oldest */
		CHECK(tcp_stack_time_wait_count(h.s) <= 4);
		CHECK(tcp_stack_connection_count(h.s) <= 4);
	}
	CHECK_EQ(tcp_stack_time_wait_count(h.s), 4);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_time_wait_ended_early], 16);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_drop_conn_limit], 0);
	/* The ones left still wait out their full 2 MSL. */
	h_advance(&h, 59000);
	CHECK_EQ(tcp_stack_time_wait_count(h.s), 4);
	h_advance(&h, 1100);
	CHECK_EQ(tcp_stack_time_wait_count(h.s), 0);
	CHECK_EQ(tcp_stack_connection_count(h.s), 0);
	h_fini(&h);
}

static void test_half_close_and_time_wait(void)
{
	struct harness h;
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 16;
	config.time_wait_ms = 1000;
	h_init_config(&h, &config);
	uint32_t iss = h_establish(&h, 100, 1460, -1, false, false);
	struct tcp_conn *c = h.conn;
	/* Peer half-closes: we see EOF and can still send. */
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG | RTE_TCP_FIN_FLAG, 101, iss + 1, 5000,
	         NULL, 0, "req", 3);
	h_poll(&h);
	CHECK(h.rx_eof);
	CHECK_EQ(h.rx_len, 3);
	CHECK_EQ(h_last(&h).ack, 105);
	struct tcp_conn_info info;
	tcp_conn_get_info(c, &info);
	CHECK(strcmp(info.state, "CLOSE_WAIT") == 0);
	CHECK_EQ(tcp_send(c, h_data_mbuf("response", 8)), 0);
	tcp_close(c);
	h_free_out(&h);
	h_poll(&h);
	struct h_seg d = h_last(&h);
	CHECK_EQ(d.len, 8);
	CHECK(d.flags & RTE_TCP_FIN_FLAG);
	CHECK(memcmp(d.payload, "response", 8) == 0);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 105, iss + 10, 5000, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_connection_count(h.s), 0); /* LAST_ACK -> CLOSED */

	/* Active close: FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT. */
	h.accepted = 0;
	h.rx_eof = false;
	tcp_unlisten(h.s, H_LPORT);
	iss = h_establish(&h, 7000, 1460, -1, false, false);
	c = h.conn;
	tcp_close(c);
	h_free_out(&h);
	h_poll(&h);
	struct h_seg fin = h_last(&h);
	CHECK_EQ(fin.flags, RTE_TCP_FIN_FLAG | RTE_TCP_ACK_FLAG);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, 7001, fin.seq + 1, 5000, NULL, 0, NULL, 0);
	h_poll(&h);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG | RTE_TCP_FIN_FLAG, 7001, fin.seq + 1, 5000,
	         NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(h_last(&h).ack, 7002);
	CHECK_EQ(tcp_stack_time_wait_count(h.s), 1);
	/* A retransmitted FIN is ACKed again. */
	h_free_out(&h);
	h_advance(&h, 500);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG | RTE_TCP_FIN_FLAG, 7001, fin.seq + 1, 5000,
	         NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(h.n_out, 1);
	CHECK_EQ(h_last(&h).ack, 7002);
	/* ... and restarts 2 MSL: still there 700 ms later, gone after. */
	h_advance(&h, 700);
	CHECK_EQ(tcp_stack_time_wait_count(h.s), 1);
	h_advance(&h, 400);
	CHECK_EQ(tcp_stack_time_wait_count(h.s), 0);
	CHECK_EQ(tcp_stack_connection_count(h.s), 0);
	h_fini(&h);
}

static void test_syn_cookies(void)
{
	struct harness h;
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 16;
	config.syn_backlog = 1;
	h_init_config(&h, &config);
	CHECK_EQ(tcp_listen(h.s, H_LPORT, 0, &h_callbacks, &h), 0);
	uint8_t o[40];
	unsigned int n = h_opt_syn(o, 1460, 7, true, true, 100, 0);
	h_inject(&h, 1111, H_LPORT, RTE_TCP_SYN_FLAG, 10, 0, 65535, o, n, NULL, 0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_connection_count(h.s), 1); /* half-open, in the backlog */
	h_inject(&h, 2222, H_LPORT, RTE_TCP_SYN_FLAG, 20, 0, 65535, o, n, NULL, 0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_connection_count(h.s), 1); /* no state for the cookie */
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_tx_syn_cookies], 1);
	struct h_seg sa = h_last(&h);
	CHECK_EQ(sa.flags, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
	CHECK(sa.opt.ws_present && sa.opt.sack_permitted && sa.opt.ts_present);
	/* A forged ACK with a wrong cookie: RST, nothing created. */
	unsigned int tn = h_opt_ts(o, 101, sa.opt.ts_val);
	h_inject(&h, 2222, H_LPORT, RTE_TCP_ACK_FLAG, 21, sa.seq + 2, 1000, o, tn, NULL, 0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_drop_bad_cookie], 1);
	CHECK_EQ(h_last(&h).flags, RTE_TCP_RST_FLAG);
	CHECK_EQ(h.accepted, 0);
	/* The right cookie, with data: established, options restored. */
	h_inject(&h, 2222, H_LPORT, RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG, 21, sa.seq + 1, 1000, o,
	         tn, "cookie", 6);
	h_poll(&h);
	CHECK_EQ(h.accepted, 1);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_rx_syn_cookies_ok], 1);
	CHECK_EQ(h.rx_len, 6);
	struct tcp_conn_info info;
	tcp_conn_get_info(h.conn, &info);
	CHECK(info.sack && info.timestamps && info.window_scaling);
	CHECK_EQ(info.snd_wnd, 1000u << 7);
	CHECK_EQ(info.snd_mss, 1460);
	CHECK_EQ(h_last(&h).ack, 27);
	h_fini(&h);
}

static void test_refused_accept_and_limits(void)
{
	struct harness h;
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 2;
	config.syn_cookies = false;
	h_init_config(&h, &config);
	CHECK_EQ(tcp_listen(h.s, H_LPORT, 0, &h_callbacks, &h), 0);
	CHECK_EQ(tcp_listen(h.s, H_LPORT, 0, &h_callbacks, &h), -EADDRINUSE);
	for (uint16_t p = 1; p <= 3; p++)
		h_inject(&h, p, H_LPORT, RTE_TCP_SYN_FLAG, 10, 0, 65535, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(tcp_stack_connection_count(h.s), 2);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_drop_conn_limit], 1);
	/* The application refuses: the connection is reset. */
	h.accept_result = -EPERM;
	struct h_seg sa = h_out(&h, 0);
	h_free_out(&h);
	h_inject(&h, 1, H_LPORT, RTE_TCP_ACK_FLAG, 11, sa.seq + 1, 1000, NULL, 0, NULL, 0);
	h_poll(&h);
	CHECK_EQ(h.accepted, 1);
	CHECK_EQ(h_last(&h).flags & RTE_TCP_RST_FLAG, RTE_TCP_RST_FLAG);
	CHECK_EQ(tcp_stack_connection_count(h.s), 1);
	/* The SYN-ACK of the other is retransmitted, then it times out. */
	h_free_out(&h);
	h_advance(&h, 1100);
	CHECK(h.n_out >= 1);
	CHECK_EQ(h_last(&h).flags, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
	h_fini(&h);
}

static void test_challenge_ack_limit(void)
{
	struct harness h;
	h_init(&h);
	h_establish(&h, 100, 1460, 7, true, false);
	/* A blind attacker's in-window RSTs: at most 1000 challenge ACKs per
	 * second (RFC 5961 7), the rest counted. */
	for (int i = 0; i < 1500; i++)
		h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_RST_FLAG, 101 + 1000 + (uint32_t)i, 0, 0,
		         NULL, 0, NULL, 0);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_tx_challenge_ack], 1000);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_challenge_ack_limited], 500);
	CHECK_EQ(h.closed, 0);
	h_free_out(&h);
	h_advance(&h, 1001);
	h_inject(&h, H_SPORT, H_LPORT, RTE_TCP_RST_FLAG, 101 + 5, 0, 0, NULL, 0, NULL, 0);
	CHECK_EQ(tcp_stack_counters(h.s)[TCP_COUNTER_tx_challenge_ack], 1001);
	h_fini(&h);
}

/* Active opens pick local ports whose Toeplitz hash sends the replies to
 * the opening lcore's queue (rte_softrss with the port's key). */
static void test_rss_ports(void)
{
	static const uint8_t key[40] __rte_aligned(4) = {
	    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
	};
	struct harness h;
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 64;
	config.queue_count = 4;
	config.queue_id = 2;
	memcpy(config.rss_key, key, sizeof(key));
	config.rss_key_len = sizeof(key);
	h_init_config(&h, &config);
	uint16_t ports[32];
	unsigned int wrong = 0, dup = 0;
	for (int i = 0; i < 32; i++) {
		int err;
		struct tcp_conn *c = tcp_connect(h.s, h_addr(H_PEER), 443, &h_callbacks, &h, &err);
		CHECK(c != NULL);
		if (c == NULL)
			break;
		struct tcp_conn_info info;
		tcp_conn_get_info(c, &info);
		ports[i] = info.local_port;
		for (int k = 0; k < i; k++)
			if (ports[k] == ports[i])
				dup++;
		/* The reply: peer -> us. */
		struct rte_ipv4_tuple t;
		t.src_addr = rte_be_to_cpu_32(h_addr(H_PEER));
		t.dst_addr = rte_be_to_cpu_32(h_addr(H_LOCAL));
		t.sport = 443;
		t.dport = info.local_port;
		uint32_t hash = rte_softrss((uint32_t *)&t, RTE_THASH_V4_L4_LEN, key);
		if ((hash & 127) % 4 != 2)
			wrong++;
	}
	CHECK_EQ(wrong, 0);
	CHECK_EQ(dup, 0);
	h_fini(&h);
}

/* Closing a listener resets the connections it has not handed over yet
 * (half-open) and leaves accepted ones alone; with none left pending it has
 * nothing to reset. */
static void test_unlisten(void)
{
	struct harness h;
	h_init(&h);
	h_establish(&h, 3000, 1460, -1, false, false); /* accepted */
	h_inject(&h, H_SPORT + 1, H_LPORT, RTE_TCP_SYN_FLAG, 9000, 0, 65535, NULL, 0, NULL, 0);
	h_poll(&h);
	struct h_seg synack = h_last(&h);
	CHECK_EQ(synack.flags, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
	CHECK_EQ(tcp_stack_connection_count(h.s), 2);
	h_free_out(&h);
	CHECK_EQ(tcp_unlisten(h.s, H_LPORT), 0);
	CHECK_EQ(h.n_out, 1); /* one RST, for the half-open one */
	CHECK_EQ(h_last(&h).flags & RTE_TCP_RST_FLAG, RTE_TCP_RST_FLAG);
	CHECK_EQ(h_last(&h).seq, synack.seq + 1); /* the half-open one's */
	h_poll(&h);                               /* the closed connection is released */
	CHECK_EQ(tcp_stack_connection_count(h.s), 1);
	CHECK_EQ(tcp_unlisten(h.s, H_LPORT), -ENOENT);
	/* Listening again on the port: its SYN, then closing with nothing
	 * pending resets nobody. */
	h_free_out(&h);
	CHECK_EQ(tcp_listen(h.s, H_LPORT, 0, &h_callbacks, &h), 0);
	CHECK_EQ(tcp_unlisten(h.s, H_LPORT), 0);
	CHECK_EQ(h.n_out, 0);
	CHECK_EQ(tcp_stack_connection_count(h.s), 1);
	h_fini(&h);
}

int main(void)
{
	h_eal();
	unsigned int start = rte_mempool_avail_count(h_pool);
	test_handshake_options();
	test_active_open();
	test_simultaneous_open();
	test_rst_rules();
	test_paws();
	test_half_close_and_time_wait();
	test_time_wait_holds_half_the_table();
	test_syn_cookies();
	test_refused_accept_and_limits();
	test_challenge_ack_limit();
	test_rss_ports();
	test_unlisten();
	/* Every mbuf back in the pool. */
	CHECK_EQ(rte_mempool_avail_count(h_pool), start);
	return check_finish("tcp-states");
}
