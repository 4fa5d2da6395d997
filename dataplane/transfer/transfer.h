/* The transfer engine of one worker lcore: after the control plane has run a
 * data connection's TLS handshake, the connection's file bytes move here
 * between the TCP stack and the disk.  Records are sealed straight into TX
 * mbufs and opened straight out of RX mbufs into write buffers (crypto/
 * does the one pass over each byte); files are read and written with
 * io_uring, polled from the poll loop, with registered buffers.
 *
 * Backpressure both ways: a download reads the file only for send space
 * the connection has; an upload stops taking data from TCP (so its receive
 * window closes) when its write buffers are all in flight.  Every transfer
 * has a bounded number of buffers, so hundreds share a lcore fairly. */
#ifndef FTPS_TRANSFER_H
#define FTPS_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "tls_record.h"

struct tcp_conn;
struct worker;
struct transfer;
struct transfer_engine;

enum transfer_direction { TRANSFER_SEND_FILE = 1, TRANSFER_RECEIVE_FILE = 2 };

struct transfer_params {
	enum transfer_direction direction;
	int fd;               /* the transfer owns it from here on */
	uint64_t file_offset; /* REST, or the append position */
	uint64_t byte_limit;  /* 0: to the end of the file / of the stream */
	bool require_close_notify;
	uint32_t idle_timeout_s; /* no progress for this long: ETIMEDOUT (0: 120 s) */
	struct tls_conn_keys keys;
	/* Ciphertext that reached the control plane after the handshake, and
	 * bytes the relay still held in either direction: taken over in that
	 * order before anything new. */
	const uint8_t *leftover;
	size_t leftover_len;
	struct rte_mbuf *pending_input;  /* owned by the transfer afterwards */
	struct rte_mbuf *pending_output; /* owned by the transfer afterwards */
};

struct transfer_result {
	int status; /* 0, or an errno value saying why it failed */
	bool close_notify_seen;
	uint64_t bytes; /* file bytes moved */
	uint64_t start_ns, end_ns;
};

/* Called once when a transfer ends by itself (not after transfer_abort). */
typedef void (*transfer_done_fn)(void *context, const struct transfer_result *result);

#define TRANSFER_COUNTER_LIST(X)                                                                   \
	X(started, "transfers taken over")                                                         \
	X(completed, "transfers that ended complete")                                              \
	X(failed, "transfers that ended in an error")                                              \
	X(aborted, "transfers aborted by the control plane (ABOR, reset, link lost)")              \
	X(bytes_sent, "file bytes sent")                                                           \
	X(bytes_received, "file bytes received and written")                                       \
	X(records_sealed, "TLS records sealed")                                                    \
	X(records_opened, "TLS records opened")                                                    \
	X(reads, "file reads completed (io_uring or inline)")                                      \
	X(inline_reads, "reads of tmpfs/ramfs files done on the lcore, not by an io_uring worker") \
	X(inline_writes, "writes to tmpfs/ramfs files done on the lcore")                          \
	X(inline_write_calls, "pwritev calls that made them (file-consecutive buffers together)")  \
	X(mapped_downloads, "downloads of tmpfs/ramfs files sealed straight from the page cache")  \
	X(mapped_bytes, "file bytes sealed straight from a mapping of the page cache")             \
	X(mapped_refused, "in-memory downloads read instead of mapped (file open for writing)")    \
	X(lease_breaks, "mapped downloads that went on with reads when a writer opened the file")  \
	X(writes, "io_uring writes completed")                                                     \
	X(fsyncs, "fdatasyncs completed (io_uring or inline)")                                     \
	X(direct_writes, "upload writes done with O_DIRECT (no page-cache copy)")                  \
	X(direct_bytes, "upload bytes written with O_DIRECT")                                      \
	X(buffered_writes, "upload writes done through the page cache")                            \
	X(direct_uploads, "uploads that started writing with O_DIRECT")                            \
	X(direct_refused, "uploads written buffered: the file system refused O_DIRECT")            \
	X(direct_unaligned_start, "REST/APPE at an unaligned offset: buffered to the boundary")    \
	X(direct_fallbacks, "uploads that left O_DIRECT midway (no buffer for an unaligned tail)") \
	X(tail_carries, "unaligned upload tails carried into the next write buffer")               \
	X(buffer_waits, "times a transfer waited for a free I/O buffer")                           \
	X(record_mbuf_waits, "times sealing waited for a free record mbuf")                        \
	X(budget_growths, "doublings of a send or receive budget that limited a transfer")         \
	X(budget_refusals, "doublings refused: this lcore's grown budgets hold their share")       \
	X(tls_errors, "transfers failed by a TLS error (bad MAC, bad record, alert)")              \
	X(disk_full, "uploads failed because the file system is full")                             \
	X(io_errors, "transfers failed by an I/O error")                                           \
	X(truncated_uploads, "uploads that ended without close_notify (possible truncation)")      \
	X(idle_timeouts, "transfers failed because the peer made no progress")

enum transfer_counter {
#define TRANSFER_COUNTER_ENUM(name, description) TRANSFER_COUNTER_##name,
	TRANSFER_COUNTER_LIST(TRANSFER_COUNTER_ENUM)
#undef TRANSFER_COUNTER_ENUM
	    TRANSFER_COUNTER_COUNT
};

extern const char *const transfer_counter_names[TRANSFER_COUNTER_COUNT];

struct transfer_engine *transfer_engine_create(unsigned int worker_id, int socket_id, char *error,
                                               size_t error_len);
void transfer_engine_destroy(struct transfer_engine *engine);
/* Downloads of tmpfs/ramfs files sealed straight from the page cache (on by
 * default; [transfer] mapped_reads). */
void transfer_engine_set_mapped_reads(struct transfer_engine *engine, bool on);
/* The most a transfer's budget may grow to (bytes, clamped to 2-32 MiB;
 * the start, 2 MiB, keeps budgets fixed).  Default 32 MiB. */
void transfer_engine_set_max_budget(struct transfer_engine *engine, uint32_t bytes);
/* The pool the lcore receives into: uploads' grown windows may hold at
 * most a quarter of its mbufs together. */
void transfer_engine_set_receive_pool(struct transfer_engine *engine,
                                      const struct rte_mempool *pool);

/* worker_poll_fn: reaps io_uring completions and moves every transfer on. */
unsigned int transfer_engine_poll(struct worker *w, void *engine, uint64_t now_tsc);

/* Takes over tcp (its callbacks change to the engine's).  Returns the
 * transfer, or NULL with a message in error (the caller keeps tcp and the
 * fd and mbufs in params are released). */
struct transfer *transfer_start(struct transfer_engine *engine, struct tcp_conn *tcp,
                                struct transfer_params *params, transfer_done_fn done,
                                void *context, char *error, size_t error_len);

/* Stops a transfer now: resets the connection, no done callback. */
void transfer_abort(struct transfer *t);

const uint64_t *transfer_engine_counters(const struct transfer_engine *engine);
unsigned int transfer_engine_active(const struct transfer_engine *engine);
/* The largest send or receive budget any transfer of this lcore grew to
 * (bytes; 0 while none grew past its start). */
uint32_t transfer_engine_largest_budget(const struct transfer_engine *e);
unsigned int transfer_engine_free_buffers(const struct transfer_engine *engine);
unsigned int transfer_engine_buffer_count(const struct transfer_engine *engine);

#endif
