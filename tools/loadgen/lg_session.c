/* One FTPS control session and its data connections, as a state machine
 * driven by readiness: every step either advances or stops at EAGAIN /
 * SSL_ERROR_WANT_*; sockets are registered edge-triggered for both
 * directions, so a step that stopped is re-run on the next edge. */
#include "loadgen.h"
#include "lg_ftp.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_close(struct lg_session *s, struct lg_conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		/* close() removes the fd from the epoll set. */
		close(c->fd);
		c->fd = -1;
	}
	(void)s;
}

static void data_reset(struct lg_session *s)
{
	conn_close(s, &s->data);
	s->ds = LG_D_NONE;
	if (s->md != NULL) {
		EVP_MD_CTX_free(s->md);
		s->md = NULL;
	}
}

/* Counts the error once and ends the session (closing both connections). */
static int fail(struct lg_session *s, enum lg_error e, const char *why)
{
	if (s->cs != LG_C_DONE) {
		s->run->errors[e]++;
		if (!s->run->opt.json || getenv("LG_DEBUG") != NULL)
			fprintf(stderr, "ftps-loadgen: session %d: %s error: %s\n", s->id,
			        lg_error_name(e), why);
		data_reset(s);
		conn_close(s, &s->ctrl);
		s->cs = LG_C_DONE;
		s->run->live_sessions--;
	}
	ERR_clear_error();
	return -1;
}

static int tcp_open(struct lg_session *s, struct lg_conn *c, uint16_t port)
{
	struct lg_run *run = s->run;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (run->opt.bind != NULL &&
	    bind(c->fd, (const struct sockaddr *)&run->bind_addr, sizeof(run->bind_addr)) != 0)
		return -1;
	struct sockaddr_in to = run->server;
	to.sin_port = htons(port);
	if (connect(c->fd, (const struct sockaddr *)&to, sizeof(to)) != 0 && errno != EINPROGRESS)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
	return epoll_ctl(run->epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* 1 connected, 0 still connecting, -1 failed: a second connect() reports
 * EISCONN once the handshake is done. */
static int tcp_connected(struct lg_session *s, struct lg_conn *c, uint16_t port)
{
	struct sockaddr_in to = s->run->server;
	to.sin_port = htons(port);
	if (connect(c->fd, (const struct sockaddr *)&to, sizeof(to)) == 0 || errno == EISCONN)
		return 1;
	if (errno == EALREADY || errno == EINPROGRESS)
		return 0;
	return -1;
}

static void ctrl_send(struct lg_session *s, enum lg_cstate next, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->out, sizeof(s->out) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(s->out) - 2)
		n = 0; /* names are bounded well below this */
	memcpy(s->out + n, "\r\n", 2);
	s->out_len = (size_t)n + 2;
	s->out_off = 0;
	s->cs = next;
}

/* 1 all sent, 0 blocked, -1 error. */
static int ctrl_flush(struct lg_session *s)
{
	while (s->out_off < s->out_len) {
		size_t left = s->out_len - s->out_off;
		if (s->ctrl.ssl != NULL) {
			int n = SSL_write(s->ctrl.ssl, s->out + s->out_off, (int)left);
			if (n <= 0) {
				int e = SSL_get_error(s->ctrl.ssl, n);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return 0;
				return fail(s, LG_ERR_TLS, "control write");
			}
			s->out_off += (size_t)n;
		} else {
			ssize_t n = send(s->ctrl.fd, s->out + s->out_off, left, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				return fail(s, LG_ERR_CONNECT, "control send");
			}
			s->out_off += (size_t)n;
		}
	}
	return 1;
}

/* Takes one complete reply out of the input buffer: 1 found, 0 need more. */
static int ctrl_parse(struct lg_session *s)
{
	return lg_reply_take(s->in, &s->in_len, sizeof(s->in), &s->reply_code, s->reply_line,
	                     sizeof(s->reply_line));
}

/* 1 a reply is ready in s->reply_code, 0 blocked, -1 error. */
static int ctrl_read(struct lg_session *s)
{
	for (;;) {
		int r = ctrl_parse(s);
		if (r < 0)
			return fail(s, LG_ERR_PROTOCOL, "malformed reply");
		if (r > 0)
			return 1;
		size_t room = sizeof(s->in) - s->in_len;
		if (s->ctrl.ssl != NULL) {
			int n = SSL_read(s->ctrl.ssl, s->in + s->in_len, (int)room);
			if (n <= 0) {
				int e = SSL_get_error(s->ctrl.ssl, n);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return 0;
				return fail(s, LG_ERR_TLS, "control connection closed");
			}
			s->in_len += (size_t)n;
		} else {
			ssize_t n = recv(s->ctrl.fd, s->in + s->in_len, room, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n <= 0)
				return fail(s, LG_ERR_CONNECT, "control connection closed");
			s->in_len += (size_t)n;
		}
	}
}

static SSL *tls_new(struct lg_session *s, int fd)
{
	SSL *ssl = SSL_new(s->run->ctx);
	if (ssl == NULL)
		return NULL;
	if (!SSL_set_fd(ssl, fd)) {
		SSL_free(ssl);
		return NULL;
	}
	if (s->run->opt.ca_file != NULL && !s->run->opt.insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		if (!X509_VERIFY_PARAM_set1_ip_asc(vp, s->run->opt.server)) {
			SSL_free(ssl);
			return NULL;
		}
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

static void start_next(struct lg_session *s);

static int finish_op(struct lg_session *s)
{
	enum lg_error err = LG_ERR_PROTOCOL;
	const char *why = "";
	if (lg_finish_transfer(s->run, &s->x, s->bytes, s->md, s->t_op, &err, &why) != 0)
		return fail(s, err, why);
	data_reset(s);
	start_next(s);
	return 1;
}

static void start_next(struct lg_session *s)
{
	struct lg_run *run = s->run;
	int r =
	    lg_plan_next(run, s->id, &s->seq, &s->small_retr_next, s->t_end_new, s->pattern, &s->x);
	if (r < 0) {
		fail(s, LG_ERR_PROTOCOL, "SHA-256 failed");
		return;
	}
	if (r == 0) {
		ctrl_send(s, LG_C_QUIT, "QUIT");
		return;
	}
	s->bytes = 0;
	s->ctrl_done = s->data_done = s->first_byte_seen = s->clean_close = 0;
	s->buf_len = s->buf_off = 0;
	if (!run->opt.no_verify && s->x.op != LG_OP_LIST) {
		s->md = EVP_MD_CTX_new();
		if (s->md == NULL || !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL)) {
			fail(s, LG_ERR_PROTOCOL, "SHA-256 init failed");
			return;
		}
	}
	s->t_op = lg_now();
	if (run->t_first_op == 0)
		run->t_first_op = s->t_op;
	ctrl_send(s, LG_C_EPSV, "EPSV");
}

static int on_reply(struct lg_session *s)
{
	struct lg_run *run = s->run;
	int code = s->reply_code;
	switch (s->cs) {
	case LG_C_BANNER:
		if (code != 220)
			break;
		ctrl_send(s, LG_C_AUTH, "AUTH TLS");
		return 1;
	case LG_C_AUTH:
		if (code != 234)
			break;
		if (s->in_len != 0)
			return fail(s, LG_ERR_PROTOCOL, "data after 234");
		s->ctrl.ssl = tls_new(s, s->ctrl.fd);
		if (s->ctrl.ssl == NULL)
			return fail(s, LG_ERR_TLS, "SSL_new");
		s->cs = LG_C_HANDSHAKE;
		s->t_handshake = lg_now();
		return 1;
	case LG_C_USER:
		if (code == 230) {
			ctrl_send(s, LG_C_PBSZ, "PBSZ 0");
			return 1;
		}
		if (code != 331)
			break;
		ctrl_send(s, LG_C_PASS, "PASS %s", run->opt.password);
		return 1;
	case LG_C_PASS:
		if (code != 230)
			break;
		ctrl_send(s, LG_C_PBSZ, "PBSZ 0");
		return 1;
	case LG_C_PBSZ:
		if (code != 200)
			break;
		ctrl_send(s, LG_C_PROT, "PROT P");
		return 1;
	case LG_C_PROT:
		if (code != 200)
			break;
		ctrl_send(s, LG_C_TYPE, "TYPE I");
		return 1;
	case LG_C_TYPE:
		if (code != 200)
			break;
		/* Replies have been read since the handshake, so a TLS 1.3
		 * server's tickets have arrived: this session resumes. */
		s->tls_session = SSL_get1_session(s->ctrl.ssl);
		if (s->tls_session == NULL)
			return fail(s, LG_ERR_TLS, "no TLS session to resume");
		/* --duration counts from each session's login. */
		s->t_end_new = lg_now() + run->opt.duration;
		start_next(s);
		return 1;
	case LG_C_EPSV: {
		uint16_t port = 0;
		if (code != 229)
			break;
		if (lg_parse_epsv(s->reply_line, &port) != 0)
			return fail(s, LG_ERR_PROTOCOL, "bad EPSV reply");
		s->t_connect = lg_now();
		if (tcp_open(s, &s->data, port) != 0)
			return fail(s, LG_ERR_CONNECT, "data connect");
		s->data_port = port;
		s->ds = LG_D_CONNECTING;
		s->cs = LG_C_XFER_CMD; /* the command goes out once connected */
		s->out_len = s->out_off = 0;
		return 1;
	}
	case LG_C_XFER_CMD:
		if (code == 226 || code == 250) {
			/* A short transfer can finish before we look at 150. */
			s->ctrl_done = 1;
			s->cs = LG_C_XFER_END;
			return s->data_done ? finish_op(s) : 1;
		}
		if (code != 150 && code != 125)
			break;
		if (s->x.op == LG_OP_STOR && !s->first_byte_seen) {
			s->first_byte_seen = 1;
			lg_hist_add(&run->lat_first_byte, lg_now() - s->t_cmd);
		}
		s->cs = LG_C_XFER_END;
		return 1;
	case LG_C_XFER_END:
		if (code != 226 && code != 250)
			break;
		s->ctrl_done = 1;
		return s->data_done ? finish_op(s) : 1;
	case LG_C_QUIT:
		conn_close(s, &s->ctrl);
		s->cs = LG_C_DONE;
		run->live_sessions--;
		return 1;
	default:
		break;
	}
	char why[300];
	snprintf(why, sizeof(why), "unexpected reply: %s", s->reply_line);
	size_t l = strlen(why);
	while (l > 0 && (why[l - 1] == '\n' || why[l - 1] == '\r'))
		why[--l] = '\0';
	return fail(s, LG_ERR_REPLY, why);
}

static int step_ctrl(struct lg_session *s)
{
	struct lg_run *run = s->run;
	int progress = 0;
	switch (s->cs) {
	case LG_C_DONE:
		return 0;
	case LG_C_CONNECTING: {
		int r = tcp_connected(s, &s->ctrl, run->opt.port);
		if (r < 0)
			return fail(s, LG_ERR_CONNECT, "control connect");
		if (r == 0)
			return 0;
		lg_hist_add(&run->lat_connect, lg_now() - s->t_connect);
		s->cs = LG_C_BANNER;
		return 1;
	}
	case LG_C_HANDSHAKE: {
		int r = SSL_do_handshake(s->ctrl.ssl);
		if (r != 1) {
			int e = SSL_get_error(s->ctrl.ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			return fail(s, LG_ERR_TLS, "control handshake");
		}
		lg_hist_add(&run->lat_handshake, lg_now() - s->t_handshake);
		ctrl_send(s, LG_C_USER, "USER %s", run->opt.user);
		return 1;
	}
	default:
		break;
	}
	if (s->out_off < s->out_len) {
		int r = ctrl_flush(s);
		if (r <= 0)
			return r;
		progress = 1;
		if (s->cs == LG_C_XFER_CMD)
			s->t_cmd = lg_now();
	}
	if (s->cs == LG_C_XFER_CMD && s->ds == LG_D_CONNECTING)
		return progress; /* the command goes out once the data link is up */
	int r = ctrl_read(s);
	if (r < 0)
		return r;
	if (r == 0)
		return progress;
	return on_reply(s) < 0 ? -1 : 1;
}

static int data_finished(struct lg_session *s)
{
	conn_close(s, &s->data);
	s->ds = LG_D_NONE;
	s->data_done = 1;
	return s->ctrl_done ? finish_op(s) : 1;
}

static int data_read(struct lg_session *s)
{
	struct lg_run *run = s->run;
	int progress = 0;
	for (;;) {
		int n = SSL_read(s->data.ssl, s->buf, (int)LG_BUF_SIZE);
		if (n > 0) {
			if (!s->first_byte_seen) {
				s->first_byte_seen = 1;
				lg_hist_add(&run->lat_first_byte, lg_now() - s->t_cmd);
			}
			s->bytes += (uint64_t)n;
			if (s->md != NULL && !EVP_DigestUpdate(s->md, s->buf, (size_t)n))
				return fail(s, LG_ERR_PROTOCOL, "SHA-256 update");
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
			/* EOF without close_notify: counted; the size check below
			 * still catches a short file. */
			run->errors[LG_ERR_TRUNCATED]++;
			ERR_clear_error();
		}
		return data_finished(s);
	}
}

static int data_write(struct lg_session *s)
{
	int progress = 0;
	for (;;) {
		if (s->buf_off == s->buf_len) {
			uint64_t left = s->x.expect_size - s->bytes;
			if (left == 0)
				break;
			size_t n = left < LG_BUF_SIZE ? (size_t)left : LG_BUF_SIZE;
			lg_pattern_fill(s->pattern, s->bytes, s->buf, n);
			if (s->md != NULL && !EVP_DigestUpdate(s->md, s->buf, n))
				return fail(s, LG_ERR_PROTOCOL, "SHA-256 update");
			s->buf_len = n;
			s->buf_off = 0;
		}
		int n = SSL_write(s->data.ssl, s->buf + s->buf_off, (int)(s->buf_len - s->buf_off));
		if (n <= 0) {
			int e = SSL_get_error(s->data.ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return progress;
			return fail(s, LG_ERR_DATA, "data connection lost while sending");
		}
		s->buf_off += (size_t)n;
		s->bytes += (uint64_t)n;
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
	s->ds = LG_D_DRAIN;
	return 1;
}

static int data_drain(struct lg_session *s)
{
	for (;;) {
		int n = SSL_read(s->data.ssl, s->buf, (int)LG_BUF_SIZE);
		if (n > 0)
			continue;
		int e = SSL_get_error(s->data.ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		/* close_notify, EOF or reset: the upload's fate is in the reply. */
		ERR_clear_error();
		return data_finished(s);
	}
}

static int step_data(struct lg_session *s)
{
	struct lg_run *run = s->run;
	switch (s->ds) {
	case LG_D_NONE:
		return 0;
	case LG_D_CONNECTING: {
		int r = tcp_connected(s, &s->data, s->data_port);
		if (r < 0)
			return fail(s, LG_ERR_CONNECT, "data connect");
		if (r == 0)
			return 0;
		lg_hist_add(&run->lat_connect, lg_now() - s->t_connect);
		s->data.ssl = tls_new(s, s->data.fd);
		/* OpenSSL marks a TLS 1.3 session used by a connection as no
		 * longer resumable; each data connection gets its own copy of
		 * the control session (the server's tickets are reusable). */
		SSL_SESSION *copy = SSL_SESSION_dup(s->tls_session);
		int ok = s->data.ssl != NULL && copy != NULL && SSL_set_session(s->data.ssl, copy);
		SSL_SESSION_free(copy); /* the SSL holds its own reference */
		if (!ok)
			return fail(s, LG_ERR_TLS, "data SSL_new");
		if (s->x.op == LG_OP_LIST)
			ctrl_send(s, LG_C_XFER_CMD, "LIST");
		else
			ctrl_send(s, LG_C_XFER_CMD, "%s %s",
			          s->x.op == LG_OP_RETR ? "RETR" : "STOR", s->x.name);
		s->t_cmd = lg_now();
		s->t_handshake = s->t_cmd;
		s->ds = LG_D_HANDSHAKE;
		return 1;
	}
	case LG_D_HANDSHAKE: {
		int r = SSL_do_handshake(s->data.ssl);
		if (r != 1) {
			int e = SSL_get_error(s->data.ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			return fail(s, LG_ERR_TLS, "data handshake");
		}
		lg_hist_add(&run->lat_handshake, lg_now() - s->t_handshake);
		if (SSL_session_reused(s->data.ssl))
			run->resumed++;
		else
			run->not_resumed++;
		s->ds = LG_D_XFER;
		return 1;
	}
	case LG_D_XFER:
		return s->x.op == LG_OP_STOR ? data_write(s) : data_read(s);
	case LG_D_DRAIN:
		return data_drain(s);
	}
	return 0;
}

void lg_session_drive(struct lg_session *s)
{
	for (;;) {
		int p = step_ctrl(s);
		if (p < 0)
			return;
		int q = step_data(s);
		if (q < 0)
			return;
		if (p == 0 && q == 0)
			return;
		s->last_activity = lg_now();
	}
}

struct lg_session *lg_session_start(struct lg_run *run, int id)
{
	struct lg_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->id = id;
	s->run = run;
	s->ctrl.fd = s->data.fd = -1;
	s->ctrl.s = s->data.s = s;
	s->pattern = malloc(sizeof(*s->pattern));
	s->buf = malloc(LG_BUF_SIZE);
	run->live_sessions++;
	s->cs = LG_C_CONNECTING;
	s->t_connect = s->last_activity = lg_now();
	if (s->pattern == NULL || s->buf == NULL)
		fail(s, LG_ERR_CONNECT, "out of memory");
	else if (tcp_open(s, &s->ctrl, run->opt.port) != 0)
		fail(s, LG_ERR_CONNECT, strerror(errno));
	return s;
}

void lg_session_check_timeout(struct lg_session *s, double now)
{
	if (s->cs != LG_C_DONE && now - s->last_activity > s->run->opt.idle_timeout)
		fail(s, LG_ERR_TIMEOUT, "no progress");
}

int lg_session_finished(const struct lg_session *s)
{
	return s->cs == LG_C_DONE;
}

void lg_session_free(struct lg_session *s)
{
	if (s == NULL)
		return;
	data_reset(s);
	conn_close(s, &s->ctrl);
	SSL_SESSION_free(s->tls_session);
	free(s->pattern);
	free(s->buf);
	free(s);
}
