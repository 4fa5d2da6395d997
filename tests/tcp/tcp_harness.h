/* Packet-level test harness for the TCP stack: crafted segments in
 * (tcp_stack_input), emitted segments captured (tcp_stack_set_output), on a
 * fake clock (the tests choose every now_tsc).  EAL runs without hugepages
 * or devices, only for the mempool. */
#ifndef FTPS_TEST_TCP_HARNESS_H
#define FTPS_TEST_TCP_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "check.h"
#include "net_lcore.h"
#include "tcp.h"
#include "tcp_internal.h"

#define H_LOCAL   "198.18.0.1"
#define H_PEER    "198.18.0.2"
#define H_MAX_OUT 4096
#define H_RX_MAX  (1 << 22)

struct h_seg {
	uint32_t seq, ack, wnd, len;
	uint8_t flags;
	struct tcp_options opt;
	bool cksum_ok;
	uint8_t payload[2048];
};

struct harness {
	struct rte_mempool *pool;
	struct net_lcore nl;
	struct tcp_stack *s;
	uint64_t now;
	struct rte_mbuf *out[H_MAX_OUT];
	unsigned int n_out;
	/* Events seen. */
	unsigned int accepted, connected, readable, writable, closed;
	int closed_error;
	struct tcp_conn *conn;
	bool auto_read;
	uint8_t *rx;
	uint32_t rx_len;
	bool rx_eof;
	int accept_result;
};

static struct rte_mempool *h_pool;

static inline void h_eal(void)
{
	char *args[] = {"test", "--no-huge", "--no-pci", "--no-shconf",       "-m",
	                "256",  "-l",        "0",        "--log-level=error", NULL};
	if (rte_eal_init(9, args) < 0) {
		fprintf(stderr, "EAL init failed\n");
		exit(1);
	}
	h_pool = rte_pktmbuf_pool_create("h_pool", 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (h_pool == NULL) {
		fprintf(stderr, "pool failed\n");
		exit(1);
	}
}

static rte_be32_t h_addr(const char *a)
{
	struct in_addr in;
	inet_pton(AF_INET, a, &in);
	return in.s_addr;
}

static inline void h_capture(void *context, struct rte_mbuf *m, rte_be32_t destination,
                             uint64_t now)
{
	struct harness *h = context;
	(void)now;
	if (destination != h_addr(H_PEER) || h->n_out == H_MAX_OUT) {
		rte_pktmbuf_free(m);
		return;
	}
	h->out[h->n_out++] = m;
}

static inline int h_accepted(struct tcp_conn *c, void *context)
{
	struct harness *h = context;
	h->accepted++;
	h->conn = c;
	return h->accept_result;
}

static inline void h_connected(struct tcp_conn *c, void *context)
{
	struct harness *h = context;
	(void)c;
	h->connected++;
}

static inline void h_drain(struct harness *h)
{
	struct rte_mbuf *m = tcp_recv(h->conn);
	if (m != NULL) {
		for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
			if (h->rx_len + seg->data_len <= H_RX_MAX)
				memcpy(h->rx + h->rx_len, rte_pktmbuf_mtod(seg, void *),
				       seg->data_len);
			h->rx_len += seg->data_len;
		}
		rte_pktmbuf_free(m);
	}
	if (tcp_recv_eof(h->conn))
		h->rx_eof = true;
}

static inline void h_readable(struct tcp_conn *c, void *context)
{
	struct harness *h = context;
	(void)c;
	h->readable++;
	if (h->auto_read)
		h_drain(h);
}

static inline void h_writable(struct tcp_conn *c, void *context)
{
	struct harness *h = context;
	(void)c;
	h->writable++;
}

static inline void h_closed(struct tcp_conn *c, void *context, int error)
{
	struct harness *h = context;
	(void)c;
	h->closed++;
	h->closed_error = error;
	h->conn = NULL;
}

static const struct tcp_callbacks h_callbacks = {
    .accepted = h_accepted,
    .connected = h_connected,
    .readable = h_readable,
    .writable = h_writable,
    .closed = h_closed,
};

static inline void h_free_out(struct harness *h)
{
	for (unsigned int i = 0; i < h->n_out; i++)
		rte_pktmbuf_free(h->out[i]);
	h->n_out = 0;
}

static inline void h_init_config(struct harness *h, const struct tcp_stack_config *config)
{
	memset(h, 0, sizeof(*h));
	h->pool = h_pool;
	struct net_address_config ip = {h_addr(H_LOCAL), h_addr("255.255.255.0"), 0, 1500};
	struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 1}};
	net_lcore_init(&h->nl, 0, 0, 0, &mac, &ip, h_pool);
	char err[128];
	h->s = tcp_stack_create(config, &h->nl, err, sizeof(err));
	if (h->s == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	tcp_stack_set_output(h->s, h_capture, h);
	h->now = rte_rdtsc();
	h->auto_read = true;
	h->rx = calloc(1, H_RX_MAX);
}

static inline void h_init(struct harness *h)
{
	struct tcp_stack_config config;
	tcp_stack_config_defaults(&config);
	config.max_connections = 64;
	h_init_config(h, &config);
}

static inline void h_fini(struct harness *h)
{
	h_free_out(h);
	tcp_stack_destroy(h->s);
	h_free_out(h);
	free(h->rx);
}

static uint64_t h_ms(struct harness *h, uint64_t ms)
{
	(void)h;
	return ms * (rte_get_tsc_hz() / 1000);
}

static inline void h_poll(struct harness *h)
{
	tcp_stack_poll(h->s, h->now);
}

static inline void h_advance(struct harness *h, uint64_t ms)
{
	/* Step in 1 ms ticks, as the poll loop would. */
	for (uint64_t i = 0; i < ms; i++) {
		h->now += h_ms(h, 1);
		h_poll(h);
	}
}

/* Injects one segment from the peer (H_PEER:peer_port -> H_LOCAL:port). */
static inline void h_inject(struct harness *h, uint16_t sport, uint16_t dport, uint8_t flags,
                            uint32_t seq, uint32_t ack, uint16_t wnd, const uint8_t *opts,
                            unsigned int optlen, const void *payload, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(h_pool);
	if (m == NULL) {
		fprintf(stderr, "inject: no mbuf\n");
		exit(1);
	}
	uint32_t tcp_len = (uint32_t)sizeof(struct rte_tcp_hdr) + optlen + len;
	char *p = rte_pktmbuf_append(m, (uint16_t)(14 + 20 + tcp_len));
	if (p == NULL)
		exit(1);
	memset(p, 0, 14 + 20);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + tcp_len));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = h_addr(H_PEER);
	ip->dst_addr = h_addr(H_LOCAL);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	th->src_port = rte_cpu_to_be_16(sport);
	th->dst_port = rte_cpu_to_be_16(dport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)(((20 + optlen) / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
	if (optlen > 0)
		memcpy(th + 1, opts, optlen);
	if (len > 0)
		memcpy((uint8_t *)(th + 1) + optlen, payload, len);
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	rte_pktmbuf_adj(m, 34);
	m->l2_len = 14;
	m->l3_len = 20;
	tcp_stack_input(h->s, m, ip, h->now);
}

/* Parses captured segment i. */
static inline struct h_seg h_out(struct harness *h, unsigned int i)
{
	struct h_seg seg;
	memset(&seg, 0, sizeof(seg));
	if (i >= h->n_out) {
		fprintf(stderr, "h_out: segment %u of %u\n", i, h->n_out);
		check_failed++;
		return seg;
	}
	struct rte_mbuf *m = h->out[i];
	const struct rte_tcp_hdr *th = rte_pktmbuf_mtod(m, const struct rte_tcp_hdr *);
	uint32_t hl = (uint32_t)(th->data_off >> 4) * 4;
	seg.seq = rte_be_to_cpu_32(th->sent_seq);
	seg.ack = rte_be_to_cpu_32(th->recv_ack);
	seg.wnd = rte_be_to_cpu_16(th->rx_win);
	seg.flags = th->tcp_flags;
	seg.len = rte_pktmbuf_pkt_len(m) - hl;
	tcp_parse_options((const uint8_t *)(th + 1), hl - 20, (seg.flags & RTE_TCP_SYN_FLAG) != 0,
	                  &seg.opt);
	uint32_t n = seg.len < sizeof(seg.payload) ? seg.len : sizeof(seg.payload);
	const void *data = rte_pktmbuf_read(m, hl, n, seg.payload);
	if (data != NULL && data != seg.payload)
		memcpy(seg.payload, data, n);
	/* Software checksum (the harness port offers no offload). */
	uint16_t raw = 0;
	rte_raw_cksum_mbuf(m, 0, rte_pktmbuf_pkt_len(m), &raw);
	struct {
		rte_be32_t s, d;
		uint8_t z, p;
		rte_be16_t l;
	} __rte_packed ph = {h_addr(H_LOCAL), h_addr(H_PEER), 0, IPPROTO_TCP,
	                     rte_cpu_to_be_16((uint16_t)rte_pktmbuf_pkt_len(m))};
	uint32_t sum = (uint32_t)raw + rte_raw_cksum(&ph, sizeof(ph));
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	seg.cksum_ok = sum == 0xffff;
	return seg;
}

static inline struct h_seg h_last(struct harness *h)
{
	return h_out(h, h->n_out - 1);
}

/* Option builders for injected segments. */
static inline unsigned int h_opt_ts(uint8_t *p, uint32_t val, uint32_t ecr)
{
	p[0] = 1;
	p[1] = 1;
	p[2] = 8;
	p[3] = 10;
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)(val >> (24 - 8 * i));
		p[8 + i] = (uint8_t)(ecr >> (24 - 8 * i));
	}
	return 12;
}

static inline unsigned int h_opt_syn(uint8_t *p, int mss, int ws, bool sack, bool ts,
                                     uint32_t tsval, uint32_t tsecr)
{
	unsigned int n = 0;
	if (mss > 0) {
		p[n++] = 2;
		p[n++] = 4;
		p[n++] = (uint8_t)(mss >> 8);
		p[n++] = (uint8_t)mss;
	}
	if (ws >= 0) {
		p[n++] = 1;
		p[n++] = 3;
		p[n++] = 3;
		p[n++] = (uint8_t)ws;
	}
	if (sack) {
		p[n++] = 1;
		p[n++] = 1;
		p[n++] = 4;
		p[n++] = 2;
	}
	if (ts)
		n += h_opt_ts(p + n, tsval, tsecr);
	return n;
}

static inline unsigned int h_opt_sack(uint8_t *p, const uint32_t *edges, unsigned int blocks)
{
	unsigned int n = 0;
	p[n++] = 1;
	p[n++] = 1;
	p[n++] = 5;
	p[n++] = (uint8_t)(2 + 8 * blocks);
	for (unsigned int b = 0; b < 2 * blocks; b++) {
		for (int i = 0; i < 4; i++)
			p[n++] = (uint8_t)(edges[b] >> (24 - 8 * i));
	}
	return n;
}

#define H_SPORT 40000
#define H_LPORT 5000

/* A passive connection, established: peer ISN piss, options as given.
 * Returns our ISS. */
static inline uint32_t h_establish(struct harness *h, uint32_t piss, int mss, int ws, bool sack,
                                   bool ts)
{
	CHECK_EQ(tcp_listen(h->s, H_LPORT, 0, &h_callbacks, h), 0);
	uint8_t o[40];
	unsigned int n = h_opt_syn(o, mss, ws, sack, ts, 1000, 0);
	h_inject(h, H_SPORT, H_LPORT, RTE_TCP_SYN_FLAG, piss, 0, 65535, o, n, NULL, 0);
	h_poll(h);
	struct h_seg synack = h_last(h);
	CHECK_EQ(synack.flags, RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
	CHECK_EQ(synack.ack, piss + 1);
	uint32_t iss = synack.seq;
	n = ts ? h_opt_ts(o, 1001, synack.opt.ts_val) : 0;
	h_inject(h, H_SPORT, H_LPORT, RTE_TCP_ACK_FLAG, piss + 1, iss + 1, 65535, o, n, NULL, 0);
	h_poll(h);
	CHECK_EQ(h->accepted, 1);
	CHECK(h->conn != NULL);
	h_free_out(h);
	return iss;
}

static inline struct rte_mbuf *h_data_mbuf(const void *data, uint32_t len)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	const uint8_t *p = data;
	while (len > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(h_pool);
		if (m == NULL)
			exit(1);
		uint32_t n = len > 2000 ? 2000 : len;
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), p, n);
		p += n;
		len -= n;
		if (head == NULL) {
			head = tail = m;
		} else {
			tail->next = m;
			tail = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
	}
	return head;
}

#endif
