#include "tap_writer.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rte_ether.h>

/* A TCP segment of 64 KB references a handful of TLS record mbufs; a chain
 * longer than this is not something the stack builds, and is refused. */
#define TAP_WRITER_MAX_SEGMENTS 126

static bool fd_is_tun(int fd)
{
	char path[64], target[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "/dev/net/tun") == 0;
}

int tap_writer_find(uint32_t if_index, struct tap_writer *writer, char *error, size_t error_len)
{
	*writer = (struct tap_writer){.fd = -1};
	char name[IF_NAMESIZE];
	if (if_index == 0 || if_indextoname(if_index, name) == NULL) {
		snprintf(error, error_len, "net_tap: cannot find the kernel interface (index %u)",
		         if_index);
		return -1;
	}
	DIR *fds = opendir("/proc/self/fd");
	if (fds == NULL) {
		snprintf(error, error_len, "cannot list /proc/self/fd: %s", strerror(errno));
		return -1;
	}
	struct dirent *entry;
	int attached = -1, detached = -1;
	while ((entry = readdir(fds)) != NULL) {
		char *end;
		long fd = strtol(entry->d_name, &end, 10);
		if (*end != '\0' || fd < 0 || fd == dirfd(fds) || !fd_is_tun((int)fd))
			continue;
		struct ifreq probe;
		memset(&probe, 0, sizeof(probe));
		if (ioctl((int)fd, TUNGETIFF, &probe) != 0 ||
		    strncmp(probe.ifr_name, name, IF_NAMESIZE) != 0)
			continue;
		if ((probe.ifr_flags & IFF_TAP) == 0 || (probe.ifr_flags & IFF_VNET_HDR) != 0) {
			closedir(fds);
			snprintf(error, error_len,
			         "net_tap: %s is not a plain tap (flags %#x): frames would need "
			         "another framing",
			         name, (unsigned int)(uint16_t)probe.ifr_flags);
			return -1;
		}
		/* The PMD also keeps a detached "keep-alive" queue open; write
		 * on a queue it attached for traffic. */
		if (probe.ifr_flags & IFF_DETACH_QUEUE)
			detached = (int)fd;
		else if (attached < 0)
			attached = (int)fd;
	}
	closedir(fds);
	if (attached < 0) {
		snprintf(error, error_len, "net_tap: no attached tun queue on %s in this process%s",
		         name, detached >= 0 ? " (only a detached one)" : "");
		return -1;
	}
	writer->fd = attached;
	return 0;
}

static bool tap_write_frame(const struct tap_writer *writer, struct rte_mbuf *frame)
{
	if (frame->nb_segs > TAP_WRITER_MAX_SEGMENTS)
		return false;
	struct iovec iov[TAP_WRITER_MAX_SEGMENTS + 1];
	unsigned int n = 0;
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(frame, const struct rte_ether_hdr *);
	struct tun_pi information = {.flags = 0, .proto = eth->ether_type /* network order */};
	iov[n++] = (struct iovec){&information, sizeof(information)};
	size_t total = sizeof(information);
	for (struct rte_mbuf *m = frame; m != NULL; m = m->next) {
		if (m->data_len == 0)
			continue;
		iov[n++] = (struct iovec){rte_pktmbuf_mtod(m, void *), m->data_len};
		total += m->data_len;
	}
	/* The kernel takes a tun write whole or not at all. */
	ssize_t written = writev(writer->fd, iov, (int)n);
	return written > 0 && (size_t)written >= total;
}

uint16_t tap_writer_send(const struct tap_writer *writer, struct rte_mbuf **frames, uint16_t count)
{
	uint16_t refused = 0;
	for (uint16_t i = 0; i < count; i++) {
		if (!tap_write_frame(writer, frames[i]))
			refused++;
	}
	rte_pktmbuf_free_bulk(frames, count);
	return refused;
}
