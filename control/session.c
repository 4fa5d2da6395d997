#include "session.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "evloop.h"
#include "log.h"

#define IN_MAX      (64u * 1024u)
#define TLS_BACKLOG (256u * 1024u) /* encrypted input not yet read */

static struct session *sessions;
static struct session *zombies; /* closed, freed at the next reap */
static unsigned n_sessions;
static uint64_t next_sid = 1;

static void ctrl_on_data(void *owner, struct rconn *c, const uint8_t *p, size_t n);
static void ctrl_on_fin(void *owner, struct rconn *c);
static void ctrl_on_reset(void *owner, struct rconn *c);

static const struct rconn_ops ctrl_ops = {
    .on_data = ctrl_on_data,
    .on_fin = ctrl_on_fin,
    .on_reset = ctrl_on_reset,
};

static void addr_to_str(const struct ftps_ipc_addr *a, char *out, size_t cap)
{
	if (a->family == FTPS_IPC_AF_INET) {
		if (inet_ntop(AF_INET, a->bytes, out, (socklen_t)cap) == NULL)
			snprintf(out, cap, "?");
	} else if (a->family == FTPS_IPC_AF_INET6) {
		if (inet_ntop(AF_INET6, a->bytes, out, (socklen_t)cap) == NULL)
			snprintf(out, cap, "?");
	} else {
		snprintf(out, cap, "-");
	}
}

static void send_raw(struct session *s, const char *buf, size_t n)
{
	if (s->closing || s->ctrl == NULL)
		return;
	if (s->tls_on) {
		if (!s->tls.handshake_done || tls_stream_write(&s->tls, buf, n) != 0 ||
		    tls_stream_drain(&s->tls, s->ctrl) != 0) {
			session_close(s, "cannot send a reply over TLS");
		}
		return;
	}
	if (rconn_write(s->ctrl, buf, n) != 0)
		session_close(s, "reply queue full");
}

static void vreply(struct session *s, int code, const char *fmt, va_list ap)
{
	char text[8192], out[8400];
	vsnprintf(text, sizeof(text), fmt, ap);
	size_t n = ftp_reply_format(out, sizeof(out), code, text);
	if (n == 0) {
		n = ftp_reply_format(out, sizeof(out), 451, "Reply too long");
		if (n == 0)
			return;
	}
	log_msg(LOG_DEBUG, "[%llu] -> %d %s", (unsigned long long)s->sid, code, text);
	send_raw(s, out, n);
}

void session_reply(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, code, fmt, ap);
	va_end(ap);
}

void session_refuse(struct session *s, int code, const char *what, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_session(s->sid, s->peer_str, s->logged_in ? s->user_name : NULL, "refused %s: %d %s",
	            what, code, text);
	session_reply(s, code, "%s", text);
}

static void session_unlist(struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (sessions == s)
		sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

void session_close(struct session *s, const char *why)
{
	if (s->closing)
		return;
	data_abort(s, false);
	log_session(s->sid, s->peer_str, s->user_name[0] ? s->user_name : NULL, "closed: %s", why);
	data_reset_mode(s);
	if (s->ctrl != NULL) {
		if (s->tls_on && s->tls.handshake_done) {
			tls_stream_shutdown(&s->tls); /* close_notify */
			(void)tls_stream_drain(&s->tls, s->ctrl);
		}
		rconn_close(s->ctrl);
		s->ctrl = NULL;
	}
	s->closing = true;
	session_unlist(s);
	n_sessions--;
	s->next = zombies;
	zombies = s;
}

static void session_free(struct session *s)
{
	tls_stream_free(&s->tls);
	bbuf_free(&s->in);
	if (s->root_fd >= 0)
		close(s->root_fd);
	OPENSSL_cleanse(&s->user, sizeof(s->user));
	free(s);
}

void sessions_reap(void)
{
	while (zombies) {
		struct session *s = zombies;
		zombies = s->next;
		session_free(s);
	}
}

static unsigned count_addr(const struct ftps_ipc_addr *a)
{
	unsigned n = 0;
	for (struct session *s = sessions; s; s = s->next)
		if (!memcmp(&s->peer_addr, a, sizeof(*a)))
			n++;
	return n;
}

unsigned sessions_count_user(const char *user)
{
	unsigned n = 0;
	for (struct session *s = sessions; s; s = s->next)
		if (s->logged_in && !strcmp(s->user_name, user))
			n++;
	return n;
}

static void send_banner(struct session *s)
{
	s->banner_sent = true;
	session_reply(s, 220, "%s", g_cfg->banner);
}

static void new_session(struct rconn *c)
{
	uint64_t now = ev_now_ms();
	char peer[64];

	addr_to_str(&c->peer, peer, sizeof(peer));
	if (n_sessions >= g_cfg->max_sessions || count_addr(&c->peer) >= g_cfg->max_per_address) {
		const char *msg = "421 Too many connections, try again later\r\n";
		log_session(0, peer, NULL, "refused connection: too many sessions%s",
		            n_sessions >= g_cfg->max_sessions ? "" : " from this address");
		rconn_set_owner(c, NULL, NULL);
		if (c->listener_id == LISTENER_EXPLICIT)
			(void)rconn_write(c, msg, strlen(msg));
		rconn_close(c);
		return;
	}
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rconn_abort(c);
		return;
	}
	s->sid = next_sid++;
	s->ctrl = c;
	s->link_index = dp_link_index(c->link);
	s->peer_addr = c->peer;
	s->local_addr = c->local;
	s->peer_port = c->peer_port;
	s->local_port = c->local_port;
	snprintf(s->peer_str, sizeof(s->peer_str), "%s", peer);
	s->implicit = c->listener_id == LISTENER_IMPLICIT;
	s->root_fd = -1;
	strcpy(s->cwd, "/");
	strcpy(s->hash_algo, "SHA-256");
	bbuf_init(&s->in, IN_MAX);
	s->job.fd = -1;
	s->last_activity_ms = now;
	s->login_deadline_ms = now + (uint64_t)g_cfg->login_timeout * 1000u;
	tls_new_token(s->tinfo.token);
	s->next = sessions;
	if (sessions)
		sessions->prev = s;
	sessions = s;
	n_sessions++;
	rconn_set_owner(c, &ctrl_ops, s);
	log_session(s->sid, s->peer_str, NULL, "connected (%s, dataplane link %d)",
	            s->implicit ? "implicit" : "explicit", s->link_index);
	if (s->implicit) {
		if (tls_stream_open(&s->tls, &s->tinfo) != 0) {
			session_close(s, "cannot create TLS state");
			return;
		}
		tls_stream_defer_tickets(&s->tls);
		s->tls_on = true;
	} else {
		send_banner(s);
	}
}

/* Pull plaintext out of the control TLS stream into s->in. */
static void ctrl_tls_pump(struct session *s)
{
	char err[256], buf[4096];

	if (!s->tls.handshake_done) {
		int rc = tls_stream_handshake(&s->tls, err, sizeof(err));
		(void)tls_stream_drain(&s->tls, s->ctrl);
		if (rc < 0) {
			log_session(s->sid, s->peer_str, NULL, "control %s", err);
			session_close(s, "TLS handshake failed");
			return;
		}
		if (rc == 0)
			return;
		log_session(s->sid, s->peer_str, NULL, "TLS %s established%s%s",
		            tls_stream_version(&s->tls), s->tinfo.sni[0] ? ", SNI " : "",
		            s->tinfo.sni);
		if (!s->banner_sent)
			send_banner(s);
	}
	while (!s->closing && bbuf_len(&s->in) < IN_MAX - sizeof(buf)) {
		int n = tls_stream_read(&s->tls, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n == -2) {
			session_close(s, "client sent close_notify");
			return;
		}
		if (n < 0) {
			session_close(s, "TLS error on the control connection");
			return;
		}
		if (bbuf_append(&s->in, buf, (size_t)n) != 0) {
			session_close(s, "input buffer full");
			return;
		}
	}
	if (!s->closing)
		(void)tls_stream_drain(&s->tls, s->ctrl);
	if (!s->closing && BIO_ctrl_pending(s->tls.rbio) > TLS_BACKLOG)
		session_close(s, "control input flood");
}

static void ctrl_on_data(void *owner, struct rconn *c, const uint8_t *p, size_t n)
{
	struct session *s = owner;

	(void)c;
	s->last_activity_ms = ev_now_ms();
	if (s->tls_on) {
		if (tls_stream_feed(&s->tls, p, n) != 0) {
			session_close(s, "TLS input error");
			return;
		}
		ctrl_tls_pump(s);
	} else if (bbuf_append(&s->in, p, n) != 0) {
		session_close(s, "input buffer full");
		return;
	}
	if (!s->closing)
		session_process_input(s);
}

static void ctrl_on_fin(void *owner, struct rconn *c)
{
	struct session *s = owner;
	(void)c;
	session_close(s, "client closed the connection");
}

static void ctrl_on_reset(void *owner, struct rconn *c)
{
	struct session *s = owner;
	(void)c;
	s->ctrl = NULL; /* freed by the link after this call */
	session_close(s, "connection reset (or dataplane lost: 421)");
}

void session_process_input(struct session *s)
{
	char line[8200];

	while (!s->closing && s->delay_until_ms == 0 && !s->awaiting_listen) {
		size_t len = bbuf_len(&s->in), line_len = 0, consumed = 0;
		const char *buf = (const char *)bbuf_head(&s->in);
		if (len == 0)
			break;
		if (s->discarding) {
			const char *lf = memchr(buf, '\n', len);
			bbuf_consume(&s->in, lf ? (size_t)(lf - buf) + 1 : len);
			if (lf)
				s->discarding = false;
			continue;
		}
		enum ftp_line_result lr =
		    ftp_line_next(buf, len, g_cfg->max_line, &line_len, &consumed);
		if (lr == FTP_LINE_INCOMPLETE)
			break;
		if (lr == FTP_LINE_TOO_LONG) {
			bool had_lf = memchr(buf, '\n', consumed) != NULL;
			bbuf_consume(&s->in, consumed);
			s->discarding = !had_lf;
			session_refuse(s, 500, "overlong line",
			               "Command line too long (limit %u bytes)", g_cfg->max_line);
			continue;
		}
		memcpy(line, buf, line_len);
		line[line_len] = '\0';
		struct ftp_request req;
		enum ftp_parse_result pr = ftp_parse_line(line, line_len, &req);
		if (session_busy(s) && !(pr == FTP_PARSE_OK && command_allowed_busy(&req)))
			break; /* wait for the transfer to finish */
		bbuf_consume(&s->in, consumed);
		switch (pr) {
		case FTP_PARSE_EMPTY:
			continue;
		case FTP_PARSE_UNKNOWN:
			session_refuse(s, 500, "unknown command", "Unknown command");
			continue;
		case FTP_PARSE_SYNTAX:
			session_refuse(s, 500, "syntax error",
			               "Syntax error, command unrecognized");
			continue;
		case FTP_PARSE_BAD_ARG:
			session_refuse(s, 501, "bad argument",
			               "Syntax error in parameters or arguments");
			continue;
		case FTP_PARSE_OK:
			break;
		default:
			continue;
		}
		log_msg(LOG_DEBUG, "[%llu] <- %s %s", (unsigned long long)s->sid, req.def->name,
		        req.def->id == CMD_PASS ? "****" : req.arg);
		bool was_tls = s->tls_on;
		command_dispatch(s, &req);
		if (!s->closing && !was_tls && s->tls_on) {
			/* AUTH TLS: whatever followed the command is TLS already */
			if (bbuf_len(&s->in) > 0 &&
			    tls_stream_feed(&s->tls, bbuf_head(&s->in), bbuf_len(&s->in)) != 0) {
				session_close(s, "TLS input error");
				return;
			}
			bbuf_consume(&s->in, bbuf_len(&s->in));
			ctrl_tls_pump(s);
		}
	}
}

void sessions_tick(uint64_t now)
{
	for (struct session *s = sessions, *next; s; s = next) {
		next = s->next;
		if (s->delay_until_ms && now >= s->delay_until_ms) {
			s->delay_until_ms = 0;
			session_reply(s, s->delayed_code, "%s", s->delayed_text);
			if (!s->closing)
				session_process_input(s);
			continue;
		}
		if (!s->logged_in && now >= s->login_deadline_ms) {
			session_reply(s, 421, "Login timeout, closing control connection");
			session_close(s, "login timeout");
			continue;
		}
		if (!session_busy(s) &&
		    now - s->last_activity_ms >= (uint64_t)g_cfg->idle_timeout * 1000u) {
			session_reply(s, 421, "Idle timeout, closing control connection");
			session_close(s, "idle timeout");
			continue;
		}
		data_tick(s, now);
	}
	sessions_reap();
}

void sessions_close_all(const char *why)
{
	while (sessions) {
		session_reply(sessions, 421, "Service not available, closing control connection");
		session_close(sessions, why);
	}
	sessions_reap();
}

struct session *session_find(uint64_t sid)
{
	for (struct session *s = sessions; s; s = s->next)
		if (s->sid == sid)
			return s;
	return NULL;
}

void sessions_listen_control(int link_index)
{
	struct ftps_ipc_addr local;

	if (g_cfg->explicit_listen.enabled) {
		memset(&local, 0, sizeof(local));
		if (g_cfg->explicit_listen.addr.s_addr != htonl(INADDR_ANY)) {
			local.family = FTPS_IPC_AF_INET;
			memcpy(local.bytes, &g_cfg->explicit_listen.addr, 4);
		}
		dp_listen(link_index, LISTENER_EXPLICIT, &local, g_cfg->explicit_listen.port, NULL);
	}
	if (g_cfg->implicit_listen.enabled) {
		memset(&local, 0, sizeof(local));
		if (g_cfg->implicit_listen.addr.s_addr != htonl(INADDR_ANY)) {
			local.family = FTPS_IPC_AF_INET;
			memcpy(local.bytes, &g_cfg->implicit_listen.addr, 4);
		}
		dp_listen(link_index, LISTENER_IMPLICIT, &local, g_cfg->implicit_listen.port, NULL);
	}
}

/* dp_link callbacks */
void app_conn_opened(struct rconn *c)
{
	if (c->listener_id == LISTENER_EXPLICIT || c->listener_id == LISTENER_IMPLICIT) {
		new_session(c);
		return;
	}
	for (struct session *s = sessions; s; s = s->next) {
		if (s->listener_id == c->listener_id && s->dmode == DM_PASV) {
			(void)data_accept(s, c);
			return;
		}
	}
	/* no owner: the link refuses it with RESET */
}

void app_listen_result(uint32_t listener_id, int status)
{
	if (listener_id == LISTENER_EXPLICIT || listener_id == LISTENER_IMPLICIT) {
		if (status != 0)
			log_msg(LOG_ERR, "dataplane cannot listen on the %s port: %s",
			        listener_id == LISTENER_EXPLICIT ? "explicit" : "implicit",
			        strerror(status));
		return;
	}
	for (struct session *s = sessions; s; s = s->next) {
		if (s->listener_id == listener_id) {
			data_listen_result(s, status);
			if (!s->closing)
				session_process_input(s);
			return;
		}
	}
}

void app_link_state(int link_index, bool up)
{
	if (up) {
		sessions_listen_control(link_index);
		return;
	}
	log_msg(LOG_WARN, "dataplane link %d lost; its sessions ended (421), reconnecting",
	        link_index);
	for (struct session *s = sessions, *next; s; s = next) {
		next = s->next;
		if (s->link_index == link_index) {
			s->ctrl = NULL; /* already gone with the link */
			session_close(s, "dataplane lost (421)");
		}
	}
}
