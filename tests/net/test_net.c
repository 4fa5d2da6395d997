/* Unit tests of the dataplane's L2/L3 layers: crafted frames in, emitted
 * frames checked, drops counted by name.  No NIC, no root. */
#include <arpa/inet.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "check.h"
#include "ipv4.h"
#include "net_checksum.h"
#include "net_lcore.h"
#include "test_eal.h"

static struct rte_mempool *pool;
static struct rte_mbuf *captured[256];
static unsigned int captured_count;

static void capture_sink(struct net_lcore *nl, struct rte_mbuf **frames, uint16_t count)
{
	(void)nl;
	for (uint16_t i = 0; i < count; i++) {
		if (captured_count < RTE_DIM(captured))
			captured[captured_count++] = frames[i];
		else
			rte_pktmbuf_free(frames[i]);
	}
}

static void captured_clear(void)
{
	for (unsigned int i = 0; i < captured_count; i++)
		rte_pktmbuf_free(captured[i]);
	captured_count = 0;
}

static const struct rte_ether_addr our_mac = {{0x02, 0, 0, 0, 0, 0x01}};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0, 0, 0, 0x02}};
static const struct rte_ether_addr broadcast_mac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
/* DPDK's RTE_IPV4 shifts a signed int: undefined for 198.x. */
#define TEST_IPV4(a, b, c, d)                                                                      \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define OUR_IP  TEST_IPV4(198, 18, 0, 1)
#define PEER_IP TEST_IPV4(198, 18, 0, 2)

static void setup(struct net_lcore *nl)
{
	struct net_address_config ip = {
	    .address = rte_cpu_to_be_32(OUR_IP),
	    .netmask = rte_cpu_to_be_32(0xffffff00),
	    .gateway = rte_cpu_to_be_32(TEST_IPV4(198, 18, 0, 254)),
	    .mtu = 1500,
	};
	net_lcore_init(nl, 0, 0, 0, &our_mac, &ip, pool);
	nl->sink = capture_sink;
}

static struct rte_mbuf *frame_from(const void *bytes, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p = rte_pktmbuf_append(m, (uint16_t)len);
	memcpy(p, bytes, len);
	return m;
}

static struct rte_mbuf *arp_frame(uint16_t op, const struct rte_ether_addr *dst, uint32_t sender_ip,
                                  uint32_t target_ip)
{
	uint8_t buf[sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr)];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	eth->dst_addr = *dst;
	eth->src_addr = peer_mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = 6;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(op);
	arp->arp_data.arp_sha = peer_mac;
	arp->arp_data.arp_sip = rte_cpu_to_be_32(sender_ip);
	memset(&arp->arp_data.arp_tha, 0, 6);
	arp->arp_data.arp_tip = rte_cpu_to_be_32(target_ip);
	return frame_from(buf, sizeof(buf));
}

/* An Ethernet + IPv4 + ICMP echo request with payload_len bytes of data. */
static size_t echo_bytes(uint8_t *buf, uint32_t dst_ip, size_t payload_len)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(ip + 1);
	eth->dst_addr = our_mac;
	eth->src_addr = peer_mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	size_t icmp_len = sizeof(*icmp) + payload_len;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + icmp_len));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = rte_cpu_to_be_32(PEER_IP);
	ip->dst_addr = rte_cpu_to_be_32(dst_ip);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	icmp->icmp_code = 0;
	icmp->icmp_ident = RTE_BE16(0x1234);
	icmp->icmp_seq_nb = RTE_BE16(7);
	for (size_t i = 0; i < payload_len; i++)
		((uint8_t *)(icmp + 1))[i] = (uint8_t)i;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, icmp_len);
	return sizeof(*eth) + sizeof(*ip) + icmp_len;
}

static void test_arp_reply(void)
{
	struct net_lcore nl;
	setup(&nl);
	eth_input(&nl, arp_frame(RTE_ARP_OP_REQUEST, &broadcast_mac, PEER_IP, OUR_IP));
	net_flush(&nl);
	CHECK_EQ(captured_count, 1);
	if (captured_count == 1) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(captured[0], struct rte_ether_hdr *);
		struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
		CHECK(rte_is_same_ether_addr(&eth->dst_addr, &peer_mac));
		CHECK(rte_is_same_ether_addr(&eth->src_addr, &our_mac));
		CHECK_EQ(rte_be_to_cpu_16(arp->arp_opcode), RTE_ARP_OP_REPLY);
		CHECK(rte_is_same_ether_addr(&arp->arp_data.arp_sha, &our_mac));
		CHECK_EQ(rte_be_to_cpu_32(arp->arp_data.arp_sip), OUR_IP);
		CHECK_EQ(rte_be_to_cpu_32(arp->arp_data.arp_tip), PEER_IP);
		CHECK_EQ(rte_pktmbuf_data_len(captured[0]), 42);
	}
	CHECK_EQ(nl.counters[NET_COUNTER_tx_arp_reply], 1);
	/* The request taught us the sender (RFC 826 merge). */
	struct rte_ether_addr learned;
	CHECK(arp_lookup(&nl.arp, rte_cpu_to_be_32(PEER_IP), &learned));
	captured_clear();

	/* A request for someone else: no reply, counted, nothing learned. */
	eth_input(&nl, arp_frame(RTE_ARP_OP_REQUEST, &broadcast_mac, TEST_IPV4(198, 18, 0, 9),
	                         TEST_IPV4(198, 18, 0, 77)));
	net_flush(&nl);
	CHECK_EQ(captured_count, 0);
	CHECK_EQ(nl.counters[NET_COUNTER_drop_arp_not_for_us], 1);
	CHECK(!arp_lookup(&nl.arp, rte_cpu_to_be_32(TEST_IPV4(198, 18, 0, 9)), &learned));
	net_lcore_release(&nl);
	captured_clear();
}

static struct rte_mbuf *tcp_like_payload(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p = rte_pktmbuf_append(m, 20);
	memset(p, 0xab, 20);
	return m;
}

static void test_arp_resolution(void)
{
	struct net_lcore nl;
	setup(&nl);
	uint64_t now = rte_get_tsc_cycles();
	uint64_t hz = rte_get_tsc_hz();
	/* Two packets to an unresolved neighbour: one request, both queued. */
	ipv4_output(&nl, tcp_like_payload(), rte_cpu_to_be_32(TEST_IPV4(198, 18, 0, 3)), 253, now);
	ipv4_output(&nl, tcp_like_payload(), rte_cpu_to_be_32(TEST_IPV4(198, 18, 0, 3)), 253, now);
	net_flush(&nl);
	CHECK_EQ(captured_count, 1);
	CHECK_EQ(nl.counters[NET_COUNTER_tx_arp_request], 1);
	if (captured_count == 1) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(captured[0], struct rte_ether_hdr *);
		struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
		CHECK(rte_is_broadcast_ether_addr(&eth->dst_addr));
		CHECK_EQ(rte_be_to_cpu_16(arp->arp_opcode), RTE_ARP_OP_REQUEST);
		CHECK_EQ(rte_be_to_cpu_32(arp->arp_data.arp_tip), TEST_IPV4(198, 18, 0, 3));
	}
	captured_clear();
	/* The reply releases both queued packets to the learned MAC. */
	struct rte_mbuf *reply =
	    arp_frame(RTE_ARP_OP_REPLY, &our_mac, TEST_IPV4(198, 18, 0, 3), OUR_IP);
	eth_input(&nl, reply);
	net_flush(&nl);
	CHECK_EQ(captured_count, 2);
	for (unsigned int i = 0; i < captured_count; i++) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(captured[i], struct rte_ether_hdr *);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		CHECK(rte_is_same_ether_addr(&eth->dst_addr, &peer_mac));
		CHECK_EQ(rte_be_to_cpu_16(eth->ether_type), RTE_ETHER_TYPE_IPV4);
		CHECK_EQ(rte_be_to_cpu_32(ip->dst_addr), TEST_IPV4(198, 18, 0, 3));
		CHECK_EQ(rte_raw_cksum(ip, 20), 0xffff);
	}
	CHECK_EQ(nl.counters[NET_COUNTER_arp_resolved], 1);
	captured_clear();

	/* Off-link destination goes to the gateway; nobody answers: three
	 * requests in all, then the queued packet is dropped and counted. */
	ipv4_output(&nl, tcp_like_payload(), rte_cpu_to_be_32(TEST_IPV4(203, 0, 113, 5)), 253, now);
	for (int step = 1; step <= 4; step++)
		net_poll_timers(&nl, now + (uint64_t)step * hz * 11 / 10);
	net_flush(&nl);
	CHECK_EQ(nl.counters[NET_COUNTER_tx_arp_request], 1 + 3);
	CHECK_EQ(nl.counters[NET_COUNTER_drop_arp_timeout], 1);
	for (unsigned int i = 0; i < captured_count; i++) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(captured[i], struct rte_ether_hdr *);
		struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
		CHECK_EQ(rte_be_to_cpu_32(arp->arp_data.arp_tip), TEST_IPV4(198, 18, 0, 254));
	}
	captured_clear();

	/* The pending queue is bounded. */
	for (int i = 0; i < ARP_PENDING_PER_ENTRY + 5; i++)
		ipv4_output(&nl, tcp_like_payload(), rte_cpu_to_be_32(TEST_IPV4(198, 18, 0, 4)),
		            253, now);
	CHECK_EQ(nl.counters[NET_COUNTER_drop_arp_queue_full], 5);
	net_lcore_release(&nl);
	captured_clear();
}

static void test_icmp_echo(void)
{
	struct net_lcore nl;
	setup(&nl);
	uint8_t buf[256];
	size_t len = echo_bytes(buf, OUR_IP, 56);
	eth_input(&nl, frame_from(buf, len));
	net_flush(&nl);
	CHECK_EQ(captured_count, 1);
	CHECK_EQ(nl.counters[NET_COUNTER_rx_icmp_echo], 1);
	if (captured_count == 1) {
		struct rte_mbuf *m = captured[0];
		CHECK_EQ(rte_pktmbuf_data_len(m), len);
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(ip + 1);
		CHECK(rte_is_same_ether_addr(&eth->dst_addr, &peer_mac));
		CHECK_EQ(rte_be_to_cpu_32(ip->src_addr), OUR_IP);
		CHECK_EQ(rte_be_to_cpu_32(ip->dst_addr), PEER_IP);
		CHECK_EQ(rte_raw_cksum(ip, 20), 0xffff);
		CHECK_EQ(icmp->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
		CHECK_EQ(icmp->icmp_ident, RTE_BE16(0x1234));
		CHECK_EQ(icmp->icmp_seq_nb, RTE_BE16(7));
		CHECK_EQ(rte_raw_cksum(icmp, len - 34), 0xffff);
		CHECK(memcmp(icmp + 1, buf + 42, 56) == 0);
	}
	captured_clear();
	net_lcore_release(&nl);
}

/* Each malformed frame is dropped with its own counter and no reply. */
static void test_malformed(void)
{
	struct net_lcore nl;
	setup(&nl);
	uint8_t buf[2048], bad[2048];
	size_t len = echo_bytes(buf, OUR_IP, 56);
	struct rte_ipv4_hdr *ip;
	struct {
		const char *what;
		enum net_counter counter;
	} cases[] = {
	    {"short ethernet", NET_COUNTER_drop_eth_short},
	    {"oversized", NET_COUNTER_drop_eth_oversized},
	    {"wrong mac", NET_COUNTER_drop_eth_not_for_us},
	    {"unknown ethertype", NET_COUNTER_drop_eth_unknown_type},
	    {"short ipv4", NET_COUNTER_drop_ipv4_short},
	    {"version 6", NET_COUNTER_drop_ipv4_bad_version},
	    {"ihl 4", NET_COUNTER_drop_ipv4_bad_header_length},
	    {"ihl 15", NET_COUNTER_drop_ipv4_bad_header_length},
	    {"total length too big", NET_COUNTER_drop_ipv4_bad_total_length},
	    {"total length too small", NET_COUNTER_drop_ipv4_bad_total_length},
	    {"checksum", NET_COUNTER_drop_ipv4_bad_checksum},
	    {"fragment", NET_COUNTER_drop_ipv4_fragment},
	    {"not for us", NET_COUNTER_drop_ipv4_not_for_us},
	    {"loopback source", NET_COUNTER_drop_ipv4_bad_source},
	    {"unknown protocol", NET_COUNTER_drop_ipv4_unknown_protocol},
	    {"icmp checksum", NET_COUNTER_drop_icmp_bad_checksum},
	    {"icmp short", NET_COUNTER_drop_icmp_short},
	    {"tcp without stack", NET_COUNTER_drop_tcp_no_stack},
	    {"short arp", NET_COUNTER_drop_arp_malformed},
	    {"arp bad opcode", NET_COUNTER_drop_arp_bad_opcode},
	    {"arp multicast sender", NET_COUNTER_drop_arp_bad_sender},
	};
	for (unsigned int c = 0; c < RTE_DIM(cases); c++) {
		memcpy(bad, buf, len);
		size_t bad_len = len;
		ip = (struct rte_ipv4_hdr *)(bad + 14);
		int fix_checksum = 1;
		struct rte_mbuf *m = NULL;
		switch (c) {
		case 0:
			bad_len = 10;
			break;
		case 1:
			bad_len = 1600;
			memset(bad + len, 0, 1600 - len);
			break;
		case 2:
			bad[0] = 0x02, bad[5] = 0x33;
			break;
		case 3:
			bad[12] = 0x86, bad[13] = 0xdd;
			break;
		case 4:
			bad_len = 14 + 10;
			break;
		case 5:
			ip->version_ihl = 0x65;
			break;
		case 6:
			ip->version_ihl = 0x44;
			break;
		case 7:
			ip->version_ihl = 0x4f; /* 60-byte header in a 40-byte packet */
			ip->total_length = rte_cpu_to_be_16(40);
			bad_len = 14 + 40;
			break;
		case 8:
			ip->total_length = rte_cpu_to_be_16(1400);
			break;
		case 9:
			ip->total_length = rte_cpu_to_be_16(12);
			break;
		case 10:
			ip->hdr_checksum ^= 0x0101;
			fix_checksum = 0;
			break;
		case 11:
			ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
			break;
		case 12:
			ip->dst_addr = rte_cpu_to_be_32(TEST_IPV4(198, 18, 0, 99));
			break;
		case 13:
			ip->src_addr = rte_cpu_to_be_32(TEST_IPV4(127, 0, 0, 1));
			break;
		case 14:
			ip->next_proto_id = 17;
			break;
		case 15:
			bad[14 + 20 + 8] ^= 0xff;
			break;
		case 16:
			ip->total_length = rte_cpu_to_be_16(20 + 4);
			bad_len = 14 + 24;
			break;
		case 17:
			ip->next_proto_id = IPPROTO_TCP;
			break;
		case 18:
			m = arp_frame(RTE_ARP_OP_REQUEST, &broadcast_mac, PEER_IP, OUR_IP);
			rte_pktmbuf_trim(m, 10);
			break;
		case 19:
			m = arp_frame(9, &broadcast_mac, PEER_IP, OUR_IP);
			break;
		case 20: {
			m = arp_frame(RTE_ARP_OP_REQUEST, &broadcast_mac, PEER_IP, OUR_IP);
			struct rte_arp_hdr *arp =
			    rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14);
			arp->arp_data.arp_sha.addr_bytes[0] = 0x01;
			break;
		}
		default:
			break;
		}
		if (m == NULL) {
			if (fix_checksum && c >= 6 && c != 10) {
				ip->hdr_checksum = 0;
				uint32_t hl = (uint32_t)(ip->version_ihl & 0xf) * 4;
				if (hl >= 20 && 14 + hl <= bad_len)
					ip->hdr_checksum = rte_ipv4_cksum(ip);
			}
			m = frame_from(bad, bad_len);
		}
		uint64_t before = nl.counters[cases[c].counter];
		eth_input(&nl, m);
		net_flush(&nl);
		if (nl.counters[cases[c].counter] != before + 1)
			fprintf(stderr, "case '%s' not counted\n", cases[c].what);
		CHECK_EQ(nl.counters[cases[c].counter], before + 1);
		if (captured_count != 0)
			fprintf(stderr, "case '%s' produced output\n", cases[c].what);
		CHECK_EQ(captured_count, 0);
		captured_clear();
	}
	net_lcore_release(&nl);
}

/* Random frames and random mutations of a valid one: no crash, every frame
 * either answered or counted, and the mbuf pool is whole afterwards. */
static void test_random_frames(void)
{
	struct net_lcore nl;
	setup(&nl);
	unsigned int available = rte_mempool_avail_count(pool);
	uint8_t buf[1600];
	size_t valid_len = echo_bytes(buf, OUR_IP, 64);
	uint64_t answered = 0;
	rte_srand(42);
	for (int i = 0; i < 20000; i++) {
		uint8_t frame[1600];
		size_t len;
		if (i % 2 == 0) {
			len = (size_t)(rte_rand() % 1600);
			for (size_t k = 0; k < len; k++)
				frame[k] = (uint8_t)rte_rand();
			if (len >= 14 && (i % 4 == 0)) {
				memcpy(frame, &our_mac, 6);
				frame[12] = 0x08, frame[13] = (i % 8 == 0) ? 0x00 : 0x06;
			}
		} else {
			memcpy(frame, buf, valid_len);
			len = valid_len;
			for (int flips = 0; flips < 3; flips++) {
				size_t at = (size_t)(rte_rand() % valid_len);
				frame[at] ^= (uint8_t)(1u << (rte_rand() % 8));
			}
		}
		eth_input(&nl, frame_from(frame, len));
		net_flush(&nl);
		answered += captured_count;
		captured_clear();
	}
	uint64_t dropped = 0;
	for (unsigned int c = 0; c < NET_COUNTER_COUNT; c++)
		if (strncmp(net_counter_names[c], "drop_", 5) == 0)
			dropped += nl.counters[c];
	uint64_t accepted = nl.counters[NET_COUNTER_rx_icmp_echo] + nl.counters[NET_COUNTER_rx_arp];
	CHECK_EQ(nl.counters[NET_COUNTER_rx_frames], 20000);
	/* Every frame is either dropped with a reason or accepted. */
	CHECK_EQ(dropped + accepted, 20000);
	CHECK(answered <= accepted);
	net_lcore_release(&nl);
	CHECK_EQ(rte_mempool_avail_count(pool), available);
}

/* The chained checksum equals the flat one for chains with odd-sized
 * segments, where DPDK 22.11's rte_raw_cksum_mbuf loses carries. */
static void test_chained_checksum(void)
{
	rte_srand(99);
	unsigned int mismatches = 0;
	for (int trial = 0; trial < 500; trial++) {
		uint8_t flat[8192];
		uint32_t total = 0;
		struct rte_mbuf *head = NULL;
		int segs = 1 + (int)(rte_rand() % 5); /* at most 7000 bytes */
		for (int k = 0; k < segs; k++) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
			uint16_t n = (uint16_t)(1 + rte_rand() % 1400);
			uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, n);
			for (uint16_t i = 0; i < n; i++)
				p[i] = flat[total + i] = (uint8_t)rte_rand();
			total += n;
			if (head == NULL)
				head = m;
			else
				rte_pktmbuf_chain(head, m);
		}
		uint32_t off = (uint32_t)(rte_rand() % (total / 2 + 1));
		uint16_t chained = 0;
		CHECK_EQ(net_checksum_mbuf(head, off, total - off, &chained), 0);
		uint16_t expect =
		    (uint16_t)net_checksum_fold(__rte_raw_cksum(flat + off, total - off, 0));
		if (chained != expect)
			mismatches++;
		uint16_t dummy;
		CHECK_EQ(net_checksum_mbuf(head, off, total - off + 1, &dummy), -1);
		rte_pktmbuf_free(head);
	}
	CHECK_EQ(mismatches, 0);
}

static struct rte_mbuf *tcp_seen;
static void capture_tcp(struct net_lcore *nl, struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	(void)nl;
	(void)ip;
	if (tcp_seen != NULL)
		rte_pktmbuf_free(tcp_seen);
	tcp_seen = m;
}

/* Copies a flat frame into a chain: the first mbuf holds first bytes, the
 * others piece bytes each. */
static struct rte_mbuf *chain_from(const uint8_t *bytes, uint32_t len, uint32_t first,
                                   uint32_t piece)
{
	struct rte_mbuf *head = NULL;
	uint32_t done = 0, cut = first;
	while (done < len) {
		uint32_t n = len - done < cut ? len - done : cut;
		struct rte_mbuf *m = frame_from(bytes + done, n);
		if (head == NULL)
			head = m;
		else
			CHECK_EQ(rte_pktmbuf_chain(head, m), 0);
		done += n;
		cut = piece;
	}
	return head;
}

/* A TCP/IPv4 frame of len bytes (IP total length ip_len <= len - 14; the
 * rest is padding) with a counting payload. */
static void tcp_frame_bytes(uint8_t *buf, uint32_t len, uint32_t ip_len)
{
	memset(buf, 0, len);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	eth->dst_addr = our_mac;
	eth->src_addr = peer_mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)ip_len);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(PEER_IP);
	ip->dst_addr = rte_cpu_to_be_32(OUR_IP);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	for (uint32_t i = 34; i < 14 + ip_len; i++)
		buf[i] = (uint8_t)(i * 13);
}

/* Frames that arrive as mbuf chains (net_memif, frames above an mbuf):
 * delivered whole to TCP with padding trimmed across segments; dropped and
 * counted when the headers do not fit the first mbuf, when too long for
 * the MTU, or when ARP/ICMP (handled in one mbuf only). */
static void test_chained_frames(void)
{
	struct net_lcore nl;
	setup(&nl);
	nl.ip.mtu = 9000;
	nl.receive_mtu = 9000;
	nl.tcp_input = capture_tcp;
	static uint8_t buf[9100];
	unsigned int available = rte_mempool_avail_count(pool);
	/* 8000-byte frame: 100 bytes first, then 1500-byte pieces. */
	tcp_frame_bytes(buf, 8000, 8000 - 14);
	eth_input(&nl, chain_from(buf, 8000, 100, 1500));
	CHECK(tcp_seen != NULL);
	if (tcp_seen != NULL) {
		CHECK_EQ(rte_pktmbuf_pkt_len(tcp_seen), 8000 - 34);
		CHECK_EQ(tcp_seen->nb_segs, 7);
		uint8_t flat[8000];
		CHECK(rte_pktmbuf_read(tcp_seen, 0, 8000 - 34, flat) != NULL);
		CHECK(memcmp(flat, buf + 34, 8000 - 34) == 0);
	}
	CHECK_EQ(nl.counters[NET_COUNTER_rx_ipv4], 1);
	/* Padding beyond the IP length spread over the last two segments: the
	 * chain ends where the datagram does, emptied segments freed. */
	tcp_frame_bytes(buf, 3000, 2600 - 14);
	eth_input(&nl, chain_from(buf, 3000, 1000, 1000));
	CHECK(tcp_seen != NULL);
	if (tcp_seen != NULL) {
		CHECK_EQ(rte_pktmbuf_pkt_len(tcp_seen), 2600 - 34);
		CHECK_EQ(tcp_seen->nb_segs, 3);
		CHECK_EQ(rte_pktmbuf_lastseg(tcp_seen)->data_len, 600);
		uint8_t flat[3000];
		CHECK(rte_pktmbuf_read(tcp_seen, 0, 2600 - 34, flat) != NULL);
		CHECK(memcmp(flat, buf + 34, 2600 - 34) == 0);
	}
	/* IPv4 header beyond the first mbuf. */
	tcp_frame_bytes(buf, 4000, 4000 - 14);
	eth_input(&nl, chain_from(buf, 4000, 20, 2000));
	CHECK_EQ(nl.counters[NET_COUNTER_drop_eth_segmented], 1);
	/* Ethernet header beyond the first mbuf. */
	eth_input(&nl, chain_from(buf, 4000, 10, 2000));
	CHECK_EQ(nl.counters[NET_COUNTER_drop_eth_segmented], 2);
	/* Longer than MTU 9000 allows. */
	tcp_frame_bytes(buf, 9100, 9100 - 14);
	eth_input(&nl, chain_from(buf, 9100, 2000, 2000));
	CHECK_EQ(nl.counters[NET_COUNTER_drop_eth_oversized], 1);
	/* ICMP echo and ARP in a chain. */
	uint8_t echo[2048];
	size_t len = echo_bytes(echo, OUR_IP, 1200);
	eth_input(&nl, chain_from(echo, (uint32_t)len, 600, 600));
	CHECK_EQ(nl.counters[NET_COUNTER_drop_eth_segmented], 3);
	CHECK_EQ(nl.counters[NET_COUNTER_rx_icmp_echo], 0);
	struct rte_mbuf *arp = arp_frame(RTE_ARP_OP_REQUEST, &broadcast_mac, PEER_IP, OUR_IP);
	uint8_t arp_bytes[64];
	uint32_t arp_len = rte_pktmbuf_data_len(arp);
	memcpy(arp_bytes, rte_pktmbuf_mtod(arp, void *), arp_len);
	rte_pktmbuf_free(arp);
	eth_input(&nl, chain_from(arp_bytes, arp_len, 30, 30));
	CHECK_EQ(nl.counters[NET_COUNTER_drop_eth_segmented], 4);
	CHECK_EQ(captured_count, 0);
	rte_pktmbuf_free(tcp_seen);
	tcp_seen = NULL;
	net_lcore_release(&nl);
	CHECK_EQ(rte_mempool_avail_count(pool), available);
}

/* A link that brings larger packets than it takes out (net_tap: receive
 * MTU above the MTU): TCP frames up to the receive MTU go in; an echo
 * request whose reply would not fit the MTU is a counted drop, no reply. */
static void test_receive_mtu_above_mtu(void)
{
	struct net_lcore nl;
	setup(&nl);
	nl.receive_mtu = 9000;
	nl.tcp_input = capture_tcp;
	static uint8_t buf[9100];
	tcp_frame_bytes(buf, 8000, 8000 - 14);
	eth_input(&nl, chain_from(buf, 8000, 2000, 2000));
	CHECK(tcp_seen != NULL);
	CHECK_EQ(nl.counters[NET_COUNTER_drop_eth_oversized], 0);
	rte_pktmbuf_free(tcp_seen);
	tcp_seen = NULL;
	tcp_frame_bytes(buf, 9100, 9100 - 14);
	eth_input(&nl, chain_from(buf, 9100, 2000, 2000));
	CHECK_EQ(nl.counters[NET_COUNTER_drop_eth_oversized], 1);
	CHECK(tcp_seen == NULL);
	uint8_t echo[2048];
	size_t len = echo_bytes(echo, OUR_IP, 1600);
	eth_input(&nl, frame_from(echo, len));
	net_flush(&nl);
	CHECK_EQ(nl.counters[NET_COUNTER_drop_icmp_echo_too_big], 1);
	CHECK_EQ(nl.counters[NET_COUNTER_rx_icmp_echo], 0);
	CHECK_EQ(captured_count, 0);
	len = echo_bytes(echo, OUR_IP, 1500 - 28);
	eth_input(&nl, frame_from(echo, len));
	net_flush(&nl);
	CHECK_EQ(nl.counters[NET_COUNTER_rx_icmp_echo], 1);
	CHECK_EQ(captured_count, 1);
	captured_clear();
	net_lcore_release(&nl);
}

int main(void)
{
	if (test_eal_init("test_net") != 0)
		return 1;
	pool = rte_pktmbuf_pool_create("test_net", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (pool == NULL)
		return 1;
	unsigned int start = rte_mempool_avail_count(pool);
	test_arp_reply();
	test_arp_resolution();
	test_icmp_echo();
	test_malformed();
	test_random_frames();
	test_chained_checksum();
	test_chained_frames();
	test_receive_mtu_above_mtu();
	CHECK_EQ(rte_mempool_avail_count(pool), start);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return check_finish("net");
}
