/* ftps-dataplane: the DPDK process.  EAL arguments first, then "--" and the
 * dataplane's own options (see usage()). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "aead.h"
#include "config.h"
#include "eal_args.h"
#include "relay.h"
#include "transfer.h"
#include "tcp.h"
#include "net/port_bootstrap.h"
#include "telemetry.h"
#include "worker.h"

static void usage(const char *program)
{
	fprintf(stderr,
	        "usage: %s [EAL options] -- [options]\n"
	        "  --config FILE          INI configuration (sections [net] [port] [dataplane] "
	        "[transfer] [impair])\n"
	        "  --address A.B.C.D/N    our IPv4 address and prefix length\n"
	        "  --gateway A.B.C.D      default gateway\n"
	        "  --mtu N                IP MTU (576-9000; net_tap up to 65000; net_memif up\n"
	        "                         to 65000 with a memif bsize of at least MTU + 18;\n"
	        "                         default 1500)\n"
	        "  --receive-mtu N        largest IP packet accepted (default: the MTU; on\n"
	        "                         net_tap 65000, which its kernel end is set to)\n"
	        "  --trusted-link         no TCP checksums on this net_memif link (both ends\n"
	        "                         local processes; [port] trusted_link)\n"
	        "  --tap-writes yes|no    net_tap: our own writes to the tap, and reads with one\n"
	        "                         lcore (default yes), or the PMD's, at most 1500-byte\n"
	        "                         frames out and a signal per frame in ([port] tap_writes)\n"
	        "  --mapped-reads yes|no  seal downloads of tmpfs/ramfs files straight from\n"
	        "                         the page cache (default yes; [transfer] mapped_reads)\n"
	        "  --max-budget-mb N      the most a transfer's send or receive budget grows\n"
	        "                         to on a long path, 2-32 MiB (default 32; 2: fixed;\n"
	        "                         [transfer] max_budget_mb)\n"
	        "  --port NAME            ethdev to use (default: the first one)\n"
	        "  --impair-rx SPEC       receive faults, e.g. loss=0.02,reorder=0.01,depth=3,\n"
	        "                         dup=0.005,corrupt=0.001,delay_us=100\n"
	        "  --impair-tx SPEC       transmit faults, same form\n"
	        "  --impair-seed N        seed of the fault streams (default 1)\n"
	        "  --idle-sleep-us N      nap this long when idle (0: pure polling, the default)\n"
	        "  --control-socket PATH  where the control plane connects\n"
	        "  --pid-file PATH        write our process id here once ready\n"
	        "  --tcp-rto-min-ms N     floor of the retransmission timeout (default 200)\n"
	        "  --tcp-congestion-control cubic|newreno\n"
	        "  --tcp-pacing yes|no    new data at 2x (slow start) or 1.2x cwnd / RTT,\n"
	        "                         64 KiB bursts (default yes; [tcp] pacing)\n"
	        "Example: %s --no-pci --vdev=net_tap0,iface=ftps0 -l 0 -- --address "
	        "198.18.0.1/24\n",
	        program, program);
}

static void on_signal(int signo)
{
	(void)signo;
	worker_quit = 1;
}

static int parse_options(int argc, char **argv, struct dataplane_config *config)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"address", required_argument, NULL, 'a'},
	    {"gateway", required_argument, NULL, 'g'},
	    {"mtu", required_argument, NULL, 'm'},
	    {"receive-mtu", required_argument, NULL, 'M'},
	    {"trusted-link", no_argument, NULL, 'T'},
	    {"tap-writes", required_argument, NULL, 'W'},
	    {"mapped-reads", required_argument, NULL, 'D'},
	    {"max-budget-mb", required_argument, NULL, 'B'},
	    {"port", required_argument, NULL, 'p'},
	    {"impair-rx", required_argument, NULL, 'r'},
	    {"impair-tx", required_argument, NULL, 't'},
	    {"impair-seed", required_argument, NULL, 's'},
	    {"idle-sleep-us", required_argument, NULL, 'i'},
	    {"control-socket", required_argument, NULL, 'k'},
	    {"pid-file", required_argument, NULL, 'P'},
	    {"tcp-rto-min-ms", required_argument, NULL, 'R'},
	    {"tcp-congestion-control", required_argument, NULL, 'C'},
	    {"tcp-pacing", required_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	/* The file first, so command-line values override it whatever the order. */
	char error[512];
	for (int i = 1; i < argc; i++) {
		const char *path = NULL;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
		if (path != NULL &&
		    dataplane_config_load(config, path, error, sizeof(error)) != 0) {
			fprintf(stderr, "ftps-dataplane: %s\n", error);
			return -1;
		}
	}
	optind = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		const char *section = NULL, *key = NULL;
		switch (opt) {
		case 'c':
			continue;
		case 'a':
			section = "net", key = "address";
			break;
		case 'g':
			section = "net", key = "gateway";
			break;
		case 'm':
			section = "net", key = "mtu";
			break;
		case 'M':
			section = "net", key = "receive_mtu";
			break;
		case 'T':
			section = "port", key = "trusted_link", optarg = "yes";
			break;
		case 'W':
			section = "port", key = "tap_writes";
			break;
		case 'D':
			section = "transfer", key = "mapped_reads";
			break;
		case 'B':
			section = "transfer", key = "max_budget_mb";
			break;
		case 'p':
			section = "port", key = "name";
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
		case 'i':
			section = "dataplane", key = "idle_sleep_us";
			break;
		case 'k':
			section = "dataplane", key = "control_socket";
			break;
		case 'P':
			section = "dataplane", key = "pid_file";
			break;
		case 'R':
			section = "tcp", key = "rto_min_ms";
			break;
		case 'C':
			section = "tcp", key = "congestion_control";
			break;
		case 'A':
			section = "tcp", key = "pacing";
			break;
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			usage(argv[0]);
			return -1;
		}
		if (dataplane_config_set(config, section, key, optarg, error, sizeof(error)) != 0) {
			fprintf(stderr, "ftps-dataplane: --%s: %s\n",
			        options[0].name == NULL ? "" : key, error);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ftps-dataplane: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (dataplane_config_finish(config, error, sizeof(error)) != 0) {
		fprintf(stderr, "ftps-dataplane: %s\n", error);
		return -1;
	}
	return 0;
}

static int setup_arp_sharing(struct worker *workers, unsigned int count)
{
	if (count < 2)
		return 0;
	for (unsigned int i = 0; i < count; i++) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "arp_inbox_%u", i);
		workers[i].net.arp.inbox = rte_ring_create_elem(name, sizeof(struct arp_learned),
		                                                256, SOCKET_ID_ANY, RING_F_SC_DEQ);
		if (workers[i].net.arp.inbox == NULL)
			return -1;
	}
	for (unsigned int i = 0; i < count; i++)
		for (unsigned int k = 0; k < count && k < ARP_MAX_PEERS; k++)
			if (k != i)
				workers[i].net.arp.peers[workers[i].net.arp.peer_count++] =
				    workers[k].net.arp.inbox;
	return 0;
}

int main(int original_argc, char **original_argv)
{
	char error[512];
	int argc = 0;
	char **argv = NULL;
	if (eal_args_build(original_argc, original_argv, &argc, &argv, error, sizeof(error)) != 0) {
		fprintf(stderr, "ftps-dataplane: %s\n", error);
		return 2;
	}
	/* rte_eal_init permutes argv; keep the vector we allocated to free it. */
	char **built_argv = argv;
	char **allocated_argv = calloc((size_t)argc, sizeof(char *));
	int allocated_argc = argc;
	if (allocated_argv == NULL)
		return 1;
	memcpy(allocated_argv, argv, sizeof(char *) * (size_t)argc);
	if (port_bootstrap_eal(&argc, &argv, "ftps-dataplane") < 0)
		return 1;
	argv[0] = "ftps-dataplane";

	struct dataplane_config config;
	dataplane_config_defaults(&config);
	if (parse_options(argc, argv, &config) != 0) {
		rte_eal_cleanup();
		return 2;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	const struct port_bootstrap_config bootstrap_config = {
	    .pool_name = "mbufs_worker",
	    .mbufs_per_worker = config.mbufs_per_worker,
	    .mbufs_option = "[dataplane] mbufs_per_worker",
	    .port = {.name = config.port_name,
	             .rx_descriptors = config.rx_descriptors,
	             .tx_descriptors = config.tx_descriptors,
	             .mtu = config.ip.mtu,
	             .receive_mtu = config.receive_mtu,
	             .trusted_link = config.port_trusted_link,
	             .tap_through_pmd = config.port_tap_through_pmd},
	};
	struct port_bootstrap boot;
	if (port_bootstrap_open(&boot, &bootstrap_config, error, sizeof(error)) != 0) {
		fprintf(stderr, "ftps-dataplane: %s\n", error);
		rte_eal_cleanup();
		return 1;
	}
	unsigned int worker_count = boot.worker_count;
	struct rte_mempool **pools = boot.pools;
	unsigned int *lcores = boot.lcores;
	const struct port_info *port = &boot.port;
	struct worker *workers =
	    rte_zmalloc("workers", sizeof(struct worker) * worker_count, RTE_CACHE_LINE_SIZE);
	if (workers == NULL) {
		fprintf(stderr, "ftps-dataplane: out of memory for %u workers\n", worker_count);
		return 1;
	}

	for (unsigned int i = 0; i < worker_count; i++) {
		struct worker *w = &workers[i];
		port_bootstrap_lcore(&boot, i, &w->net, &config.ip, &config.impair_rx,
		                     &config.impair_tx);
		worker_init(w, lcores[i], config.idle_sleep_us);
	}
	for (unsigned int i = 0; i < worker_count; i++) {
		struct worker *w = &workers[i];
		struct tcp_stack_config tcp_config;
		tcp_stack_config_defaults(&tcp_config);
		tcp_config.queue_id = (uint16_t)i;
		tcp_config.queue_count = (uint16_t)worker_count;
		tcp_config.rto_min_ms = config.tcp_rto_min_ms;
		tcp_config.cc = config.tcp_newreno ? TCP_CC_NEWRENO : TCP_CC_CUBIC;
		tcp_config.pacing = !config.tcp_unpaced;
		if (port->rss && port->rss_key_len > 0) {
			memcpy(tcp_config.rss_key, port->rss_key, port->rss_key_len);
			tcp_config.rss_key_len = port->rss_key_len;
		}
		w->tcp = tcp_stack_create(&tcp_config, &w->net, error, sizeof(error));
		if (w->tcp == NULL) {
			fprintf(stderr, "ftps-dataplane: worker %u: TCP stack: %s\n", i, error);
			return 1;
		}
		tcp_stack_attach(w->tcp);
		worker_add_poller(w, tcp_worker_poll, w->tcp);
		w->transfer = transfer_engine_create(i, (int)rte_lcore_to_socket_id(lcores[i]),
		                                     error, sizeof(error));
		if (w->transfer == NULL) {
			fprintf(stderr, "ftps-dataplane: worker %u: transfer engine: %s\n", i,
			        error);
			return 1;
		}
		transfer_engine_set_mapped_reads(w->transfer, !config.transfer_unmapped_reads);
		transfer_engine_set_max_budget(w->transfer, config.transfer_max_budget_mb << 20);
		transfer_engine_set_receive_pool(w->transfer, w->net.pool);
		worker_add_poller(w, transfer_engine_poll, w->transfer);
		if (config.control_socket[0] != '\0') {
			w->relay =
			    relay_create(w->tcp, w->transfer, pools[i], config.control_socket, i,
			                 worker_count, error, sizeof(error));
			if (w->relay == NULL) {
				fprintf(stderr, "ftps-dataplane: worker %u: %s\n", i, error);
				return 1;
			}
			worker_add_poller(w, relay_worker_poll, w->relay);
		}
	}
	if (setup_arp_sharing(workers, worker_count) != 0) {
		fprintf(stderr, "ftps-dataplane: cannot create ARP rings: %s\n",
		        rte_strerror(rte_errno));
		return 1;
	}
	dataplane_telemetry_register(workers, worker_count, port, &config);

	/* Announce ourselves so neighbours update stale caches (RFC 5227 2.3). */
	arp_send_gratuitous(&workers[0].net);
	if (config.ip.gateway != 0)
		arp_prime(&workers[0].net, config.ip.gateway, rte_get_tsc_cycles());
	net_flush(&workers[0].net);

	char address[INET_ADDRSTRLEN], mac[RTE_ETHER_ADDR_FMT_SIZE];
	inet_ntop(AF_INET, &config.ip.address, address, sizeof(address));
	rte_ether_format_addr(mac, sizeof(mac), &port->mac);
	printf("ftps-dataplane: ready: port %s (%s) mac %s address %s/%u workers %u "
	       "mtu %u receive-mtu %u tap-writes=%d tap-reads=%d offloads ipv4-cksum=%d "
	       "tcp-cksum=%d tso=%d rss=%d impair-rx=%s impair-tx=%s aead=%s\n",
	       port->name, port->driver, mac, address, config.prefix_length, worker_count,
	       port->mtu, port->receive_mtu, port->tap_writer.fd >= 0, port->tap_reader_fd >= 0,
	       port->tx_ipv4_checksum,
	       port->tx_tcp_checksum, port->tx_tcp_tso, port->rss,
	       workers[0].net.impair_rx.enabled ? config.impair_rx_spec : "off",
	       workers[0].net.impair_tx.enabled ? config.impair_tx_spec : "off",
	       aead_backend_name(aead_backend_default()));
	fflush(stdout);
	if (config.pid_file[0] != '\0') {
		FILE *f = fopen(config.pid_file, "w");
		if (f == NULL) {
			fprintf(stderr, "ftps-dataplane: cannot write %s: %s\n", config.pid_file,
			        strerror(errno));
		} else {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}

	for (unsigned int i = 1; i < worker_count; i++)
		rte_eal_remote_launch(worker_main, &workers[i], lcores[i]);
	worker_main(&workers[0]);
	rte_eal_mp_wait_lcore();

	printf("ftps-dataplane: shutting down\n");
	for (unsigned int i = 0; i < worker_count; i++) {
		relay_destroy(workers[i].relay);
		transfer_engine_destroy(workers[i].transfer);
		tcp_stack_destroy(workers[i].tcp);
		net_lcore_release(&workers[i].net);
	}
	port_bootstrap_close(&boot);
	if (config.pid_file[0] != '\0')
		unlink(config.pid_file);
	rte_free(workers);
	rte_eal_cleanup();
	free(built_argv);
	eal_args_free(allocated_argc, allocated_argv);
	printf("ftps-dataplane: stopped cleanly\n");
	return 0;
}
