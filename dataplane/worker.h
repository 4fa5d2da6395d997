/* One worker lcore: owns one RX/TX queue pair and everything that runs on
 * it.  The poll loop is: RX burst, process, timers, flush TX, repeat. */
#ifndef FTPS_WORKER_H
#define FTPS_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net_lcore.h"

#define WORKER_RX_BURST    32
#define WORKER_MAX_POLLERS 8

struct worker;

/* Something else the worker drives each loop (TCP timers, control link,
 * transfers).  Returns the amount of work done, 0 when idle. */
typedef unsigned int (*worker_poll_fn)(struct worker *w, void *context, uint64_t now_tsc);

struct worker_poller {
	worker_poll_fn poll;
	void *context;
};

struct tcp_stack;
struct relay;
struct transfer_engine;

struct worker {
	struct net_lcore net;
	struct tcp_stack *tcp;
	struct relay *relay;
	struct transfer_engine *transfer;
	unsigned int lcore_id;
	unsigned int idle_sleep_us;
	uint64_t timer_interval_tsc;
	uint64_t next_timer_tsc;
	uint64_t loops;
	uint64_t idle_loops;
	/* TSC cycles of the loops that did some work: how loaded the lcore
	 * is, whatever it polls or naps in the rest. */
	uint64_t busy_cycles;
	unsigned int poller_count;
	struct worker_poller pollers[WORKER_MAX_POLLERS];
} __rte_cache_aligned;

extern volatile sig_atomic_t worker_quit;

void worker_init(struct worker *w, unsigned int lcore_id, unsigned int idle_sleep_us);

int worker_add_poller(struct worker *w, worker_poll_fn poll, void *context);

/* The frame sink for a real port: burst to the TX queue, count what stays. */
void worker_port_sink(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count);

/* rte_eal_remote_launch entry point; arg is the struct worker. */
int worker_main(void *arg);

#endif
