/* ftps-loadgen-dpdk: the load generator on the bypass path.  One lcore runs
 * the userspace TCP stack (dataplane/tcp) on a DPDK port (net_memif in the
 * benchmark); OpenSSL does every client handshake over memory BIOs, and on
 * data connections the record layer (crypto/) takes over after the
 * handshake, as the server's transfer engine does: records are opened
 * straight from RX mbufs and sealed straight into one-record TX mbufs.
 *
 * Threading: everything here runs on the one lcore; TCP callbacks run from
 * tcp_stack_poll() on that lcore and drive the sessions directly. */
#ifndef LGD_H
#define LGD_H

#include "lg_control.h"
#include "loadgen.h"

#include <stdbool.h>

#include <rte_mbuf.h>

#include "tcp.h"
#include "tls_import.h"
#include "tls_record.h"

/* Records opened per burst on a download; the plaintext lands in the
 * session's buffer (LG_BUF_SIZE), so at most this many fit. */
#define LGD_OPEN_BURST 15
/* Plaintext sealed per step of an upload: 4 records. */
#define LGD_SEAL_CHUNK (4u * TLS_MAX_PLAINTEXT)
/* Bytes a data handshake may leave in the read BIO (the server's first
 * records); more is refused as a TLS error. */
#define LGD_LEFTOVER_MAX 65536u

struct lgd_run {
	struct lg_run run; /* options, SSL_CTX, results, report */
	struct tcp_stack *stack;
	struct rte_mempool *pool;        /* packets: RX, headers, control bytes */
	struct rte_mempool *record_pool; /* one sealed record per mbuf */
	rte_be32_t server;               /* network order */
	uint8_t *leftover;               /* LGD_LEFTOVER_MAX bytes, scratch */
	uint64_t pool_waits;             /* an upload waited for record mbufs */
};

struct lgd_session;

enum lgd_tcp_state { LGD_TCP_NONE, LGD_TCP_CONNECTING, LGD_TCP_OPEN, LGD_TCP_FAILED };

/* One TCP connection of a session (control or data) and its TLS state:
 * OpenSSL over two memory BIOs during the handshake (and for the whole
 * control connection), or the record layer once it took over. */
struct lgd_conn {
	struct lgd_session *s;
	struct tcp_conn *tc; /* NULL once closed or failed */
	enum lgd_tcp_state state;
	int error; /* closed(): negative errno */
	bool eof;  /* the peer's FIN arrived and every byte before it was taken */
	SSL *ssl;
	BIO *net_in, *net_out; /* bytes from the peer -> SSL; SSL -> bytes to the peer */
	bool records;          /* the record layer owns the connection */
	struct tls_conn tls;
	struct rte_mbuf *in;  /* received bytes not consumed yet (plain or record mode) */
	struct rte_mbuf *out; /* bytes waiting for send space */
};

/* A session: the shared control state machine (lg_control.c) and this
 * mode's two connections. */
struct lgd_session {
	struct lg_ctl ctl;
	struct lgd_run *lr;
	struct lgd_conn ctrl, data;
	bool close_sent;  /* upload: close_notify sealed and queued */
	bool retry;       /* blocked on record mbufs: the poller drives it again */
	bool in_drive;    /* lgd_session_drive is running (no re-entry) */
	bool drive_again; /* an event arrived while it ran */
};

/* lgd_conn.c */
int lgd_conn_open(struct lgd_session *s, struct lgd_conn *c, uint16_t port);
/* Frees the TLS state and both queues and releases the TCP handle. */
void lgd_conn_close(struct lgd_conn *c);
/* Takes what TCP received: into the read BIO during TLS handshakes (and
 * for the whole control connection), else onto c->in. */
void lgd_conn_take_input(struct lgd_conn *c);
/* Appends m (owned from here) to the bytes waiting for send space. */
int lgd_conn_queue(struct lgd_conn *c, struct rte_mbuf *m);
/* Copies bytes into packet mbufs on the send queue; -1 out of mbufs. */
int lgd_conn_queue_copy(struct lgd_conn *c, const void *data, size_t len);
/* Drains the write BIO into mbufs and hands the queue to TCP: 1 all
 * handed over, 0 waiting (send space or mbufs), -1 failed. */
int lgd_conn_flush(struct lgd_conn *c);
/* OpenSSL client over memory BIOs on c (bytes already in c->in go into
 * the read BIO); NULL on failure. */
SSL *lgd_conn_tls_new(struct lgd_session *s, struct lgd_conn *c);

/* lgd_cursor.c: a position inside an mbuf chain. */
struct lgd_cursor {
	struct rte_mbuf *m;
	uint32_t off;
};
void lgd_cursor_skip_empty(struct lgd_cursor *cur);
/* Copies len bytes from the cursor (not moving it); false if too short. */
bool lgd_cursor_copy(struct lgd_cursor cur, uint8_t *out, uint32_t len);
/* Describes len bytes as at most max segments and moves past them;
 * returns how many, 0 when more would be needed (cursor kept). */
unsigned int lgd_cursor_iov(struct lgd_cursor *cur, uint32_t len, struct iovec *iov,
                            unsigned int max);
void lgd_cursor_advance(struct lgd_cursor *cur, uint32_t len);

/* lgd_session.c */
struct lgd_session *lgd_session_start(struct lgd_run *lr, int id);
void lgd_session_drive(struct lgd_session *s);
void lgd_session_check_timeout(struct lgd_session *s, double now);
void lgd_session_free(struct lgd_session *s);

#endif
