/* Link options shared by ftps-tcp-peer and ftps-tcp-bench, and how they
 * open the port with them: an IP MTU up to 65000 (beyond the dataplane's
 * [net] mtu range, for net_memif links, see port_open) and the data room of
 * the mbufs (by default one frame fits one mbuf; a smaller room makes the
 * port deliver large frames as chains). */
#ifndef FTPS_TCP_LINK_OPTS_H
#define FTPS_TCP_LINK_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "config.h"
#include "net/port_bootstrap.h"

#define LINK_MTU_MAX 65000
/* Pools of large mbufs stay near this many bytes. */
#define LINK_POOL_BYTES (160u << 20)

/* Returns 0 and the MTU, or -1 for anything but 576..65000. */
static inline int link_parse_mtu(const char *text, uint16_t *mtu)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v < 576 || v > LINK_MTU_MAX)
		return -1;
	*mtu = (uint16_t)v;
	return 0;
}

/* Returns 0 and the room, or -1 unless 1024..65535 minus the headroom. */
static inline int link_parse_room(const char *text, uint32_t *room)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v < 1024 || v > UINT16_MAX - RTE_PKTMBUF_HEADROOM)
		return -1;
	*room = (uint32_t)v;
	return 0;
}

/* The link options as both tools take them: put LINK_OPTIONS in the
 * getopt_long table and hand every option to link_opts_take. */
struct link_opts {
	uint16_t mtu;
	uint32_t room; /* --mbuf-room; 0: sized for the MTU */
	bool trusted;  /* --trusted-link: no L4 checksums (net_memif only) */
};

/* clang-format off */
#define LINK_OPTIONS                                     \
	{"mtu", required_argument, NULL, 'M'},           \
	{"mbuf-room", required_argument, NULL, 'R'},     \
	{"trusted-link", no_argument, NULL, 'K'}
/* clang-format on */

static inline void link_opts_defaults(struct link_opts *o)
{
	o->mtu = 1500;
	o->room = 0;
	o->trusted = false;
}

/* Returns 1 when opt was a link option and is taken, 0 when it is none,
 * -1 (with "<program>: <reason>" printed) when its value is bad. */
static inline int link_opts_take(struct link_opts *o, int opt, const char *arg, const char *program)
{
	switch (opt) {
	case 'M':
		if (link_parse_mtu(arg, &o->mtu) != 0) {
			fprintf(stderr, "%s: --mtu: 576 to %d\n", program, LINK_MTU_MAX);
			return -1;
		}
		return 1;
	case 'R':
		if (link_parse_room(arg, &o->room) != 0) {
			fprintf(stderr, "%s: bad --mbuf-room\n", program);
			return -1;
		}
		return 1;
	case 'K':
		o->trusted = true;
		return 1;
	default:
		return 0;
	}
}

/* The mbuf data room (headroom included): by default one whole frame per
 * mbuf, or room bytes of data when room is not 0; shrinks *mbufs so the
 * pool stays near LINK_POOL_BYTES when mbufs are large.  Unlike the
 * dataplane (port_mbuf_data_room: 16 KiB chains above that, its pools serve
 * thousands of connections) the test tools hold a 64000-byte frame in one
 * mbuf, as the kernel holds a 64 KB GSO packet: tools/bench-tcp's
 * like-for-like figures are measured so; --mbuf-room gives chains. */
static inline uint16_t link_mbuf_data_room(uint16_t mtu, uint32_t room, unsigned int *mbufs)
{
	uint32_t need =
	    RTE_PKTMBUF_HEADROOM + (room != 0 ? room : (uint32_t)mtu + RTE_ETHER_HDR_LEN + 4);
	if (need <= RTE_MBUF_DEFAULT_BUF_SIZE && room == 0)
		return RTE_MBUF_DEFAULT_BUF_SIZE;
	unsigned int cap = LINK_POOL_BYTES / need;
	if (cap < 2047)
		cap = 2047;
	if (*mbufs > cap)
		*mbufs = cap;
	return (uint16_t)need;
}

/* Opens the port of a tcp tool: the configuration's port name and
 * descriptors with the link options' MTU (also set in config), trust and
 * mbuf room.  Returns 0, or -1 with "<program>: <reason>" printed. */
static inline int link_bootstrap_open(struct port_bootstrap *boot, struct dataplane_config *config,
                                      const struct link_opts *link,
                                      struct port_bootstrap_config bootstrap_config,
                                      const char *program)
{
	config->ip.mtu = link->mtu;
	bootstrap_config.mbufs_per_worker = config->mbufs_per_worker;
	bootstrap_config.port = (struct port_config){.name = config->port_name,
	                                             .rx_descriptors = config->rx_descriptors,
	                                             .tx_descriptors = config->tx_descriptors,
	                                             .mtu = link->mtu,
	                                             .trusted_link = link->trusted};
	bootstrap_config.mbuf_data_room =
	    link_mbuf_data_room(link->mtu, link->room, &bootstrap_config.mbufs_per_worker);
	char error[512];
	if (port_bootstrap_open(boot, &bootstrap_config, error, sizeof(error)) != 0) {
		fprintf(stderr, "%s: %s\n", program, error);
		return -1;
	}
	return 0;
}

#endif
