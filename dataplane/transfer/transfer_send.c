/* Downloads (RETR): file -> io_uring read into a registered buffer (or, for
 * files in memory, a mapping of the page cache: transfer_mapped.c) -> one
 * AEAD pass seals records straight into TX mbufs -> the TCP send queue.
 * Reads are issued only for send space the connection has. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "tcp.h"
#include "transfer_internal.h"

#define RECORDS_PER_BUFFER (TRANSFER_BUFFER_SIZE / TLS_MAX_PLAINTEXT)

/* Seals len bytes of data into a chain of one-record mbufs; NULL when the
 * record pool is dry (the caller retries later) or on a TLS failure (then
 * *status is set). */
static struct rte_mbuf *transfer_seal(struct transfer *t, const uint8_t *data, uint32_t len,
                                      int *status)
{
	struct tls_seal_job jobs[RECORDS_PER_BUFFER];
	struct iovec src[RECORDS_PER_BUFFER], dst[RECORDS_PER_BUFFER];
	struct rte_mbuf *mbufs[RECORDS_PER_BUFFER];
	unsigned int n = (len + TLS_MAX_PLAINTEXT - 1) / TLS_MAX_PLAINTEXT;
	*status = 0;
	if (rte_pktmbuf_alloc_bulk(t->engine->record_pool, mbufs, n) != 0) {
		transfer_count(t, TRANSFER_COUNTER_record_mbuf_waits, 1);
		return NULL;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint32_t off = i * TLS_MAX_PLAINTEXT;
		uint32_t piece = len - off < TLS_MAX_PLAINTEXT ? len - off : TLS_MAX_PLAINTEXT;
		src[i] = (struct iovec){(void *)(uintptr_t)(data + off), piece};
		dst[i] = (struct iovec){rte_pktmbuf_mtod(mbufs[i], void *),
		                        tls_sealed_len(&t->tls, piece)};
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].conn = &t->tls;
		jobs[i].src = &src[i];
		jobs[i].src_cnt = 1;
		jobs[i].dst = &dst[i];
		jobs[i].dst_cnt = 1;
	}
	tls_seal_burst(jobs, n);
	struct rte_mbuf *head = NULL;
	for (unsigned int i = 0; i < n; i++) {
		if (jobs[i].status != TLS_OK) {
			/* KeyUpdates are sealed ahead of each buffer when due, so
			 * any failure here is fatal. */
			*status = EPROTO;
			rte_pktmbuf_free(head);
			for (unsigned int k = i; k < n; k++)
				rte_pktmbuf_free(mbufs[k]);
			return NULL;
		}
		rte_pktmbuf_append(mbufs[i], (uint16_t)jobs[i].out_len);
		if (head == NULL)
			head = mbufs[i];
		else
			rte_pktmbuf_chain(head, mbufs[i]);
	}
	transfer_count(t, TRANSFER_COUNTER_records_sealed, n);
	return head;
}

/* A KeyUpdate before the key's record limit (RFC 8446 5.5), sent in order
 * ahead of the next records. */
static int transfer_key_update(struct transfer *t)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t->engine->record_pool);
	if (m == NULL)
		return -ENOBUFS;
	size_t len = 0;
	int rc = tls_seal_key_update(&t->tls, false, rte_pktmbuf_mtod(m, uint8_t *),
	                             rte_pktmbuf_tailroom(m), &len);
	if (rc != TLS_OK) {
		rte_pktmbuf_free(m);
		return -EPROTO;
	}
	rte_pktmbuf_append(m, (uint16_t)len);
	if (t->out_pending == NULL)
		t->out_pending = m;
	else if (rte_pktmbuf_chain(t->out_pending, m) != 0) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	return 0;
}

bool transfer_queue_sealed(struct transfer *t, const uint8_t *data, uint32_t len)
{
	if (tls_conn_key_update_due(&t->tls) && transfer_key_update(t) != 0) {
		transfer_finish(t, EPROTO);
		return false;
	}
	int status = 0;
	struct rte_mbuf *chain = transfer_seal(t, data, len, &status);
	if (chain == NULL) {
		if (status != 0)
			transfer_finish(t, status);
		return false; /* no record mbufs now: the next poll tries again */
	}
	t->bytes += len;
	transfer_count(t, TRANSFER_COUNTER_bytes_sent, len);
	t->last_progress_tsc = rte_get_tsc_cycles();
	if (t->out_pending == NULL)
		t->out_pending = chain;
	else if (rte_pktmbuf_chain(t->out_pending, chain) != 0) {
		rte_pktmbuf_free(chain);
		transfer_finish(t, ENOBUFS);
		return false;
	}
	return true;
}

bool transfer_flush_output(struct transfer *t)
{
	if (t->out_pending == NULL)
		return true;
	int rc = tcp_send(t->tcp, t->out_pending);
	if (rc == -EAGAIN)
		return false;
	if (rc != 0) {
		transfer_finish(t, EPIPE);
		return false;
	}
	t->out_pending = NULL;
	return true;
}

static void transfer_issue_reads(struct transfer *t)
{
	while (!t->eof && t->read_count < TRANSFER_MAX_READS && t->offset < t->limit_end) {
		uint32_t space = tcp_send_space(t->tcp);
		if (space < (t->read_count + 1) * TRANSFER_BUFFER_SIZE)
			break;
		struct transfer_buffer *b = transfer_buffer_get(t);
		if (b == NULL)
			break;
		unsigned int slot = (t->read_head + t->read_count) % TRANSFER_MAX_READS;
		struct transfer_io *io = &t->reads[slot];
		uint64_t len = t->limit_end - t->offset;
		if (len > TRANSFER_BUFFER_SIZE)
			len = TRANSFER_BUFFER_SIZE;
		io->kind = TRANSFER_IO_READ;
		io->buffer = b;
		io->offset = t->offset;
		io->len = (uint32_t)len;
		if (t->inline_io) {
			ssize_t n;
			do {
				n = pread(t->fd, b->data, io->len, (off_t)io->offset);
			} while (n < 0 && errno == EINTR);
			transfer_io_inline(t, io, n < 0 ? -errno : (long)n);
			transfer_count(t, TRANSFER_COUNTER_inline_reads, 1);
			t->offset += len;
			t->read_count++;
			continue;
		}
		struct io_uring_sqe *sqe = transfer_sqe(t, io);
		if (sqe == NULL) {
			transfer_buffer_put(t->engine, b);
			io->buffer = NULL;
			break;
		}
		io_uring_prep_read_fixed(sqe, t->fd, b->data, io->len, io->offset, b->index);
		t->offset += len;
		t->read_count++;
	}
	if (t->offset >= t->limit_end && t->read_count == 0)
		t->eof = true;
}

void transfer_send_step(struct transfer *t, uint64_t now_tsc)
{
	/* The peer acknowledging data is progress too: once a download has
	 * queued its last record, a slow reader drains up to the send budget
	 * for seconds with no TCP callback in between (2 MiB at curl's
	 * --limit-rate 2M outlasted a data_timeout of 3 s).  A reader that
	 * stops acknowledging still times out. */
	if (t->tcp != NULL) {
		uint32_t space = tcp_send_space(t->tcp);
		if (space > t->send_space_seen)
			t->last_progress_tsc = now_tsc;
		t->send_space_seen = space;
	}
	if (t->state == TRANSFER_CLOSING) {
		/* Everything is in the client's hands: what is left is its
		 * close, which a slow reader sends only once it has read what
		 * its kernel buffered (megabytes at curl's --limit-rate: longer
		 * than a data_timeout of 3 s). */
		if (!t->delivered && t->tcp != NULL && tcp_shutdown_acknowledged(t->tcp)) {
			t->delivered = true;
			t->last_progress_tsc = now_tsc;
		}
		transfer_take_input(t);
		if (t->state == TRANSFER_CLOSING && t->tcp != NULL && transfer_flush_output(t) &&
		    t->peer_eof)
			transfer_finish(t, 0);
		return;
	}
	if (t->state != TRANSFER_RUNNING || t->tcp == NULL)
		return;
	transfer_take_input(t);
	if (t->state != TRANSFER_RUNNING || !transfer_flush_output(t))
		return;
	/* Completed reads, strictly in file order; sealed only as the wire
	 * takes them (the next poll seals the rest). */
	while (t->read_count > 0 && t->reads[t->read_head].done && !tcp_send_ahead_full(t->tcp)) {
		struct transfer_io *io = &t->reads[t->read_head];
		if (io->result < 0) {
			transfer_count(t, TRANSFER_COUNTER_io_errors, 1);
			transfer_finish(t, -io->result);
			return;
		}
		uint32_t got = (uint32_t)io->result;
		if (got > 0 && !t->eof && !transfer_queue_sealed(t, io->buffer->data, got))
			return;
		/* A short read is the end of the file: later reads, if the
		 * file grows meanwhile, would leave a hole, so they are dropped. */
		if (got < io->len)
			t->eof = true;
		transfer_buffer_put(t->engine, io->buffer);
		io->buffer = NULL;
		io->in_use = false;
		t->read_head = (t->read_head + 1) % TRANSFER_MAX_READS;
		t->read_count--;
		if (!transfer_flush_output(t))
			return;
	}
	if (t->state != TRANSFER_RUNNING)
		return;
	if (!t->close_notify_sent) {
		if (t->mapped && !transfer_mapped_send(t))
			return;
		transfer_issue_reads(t);
		if (!t->eof || t->read_count > 0 || t->out_pending != NULL)
			return;
		if (t->expected_end != UINT64_MAX && t->start_offset + t->bytes < t->expected_end) {
			/* The file shrank (truncated or replaced) while it was sent. */
			transfer_count(t, TRANSFER_COUNTER_io_errors, 1);
			transfer_finish(t, ESTALE);
			return;
		}
		if (transfer_send_close(t) != 0) {
			transfer_finish(t, ENOBUFS);
			return;
		}
	}
	/* The FIN must follow the close_notify, so it waits for send space too. */
	if (!transfer_flush_output(t) || t->state != TRANSFER_RUNNING)
		return;
	if (tcp_shutdown(t->tcp) != 0) {
		transfer_finish(t, EPIPE);
		return;
	}
	t->state = TRANSFER_CLOSING;
}
