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

struct lgd_session {
	int id;
	struct lgd_run *lr;
	struct lg_run *run;
	struct lgd_conn ctrl, data;
	enum lg_cstate cs;
	enum lg_dstate ds;
	char out[512];
	size_t out_len, out_off;
	char in[8192];
	size_t in_len;
	int reply_code;
	char reply_line[256];
	SSL_SESSION *tls_session;
	struct lg_xfer x; /* the transfer in progress */
	uint64_t bytes;
	int ctrl_done, data_done, first_byte_seen, clean_close;
	EVP_MD_CTX *md;
	struct lg_pattern *pattern;
	uint8_t *buf;
	double t_end_new;
	double t_op, t_connect, t_handshake, t_cmd, last_activity;
	uint64_t seq;
	int small_retr_next;
	uint16_t data_port;
	bool close_sent;  /* upload: close_notify sealed and queued */
	bool retry;       /* blocked on record mbufs: the poller drives it again */
	bool in_drive;    /* lgd_session_drive is running (no re-entry) */
	bool drive_again; /* an event arrived while it ran */
};

struct lgd_session *lgd_session_start(struct lgd_run *lr, int id);
void lgd_session_drive(struct lgd_session *s);
void lgd_session_check_timeout(struct lgd_session *s, double now);
void lgd_session_free(struct lgd_session *s);

#endif
