/* Our own tap I/O on a tap this test makes the way net_tap does
 * (multi-queue, packet information, a detached keep-alive queue plus an
 * attached one, a real-time signal per queued frame), in a network
 * namespace of its own.  tap_writer picks the attached queue, and frames of
 * 60, 9000 and 64000 bytes, the larger ones mbuf chains, arrive on the
 * tap's kernel end whole (read back by a packet socket).  tap_reader turns
 * the signal off (none arrives after), reads the same frames sent by the
 * kernel as mbuf chains of the right shape and bytes, counts a frame larger
 * than its chain instead of handing out a cut one, and gives every mbuf
 * back.  Needs root, as the integration tests do. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "check.h"
#include "net/tap_reader.h"
#include "net/tap_writer.h"

#define TEST_TAP        "twtest0"
#define TEST_ETHER_TYPE 0x88b5 /* IEEE local experimental: the kernel only counts it */

static int tap_queue(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct ifreq request = {.ifr_flags = IFF_TAP | IFF_MULTI_QUEUE};
	snprintf(request.ifr_name, sizeof(request.ifr_name), "%s", TEST_TAP);
	if (ioctl(fd, TUNSETIFF, &request) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int link_up(const char *name, int mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq request = {.ifr_mtu = mtu};
	snprintf(request.ifr_name, sizeof(request.ifr_name), "%s", name);
	int rc = s < 0 ? -1 : ioctl(s, SIOCSIFMTU, &request);
	if (rc == 0)
		rc = ioctl(s, SIOCGIFFLAGS, &request);
	request.ifr_flags |= IFF_UP;
	if (rc == 0)
		rc = ioctl(s, SIOCSIFFLAGS, &request);
	if (s >= 0)
		close(s);
	return rc;
}

/* A frame of length bytes (byte i of the payload is a function of i and
 * the frame) in mbufs of at most piece bytes each. */
static struct rte_mbuf *make_frame(struct rte_mempool *pool, uint32_t length, uint16_t piece,
                                   uint8_t tag)
{
	struct rte_mbuf *head = NULL;
	uint32_t written = 0;
	while (written < length) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		uint16_t n = (uint16_t)(length - written < piece ? length - written : piece);
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, n);
		for (uint16_t i = 0; i < n; i++)
			p[i] = (uint8_t)((written + i) * 7 + tag);
		if (head == NULL) {
			struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
			memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
			memcpy(&eth->src_addr, "\x02\x00\x00\x00\x00\x01", 6);
			eth->ether_type = htons(TEST_ETHER_TYPE);
			head = m;
		} else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
		written += n;
	}
	return head;
}

static bool frame_matches(const uint8_t *got, size_t got_length, uint32_t length, uint8_t tag)
{
	if (got_length != length)
		return false;
	for (uint32_t i = sizeof(struct rte_ether_hdr); i < length; i++)
		if (got[i] != (uint8_t)(i * 7 + tag))
			return false;
	return true;
}

static volatile sig_atomic_t signals_seen;

static void count_signal(int signal_number)
{
	(void)signal_number;
	signals_seen++;
}

/* Turns on what net_tap turns on for its receive trigger. */
static int signal_per_frame(int fd, int signal_number)
{
	struct sigaction action = {.sa_handler = count_signal, .sa_flags = SA_RESTART};
	int flags = fcntl(fd, F_GETFL);
	if (sigaction(signal_number, &action, NULL) != 0 || flags < 0 ||
	    fcntl(fd, F_SETSIG, signal_number) != 0 || fcntl(fd, F_SETOWN, getpid()) != 0 ||
	    fcntl(fd, F_SETFL, flags | O_ASYNC | O_NONBLOCK) != 0)
		return -1;
	return 0;
}

/* Sends a frame made by make_frame from the kernel end towards the tap. */
static bool kernel_sends(int packets, const struct sockaddr_ll *at, struct rte_mempool *pool,
                         uint32_t length, uint8_t tag)
{
	static uint8_t flat[65536];
	struct rte_mbuf *m = make_frame(pool, length, 16384, tag);
	if (m == NULL)
		return false;
	const void *bytes = rte_pktmbuf_read(m, 0, length, flat);
	ssize_t sent = sendto(packets, bytes, length, 0, (const struct sockaddr *)at, sizeof(*at));
	rte_pktmbuf_free(m);
	return sent == (ssize_t)length;
}

/* Polls the reader until count frames came or two seconds passed. */
static uint16_t reader_collect(struct tap_reader *reader, struct rte_mbuf **frames, uint16_t count)
{
	uint16_t got = 0;
	for (int i = 0; i < 2000 && got < count; i++) {
		got = (uint16_t)(got +
		                 tap_reader_receive(reader, frames + got, (uint16_t)(count - got)));
		if (got < count)
			usleep(1000);
	}
	return got;
}

static bool chain_matches(struct rte_mbuf *m, uint32_t length, uint8_t tag)
{
	static uint8_t flat[65536];
	const uint8_t *bytes = m->pkt_len == length ? rte_pktmbuf_read(m, 0, length, flat) : NULL;
	return bytes != NULL && frame_matches(bytes, length, length, tag);
}

static void check_reader(int attached, unsigned int if_index, int packets,
                         struct rte_mempool *small, struct rte_mempool *large)
{
	char error[256] = "";
	int signal_number = SIGRTMIN + 1;
	CHECK(signal_per_frame(attached, signal_number) == 0);
	struct sockaddr_ll at = {.sll_family = AF_PACKET,
	                         .sll_protocol = htons(TEST_ETHER_TYPE),
	                         .sll_ifindex = (int)if_index,
	                         .sll_halen = 6};
	memset(at.sll_addr, 0xff, 6);
	/* The trigger as net_tap has it: a signal for a queued frame. */
	CHECK(kernel_sends(packets, &at, large, 60, 9));
	for (int i = 0; i < 1000 && signals_seen == 0; i++)
		usleep(1000);
	CHECK(signals_seen > 0);

	CHECK(tap_reader_take_queue(attached, error, sizeof(error)) == 0);
	CHECK((fcntl(attached, F_GETFL) & O_ASYNC) == 0);
	struct tap_reader reader;
	/* 2176-byte mbufs cannot carry 65535 bytes in 40 pieces of 1 KB. */
	struct rte_mempool *tiny =
	    rte_pktmbuf_pool_create("tap_tiny", 63, 0, 0, RTE_PKTMBUF_HEADROOM + 1024, 0);
	CHECK(tiny != NULL);
	CHECK(tap_reader_init(&reader, attached, 7, tiny, 65535, error, sizeof(error)) != 0);
	CHECK(strstr(error, "cannot hold") != NULL);
	CHECK(tap_reader_init(&reader, attached, 7, small, 65000 + 18, error, sizeof(error)) == 0);
	CHECK_EQ(reader.segments, 30);
	struct rte_mbuf *frames[4];
	CHECK_EQ(reader_collect(&reader, frames, 1), 1); /* the frame sent before */
	CHECK(chain_matches(frames[0], 60, 9));
	rte_pktmbuf_free(frames[0]);
	CHECK_EQ(tap_reader_receive(&reader, frames, 4), 0); /* empty: returns at once */

	unsigned int signals_before = (unsigned int)signals_seen;
	const uint32_t lengths[] = {60, 9000, 64000};
	const uint16_t pieces[] = {1, 5, 30}; /* 2048 after the headroom, then 2176 each */
	for (unsigned int i = 0; i < 3; i++)
		CHECK(kernel_sends(packets, &at, large, lengths[i], (uint8_t)(20 + i)));
	CHECK_EQ(reader_collect(&reader, frames, 3), 3);
	for (unsigned int i = 0; i < 3; i++) {
		CHECK_EQ(frames[i]->nb_segs, pieces[i]);
		CHECK_EQ(frames[i]->port, 7);
		CHECK(chain_matches(frames[i], lengths[i], (uint8_t)(20 + i)));
	}
	rte_pktmbuf_free_bulk(frames, 3);
	CHECK_EQ(reader.frames, 4);
	usleep(20000);
	CHECK_EQ((unsigned int)signals_seen, signals_before); /* the trigger is off */

	/* A reader whose chain holds 1518 bytes: a 9000-byte frame is counted,
	 * not handed out cut; the next frame comes whole. */
	struct tap_reader short_reader;
	CHECK(tap_reader_init(&short_reader, attached, 7, small, 1518, error, sizeof(error)) == 0);
	uint64_t truncated = 0;
	short_reader.truncated = &truncated;
	CHECK_EQ(short_reader.segments, 1);
	CHECK(kernel_sends(packets, &at, large, 9000, 30));
	CHECK(kernel_sends(packets, &at, large, 1000, 31));
	CHECK_EQ(reader_collect(&short_reader, frames, 1), 1);
	CHECK_EQ(truncated, 1);
	CHECK(chain_matches(frames[0], 1000, 31));
	rte_pktmbuf_free(frames[0]);

	tap_reader_release(&reader);
	tap_reader_release(&short_reader);
	CHECK_EQ(rte_mempool_in_use_count(small), 0);
	rte_mempool_free(tiny);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_tap_io: needs root (a tap in a namespace of its own)\n");
		return 1;
	}
	CHECK(unshare(CLONE_NEWNET) == 0);
	int keep_alive = tap_queue();
	CHECK(keep_alive >= 0);
	int attached = tap_queue();
	CHECK(attached >= 0);
	/* As net_tap does with its first queue: open, then detach. */
	struct ifreq queue = {.ifr_flags = IFF_DETACH_QUEUE};
	CHECK(ioctl(keep_alive, TUNSETQUEUE, &queue) == 0);
	/* No IPv6 chatter: every frame on the tap is the test's. */
	FILE *ipv6 = fopen("/proc/sys/net/ipv6/conf/" TEST_TAP "/disable_ipv6", "w");
	if (ipv6 != NULL) {
		fputs("1", ipv6);
		fclose(ipv6);
	}
	CHECK(link_up(TEST_TAP, 65000) == 0);
	unsigned int if_index = if_nametoindex(TEST_TAP);
	CHECK(if_index != 0);

	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_tap_io_%d", (int)getpid());
	char *argv[] = {
	    "test_tap_io",       "--no-huge",      "--no-pci", "--no-shconf", "-m",   "256",
	    "--log-level=error", "--no-telemetry", "-l",       "0",           prefix, NULL};
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "test_tap_io: EAL init failed\n");
		return 1;
	}
	struct rte_mempool *small =
	    rte_pktmbuf_pool_create("tap_small", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	struct rte_mempool *large =
	    rte_pktmbuf_pool_create("tap_large", 63, 0, 0, RTE_PKTMBUF_HEADROOM + 16384, 0);
	CHECK(small != NULL && large != NULL);

	char error[256] = "";
	struct tap_writer writer;
	/* Loopback is no tun device of ours: refused, with the reason. */
	CHECK(tap_writer_find(if_nametoindex("lo"), &writer, error, sizeof(error)) != 0);
	CHECK(writer.fd == -1);
	CHECK(strstr(error, "no attached tun queue") != NULL);
	CHECK(tap_writer_find(if_index, &writer, error, sizeof(error)) == 0);
	CHECK_EQ(writer.fd, attached);

	int packets = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(TEST_ETHER_TYPE));
	CHECK(packets >= 0);
	struct sockaddr_ll at = {.sll_family = AF_PACKET,
	                         .sll_protocol = htons(TEST_ETHER_TYPE),
	                         .sll_ifindex = (int)if_index};
	CHECK(bind(packets, (struct sockaddr *)&at, sizeof(at)) == 0);
	int buffer = 4 << 20;
	(void)setsockopt(packets, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer));
	struct timeval wait = {.tv_sec = 5};
	CHECK(setsockopt(packets, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)) == 0);

	const uint32_t lengths[] = {60, 9000, 64000};
	struct rte_mbuf *frames[3] = {
	    make_frame(small, lengths[0], 2048, 1),
	    make_frame(small, lengths[1], 2048, 2),  /* 5 mbufs */
	    make_frame(large, lengths[2], 16384, 3), /* 4 mbufs */
	};
	CHECK(frames[0] != NULL && frames[1] != NULL && frames[2] != NULL);
	CHECK_EQ(frames[1]->nb_segs, 5);
	CHECK_EQ(tap_writer_send(&writer, frames, 3), 0);
	CHECK_EQ(rte_mempool_in_use_count(small), 0); /* the writer freed them */
	CHECK_EQ(rte_mempool_in_use_count(large), 0);

	static uint8_t got[65536];
	for (unsigned int i = 0; i < 3; i++) {
		ssize_t n = recv(packets, got, sizeof(got), 0);
		CHECK(n > 0);
		if (n <= 0) {
			fprintf(stderr, "recv: %s\n", strerror(errno));
			break;
		}
		CHECK(frame_matches(got, (size_t)n, lengths[i], (uint8_t)(i + 1)));
	}
	check_reader(attached, if_index, packets, small, large);
	close(packets);
	close(attached);
	close(keep_alive);
	rte_eal_cleanup();
	return check_finish("test_tap_io");
}
