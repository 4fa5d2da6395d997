/* One FTPS control session (RFC 959 + RFC 4217) and its data connections.
 * A session belongs to one thread; sessions share only the SSL_CTX and the
 * read-only configuration. */
#ifndef FTPS_FTP_SESSION_H
#define FTPS_FTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "client.h"
#include "ftp_reply.h"

struct ftp_io {
	int fd;
	SSL *ssl;
};

struct ftp_session {
	struct client_config *cfg;
	struct ftp_io ctl;
	struct sockaddr_storage peer; /* control peer: data connections go here */
	socklen_t peer_len;
	char rbuf[FTP_LINE_MAX * 2];
	size_t rlen;
	int code;                 /* last reply code */
	char reply[FTP_LINE_MAX]; /* last line of the last reply */
	struct ftp_features feat;
	bool hash_ready; /* OPTS HASH SHA-256 accepted */
	char err[512];   /* why the last call failed */
};

struct ftp_data {
	struct ftp_io io;
	bool clean_close; /* peer sent TLS close_notify */
};

/* Connect, TLS (explicit AUTH TLS or implicit), trust decision, and, unless
 * login is false, USER/PASS, PBSZ 0, PROT P, TYPE I, FEAT. Returns an
 * enum client_exit; on failure s->err says why and the session is closed. */
int ftp_open(struct ftp_session *s, struct client_config *cfg, bool login);
/* QUIT and close. Safe on a closed session. */
void ftp_close(struct ftp_session *s);

/* Send one command (printf-style; never with CR/LF inside) and read the
 * reply. Returns the reply code, -1 on a lost connection. */
int ftp_cmd(struct ftp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read the next reply (after a 1xx preliminary one). */
int ftp_read_reply(struct ftp_session *s);

/* Open a passive data connection (EPSV, then PASV). TLS is started by
 * ftp_data_start after the transfer command got its 1xx reply. */
int ftp_data_connect(struct ftp_session *s, struct ftp_data *d);
/* TLS handshake on the data connection, resuming the control session. */
int ftp_data_start(struct ftp_session *s, struct ftp_data *d);
/* >0 bytes, 0 at end of data, -1 on error (s->err). */
long ftp_data_read(struct ftp_session *s, struct ftp_data *d, void *buf, size_t len);
int ftp_data_write(struct ftp_session *s, struct ftp_data *d, const void *buf, size_t len);
/* Send close_notify (for uploads) and close. */
void ftp_data_close(struct ftp_data *d, bool send_close_notify);

/* Whole listing of path (NULL: current folder) into a heap buffer; MLSD when
 * the server offers it (*mlsd set), else "LIST -a". */
int ftp_list(struct ftp_session *s, const char *path, bool want_mlsd, char **out, size_t *len,
             bool *mlsd);

/* Certificate presented on the control connection (borrowed). */
X509 *ftp_peer_cert(struct ftp_session *s);

#endif
