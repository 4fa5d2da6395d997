#include "tap_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tap_reader_take_queue(int fd, char *error, size_t error_len)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, (flags & ~O_ASYNC) | O_NONBLOCK) != 0) {
		snprintf(error, error_len, "cannot turn the tap queue's receive signal off: %s",
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* Segment i of the next frame goes where iov[1 + i] points: after the
 * headroom in the first mbuf, from the start of the buffer in the others. */
static void tap_reader_point(struct tap_reader *reader)
{
	for (uint16_t i = 0; i < reader->ready; i++) {
		struct rte_mbuf *m = reader->ready_mbufs[i];
		uint16_t skip = i == 0 ? RTE_PKTMBUF_HEADROOM : 0;
		reader->iov[1 + i] = (struct iovec){(char *)m->buf_addr + skip, m->buf_len - skip};
	}
}

static bool tap_reader_refill(struct tap_reader *reader)
{
	uint16_t missing = (uint16_t)(reader->segments - reader->ready);
	if (missing > 0 &&
	    rte_pktmbuf_alloc_bulk(reader->pool, reader->ready_mbufs + reader->ready, missing) != 0)
		return false;
	reader->ready = reader->segments;
	tap_reader_point(reader);
	return true;
}

static void tap_reader_count(uint64_t *counter)
{
	if (counter != NULL)
		(*counter)++;
}

uint16_t tap_reader_segments(struct rte_mempool *pool, uint32_t frame_bytes)
{
	uint32_t room = rte_pktmbuf_data_room_size(pool);
	if (room <= RTE_PKTMBUF_HEADROOM)
		return 0;
	uint32_t first = room - RTE_PKTMBUF_HEADROOM;
	uint32_t more = frame_bytes > first ? (frame_bytes - first + room - 1) / room : 0;
	return (uint16_t)(1 + more);
}

int tap_reader_init(struct tap_reader *reader, int fd, uint16_t port_id, struct rte_mempool *pool,
                    uint32_t frame_bytes, char *error, size_t error_len)
{
	memset(reader, 0, sizeof(*reader));
	reader->fd = -1;
	uint32_t room = rte_pktmbuf_data_room_size(pool);
	uint16_t segments = tap_reader_segments(pool, frame_bytes);
	if (segments == 0 || segments > TAP_READER_MAX_SEGMENTS) {
		snprintf(error, error_len,
		         "tap reader: mbufs of %u bytes cannot hold a %u-byte frame in %u pieces",
		         room, frame_bytes, TAP_READER_MAX_SEGMENTS);
		return -1;
	}
	reader->fd = fd;
	reader->port_id = port_id;
	reader->pool = pool;
	reader->segments = segments;
	reader->iov[0] = (struct iovec){&reader->information, sizeof(reader->information)};
	return 0;
}

/* Cuts the ready mbufs into a chain of length bytes and moves the rest to
 * the front. */
static struct rte_mbuf *tap_reader_take_chain(struct tap_reader *reader, uint32_t length)
{
	struct rte_mbuf *head = reader->ready_mbufs[0], *previous = NULL;
	uint32_t left = length;
	uint16_t used = 0;
	while (left > 0) {
		struct rte_mbuf *m = reader->ready_mbufs[used];
		uint16_t skip = used == 0 ? RTE_PKTMBUF_HEADROOM : 0;
		uint32_t room = (uint32_t)m->buf_len - skip;
		m->data_off = skip;
		m->data_len = (uint16_t)(left < room ? left : room);
		m->next = NULL;
		if (previous != NULL)
			previous->next = m;
		previous = m;
		left -= m->data_len;
		used++;
	}
	head->pkt_len = length;
	head->nb_segs = used;
	head->port = reader->port_id;
	reader->ready = (uint16_t)(reader->ready - used);
	memmove(reader->ready_mbufs, reader->ready_mbufs + used,
	        reader->ready * sizeof(reader->ready_mbufs[0]));
	return head;
}

uint16_t tap_reader_receive(struct tap_reader *reader, struct rte_mbuf **frames, uint16_t count)
{
	uint16_t received = 0;
	while (received < count) {
		/* Without a whole chain ready, frames wait in the kernel's queue
		 * (which drops beyond its length, as a NIC's ring would). */
		if (reader->ready < reader->segments && !tap_reader_refill(reader)) {
			tap_reader_count(reader->no_mbufs);
			break;
		}
		ssize_t got = readv(reader->fd, reader->iov, 1 + reader->segments);
		if (got < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				tap_reader_count(reader->read_errors);
			break;
		}
		if ((size_t)got <= sizeof(reader->information))
			continue;
		if (reader->information.flags & TUN_PKT_STRIP) {
			tap_reader_count(reader->truncated);
			continue;
		}
		frames[received++] = tap_reader_take_chain(
		    reader, (uint32_t)((size_t)got - sizeof(reader->information)));
		reader->frames++;
	}
	return received;
}

void tap_reader_release(struct tap_reader *reader)
{
	if (reader->ready > 0)
		rte_pktmbuf_free_bulk(reader->ready_mbufs, reader->ready);
	reader->ready = 0;
}
