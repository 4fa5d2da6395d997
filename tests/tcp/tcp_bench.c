/* ftps-tcp-bench: the client half of tools/bench-tcp.  One worker lcore runs
 * the userspace TCP stack on the first port (net_memif in the benchmark),
 * downloads N bytes from the peer's pattern service (port 19), then uploads
 * N bytes of the zero-copy pattern to its discard service (port 10).  It
 * prints one JSON line with bytes, seconds, Gbit/s and TSC cycles per byte
 * of this lcore for each direction.  A test and benchmark tool only. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "config.h"
#include "net/port_bootstrap.h"
#include "tcp.h"
#include "tcp_link_opts.h"
#include "tcp_pattern.h"
#include "worker.h"

enum phase { PHASE_START, PHASE_DOWNLOAD, PHASE_UPLOAD_START, PHASE_UPLOAD, PHASE_DONE };

static struct {
	struct tcp_stack *stack;
	struct rte_mempool *pool;
	rte_be32_t peer;
	uint64_t bytes;
	enum phase phase;
	struct tcp_conn *conn;
	uint64_t got, sent;
	bool shut;
	uint64_t t_start, t_end[2];
	uint64_t t_begin[2];
	uint64_t start_retry_tsc;
	struct pattern_buf *pbuf;
	int error;
	unsigned int cc;
	bool verify; /* compare the download with the seed-1 pattern */
	uint64_t mismatches;
} B;

static void finish_phase(int which)
{
	B.t_end[which] = rte_rdtsc();
	if (B.conn != NULL && getenv("FTPS_BENCH_DEBUG") != NULL) {
		struct tcp_conn_info i;
		tcp_conn_get_info(B.conn, &i);
		fprintf(stderr,
		        "phase %d: cwnd %u ssthresh %u snd_wnd %u rcv_wnd %u srtt %u us rto %u ms "
		        "retrans %llu\n",
		        which, i.cwnd, i.ssthresh, i.snd_wnd, i.rcv_wnd, i.srtt_us, i.rto_ms,
		        (unsigned long long)i.retransmits);
	}
	if (B.conn != NULL)
		tcp_close(B.conn);
	B.conn = NULL;
	B.phase = which == 0 ? PHASE_UPLOAD_START : PHASE_DONE;
}

static void pump(struct tcp_conn *c)
{
	while (B.sent < B.bytes && tcp_send_space(c) > 0) {
		uint64_t left = B.bytes - B.sent;
		uint32_t n = left < 32768 ? (uint32_t)left : 32768;
		struct rte_mbuf *m = pattern_buf_mbuf(B.pbuf, B.pool, B.sent, n);
		if (m == NULL)
			return;
		if (tcp_send(c, m) != 0) {
			rte_pktmbuf_free(m);
			return;
		}
		B.sent += n;
	}
	if (B.sent == B.bytes && !B.shut) {
		B.shut = true;
		tcp_shutdown(c);
	}
}

static void on_connected(struct tcp_conn *c, void *context)
{
	(void)context;
	if (B.phase == PHASE_DOWNLOAD) {
		char line[64];
		int n = snprintf(line, sizeof(line), "%" PRIu64 " 1\n", B.bytes);
		struct rte_mbuf *m = rte_pktmbuf_alloc(B.pool);
		if (m != NULL) {
			memcpy(rte_pktmbuf_append(m, (uint16_t)n), line, (size_t)n);
			if (tcp_send(c, m) != 0)
				rte_pktmbuf_free(m);
		}
		B.t_begin[0] = rte_rdtsc();
	} else {
		B.t_begin[1] = rte_rdtsc();
		pump(c);
	}
}

static void on_readable(struct tcp_conn *c, void *context)
{
	(void)context;
	struct rte_mbuf *m = tcp_recv(c);
	if (m != NULL && B.verify && B.phase == PHASE_DOWNLOAD) {
		uint64_t off = B.got;
		for (const struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
			uint32_t at = (uint32_t)(off % TCP_PATTERN_PERIOD);
			if (memcmp(rte_pktmbuf_mtod(seg, const void *), B.pbuf->pattern.block + at,
			           seg->data_len) != 0)
				B.mismatches++;
			off += seg->data_len;
		}
	}
	if (m != NULL) {
		B.got += rte_pktmbuf_pkt_len(m);
		rte_pktmbuf_free(m);
	}
	if (tcp_recv_eof(c))
		finish_phase(B.phase == PHASE_DOWNLOAD ? 0 : 1);
}

static void on_writable(struct tcp_conn *c, void *context)
{
	(void)context;
	if (B.phase == PHASE_UPLOAD)
		pump(c);
}

static void on_closed(struct tcp_conn *c, void *context, int error)
{
	(void)c;
	(void)context;
	fprintf(stderr, "ftps-tcp-bench: connection failed: %s\n", strerror(-error));
	B.error = error;
	B.conn = NULL;
	B.phase = PHASE_DONE;
}

static const struct tcp_callbacks callbacks = {
    .connected = on_connected,
    .readable = on_readable,
    .writable = on_writable,
    .closed = on_closed,
};

static unsigned int control_poll(struct worker *w, void *context, uint64_t now)
{
	(void)w;
	(void)context;
	int err = 0;
	switch (B.phase) {
	case PHASE_START:
		if (now < B.start_retry_tsc)
			return 0;
		B.conn = tcp_connect(B.stack, B.peer, 19, &callbacks, NULL, &err);
		if (B.conn == NULL) {
			B.error = err;
			B.phase = PHASE_DONE;
			return 0;
		}
		B.phase = PHASE_DOWNLOAD;
		return 1;
	case PHASE_UPLOAD_START:
		B.conn = tcp_connect(B.stack, B.peer, 10, &callbacks, NULL, &err);
		if (B.conn == NULL) {
			B.error = err;
			B.phase = PHASE_DONE;
			return 0;
		}
		B.phase = PHASE_UPLOAD;
		return 1;
	case PHASE_DONE:
		/* Let the last FIN/ACK go out, then stop. */
		if (B.t_start == 0)
			B.t_start = now;
		if (now - B.t_start > rte_get_tsc_hz() / 10)
			worker_quit = 1;
		return 0;
	default:
		return 0;
	}
}

int main(int argc, char **argv)
{
	if (port_bootstrap_eal(&argc, &argv, "ftps-tcp-bench") < 0)
		return 1;
	struct dataplane_config config;
	dataplane_config_defaults(&config);
	config.mbufs_per_worker = 65535;
	enum tcp_cc_algorithm cc = TCP_CC_CUBIC;
	static const struct option options[] = {
	    {"address", required_argument, NULL, 'a'},
	    {"peer", required_argument, NULL, 'p'},
	    {"bytes", required_argument, NULL, 'b'},
	    {"cc", required_argument, NULL, 'c'},
	    LINK_OPTIONS,
	    {"verify", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct link_opts link;
	link_opts_defaults(&link);
	char error[512];
	int opt;
	B.bytes = 1ull << 30;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int taken = link_opts_take(&link, opt, optarg, "ftps-tcp-bench");
		if (taken < 0)
			return 2;
		if (taken > 0)
			continue;
		switch (opt) {
		case 'a':
			if (dataplane_config_set(&config, "net", "address", optarg, error,
			                         sizeof(error)) != 0) {
				fprintf(stderr, "ftps-tcp-bench: %s\n", error);
				return 2;
			}
			break;
		case 'V':
			B.verify = true;
			break;
		case 'p':
			if (inet_pton(AF_INET, optarg, &B.peer) != 1) {
				fprintf(stderr, "ftps-tcp-bench: bad --peer\n");
				return 2;
			}
			break;
		case 'b':
			B.bytes = strtoull(optarg, NULL, 10);
			break;
		case 'c':
			cc = strcmp(optarg, "newreno") == 0 ? TCP_CC_NEWRENO : TCP_CC_CUBIC;
			break;
		default:
			fprintf(stderr,
			        "usage: ftps-tcp-bench [EAL] -- --address A/N --peer B "
			        "[--bytes N] [--mtu N] [--mbuf-room N] [--trusted-link] [--verify] "
			        "[--cc cubic|newreno]\n");
			return 2;
		}
	}
	if (dataplane_config_finish(&config, error, sizeof(error)) != 0 || B.peer == 0 ||
	    B.bytes == 0) {
		fprintf(stderr, "ftps-tcp-bench: need --address and --peer\n");
		return 2;
	}
	signal(SIGINT, SIG_DFL);
	struct port_bootstrap boot;
	if (link_bootstrap_open(
	        &boot, &config, &link,
	        (struct port_bootstrap_config){.worker_count = 1, .pool_name = "bench_mbufs"},
	        "ftps-tcp-bench") != 0) {
		rte_eal_cleanup();
		return 1;
	}
	B.pool = boot.pools[0];
	struct worker *w = rte_zmalloc("worker", sizeof(*w), RTE_CACHE_LINE_SIZE);
	B.pbuf = pattern_buf_new(1);
	if (w == NULL || B.pbuf == NULL) {
		fprintf(stderr, "ftps-tcp-bench: out of memory\n");
		return 1;
	}
	port_bootstrap_lcore(&boot, 0, &w->net, &config.ip, NULL, NULL);
	worker_init(w, boot.lcores[0], 0);
	struct tcp_stack_config tc;
	tcp_stack_config_defaults(&tc);
	tc.cc = cc;
	tc.max_connections = 64;
	tc.rcv_budget = 8u << 20;
	tc.snd_budget = 8u << 20;
	B.stack = tcp_stack_create(&tc, &w->net, error, sizeof(error));
	if (B.stack == NULL) {
		fprintf(stderr, "ftps-tcp-bench: %s\n", error);
		return 1;
	}
	tcp_stack_attach(B.stack);
	if (worker_add_poller(w, tcp_worker_poll, B.stack) != 0 ||
	    worker_add_poller(w, control_poll, NULL) != 0)
		return 1;
	/* Give the memif link a moment to come up before the first SYN. */
	B.start_retry_tsc = rte_rdtsc() + rte_get_tsc_hz() / 2;
	uint64_t t0 = rte_rdtsc();
	worker_main(w);
	uint64_t hz = rte_get_tsc_hz();
	double down_s = (double)(B.t_end[0] - B.t_begin[0]) / (double)hz;
	double up_s = (double)(B.t_end[1] - B.t_begin[1]) / (double)hz;
	bool ok = B.error == 0 && B.got == B.bytes && B.sent == B.bytes && B.t_end[1] != 0 &&
	          B.mismatches == 0;
	const uint64_t *cnt = tcp_stack_counters(B.stack);
	if (getenv("FTPS_BENCH_DEBUG") != NULL) {
		for (unsigned int k = 0; k < NET_COUNTER_COUNT; k++)
			if (w->net.counters[k] != 0)
				fprintf(stderr, "net %s %llu\n", net_counter_names[k],
				        (unsigned long long)w->net.counters[k]);
		for (unsigned int k = 0; k < TCP_COUNTER_COUNT; k++)
			if (cnt[k] != 0)
				fprintf(stderr, "tcp %s %llu\n", tcp_counter_names[k],
				        (unsigned long long)cnt[k]);
	}
	printf("{\"ok\": %s, \"bytes\": %" PRIu64 ", \"download_bytes\": %" PRIu64
	       ", \"download_s\": %.4f, \"download_gbit_s\": %.3f, \"download_cycles_per_byte\": "
	       "%.3f, \"upload_bytes\": %" PRIu64 ", \"upload_s\": %.4f, \"upload_gbit_s\": %.3f, "
	       "\"upload_cycles_per_byte\": %.3f, \"retransmits\": %" PRIu64
	       ", \"tsc_hz\": %" PRIu64
	       ", \"run_s\": %.2f, \"verified\": %s, \"mismatches\": %" PRIu64 "}\n",
	       ok ? "true" : "false", B.bytes, B.got, down_s,
	       down_s > 0 ? (double)B.got * 8 / down_s / 1e9 : 0,
	       B.got ? (double)(B.t_end[0] - B.t_begin[0]) / (double)B.got : 0, B.sent, up_s,
	       up_s > 0 ? (double)B.sent * 8 / up_s / 1e9 : 0,
	       B.sent ? (double)(B.t_end[1] - B.t_begin[1]) / (double)B.sent : 0,
	       cnt[TCP_COUNTER_tx_retransmits], hz, (double)(rte_rdtsc() - t0) / (double)hz,
	       B.verify ? "true" : "false", B.mismatches);
	fflush(stdout);
	tcp_stack_destroy(B.stack);
	net_lcore_release(&w->net);
	pattern_buf_put(B.pbuf);
	port_bootstrap_close(&boot);
	rte_free(w);
	rte_eal_cleanup();
	return ok ? 0 : 1;
}
