/* TLS for control and data connections: OpenSSL over memory BIOs (the bytes
 * travel through the dataplane relay, never a socket here).
 *
 * Data-connection session binding: every control connection gets a random
 * 16-byte token. Every ticket issued on it, and on its data connections,
 * carries that token as ticket appdata (sealed inside the ticket by OpenSSL,
 * so clients cannot forge it). At login the token is bound to (user, client
 * address) in a table here. A data connection accepts a resumed session only
 * if its ticket's token is bound to the same user and address as the
 * session that owns the data connection (or, with session_binding =
 * connection, is that session's own token). Ticket keys survive SIGHUP
 * reloads so long-lived sessions keep working. */
#ifndef FTPS_CONTROL_TLS_H
#define FTPS_CONTROL_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ipc/ftps_ipc.h"

struct rconn;

#define TLS_TOKEN_LEN 16

/* Per-SSL facts, owned by the session or data connection (outlives SSL). */
struct tls_info {
	uint8_t token[TLS_TOKEN_LEN]; /* owning control session's token */
	bool is_data;
	/* data connections: what a resumed ticket must be bound to */
	const char *expect_user;
	struct ftps_ipc_addr expect_addr;
	/* filled by the ticket callback */
	bool ticket_seen;
	bool ticket_binding_ok;
	char sni[256];
};

struct tls_stream {
	SSL *ssl;
	BIO *rbio, *wbio; /* rbio: bytes from the peer; wbio: bytes to send */
	bool handshake_done;
	bool close_notify_rcvd;
	bool shutdown_sent;
};

int tls_global_init(const struct ftps_config *cfg, char *err, size_t errlen);
/* SIGHUP: new context from cfg, ticket keys carried over; on failure the
 * old one stays. */
int tls_reload(const struct ftps_config *cfg, char *err, size_t errlen);
void tls_global_fini(void);

void tls_new_token(uint8_t token[TLS_TOKEN_LEN]);
/* Bind a control session's token to the logged-in user and address. */
void tls_bind_token(const uint8_t token[TLS_TOKEN_LEN], const char *user,
                    const struct ftps_ipc_addr *addr);

int tls_stream_open(struct tls_stream *t, struct tls_info *info);
void tls_stream_free(struct tls_stream *t);
int tls_stream_feed(struct tls_stream *t, const void *p, size_t n);
/* 1 done, 0 needs more input, -1 failed (reason logged in err). */
int tls_stream_handshake(struct tls_stream *t, char *err, size_t errlen);
/* >0 plaintext bytes, 0 nothing yet, -1 error, -2 close_notify received. */
int tls_stream_read(struct tls_stream *t, void *buf, size_t cap);
int tls_stream_write(struct tls_stream *t, const void *p, size_t n);
void tls_stream_shutdown(struct tls_stream *t);
/* Move pending TLS output into the relay; 0 or -1. */
int tls_stream_drain(struct tls_stream *t, struct rconn *c);
bool tls_stream_resumed_ok(const struct tls_stream *t);
/* Control connections get no TLS 1.3 ticket at the handshake, only after
 * login (tls_stream_issue_tickets), so every ticket a client can hold comes
 * from an authenticated session: a client sharing one cache over parallel
 * logins (rclone) never offers a ticket whose login is still pending. */
void tls_stream_defer_tickets(struct tls_stream *t);
void tls_stream_issue_tickets(struct tls_stream *t, unsigned n);
/* The verified client certificate, if any: SHA-256 fingerprint (lower-case
 * hex) and RFC 2253 subject. 0, or -1 if none was presented and verified. */
int tls_stream_peer_cert(const struct tls_stream *t, char *sha256_hex, size_t hex_cap,
                         char *subject, size_t subject_cap);
const char *tls_stream_version(const struct tls_stream *t);

#endif
