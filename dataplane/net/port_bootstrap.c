#include "port_bootstrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "mempool_prefault.h"

int port_bootstrap_eal(int *argc, char ***argv, const char *program)
{
	int taken = rte_eal_init(*argc, *argv);
	if (taken < 0) {
		fprintf(stderr, "%s: EAL initialisation failed: %s\n", program,
		        rte_strerror(rte_errno));
		return -1;
	}
	*argc -= taken;
	*argv += taken;
	return taken;
}

static int bootstrap_pools(struct port_bootstrap *b, const struct port_bootstrap_config *config,
                           char *error, size_t error_len)
{
	uint16_t data_room = config->mbuf_data_room != 0 ? config->mbuf_data_room
	                                                 : port_mbuf_data_room_for(&config->port);
	for (unsigned int i = 0; i < b->worker_count; i++) {
		char name[RTE_MEMPOOL_NAMESIZE];
		int n = snprintf(name, sizeof(name), "%s_%u", config->pool_name, i);
		if (n < 0 || (size_t)n >= sizeof(name)) {
			snprintf(error, error_len, "pool name '%s_%u' is too long",
			         config->pool_name, i);
			return -1;
		}
		/* Each worker's mbufs on its own lcore's NUMA node. */
		b->pools[i] =
		    rte_pktmbuf_pool_create(name, config->mbufs_per_worker, 256, 0, data_room,
		                            (int)rte_lcore_to_socket_id(b->lcores[i]));
		if (b->pools[i] == NULL) {
			snprintf(error, error_len,
			         "cannot allocate %u mbufs of %u bytes for worker %u: %s "
			         "(more hugepages or -m%s%s)",
			         config->mbufs_per_worker, data_room, i, rte_strerror(rte_errno),
			         config->mbufs_option != NULL ? ", or a smaller " : "",
			         config->mbufs_option != NULL ? config->mbufs_option : "");
			return -1;
		}
		mempool_prefault(b->pools[i]);
	}
	return 0;
}

static int bootstrap_open(struct port_bootstrap *b, const struct port_bootstrap_config *config,
                          char *error, size_t error_len)
{
	b->worker_count = config->worker_count != 0 ? config->worker_count : rte_lcore_count();
	b->lcores = calloc(b->worker_count, sizeof(*b->lcores));
	b->pools = calloc(b->worker_count, sizeof(*b->pools));
	if (b->lcores == NULL || b->pools == NULL) {
		snprintf(error, error_len, "out of memory for %u workers", b->worker_count);
		return -1;
	}
	unsigned int index = 0, lcore;
	b->lcores[index++] = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		if (index == b->worker_count)
			break;
		b->lcores[index++] = lcore;
	}
	if (index < b->worker_count) {
		snprintf(error, error_len, "%u workers need as many EAL lcores (-l), %u given",
		         b->worker_count, index);
		return -1;
	}
	if (bootstrap_pools(b, config, error, error_len) != 0)
		return -1;
	struct port_config port_config = config->port;
	port_config.queue_count = (uint16_t)b->worker_count;
	if (port_open(&port_config, b->pools, &b->port, error, error_len) != 0) {
		/* A port that got as far as its queues holds mbufs of the pools
		 * about to be freed: close it first. */
		if (b->port.name[0] != '\0')
			port_close(&b->port);
		return -1;
	}
	b->port_open = true;
	return 0;
}

int port_bootstrap_open(struct port_bootstrap *b, const struct port_bootstrap_config *config,
                        char *error, size_t error_len)
{
	memset(b, 0, sizeof(*b));
	if (bootstrap_open(b, config, error, error_len) != 0) {
		port_bootstrap_close(b);
		return -1;
	}
	return 0;
}

void port_bootstrap_lcore(const struct port_bootstrap *b, unsigned int i, struct net_lcore *nl,
                          const struct net_address_config *ip,
                          const struct impair_config *impair_rx,
                          const struct impair_config *impair_tx)
{
	net_lcore_init(nl, i, b->port.port_id, (uint16_t)i, &b->port.mac, ip, b->pools[i]);
	port_configure_lcore(&b->port, nl);
	/* Two fault streams per worker, so no two share a sequence. */
	if (impair_rx != NULL)
		impair_init(&nl->impair_rx, impair_rx, 2 * (uint64_t)i, b->pools[i],
		            rte_get_tsc_hz());
	if (impair_tx != NULL)
		impair_init(&nl->impair_tx, impair_tx, 2 * (uint64_t)i + 1, b->pools[i],
		            rte_get_tsc_hz());
}

void port_bootstrap_close(struct port_bootstrap *b)
{
	if (b->port_open)
		port_close(&b->port);
	b->port_open = false;
	if (b->pools != NULL)
		for (unsigned int i = 0; i < b->worker_count; i++)
			rte_mempool_free(b->pools[i]);
	free(b->pools);
	free(b->lcores);
	b->pools = NULL;
	b->lcores = NULL;
}
