#include "worker.h"

#include "net/port.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>

volatile sig_atomic_t worker_quit;

/* Housekeeping (ARP retries, impairment releases) runs every 100 us. */
#define WORKER_TIMER_INTERVAL_US 100
/* Loops without work before an idle worker starts napping. */
#define WORKER_IDLE_LOOPS_BEFORE_SLEEP 4096

void worker_init(struct worker *w, unsigned int lcore_id, unsigned int idle_sleep_us)
{
	w->lcore_id = lcore_id;
	w->idle_sleep_us = idle_sleep_us;
	w->timer_interval_tsc = rte_get_tsc_hz() * WORKER_TIMER_INTERVAL_US / 1000000;
	w->next_timer_tsc = 0;
	w->loops = 0;
	w->idle_loops = 0;
	w->poller_count = 0;
	w->net.sink = worker_port_sink;
	w->net.sink_context = w;
}

int worker_add_poller(struct worker *w, worker_poll_fn poll, void *context)
{
	if (w->poller_count == WORKER_MAX_POLLERS)
		return -1;
	w->pollers[w->poller_count++] = (struct worker_poller){poll, context};
	return 0;
}

void worker_port_sink(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count)
{
	if (nl->tap_writer.fd >= 0) {
		/* A tun write never waits for ring space: no backlog. */
		uint16_t refused = tap_writer_send(&nl->tap_writer, frames, count);
		nl->counters[NET_COUNTER_drop_tap_write_refused] += refused;
		nl->counters[NET_COUNTER_tx_frames] -= refused;
		return;
	}
	if (nl->tx_chained_checksum_fixup)
		port_fix_chained_checksums(frames, count);
	/* Frames held from earlier calls go first, so the wire keeps their
	 * order. */
	while (nl->tx_backlog_count > 0) {
		uint16_t head = nl->tx_backlog_head;
		uint16_t run = nl->tx_backlog_count;
		if (run > NET_TX_BACKLOG - head)
			run = (uint16_t)(NET_TX_BACKLOG - head); /* up to the ring's wrap */
		uint16_t sent =
		    rte_eth_tx_burst(nl->port_id, nl->queue_id, &nl->tx_backlog[head], run);
		nl->tx_backlog_head = (uint16_t)((head + sent) % NET_TX_BACKLOG);
		nl->tx_backlog_count = (uint16_t)(nl->tx_backlog_count - sent);
		if (sent < run)
			break;
	}
	uint16_t sent = 0;
	if (nl->tx_backlog_count == 0 && count > 0)
		sent = rte_eth_tx_burst(nl->port_id, nl->queue_id, frames, count);
	/* What the ring did not take waits in the bounded backlog for the next
	 * call (the worker flushes every loop); the TCP stack slows down while
	 * the backlog fills.  Only beyond it are frames dropped and counted. */
	uint16_t rest = (uint16_t)(count - sent);
	uint16_t room = (uint16_t)(NET_TX_BACKLOG - nl->tx_backlog_count);
	uint16_t keep = rest < room ? rest : room;
	for (uint16_t i = 0; i < keep; i++) {
		uint16_t slot =
		    (uint16_t)((nl->tx_backlog_head + nl->tx_backlog_count + i) % NET_TX_BACKLOG);
		nl->tx_backlog[slot] = frames[sent + i];
	}
	nl->tx_backlog_count = (uint16_t)(nl->tx_backlog_count + keep);
	nl->counters[NET_COUNTER_tx_backlogged] += keep;
	if (keep < rest) {
		uint16_t dropped = (uint16_t)(rest - keep);
		nl->counters[NET_COUNTER_drop_tx_ring_full] += dropped;
		nl->counters[NET_COUNTER_tx_frames] -= dropped;
		rte_pktmbuf_free_bulk(frames + sent + keep, dropped);
	}
}

int worker_main(void *arg)
{
	struct worker *w = arg;
	struct net_lcore *nl = &w->net;
	struct rte_mbuf *rx[WORKER_RX_BURST];
	unsigned int idle_streak = 0;
	/* A nap of idle_sleep_us, not the default 50 us of timer slack on top
	 * (usleep(20) took 80 us here, 29 us with 1 us of slack): the nap is
	 * latency added to whatever arrives while the lcore sleeps. */
	if (w->idle_sleep_us > 0)
		(void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
	while (!worker_quit) {
		uint64_t now = rte_rdtsc();
		unsigned int work = 0;
		uint16_t n = net_lcore_receive(nl, rx, WORKER_RX_BURST);
		if (n > 0) {
			net_receive_burst(nl, rx, n, now);
			work += n;
		}
		for (unsigned int i = 0; i < w->poller_count; i++)
			work += w->pollers[i].poll(w, w->pollers[i].context, now);
		if (now >= w->next_timer_tsc) {
			net_poll_timers(nl, now);
			w->next_timer_tsc = now + w->timer_interval_tsc;
		}
		net_flush(nl);
		w->loops++;
		if (work > 0) {
			w->busy_cycles += rte_rdtsc() - now;
			idle_streak = 0;
			continue;
		}
		w->idle_loops++;
		if (w->idle_sleep_us > 0 && ++idle_streak > WORKER_IDLE_LOOPS_BEFORE_SLEEP)
			usleep(w->idle_sleep_us);
		else
			rte_pause();
	}
	return 0;
}
