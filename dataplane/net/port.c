#include "port.h"

#include "net_checksum.h"
#include "net_lcore.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_kvargs.h>
#include <rte_tcp.h>

/* The Toeplitz key many NICs default to is symmetric enough for our use;
 * we set it explicitly so active opens can compute the hash in software
 * (rte_softrss) and pick source ports that land on their own queue. */
static const uint8_t port_default_rss_key[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* See port_info.receive_mtu.  The kernel's tap takes at most 65521. */
#define PORT_TAP_RECEIVE_MTU 65000

static int port_choose_receive_mtu(const struct port_config *config,
                                   const struct rte_eth_dev_info *dev, struct port_info *info,
                                   char *error, size_t error_len)
{
	bool tap_scatter = strcmp(dev->driver_name, "net_tap") == 0 &&
	                   (dev->rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0;
	uint16_t receive_mtu = config->receive_mtu != 0 ? config->receive_mtu
	                       : tap_scatter            ? PORT_TAP_RECEIVE_MTU
	                                                : config->mtu;
	if (receive_mtu < config->mtu) {
		snprintf(error, error_len, "%s: the receive MTU (%u) is below the MTU (%u)",
		         info->name, receive_mtu, config->mtu);
		return -1;
	}
	if (receive_mtu > config->mtu && !tap_scatter) {
		snprintf(error, error_len,
		         "%s (%s): a receive MTU above the MTU (%u > %u) is only for net_tap, "
		         "whose kernel end sends larger frames than the PMD sends back",
		         info->name, dev->driver_name, receive_mtu, config->mtu);
		return -1;
	}
	info->receive_mtu = receive_mtu;
	return 0;
}

/* The largest frame the tap's kernel end sends. */
static uint32_t tap_frame_bytes(uint16_t receive_mtu)
{
	return (uint32_t)receive_mtu + RTE_ETHER_HDR_LEN + 4 /* VLAN */;
}

/* net_tap reads each frame with one readv into a chain of as many mbufs as
 * it has RX descriptors, and hands the kernel the whole iovec array every
 * time: enough descriptors for the largest frame, and no more. */
static uint16_t tap_receive_descriptors(uint16_t receive_mtu, struct rte_mempool *pool)
{
	return (uint16_t)(tap_reader_segments(pool, tap_frame_bytes(receive_mtu)) + 1 /* slack */);
}

/* The kernel end of a net_tap port decides how large the frames it sends
 * us are; its MTU is ours to set, since the PMD created it. */
static int tap_set_kernel_mtu(uint32_t if_index, uint16_t mtu, char *error, size_t error_len)
{
	struct ifreq request = {.ifr_mtu = mtu};
	if (if_index == 0 || if_indextoname(if_index, request.ifr_name) == NULL) {
		snprintf(error, error_len, "net_tap: cannot find the kernel interface (index %u)",
		         if_index);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -1 : ioctl(fd, SIOCSIFMTU, &request);
	int saved = errno;
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		snprintf(error, error_len, "net_tap: cannot set the MTU of %s to %u: %s",
		         request.ifr_name, mtu, strerror(saved));
		return -1;
	}
	return 0;
}

/* Sends through our own writes on the tap (tap_writer.h) when this process
 * holds the tap's queue, as it does with net_tap; else through the PMD,
 * which carries no MTU above its 1500. */
static int port_use_tap_writer(struct port_info *info, uint32_t if_index, char *error,
                               size_t error_len)
{
	char reason[256];
	if (tap_writer_find(if_index, &info->tap_writer, reason, sizeof(reason)) != 0) {
		if (info->mtu > info->ethdev_mtu) {
			snprintf(error, error_len, "%s: an MTU of %u needs our own tap writes: %s",
			         info->name, info->mtu, reason);
			return -1;
		}
		fprintf(stderr, "ftps: %s: sending through the PMD: %s\n", info->name, reason);
		return 0;
	}
	info->tx_ipv4_checksum = false;
	info->tx_tcp_checksum = false;
	info->tx_tcp_tso = false;
	info->tx_chained_checksum_broken = false;
	return 0;
}

/* Reads the tap's queue ourselves when there is one queue (see
 * port_info.tap_reader_fd); else the PMD does.  Every worker's pool has
 * the same mbufs, so what fits pool here fits each lcore's reader. */
static void port_use_tap_reader(struct port_info *info, struct rte_mempool *pool)
{
	char reason[256];
	if (info->queue_count != 1) {
		fprintf(stderr, "ftps: %s: receiving through the PMD (%u queues)\n", info->name,
		        info->queue_count);
		return;
	}
	uint16_t segments = tap_reader_segments(pool, tap_frame_bytes(info->receive_mtu));
	if (segments == 0 || segments > TAP_READER_MAX_SEGMENTS) {
		fprintf(stderr,
		        "ftps: %s: receiving through the PMD: mbufs too small for a "
		        "%u-byte frame in %u pieces\n",
		        info->name, tap_frame_bytes(info->receive_mtu), TAP_READER_MAX_SEGMENTS);
		return;
	}
	if (tap_reader_take_queue(info->tap_writer.fd, reason, sizeof(reason)) != 0) {
		fprintf(stderr, "ftps: %s: receiving through the PMD: %s\n", info->name, reason);
		return;
	}
	info->tap_reader_fd = info->tap_writer.fd;
}

static int port_find(const char *name, uint16_t *port_id, char *error, size_t error_len)
{
	if (name != NULL && name[0] != '\0') {
		if (rte_eth_dev_get_port_by_name(name, port_id) != 0) {
			snprintf(error, error_len,
			         "no ethdev named '%s' (give a --vdev or allow its PCI address)",
			         name);
			return -1;
		}
		return 0;
	}
	uint16_t count = rte_eth_dev_count_avail();
	if (count == 0) {
		snprintf(
		    error, error_len,
		    "no ethdev found: pass --vdev=net_tap0 (or bind a NIC with dpdk-devbind.py)");
		return -1;
	}
	uint16_t id;
	RTE_ETH_FOREACH_DEV(id)
	{
		*port_id = id;
		return 0;
	}
	return -1;
}

/* The buffer size of a net_memif port (its "bsize" device argument; 2048 by
 * default in the PMD). */
static uint32_t memif_buffer_size(const struct rte_eth_dev_info *dev)
{
	uint32_t bsize = 2048;
	const struct rte_devargs *da = dev->device != NULL ? rte_dev_devargs(dev->device) : NULL;
	if (da == NULL || da->args == NULL)
		return bsize;
	struct rte_kvargs *kv = rte_kvargs_parse(da->args, NULL);
	if (kv == NULL)
		return bsize;
	const char *v = rte_kvargs_get(kv, "bsize");
	if (v != NULL) {
		unsigned long n = strtoul(v, NULL, 0);
		if (n > 0 && n <= UINT16_MAX)
			bsize = (uint32_t)n;
	}
	rte_kvargs_free(kv);
	return bsize;
}

int port_open(const struct port_config *config, struct rte_mempool *const *pools,
              struct port_info *info, char *error, size_t error_len)
{
	memset(info, 0, sizeof(*info));
	info->tap_writer.fd = -1;
	info->tap_reader_fd = -1;
	uint16_t port_id;
	if (port_find(config->name, &port_id, error, error_len) != 0)
		return -1;
	info->port_id = port_id;
	rte_eth_dev_get_name_by_port(port_id, info->name);
	struct rte_eth_dev_info dev;
	int rc = rte_eth_dev_info_get(port_id, &dev);
	if (rc != 0) {
		snprintf(error, error_len, "%s: cannot read device info: %s", info->name,
		         rte_strerror(-rc));
		return -1;
	}
	snprintf(info->driver, sizeof(info->driver), "%s", dev.driver_name);
	info->tx_chained_checksum_broken = strcmp(dev.driver_name, "net_tap") == 0;
	if (config->queue_count > dev.max_rx_queues || config->queue_count > dev.max_tx_queues) {
		snprintf(error, error_len,
		         "%s offers %u RX and %u TX queues, %u worker lcores need one pair each",
		         info->name, dev.max_rx_queues, dev.max_tx_queues, config->queue_count);
		return -1;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	info->queue_count = config->queue_count;
	if (config->queue_count > 1 &&
	    (dev.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP)) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		    dev.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4);
		if (dev.hash_key_size == sizeof(port_default_rss_key)) {
			conf.rx_adv_conf.rss_conf.rss_key =
			    (uint8_t *)(uintptr_t)port_default_rss_key;
			conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(port_default_rss_key);
		}
		info->rss = true;
	} else if (config->queue_count > 1) {
		snprintf(error, error_len,
		         "%s cannot spread TCP over several queues (no RSS); run one worker lcore",
		         info->name);
		return -1;
	}
	uint64_t tx = dev.tx_offload_capa, rx = dev.rx_offload_capa;
	info->tx_ipv4_checksum = (tx & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
	info->tx_tcp_checksum = (tx & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0;
	/* net_tap's TSO segments chained frames and sums them with the same
	 * broken routine (see tx_chained_checksum_broken), and refuses some of
	 * them outright: segment in the stack there instead. */
	info->tx_tcp_tso = (tx & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0 && info->tx_tcp_checksum &&
	                   info->tx_ipv4_checksum && !info->tx_chained_checksum_broken;
	info->rx_ipv4_checksum = (rx & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
	info->rx_tcp_checksum = (rx & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0;
	if (info->tx_ipv4_checksum)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	if (info->tx_tcp_checksum)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	if (info->tx_tcp_tso)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
	if (tx & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (info->rx_ipv4_checksum)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (info->rx_tcp_checksum)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	/* The IP MTU must fit what the device carries.  net_memif in DPDK
	 * 22.11 reports a 1518-byte frame limit (max_rx_pktlen) but enforces
	 * none: its TX copies a frame of any length (an mbuf chain) into the
	 * shared ring and its RX hands it back, as an mbuf chain when it is
	 * larger than one mbuf, so two ends that agree may use frames up to
	 * the IPv4 limit.  There the ethdev is configured within its reported
	 * limit and the larger MTU is ours.  Every other device (net_tap:
	 * 1522-byte frames) keeps its real limit. */
	bool memif = strcmp(dev.driver_name, "net_memif") == 0;
	uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
	uint32_t dev_mtu = dev.max_rx_pktlen > overhead ? dev.max_rx_pktlen - overhead : 0;
	if (dev.max_mtu != 0 && dev.max_mtu < dev_mtu)
		dev_mtu = dev.max_mtu;
	info->mtu = config->mtu;
	info->ethdev_mtu = config->mtu;
	/* ... but every frame must fit one memif buffer: the 22.11 PMD leaves
	 * a stale MEMIF_DESC_FLAG_NEXT on the first descriptor of a frame,
	 * so a descriptor chain can swallow the frames after it and run the
	 * receiver past the ring's head.  Frames larger than an mbuf still
	 * arrive, as mbuf chains. */
	if (memif && config->mtu + RTE_ETHER_HDR_LEN + 4u > memif_buffer_size(&dev)) {
		snprintf(error, error_len,
		         "%s: an MTU of %u needs memif buffers of at least %u bytes "
		         "(add bsize=N to the --vdev of both ends; now %u)",
		         info->name, config->mtu, config->mtu + RTE_ETHER_HDR_LEN + 4u,
		         memif_buffer_size(&dev));
		return -1;
	}
	/* net_tap: larger frames go out through tap_writer (checked once the
	 * PMD has opened the tap, below). */
	bool tap = strcmp(dev.driver_name, "net_tap") == 0;
	if (config->mtu > dev_mtu && tap && config->tap_through_pmd) {
		snprintf(error, error_len,
		         "%s: an MTU of %u on net_tap needs the dataplane's own tap writes "
		         "(tap_writes = yes); the PMD sends at most %u",
		         info->name, config->mtu, dev_mtu);
		return -1;
	}
	if (config->mtu > dev_mtu) {
		if (!memif && !tap) {
			snprintf(error, error_len, "%s (%s) carries an MTU of at most %u, not %u",
			         info->name, dev.driver_name, dev_mtu, config->mtu);
			return -1;
		}
		info->ethdev_mtu = (uint16_t)(dev_mtu < RTE_ETHER_MTU ? dev_mtu : RTE_ETHER_MTU);
	}
	if (config->trusted_link && !memif) {
		snprintf(error, error_len,
		         "%s (%s): trusted_link (no L4 checksums) is only for net_memif links "
		         "between local processes",
		         info->name, dev.driver_name);
		return -1;
	}
	info->trusted_link = config->trusted_link;
	if (port_choose_receive_mtu(config, &dev, info, error, error_len) != 0)
		return -1;
	/* net_tap reads frames above its ethdev MTU as mbuf chains. */
	bool tap_large_frames = tap && info->receive_mtu > info->ethdev_mtu;
	if (tap_large_frames)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	conf.rxmode.mtu = info->ethdev_mtu;
	rc = rte_eth_dev_configure(port_id, config->queue_count, config->queue_count, &conf);
	if (rc != 0) {
		snprintf(error, error_len, "%s: configure failed: %s", info->name,
		         rte_strerror(-rc));
		return -1;
	}
	uint16_t rxd = config->rx_descriptors, txd = config->tx_descriptors;
	if (tap_large_frames)
		rxd = tap_receive_descriptors(info->receive_mtu, pools[0]);
	rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd);
	int socket = rte_eth_dev_socket_id(port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (uint16_t q = 0; q < config->queue_count; q++) {
		struct rte_eth_rxconf rxq = dev.default_rxconf;
		rxq.offloads = conf.rxmode.offloads;
		rc = rte_eth_rx_queue_setup(port_id, q, rxd, (unsigned int)socket, &rxq, pools[q]);
		if (rc != 0) {
			snprintf(error, error_len, "%s: RX queue %u: %s", info->name, q,
			         rte_strerror(-rc));
			return -1;
		}
		struct rte_eth_txconf txq = dev.default_txconf;
		txq.offloads = conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup(port_id, q, txd, (unsigned int)socket, &txq);
		if (rc != 0) {
			snprintf(error, error_len, "%s: TX queue %u: %s", info->name, q,
			         rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_macaddr_get(port_id, &info->mac);
	if (rc != 0) {
		snprintf(error, error_len, "%s: no MAC address: %s", info->name, rte_strerror(-rc));
		return -1;
	}
	rc = rte_eth_dev_start(port_id);
	if (rc != 0) {
		snprintf(error, error_len, "%s: start failed: %s", info->name, rte_strerror(-rc));
		return -1;
	}
	if (tap_large_frames &&
	    tap_set_kernel_mtu(dev.if_index, info->receive_mtu, error, error_len) != 0)
		return -1;
	if (tap && !config->tap_through_pmd &&
	    port_use_tap_writer(info, dev.if_index, error, error_len) != 0)
		return -1;
	if (info->tap_writer.fd >= 0)
		port_use_tap_reader(info, pools[0]);
	struct rte_eth_rss_conf rss = {.rss_key = info->rss_key,
	                               .rss_key_len = sizeof(info->rss_key)};
	if (info->rss && rte_eth_dev_rss_hash_conf_get(port_id, &rss) == 0)
		info->rss_key_len = rss.rss_key_len;
	return 0;
}

void port_fix_chained_checksums(struct rte_mbuf **frames, uint16_t count)
{
	for (uint16_t i = 0; i < count; i++) {
		struct rte_mbuf *m = frames[i];
		if (m->nb_segs < 2 || (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) ||
		    (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) != RTE_MBUF_F_TX_TCP_CKSUM)
			continue;
		if (rte_pktmbuf_data_len(m) < m->l2_len + m->l3_len + sizeof(struct rte_tcp_hdr))
			continue; /* headers not in the first segment: leave it to the driver */
		struct rte_ipv4_hdr *ip =
		    rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, m->l2_len);
		struct rte_tcp_hdr *tcp =
		    rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, m->l2_len + m->l3_len);
		tcp->cksum = 0;
		tcp->cksum = net_ipv4_l4_checksum_mbuf(m, ip, m->l2_len + m->l3_len);
		m->ol_flags &= ~RTE_MBUF_F_TX_L4_MASK;
	}
}

void port_close(const struct port_info *info)
{
	rte_eth_dev_stop(info->port_id);
	rte_eth_dev_close(info->port_id);
}

uint16_t port_mbuf_data_room_for(const struct port_config *config)
{
	uint16_t port_id;
	struct rte_eth_dev_info dev;
	char ignored[128];
	if (port_find(config->name, &port_id, ignored, sizeof(ignored)) == 0 &&
	    rte_eth_dev_info_get(port_id, &dev) == 0 && strcmp(dev.driver_name, "net_tap") == 0)
		return port_mbuf_data_room(RTE_ETHER_MTU);
	return port_mbuf_data_room(config->mtu);
}

void port_configure_lcore(const struct port_info *info, struct net_lcore *nl)
{
	nl->tap_writer = info->tap_writer;
	char reason[256];
	/* Cannot fail: port_open checked the same size on the same mbufs. */
	if (info->tap_reader_fd >= 0 &&
	    tap_reader_init(&nl->tap_reader, info->tap_reader_fd, info->port_id, nl->pool,
	                    tap_frame_bytes(info->receive_mtu), reason, sizeof(reason)) != 0)
		fprintf(stderr, "ftps: %s: %s\n", info->name, reason);
	nl->tap_reader.truncated = &nl->counters[NET_COUNTER_drop_tap_truncated];
	nl->tap_reader.read_errors = &nl->counters[NET_COUNTER_tap_read_errors];
	nl->tap_reader.no_mbufs = &nl->counters[NET_COUNTER_tap_no_mbufs];
	nl->tx_ipv4_checksum_offload = info->tx_ipv4_checksum;
	nl->tx_tcp_checksum_offload = info->tx_tcp_checksum;
	nl->tx_tcp_segmentation_offload = info->tx_tcp_tso;
	nl->tx_chained_checksum_fixup = info->tx_chained_checksum_broken;
	nl->l4_checksum_trusted = info->trusted_link;
	nl->receive_mtu = info->receive_mtu;
}

uint16_t port_mbuf_data_room(uint16_t mtu)
{
	uint32_t frame = (uint32_t)mtu + RTE_ETHER_HDR_LEN + 4 /* VLAN */;
	uint32_t room = frame <= RTE_MBUF_DEFAULT_DATAROOM ? RTE_MBUF_DEFAULT_DATAROOM
	                : frame <= 9216                    ? RTE_ALIGN_CEIL(frame, 1024)
	                                                   : 16384;
	return (uint16_t)(RTE_PKTMBUF_HEADROOM + room);
}
