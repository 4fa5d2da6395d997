/* ftps-loadgen-dpdk: EAL set-up, the port and TCP stack on one lcore, the
 * poll loop with TSC accounting, and the report.
 *
 *   ftps-loadgen-dpdk [EAL options] -- --address A.B.C.D/N [--mtu N]
 *       [--mbufs N] [--record-mbufs N] [--link-wait SECONDS] [--idle-sleep-us N]
 *       LOADGEN OPTIONS
 *
 * LOADGEN OPTIONS are those of ftps-loadgen (--server, --workload, ...),
 * except --bind (the source address is --address). */
#include "lgd.h"

#include <getopt.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "config.h"
#include "net/mempool_prefault.h"
#include "net/port_bootstrap.h"
#include "worker.h"

/* Loops without work before an idle loop naps (as the dataplane's worker). */
#define LGD_IDLE_LOOPS_BEFORE_SLEEP 4096

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

struct dpdk_options {
	struct dataplane_config net; /* address, MTU, descriptors */
	unsigned int mbufs, record_mbufs;
	double link_wait;
	unsigned int idle_sleep_us; /* nap when idle (0: pure polling) */
	unsigned int budget;        /* TCP send and receive budget per connection */
};

/* Takes the DPDK-mode options out of argv (they are not the workload's);
 * what is left goes to lg_parse_options.  Returns the new argc or -1. */
static int take_dpdk_options(int argc, char **argv, struct dpdk_options *d)
{
	static const char *const names[] = {"--address",      "--mtu",       "--mbufs",
	                                    "--record-mbufs", "--link-wait", "--idle-sleep-us",
	                                    "--budget"};
	char error[256];
	int out = 1;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		if (strcmp(arg, "--trusted-link") == 0) {
			d->net.port_trusted_link = true; /* port_open allows it on memif only */
			continue;
		}
		if (strcmp(arg, "--help") == 0)
			printf("usage: ftps-loadgen-dpdk [EAL options] -- --address A.B.C.D/N "
			       "[--mtu N] [--trusted-link]\n"
			       "         [--mbufs N] [--record-mbufs N] [--link-wait SECONDS]\n"
			       "         [--idle-sleep-us N] [--budget BYTES]\n"
			       "         LOADGEN OPTIONS (below; no --bind)\n");
		int which = -1;
		for (int k = 0; k < (int)(sizeof(names) / sizeof(names[0])); k++) {
			size_t len = strlen(names[k]);
			if (strncmp(arg, names[k], len) == 0 &&
			    (arg[len] == '\0' || arg[len] == '=')) {
				which = k;
				if (arg[len] == '=')
					value = arg + len + 1;
				else if (i + 1 < argc)
					value = argv[++i];
				break;
			}
		}
		if (which < 0) {
			argv[out++] = argv[i];
			continue;
		}
		if (value == NULL) {
			fprintf(stderr, "ftps-loadgen-dpdk: %s needs a value\n", names[which]);
			return -1;
		}
		char *end = NULL;
		switch (which) {
		case 0:
		case 1:
			if (dataplane_config_set(&d->net, "net", which == 0 ? "address" : "mtu",
			                         value, error, sizeof(error)) != 0) {
				fprintf(stderr, "ftps-loadgen-dpdk: %s: %s\n", names[which], error);
				return -1;
			}
			break;
		case 2:
		case 3: {
			unsigned long v = strtoul(value, &end, 10);
			if (end == value || *end != '\0' || v < 1024 || v > 1048576) {
				fprintf(stderr, "ftps-loadgen-dpdk: %s: 1024 to 1048576\n",
				        names[which]);
				return -1;
			}
			if (which == 2)
				d->mbufs = (unsigned int)v;
			else
				d->record_mbufs = (unsigned int)v;
			break;
		}
		case 4:
			d->link_wait = strtod(value, &end);
			if (end == value || *end != '\0' || !(d->link_wait >= 0) ||
			    d->link_wait > 600) {
				fprintf(stderr, "ftps-loadgen-dpdk: bad --link-wait\n");
				return -1;
			}
			break;
		case 5: {
			unsigned long v = strtoul(value, &end, 10);
			if (end == value || *end != '\0' || v > 10000) {
				fprintf(stderr, "ftps-loadgen-dpdk: --idle-sleep-us: 0 to 10000\n");
				return -1;
			}
			d->idle_sleep_us = (unsigned int)v;
			break;
		}
		case 6: {
			unsigned long v = strtoul(value, &end, 10);
			if (end == value || *end != '\0' || v < 65536 || v > (32ul << 20)) {
				fprintf(stderr,
				        "ftps-loadgen-dpdk: --budget: 65536 to 33554432 bytes\n");
				return -1;
			}
			d->budget = (unsigned int)v;
			break;
		}
		default:
			return -1;
		}
	}
	argv[out] = NULL;
	return out;
}

static bool link_up(uint16_t port_id)
{
	struct rte_eth_link link;
	return rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

int main(int argc, char **argv)
{
	if (port_bootstrap_eal(&argc, &argv, "ftps-loadgen-dpdk") < 0)
		return 2;
	static struct lgd_run lr; /* large; zeroed */
	struct lg_run *run = &lr.run;
	run->epfd = -1;
	run->mode = "dpdk";
	struct dpdk_options d = {
	    .mbufs = 32767, .record_mbufs = 4096, .link_wait = 10, .budget = 4u << 20};
	dataplane_config_defaults(&d.net);
	argc = take_dpdk_options(argc, argv, &d);
	optind = 1;
	if (argc < 0 || lg_parse_options(argc, argv, &run->opt) != 0)
		return 2;
	char error[512];
	if (dataplane_config_finish(&d.net, error, sizeof(error)) != 0 || d.net.ip.address == 0) {
		fprintf(stderr, "ftps-loadgen-dpdk: --address A.B.C.D/N is needed (%s)\n", error);
		return 2;
	}
	if (run->opt.bind != NULL) {
		fprintf(stderr, "ftps-loadgen-dpdk: --bind has no meaning here; use --address\n");
		return 2;
	}
	if (lg_setup_common(run) != 0 || tls_import_ctx_setup(run->ctx) != 0) {
		ERR_print_errors_fp(stderr);
		return 2;
	}
	lr.server = run->server.sin_addr.s_addr;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	const struct port_bootstrap_config bootstrap_config = {
	    .worker_count = 1,
	    .pool_name = "lg_packets",
	    .mbufs_per_worker = d.mbufs,
	    .mbufs_option = "--mbufs",
	    .port = {.name = d.net.port_name,
	             .rx_descriptors = d.net.rx_descriptors,
	             .tx_descriptors = d.net.tx_descriptors,
	             .mtu = d.net.ip.mtu,
	             .trusted_link = d.net.port_trusted_link},
	};
	struct port_bootstrap boot;
	if (port_bootstrap_open(&boot, &bootstrap_config, error, sizeof(error)) != 0) {
		fprintf(stderr, "ftps-loadgen-dpdk: %s\n", error);
		rte_eal_cleanup();
		return 1;
	}
	lr.pool = boot.pools[0];
	const struct port_info *port = &boot.port;
	struct worker *w = rte_zmalloc("lg_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);
	lr.leftover = malloc(LGD_LEFTOVER_MAX);
	lr.record_pool = rte_pktmbuf_pool_create(
	    "lg_records", d.record_mbufs, 64, 0,
	    (uint16_t)(RTE_PKTMBUF_HEADROOM + TLS_MAX_SEAL_RECORD), (int)rte_socket_id());
	if (w == NULL || lr.leftover == NULL || lr.record_pool == NULL) {
		fprintf(stderr, "ftps-loadgen-dpdk: out of memory (more hugepages or -m)\n");
		return 1;
	}
	mempool_prefault(lr.record_pool);
	port_bootstrap_lcore(&boot, 0, &w->net, &d.net.ip, NULL, NULL);
	worker_init(w, boot.lcores[0], 0); /* for its frame sink */
	struct tcp_stack_config tc;
	tcp_stack_config_defaults(&tc);
	tc.max_connections = 16384;
	/* Short TIME_WAIT: a small-file storm closes thousands per second. */
	tc.time_wait_ms = 1000;
	tc.rcv_budget = d.budget;
	tc.snd_budget = d.budget;
	lr.stack = tcp_stack_create(&tc, &w->net, error, sizeof(error));
	if (lr.stack == NULL) {
		fprintf(stderr, "ftps-loadgen-dpdk: %s\n", error);
		return 1;
	}
	tcp_stack_attach(lr.stack);

	/* memif: wait for the peer to connect before the first SYN. */
	struct rte_mbuf *rx[WORKER_RX_BURST];
	uint64_t hz = rte_get_tsc_hz();
	uint64_t wait_end = rte_rdtsc() + (uint64_t)(d.link_wait * (double)hz);
	while (!link_up(port->port_id) && rte_rdtsc() < wait_end && !stop_requested) {
		uint16_t n = net_lcore_receive(&w->net, rx, WORKER_RX_BURST);
		rte_pktmbuf_free_bulk(rx, n);
		rte_delay_us_sleep(1000);
	}
	if (!link_up(port->port_id))
		fprintf(stderr, "ftps-loadgen-dpdk: warning: link still down; trying anyway\n");
	arp_send_gratuitous(&w->net);
	net_flush(&w->net);

	struct lgd_session **sessions = calloc((size_t)run->opt.sessions, sizeof(*sessions));
	if (sessions == NULL)
		return 1;
	run->t_start = lg_now();
	uint64_t tsc_start = rte_rdtsc();
	for (int i = 0; i < run->opt.sessions; i++) {
		sessions[i] = lgd_session_start(&lr, i);
		if (sessions[i] == NULL)
			run->errors[LG_ERR_CONNECT]++;
	}
	uint64_t busy = 0, busy_first = 0, busy_last = 0, transfers_seen = 0;
	uint64_t next_timer = 0, next_check = 0, linger_end = 0;
	unsigned int idle_streak = 0;
	int first_seen = 0;
	/* Naps as long as asked, not 50 us of default timer slack longer
	 * (as the dataplane's workers). */
	if (d.idle_sleep_us > 0)
		(void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
	for (;;) {
		uint64_t now = rte_rdtsc();
		unsigned int work = 0;
		uint16_t n = net_lcore_receive(&w->net, rx, WORKER_RX_BURST);
		if (n > 0) {
			net_receive_burst(&w->net, rx, n, now);
			work += n;
		}
		work += tcp_stack_poll(lr.stack, now);
		int kick = run->kick;
		run->kick = 0;
		for (int i = 0; i < run->opt.sessions; i++)
			if (sessions[i] != NULL && (kick || sessions[i]->retry)) {
				lgd_session_drive(sessions[i]);
				work++;
			}
		if (now >= next_timer) {
			net_poll_timers(&w->net, now);
			next_timer = now + hz / 10000;
		}
		net_flush(&w->net);
		if (work > 0) {
			busy += rte_rdtsc() - now;
			idle_streak = 0;
		} else if (d.idle_sleep_us > 0 && ++idle_streak > LGD_IDLE_LOOPS_BEFORE_SLEEP) {
			/* On a shared machine the server's control plane needs
			 * the CPU this loop would spin on. */
			rte_delay_us_sleep(d.idle_sleep_us);
		}
		if (!first_seen && run->t_first_op != 0) {
			first_seen = 1;
			busy_first = busy;
		}
		if (run->transfers != transfers_seen) {
			transfers_seen = run->transfers;
			busy_last = busy;
		}
		if (now >= next_check) {
			next_check = now + hz / 2;
			double t = lg_now();
			for (int i = 0; i < run->opt.sessions; i++)
				if (sessions[i] != NULL)
					lgd_session_check_timeout(sessions[i], t);
		}
		if (stop_requested)
			break;
		if (run->live_sessions == 0) {
			/* A moment for the last ACKs and FINs, then stop. */
			if (linger_end == 0)
				linger_end = now + hz / 10;
			else if (now >= linger_end)
				break;
		}
	}
	double seconds = lg_now() - run->t_start;
	double cpu = (double)(rte_rdtsc() - tsc_start) / (double)hz; /* the lcore polls all along */
	double xfer = run->t_last_op > run->t_first_op ? run->t_last_op - run->t_first_op : 0;
	uint64_t bytes = run->bytes_down + run->bytes_up;
	if (bytes > 0) {
		run->have_cycles = 1;
		run->cycles_per_byte = xfer * (double)hz / (double)bytes;
		run->busy_cycles_per_byte = (double)(busy_last - busy_first) / (double)bytes;
	}
	for (int i = 0; i < run->opt.sessions; i++)
		lgd_session_free(sessions[i]);
	free(sessions);
	int write_failed = 0;
	if (run->manifest != NULL && fclose(run->manifest) != 0) {
		perror(run->opt.manifest);
		write_failed = 1;
	}
	if (getenv("LG_DEBUG") != NULL) {
		const uint64_t *cnt = tcp_stack_counters(lr.stack);
		for (unsigned int k = 0; k < NET_COUNTER_COUNT; k++)
			if (w->net.counters[k] != 0)
				fprintf(stderr, "net %s %llu\n", net_counter_names[k],
				        (unsigned long long)w->net.counters[k]);
		for (unsigned int k = 0; k < TCP_COUNTER_COUNT; k++)
			if (cnt[k] != 0)
				fprintf(stderr, "tcp %s %llu\n", tcp_counter_names[k],
				        (unsigned long long)cnt[k]);
		fprintf(stderr, "record mbuf waits %llu\n", (unsigned long long)lr.pool_waits);
	}
	lg_report(run, seconds, xfer, cpu);
	uint64_t errors = 0;
	for (int e = 0; e < LG_ERR_COUNT; e++)
		errors += run->errors[e];
	lg_hist_free(&run->lat_connect);
	lg_hist_free(&run->lat_handshake);
	lg_hist_free(&run->lat_first_byte);
	lg_hist_free(&run->lat_transfer);
	SSL_CTX_free(run->ctx);
	tcp_stack_destroy(lr.stack);
	net_lcore_release(&w->net);
	port_bootstrap_close(&boot);
	rte_mempool_free(lr.record_pool);
	rte_free(w);
	free(lr.leftover);
	rte_eal_cleanup();
	if (fflush(stdout) != 0)
		return 1;
	return errors || write_failed || stop_requested ? 1 : 0;
}
