/* ftps-loadgen: explicit-FTPS load generator on kernel sockets (one thread,
 * non-blocking sockets, epoll, OpenSSL).  A run drives N control sessions;
 * each logs in once and then performs transfers one after another until the
 * total count or the duration is reached. */
#ifndef LOADGEN_H
#define LOADGEN_H

#include "lg_pattern.h"
#include "lg_stats.h"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>

enum lg_workload { LG_WL_RETR, LG_WL_STOR, LG_WL_SMALL, LG_WL_LIST };
enum lg_op { LG_OP_RETR, LG_OP_STOR, LG_OP_LIST };

struct lg_options {
	const char *server, *user, *password, *ca_file, *bind, *file, *prefix;
	const char *manifest, *verify, *ciphersuites;
	uint16_t port;
	int insecure, sessions, json, no_verify;
	int tls_max_version; /* TLS1_2_VERSION or TLS1_3_VERSION */
	enum lg_workload workload;
	uint64_t size, count, seed, total_bytes;
	double duration, idle_timeout;
};

struct lg_run {
	struct lg_options opt;
	SSL_CTX *ctx;
	int epfd;
	struct sockaddr_in server, bind_addr;
	double t_start;
	uint64_t issued; /* transfers started, for --count */
	/* No session starts a transfer before every session has logged in
	 * (or failed to): a login costs the server a password hash, and
	 * logins overlapping the first transfers would be measured as slow
	 * transfers.  Sessions still logging in, and the ones waiting. */
	int logging_in;
	struct lg_ctl *ready;
	/* Set when waiting sessions were released: their first command is
	 * queued, and the main loop drives every session once to send it. */
	int kick;
	double t_logins_end; /* when the last login ended (the release) */
	/* Rates are over the transfer phase: first transfer start to last
	 * transfer end (logins are not in it). */
	double t_first_op, t_last_op;
	int live_sessions;
	FILE *manifest;
	/* Expected SHA-256 of --file for retr (--verify pattern|HEX). */
	int have_retr_expect;
	uint8_t retr_expect[32];
	/* Results. */
	uint64_t bytes_down, bytes_up, files, transfers, resumed, not_resumed;
	/* data connections by negotiated version, so a report says what it measured */
	uint64_t data_tls12, data_tls13;
	uint64_t errors[LG_ERR_COUNT];
	/* DPDK mode: TSC cycles of the loadgen's lcore per byte moved, over
	 * the whole transfer phase (the lcore busy-polls) and counting only
	 * loop iterations that did work. */
	int have_cycles;
	double cycles_per_byte, busy_cycles_per_byte;
	const char *mode; /* "kernel" or "dpdk" */
	struct lg_hist lat_connect, lat_handshake, lat_first_byte, lat_transfer;
};

/* One transfer as planned: what, which file, what to expect. */
struct lg_xfer {
	enum lg_op op;
	char name[160];
	uint64_t expect_size; /* UINT64_MAX: not checked */
	int have_expect;      /* expect holds the SHA-256 the content must have */
	uint8_t expect[32];
};

/* Kernel mode: one socket of a session (lg_session.c); epoll events point
 * at it. */
struct lg_session;
struct lg_conn {
	int fd;
	SSL *ssl;
	struct lg_session *s;
};

#define LG_BUF_SIZE (256u * 1024u)

double lg_now(void);
/* lg_options.c: shared by both modes. */
void lg_usage(FILE *f);
/* Parses the workload options; -1 (after a message) on a bad one. */
int lg_parse_options(int argc, char **argv, struct lg_options *o);
/* The server address, expected download content, SSL_CTX and manifest. */
int lg_setup_common(struct lg_run *run);
/* Starts a session: allocates it and begins the control connect.  Returns
 * NULL (after counting the error) if it could not start. */
struct lg_session *lg_session_start(struct lg_run *run, int id);
/* Runs the session as far as it goes without blocking; called on every
 * epoll event for either of its sockets. */
void lg_session_drive(struct lg_session *s);
/* Fails the session if it made no progress for the idle timeout. */
void lg_session_check_timeout(struct lg_session *s, double now);
int lg_session_finished(const struct lg_session *s);
void lg_session_free(struct lg_session *s);

/* seconds: the whole run; xfer_seconds: the transfer phase (first transfer
 * start to last transfer end), which the rates use. */
void lg_report(struct lg_run *run, double seconds, double xfer_seconds, double cpu_seconds);

#endif
