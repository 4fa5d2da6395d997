/* FTPS control session and data connections; see ftp_session.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "ftp_session.h"
#include "ftps_x509.h"
#include "trust.h"

#define LISTING_MAX (64u << 20)

static int fail(struct ftp_session *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ftp_session *s, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	unsigned long e = ERR_peek_error();
	if (e != 0) {
		size_t used = strlen(s->err);
		snprintf(s->err + used, sizeof(s->err) - used, " (%s)",
		         ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "TLS error");
	}
	ERR_clear_error();
	return status;
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
	/* Best effort: without them a dead peer only costs time, not safety. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tcp_connect_addr(const struct sockaddr *sa, socklen_t len, int timeout_s)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Linux bounds connect() by SO_SNDTIMEO. */
	set_timeouts(fd, timeout_s);
	if (connect(fd, sa, len) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static bool host_is_ip(const char *host)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static long io_read(struct ftp_io *io, void *buf, size_t len, bool *clean_eof)
{
	if (io->ssl == NULL) {
		for (;;) {
			ssize_t n = recv(io->fd, buf, len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0 && clean_eof)
				*clean_eof = true;
			return (long)n;
		}
	}
	int want = len > 1u << 30 ? 1 << 30 : (int)len;
	int n = SSL_read(io->ssl, buf, want);
	if (n > 0)
		return n;
	int e = SSL_get_error(io->ssl, n);
	if (e == SSL_ERROR_ZERO_RETURN) {
		if (clean_eof)
			*clean_eof = true;
		return 0;
	}
	if (e == SSL_ERROR_SSL &&
	    ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		/* TCP closed without close_notify: the caller decides whether the
		 * data is complete (RFC 4217 12.6 warns of truncation). */
		ERR_clear_error();
		if (clean_eof)
			*clean_eof = false;
		return 0;
	}
	return -1;
}

static int io_write(struct ftp_io *io, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len > 0) {
		if (io->ssl != NULL) {
			size_t done = 0;
			if (!SSL_write_ex(io->ssl, p, len, &done))
				return -1;
			p += done;
			len -= done;
		} else {
			ssize_t n = send(io->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			p += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

static void io_close(struct ftp_io *io)
{
	if (io->ssl != NULL) {
		SSL_free(io->ssl);
		io->ssl = NULL;
	}
	if (io->fd >= 0) {
		close(io->fd);
		io->fd = -1;
	}
}

/* One line from the control connection, without CR LF. -1 on error. */
static int read_line(struct ftp_session *s, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(s->rbuf, '\n', s->rlen);
		if (nl != NULL) {
			size_t n = (size_t)(nl - s->rbuf);
			size_t keep = n;
			if (keep > 0 && s->rbuf[keep - 1] == '\r')
				keep--;
			if (keep >= cap)
				return -1;
			memcpy(line, s->rbuf, keep);
			line[keep] = '\0';
			memmove(s->rbuf, nl + 1, s->rlen - n - 1);
			s->rlen -= n + 1;
			return 0;
		}
		if (s->rlen == sizeof(s->rbuf))
			return -1; /* line longer than we accept */
		long got = io_read(&s->ctl, s->rbuf + s->rlen, sizeof(s->rbuf) - s->rlen, NULL);
		if (got <= 0)
			return -1;
		s->rlen += (size_t)got;
	}
}

typedef void (*line_cb)(struct ftp_session *s, const char *line);

static int read_reply_cb(struct ftp_session *s, line_cb cb)
{
	char line[FTP_LINE_MAX];
	bool more = false;
	s->code = -1;
	errno = 0;
	if (read_line(s, line, sizeof(line)) != 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fail(s, EXIT_NETWORK, "no reply from the server within %d s (timeout)",
			     s->cfg->timeout_s);
		else
			fail(s, EXIT_NETWORK, "control connection lost or reply too long");
		return -1;
	}
	int code = ftp_reply_code(line, &more);
	if (code < 0) {
		fail(s, EXIT_NETWORK, "malformed reply from server: '%.80s'", line);
		return -1;
	}
	if (s->cfg->verbose)
		fprintf(stderr, "<- %s\n", line);
	/* RFC 959 4.2: a multi-line reply ends with the same code and a space. */
	int lines = 0;
	while (more) {
		if (read_line(s, line, sizeof(line)) != 0 || ++lines > 10000) {
			fail(s, EXIT_NETWORK, "control connection lost in a multi-line reply");
			return -1;
		}
		if (s->cfg->verbose)
			fprintf(stderr, "<- %s\n", line);
		bool m2;
		if (ftp_reply_code(line, &m2) == code && line[3] == ' ')
			more = false;
		else if (cb != NULL)
			cb(s, line);
	}
	s->code = code;
	snprintf(s->reply, sizeof(s->reply), "%s", line);
	return code;
}

int ftp_read_reply(struct ftp_session *s)
{
	return read_reply_cb(s, NULL);
}

static int send_line(struct ftp_session *s, const char *fmt, va_list ap)
{
	char line[FTP_LINE_MAX];
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2 || !ftp_path_ok(line)) {
		fail(s, EXIT_USAGE, "refusing to send a command with CR/LF or too long");
		return -1;
	}
	if (s->cfg->verbose)
		fprintf(stderr, "-> %s\n", strncmp(line, "PASS ", 5) == 0 ? "PASS ****" : line);
	memcpy(line + n, "\r\n", 2);
	if (io_write(&s->ctl, line, (size_t)n + 2) != 0) {
		fail(s, EXIT_NETWORK, "control connection lost while sending");
		return -1;
	}
	return 0;
}

int ftp_cmd(struct ftp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = send_line(s, fmt, ap);
	va_end(ap);
	if (rc != 0)
		return -1;
	return ftp_read_reply(s);
}

static int cmd_cb(struct ftp_session *s, line_cb cb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cmd_cb(struct ftp_session *s, line_cb cb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = send_line(s, fmt, ap);
	va_end(ap);
	if (rc != 0)
		return -1;
	return read_reply_cb(s, cb);
}

static void feat_cb(struct ftp_session *s, const char *line)
{
	ftp_feat_line(&s->feat, line);
}

static SSL *tls_client(struct ftp_session *s, int fd)
{
	SSL *ssl = SSL_new(s->cfg->ssl_ctx);
	if (ssl == NULL || !SSL_set_fd(ssl, fd)) {
		SSL_free(ssl);
		return NULL;
	}
	const char *host = s->cfg->host;
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	int ok = host_is_ip(host) ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
	                          : (SSL_set_tlsext_host_name(ssl, host) &&
	                             X509_VERIFY_PARAM_set1_host(vp, host, 0));
	if (!ok) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static int handshake(struct ftp_session *s, SSL *ssl, const char *what)
{
	int r = SSL_connect(ssl);
	if (r == 1)
		return EXIT_OK;
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return fail(s, EXIT_NETWORK, "TLS handshake on the %s connection: %s", what,
		            errno ? strerror(errno) : "connection closed by server");
	return fail(s, EXIT_UNTRUSTED, "TLS handshake on the %s connection failed", what);
}

static int connect_control(struct ftp_session *s)
{
	struct client_config *cfg = s->cfg;
	char port[8];
	snprintf(port, sizeof(port), "%u", cfg->port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(cfg->host, port, &hints, &res);
	if (gai != 0)
		return fail(s, EXIT_NETWORK, "cannot resolve %s: %s", cfg->host, gai_strerror(gai));
	int last_errno = 0;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = tcp_connect_addr(ai->ai_addr, ai->ai_addrlen, cfg->timeout_s);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		s->ctl.fd = fd;
		memcpy(&s->peer, ai->ai_addr, ai->ai_addrlen);
		s->peer_len = ai->ai_addrlen;
		break;
	}
	freeaddrinfo(res);
	if (s->ctl.fd < 0)
		return fail(s, EXIT_NETWORK, "cannot connect to %s port %u: %s", cfg->host,
		            cfg->port, strerror(last_errno));
	return EXIT_OK;
}

static int start_control_tls(struct ftp_session *s)
{
	SSL *ssl = tls_client(s, s->ctl.fd);
	if (ssl == NULL)
		return fail(s, EXIT_UNTRUSTED, "cannot set up TLS");
	int rc = handshake(s, ssl, "control");
	if (rc != EXIT_OK) {
		SSL_free(ssl);
		return rc;
	}
	s->ctl.ssl = ssl;
	return EXIT_OK;
}

static int login(struct ftp_session *s)
{
	struct client_config *cfg = s->cfg;
	int code = ftp_cmd(s, "USER %s", cfg->user);
	if (code == 331)
		code = ftp_cmd(s, "PASS %s", cfg->password ? cfg->password : "");
	if (code < 0)
		return EXIT_NETWORK;
	if (code != 230)
		return fail(s, EXIT_LOGIN, "login as %s refused: %s", cfg->user, s->reply);
	/* RFC 4217 9: PBSZ 0 then PROT P protect every data connection. */
	if (ftp_cmd(s, "PBSZ 0") != 200 || ftp_cmd(s, "PROT P") != 200)
		return fail(s, s->code < 0 ? EXIT_NETWORK : EXIT_REMOTE,
		            "server refused private data connections: %s", s->reply);
	if (ftp_cmd(s, "TYPE I") != 200)
		return fail(s, s->code < 0 ? EXIT_NETWORK : EXIT_REMOTE,
		            "server refused binary mode: %s", s->reply);
	memset(&s->feat, 0, sizeof(s->feat));
	if (cmd_cb(s, feat_cb, "FEAT") < 0)
		return EXIT_NETWORK;
	if (s->feat.hash_sha256) {
		s->hash_ready =
		    s->feat.hash_sha256_selected || ftp_cmd(s, "OPTS HASH SHA-256") == 200;
		if (s->code < 0)
			return EXIT_NETWORK;
	}
	return EXIT_OK;
}

int ftp_open(struct ftp_session *s, struct client_config *cfg, bool do_login)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->ctl.fd = -1;
	int rc = connect_control(s);
	if (rc != EXIT_OK)
		return rc;
	if (cfg->implicit) {
		rc = start_control_tls(s);
		if (rc != EXIT_OK)
			goto fail;
	}
	int code = ftp_read_reply(s);
	if (code != 220) {
		rc = code < 0 ? EXIT_NETWORK
		              : fail(s, EXIT_REMOTE, "server refused the session: %s", s->reply);
		goto fail;
	}
	if (!cfg->implicit) {
		/* RFC 4217 4: explicit TLS. */
		code = ftp_cmd(s, "AUTH TLS");
		if (code != 234) {
			rc = code < 0
			         ? EXIT_NETWORK
			         : fail(s, EXIT_UNTRUSTED, "server refused AUTH TLS: %s", s->reply);
			goto fail;
		}
		rc = start_control_tls(s);
		if (rc != EXIT_OK)
			goto fail;
	}
	if (cfg->accepted_fp[0] != '\0') {
		/* A later session of this run: it must be the same server. */
		char fp[65];
		if (x509_fingerprint_hex(ftp_peer_cert(s), fp) != 0 ||
		    strcmp(fp, cfg->accepted_fp) != 0) {
			rc = fail(s, EXIT_CERT_CHANGED,
			          "the server presented a different certificate on a parallel "
			          "session (sha256:%s instead of sha256:%s): possible interception",
			          fp, cfg->accepted_fp);
			goto fail;
		}
	} else if (cfg->replace_trust) {
		rc = trust_replace(cfg, s->ctl.ssl);
		if (rc != EXIT_OK) {
			s->err[0] = '\0'; /* trust.c already explained */
			goto fail;
		}
	} else {
		rc = trust_decide(cfg, s->ctl.ssl);
		if (rc != EXIT_OK) {
			s->err[0] = '\0'; /* trust.c already explained */
			goto fail;
		}
	}
	if (do_login) {
		rc = login(s);
		if (rc != EXIT_OK)
			goto fail;
	}
	return EXIT_OK;
fail:
	io_close(&s->ctl);
	return rc;
}

void ftp_close(struct ftp_session *s)
{
	if (s->ctl.fd >= 0) {
		struct timeval tv = {.tv_sec = 2};
		(void)setsockopt(s->ctl.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (ftp_cmd(s, "QUIT") >= 0 && s->ctl.ssl != NULL)
			(void)SSL_shutdown(s->ctl.ssl);
	}
	ERR_clear_error();
	io_close(&s->ctl);
}

X509 *ftp_peer_cert(struct ftp_session *s)
{
	return s->ctl.ssl ? SSL_get0_peer_certificate(s->ctl.ssl) : NULL;
}

int ftp_data_connect(struct ftp_session *s, struct ftp_data *d)
{
	memset(d, 0, sizeof(*d));
	d->io.fd = -1;
	struct sockaddr_storage addr = s->peer;
	uint16_t port = 0;
	int code = ftp_cmd(s, "EPSV");
	if (code == 229) {
		if (ftp_parse_epsv(s->reply, &port) != 0)
			return fail(s, EXIT_REMOTE, "cannot parse EPSV reply: %s", s->reply);
	} else if (code < 0) {
		return EXIT_NETWORK;
	} else {
		uint8_t ip[4];
		code = ftp_cmd(s, "PASV");
		if (code < 0)
			return EXIT_NETWORK;
		if (code != 227 || ftp_parse_pasv(s->reply, ip, &port) != 0)
			return fail(s, EXIT_REMOTE, "server offers no passive mode: %s", s->reply);
		/* The address in the reply is ignored: data goes to the control
		 * peer, which defeats NAT confusion and PASV bounce tricks. */
	}
	if (addr.ss_family == AF_INET)
		((struct sockaddr_in *)&addr)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&addr)->sin6_port = htons(port);
	d->io.fd = tcp_connect_addr((struct sockaddr *)&addr, s->peer_len, s->cfg->timeout_s);
	if (d->io.fd < 0)
		return fail(s, EXIT_NETWORK, "cannot open the data connection to port %u: %s", port,
		            strerror(errno));
	return EXIT_OK;
}

int ftp_data_start(struct ftp_session *s, struct ftp_data *d)
{
	SSL *ssl = tls_client(s, d->io.fd);
	if (ssl == NULL)
		return fail(s, EXIT_UNTRUSTED, "cannot set up TLS for data");
	/* RFC 4217 10.2 / trap 1: resume the control connection's session so the
	 * server knows this data connection comes from the same client. Fetched
	 * fresh each time: TLS 1.3 tickets arrive after the handshake. */
	SSL_SESSION *sess = SSL_get1_session(s->ctl.ssl);
	if (sess != NULL) {
		(void)SSL_set_session(ssl, sess);
		SSL_SESSION_free(sess);
	}
	int rc = handshake(s, ssl, "data");
	if (rc != EXIT_OK) {
		SSL_free(ssl);
		return rc;
	}
	d->io.ssl = ssl;
	X509 *peer = SSL_get0_peer_certificate(ssl);
	char fp[65];
	if (peer == NULL || x509_fingerprint_hex(peer, fp) != 0 ||
	    strcmp(fp, s->cfg->accepted_fp) != 0)
		return fail(s, EXIT_CERT_CHANGED,
		            "the data connection presented a different certificate than the "
		            "control connection: possible data-connection theft");
	if (s->cfg->verbose)
		fprintf(stderr, "   data TLS %s, session %s\n", SSL_get_version(ssl),
		        SSL_session_reused(ssl) ? "resumed" : "NOT resumed");
	return EXIT_OK;
}

long ftp_data_read(struct ftp_session *s, struct ftp_data *d, void *buf, size_t len)
{
	bool clean = false;
	long n = io_read(&d->io, buf, len, &clean);
	if (n == 0)
		d->clean_close = clean;
	if (n < 0)
		fail(s, EXIT_NETWORK, "data connection failed: %s",
		     errno == EAGAIN ? "timeout" : "read error");
	return n;
}

int ftp_data_write(struct ftp_session *s, struct ftp_data *d, const void *buf, size_t len)
{
	if (io_write(&d->io, buf, len) != 0)
		return fail(s, EXIT_NETWORK, "data connection failed while sending");
	return EXIT_OK;
}

void ftp_data_close(struct ftp_data *d, bool send_close_notify)
{
	if (d->io.ssl != NULL && send_close_notify) {
		/* Uploads: the server must see close_notify to know the upload is
		 * whole. Downloads: answer the server's close_notify. */
		(void)SSL_shutdown(d->io.ssl);
		if (!d->clean_close) {
			/* Wait for the server's end before closing: closing a socket
			 * with unread bytes (TLS 1.3 session tickets) makes the kernel
			 * send RST, and the server loses the tail of the upload. */
			(void)shutdown(d->io.fd, SHUT_WR);
			char sink[4096];
			for (int i = 0; i < 1024; i++) {
				if (SSL_read(d->io.ssl, sink, sizeof(sink)) <= 0)
					break;
			}
		}
	}
	ERR_clear_error();
	io_close(&d->io);
}

int ftp_list(struct ftp_session *s, const char *path, bool want_mlsd, char **out, size_t *len,
             bool *mlsd)
{
	struct ftp_data d;
	*out = NULL;
	*len = 0;
	*mlsd = want_mlsd && s->feat.mlsd;
	int rc = ftp_data_connect(s, &d);
	if (rc != EXIT_OK)
		return rc;
	int code;
	if (*mlsd)
		code = path ? ftp_cmd(s, "MLSD %s", path) : ftp_cmd(s, "MLSD");
	else
		code = path ? ftp_cmd(s, "LIST -a %s", path) : ftp_cmd(s, "LIST -a");
	if (code < 0) {
		ftp_data_close(&d, false);
		return EXIT_NETWORK;
	}
	if (code / 100 != 1) {
		ftp_data_close(&d, false);
		return fail(s, EXIT_REMOTE, "cannot list %s: %s", path ? path : ".", s->reply);
	}
	rc = ftp_data_start(s, &d);
	size_t cap = 65536, used = 0;
	char *buf = rc == EXIT_OK ? malloc(cap + 1) : NULL;
	if (rc == EXIT_OK && buf == NULL)
		rc = fail(s, EXIT_LOCAL, "out of memory");
	while (rc == EXIT_OK) {
		if (used == cap) {
			if (cap >= LISTING_MAX) {
				rc = fail(s, EXIT_REMOTE, "listing larger than 64 MiB");
				break;
			}
			char *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL) {
				rc = fail(s, EXIT_LOCAL, "out of memory");
				break;
			}
			buf = nb;
			cap *= 2;
		}
		long n = ftp_data_read(s, &d, buf + used, cap - used);
		if (n < 0)
			rc = EXIT_NETWORK;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	ftp_data_close(&d, rc == EXIT_OK && d.clean_close);
	code = ftp_read_reply(s);
	if (rc == EXIT_OK && code / 100 != 2)
		rc = code < 0 ? EXIT_NETWORK : fail(s, EXIT_REMOTE, "listing failed: %s", s->reply);
	if (rc != EXIT_OK) {
		free(buf);
		return rc;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return EXIT_OK;
}
