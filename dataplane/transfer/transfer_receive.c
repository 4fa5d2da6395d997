/* Uploads (STOR, APPE, STOU): TCP's in-order mbufs -> one AEAD pass opens
 * records straight into a registered write buffer -> io_uring writes in
 * file order -> fdatasync -> done.  "226" therefore means durable.  When
 * every write buffer of the transfer is in flight, no more data is taken
 * from TCP, so the advertised window closes.
 *
 * Writes use O_DIRECT where the file system allows it (no page-cache copy):
 * the buffers are page-aligned, every direct write starts at an aligned file
 * offset and is a whole number of granules; an unaligned tail is copied to
 * the front of the next buffer, and the upload's last tail is written
 * buffered after O_DIRECT is cleared.  fdatasync still follows: it makes
 * the file's size and block map durable and flushes the device's write
 * cache. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "net_mbuf.h"
#include "tcp.h"
#include "transfer_internal.h"

/* Without STATX_DIOALIGN (older kernels, some file systems) the page size
 * is a safe granule: no common device has a larger logical block. */
#define TRANSFER_DIO_FALLBACK_ALIGN 4096u

/* The direct-I/O granule for fd, or 0 when the file system has none. */
static uint32_t transfer_dio_align(int fd)
{
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 ||
	    !(sx.stx_mask & STATX_DIOALIGN))
		return TRANSFER_DIO_FALLBACK_ALIGN;
	uint32_t offset_align = sx.stx_dio_offset_align;
	/* 0: no direct I/O on this file.  A memory alignment beyond a page, or
	 * a granule the buffers cannot hold many of, is not worth it. */
	if (offset_align == 0 || sx.stx_dio_mem_align > 4096 ||
	    offset_align > TRANSFER_BUFFER_SIZE / 4 || (offset_align & (offset_align - 1)) != 0)
		return 0;
	/* Writes in whole pages at least: ext4 and XFS serialize and zero
	 * partial file-system blocks in direct writes below their block size. */
	return offset_align < 4096 ? 4096 : offset_align;
}

static int transfer_direct_set(struct transfer *t, bool on);

void transfer_receive_prepare(struct transfer *t)
{
	t->max_writes = TRANSFER_MAX_WRITES;
	int flags = fcntl(t->fd, F_GETFL);
	if (flags < 0) {
		t->max_writes = 1;
		return;
	}
	/* APPE's fd comes with O_APPEND, which makes the kernel ignore the
	 * offsets: writes in flight together could land out of order.  The
	 * control plane sent the end of the file as the offset, so drop it;
	 * where the inode insists (chattr +a), write one buffer at a time. */
	if (flags & O_APPEND) {
		if (fcntl(t->fd, F_SETFL, flags & ~O_APPEND) == 0)
			flags &= ~O_APPEND;
		else
			t->max_writes = 1;
	}
	if (flags & O_APPEND) {
		transfer_count(t, TRANSFER_COUNTER_direct_refused, 1);
		return;
	}
	t->dio_align = transfer_dio_align(t->fd);
	if (t->dio_align == 0) {
		transfer_count(t, TRANSFER_COUNTER_direct_refused, 1);
		return;
	}
	/* REST or APPE at an odd offset: written buffered up to the first
	 * aligned boundary, direct from there (transfer_submit_fill). */
	if (t->offset % t->dio_align != 0)
		transfer_count(t, TRANSFER_COUNTER_direct_unaligned_start, 1);
	else
		(void)transfer_direct_set(t, true);
}

/* Sets or clears O_DIRECT; only with no write of this transfer in flight,
 * so every write's mode is known.  Returns 0, or the errno of a failure:
 * setting it fails with EINVAL where the file system has no direct I/O
 * (ramfs, some FUSE), and then the upload stays buffered. */
static int transfer_direct_set(struct transfer *t, bool on)
{
	int flags = fcntl(t->fd, F_GETFL);
	if (flags < 0)
		return errno;
	if (fcntl(t->fd, F_SETFL, on ? flags | O_DIRECT : flags & ~O_DIRECT) != 0) {
		int error = errno;
		if (on) {
			t->dio_align = 0;
			transfer_count(t, TRANSFER_COUNTER_direct_refused, 1);
		}
		return error;
	}
	t->direct_on = on;
	if (on && !t->direct_used) {
		t->direct_used = true;
		transfer_count(t, TRANSFER_COUNTER_direct_uploads, 1);
	}
	return 0;
}

static struct transfer_io *transfer_free_write_slot(struct transfer *t)
{
	if (t->writes_inflight >= t->max_writes)
		return NULL;
	for (unsigned int i = 0; i < TRANSFER_MAX_WRITES; i++)
		if (!t->writes[i].in_use && t->writes[i].buffer == NULL)
			return &t->writes[i];
	return NULL;
}

/* Queues the fill buffer for writing; false when it has to wait (no write
 * slot or sqe, or a switch of O_DIRECT that waits for the writes in
 * flight) or after failing the transfer.
 *
 * With direct I/O possible (dio_align != 0), each write ends on an aligned
 * file offset and what lies past it (< one granule) is carried to the front
 * of the next buffer: while O_DIRECT is on, writes are whole granules from
 * aligned offsets; while it is off after an unaligned start, the buffered
 * write reaches the first boundary and O_DIRECT goes on from there.  Only
 * the upload's last tail, or a tail no buffer is free to carry, is written
 * whole and buffered. */
bool transfer_submit_fill(struct transfer *t)
{
	if (t->fill == NULL || t->fill_len == 0)
		return true;
	struct transfer_io *io = transfer_free_write_slot(t);
	if (io == NULL)
		return false;
	if (t->dio_align != 0 && !t->direct_on && t->offset % t->dio_align == 0 &&
	    t->fill_len >= t->dio_align) {
		/* On an aligned boundary with a granule to write: direct from
		 * here (a last tail alone stays buffered). */
		if (t->writes_inflight > 0)
			return false;
		(void)transfer_direct_set(t, true); /* refused: stays buffered */
	}
	uint32_t len = t->fill_len;
	uint32_t tail = t->dio_align != 0 ? (uint32_t)((t->offset + len) % t->dio_align) : 0;
	struct transfer_buffer *carry = NULL;
	if (tail > 0 && len > tail)
		carry = transfer_buffer_get(t);
	if (tail > 0 && carry == NULL) {
		/* The last tail alone, or no buffer to carry one: the whole
		 * buffer goes buffered, after the direct writes have landed. */
		if (t->direct_on) {
			if (t->writes_inflight > 0)
				return false;
			int error = transfer_direct_set(t, false);
			if (error != 0) {
				transfer_fail_disk(t, error);
				return false;
			}
			if (len > tail)
				transfer_count(t, TRANSFER_COUNTER_direct_fallbacks, 1);
		}
		tail = 0;
	}
	len -= tail;
	io->kind = TRANSFER_IO_WRITE;
	io->buffer = t->fill;
	io->offset = t->offset;
	io->len = len;
	io->direct = t->direct_on;
	if (t->inline_io) {
		t->batch[t->batch_count++] = io;
		transfer_count(t, TRANSFER_COUNTER_inline_writes, 1);
	} else {
		struct io_uring_sqe *sqe = transfer_sqe(t, io);
		if (sqe == NULL) {
			io->buffer = NULL;
			if (carry != NULL)
				transfer_buffer_put(t->engine, carry);
			return false;
		}
		io_uring_prep_write_fixed(sqe, t->fd, t->fill->data, io->len, io->offset,
		                          t->fill->index);
	}
	t->offset += len;
	t->writes_inflight++;
	t->fill = NULL;
	t->fill_len = 0;
	if (carry != NULL) {
		/* The kernel only reads the buffer, and not these bytes. */
		memcpy(carry->data, io->buffer->data + len, tail);
		t->fill = carry;
		t->fill_len = tail;
		transfer_count(t, TRANSFER_COUNTER_tail_carries, 1);
	}
	return true;
}

/* Makes the batched inline writes with one pwritev.  A memory file system
 * backs a file with folios as large as the writes that fill it, among the
 * sizes the kernel enables for shmem (tmpfs with huge=, kernel 6.18; the
 * sizes are /sys/kernel/mm/transparent_hugepage/hugepages-*kB/shmem_enabled):
 * with 64 KiB enabled, 64 KiB writes leave 64 KiB folios, and every later
 * mapping or read of the file walks 16 times as many of them as after one
 * write of 1 MiB.  Where only 2 MiB is enabled (this VM since 2026-11-29),
 * a batch (at most 512 KiB) leaves 4 KiB pages; a download of such a file
 * measured as fast as of a 2 MiB-folio copy (2026-11-30: 12 interleaved 2 GiB
 * RETRs over memif, medians 2.76 / 2.68 GB/s), so batches stay as they are.
 * Each write gets its own result; a failure midway fails the writes from
 * there on with the call's errno. */
void transfer_write_batch(struct transfer *t)
{
	unsigned int count = t->batch_count;
	if (count == 0)
		return;
	t->batch_count = 0;
	struct iovec iov[TRANSFER_MAX_WRITES];
	size_t total = 0;
	for (unsigned int i = 0; i < count; i++) {
		iov[i] = (struct iovec){t->batch[i]->buffer->data, t->batch[i]->len};
		total += t->batch[i]->len;
	}
	uint64_t offset = t->batch[0]->offset;
	size_t written = 0;
	int error = 0;
	unsigned int first = 0;
	while (written < total) {
		ssize_t n =
		    pwritev(t->fd, iov + first, (int)(count - first), (off_t)(offset + written));
		transfer_count(t, TRANSFER_COUNTER_inline_write_calls, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* 0 from a regular file: no room (as a short write). */
			error = n < 0 ? errno : ENOSPC;
			break;
		}
		written += (size_t)n;
		for (size_t left = (size_t)n; left > 0;) {
			if (left < iov[first].iov_len) {
				iov[first].iov_base = (uint8_t *)iov[first].iov_base + left;
				iov[first].iov_len -= left;
				break;
			}
			left -= iov[first].iov_len;
			first++;
		}
	}
	size_t at = 0;
	for (unsigned int i = 0; i < count; i++) {
		struct transfer_io *io = t->batch[i];
		long result = at + io->len <= written ? (long)io->len : -(long)error;
		at += io->len;
		transfer_io_inline(t, io, result);
	}
}

void transfer_fail_disk(struct transfer *t, int error)
{
	bool full = error == ENOSPC || error == EDQUOT;
	transfer_count(t, full ? TRANSFER_COUNTER_disk_full : TRANSFER_COUNTER_io_errors, 1);
	if (!full && error != EFBIG)
		error = EIO;
	transfer_finish(t, error);
}

void transfer_write_complete(struct transfer *t, struct transfer_io *io)
{
	t->writes_inflight--;
	int32_t result = io->result;
	uint32_t len = io->len;
	transfer_buffer_put(t->engine, io->buffer);
	io->buffer = NULL;
	io->in_use = false;
	if (result < 0 || (uint32_t)result != len) {
		/* A short write to a regular file means the file system is full. */
		transfer_fail_disk(t, result < 0 ? -result : ENOSPC);
		return;
	}
	transfer_count(t, TRANSFER_COUNTER_bytes_received, len);
	transfer_count(
	    t, io->direct ? TRANSFER_COUNTER_direct_writes : TRANSFER_COUNTER_buffered_writes, 1);
	if (io->direct)
		transfer_count(t, TRANSFER_COUNTER_direct_bytes, len);
	t->last_progress_tsc = rte_get_tsc_cycles();
	transfer_receive_step(t, t->last_progress_tsc);
}

/* Fills iov with the segments that hold [0, len) of chain; returns how many,
 * or 0 when more than max are needed. */
static unsigned int transfer_chain_iov(struct rte_mbuf *m, uint32_t len, struct iovec *iov,
                                       unsigned int max)
{
	unsigned int n = 0;
	for (; m != NULL && len > 0; m = m->next) {
		if (n == max)
			return 0;
		uint32_t piece = m->data_len < len ? m->data_len : len;
		iov[n++] = (struct iovec){rte_pktmbuf_mtod(m, void *), piece};
		len -= piece;
	}
	return n;
}

/* Opens every complete record that fits the write buffers.  Returns true
 * when it made progress. */
static bool transfer_open_records(struct transfer *t)
{
	bool progress = false;
	while (t->state == TRANSFER_RUNNING && t->in_chain != NULL &&
	       t->in_chain->pkt_len >= TLS_HEADER_LEN) {
		uint8_t header[TLS_HEADER_LEN];
		const uint8_t *h = rte_pktmbuf_read(t->in_chain, 0, TLS_HEADER_LEN, header);
		size_t record_len = 0;
		int rc = tls_record_frame(&t->tls, h, &record_len);
		if (rc != TLS_OK) {
			transfer_count(t, TRANSFER_COUNTER_tls_errors, 1);
			transfer_finish(t, EPROTO);
			return false;
		}
		if (t->in_chain->pkt_len < record_len)
			break;
		size_t room_needed = record_len - TLS_HEADER_LEN;
		if (t->fill != NULL && t->fill_len + room_needed > TRANSFER_BUFFER_STRIDE) {
			if (!transfer_submit_fill(t))
				break; /* every write slot busy: backpressure */
		}
		if (t->fill == NULL) {
			if (t->writes_inflight >= t->max_writes)
				break;
			t->fill = transfer_buffer_get(t);
			t->fill_len = 0;
			if (t->fill == NULL)
				break;
		}
		struct tls_open_job job;
		memset(&job, 0, sizeof(job));
		struct iovec src[TLS_MAX_SEGS], dst;
		unsigned int segs =
		    transfer_chain_iov(t->in_chain, (uint32_t)record_len, src, TLS_MAX_SEGS);
		if (segs == 0) {
			/* Scattered over too many small segments: one copy. */
			const uint8_t *flat = rte_pktmbuf_read(t->in_chain, 0, (uint32_t)record_len,
			                                       t->engine->bounce);
			src[0] = (struct iovec){(void *)(uintptr_t)flat, record_len};
			segs = 1;
		}
		dst = (struct iovec){t->fill->data + t->fill_len,
		                     TRANSFER_BUFFER_STRIDE - t->fill_len};
		job.conn = &t->tls;
		job.src = src;
		job.src_cnt = (uint16_t)segs;
		job.dst = &dst;
		job.dst_cnt = 1;
		tls_open_burst(&job, 1);
		t->in_chain = net_chain_consume(t->in_chain, (uint32_t)record_len);
		progress = true;
		if (job.status == TLS_CLOSE_NOTIFY) {
			t->close_notify_seen = true;
			continue;
		}
		if (job.status != TLS_OK) {
			transfer_count(t, TRANSFER_COUNTER_tls_errors, 1);
			transfer_finish(t, EPROTO);
			return false;
		}
		transfer_count(t, TRANSFER_COUNTER_records_opened, 1);
		if (t->offset + t->fill_len + job.plain_len > t->limit_end) {
			transfer_finish(t, EFBIG);
			return false;
		}
		t->fill_len += (uint32_t)job.plain_len;
		t->bytes += job.plain_len;
	}
	return progress;
}

static void transfer_receive_run(struct transfer *t, uint64_t now_tsc);

void transfer_receive_step(struct transfer *t, uint64_t now_tsc)
{
	transfer_receive_run(t, now_tsc);
	transfer_write_batch(t);
}

static void transfer_receive_run(struct transfer *t, uint64_t now_tsc)
{
	(void)now_tsc;
	if (t->state == TRANSFER_SYNCING) {
		if (t->writes_inflight > 0 || t->sync_issued)
			return;
		if (!transfer_submit_fill(t))
			return;
		if (t->writes_inflight > 0)
			return;
		t->sync.kind = TRANSFER_IO_FSYNC;
		if (t->inline_io) {
			transfer_io_inline(t, &t->sync, fdatasync(t->fd) != 0 ? -errno : 0);
		} else {
			struct io_uring_sqe *sqe = transfer_sqe(t, &t->sync);
			if (sqe == NULL)
				return;
			io_uring_prep_fsync(sqe, t->fd, IORING_FSYNC_DATASYNC);
		}
		t->sync_issued = true;
		return;
	}
	if (t->state != TRANSFER_RUNNING || t->tcp == NULL)
		return;
	for (int round = 0; round < 64 && t->state == TRANSFER_RUNNING; round++) {
		bool took = false;
		/* Take more from TCP only when what we hold is all opened: data
		 * left in TCP is what keeps the window honest. */
		if (t->in_chain == NULL || t->in_chain->pkt_len < TLS_MAX_OPEN_RECORD) {
			struct rte_mbuf *more = tcp_recv(t->tcp);
			if (more != NULL) {
				if (t->in_chain == NULL)
					t->in_chain = more;
				else if (rte_pktmbuf_chain(t->in_chain, more) != 0) {
					rte_pktmbuf_free(more);
					transfer_finish(t, EPROTO);
					return;
				}
				took = true;
			}
		}
		bool opened = transfer_open_records(t);
		if (!took && !opened)
			break;
	}
	if (t->state != TRANSFER_RUNNING)
		return;
	/* Answer the client's close_notify (RFC 8446 6.1): some clients wait
	 * for ours before they close. */
	if (t->close_notify_seen && !t->close_notify_sent && transfer_send_close(t) != 0) {
		transfer_finish(t, ENOBUFS);
		return;
	}
	if (t->out_pending != NULL && tcp_send(t->tcp, t->out_pending) == 0)
		t->out_pending = NULL;
	if (t->close_notify_sent && t->out_pending == NULL && !t->shut_down) {
		tcp_shutdown(t->tcp);
		t->shut_down = true;
	}
	if (!tcp_recv_eof(t->tcp) || (t->in_chain != NULL && t->in_chain->pkt_len > 0))
		return;
	/* The peer's FIN, everything before it opened. */
	if (t->in_chain != NULL || (!t->close_notify_seen && t->require_close_notify)) {
		/* A record cut short, or no close_notify: possibly truncated.
		 * What arrived is kept (REST can resume it) but not reported
		 * as complete. */
		transfer_count(t, TRANSFER_COUNTER_truncated_uploads, 1);
		t->status = ECONNABORTED;
	}
	t->state = TRANSFER_SYNCING;
	transfer_receive_run(t, now_tsc);
}
