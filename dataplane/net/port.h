/* Opens any ethdev (PCI NIC, net_tap, net_memif, net_af_packet, net_af_xdp)
 * with one RX/TX queue pair per worker lcore, RSS across them when the device
 * has several queues, and the checksum and segmentation offloads it offers. */
#ifndef FTPS_PORT_H
#define FTPS_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

struct port_config {
	const char *name; /* ethdev name; NULL or "" picks the only/first port */
	uint16_t queue_count;
	uint16_t rx_descriptors;
	uint16_t tx_descriptors;
	uint16_t mtu;
};

struct port_info {
	uint16_t port_id;
	char name[64];
	char driver[64];
	struct rte_ether_addr mac;
	uint16_t queue_count;
	bool rss;
	bool tx_ipv4_checksum;
	bool tx_tcp_checksum;
	bool tx_tcp_tso;
	bool rx_ipv4_checksum;
	bool rx_tcp_checksum;
	uint8_t rss_key[52];
	uint8_t rss_key_len;
};

/* Returns 0 or -1 with a message in error (size error_len). */
/* pools[q] feeds RX queue q, so each worker's mbufs stay on its own pool. */
int port_open(const struct port_config *config, struct rte_mempool *const *pools,
              struct port_info *info, char *error, size_t error_len);

void port_close(const struct port_info *info);

#endif
