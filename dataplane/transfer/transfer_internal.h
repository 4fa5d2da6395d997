/* Shared between the engine and the two directions; not for other rooms. */
#ifndef FTPS_TRANSFER_INTERNAL_H
#define FTPS_TRANSFER_INTERNAL_H

#include <liburing.h>

#include "transfer.h"

#define TRANSFER_BUFFER_SIZE (64u * 1024u)
/* Room past 64 KiB in each buffer for an opened record's tag, TLS 1.3 inner
 * type and padding: the record layer needs the whole ciphertext length as
 * output room, so without it an upload buffer holds three 16 KiB records
 * (48 KiB writes) instead of four. */
#define TRANSFER_BUFFER_SLACK  4096u
#define TRANSFER_BUFFER_STRIDE (TRANSFER_BUFFER_SIZE + TRANSFER_BUFFER_SLACK)
#define TRANSFER_BUFFERS       128 /* per worker: 8.5 MiB registered with io_uring */
#define TRANSFER_RING_DEPTH    512
#define TRANSFER_MAX_READS     4 /* per download in flight: 256 KiB read-ahead */
#define TRANSFER_MAX_WRITES    8 /* per upload in flight */
#define TRANSFER_RECORD_MBUFS  4095
/* A transfer's send budget (download: sealed records not yet acknowledged)
 * or receive budget (upload: the window the client may fill) starts at
 * 2 MiB and grows with the path's bandwidth-delay product
 * (transfer_budget.c).  2 MiB, not 1: over the MTU-9000 memif, RETR of
 * 1 GiB in 12 interleaved runs each (2026-11-29 09:00-09:10 UTC) had a
 * median of 2.29 GB/s against 1.98 and a best of 2.89 against 2.45; 256 KiB
 * fell to 0.85-1.3.  The largest is what the window scale the stack
 * announces allows (65535 << 9 bytes); the record pool, not this, bounds
 * what many downloads hold together. */
#define TRANSFER_BUDGET_START   (2u << 20)
#define TRANSFER_BUDGET_MAX     (32u << 20)
#define TRANSFER_IDLE_TIMEOUT_S 120
/* A download whose every byte, close_notify and FIN the client has
 * acknowledged waits this long (or data_timeout if longer) for the client's
 * close: the client may still be reading what its kernel holds. */
#define TRANSFER_DELIVERED_CLOSE_WAIT_S 120
#define TRANSFER_OPEN_BATCH             16

struct transfer_buffer {
	uint8_t *data;
	uint16_t index; /* registered buffer index */
	struct transfer_buffer *next_free;
};

enum transfer_io_kind { TRANSFER_IO_READ, TRANSFER_IO_WRITE, TRANSFER_IO_FSYNC };

struct transfer_io {
	struct transfer *transfer;
	struct transfer_buffer *buffer;
	uint64_t offset;
	uint32_t len;
	int32_t result;
	enum transfer_io_kind kind;
	bool direct; /* a write issued while the fd had O_DIRECT */
	bool in_use;
	bool done;
	struct transfer_io *next_inline; /* transfer_engine.inline_done */
};

enum transfer_state {
	TRANSFER_RUNNING,
	TRANSFER_CLOSING, /* our close_notify and FIN are out; waiting for the peer's FIN */
	TRANSFER_SYNCING, /* upload: last writes and fdatasync */
	TRANSFER_FINISHED,
	TRANSFER_ABORTED,
};

struct transfer {
	struct transfer *next;
	struct transfer_engine *engine;
	struct tcp_conn *tcp;
	struct tls_conn tls;
	bool tls_ready;
	enum transfer_direction direction;
	enum transfer_state state;
	int fd;
	int status;
	bool require_close_notify;
	bool close_notify_seen;
	bool close_notify_sent;
	bool shut_down;
	bool eof;
	uint64_t idle_limit_tsc; /* TAKEOVER's idle_timeout_s in TSC cycles */
	bool inline_io;          /* file on tmpfs/ramfs: I/O on the lcore (transfer_io_inline) */
	bool peer_eof;
	uint64_t start_offset;
	uint64_t offset;    /* next file offset to read or write */
	uint64_t limit_end; /* file offset where the transfer stops */
	uint64_t expected_end;
	uint64_t bytes;
	uint64_t start_ns;
	uint64_t last_progress_tsc;
	unsigned int inflight;
	transfer_done_fn done;
	void *done_context;
	struct rte_mbuf *in_chain;    /* ciphertext not yet opened */
	struct rte_mbuf *out_pending; /* sealed, waiting for send space */
	/* Download: reads in issue order (a ring). */
	struct transfer_io reads[TRANSFER_MAX_READS];
	unsigned int read_head, read_count;
	uint32_t send_space_seen; /* tcp_send_space at the last step: grows on ACKs */
	bool delivered;           /* closing, and the client acknowledged everything */
	/* Upload: the buffer being filled and the writes in flight. */
	struct transfer_buffer *fill;
	uint32_t fill_len;
	struct transfer_io writes[TRANSFER_MAX_WRITES];
	unsigned int writes_inflight;
	/* Inline writes (tmpfs, ramfs) held until the receive step ends, then
	 * made by one pwritev (transfer_write_batch); file-consecutive. */
	struct transfer_io *batch[TRANSFER_MAX_WRITES];
	unsigned int batch_count;
	unsigned int max_writes; /* 1 when the fd must keep O_APPEND */
	/* O_DIRECT: dio_align is the file offset / length granule the file
	 * system needs (0: this upload writes buffered); direct_on says the
	 * open file description has O_DIRECT set right now.  The flag is only
	 * flipped with no write of this transfer in flight, so each write's
	 * mode is known. */
	uint32_t dio_align;
	bool direct_on;
	bool direct_used; /* counted in direct_uploads */
	struct transfer_io sync;
	bool sync_issued;
	/* Download of a file in memory sealed from a mapping while a read
	 * lease keeps writers out (transfer_mapped.c), up to expected_end. */
	bool mapped;
	void *map_window;
	uint64_t map_window_offset;
	size_t map_window_len;
	/* Budget tuning (transfer_budget.c): the next check; at the last one,
	 * the time and where the bytes moved stood (SND.UNA of a download,
	 * bytes arrived of an upload). */
	uint64_t budget_check_tsc;
	uint64_t budget_check_start_tsc;
	uint64_t budget_check_mark;
	uint32_t budget_units; /* what its growth holds of the engine's share */
};

struct transfer_engine {
	struct io_uring ring;
	bool ring_ready;
	unsigned int worker_id;
	unsigned int pending_sqes;
	struct rte_mempool *record_pool;
	uint8_t *buffer_memory;
	struct transfer_buffer buffers[TRANSFER_BUFFERS];
	struct transfer_buffer *free_buffers;
	unsigned int free_count;
	struct transfer *active;
	unsigned int active_count;
	/* I/O done on the lcore, its completion handled with the CQEs. */
	struct transfer_io *inline_done, **inline_done_tail;
	uint64_t tsc_hz;
	bool mapped_reads;                 /* transfer_engine_set_mapped_reads */
	unsigned int lease_breaks_handled; /* lease-break signals seen */
	uint32_t largest_budget;           /* the largest any transfer grew to */
	uint32_t max_budget;               /* transfer_engine_set_max_budget */
	/* What grown budgets hold together, against what they may: record
	 * mbufs (downloads) and receive mbufs (uploads); see
	 * transfer_budget.c.  receive_mbufs 0: the pool is unknown. */
	uint32_t budget_records, budget_receive_mbufs;
	uint32_t receive_mbufs, receive_mbuf_bytes;
	uint64_t counters[TRANSFER_COUNTER_COUNT];
	uint8_t bounce[TLS_MAX_OPEN_RECORD];
	uint8_t discard[TLS_MAX_OPEN_RECORD];
};

static inline void transfer_count(struct transfer *t, enum transfer_counter c, uint64_t n)
{
	t->engine->counters[c] += n;
}

struct transfer_buffer *transfer_buffer_get(struct transfer *t);
void transfer_buffer_put(struct transfer_engine *e, struct transfer_buffer *b);
struct io_uring_sqe *transfer_sqe(struct transfer *t, struct transfer_io *io);

/* Ends the transfer with status (0 = complete) and reports it. */
void transfer_finish(struct transfer *t, int status);

/* Reads whatever TCP holds into in_chain and opens complete records into
 * dst (or discards application data when dst is NULL: a download's peer
 * only sends alerts).  Returns plaintext bytes written to dst, or -1 after
 * failing the transfer. */
void transfer_take_input(struct transfer *t);

/* Seals and queues our close_notify, then shuts our direction down. */
int transfer_send_close(struct transfer *t);

/* Upload set-up: drops O_APPEND (writes carry explicit offsets) and turns
 * O_DIRECT on where the file system and the start offset allow it. */
void transfer_receive_prepare(struct transfer *t);

/* Queues an upload's fill buffer for writing (O_DIRECT rules in
 * transfer_receive.c); false when it has to wait or the transfer failed. */
bool transfer_submit_fill(struct transfer *t);
/* Makes an upload's held inline writes (tmpfs, ramfs) with one pwritev; the
 * receive step calls it as it ends. */
void transfer_write_batch(struct transfer *t);
/* The file lives in memory (tmpfs, ramfs): its I/O is done inline. */
bool transfer_file_in_memory(int fd);
/* An I/O done on the lcore with this result (bytes, or -errno): queued to
 * complete at the next poll exactly as if io_uring had done it. */
void transfer_io_inline(struct transfer *t, struct transfer_io *io, long result);
/* Completes the I/Os done on the lcore, in the order they were done
 * (transfer_engine_poll's first step); returns how many. */
unsigned int transfer_complete_inline(struct transfer_engine *e);

/* Fails an upload on a write, fdatasync or fcntl error: a full file system
 * or quota stays ENOSPC/EDQUOT (452) and EFBIG stays (552); anything else
 * (EIO, EINVAL from a direct write the device refused, ...) is reported as
 * EIO, a local I/O error (451), not as a lost connection. */
void transfer_fail_disk(struct transfer *t, int error);

/* Seals len bytes of the file (at t->offset) and queues the records behind
 * out_pending, with a KeyUpdate first when one is due; false when no record
 * mbuf is free (try again at the next poll) or the transfer failed. */
bool transfer_queue_sealed(struct transfer *t, const uint8_t *data, uint32_t len);
/* Hands out_pending to TCP; false while TCP has no room (or it failed). */
bool transfer_flush_output(struct transfer *t);

/* Mapped downloads (transfer_mapped.c). */
int transfer_mapped_install_signal(char *error, size_t error_len);
/* At the start of a download: maps it if the file is in memory and the
 * read lease is granted. */
void transfer_mapped_prepare(struct transfer *t);
/* Unmaps and drops the lease; the download goes on with reads. */
void transfer_mapped_stop(struct transfer *t);
/* After a lease-break signal: stops every mapped download whose lease is
 * being broken, so the writer waiting for it can go on. */
void transfer_mapped_check_leases(struct transfer_engine *e);
/* Seals from the mapping for the send space there is; false when the step
 * must end here (no room, no mbufs, or the transfer ended). */
bool transfer_mapped_send(struct transfer *t);

/* Budgets that follow the bandwidth-delay product (transfer_budget.c). */
void transfer_budget_start(struct transfer *t, uint64_t now_tsc);
/* Once per round trip: doubles the budget while it limits the transfer. */
void transfer_budget_tune(struct transfer *t, uint64_t now_tsc);
/* At the end: gives the growth's share back to the engine. */
void transfer_budget_release(struct transfer *t);

void transfer_send_step(struct transfer *t, uint64_t now_tsc);
void transfer_receive_step(struct transfer *t, uint64_t now_tsc);
void transfer_write_complete(struct transfer *t, struct transfer_io *io);
void transfer_io_complete(struct transfer *t, struct transfer_io *io);

#endif
