/* Pieces of the stack on their own (timer wheel, option parser, SipHash,
 * sequence arithmetic) and two stacks talking through an in-memory wire
 * with seeded loss, reordering, duplication and corruption: both
 * directions must arrive byte-exact, and everything must be released. */
#include "net_checksum.h"
#include "tcp_harness.h"

static void count_fire(struct tcp_timer *t, void *ctx)
{
	(void)t;
	(*(unsigned int *)ctx)++;
}

static void test_timer_wheel(void)
{
	struct tcp_timer_wheel w;
	uint64_t tick = 1000, now = 5000000;
	tcp_wheel_init(&w, tick, now);
	struct tcp_timer a = {0}, b = {0}, far = {0};
	tcp_wheel_arm(&w, &a, now + 10 * tick);
	tcp_wheel_arm(&w, &b, now + 20 * tick);
	/* Further than one turn of the wheel: waits its turn. */
	tcp_wheel_arm(&w, &far, now + (TCP_WHEEL_SLOTS + 5) * tick);
	unsigned int fired = 0;
	CHECK_EQ(tcp_wheel_advance(&w, now + 9 * tick, count_fire, &fired), 0);
	CHECK_EQ(tcp_wheel_advance(&w, now + 10 * tick, count_fire, &fired), 1);
	tcp_wheel_cancel(&w, &b);
	CHECK_EQ(tcp_wheel_advance(&w, now + 100 * tick, count_fire, &fired), 0);
	CHECK_EQ(tcp_wheel_advance(&w, now + (TCP_WHEEL_SLOTS + 4) * tick, count_fire, &fired), 0);
	CHECK(far.armed);
	CHECK_EQ(tcp_wheel_advance(&w, now + (TCP_WHEEL_SLOTS + 5) * tick, count_fire, &fired), 1);
	CHECK_EQ(fired, 2);
	CHECK_EQ(w.armed_count, 0);
	/* A long idle gap: one pass still finds an overdue timer. */
	tcp_wheel_arm(&w, &a, now + 5000 * tick);
	CHECK_EQ(tcp_wheel_advance(&w, now + 90000 * tick, count_fire, &fired), 1);
}

static void test_options_parser(void)
{
	struct tcp_options o;
	const uint8_t good[] = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
	CHECK_EQ(tcp_parse_options(good, sizeof(good), true, &o), 0);
	CHECK(o.mss_present && o.mss == 1460 && o.ws_present && o.wscale == 7 && o.sack_permitted);
	CHECK(o.ts_present && o.ts_val == 1 && o.ts_ecr == 2);
	/* MSS and window scale only count on a SYN. */
	CHECK_EQ(tcp_parse_options(good, sizeof(good), false, &o), 0);
	CHECK(!o.mss_present && !o.ws_present && o.ts_present);
	const uint8_t ws_big[] = {3, 3, 20};
	CHECK_EQ(tcp_parse_options(ws_big, sizeof(ws_big), true, &o), 0);
	CHECK_EQ(o.wscale, 14); /* RFC 7323 2.3 */
	const uint8_t truncated[] = {8, 10, 0, 0};
	CHECK_EQ(tcp_parse_options(truncated, sizeof(truncated), false, &o), -1);
	const uint8_t zero_len[] = {30, 0};
	CHECK_EQ(tcp_parse_options(zero_len, sizeof(zero_len), false, &o), -1);
	const uint8_t bad_sack[] = {5, 7, 0, 0, 0, 1, 0};
	CHECK_EQ(tcp_parse_options(bad_sack, sizeof(bad_sack), false, &o), -1);
	const uint8_t lone_kind[] = {1, 1, 2};
	CHECK_EQ(tcp_parse_options(lone_kind, sizeof(lone_kind), true, &o), -1);
	const uint8_t eol[] = {0, 2, 0};
	CHECK_EQ(tcp_parse_options(eol, sizeof(eol), true, &o), 0);
	const uint8_t unknown[] = {99, 3, 1, 1};
	CHECK_EQ(tcp_parse_options(unknown, sizeof(unknown), true, &o), 0);
}

static void test_siphash_and_seq(void)
{
	/* Reference vectors of SipHash-2-4 (key 00..0f, message 00..n-1). */
	uint8_t key[16], msg[16];
	for (int i = 0; i < 16; i++)
		key[i] = msg[i] = (uint8_t)i;
	CHECK_EQ(tcp_siphash(key, msg, 0), 0x726fdb47dd0e0e31ull);
	CHECK_EQ(tcp_siphash(key, msg, 15), 0xa129ca6149be45e5ull);
	CHECK(seq_lt(0xfffffff0u, 0x10));
	CHECK(seq_gt(0x10, 0xfffffff0u));
	CHECK(seq_leq(5, 5) && seq_geq(5, 5));
	CHECK_EQ(seq_max(0xfffffff0u, 0x10), 0x10);
}

static void test_fast_checksum(void)
{
	/* Same folded sum as DPDK's reference for every length and alignment,
	 * through the portable and (on AVX2 CPUs) the vector path, up to the
	 * largest segment, and with all-ones data (the worst case for carries). */
	static uint8_t buf[70000];
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	unsigned int bad = 0;
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len < 2000; len += (len < 64 ? 1 : 37))
			if (net_checksum_raw(buf + off, len) != rte_raw_cksum(buf + off, len))
				bad++;
	for (size_t off = 0; off < 5; off++)
		for (size_t len = 2000; len < 66000; len += 4093)
			if (net_checksum_raw(buf + off, len) != rte_raw_cksum(buf + off, len) ||
			    net_checksum_raw_scalar(buf + off, len) !=
			        rte_raw_cksum(buf + off, len))
				bad++;
	CHECK_EQ(bad, 0);
	memset(buf, 0xff, sizeof(buf));
	CHECK_EQ(net_checksum_raw(buf, sizeof(buf)), rte_raw_cksum(buf, sizeof(buf)));
	CHECK_EQ(net_checksum_raw(buf + 1, 65535), rte_raw_cksum(buf + 1, 65535));
}

/* ---- two stacks over a lossy in-memory wire ---- */

struct wire_frame {
	struct rte_mbuf *m;
	int to; /* 0: stack A, 1: stack B */
};

struct pair {
	struct rte_mempool *pool;
	struct net_lcore nl[2];
	struct tcp_stack *s[2];
	uint64_t now;
	struct wire_frame q[8192];
	unsigned int qn;
	uint64_t rng;
	double loss, reorder, dup, corrupt;
	uint64_t lost, dups, corrupted, reordered;
	/* Application state. */
	struct tcp_conn *conn[2];
	uint64_t to_send[2], sent[2], received[2];
	bool shut[2], eof[2], bad_data[2];
	int closed_error[2];
	unsigned int closed[2];
};

static struct pair *P;

static double rnd(struct pair *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return (double)(p->rng >> 11) / (double)(1ull << 53);
}

static uint8_t pattern_byte(int from, uint64_t offset)
{
	return (uint8_t)((offset * 131 + (offset >> 9) + (uint64_t)from * 17) & 0xff);
}

static void wire_output(void *context, struct rte_mbuf *m, rte_be32_t dst, uint64_t now)
{
	struct pair *p = P;
	(void)now;
	(void)dst;
	int from = (int)(intptr_t)context;
	if (p->qn == RTE_DIM(p->q)) {
		rte_pktmbuf_free(m);
		return;
	}
	p->q[p->qn++] = (struct wire_frame){m, 1 - from};
}

/* A captured segment becomes a received frame at the other stack. */
static void deliver(struct pair *p, struct rte_mbuf *seg, int to)
{
	uint32_t len = rte_pktmbuf_pkt_len(seg);
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	char *buf = m == NULL ? NULL : rte_pktmbuf_append(m, (uint16_t)(34 + len));
	if (buf == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(buf, 0, 34);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + 14);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + len));
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = p->nl[1 - to].ip.address;
	ip->dst_addr = p->nl[to].ip.address;
	const void *data = rte_pktmbuf_read(seg, 0, len, buf + 34);
	if (data != buf + 34)
		memcpy(buf + 34, data, len);
	if (rnd(p) < p->corrupt) {
		buf[34 + (uint32_t)(rnd(p) * len)] ^= 0x10;
		p->corrupted++;
	}
	rte_pktmbuf_adj(m, 34);
	m->l2_len = 14;
	m->l3_len = 20;
	tcp_stack_input(p->s[to], m, ip, p->now);
}

static unsigned int wire_run(struct pair *p)
{
	unsigned int n = p->qn;
	if (n == 0)
		return 0;
	struct wire_frame batch[RTE_DIM(p->q)];
	memcpy(batch, p->q, sizeof(batch[0]) * n);
	p->qn = 0;
	for (unsigned int i = 0; i + 1 < n; i++)
		if (rnd(p) < p->reorder) {
			struct wire_frame t = batch[i];
			batch[i] = batch[i + 1];
			batch[i + 1] = t;
			p->reordered++;
		}
	for (unsigned int i = 0; i < n; i++) {
		if (rnd(p) < p->loss) {
			p->lost++;
		} else {
			deliver(p, batch[i].m, batch[i].to);
			if (rnd(p) < p->dup) {
				deliver(p, batch[i].m, batch[i].to);
				p->dups++;
			}
		}
		rte_pktmbuf_free(batch[i].m);
	}
	return n;
}

static int side_of(void *context)
{
	return (int)(intptr_t)context;
}

static void pump(struct tcp_conn *c, int side)
{
	struct pair *p = P;
	while (p->sent[side] < p->to_send[side]) {
		uint32_t space = tcp_send_space(c);
		if (space == 0)
			break;
		uint64_t left = p->to_send[side] - p->sent[side];
		uint32_t chunk = left < 16384 ? (uint32_t)left : 16384;
		struct rte_mbuf *head = NULL, *tail = NULL;
		for (uint32_t off = 0; off < chunk;) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
			if (m == NULL)
				goto out;
			uint32_t n = chunk - off > 2048 ? 2048 : chunk - off;
			uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
			for (uint32_t i = 0; i < n; i++)
				d[i] = pattern_byte(side, p->sent[side] + off + i);
			if (head == NULL) {
				head = tail = m;
			} else {
				tail->next = m;
				tail = m;
				head->nb_segs++;
				head->pkt_len += n;
			}
			off += n;
		}
		if (tcp_send(c, head) != 0) {
			rte_pktmbuf_free(head);
			break;
		}
		p->sent[side] += chunk;
	}
out:
	if (p->sent[side] == p->to_send[side] && !p->shut[side]) {
		p->shut[side] = true;
		tcp_shutdown(c);
		if (p->eof[side]) {
			tcp_close(c);
			p->conn[side] = NULL;
		}
	}
}

static void p_read(struct tcp_conn *c, int side)
{
	struct pair *p = P;
	struct rte_mbuf *m = tcp_recv(c);
	for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
		const uint8_t *d = rte_pktmbuf_mtod(seg, const uint8_t *);
		for (uint32_t i = 0; i < seg->data_len; i++)
			if (d[i] != pattern_byte(1 - side, p->received[side] + i))
				p->bad_data[side] = true;
		p->received[side] += seg->data_len;
	}
	rte_pktmbuf_free(m);
	if (tcp_recv_eof(c) && !p->eof[side]) {
		p->eof[side] = true;
		if (p->shut[side]) {
			tcp_close(c);
			p->conn[side] = NULL;
		}
	}
}

static void p_readable(struct tcp_conn *c, void *context)
{
	p_read(c, side_of(context));
}

static void p_writable(struct tcp_conn *c, void *context)
{
	pump(c, side_of(context));
}

static void p_connected(struct tcp_conn *c, void *context)
{
	pump(c, side_of(context));
}

static void p_closed(struct tcp_conn *c, void *context, int error)
{
	(void)c;
	int side = side_of(context);
	P->closed[side]++;
	P->closed_error[side] = error;
	P->conn[side] = NULL;
}

static const struct tcp_callbacks p_callbacks;

static int p_accepted(struct tcp_conn *c, void *context)
{
	(void)context;
	P->conn[1] = c;
	tcp_conn_set_callbacks(c, &p_callbacks, (void *)(intptr_t)1);
	pump(c, 1);
	return 0;
}

static const struct tcp_callbacks p_callbacks = {
    .accepted = p_accepted,
    .connected = p_connected,
    .readable = p_readable,
    .writable = p_writable,
    .closed = p_closed,
};

static void run_pair(enum tcp_cc_algorithm cc, double loss, double reorder, double dup,
                     double corrupt, uint64_t a_bytes, uint64_t b_bytes)
{
	struct pair *p = calloc(1, sizeof(*p));
	P = p;
	p->pool = h_pool;
	p->rng = 0x9e3779b97f4a7c15ull;
	p->loss = loss;
	p->reorder = reorder;
	p->dup = dup;
	p->corrupt = corrupt;
	p->to_send[0] = a_bytes;
	p->to_send[1] = b_bytes;
	unsigned int start = rte_mempool_avail_count(h_pool);
	for (int i = 0; i < 2; i++) {
		struct net_address_config ip = {h_addr(i == 0 ? H_LOCAL : H_PEER),
		                                h_addr("255.255.255.0"), 0, 1500};
		struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, (uint8_t)(i + 1)}};
		net_lcore_init(&p->nl[i], 0, 0, 0, &mac, &ip, h_pool);
		struct tcp_stack_config config;
		tcp_stack_config_defaults(&config);
		config.max_connections = 8;
		config.cc = cc;
		config.time_wait_ms = 50;
		config.rcv_budget = 1u << 20;
		config.snd_budget = 1u << 20;
		char err[128];
		p->s[i] = tcp_stack_create(&config, &p->nl[i], err, sizeof(err));
		CHECK(p->s[i] != NULL);
		tcp_stack_set_output(p->s[i], wire_output, (void *)(intptr_t)i);
	}
	p->now = rte_rdtsc();
	CHECK_EQ(tcp_listen(p->s[1], 9, 0, &p_callbacks, NULL), 0);
	int err;
	p->conn[0] =
	    tcp_connect(p->s[0], p->nl[1].ip.address, 9, &p_callbacks, (void *)(intptr_t)0, &err);
	CHECK(p->conn[0] != NULL);
	uint64_t tick = rte_get_tsc_hz() / 10000; /* 100 us of simulated time per round */
	uint64_t rounds = 0;
	while (rounds < 20000000) {
		rounds++;
		p->now += tick;
		unsigned int work =
		    tcp_stack_poll(p->s[0], p->now) + tcp_stack_poll(p->s[1], p->now);
		work += wire_run(p);
		bool done = p->eof[0] && p->eof[1] && p->received[0] == b_bytes &&
		            p->received[1] == a_bytes && tcp_stack_connection_count(p->s[0]) == 0 &&
		            tcp_stack_connection_count(p->s[1]) == 0;
		if (done || p->closed[0] || p->closed[1])
			break;
		(void)work;
	}
	uint64_t sim_ms = rounds / 10;
	const uint64_t *ca = tcp_stack_counters(p->s[0]), *cb = tcp_stack_counters(p->s[1]);
	printf("pair %s loss=%.3f: %llu rounds (%llu ms simulated), lost %llu dup %llu reordered "
	       "%llu corrupted %llu; retransmits %llu/%llu, fast %llu/%llu, rto %llu/%llu, "
	       "bad-cksum %llu/%llu\n",
	       cc == TCP_CC_CUBIC ? "cubic" : "newreno", loss, (unsigned long long)rounds,
	       (unsigned long long)sim_ms, (unsigned long long)p->lost, (unsigned long long)p->dups,
	       (unsigned long long)p->reordered, (unsigned long long)p->corrupted,
	       (unsigned long long)ca[TCP_COUNTER_tx_retransmits],
	       (unsigned long long)cb[TCP_COUNTER_tx_retransmits],
	       (unsigned long long)ca[TCP_COUNTER_fast_retransmits],
	       (unsigned long long)cb[TCP_COUNTER_fast_retransmits],
	       (unsigned long long)ca[TCP_COUNTER_rto_fired],
	       (unsigned long long)cb[TCP_COUNTER_rto_fired],
	       (unsigned long long)ca[TCP_COUNTER_drop_bad_checksum],
	       (unsigned long long)cb[TCP_COUNTER_drop_bad_checksum]);
	for (int side = 0; side < 2; side++)
		for (uint32_t i = 0; i < 8; i++) {
			struct tcp_conn *c = &p->s[side]->conns[i];
			if (c->stack != NULL && c->state != TCP_CLOSED)
				printf("left on %d: %s app_owned=%d app_closed=%d fin_sent=%d "
				       "fin_rcvd=%d "
				       "una=%u nxt=%u max=%u sq=%u rto_at=%d eof=%d shut=%d\n",
				       side, tcp_state_names[c->state], c->app_owned, c->app_closed,
				       c->fin_sent, c->fin_received, c->snd_una, c->snd_nxt,
				       c->snd_max, c->sq_bytes, c->rto_at != 0, p->eof[side],
				       p->shut[side]);
		}
	CHECK_EQ(p->closed[0] + p->closed[1], 0);
	CHECK_EQ(p->received[1], a_bytes);
	CHECK_EQ(p->received[0], b_bytes);
	CHECK(!p->bad_data[0] && !p->bad_data[1]);
	CHECK(p->eof[0] && p->eof[1]);
	CHECK_EQ(tcp_stack_connection_count(p->s[0]), 0);
	CHECK_EQ(tcp_stack_connection_count(p->s[1]), 0);
	if (loss > 0)
		CHECK(ca[TCP_COUNTER_tx_retransmits] + cb[TCP_COUNTER_tx_retransmits] > 0);
	if (corrupt > 0)
		CHECK(ca[TCP_COUNTER_drop_bad_checksum] + cb[TCP_COUNTER_drop_bad_checksum] > 0);
	for (unsigned int i = 0; i < p->qn; i++)
		rte_pktmbuf_free(p->q[i].m);
	tcp_stack_destroy(p->s[0]);
	tcp_stack_destroy(p->s[1]);
	CHECK_EQ(rte_mempool_avail_count(h_pool), start);
	free(p);
}

int main(void)
{
	h_eal();
	test_timer_wheel();
	test_options_parser();
	test_siphash_and_seq();
	test_fast_checksum();
	run_pair(TCP_CC_CUBIC, 0, 0, 0, 0, 8u << 20, 2u << 20);
	run_pair(TCP_CC_CUBIC, 0.02, 0.01, 0.005, 0.001, 8u << 20, 4u << 20);
	run_pair(TCP_CC_NEWRENO, 0.02, 0.01, 0.005, 0.001, 4u << 20, 4u << 20);
	return check_finish("tcp-units");
}
