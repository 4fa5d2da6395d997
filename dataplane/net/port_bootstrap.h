/* The start-up every program on our port shares (ftps-dataplane,
 * ftps-tcp-peer, ftps-tcp-bench, ftps-loadgen-dpdk): the EAL, one packet
 * pool per worker lcore, the port with one queue pair per worker, and each
 * worker's network state on its queue.  What runs on top (TCP stack,
 * services, poll loop) stays with each program. */
#ifndef FTPS_PORT_BOOTSTRAP_H
#define FTPS_PORT_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "impair.h"
#include "net_lcore.h"
#include "port.h"

/* rte_eal_init; on success takes the EAL arguments off *argc and *argv
 * (argv[0] stays the program's name) and returns how many it took, else
 * prints "<program>: EAL initialisation failed: <reason>" and returns -1. */
int port_bootstrap_eal(int *argc, char ***argv, const char *program);

struct port_bootstrap_config {
	/* One worker per EAL lcore (main lcore first) when 0. */
	unsigned int worker_count;
	/* Names the packet pools: "<pool_name>_<worker>", or pool_name alone
	 * when there is one worker. */
	const char *pool_name;
	unsigned int mbufs_per_worker;
	/* Headroom included; 0 takes port_mbuf_data_room_for(&port). */
	uint16_t mbuf_data_room;
	/* Which of the program's options sets mbufs_per_worker (NULL: none),
	 * for the message when the pool cannot be had. */
	const char *mbufs_option;
	/* queue_count is the worker count; the rest as the program asks. */
	struct port_config port;
};

struct port_bootstrap {
	unsigned int worker_count;
	unsigned int *lcores;       /* worker i runs on lcores[i]; [0] is the main lcore */
	struct rte_mempool **pools; /* worker i's packet mbufs, feeding RX queue i */
	struct port_info port;
	bool port_open;
};

/* Allocates the pools and opens the port.  Returns 0, or -1 with a message
 * in error and nothing left taken. */
int port_bootstrap_open(struct port_bootstrap *b, const struct port_bootstrap_config *config,
                        char *error, size_t error_len);

/* Worker i's network state on queue i: addresses, pool, the port's
 * offloads, and the fault stages (NULL: no faults in that direction). */
void port_bootstrap_lcore(const struct port_bootstrap *b, unsigned int i, struct net_lcore *nl,
                          const struct net_address_config *ip,
                          const struct impair_config *impair_rx,
                          const struct impair_config *impair_tx);

/* Closes the port and frees the pools (after every net_lcore_release). */
void port_bootstrap_close(struct port_bootstrap *b);

#endif
