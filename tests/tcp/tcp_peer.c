/* ftps-tcp-peer: a test tool (not shipped) that runs the userspace TCP stack
 * on the dataplane's port and worker loop and offers three services to
 * kernel clients:
 *   port 9  "sink":    reads everything; at the peer's FIN answers with the
 *                      SHA-256 of what arrived (64 hex digits and a newline)
 *                      and the byte count, then closes;
 *   port 7  echo:      returns every byte (backpressure: it stops reading
 *                      while the echo cannot be queued);
 *   port 10 discard:   reads and frees everything (benchmarks);
 *   port 19 pattern:   reads one line "N SEED\n" and sends N bytes of the
 *                      seeded pattern (tcp_pattern.h), then closes.
 * Modelled on dataplane/main.c: EAL arguments, "--", then options. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <rte_eal.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "config.h"
#include "net/port_bootstrap.h"
#include "tcp.h"
#include "tcp_link_opts.h"
#include "tcp_pattern.h"
#include "worker.h"

enum service { SERVICE_SINK, SERVICE_ECHO, SERVICE_PATTERN, SERVICE_DISCARD };

struct session {
	enum service service;
	struct tcp_stack *stack;
	EVP_MD_CTX *sha;
	uint64_t bytes;
	struct rte_mbuf *pending; /* echo: waiting for send space */
	char line[64];
	unsigned int line_len;
	uint64_t pattern_total, pattern_sent;
	struct pattern_buf *pbuf;
	bool closing;
};

static struct rte_mempool **pools;
static struct tcp_stack **stacks;
static unsigned int worker_count;
static uint64_t sessions_open, sessions_done, session_errors;
/* --verify-discard: the discard service compares what arrives with the
 * seed-1 pattern from offset 0 (what ftps-tcp-bench uploads). */
static struct tcp_pattern *verify_pattern;
static uint64_t verified_bytes, verify_mismatches;

static void verify_discard(struct session *s, const struct rte_mbuf *m)
{
	for (const struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
		uint32_t at = (uint32_t)(s->bytes % TCP_PATTERN_PERIOD);
		if (memcmp(rte_pktmbuf_mtod(seg, const void *), verify_pattern->block + at,
		           seg->data_len) != 0)
			verify_mismatches++;
		s->bytes += seg->data_len;
		verified_bytes += seg->data_len;
	}
}

static void session_end(struct tcp_conn *c, struct session *s)
{
	pattern_buf_put(s->pbuf);
	if (s->pending != NULL)
		rte_pktmbuf_free(s->pending);
	if (s->sha != NULL)
		EVP_MD_CTX_free(s->sha);
	free(s);
	if (c != NULL)
		tcp_close(c);
	__atomic_fetch_add(&sessions_done, 1, __ATOMIC_RELAXED);
}

static struct rte_mempool *pool_of(struct tcp_stack *stack)
{
	for (unsigned int i = 0; i < worker_count; i++)
		if (stacks[i] == stack)
			return pools[i];
	return pools[0];
}

static void pattern_pump(struct tcp_conn *c, struct session *s)
{
	struct rte_mempool *pool = pool_of(s->stack);
	while (s->pattern_sent < s->pattern_total && tcp_send_space(c) > 0) {
		uint64_t left = s->pattern_total - s->pattern_sent;
		/* Even-sized pieces: see pattern_buf_mbuf. */
		uint32_t chunk = left < 32768 ? (uint32_t)left : 32768;
		struct rte_mbuf *m = pattern_buf_mbuf(s->pbuf, pool, s->pattern_sent, chunk);
		if (m == NULL)
			return; /* pool dry: the next ACK (writable) retries */
		int rc = tcp_send(c, m);
		if (rc != 0) {
			rte_pktmbuf_free(m);
			return;
		}
		s->pattern_sent += chunk;
	}
	if (s->pattern_sent == s->pattern_total && !s->closing) {
		s->closing = true;
		session_end(c, s);
	}
}

static void echo_pump(struct tcp_conn *c, struct session *s)
{
	for (;;) {
		if (s->pending != NULL) {
			int rc = tcp_send(c, s->pending);
			if (rc == -EAGAIN)
				return; /* writable() brings us back; reading waits */
			if (rc != 0) {
				rte_pktmbuf_free(s->pending);
				s->pending = NULL;
				session_errors++;
				session_end(c, s);
				return;
			}
			s->pending = NULL;
		}
		s->pending = tcp_recv(c);
		if (s->pending == NULL)
			break;
		s->bytes += rte_pktmbuf_pkt_len(s->pending);
	}
	if (tcp_recv_eof(c))
		session_end(c, s);
}

static void on_readable(struct tcp_conn *c, void *context)
{
	struct session *s = context;
	switch (s->service) {
	case SERVICE_ECHO:
		echo_pump(c, s);
		return;
	case SERVICE_DISCARD: {
		struct rte_mbuf *m = tcp_recv(c);
		if (verify_pattern != NULL && m != NULL)
			verify_discard(s, m);
		rte_pktmbuf_free(m);
		if (tcp_recv_eof(c))
			session_end(c, s);
		return;
	}
	case SERVICE_SINK: {
		struct rte_mbuf *m = tcp_recv(c);
		for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
			EVP_DigestUpdate(s->sha, rte_pktmbuf_mtod(seg, void *), seg->data_len);
			s->bytes += seg->data_len;
		}
		rte_pktmbuf_free(m);
		if (tcp_recv_eof(c)) {
			unsigned char digest[32];
			unsigned int len = 0;
			EVP_DigestFinal_ex(s->sha, digest, &len);
			char reply[128];
			int n = 0;
			for (unsigned int i = 0; i < 32; i++)
				n += snprintf(reply + n, sizeof(reply) - (size_t)n, "%02x",
				              digest[i]);
			n += snprintf(reply + n, sizeof(reply) - (size_t)n, " %llu\n",
			              (unsigned long long)s->bytes);
			struct rte_mbuf *r = rte_pktmbuf_alloc(pool_of(s->stack));
			if (r != NULL) {
				memcpy(rte_pktmbuf_append(r, (uint16_t)n), reply, (size_t)n);
				if (tcp_send(c, r) != 0) {
					rte_pktmbuf_free(r);
					session_errors++;
				}
			}
			session_end(c, s);
		}
		return;
	}
	case SERVICE_PATTERN: {
		if (s->pattern_total > 0 || s->closing) {
			rte_pktmbuf_free(tcp_recv(c)); /* nothing more is expected */
			return;
		}
		struct rte_mbuf *m = tcp_recv(c);
		for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
			const char *d = rte_pktmbuf_mtod(seg, const char *);
			for (uint32_t i = 0; i < seg->data_len && s->line_len < sizeof(s->line) - 1;
			     i++)
				s->line[s->line_len++] = d[i];
		}
		rte_pktmbuf_free(m);
		s->line[s->line_len] = '\0';
		if (strchr(s->line, '\n') == NULL) {
			if (s->line_len >= sizeof(s->line) - 1 || tcp_recv_eof(c)) {
				session_errors++;
				session_end(c, s);
			}
			return;
		}
		unsigned long long total, seed;
		if (sscanf(s->line, "%llu %llu", &total, &seed) != 2 || total == 0) {
			session_errors++;
			session_end(c, s);
			return;
		}
		s->pbuf = pattern_buf_new(seed);
		if (s->pbuf == NULL) {
			session_errors++;
			session_end(c, s);
			return;
		}
		s->pattern_total = total;
		pattern_pump(c, s);
		return;
	}
	default:
		return;
	}
}

static void on_writable(struct tcp_conn *c, void *context)
{
	struct session *s = context;
	if (s->service == SERVICE_ECHO)
		echo_pump(c, s);
	else if (s->service == SERVICE_PATTERN)
		pattern_pump(c, s);
}

static void on_closed(struct tcp_conn *c, void *context, int error)
{
	(void)c;
	struct session *s = context;
	fprintf(stderr, "ftps-tcp-peer: connection failed: %s\n", strerror(-error));
	session_errors++;
	s->closing = true;
	session_end(NULL, s);
}

static const struct tcp_callbacks session_callbacks = {
    .readable = on_readable,
    .writable = on_writable,
    .closed = on_closed,
};

static int on_accepted(struct tcp_conn *c, void *listen_context)
{
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->service = (enum service)(uintptr_t)listen_context;
	if (s->service == SERVICE_SINK) {
		s->sha = EVP_MD_CTX_new();
		if (s->sha == NULL || EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1) {
			EVP_MD_CTX_free(s->sha);
			free(s);
			return -ENOMEM;
		}
	}
	struct tcp_conn_info info;
	tcp_conn_get_info(c, &info);
	for (unsigned int i = 0; i < worker_count; i++)
		if (tcp_conn_get_stack(c) == stacks[i])
			s->stack = stacks[i];
	tcp_conn_set_callbacks(c, &session_callbacks, s);
	__atomic_fetch_add(&sessions_open, 1, __ATOMIC_RELAXED);
	return 0;
}

static const struct tcp_callbacks listen_callbacks = {.accepted = on_accepted};

static volatile sig_atomic_t stop_requested;
static uint64_t stop_deadline_tsc;

static void on_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

/* On SIGTERM the peer drains: it stops once no connection is open (TIME_WAIT
 * aside) or after 5 s, so a test that stops it right after its clients
 * finished sees the final ACK/FIN exchanges complete. */
static unsigned int drain_poll(struct worker *w, void *context, uint64_t now_tsc)
{
	(void)w;
	(void)context;
	if (!stop_requested)
		return 0;
	if (stop_deadline_tsc == 0)
		stop_deadline_tsc = now_tsc + 5 * rte_get_tsc_hz();
	uint32_t open = 0;
	for (unsigned int i = 0; i < worker_count; i++)
		open +=
		    tcp_stack_connection_count(stacks[i]) - tcp_stack_time_wait_count(stacks[i]);
	if (open == 0 || now_tsc > stop_deadline_tsc)
		worker_quit = 1;
	return 0;
}

static void usage(const char *program)
{
	fprintf(stderr,
	        "usage: %s [EAL options] -- --address A.B.C.D/N [--impair-rx SPEC] "
	        "[--impair-tx SPEC] [--impair-seed N] [--cc cubic|newreno] [--mbufs N] [--no-tso] "
	        "[--no-offload] [--budget BYTES] [--mtu N] [--mbuf-room N] [--trusted-link] "
	        "[--verify-discard]\n",
	        program);
}

static unsigned int mbufs_in_use(void)
{
	unsigned int used = 0;
	for (unsigned int i = 0; i < worker_count; i++)
		used += rte_mempool_in_use_count(pools[i]);
	return used;
}

int main(int argc, char **argv)
{
	if (port_bootstrap_eal(&argc, &argv, "ftps-tcp-peer") < 0)
		return 1;
	struct dataplane_config config;
	dataplane_config_defaults(&config);
	config.mbufs_per_worker = 65535;
	enum tcp_cc_algorithm cc = TCP_CC_CUBIC;
	bool no_offload = false, no_tso = false;
	uint32_t budget = 1u << 20;
	static const struct option options[] = {
	    {"address", required_argument, NULL, 'a'},
	    {"impair-rx", required_argument, NULL, 'r'},
	    {"impair-tx", required_argument, NULL, 't'},
	    {"impair-seed", required_argument, NULL, 's'},
	    {"cc", required_argument, NULL, 'c'},
	    {"mbufs", required_argument, NULL, 'm'},
	    {"no-offload", no_argument, NULL, 'O'},
	    {"no-tso", no_argument, NULL, 'T'},
	    {"budget", required_argument, NULL, 'B'},
	    LINK_OPTIONS,
	    {"verify-discard", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct link_opts link;
	link_opts_defaults(&link);
	int opt;
	char error[512];
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int taken = link_opts_take(&link, opt, optarg, "ftps-tcp-peer");
		if (taken < 0)
			return 2;
		if (taken > 0)
			continue;
		const char *section = NULL, *key = NULL;
		switch (opt) {
		case 'a':
			section = "net", key = "address";
			break;
		case 'r':
			section = "impair", key = "rx";
			break;
		case 't':
			section = "impair", key = "tx";
			break;
		case 's':
			section = "impair", key = "seed";
			break;
		case 'm':
			section = "dataplane", key = "mbufs_per_worker";
			break;
		case 'V':
			verify_pattern = malloc(sizeof(*verify_pattern));
			if (verify_pattern == NULL)
				return 1;
			tcp_pattern_init(verify_pattern, 1);
			continue;
		case 'O':
			no_offload = true;
			continue;
		case 'T':
			no_tso = true;
			continue;
		case 'B':
			budget = (uint32_t)strtoul(optarg, NULL, 10);
			if (budget < 65536 || budget > (32u << 20)) {
				fprintf(stderr,
				        "ftps-tcp-peer: --budget: 65536 to 33554432 bytes\n");
				return 2;
			}
			continue;
		case 'c':
			if (strcmp(optarg, "newreno") == 0)
				cc = TCP_CC_NEWRENO;
			else if (strcmp(optarg, "cubic") != 0) {
				usage("ftps-tcp-peer");
				return 2;
			}
			continue;
		default:
			usage("ftps-tcp-peer");
			return 2;
		}
		if (dataplane_config_set(&config, section, key, optarg, error, sizeof(error)) !=
		    0) {
			fprintf(stderr, "ftps-tcp-peer: --%s: %s\n", key, error);
			return 2;
		}
	}
	if (dataplane_config_finish(&config, error, sizeof(error)) != 0) {
		fprintf(stderr, "ftps-tcp-peer: %s\n", error);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	struct port_bootstrap boot;
	if (link_bootstrap_open(&boot, &config, &link,
	                        (struct port_bootstrap_config){.pool_name = "peer_mbufs",
	                                                       .mbufs_option = "--mbufs"},
	                        "ftps-tcp-peer") != 0) {
		rte_eal_cleanup();
		return 1;
	}
	worker_count = boot.worker_count;
	pools = boot.pools;
	const struct port_info *port = &boot.port;
	struct worker *workers =
	    rte_zmalloc("workers", sizeof(struct worker) * worker_count, RTE_CACHE_LINE_SIZE);
	stacks = calloc(worker_count, sizeof(*stacks));
	if (workers == NULL || stacks == NULL)
		return 1;
	for (unsigned int i = 0; i < worker_count; i++) {
		struct worker *w = &workers[i];
		port_bootstrap_lcore(&boot, i, &w->net, &config.ip, &config.impair_rx,
		                     &config.impair_tx);
		if (no_tso || no_offload)
			w->net.tx_tcp_segmentation_offload = false;
		if (no_offload)
			w->net.tx_tcp_checksum_offload = false;
		worker_init(w, boot.lcores[i], 0);
		struct tcp_stack_config tc;
		tcp_stack_config_defaults(&tc);
		tc.cc = cc;
		tc.queue_id = (uint16_t)i;
		tc.queue_count = (uint16_t)worker_count;
		memcpy(tc.rss_key, port->rss_key, sizeof(tc.rss_key));
		tc.rss_key_len = port->rss_key_len;
		tc.max_connections = 4096;
		tc.time_wait_ms = 5000;
		/* Budgets sized so 1000 connections fit the pool. */
		tc.rcv_budget = budget;
		tc.snd_budget = budget;
		stacks[i] = tcp_stack_create(&tc, &w->net, error, sizeof(error));
		if (stacks[i] == NULL) {
			fprintf(stderr, "ftps-tcp-peer: %s\n", error);
			return 1;
		}
		tcp_stack_attach(stacks[i]);
		if (worker_add_poller(w, tcp_worker_poll, stacks[i]) != 0 ||
		    (i == 0 && worker_add_poller(w, drain_poll, NULL) != 0) ||
		    tcp_listen(stacks[i], 9, 0, &listen_callbacks,
		               (void *)(uintptr_t)SERVICE_SINK) ||
		    tcp_listen(stacks[i], 7, 0, &listen_callbacks,
		               (void *)(uintptr_t)SERVICE_ECHO) ||
		    tcp_listen(stacks[i], 10, 0, &listen_callbacks,
		               (void *)(uintptr_t)SERVICE_DISCARD) ||
		    tcp_listen(stacks[i], 19, 0, &listen_callbacks,
		               (void *)(uintptr_t)SERVICE_PATTERN)) {
			fprintf(stderr, "ftps-tcp-peer: cannot set up services\n");
			return 1;
		}
	}
	if (tcp_telemetry_register(stacks, worker_count) != 0)
		fprintf(stderr, "ftps-tcp-peer: telemetry registration failed\n");
	unsigned int start_in_use = mbufs_in_use();
	arp_send_gratuitous(&workers[0].net);
	net_flush(&workers[0].net);
	printf("ftps-tcp-peer: ready: port %s (%s) workers %u offloads tcp-cksum=%d tso=%d "
	       "impair-rx=%s impair-tx=%s mbufs-in-use %u\n",
	       port->name, port->driver, worker_count, port->tx_tcp_checksum, port->tx_tcp_tso,
	       workers[0].net.impair_rx.enabled ? config.impair_rx_spec : "off",
	       workers[0].net.impair_tx.enabled ? config.impair_tx_spec : "off", start_in_use);
	fflush(stdout);

	for (unsigned int i = 1; i < worker_count; i++)
		rte_eal_remote_launch(worker_main, &workers[i], boot.lcores[i]);
	worker_main(&workers[0]);
	rte_eal_mp_wait_lcore();

	uint32_t open = 0, time_wait = 0;
	uint64_t totals[TCP_COUNTER_COUNT] = {0};
	for (unsigned int i = 0; i < worker_count; i++) {
		open +=
		    tcp_stack_connection_count(stacks[i]) - tcp_stack_time_wait_count(stacks[i]);
		time_wait += tcp_stack_time_wait_count(stacks[i]);
		const uint64_t *c = tcp_stack_counters(stacks[i]);
		for (unsigned int k = 0; k < TCP_COUNTER_COUNT; k++)
			totals[k] += c[k];
	}
	for (unsigned int k = 0; k < NET_COUNTER_COUNT; k++) {
		uint64_t v = 0;
		for (unsigned int i = 0; i < worker_count; i++)
			v += workers[i].net.counters[k];
		if (v != 0 && strncmp(net_counter_names[k], "drop_", 5) == 0)
			printf("ftps-tcp-peer: net %s %llu\n", net_counter_names[k],
			       (unsigned long long)v);
	}
	for (unsigned int k = 0; k < TCP_COUNTER_COUNT; k++)
		if (totals[k] != 0)
			printf("ftps-tcp-peer: counter %s %llu\n", tcp_counter_names[k],
			       (unsigned long long)totals[k]);
	for (unsigned int i = 0; i < worker_count; i++) {
		tcp_stack_destroy(stacks[i]);
		net_lcore_release(&workers[i].net);
	}
	unsigned int end_in_use = mbufs_in_use();
	printf("ftps-tcp-peer: stopped: sessions %llu done %llu errors %llu; connections open %u "
	       "time-wait %u; mbufs-in-use start %u end %u\n",
	       (unsigned long long)sessions_open, (unsigned long long)sessions_done,
	       (unsigned long long)session_errors, open, time_wait, start_in_use, end_in_use);
	if (verify_pattern != NULL)
		printf("ftps-tcp-peer: discard verified %llu bytes, %llu mismatching mbufs\n",
		       (unsigned long long)verified_bytes, (unsigned long long)verify_mismatches);
	free(verify_pattern);
	fflush(stdout);
	port_bootstrap_close(&boot);
	pools = NULL;
	rte_free(workers);
	free(stacks);
	rte_eal_cleanup();
	return 0;
}
