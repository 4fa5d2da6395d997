/* The control-session state machine both load generator modes share (see
 * lg_control.h).  It decides, the transport (struct lg_ctl_ops) moves bytes:
 * every step either advances or stops because a connection has to wait,
 * and the transport runs steps again on its next event. */
#include "lg_control.h"
#include "lg_ftp.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Closes the data connection and drops the transfer's hash. */
static void data_reset(struct lg_ctl *c)
{
	c->ops->close(c, LG_LINK_DATA);
	c->ds = LG_D_NONE;
	if (c->md != NULL) {
		EVP_MD_CTX_free(c->md);
		c->md = NULL;
	}
}

static void start_next(struct lg_ctl *c);

/* The last login has ended (done or failed): the waiting sessions start
 * together, and --duration counts from now. */
static void release_ready_sessions(struct lg_run *run)
{
	if (run->logging_in > 0)
		return;
	run->t_logins_end = lg_now();
	double t_end_new = run->t_logins_end + run->opt.duration;
	struct lg_ctl *c = run->ready;
	run->ready = NULL;
	while (c != NULL) {
		struct lg_ctl *next = c->next_ready;
		c->next_ready = NULL;
		if (c->cs == LG_C_READY) {
			c->t_end_new = t_end_new;
			start_next(c);
			run->kick = 1;
		}
		c = next;
	}
}

int lg_ctl_fail(struct lg_ctl *c, enum lg_error e, const char *why)
{
	if (c->cs != LG_C_DONE) {
		bool was_logging_in = c->cs < LG_C_READY;
		c->run->errors[e]++;
		if (!c->run->opt.json || getenv("LG_DEBUG") != NULL)
			fprintf(stderr, "%s: session %d: %s error: %s\n", c->ops->name, c->id,
			        lg_error_name(e), why);
		data_reset(c);
		c->ops->close(c, LG_LINK_CTRL);
		c->cs = LG_C_DONE;
		c->run->live_sessions--;
		if (was_logging_in) {
			c->run->logging_in--;
			release_ready_sessions(c->run);
		}
	}
	ERR_clear_error();
	return -1;
}

/* Queues a command (CRLF added) and moves to the state awaiting its reply. */
static void ctrl_send(struct lg_ctl *c, enum lg_cstate next, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->out, sizeof(c->out) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->out) - 2)
		n = 0; /* names are bounded well below this */
	memcpy(c->out + n, "\r\n", 2);
	c->out_len = (size_t)n + 2;
	c->out_off = 0;
	c->cs = next;
}

/* 1 a reply is ready in c->reply_code, 0 waiting, -1 failed. */
static int read_reply(struct lg_ctl *c)
{
	for (;;) {
		int r = lg_reply_take(c->in, &c->in_len, sizeof(c->in), &c->reply_code,
		                      c->reply_line, sizeof(c->reply_line));
		if (r < 0)
			return lg_ctl_fail(c, LG_ERR_PROTOCOL, "malformed reply");
		if (r > 0)
			return 1;
		int n = c->ops->ctrl_read(c, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n <= 0)
			return n;
		c->in_len += (size_t)n;
	}
}

static int finish_op(struct lg_ctl *c)
{
	enum lg_error err = LG_ERR_PROTOCOL;
	const char *why = "";
	if (lg_finish_transfer(c->run, &c->x, c->bytes, c->md, c->t_op, &err, &why) != 0)
		return lg_ctl_fail(c, err, why);
	data_reset(c);
	start_next(c);
	return 1;
}

/* Plans the next transfer and sends its EPSV, or QUIT when none is left. */
static void start_next(struct lg_ctl *c)
{
	struct lg_run *run = c->run;
	int r =
	    lg_plan_next(run, c->id, &c->seq, &c->small_retr_next, c->t_end_new, c->pattern, &c->x);
	if (r < 0) {
		lg_ctl_fail(c, LG_ERR_PROTOCOL, "SHA-256 failed");
		return;
	}
	if (r == 0) {
		ctrl_send(c, LG_C_QUIT, "QUIT");
		return;
	}
	c->bytes = 0;
	c->ctrl_done = c->data_done = c->first_byte_seen = c->clean_close = 0;
	if (!run->opt.no_verify && c->x.op != LG_OP_LIST) {
		c->md = EVP_MD_CTX_new();
		if (c->md == NULL || !EVP_DigestInit_ex(c->md, EVP_sha256(), NULL)) {
			lg_ctl_fail(c, LG_ERR_PROTOCOL, "SHA-256 init failed");
			return;
		}
	}
	c->t_op = lg_now();
	if (run->t_first_op == 0)
		run->t_first_op = c->t_op;
	ctrl_send(c, LG_C_EPSV, "EPSV");
}

int lg_ctl_data_finished(struct lg_ctl *c)
{
	c->ops->close(c, LG_LINK_DATA);
	c->ds = LG_D_NONE;
	c->data_done = 1;
	return c->ctrl_done ? finish_op(c) : 1;
}

static int on_reply(struct lg_ctl *c)
{
	struct lg_run *run = c->run;
	int code = c->reply_code;
	switch (c->cs) {
	case LG_C_BANNER:
		if (code != 220)
			break;
		ctrl_send(c, LG_C_AUTH, "AUTH TLS");
		return 1;
	case LG_C_AUTH:
		if (code != 234)
			break;
		if (c->in_len != 0)
			return lg_ctl_fail(c, LG_ERR_PROTOCOL, "data after 234");
		if (c->ops->tls_start(c, LG_LINK_CTRL) == NULL)
			return lg_ctl_fail(c, LG_ERR_TLS, "SSL_new");
		c->cs = LG_C_HANDSHAKE;
		c->t_handshake = lg_now();
		return 1;
	case LG_C_USER:
		if (code == 230) {
			ctrl_send(c, LG_C_PBSZ, "PBSZ 0");
			return 1;
		}
		if (code != 331)
			break;
		ctrl_send(c, LG_C_PASS, "PASS %s", run->opt.password);
		return 1;
	case LG_C_PASS:
		if (code != 230)
			break;
		ctrl_send(c, LG_C_PBSZ, "PBSZ 0");
		return 1;
	case LG_C_PBSZ:
		if (code != 200)
			break;
		ctrl_send(c, LG_C_PROT, "PROT P");
		return 1;
	case LG_C_PROT:
		if (code != 200)
			break;
		ctrl_send(c, LG_C_TYPE, "TYPE I");
		return 1;
	case LG_C_TYPE:
		if (code != 200)
			break;
		/* Replies have been read since the handshake, so a TLS 1.3
		 * server's tickets have arrived: this session resumes. */
		c->tls_session = SSL_get1_session(c->ops->ssl(c, LG_LINK_CTRL));
		if (c->tls_session == NULL)
			return lg_ctl_fail(c, LG_ERR_TLS, "no TLS session to resume");
		c->cs = LG_C_READY;
		c->next_ready = run->ready;
		run->ready = c;
		run->logging_in--;
		release_ready_sessions(run);
		return 1;
	case LG_C_EPSV: {
		uint16_t port = 0;
		if (code != 229)
			break;
		if (lg_parse_epsv(c->reply_line, &port) != 0)
			return lg_ctl_fail(c, LG_ERR_PROTOCOL, "bad EPSV reply");
		c->t_connect = lg_now();
		if (c->ops->open(c, LG_LINK_DATA, port) != 0)
			return lg_ctl_fail(c, LG_ERR_CONNECT, "data connect");
		c->data_port = port;
		c->ds = LG_D_CONNECTING;
		c->cs = LG_C_XFER_CMD; /* the command goes out once connected */
		c->out_len = c->out_off = 0;
		return 1;
	}
	case LG_C_XFER_CMD:
		if (code == 226 || code == 250) {
			/* A short transfer can finish before we look at 150. */
			c->ctrl_done = 1;
			c->cs = LG_C_XFER_END;
			return c->data_done ? finish_op(c) : 1;
		}
		if (code != 150 && code != 125)
			break;
		if (c->x.op == LG_OP_STOR && !c->first_byte_seen) {
			c->first_byte_seen = 1;
			lg_hist_add(&run->lat_first_byte, lg_now() - c->t_cmd);
		}
		c->cs = LG_C_XFER_END;
		return 1;
	case LG_C_XFER_END:
		if (code != 226 && code != 250)
			break;
		c->ctrl_done = 1;
		return c->data_done ? finish_op(c) : 1;
	case LG_C_QUIT:
		c->ops->close(c, LG_LINK_CTRL);
		c->cs = LG_C_DONE;
		run->live_sessions--;
		return 1;
	default:
		break;
	}
	char why[300];
	snprintf(why, sizeof(why), "unexpected reply: %s", c->reply_line);
	size_t l = strlen(why);
	while (l > 0 && (why[l - 1] == '\n' || why[l - 1] == '\r'))
		why[--l] = '\0';
	return lg_ctl_fail(c, LG_ERR_REPLY, why);
}

static int step_ctrl(struct lg_ctl *c)
{
	struct lg_run *run = c->run;
	const struct lg_ctl_ops *ops = c->ops;
	switch (c->cs) {
	case LG_C_DONE:
		return 0;
	case LG_C_CONNECTING: {
		int r = ops->connected(c, LG_LINK_CTRL);
		if (r < 0)
			return lg_ctl_fail(c, LG_ERR_CONNECT, "control connect");
		if (r == 0)
			return 0;
		lg_hist_add(&run->lat_connect, lg_now() - c->t_connect);
		c->cs = LG_C_BANNER;
		return 1;
	}
	case LG_C_HANDSHAKE: {
		int r = ops->handshake(c, LG_LINK_CTRL);
		if (r <= 0)
			return r;
		lg_hist_add(&run->lat_handshake, lg_now() - c->t_handshake);
		ctrl_send(c, LG_C_USER, "USER %s", run->opt.user);
		return 1;
	}
	default:
		break;
	}
	if (c->cs == LG_C_XFER_CMD && c->ds == LG_D_CONNECTING)
		return ops->ctrl_wait(c); /* the command goes out once the data link is up */
	int progress = 0;
	int pending = c->out_off < c->out_len;
	int r = ops->ctrl_write(c);
	if (r < 0)
		return -1;
	if (pending) {
		if (r == 0)
			return 0;
		progress = 1;
		if (c->cs == LG_C_XFER_CMD)
			c->t_cmd = lg_now();
	}
	r = read_reply(c);
	if (r < 0)
		return r;
	if (r == 0)
		return progress;
	return on_reply(c) < 0 ? -1 : 1;
}

/* Data connection up: TLS resuming a copy of the control session, and the
 * transfer command goes out. */
static int data_connected(struct lg_ctl *c)
{
	lg_hist_add(&c->run->lat_connect, lg_now() - c->t_connect);
	SSL *ssl = c->ops->tls_start(c, LG_LINK_DATA);
	if (ssl == NULL)
		return lg_ctl_fail(c, LG_ERR_TLS, "data SSL_new");
	/* OpenSSL marks a TLS 1.3 session used by a connection as no longer
	 * resumable; each data connection gets its own copy of the control
	 * session (the server's tickets are reusable). */
	SSL_SESSION *copy = SSL_SESSION_dup(c->tls_session);
	int ok = copy != NULL && SSL_set_session(ssl, copy);
	SSL_SESSION_free(copy); /* the SSL holds its own reference */
	if (!ok)
		return lg_ctl_fail(c, LG_ERR_TLS, "data SSL_set_session");
	if (c->x.op == LG_OP_LIST)
		ctrl_send(c, LG_C_XFER_CMD, "LIST");
	else
		ctrl_send(c, LG_C_XFER_CMD, "%s %s", c->x.op == LG_OP_RETR ? "RETR" : "STOR",
		          c->x.name);
	c->t_cmd = lg_now();
	c->t_handshake = c->t_cmd;
	c->ds = LG_D_HANDSHAKE;
	return 1;
}

static int step_data(struct lg_ctl *c)
{
	struct lg_run *run = c->run;
	const struct lg_ctl_ops *ops = c->ops;
	switch (c->ds) {
	case LG_D_NONE:
		return 0;
	case LG_D_CONNECTING: {
		int r = ops->connected(c, LG_LINK_DATA);
		if (r < 0)
			return lg_ctl_fail(c, LG_ERR_CONNECT, "data connect");
		if (r == 0)
			return 0;
		return data_connected(c);
	}
	case LG_D_HANDSHAKE: {
		int r = ops->handshake(c, LG_LINK_DATA);
		if (r <= 0)
			return r;
		lg_hist_add(&run->lat_handshake, lg_now() - c->t_handshake);
		SSL *ssl = ops->ssl(c, LG_LINK_DATA);
		if (SSL_session_reused(ssl))
			run->resumed++;
		else
			run->not_resumed++;
		if (SSL_version(ssl) == TLS1_3_VERSION)
			run->data_tls13++;
		else
			run->data_tls12++;
		c->ds = LG_D_XFER;
		return ops->data_ready(c);
	}
	case LG_D_XFER:
		return ops->data_xfer(c);
	case LG_D_DRAIN:
		return ops->data_drain(c);
	}
	return 0;
}

int lg_ctl_step(struct lg_ctl *c)
{
	int p = step_ctrl(c);
	if (p < 0)
		return -1;
	int q = step_data(c);
	if (q < 0)
		return -1;
	return p > 0 || q > 0;
}

int lg_ctl_data_in(struct lg_ctl *c, const void *p, size_t n)
{
	if (!c->first_byte_seen) {
		c->first_byte_seen = 1;
		lg_hist_add(&c->run->lat_first_byte, lg_now() - c->t_cmd);
	}
	c->bytes += (uint64_t)n;
	if (c->md != NULL && !EVP_DigestUpdate(c->md, p, n))
		return lg_ctl_fail(c, LG_ERR_PROTOCOL, "SHA-256 update");
	return 0;
}

int lg_ctl_fill(struct lg_ctl *c, size_t n)
{
	lg_pattern_fill(c->pattern, c->bytes, c->buf, n);
	if (c->md != NULL && !EVP_DigestUpdate(c->md, c->buf, n))
		return lg_ctl_fail(c, LG_ERR_PROTOCOL, "SHA-256 update");
	return 0;
}

void lg_ctl_start(struct lg_ctl *c, struct lg_run *run, int id, const struct lg_ctl_ops *ops)
{
	c->id = id;
	c->run = run;
	c->ops = ops;
	c->pattern = malloc(sizeof(*c->pattern));
	c->buf = malloc(LG_BUF_SIZE);
	run->live_sessions++;
	run->logging_in++;
	c->cs = LG_C_CONNECTING;
	c->t_connect = c->last_activity = lg_now();
	if (c->pattern == NULL || c->buf == NULL) {
		lg_ctl_fail(c, LG_ERR_CONNECT, "out of memory");
		return;
	}
	int r = ops->open(c, LG_LINK_CTRL, run->opt.port);
	if (r != 0)
		lg_ctl_fail(c, LG_ERR_CONNECT, strerror(-r));
}

void lg_ctl_check_timeout(struct lg_ctl *c, double now)
{
	/* A session waiting for the others' logins is idle by design; the
	 * ones still logging in time out on their own. */
	if (c->cs != LG_C_DONE && c->cs != LG_C_READY &&
	    now - c->last_activity > c->run->opt.idle_timeout)
		lg_ctl_fail(c, LG_ERR_TIMEOUT, "no progress");
}

void lg_ctl_release(struct lg_ctl *c)
{
	data_reset(c);
	c->ops->close(c, LG_LINK_CTRL);
	SSL_SESSION_free(c->tls_session);
	free(c->pattern);
	free(c->buf);
}
