/* Per-lcore packet counters, declared once.  Every drop on the receive and
 * transmit paths has a named counter here with a description that the
 * telemetry endpoint prints beside it. */
#ifndef FTPS_NET_COUNTERS_H
#define FTPS_NET_COUNTERS_H

#include <stdint.h>

#define NET_COUNTER_LIST(X)                                                                        \
	X(rx_frames, "frames received from the port")                                              \
	X(tx_frames, "frames handed to the port")                                                  \
	X(rx_arp, "ARP packets accepted")                                                          \
	X(rx_ipv4, "IPv4 packets accepted for us")                                                 \
	X(rx_icmp_echo, "ICMP echo requests answered")                                             \
	X(tx_arp_request, "ARP requests sent")                                                     \
	X(tx_arp_reply, "ARP replies sent")                                                        \
	X(tx_gratuitous_arp, "gratuitous ARP announcements sent")                                  \
	X(arp_resolved, "next hops resolved by ARP")                                               \
	X(drop_eth_short, "frame shorter than an Ethernet header")                                 \
	X(drop_eth_oversized, "frame longer than the MTU allows")                                  \
	X(drop_eth_not_for_us, "destination MAC neither ours nor broadcast")                       \
	X(drop_eth_unknown_type, "EtherType neither ARP nor IPv4")                                 \
	X(drop_eth_segmented, "chained frame: headers beyond the first mbuf, or not IPv4/TCP")     \
	X(drop_arp_malformed, "ARP packet too short or not Ethernet/IPv4")                         \
	X(drop_arp_bad_opcode, "ARP opcode neither request nor reply")                             \
	X(drop_arp_not_for_us, "ARP packet for another address")                                   \
	X(drop_arp_bad_sender, "ARP sender address broadcast, multicast or zero MAC")              \
	X(drop_arp_queue_full, "packet waiting for ARP dropped: queue full")                       \
	X(drop_arp_timeout, "packet waiting for ARP dropped: no reply in time")                    \
	X(drop_ipv4_short, "packet shorter than an IPv4 header")                                   \
	X(drop_ipv4_bad_version, "IP version not 4")                                               \
	X(drop_ipv4_bad_header_length, "IPv4 header length below 20 or beyond the packet")         \
	X(drop_ipv4_bad_total_length, "IPv4 total length inconsistent with the frame")             \
	X(drop_ipv4_bad_checksum, "IPv4 header checksum wrong")                                    \
	X(drop_ipv4_fragment, "IPv4 fragment (reassembly is not supported)")                       \
	X(drop_ipv4_not_for_us, "IPv4 destination neither ours nor broadcast")                     \
	X(drop_ipv4_bad_source, "IPv4 source multicast, broadcast, loopback or ours")              \
	X(drop_ipv4_options, "IPv4 header with options on a protocol that refuses them")           \
	X(drop_ipv4_unknown_protocol, "IP protocol neither ICMP nor TCP")                          \
	X(drop_ipv4_no_route, "no next hop for the destination (no gateway configured)")           \
	X(drop_icmp_short, "ICMP message shorter than its header")                                 \
	X(drop_icmp_bad_checksum, "ICMP checksum wrong")                                           \
	X(drop_icmp_ignored, "ICMP type not handled (not an echo request)")                        \
	X(drop_icmp_broadcast_echo, "echo request to a broadcast address (RFC 1122 3.2.2.6)")      \
	X(drop_icmp_echo_too_big, "echo request whose reply would exceed the MTU we send")         \
	X(drop_tcp_no_stack, "TCP segment while no TCP stack is attached")                         \
	X(drop_tx_ring_full, "frame dropped: transmit ring and backlog full")                      \
	X(drop_tap_write_refused, "frame the tap's kernel end refused (write failed)")             \
	X(drop_tap_truncated, "frame larger than the tap reader's chain (cut by the kernel)")      \
	X(tap_read_errors, "tap reads that failed other than for an empty queue")                  \
	X(tap_no_mbufs, "polls of the tap that found no mbufs for a frame (frames wait)")          \
	X(tx_backlogged, "frames held in the transmit backlog while the ring was full")            \
	X(drop_mbuf_exhausted, "no mbuf available to build a reply")                               \
	X(impair_rx_lost, "impairment: received frames dropped")                                   \
	X(impair_rx_duplicated, "impairment: received frames duplicated")                          \
	X(impair_rx_reordered, "impairment: received frames held back to reorder")                 \
	X(impair_rx_corrupted, "impairment: received frames with a flipped bit")                   \
	X(impair_rx_delayed, "impairment: received frames delayed")                                \
	X(impair_tx_lost, "impairment: transmitted frames dropped")                                \
	X(impair_tx_duplicated, "impairment: transmitted frames duplicated")                       \
	X(impair_tx_reordered, "impairment: transmitted frames held back to reorder")              \
	X(impair_tx_corrupted, "impairment: transmitted frames with a flipped bit")                \
	X(impair_tx_delayed, "impairment: transmitted frames delayed")

enum net_counter {
#define NET_COUNTER_ENUM(name, description) NET_COUNTER_##name,
	NET_COUNTER_LIST(NET_COUNTER_ENUM)
#undef NET_COUNTER_ENUM
	    NET_COUNTER_COUNT
};

extern const char *const net_counter_names[NET_COUNTER_COUNT];
extern const char *const net_counter_descriptions[NET_COUNTER_COUNT];

#endif
