#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "mempool_prefault.h"
#include "net_mbuf.h"
#include "tcp.h"
#include "transfer_internal.h"

const char *const transfer_counter_names[TRANSFER_COUNTER_COUNT] = {
#define TRANSFER_COUNTER_NAME(name, description) #name,
    TRANSFER_COUNTER_LIST(TRANSFER_COUNTER_NAME)
#undef TRANSFER_COUNTER_NAME
};

static uint64_t transfer_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct transfer_engine *transfer_engine_create(unsigned int worker_id, int socket_id, char *error,
                                               size_t error_len)
{
	struct transfer_engine *e =
	    rte_zmalloc_socket("transfer_engine", sizeof(*e), RTE_CACHE_LINE_SIZE, socket_id);
	if (e == NULL) {
		snprintf(error, error_len, "out of memory for the transfer engine");
		return NULL;
	}
	e->worker_id = worker_id;
	e->tsc_hz = rte_get_tsc_hz();
	e->mapped_reads = true;
	e->max_budget = TRANSFER_BUDGET_MAX;
	if (transfer_mapped_install_signal(error, error_len) != 0) {
		rte_free(e);
		return NULL;
	}
	e->inline_done_tail = &e->inline_done;
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "records_w%u", worker_id);
	/* One mbuf holds one whole sealed record: a TX segment then refers to
	 * it without another copy. */
	e->record_pool = rte_pktmbuf_pool_create(
	    name, TRANSFER_RECORD_MBUFS, 64, 0,
	    (uint16_t)(RTE_PKTMBUF_HEADROOM + TLS_MAX_SEAL_RECORD), socket_id);
	if (e->record_pool == NULL) {
		snprintf(error, error_len, "cannot allocate %u record mbufs: %s",
		         TRANSFER_RECORD_MBUFS, rte_strerror(rte_errno));
		goto fail;
	}
	mempool_prefault(e->record_pool);
	e->buffer_memory = aligned_alloc(4096, (size_t)TRANSFER_BUFFERS * TRANSFER_BUFFER_STRIDE);
	if (e->buffer_memory == NULL) {
		snprintf(error, error_len, "out of memory for transfer buffers");
		goto fail;
	}
	int rc = io_uring_queue_init(TRANSFER_RING_DEPTH, &e->ring, 0);
	if (rc < 0) {
		snprintf(error, error_len, "io_uring_queue_init: %s", strerror(-rc));
		goto fail;
	}
	e->ring_ready = true;
	struct iovec iov[TRANSFER_BUFFERS];
	for (unsigned int i = 0; i < TRANSFER_BUFFERS; i++) {
		e->buffers[i].data = e->buffer_memory + (size_t)i * TRANSFER_BUFFER_STRIDE;
		e->buffers[i].index = (uint16_t)i;
		e->buffers[i].next_free = e->free_buffers;
		e->free_buffers = &e->buffers[i];
		iov[i].iov_base = e->buffers[i].data;
		iov[i].iov_len = TRANSFER_BUFFER_STRIDE;
	}
	e->free_count = TRANSFER_BUFFERS;
	rc = io_uring_register_buffers(&e->ring, iov, TRANSFER_BUFFERS);
	if (rc < 0) {
		snprintf(error, error_len, "io_uring_register_buffers: %s", strerror(-rc));
		goto fail;
	}
	return e;
fail:
	transfer_engine_destroy(e);
	return NULL;
}

void transfer_engine_set_max_budget(struct transfer_engine *e, uint32_t bytes)
{
	if (bytes < TRANSFER_BUDGET_START)
		bytes = TRANSFER_BUDGET_START;
	e->max_budget = bytes > TRANSFER_BUDGET_MAX ? TRANSFER_BUDGET_MAX : bytes;
}

void transfer_engine_set_receive_pool(struct transfer_engine *e, const struct rte_mempool *pool)
{
	e->receive_mbufs = pool->size;
	e->receive_mbuf_bytes =
	    (uint32_t)(rte_pktmbuf_data_room_size((struct rte_mempool *)(uintptr_t)pool) -
	               RTE_PKTMBUF_HEADROOM);
}

void transfer_engine_set_mapped_reads(struct transfer_engine *e, bool on)
{
	e->mapped_reads = on;
}

struct transfer_buffer *transfer_buffer_get(struct transfer *t)
{
	struct transfer_engine *e = t->engine;
	struct transfer_buffer *b = e->free_buffers;
	if (b == NULL) {
		transfer_count(t, TRANSFER_COUNTER_buffer_waits, 1);
		return NULL;
	}
	e->free_buffers = b->next_free;
	e->free_count--;
	return b;
}

void transfer_buffer_put(struct transfer_engine *e, struct transfer_buffer *b)
{
	b->next_free = e->free_buffers;
	e->free_buffers = b;
	e->free_count++;
}

bool transfer_file_in_memory(int fd)
{
	/* tmpfs and ramfs lack FMODE_NOWAIT, so io_uring sends every read and
	 * write of theirs to an io-wq worker thread: a wake-up and two context
	 * switches per 64 KiB, on the lcore's own CPU, for what is a memory
	 * copy that cannot wait on a device.  Their files are read and written
	 * on the lcore instead (a swapped-out page would stall it: no swap on
	 * an appliance). */
	struct statfs fs;
	if (fstatfs(fd, &fs) != 0)
		return false;
	return fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
}

/* An I/O of t starts (on io_uring or done on the lcore already). */
static void transfer_io_begin(struct transfer *t, struct transfer_io *io)
{
	io->transfer = t;
	io->in_use = true;
	io->done = false;
	t->inflight++;
}

/* Its result is in: the direction's completion handler takes over. */
static void transfer_io_finish(struct transfer_io *io)
{
	io->done = true;
	io->transfer->inflight--;
	transfer_io_complete(io->transfer, io);
}

void transfer_io_inline(struct transfer *t, struct transfer_io *io, long result)
{
	struct transfer_engine *e = t->engine;
	transfer_io_begin(t, io);
	io->result = (int32_t)result;
	io->next_inline = NULL;
	*e->inline_done_tail = io;
	e->inline_done_tail = &io->next_inline;
}

struct io_uring_sqe *transfer_sqe(struct transfer *t, struct transfer_io *io)
{
	struct transfer_engine *e = t->engine;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
	if (sqe == NULL) {
		/* The ring is full: hand it what it has and try again. */
		io_uring_submit(&e->ring);
		e->pending_sqes = 0;
		sqe = io_uring_get_sqe(&e->ring);
		if (sqe == NULL)
			return NULL;
	}
	transfer_io_begin(t, io);
	io_uring_sqe_set_data(sqe, io);
	e->pending_sqes++;
	return sqe;
}

static void transfer_append_input(struct transfer *t, struct rte_mbuf *chain)
{
	if (chain == NULL)
		return;
	if (t->in_chain == NULL) {
		t->in_chain = chain;
	} else if (rte_pktmbuf_chain(t->in_chain, chain) != 0) {
		/* More than 2^16 segments waiting: the peer floods; end it. */
		rte_pktmbuf_free(chain);
		transfer_finish(t, EPROTO);
	}
}

/* A download's peer sends nothing but alerts (close_notify) and, in TLS 1.3,
 * perhaps a KeyUpdate: open them here and drop any application data. */
void transfer_take_input(struct transfer *t)
{
	if (t->tcp == NULL)
		return;
	transfer_append_input(t, tcp_recv(t->tcp));
	while (t->state == TRANSFER_RUNNING || t->state == TRANSFER_CLOSING) {
		struct rte_mbuf *m = t->in_chain;
		if (m == NULL || m->pkt_len < TLS_HEADER_LEN)
			break;
		uint8_t header[TLS_HEADER_LEN];
		const uint8_t *h = rte_pktmbuf_read(m, 0, TLS_HEADER_LEN, header);
		size_t record_len = 0;
		int rc = tls_record_frame(&t->tls, h, &record_len);
		if (rc != TLS_OK) {
			transfer_count(t, TRANSFER_COUNTER_tls_errors, 1);
			transfer_finish(t, EPROTO);
			return;
		}
		if (m->pkt_len < record_len)
			break;
		const uint8_t *record =
		    rte_pktmbuf_read(m, 0, (uint32_t)record_len, t->engine->bounce);
		size_t consumed = 0, plain = 0;
		rc = tls_open_buf(&t->tls, record, record_len, &consumed, t->engine->discard,
		                  sizeof(t->engine->discard), &plain);
		t->in_chain = net_chain_consume(t->in_chain, (uint32_t)record_len);
		if (rc == TLS_CLOSE_NOTIFY) {
			t->close_notify_seen = true;
			continue;
		}
		if (rc != TLS_OK) {
			transfer_count(t, TRANSFER_COUNTER_tls_errors, 1);
			transfer_finish(t, EPROTO);
			return;
		}
		transfer_count(t, TRANSFER_COUNTER_records_opened, 1);
	}
	if (tcp_recv_eof(t->tcp))
		t->peer_eof = true;
}

int transfer_send_close(struct transfer *t)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t->engine->record_pool);
	if (m == NULL)
		return -ENOBUFS;
	size_t len = 0;
	uint8_t *out = rte_pktmbuf_mtod(m, uint8_t *);
	int rc = tls_seal_close_notify(&t->tls, out, rte_pktmbuf_tailroom(m), &len);
	if (rc != TLS_OK) {
		rte_pktmbuf_free(m);
		return -EPROTO;
	}
	rte_pktmbuf_append(m, (uint16_t)len);
	if (t->out_pending != NULL) {
		if (rte_pktmbuf_chain(t->out_pending, m) != 0) {
			rte_pktmbuf_free(m);
			return -ENOBUFS;
		}
	} else {
		t->out_pending = m;
	}
	t->close_notify_sent = true;
	return 0;
}

static void transfer_release_io(struct transfer *t)
{
	struct transfer_engine *e = t->engine;
	for (unsigned int i = 0; i < TRANSFER_MAX_READS; i++) {
		struct transfer_io *io = &t->reads[i];
		if (io->buffer != NULL && (!io->in_use || io->done)) {
			transfer_buffer_put(e, io->buffer);
			io->buffer = NULL;
		}
	}
	for (unsigned int i = 0; i < TRANSFER_MAX_WRITES; i++) {
		struct transfer_io *io = &t->writes[i];
		if (io->buffer != NULL && (!io->in_use || io->done)) {
			transfer_buffer_put(e, io->buffer);
			io->buffer = NULL;
		}
	}
	if (t->fill != NULL) {
		transfer_buffer_put(e, t->fill);
		t->fill = NULL;
	}
}

static void transfer_release_connection(struct transfer *t, bool graceful)
{
	transfer_mapped_stop(t);
	if (t->tcp != NULL) {
		if (graceful)
			tcp_close(t->tcp);
		else
			tcp_abort(t->tcp);
		t->tcp = NULL;
	}
	rte_pktmbuf_free(t->in_chain);
	t->in_chain = NULL;
	rte_pktmbuf_free(t->out_pending);
	t->out_pending = NULL;
	transfer_release_io(t);
}

void transfer_finish(struct transfer *t, int status)
{
	if (t->state == TRANSFER_FINISHED || t->state == TRANSFER_ABORTED)
		return;
	t->state = TRANSFER_FINISHED;
	t->status = status;
	transfer_count(t, status == 0 ? TRANSFER_COUNTER_completed : TRANSFER_COUNTER_failed, 1);
	transfer_release_connection(t, status == 0);
	struct transfer_result result = {
	    .status = status,
	    .close_notify_seen = t->close_notify_seen,
	    .bytes = t->bytes,
	    .start_ns = t->start_ns,
	    .end_ns = transfer_now_ns(),
	};
	if (t->done != NULL)
		t->done(t->done_context, &result);
	t->done = NULL;
}

void transfer_abort(struct transfer *t)
{
	if (t->state == TRANSFER_FINISHED || t->state == TRANSFER_ABORTED)
		return;
	t->state = TRANSFER_ABORTED;
	t->done = NULL;
	transfer_count(t, TRANSFER_COUNTER_aborted, 1);
	transfer_release_connection(t, false);
}

void transfer_io_complete(struct transfer *t, struct transfer_io *io)
{
	bool ended = t->state == TRANSFER_FINISHED || t->state == TRANSFER_ABORTED;
	switch (io->kind) {
	case TRANSFER_IO_READ:
		transfer_count(t, TRANSFER_COUNTER_reads, 1);
		break; /* consumed in file order by transfer_send_step */
	case TRANSFER_IO_WRITE:
		transfer_count(t, TRANSFER_COUNTER_writes, 1);
		if (!ended) {
			transfer_write_complete(t, io);
			return;
		}
		break;
	case TRANSFER_IO_FSYNC:
		transfer_count(t, TRANSFER_COUNTER_fsyncs, 1);
		io->in_use = false;
		if (!ended && io->result < 0)
			transfer_fail_disk(t, -io->result);
		else if (!ended)
			transfer_finish(t, t->status);
		return;
	}
	if (ended && io->buffer != NULL) {
		transfer_buffer_put(t->engine, io->buffer);
		io->buffer = NULL;
		io->in_use = false;
	}
}

static void transfer_step(struct transfer *t, uint64_t now_tsc)
{
	if (t->direction == TRANSFER_SEND_FILE)
		transfer_send_step(t, now_tsc);
	else
		transfer_receive_step(t, now_tsc);
}

static void transfer_on_event(struct tcp_conn *c, void *context)
{
	(void)c;
	struct transfer *t = context;
	t->last_progress_tsc = rte_get_tsc_cycles();
	transfer_step(t, t->last_progress_tsc);
}

static void transfer_on_closed(struct tcp_conn *c, void *context, int error)
{
	(void)c;
	struct transfer *t = context;
	t->tcp = NULL; /* gone once this returns */
	/* A download that already delivered everything may see the peer reset
	 * instead of closing: the data is acknowledged, so it stands. */
	if (t->state == TRANSFER_CLOSING && t->direction == TRANSFER_SEND_FILE) {
		transfer_finish(t, 0);
		return;
	}
	/* An upload whose close_notify arrived is complete whatever happens
	 * to the connection afterwards (a client that closes with our
	 * close_notify unread resets it): the bytes still go to disk. */
	if (t->direction == TRANSFER_RECEIVE_FILE &&
	    (t->state == TRANSFER_SYNCING || t->close_notify_seen)) {
		if (t->state == TRANSFER_RUNNING) {
			rte_pktmbuf_free(t->in_chain);
			t->in_chain = NULL;
			rte_pktmbuf_free(t->out_pending);
			t->out_pending = NULL;
			t->state = TRANSFER_SYNCING;
			transfer_receive_step(t, rte_get_tsc_cycles());
		}
		return;
	}
	transfer_finish(t, error < 0 ? -error : ECONNRESET);
}

static const struct tcp_callbacks transfer_callbacks = {
    .readable = transfer_on_event,
    .writable = transfer_on_event,
    .closed = transfer_on_closed,
};

struct transfer *transfer_start(struct transfer_engine *e, struct tcp_conn *tcp,
                                struct transfer_params *p, transfer_done_fn done, void *context,
                                char *error, size_t error_len)
{
	struct transfer *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(error, error_len, "out of memory");
		goto fail;
	}
	int rc = tls_conn_init(&t->tls, &p->keys, NULL);
	if (rc != TLS_OK) {
		snprintf(error, error_len, "record layer refused the keys: %s", tls_strerror(rc));
		free(t);
		t = NULL;
		goto fail;
	}
	t->tls_ready = true;
	t->engine = e;
	t->tcp = tcp;
	t->direction = p->direction;
	t->fd = p->fd;
	t->offset = p->file_offset;
	t->start_offset = p->file_offset;
	t->limit_end = p->byte_limit ? p->file_offset + p->byte_limit : UINT64_MAX;
	t->require_close_notify = p->require_close_notify;
	t->idle_limit_tsc =
	    e->tsc_hz * (p->idle_timeout_s != 0 ? p->idle_timeout_s : TRANSFER_IDLE_TIMEOUT_S);
	t->start_ns = transfer_now_ns();
	t->last_progress_tsc = rte_get_tsc_cycles();
	t->done = done;
	t->done_context = context;
	t->expected_end = UINT64_MAX;
	if (t->direction == TRANSFER_SEND_FILE) {
		/* A file cut short while it is sent must fail the transfer,
		 * not end it early as if it were complete. */
		struct stat st;
		if (fstat(t->fd, &st) == 0 && S_ISREG(st.st_mode)) {
			uint64_t size = (uint64_t)st.st_size;
			t->expected_end = size < t->limit_end ? size : t->limit_end;
		}
	}
	t->inline_io = transfer_file_in_memory(t->fd);
	if (t->direction == TRANSFER_RECEIVE_FILE)
		transfer_receive_prepare(t);
	else
		transfer_mapped_prepare(t);
	t->out_pending = p->pending_output;
	p->pending_output = NULL;
	if (p->leftover_len > 0) {
		struct rte_mbuf *head = NULL;
		const uint8_t *src = p->leftover;
		size_t left = p->leftover_len;
		while (left > 0) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(e->record_pool);
			if (m == NULL || (head != NULL && rte_pktmbuf_chain(head, m) != 0)) {
				rte_pktmbuf_free(m);
				rte_pktmbuf_free(head);
				snprintf(error, error_len, "no mbufs for the leftover bytes");
				t->fd = -1;
				transfer_release_connection(t, false);
				tls_conn_fini(&t->tls);
				free(t);
				t = NULL;
				goto fail;
			}
			size_t n = left < rte_pktmbuf_tailroom(m) ? left : rte_pktmbuf_tailroom(m);
			memcpy(rte_pktmbuf_append(m, (uint16_t)n), src, n);
			src += n;
			left -= n;
			if (head == NULL)
				head = m;
		}
		t->in_chain = head;
	}
	transfer_append_input(t, p->pending_input);
	p->pending_input = NULL;
	tcp_conn_set_callbacks(tcp, &transfer_callbacks, t);
	transfer_budget_start(t, t->last_progress_tsc);
	t->next = e->active;
	e->active = t;
	e->active_count++;
	e->counters[TRANSFER_COUNTER_started]++;
	transfer_step(t, t->last_progress_tsc);
	return t;
fail:
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	rte_pktmbuf_free(p->pending_input);
	rte_pktmbuf_free(p->pending_output);
	p->pending_input = p->pending_output = NULL;
	return NULL;
}

static void transfer_free(struct transfer_engine *e, struct transfer *t)
{
	transfer_release_io(t);
	transfer_budget_release(t);
	if (t->fd >= 0)
		close(t->fd);
	if (t->tls_ready)
		tls_conn_fini(&t->tls);
	e->active_count--;
	free(t);
}

unsigned int transfer_complete_inline(struct transfer_engine *e)
{
	unsigned int n = 0;
	while (e->inline_done != NULL) {
		struct transfer_io *io = e->inline_done;
		e->inline_done = io->next_inline;
		if (e->inline_done == NULL)
			e->inline_done_tail = &e->inline_done;
		transfer_io_finish(io);
		n++;
	}
	return n;
}

unsigned int transfer_engine_poll(struct worker *w, void *context, uint64_t now_tsc)
{
	(void)w;
	struct transfer_engine *e = context;
	unsigned int work = 0;
	if (e->active == NULL)
		return 0;
	transfer_mapped_check_leases(e);
	work += transfer_complete_inline(e);
	struct io_uring_cqe *cqes[64];
	unsigned int n = io_uring_peek_batch_cqe(&e->ring, cqes, RTE_DIM(cqes));
	for (unsigned int i = 0; i < n; i++) {
		struct transfer_io *io = io_uring_cqe_get_data(cqes[i]);
		io->result = cqes[i]->res;
		transfer_io_finish(io);
	}
	if (n > 0)
		io_uring_cq_advance(&e->ring, n);
	work += n;
	for (struct transfer **p = &e->active; *p != NULL;) {
		struct transfer *t = *p;
		if (t->state != TRANSFER_FINISHED && t->state != TRANSFER_ABORTED) {
			transfer_budget_tune(t, now_tsc);
			transfer_step(t, now_tsc);
			uint64_t limit = t->idle_limit_tsc;
			if (t->delivered) {
				uint64_t close_wait = e->tsc_hz * TRANSFER_DELIVERED_CLOSE_WAIT_S;
				if (close_wait > limit)
					limit = close_wait;
			}
			if (now_tsc > t->last_progress_tsc &&
			    now_tsc - t->last_progress_tsc > limit &&
			    (t->state == TRANSFER_RUNNING || t->state == TRANSFER_CLOSING)) {
				transfer_count(t, TRANSFER_COUNTER_idle_timeouts, 1);
				transfer_finish(t, ETIMEDOUT);
			}
		}
		if ((t->state == TRANSFER_FINISHED || t->state == TRANSFER_ABORTED) &&
		    t->inflight == 0) {
			*p = t->next;
			transfer_free(e, t);
			work++;
			continue;
		}
		p = &t->next;
	}
	if (e->pending_sqes > 0) {
		io_uring_submit(&e->ring);
		e->pending_sqes = 0;
		work++;
	}
	return work;
}

void transfer_engine_destroy(struct transfer_engine *e)
{
	if (e == NULL)
		return;
	for (struct transfer *t = e->active; t != NULL; t = t->next)
		transfer_abort(t);
	for (struct transfer_io *io = e->inline_done; io != NULL; io = io->next_inline) {
		io->done = true;
		io->transfer->inflight--;
	}
	e->inline_done = NULL;
	e->inline_done_tail = &e->inline_done;
	if (e->ring_ready) {
		/* Wait for what the kernel still holds before freeing buffers. */
		for (struct transfer *t = e->active; t != NULL; t = t->next) {
			while (t->inflight > 0) {
				struct io_uring_cqe *cqe;
				if (io_uring_wait_cqe(&e->ring, &cqe) != 0)
					break;
				struct transfer_io *io = io_uring_cqe_get_data(cqe);
				io->done = true;
				io->transfer->inflight--;
				io_uring_cqe_seen(&e->ring, cqe);
			}
		}
	}
	while (e->active != NULL) {
		struct transfer *t = e->active;
		e->active = t->next;
		transfer_free(e, t);
	}
	if (e->ring_ready)
		io_uring_queue_exit(&e->ring);
	free(e->buffer_memory);
	rte_mempool_free(e->record_pool);
	rte_free(e);
}

const uint64_t *transfer_engine_counters(const struct transfer_engine *e)
{
	return e->counters;
}

unsigned int transfer_engine_active(const struct transfer_engine *e)
{
	return e->active_count;
}

uint32_t transfer_engine_largest_budget(const struct transfer_engine *e)
{
	return e->largest_budget;
}

unsigned int transfer_engine_free_buffers(const struct transfer_engine *e)
{
	return e->free_count;
}

unsigned int transfer_engine_buffer_count(const struct transfer_engine *e)
{
	(void)e;
	return TRANSFER_BUFFERS;
}
