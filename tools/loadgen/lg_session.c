/* Kernel-socket transport of an FTPS session: the state machine is
 * lg_control.c's; here are its connections, non-blocking sockets with
 * OpenSSL on them.  Every operation either advances or stops at EAGAIN /
 * SSL_ERROR_WANT_*; sockets are registered edge-triggered for both
 * directions, so a step that stopped is re-run on the next edge. */
#include "lg_control.h"
#include "loadgen.h"

#include <errno.h>
#include <openssl/err.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct lg_session {
	struct lg_ctl ctl;
	struct lg_conn ctrl, data;
	size_t buf_len, buf_off; /* upload: pattern bytes in ctl.buf not yet sent */
};

static struct lg_session *session_of(struct lg_ctl *c)
{
	return (struct lg_session *)((char *)c - offsetof(struct lg_session, ctl));
}

static struct lg_conn *conn_of(struct lg_ctl *c, enum lg_link l)
{
	struct lg_session *s = session_of(c);
	return l == LG_LINK_CTRL ? &s->ctrl : &s->data;
}

static int fail(struct lg_session *s, enum lg_error e, const char *why)
{
	return lg_ctl_fail(&s->ctl, e, why);
}

static void conn_close(struct lg_ctl *c, enum lg_link l)
{
	struct lg_conn *conn = conn_of(c, l);
	if (conn->ssl != NULL) {
		SSL_free(conn->ssl);
		conn->ssl = NULL;
	}
	if (conn->fd >= 0) {
		/* close() removes the fd from the epoll set. */
		close(conn->fd);
		conn->fd = -1;
	}
	if (l == LG_LINK_DATA)
		session_of(c)->buf_len = session_of(c)->buf_off = 0;
}

static int tcp_open(struct lg_ctl *c, enum lg_link l, uint16_t port)
{
	struct lg_run *run = c->run;
	struct lg_conn *conn = conn_of(c, l);
	conn->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (conn->fd < 0)
		return -errno;
	if (run->opt.bind != NULL &&
	    bind(conn->fd, (const struct sockaddr *)&run->bind_addr, sizeof(run->bind_addr)) != 0)
		return -errno;
	struct sockaddr_in to = run->server;
	to.sin_port = htons(port);
	if (connect(conn->fd, (const struct sockaddr *)&to, sizeof(to)) != 0 &&
	    errno != EINPROGRESS)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = conn};
	if (epoll_ctl(run->epfd, EPOLL_CTL_ADD, conn->fd, &ev) != 0)
		return -errno;
	return 0;
}

/* 1 connected, 0 still connecting, -1 failed: a second connect() reports
 * EISCONN once the handshake is done. */
static int tcp_connected(struct lg_ctl *c, enum lg_link l)
{
	struct sockaddr_in to = c->run->server;
	to.sin_port = htons(l == LG_LINK_CTRL ? c->run->opt.port : c->data_port);
	if (connect(conn_of(c, l)->fd, (const struct sockaddr *)&to, sizeof(to)) == 0 ||
	    errno == EISCONN)
		return 1;
	if (errno == EALREADY || errno == EINPROGRESS)
		return 0;
	return -1;
}

static SSL *tls_start(struct lg_ctl *c, enum lg_link l)
{
	struct lg_conn *conn = conn_of(c, l);
	SSL *ssl = SSL_new(c->run->ctx);
	if (ssl == NULL)
		return NULL;
	if (!SSL_set_fd(ssl, conn->fd)) {
		SSL_free(ssl);
		return NULL;
	}
	if (c->run->opt.ca_file != NULL && !c->run->opt.insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		if (!X509_VERIFY_PARAM_set1_ip_asc(vp, c->run->opt.server)) {
			SSL_free(ssl);
			return NULL;
		}
	}
	SSL_set_connect_state(ssl);
	conn->ssl = ssl;
	return ssl;
}

static int tls_handshake(struct lg_ctl *c, enum lg_link l)
{
	SSL *ssl = conn_of(c, l)->ssl;
	int r = SSL_do_handshake(ssl);
	if (r == 1)
		return 1;
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	return lg_ctl_fail(c, LG_ERR_TLS,
	                   l == LG_LINK_CTRL ? "control handshake" : "data handshake");
}

static SSL *conn_ssl(struct lg_ctl *c, enum lg_link l)
{
	return conn_of(c, l)->ssl;
}

/* 1 all sent, 0 blocked, -1 error. */
static int ctrl_write(struct lg_ctl *c)
{
	struct lg_session *s = session_of(c);
	while (c->out_off < c->out_len) {
		size_t left = c->out_len - c->out_off;
		if (s->ctrl.ssl != NULL) {
			int n = SSL_write(s->ctrl.ssl, c->out + c->out_off, (int)left);
			if (n <= 0) {
				int e = SSL_get_error(s->ctrl.ssl, n);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return 0;
				return fail(s, LG_ERR_TLS, "control write");
			}
			c->out_off += (size_t)n;
		} else {
			ssize_t n = send(s->ctrl.fd, c->out + c->out_off, left, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				return fail(s, LG_ERR_CONNECT, "control send");
			}
			c->out_off += (size_t)n;
		}
	}
	return 1;
}

static int ctrl_read(struct lg_ctl *c, char *buf, size_t room)
{
	struct lg_session *s = session_of(c);
	if (s->ctrl.ssl != NULL) {
		int n = SSL_read(s->ctrl.ssl, buf, (int)room);
		if (n > 0)
			return n;
		int e = SSL_get_error(s->ctrl.ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return fail(s, LG_ERR_TLS, "control connection closed");
	}
	ssize_t n = recv(s->ctrl.fd, buf, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return fail(s, LG_ERR_CONNECT, "control connection closed");
	return (int)n;
}

/* A closed control socket shows up once the command is sent. */
static int ctrl_wait(struct lg_ctl *c)
{
	(void)c;
	return 0;
}

static int data_ready(struct lg_ctl *c)
{
	(void)c;
	return 1;
}

static int data_read(struct lg_session *s)
{
	struct lg_ctl *c = &s->ctl;
	int progress = 0;
	for (;;) {
		int n = SSL_read(s->data.ssl, c->buf, (int)LG_BUF_SIZE);
		if (n > 0) {
			if (lg_ctl_data_in(c, c->buf, (size_t)n) != 0)
				return -1;
			progress = 1;
			continue;
		}
		int e = SSL_get_error(s->data.ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return progress;
		if (e != SSL_ERROR_ZERO_RETURN) {
			unsigned long err = ERR_peek_error();
			if (ERR_GET_REASON(err) != SSL_R_UNEXPECTED_EOF_WHILE_READING)
				return fail(s, LG_ERR_DATA, "data connection lost");
			/* EOF without close_notify: counted; the size check
			 * still catches a short file. */
			c->run->errors[LG_ERR_TRUNCATED]++;
			ERR_clear_error();
		}
		return lg_ctl_data_finished(c);
	}
}

static int data_write(struct lg_session *s)
{
	struct lg_ctl *c = &s->ctl;
	int progress = 0;
	for (;;) {
		if (s->buf_off == s->buf_len) {
			uint64_t left = c->x.expect_size - c->bytes;
			if (left == 0)
				break;
			size_t n = left < LG_BUF_SIZE ? (size_t)left : LG_BUF_SIZE;
			if (lg_ctl_fill(c, n) != 0)
				return -1;
			s->buf_len = n;
			s->buf_off = 0;
		}
		int n = SSL_write(s->data.ssl, c->buf + s->buf_off, (int)(s->buf_len - s->buf_off));
		if (n <= 0) {
			int e = SSL_get_error(s->data.ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return progress;
			return fail(s, LG_ERR_DATA, "data connection lost while sending");
		}
		s->buf_off += (size_t)n;
		c->bytes += (uint64_t)n;
		progress = 1;
	}
	/* All sent: close_notify, then FIN; the server's answer is drained. */
	int r = SSL_shutdown(s->data.ssl);
	if (r < 0) {
		int e = SSL_get_error(s->data.ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return progress;
		return fail(s, LG_ERR_DATA, "close_notify not sent");
	}
	if (shutdown(s->data.fd, SHUT_WR) != 0)
		return fail(s, LG_ERR_DATA, "shutdown");
	c->ds = LG_D_DRAIN;
	return 1;
}

static int data_xfer(struct lg_ctl *c)
{
	struct lg_session *s = session_of(c);
	return c->x.op == LG_OP_STOR ? data_write(s) : data_read(s);
}

static int data_drain(struct lg_ctl *c)
{
	struct lg_session *s = session_of(c);
	for (;;) {
		int n = SSL_read(s->data.ssl, c->buf, (int)LG_BUF_SIZE);
		if (n > 0)
			continue;
		int e = SSL_get_error(s->data.ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		/* close_notify, EOF or reset: the upload's fate is in the reply. */
		ERR_clear_error();
		return lg_ctl_data_finished(c);
	}
}

static const struct lg_ctl_ops kernel_ops = {
    .name = "ftps-loadgen",
    .open = tcp_open,
    .connected = tcp_connected,
    .tls_start = tls_start,
    .handshake = tls_handshake,
    .ssl = conn_ssl,
    .close = conn_close,
    .ctrl_write = ctrl_write,
    .ctrl_read = ctrl_read,
    .ctrl_wait = ctrl_wait,
    .data_ready = data_ready,
    .data_xfer = data_xfer,
    .data_drain = data_drain,
};

void lg_session_drive(struct lg_session *s)
{
	for (;;) {
		int r = lg_ctl_step(&s->ctl);
		if (r <= 0)
			return;
		s->ctl.last_activity = lg_now();
	}
}

struct lg_session *lg_session_start(struct lg_run *run, int id)
{
	struct lg_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->ctrl.fd = s->data.fd = -1;
	s->ctrl.s = s->data.s = s;
	lg_ctl_start(&s->ctl, run, id, &kernel_ops);
	return s;
}

void lg_session_check_timeout(struct lg_session *s, double now)
{
	lg_ctl_check_timeout(&s->ctl, now);
}

int lg_session_finished(const struct lg_session *s)
{
	return s->ctl.cs == LG_C_DONE;
}

void lg_session_free(struct lg_session *s)
{
	if (s == NULL)
		return;
	lg_ctl_release(&s->ctl);
	free(s);
}
