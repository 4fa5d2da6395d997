/* Opens any ethdev (PCI NIC, net_tap, net_memif, net_af_packet, net_af_xdp)
 * with one RX/TX queue pair per worker lcore, RSS across them when the device
 * has several queues, and the checksum and segmentation offloads it offers. */
#ifndef FTPS_PORT_H
#define FTPS_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "tap_writer.h"

struct port_config {
	const char *name; /* ethdev name; NULL or "" picks the only/first port */
	uint16_t queue_count;
	uint16_t rx_descriptors;
	uint16_t tx_descriptors;
	uint16_t mtu; /* IP MTU; above 1500 only where the link carries it (see port_open) */
	/* The largest IP packet to accept, when the link brings larger ones
	 * than it carries out (net_tap only); 0: the link's default (see
	 * port_info.receive_mtu). */
	uint16_t receive_mtu;
	/* Skip L4 checksums on this link (net_lcore.l4_checksum_trusted):
	 * refused on anything but net_memif, off by default. */
	bool trusted_link;
	/* net_tap: send through the PMD instead of tap_writer (1500-byte
	 * frames at most); off by default. */
	bool tap_through_pmd;
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
	/* DPDK 22.11's net_tap sums only the first segment of a chained frame
	 * when it offloads the TCP checksum (fixed in later DPDK); such frames
	 * get their checksum in software before they reach the driver. */
	bool tx_chained_checksum_broken;
	/* The port's frames may exceed what the ethdev reports (net_memif); the
	 * ethdev itself was configured at ethdev_mtu. */
	uint16_t mtu;
	uint16_t ethdev_mtu;
	/* net_tap in DPDK 22.11 sends frames of at most 1522 bytes (one
	 * writev each) but receives any frame the kernel hands it, as an mbuf
	 * chain.  There the kernel end of the tap gets this larger MTU, and
	 * TCP advertises an MSS from it, so the kernel sends up to 64 KB per
	 * frame: one readv per 64 KB instead of per 1.5 KB towards us.  Equal
	 * to mtu on every other link. */
	uint16_t receive_mtu;
	bool trusted_link; /* as asked and allowed */
	/* On net_tap, frames go out through our own writes (tap_writer.h),
	 * which carry any frame up to receive_mtu: then mtu may exceed the
	 * ethdev's 1500, checksums are computed in the stack (the kernel end
	 * verifies them, as net_tap's own "offload" computed them in software
	 * on the same lcore), and the PMD's TX queue is left idle.  fd -1:
	 * frames go through the ethdev. */
	struct tap_writer tap_writer;
	/* The same queue read by our own reads (tap_reader.h) instead of the
	 * PMD's, whose per-frame signal costs both ends; -1: through the PMD.
	 * With one queue only: with several, which fd is which queue (and so
	 * which lcore the tap's steering feeds) is the PMD's secret. */
	int tap_reader_fd;
	uint8_t rss_key[52];
	uint8_t rss_key_len;
};

/* Returns 0 or -1 with a message in error (size error_len). */
/* pools[q] feeds RX queue q, so each worker's mbufs stay on its own pool. */
int port_open(const struct port_config *config, struct rte_mempool *const *pools,
              struct port_info *info, char *error, size_t error_len);

void port_close(const struct port_info *info);

struct net_lcore;
/* Gives an lcore's output path the port's offloads and link trust. */
void port_configure_lcore(const struct port_info *info, struct net_lcore *nl);

/* The data room of the packet mbufs for this port configuration: net_tap
 * keeps 2 KiB mbufs whatever its MTU (its readv fills chains of them, and
 * large TCP segments reference TLS record mbufs rather than copy into
 * packet mbufs), every other port port_mbuf_data_room(config->mtu).  After
 * rte_eal_init, before port_open. */
uint16_t port_mbuf_data_room_for(const struct port_config *config);

/* The data room (headroom included) of packet mbufs for this IP MTU:
 * frames of MTUs up to 9000 fit one mbuf (fewest segments to walk); the
 * larger frames net_memif can carry arrive as chains of 16 KiB mbufs,
 * which the receive path takes, rather than 64 KiB mbufs for every ACK. */
uint16_t port_mbuf_data_room(uint16_t mtu);

/* Computes in software the TCP checksum of chained, non-TSO frames that
 * asked for the offload (for ports with tx_chained_checksum_broken). */
void port_fix_chained_checksums(struct rte_mbuf **frames, uint16_t count);

#endif
