/* The worker's port sink keeps frames a full transmit ring refuses in a
 * bounded backlog, sends them first and in order once the ring drains, and
 * drops (counted) only beyond the backlog; the TCP stack reads the backlog
 * as backpressure.  The port is a net_ring vdev (an rte_ring in memory that
 * loops TX back to RX), so a full ring is exact and no root is needed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "check.h"
#include "net/port.h"
#include "worker.h"

static struct rte_mempool *pool;

static struct rte_mbuf *numbered_frame(uint32_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		return NULL;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 64);
	memset(p, 0, 64);
	memcpy(p + 60, &n, sizeof(n));
	return m;
}

static uint32_t frame_number(const struct rte_mbuf *m)
{
	uint32_t n;
	memcpy(&n, rte_pktmbuf_mtod_offset(m, const uint8_t *, 60), sizeof(n));
	return n;
}

/* Reads everything the ring holds (the loopback RX side); checks the
 * numbers continue from *next, returns how many frames came out. */
static unsigned int drain(uint16_t port, uint32_t *next, unsigned int *out_of_order)
{
	unsigned int total = 0;
	struct rte_mbuf *rx[64];
	uint16_t n;
	while ((n = rte_eth_rx_burst(port, 0, rx, RTE_DIM(rx))) > 0) {
		for (uint16_t i = 0; i < n; i++) {
			if (frame_number(rx[i]) != *next)
				(*out_of_order)++;
			*next = frame_number(rx[i]) + 1;
		}
		rte_pktmbuf_free_bulk(rx, n);
		total += n;
	}
	return total;
}

int main(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_tx_backlog_%d", (int)getpid());
	char *argv[] = {"test_tx_backlog",
	                "--no-huge",
	                "--no-pci",
	                "--no-shconf",
	                "-m",
	                "256",
	                "--log-level=error",
	                "--no-telemetry",
	                "-l",
	                "0",
	                "--vdev=net_ring0",
	                prefix,
	                NULL};
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "test_tx_backlog: EAL init failed\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("backlog", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	CHECK(pool != NULL);
	struct port_config pc = {.name = "net_ring0",
	                         .queue_count = 1,
	                         .rx_descriptors = 1024,
	                         .tx_descriptors = 1024,
	                         .mtu = 1500};
	struct port_info port;
	char error[256];
	int rc = port_open(&pc, &pool, &port, error, sizeof(error));
	if (rc != 0)
		fprintf(stderr, "%s\n", error);
	CHECK_EQ(rc, 0);
	/* A trusted link (no L4 checksums) is refused on anything but
	 * net_memif. */
	struct port_info other;
	struct port_config trusted = pc;
	trusted.trusted_link = true;
	CHECK(port_open(&trusted, &pool, &other, error, sizeof(error)) != 0);
	CHECK(strstr(error, "trusted_link") != NULL);

	static struct worker w;
	struct net_address_config ip = {0, 0, 0, 1500};
	net_lcore_init(&w.net, 0, port.port_id, 0, &port.mac, &ip, pool);
	worker_init(&w, 0, 0);
	struct net_lcore *nl = &w.net;
	unsigned int start = rte_mempool_avail_count(pool);

	/* Fill: the ring takes what it can, the rest waits in the backlog. */
	uint32_t sent_no = 0, next = 0;
	unsigned int disorder = 0;
	for (unsigned int i = 0; i < 1500; i++)
		net_transmit_frame(nl, numbered_frame(sent_no++));
	net_flush(nl);
	unsigned int ring_capacity = 1500 - nl->tx_backlog_count;
	CHECK(ring_capacity > 0 && ring_capacity < 1500);
	CHECK_EQ(nl->counters[NET_COUNTER_tx_backlogged], 1500 - ring_capacity);
	CHECK_EQ(nl->counters[NET_COUNTER_drop_tx_ring_full], 0);
	CHECK_EQ(nl->counters[NET_COUNTER_tx_frames], 1500);

	/* The ring drains; a flush with nothing new sends the backlog first,
	 * in order. */
	CHECK_EQ(drain(port.port_id, &next, &disorder), ring_capacity);
	net_flush(nl);
	CHECK_EQ(nl->tx_backlog_count, 0);
	CHECK_EQ(drain(port.port_id, &next, &disorder), 1500 - ring_capacity);
	CHECK_EQ(next, 1500);

	/* Beyond ring and backlog: the excess is dropped and counted, and
	 * tx_frames counts only what was kept. */
	unsigned int burst = ring_capacity + NET_TX_BACKLOG + 100;
	for (unsigned int i = 0; i < burst; i++)
		net_transmit_frame(nl, numbered_frame(sent_no++));
	net_flush(nl);
	CHECK_EQ(nl->tx_backlog_count, NET_TX_BACKLOG);
	CHECK_EQ(nl->counters[NET_COUNTER_drop_tx_ring_full], 100);
	CHECK_EQ(nl->counters[NET_COUNTER_tx_frames], 1500 + burst - 100);

	/* New frames while a backlog waits go behind it, never ahead. */
	CHECK_EQ(drain(port.port_id, &next, &disorder), ring_capacity);
	for (unsigned int i = 0; i < 10; i++)
		net_transmit_frame(nl, numbered_frame(sent_no++));
	net_flush(nl);
	unsigned int got = 0;
	for (int round = 0; round < 8; round++) {
		got += drain(port.port_id, &next, &disorder);
		net_flush(nl);
	}
	got += drain(port.port_id, &next, &disorder);
	CHECK_EQ(nl->tx_backlog_count, 0);
	CHECK_EQ(got, NET_TX_BACKLOG + 10);
	/* The 100 dropped frames were the newest of that burst: the numbers
	 * jump once, nothing else is out of order. */
	CHECK_EQ(disorder, 1);

	/* Shutdown with a backlog: every mbuf comes back. */
	for (unsigned int i = 0; i < ring_capacity + 50; i++)
		net_transmit_frame(nl, numbered_frame(sent_no++));
	net_flush(nl);
	CHECK_EQ(nl->tx_backlog_count, 50);
	net_lcore_release(nl);
	CHECK_EQ(nl->tx_backlog_count, 0);
	CHECK_EQ(drain(port.port_id, &next, &disorder), ring_capacity);
	CHECK_EQ(rte_mempool_avail_count(pool), start);

	port_close(&port);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return check_finish("tx-backlog");
}
