/* The FTPS control session both load generator modes run (kernel sockets in
 * lg_session.c, the TCP stack and record layer in lgd_session.c): the state
 * machine that reacts to reply codes (banner, AUTH TLS, USER/PASS, PBSZ,
 * PROT, TYPE, EPSV, the transfer command, 226, the next transfer, QUIT) and
 * paces the data connection through connect, handshake, transfer and
 * drain.  Everything that touches a connection goes through a small table
 * of transport operations (struct lg_ctl_ops); the transport embeds struct
 * lg_ctl in its session and finds the session again with offsetof. */
#ifndef LG_CONTROL_H
#define LG_CONTROL_H

#include "loadgen.h"

enum lg_cstate {
	LG_C_CONNECTING,
	LG_C_BANNER,
	LG_C_AUTH,
	LG_C_HANDSHAKE,
	LG_C_USER,
	LG_C_PASS,
	LG_C_PBSZ,
	LG_C_PROT,
	LG_C_TYPE,
	LG_C_READY, /* logged in, waiting for the other sessions' logins */
	LG_C_EPSV,
	LG_C_XFER_CMD,
	LG_C_XFER_END,
	LG_C_QUIT,
	LG_C_DONE
};
enum lg_dstate { LG_D_NONE, LG_D_CONNECTING, LG_D_HANDSHAKE, LG_D_XFER, LG_D_DRAIN };

/* Which of a session's two connections an operation is about. */
enum lg_link { LG_LINK_CTRL, LG_LINK_DATA };

struct lg_ctl;

/* What a transport does for the state machine.  "Counted" means the
 * operation already ended the session with lg_ctl_fail() (it knows the
 * precise reason); otherwise the state machine counts the failure. */
struct lg_ctl_ops {
	const char *name; /* program name in error messages */
	/* Starts a TCP connect to port: 0, or a negative errno (not counted). */
	int (*open)(struct lg_ctl *c, enum lg_link l, uint16_t port);
	/* 1 connected, 0 still connecting, -1 failed (not counted). */
	int (*connected)(struct lg_ctl *c, enum lg_link l);
	/* A client SSL on the connection, or NULL (not counted). */
	SSL *(*tls_start)(struct lg_ctl *c, enum lg_link l);
	/* Runs the TLS handshake: 1 done, 0 waiting, -1 failed (counted). */
	int (*handshake)(struct lg_ctl *c, enum lg_link l);
	/* The connection's SSL (NULL if none). */
	SSL *(*ssl)(struct lg_ctl *c, enum lg_link l);
	/* Closes the connection; for data also forgets the transport's
	 * per-transfer state. */
	void (*close)(struct lg_ctl *c, enum lg_link l);
	/* Hands c->out[out_off, out_len) to the control connection (and pushes
	 * bytes queued earlier): 1 all taken, 0 blocked, -1 failed (counted). */
	int (*ctrl_write)(struct lg_ctl *c);
	/* Reads control bytes into buf: > 0 how many, 0 none yet, -1 failed
	 * or closed (counted). */
	int (*ctrl_read)(struct lg_ctl *c, char *buf, size_t room);
	/* While the transfer command waits for the data connection: 0, or -1
	 * if the control connection was lost meanwhile (counted). */
	int (*ctrl_wait)(struct lg_ctl *c);
	/* The data handshake is done and timed: 1 ready to transfer, -1
	 * failed (counted). */
	int (*data_ready)(struct lg_ctl *c);
	/* One step of the transfer (LG_D_XFER) and of the drain after an
	 * upload (LG_D_DRAIN): 1 progress, 0 none, -1 failed (counted).  Both
	 * end with lg_ctl_data_finished(). */
	int (*data_xfer)(struct lg_ctl *c);
	int (*data_drain)(struct lg_ctl *c);
};

struct lg_ctl {
	int id;
	struct lg_run *run;
	const struct lg_ctl_ops *ops;
	enum lg_cstate cs;
	enum lg_dstate ds;
	char out[512]; /* the command being sent */
	size_t out_len, out_off;
	char in[8192]; /* control bytes not parsed yet */
	size_t in_len;
	int reply_code;
	char reply_line[256];
	SSL_SESSION *tls_session; /* the control session, resumed on data connections */
	/* The transfer in progress. */
	struct lg_xfer x;
	uint64_t bytes;
	int ctrl_done, data_done, first_byte_seen, clean_close;
	EVP_MD_CTX *md;
	struct lg_pattern *pattern;
	uint8_t *buf;     /* LG_BUF_SIZE */
	double t_end_new; /* --duration: no transfer starts after this */
	double t_op, t_connect, t_handshake, t_cmd, last_activity;
	uint64_t seq;        /* transfers this session has started */
	int small_retr_next; /* small workload: RETR of the file just stored */
	uint16_t data_port;
	struct lg_ctl *next_ready; /* run->ready: sessions waiting in LG_C_READY */
};

/* Starts a session whose transport fields are set up: allocates its
 * buffers, counts it live and opens the control connection.  Failures are
 * counted and leave the session done. */
void lg_ctl_start(struct lg_ctl *c, struct lg_run *run, int id, const struct lg_ctl_ops *ops);
/* Advances the control and the data connection by one step each: 1
 * progress, 0 none, -1 the session failed. */
int lg_ctl_step(struct lg_ctl *c);
/* Counts the error once, closes both connections and ends the session;
 * returns -1. */
int lg_ctl_fail(struct lg_ctl *c, enum lg_error e, const char *why);
void lg_ctl_check_timeout(struct lg_ctl *c, double now);
/* Frees what lg_ctl_start allocated and closes both connections. */
void lg_ctl_release(struct lg_ctl *c);

/* For the transports' data steps.  Downloaded plaintext: first-byte
 * latency, byte count, hash; 0 or -1 (counted). */
int lg_ctl_data_in(struct lg_ctl *c, const void *p, size_t n);
/* Fills c->buf with the next n (<= LG_BUF_SIZE) bytes of the upload at
 * offset c->bytes and hashes them; 0 or -1 (counted). */
int lg_ctl_fill(struct lg_ctl *c, size_t n);
/* The data connection ended: closes it and, if the final reply is in
 * too, finishes the transfer and starts the next.  1, or -1 (counted). */
int lg_ctl_data_finished(struct lg_ctl *c);

#endif
