/* Fuzz target for tcp_stack_input: arbitrary bytes become a segment (flags,
 * options, sequence numbers near or far from the connection's, payload)
 * aimed at a listener and at an established connection, with the clock
 * moving and the application sending in between.  Built for libFuzzer with
 * -Dfuzz=true; otherwise main() below runs it on seeded random inputs as a
 * unit test, and checks that every mbuf comes back to the pool. */
#include "tcp_harness.h"

static struct harness F;
static bool fuzz_ready;
static uint16_t next_sport = 20000;
static uint32_t peer_seq;
static uint8_t blob[4096];

static void fuzz_establish(void)
{
	uint16_t sport = next_sport++;
	if (next_sport > 60000)
		next_sport = 20000;
	uint8_t o[40];
	unsigned int n = h_opt_syn(o, 1460, 7, true, true, 1000, 0);
	h_free_out(&F);
	h_inject(&F, sport, H_LPORT, RTE_TCP_SYN_FLAG, 5000, 0, 65535, o, n, NULL, 0);
	h_poll(&F);
	if (F.n_out == 0)
		return;
	struct h_seg sa = h_last(&F);
	n = h_opt_ts(o, 1001, sa.opt.ts_val);
	h_inject(&F, sport, H_LPORT, RTE_TCP_ACK_FLAG, 5001, sa.seq + 1, 65535, o, n, NULL, 0);
	h_poll(&F);
	h_free_out(&F);
	peer_seq = 5001;
}

static void fuzz_init(void)
{
	h_eal();
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 256;
	config.syn_backlog = 8;
	h_init_config(&F, &config);
	if (tcp_listen(F.s, H_LPORT, 0, &h_callbacks, &F) != 0)
		exit(1);
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 13);
	fuzz_ready = true;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!fuzz_ready)
		fuzz_init();
	if (n < 20)
		return 0;
	if (F.conn == NULL)
		fuzz_establish();
	struct tcp_conn *c = F.conn;
	uint8_t sel = d[0];
	uint16_t sport = (uint16_t)(d[1] << 8 | d[2]);
	uint16_t dport = (sel & 0x80) ? (uint16_t)(d[3] << 8 | d[4]) : H_LPORT;
	uint32_t seq = get32(d + 5), ack = get32(d + 9);
	if (c != NULL && (sel & 1)) {
		sport = c->key.remote_port;
		/* Near the window edges, where the interesting checks are. */
		seq = c->rcv_nxt + (uint32_t)(int8_t)d[5] * 97;
		ack = c->snd_una + (uint32_t)(int8_t)d[9] * 131;
	}
	uint8_t flags = d[13];
	uint16_t wnd = (uint16_t)(d[14] << 8 | d[15]);
	unsigned int optlen = (d[16] % 11) * 4;
	size_t at = 17;
	uint8_t opts[40] = {0};
	for (unsigned int i = 0; i < optlen && at < n; i++)
		opts[i] = d[at++];
	uint32_t len = at < n ? (uint32_t)(n - at) : 0;
	if (len > 1400)
		len = 1400;
	h_inject(&F, sport, dport, flags, seq, ack, wnd, opts, optlen, d + at, len);
	if (sel & 2)
		F.now += h_ms(&F, d[6]);
	if ((sel & 4) && F.conn != NULL) {
		struct rte_mbuf *m = h_data_mbuf(blob, 1 + d[7] * 16u);
		if (tcp_send(F.conn, m) != 0)
			rte_pktmbuf_free(m); /* refused: still ours */
	}
	if ((sel & 0x18) == 0x18 && F.conn != NULL) {
		tcp_close(F.conn);
		F.conn = NULL;
	}
	h_poll(&F);
	h_free_out(&F);
	(void)peer_seq;
	return 0;
}

#ifndef TCP_FUZZ_LIBFUZZER
int main(int argc, char **argv)
{
	unsigned long iterations = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	fuzz_init();
	unsigned int start = rte_mempool_avail_count(h_pool);
	uint64_t x = 0x243f6a8885a308d3ull;
	uint8_t buf[256];
	for (unsigned long i = 0; i < iterations; i++) {
		size_t n = 20;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n += (size_t)(x % 200);
		for (size_t k = 0; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[k] = (uint8_t)(x >> 24);
		}
		/* Mostly well-formed option lists, so parsing goes deep. */
		if (i % 3 == 0) {
			buf[16] = 3;
			memcpy(buf + 17, (const uint8_t[]){1, 1, 8, 10}, 4);
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	const uint64_t *cnt = tcp_stack_counters(F.s);
	printf("fuzz: %lu inputs, %llu segments, %llu RST sent, %llu challenge ACKs, %llu bad "
	       "options, %llu accepted\n",
	       iterations, (unsigned long long)cnt[TCP_COUNTER_rx_segments],
	       (unsigned long long)cnt[TCP_COUNTER_tx_rst],
	       (unsigned long long)cnt[TCP_COUNTER_tx_challenge_ack],
	       (unsigned long long)cnt[TCP_COUNTER_drop_bad_options],
	       (unsigned long long)F.accepted);
	CHECK(cnt[TCP_COUNTER_rx_segments] >= iterations);
	CHECK(F.accepted > 0);
	if (F.conn != NULL)
		tcp_abort(F.conn);
	h_fini(&F);
	CHECK_EQ(rte_mempool_avail_count(h_pool), start);
	return check_finish("tcp-fuzz");
}
#endif
