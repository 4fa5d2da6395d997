/* ARP (RFC 826) for one worker lcore: answers requests for our address,
 * resolves next hops, and holds a bounded queue of packets per unresolved
 * next hop.  Each lcore keeps its own cache; what one lcore learns is passed
 * to the others through their inbox rings (share-nothing, no locks). */
#ifndef FTPS_ARP_H
#define FTPS_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#define ARP_CACHE_SIZE          256 /* power of two */
#define ARP_PENDING_PER_ENTRY   32  /* packets waiting for one next hop */
#define ARP_REQUEST_RETRIES     3
#define ARP_REQUEST_INTERVAL_MS 1000
#define ARP_ENTRY_LIFETIME_S    300
#define ARP_MAX_PEERS           128

struct net_lcore;

enum arp_entry_state { ARP_ENTRY_FREE = 0, ARP_ENTRY_PENDING, ARP_ENTRY_RESOLVED };

struct arp_entry {
	enum arp_entry_state state;
	rte_be32_t address;
	struct rte_ether_addr mac;
	uint64_t deadline_tsc; /* resolved: expiry; pending: next request */
	uint8_t requests_sent;
	uint8_t pending_count;
	struct rte_mbuf *pending[ARP_PENDING_PER_ENTRY];
};

/* What one lcore tells the others when it learns a mapping. */
struct arp_learned {
	rte_be32_t address;
	struct rte_ether_addr mac;
	uint16_t reserved;
	uint32_t reserved2;
};

struct arp_cache {
	struct arp_entry entries[ARP_CACHE_SIZE];
	uint64_t tsc_hz;
	struct rte_ring *inbox;
	unsigned int peer_count;
	struct rte_ring *peers[ARP_MAX_PEERS];
};

void arp_cache_init(struct arp_cache *cache, uint64_t tsc_hz);

/* Takes an ARP frame (data offset at the Ethernet header). */
void arp_input(struct net_lcore *nl, struct rte_mbuf *m);

/* Sends an IPv4 frame whose Ethernet header is in place but for the
 * destination MAC, resolving next_hop first when needed. Takes ownership. */
void arp_output(struct net_lcore *nl, struct rte_mbuf *frame, rte_be32_t next_hop,
                uint64_t now_tsc);

void arp_send_gratuitous(struct net_lcore *nl);

/* Starts resolving address before anything needs it (the gateway at start),
 * so the first packet out does not wait for ARP. */
void arp_prime(struct net_lcore *nl, rte_be32_t address, uint64_t now_tsc);

/* Request retries, queue timeouts, expiry, and mappings from other lcores. */
void arp_poll(struct net_lcore *nl, uint64_t now_tsc);

/* Returns true and fills mac when next_hop is resolved. */
bool arp_lookup(const struct arp_cache *cache, rte_be32_t next_hop, struct rte_ether_addr *mac);

void arp_cache_release(struct arp_cache *cache);

#endif
