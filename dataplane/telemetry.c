#include "telemetry.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "aead.h"
#include "relay.h"
#include "tcp.h"
#include "transfer.h"

static struct worker *telemetry_workers;
static unsigned int telemetry_worker_count;
static const struct port_info *telemetry_port;
static const struct dataplane_config *telemetry_config;

static int telemetry_counters(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	unsigned int first = 0, last = telemetry_worker_count;
	if (params != NULL && params[0] != '\0') {
		char *end;
		unsigned long index = strtoul(params, &end, 10);
		if (*end != '\0' || index >= telemetry_worker_count)
			return -EINVAL;
		first = (unsigned int)index;
		last = first + 1;
	}
	rte_tel_data_start_dict(d);
	for (unsigned int c = 0; c < NET_COUNTER_COUNT; c++) {
		uint64_t sum = 0;
		for (unsigned int w = first; w < last; w++)
			sum += telemetry_workers[w].net.counters[c];
		rte_tel_data_add_dict_u64(d, net_counter_names[c], sum);
	}
	return 0;
}

static int telemetry_tcp(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	uint64_t connections = 0, time_wait = 0;
	for (unsigned int w = 0; w < telemetry_worker_count; w++) {
		if (telemetry_workers[w].tcp == NULL)
			continue;
		connections += tcp_stack_connection_count(telemetry_workers[w].tcp);
		time_wait += tcp_stack_time_wait_count(telemetry_workers[w].tcp);
	}
	rte_tel_data_add_dict_u64(d, "connections", connections);
	rte_tel_data_add_dict_u64(d, "time_wait", time_wait);
	for (unsigned int c = 0; c < TCP_COUNTER_COUNT; c++) {
		uint64_t sum = 0;
		for (unsigned int w = 0; w < telemetry_worker_count; w++)
			if (telemetry_workers[w].tcp != NULL)
				sum += tcp_stack_counters(telemetry_workers[w].tcp)[c];
		rte_tel_data_add_dict_u64(d, tcp_counter_names[c], sum);
	}
	return 0;
}

static int telemetry_relay(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	uint64_t connections = 0, links_up = 0, accepted = 0, lost = 0;
	uint64_t sums[RELAY_COUNTER_COUNT] = {0};
	for (unsigned int w = 0; w < telemetry_worker_count; w++) {
		const struct relay *r = telemetry_workers[w].relay;
		if (r == NULL)
			continue;
		connections += relay_connection_count(r);
		links_up += relay_link(r)->fd >= 0;
		accepted += relay_link(r)->links_accepted;
		lost += relay_link(r)->links_lost;
		for (unsigned int c = 0; c < RELAY_COUNTER_COUNT; c++)
			sums[c] += relay_counters(r)[c];
	}
	rte_tel_data_add_dict_u64(d, "connections", connections);
	rte_tel_data_add_dict_u64(d, "control_links_up", links_up);
	rte_tel_data_add_dict_u64(d, "control_links_accepted", accepted);
	rte_tel_data_add_dict_u64(d, "control_links_lost", lost);
	for (unsigned int c = 0; c < RELAY_COUNTER_COUNT; c++)
		rte_tel_data_add_dict_u64(d, relay_counter_names[c], sums[c]);
	return 0;
}

static int telemetry_transfer(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	uint64_t active = 0, free_buffers = 0, buffers = 0, largest_budget = 0;
	uint64_t sums[TRANSFER_COUNTER_COUNT] = {0};
	for (unsigned int w = 0; w < telemetry_worker_count; w++) {
		const struct transfer_engine *e = telemetry_workers[w].transfer;
		if (e == NULL)
			continue;
		active += transfer_engine_active(e);
		free_buffers += transfer_engine_free_buffers(e);
		buffers += transfer_engine_buffer_count(e);
		if (transfer_engine_largest_budget(e) > largest_budget)
			largest_budget = transfer_engine_largest_budget(e);
		for (unsigned int c = 0; c < TRANSFER_COUNTER_COUNT; c++)
			sums[c] += transfer_engine_counters(e)[c];
	}
	rte_tel_data_add_dict_u64(d, "active", active);
	rte_tel_data_add_dict_u64(d, "io_buffers", buffers);
	rte_tel_data_add_dict_u64(d, "io_buffers_free", free_buffers);
	rte_tel_data_add_dict_u64(d, "largest_budget", largest_budget);
	for (unsigned int c = 0; c < TRANSFER_COUNTER_COUNT; c++)
		rte_tel_data_add_dict_u64(d, transfer_counter_names[c], sums[c]);
	return 0;
}

struct telemetry_pool_walk {
	struct rte_tel_data *d;
};

static void telemetry_one_pool(struct rte_mempool *mp, void *arg)
{
	struct telemetry_pool_walk *walk = arg;
	struct rte_tel_data *pool = rte_tel_data_alloc();
	if (pool == NULL)
		return;
	rte_tel_data_start_dict(pool);
	rte_tel_data_add_dict_u64(pool, "size", mp->size);
	rte_tel_data_add_dict_u64(pool, "available", rte_mempool_avail_count(mp));
	rte_tel_data_add_dict_u64(pool, "in_use", rte_mempool_in_use_count(mp));
	rte_tel_data_add_dict_container(walk->d, mp->name, pool, 0);
}

static int telemetry_mempools(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	struct telemetry_pool_walk walk = {d};
	rte_mempool_walk(telemetry_one_pool, &walk);
	return 0;
}

static int telemetry_counter_descriptions(const char *cmd, const char *params,
                                          struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (unsigned int c = 0; c < NET_COUNTER_COUNT; c++)
		rte_tel_data_add_dict_string(d, net_counter_names[c], net_counter_descriptions[c]);
	return 0;
}

static int telemetry_port_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	const struct port_info *p = telemetry_port;
	struct rte_eth_stats stats;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", p->name);
	rte_tel_data_add_dict_string(d, "driver", p->driver);
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	rte_tel_data_add_dict_string(d, "mac", mac);
	rte_tel_data_add_dict_int(d, "queues", p->queue_count);
	rte_tel_data_add_dict_int(d, "rss", p->rss);
	rte_tel_data_add_dict_int(d, "tx_ipv4_checksum_offload", p->tx_ipv4_checksum);
	rte_tel_data_add_dict_int(d, "tx_tcp_checksum_offload", p->tx_tcp_checksum);
	rte_tel_data_add_dict_int(d, "tx_tcp_segmentation_offload", p->tx_tcp_tso);
	rte_tel_data_add_dict_int(d, "rx_ipv4_checksum_offload", p->rx_ipv4_checksum);
	rte_tel_data_add_dict_int(d, "rx_tcp_checksum_offload", p->rx_tcp_checksum);
	rte_tel_data_add_dict_int(d, "mtu", p->mtu);
	rte_tel_data_add_dict_int(d, "receive_mtu", p->receive_mtu);
	rte_tel_data_add_dict_int(d, "tap_writes", p->tap_writer.fd >= 0);
	rte_tel_data_add_dict_int(d, "tap_reads", p->tap_reader_fd >= 0);
	if (rte_eth_stats_get(p->port_id, &stats) == 0) {
		rte_tel_data_add_dict_u64(d, "ipackets", stats.ipackets);
		rte_tel_data_add_dict_u64(d, "opackets", stats.opackets);
		rte_tel_data_add_dict_u64(d, "ibytes", stats.ibytes);
		rte_tel_data_add_dict_u64(d, "obytes", stats.obytes);
		rte_tel_data_add_dict_u64(d, "imissed", stats.imissed);
		rte_tel_data_add_dict_u64(d, "ierrors", stats.ierrors);
		rte_tel_data_add_dict_u64(d, "oerrors", stats.oerrors);
		rte_tel_data_add_dict_u64(d, "rx_nombuf", stats.rx_nombuf);
	}
	return 0;
}

static int telemetry_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	char address[INET_ADDRSTRLEN], gateway[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &telemetry_config->ip.address, address, sizeof(address));
	inet_ntop(AF_INET, &telemetry_config->ip.gateway, gateway, sizeof(gateway));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "address", address);
	rte_tel_data_add_dict_int(d, "prefix_length", telemetry_config->prefix_length);
	rte_tel_data_add_dict_string(d, "gateway", gateway);
	rte_tel_data_add_dict_int(d, "mtu", telemetry_config->ip.mtu);
	rte_tel_data_add_dict_int(d, "workers", (int)telemetry_worker_count);
	uint64_t loops = 0, idle = 0, busy = 0;
	for (unsigned int w = 0; w < telemetry_worker_count; w++) {
		loops += telemetry_workers[w].loops;
		idle += telemetry_workers[w].idle_loops;
		busy += telemetry_workers[w].busy_cycles;
	}
	rte_tel_data_add_dict_u64(d, "poll_loops", loops);
	rte_tel_data_add_dict_u64(d, "idle_poll_loops", idle);
	rte_tel_data_add_dict_u64(d, "busy_cycles", busy);
	rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
	/* Which AES-GCM code seals and opens records (FTPS_AEAD_BACKEND, CPU). */
	rte_tel_data_add_dict_string(d, "aead_backend", aead_backend_name(aead_backend_default()));
	return 0;
}

void dataplane_telemetry_register(struct worker *workers, unsigned int worker_count,
                                  const struct port_info *port,
                                  const struct dataplane_config *config)
{
	telemetry_workers = workers;
	telemetry_worker_count = worker_count;
	telemetry_port = port;
	telemetry_config = config;
	rte_telemetry_register_cmd("/ftps/counters", telemetry_counters,
	                           "Packet counters summed over workers. Param: worker index");
	rte_telemetry_register_cmd("/ftps/counters/describe", telemetry_counter_descriptions,
	                           "What each packet counter counts");
	rte_telemetry_register_cmd("/ftps/tcp", telemetry_tcp,
	                           "TCP connections and counters summed over workers");
	rte_telemetry_register_cmd("/ftps/relay", telemetry_relay,
	                           "Connections relayed to the control plane, link state");
	rte_telemetry_register_cmd("/ftps/transfer", telemetry_transfer,
	                           "Fast-path transfers: active, buffers, counters");
	rte_telemetry_register_cmd("/ftps/mempools", telemetry_mempools,
	                           "Every mbuf pool: size, available, in use (leak checks)");
	rte_telemetry_register_cmd("/ftps/port", telemetry_port_info,
	                           "Port, offloads and ethdev statistics");
	rte_telemetry_register_cmd("/ftps/info", telemetry_info,
	                           "Addresses, workers and poll-loop figures");
}
