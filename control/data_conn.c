/* Data connections: PASV/EPSV listeners for one client address, PORT/EPRT
 * connects, the data-connection TLS handshake with the session-reuse check,
 * and the job lifecycle (150 ... 226/4xx). Bytes are moved by
 * transfer_relay.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "paths.h"
#include "session.h"

#define RAW_IN_MAX (64u * 1024u)

static uint32_t next_listener_id = LISTENER_FIRST_PASV;
static uint32_t next_pasv_offset;

static void dc_on_data(void *owner, struct rconn *c, const uint8_t *p, size_t n);
static void dc_on_fin(void *owner, struct rconn *c);
static void dc_on_reset(void *owner, struct rconn *c);
static void dc_on_writable(void *owner, struct rconn *c);
static void dc_on_connected(void *owner, struct rconn *c, int status);

static void dc_on_done(void *owner, struct rconn *c, const struct ftps_ipc_done *done)
{
	struct data_conn *dc = owner;
	(void)c;
	transfer_takeover_done(dc->s, done);
}

static const struct rconn_ops data_ops = {
    .on_done = dc_on_done,
    .on_data = dc_on_data,
    .on_fin = dc_on_fin,
    .on_reset = dc_on_reset,
    .on_writable = dc_on_writable,
    .on_connected = dc_on_connected,
};

bool session_busy(const struct session *s)
{
	return s->awaiting_listen || s->auth_pending || s->job.kind != JOB_NONE;
}

static void dc_free(struct session *s, bool abort_conn)
{
	struct data_conn *dc = s->dc;
	if (dc == NULL)
		return;
	if (dc->rc && dc->rc->taken_over && !abort_conn) {
		/* The dataplane ended and forgot it (DONE): nothing to send. */
		rconn_forget(dc->rc);
	} else if (dc->rc) {
		if (abort_conn) {
			rconn_abort(dc->rc);
		} else {
			if (dc->tls_on && dc->tls.handshake_done) {
				tls_stream_shutdown(&dc->tls); /* close_notify before FIN */
				(void)tls_stream_drain(&dc->tls, dc->rc);
			}
			rconn_close(dc->rc);
		}
	}
	tls_stream_free(&dc->tls);
	bbuf_free(&dc->raw_in);
	bbuf_free(&dc->plain_in);
	free(dc);
	s->dc = NULL;
}

static void job_clear(struct session *s)
{
	if (s->job.fd >= 0)
		close(s->job.fd);
	bbuf_free(&s->job.buf);
	memset(&s->job, 0, sizeof(s->job));
	s->job.fd = -1;
}

void data_reset_mode(struct session *s)
{
	dc_free(s, true);
	if (s->listener_id != 0)
		dp_unlisten_all(s->listener_id);
	s->listener_id = 0;
	s->dmode = DM_NONE;
	s->awaiting_listen = false;
	s->listen_pending = 0;
}

static const char *job_name(const struct session *s)
{
	return s->job.xfer_dir == 'o' ? "download" : s->job.xfer_dir == 'i' ? "upload" : "listing";
}

void data_finish_job(struct session *s, int code, const char *text)
{
	char why[160];
	/* A truncated upload (426) is kept for REST: its name must last too. */
	bool sync_name = s->job.created && (code == 226 || code == 426);
	if (sync_name && path_sync_parent(s->root_fd, s->job.vpath) != 0 && code == 226) {
		snprintf(why, sizeof(why), "Could not make the new file's name durable: %s",
		         strerror(errno));
		code = 451;
		text = why;
	}
	double secs = (double)(ev_now_ms() - s->job.start_ms) / 1000.0;
	if (s->job.xfer_dir)
		log_xfer(s->peer_str, s->job.bytes, s->job.vpath, s->job.xfer_dir, s->user_name,
		         code == 226 ? 'c' : 'i', secs);
	log_session(s->sid, s->peer_str, s->user_name, "%s %s: %d, %llu bytes", job_name(s),
	            s->job.vpath, code, (unsigned long long)s->job.bytes);
	bool ok = code < 400;
	s->last_activity_ms = ev_now_ms(); /* idle time starts after the transfer */
	job_clear(s);
	dc_free(s, !ok);
	data_reset_mode(s); /* one transfer per PASV/PORT */
	if (ok)
		session_reply(s, code, "%s", text);
	else
		session_refuse(s, code, "transfer", "%s", text);
}

void data_abort(struct session *s, bool reply_426)
{
	if (s->job.kind != JOB_NONE) {
		if (s->job.xfer_dir)
			log_xfer(s->peer_str, s->job.bytes, s->job.vpath, s->job.xfer_dir,
			         s->user_name, 'i',
			         (double)(ev_now_ms() - s->job.start_ms) / 1000.0);
		/* Every transfer ends with a line in the session log, including
		 * those cut short by ABOR or a lost control connection. */
		log_session(s->sid, s->peer_str, s->user_name, "%s %s: aborted (%s), %llu bytes",
		            job_name(s), s->job.vpath,
		            reply_426 ? "ABOR" : "control connection closed",
		            (unsigned long long)s->job.bytes);
		job_clear(s);
		if (reply_426)
			session_reply(s, 426, "Connection closed; transfer aborted");
	}
	data_reset_mode(s);
}

static void try_listen(struct session *s)
{
	uint32_t span = (uint32_t)(g_cfg->pasv_max - g_cfg->pasv_min) + 1;
	uint16_t port = (uint16_t)(g_cfg->pasv_min + next_pasv_offset++ % span);
	struct ftps_ipc_addr local = s->local_addr;

	s->listener_id = next_listener_id++;
	if (next_listener_id < LISTENER_FIRST_PASV)
		next_listener_id = LISTENER_FIRST_PASV;
	s->pasv_port = port;
	int n = dp_listen(-1, s->listener_id, &local, port, &s->peer_addr);
	if (n == 0) {
		s->listener_id = 0;
		s->dmode = DM_NONE;
		s->awaiting_listen = false;
		session_refuse(s, 425, "PASV", "Cannot open a passive port: dataplane unavailable");
		return;
	}
	s->listen_pending = n;
	s->listen_failed = 0;
	s->awaiting_listen = true;
}

void data_start_pasv(struct session *s, bool extended)
{
	data_reset_mode(s);
	s->dmode = DM_PASV;
	s->pasv_extended = extended;
	s->listen_attempts = 0;
	try_listen(s);
}

void data_listen_result(struct session *s, int status)
{
	if (!s->awaiting_listen)
		return;
	s->listen_pending--;
	if (status != 0)
		s->listen_failed++;
	if (s->listen_pending > 0)
		return;
	if (s->listen_failed) {
		dp_unlisten_all(s->listener_id);
		s->listener_id = 0;
		if (++s->listen_attempts < 20) {
			try_listen(s);
			return;
		}
		s->awaiting_listen = false;
		s->dmode = DM_NONE;
		session_refuse(s, 425, "PASV", "Cannot open a passive port");
		return;
	}
	s->awaiting_listen = false;
	s->data_deadline_ms = ev_now_ms() + (uint64_t)g_cfg->data_timeout * 1000u;
	if (s->pasv_extended) {
		session_reply(s, 229, "Entering Extended Passive Mode (|||%u|)", s->pasv_port);
	} else {
		uint8_t a[4];
		if (g_cfg->pasv_address_set)
			memcpy(a, &g_cfg->pasv_address, 4);
		else
			memcpy(a, s->local_addr.bytes, 4);
		session_reply(s, 227, "Entering Passive Mode (%u,%u,%u,%u,%u,%u)", a[0], a[1], a[2],
		              a[3], s->pasv_port >> 8, s->pasv_port & 0xff);
	}
}

static struct data_conn *dc_new(struct session *s)
{
	struct data_conn *dc = calloc(1, sizeof(*dc));
	if (dc == NULL)
		return NULL;
	dc->s = s;
	bbuf_init(&dc->raw_in, RAW_IN_MAX);
	bbuf_init(&dc->plain_in, RAW_IN_MAX);
	memcpy(dc->tinfo.token, s->tinfo.token, TLS_TOKEN_LEN);
	dc->tinfo.is_data = true;
	dc->tinfo.expect_user = s->user_name;
	dc->tinfo.expect_addr = s->peer_addr;
	s->dc = dc;
	return dc;
}

static void dc_pump(struct session *s);

/* The connection exists and a job waits: start TLS (or plain) I/O. */
static void start_job_io(struct session *s)
{
	struct data_conn *dc = s->dc;

	if (s->prot_p) {
		if (tls_stream_open(&dc->tls, &dc->tinfo) != 0) {
			data_finish_job(s, 425, "Cannot create TLS state for the data connection");
			return;
		}
		dc->tls_on = true;
		/* Uploading clients never read their data connection, so TLS 1.3
		 * tickets sent there stay unread and their close() turns into a
		 * RST. Tickets are re-issued on downloads and listings only. */
		if (s->job.kind == JOB_STOR)
			SSL_set_num_tickets(dc->tls.ssl, 0);
		if (bbuf_len(&dc->raw_in) > 0 &&
		    tls_stream_feed(&dc->tls, bbuf_head(&dc->raw_in), bbuf_len(&dc->raw_in)) != 0) {
			data_finish_job(s, 425, "TLS input error");
			return;
		}
	} else if (bbuf_len(&dc->raw_in) > 0 && s->job.kind == JOB_STOR) {
		transfer_relay_on_plain(s, bbuf_head(&dc->raw_in), bbuf_len(&dc->raw_in));
		if (s->job.kind == JOB_NONE)
			return;
	}
	bbuf_consume(&dc->raw_in, bbuf_len(&dc->raw_in));
	s->job.started = true;
	dc_pump(s);
}

bool data_accept(struct session *s, struct rconn *c)
{
	char addr[64];

	if (memcmp(&c->peer, &s->peer_addr, sizeof(c->peer)) != 0) {
		if (inet_ntop(AF_INET, c->peer.bytes, addr, sizeof(addr)) == NULL)
			snprintf(addr, sizeof(addr), "?");
		log_session(s->sid, s->peer_str, s->user_name,
		            "refused data connection from other address %s", addr);
		return false;
	}
	if (s->dc != NULL) {
		log_session(s->sid, s->peer_str, s->user_name, "refused second data connection");
		return false;
	}
	struct data_conn *dc = dc_new(s);
	if (dc == NULL)
		return false;
	dc->rc = c;
	dc->connected = true;
	rconn_set_owner(c, &data_ops, dc);
	/* one connection per PASV: stop listening now */
	dp_unlisten_all(s->listener_id);
	s->listener_id = 0;
	if (s->job.kind != JOB_NONE && !s->job.started)
		start_job_io(s);
	return true;
}

void data_begin_job(struct session *s)
{
	s->job.start_ms = ev_now_ms();
	s->job.bytes = 0;
	s->data_deadline_ms = s->job.start_ms + (uint64_t)g_cfg->data_timeout * 1000u;
	session_reply(s, 150, "Opening %s mode data connection for %s",
	              s->prot_p ? "TLS-protected" : "unprotected", s->job.vpath);
	if (s->dmode == DM_PORT && s->dc == NULL) {
		struct data_conn *dc = dc_new(s);
		if (dc == NULL) {
			data_finish_job(s, 425, "Cannot open data connection");
			return;
		}
		dc->rc = dp_connect(s->ctrl->link, &s->port_addr, s->port_port, &data_ops, dc);
		if (dc->rc == NULL) {
			data_finish_job(s, 425,
			                "Cannot open data connection: dataplane unavailable");
			return;
		}
		return; /* dc_on_connected continues */
	}
	if (s->dc != NULL && s->dc->connected)
		start_job_io(s);
	/* PASV without a connection yet: data_accept continues */
}

/* Refuse a data connection after its handshake: close it cleanly
 * (close_notify, FIN) so the client reads an orderly end and then finds the
 * reason in the reply on the control connection. */
static void refuse_data_tls(struct session *s, int code, const char *why)
{
	dc_free(s, false);
	data_finish_job(s, code, why);
}

/* Drive the data connection: handshake, checks, then move bytes. */
static void dc_pump(struct session *s)
{
	struct data_conn *dc = s->dc;
	char err[256];

	if (dc == NULL || !s->job.started)
		return;
	if (dc->tls_on && !dc->tls.handshake_done) {
		int rc = tls_stream_handshake(&dc->tls, err, sizeof(err));
		(void)tls_stream_drain(&dc->tls, dc->rc);
		if (rc < 0) {
			char msg[320];
			snprintf(msg, sizeof(msg), "Data connection must use TLS (PROT P): %s",
			         err);
			refuse_data_tls(s, 522, msg);
			return;
		}
		if (rc == 0)
			return;
		bool resumed = tls_stream_resumed_ok(&dc->tls);
		if (!resumed && g_cfg->session_reuse == REUSE_REQUIRED) {
			if (dc->tinfo.ticket_seen && !dc->tinfo.ticket_binding_ok)
				refuse_data_tls(
				    s, 425,
				    "Data connection refused: its TLS session belongs to "
				    "another login or address");
			else
				refuse_data_tls(
				    s, 425,
				    "Data connection refused: TLS session of the control "
				    "connection not resumed (session reuse required)");
			return;
		}
		data_progress(s); /* handshake done: the stall clock restarts */
		if (g_cfg->session_reuse == REUSE_OFF && SSL_session_reused(dc->tls.ssl))
			log_msg(LOG_DEBUG, "data connection resumed although reuse is off");
	}
	if (s->job.taken_over)
		return;
	if ((s->job.kind == JOB_RETR || s->job.kind == JOB_STOR) && dc->tls_on &&
	    transfer_takeover_try(s))
		return;
	if (s->job.kind == JOB_STOR) {
		if (dc->tls_on) {
			uint8_t buf[16384];
			for (;;) {
				int n = tls_stream_read(&dc->tls, buf, sizeof(buf));
				if (n > 0) {
					transfer_relay_on_plain(s, buf, (size_t)n);
					if (s->job.kind == JOB_NONE || s->dc != dc)
						return;
					continue;
				}
				if (n == -1) {
					data_finish_job(s, 426, "TLS error on the data connection");
					return;
				}
				if (n == -2) {
					/* close_notify is the authenticated end of the
					 * upload: finish now (our close_notify goes back
					 * with it) rather than wait for FIN, because
					 * clients like Python's unwrap() wait for ours. */
					(void)tls_stream_drain(&dc->tls, dc->rc);
					transfer_relay_on_end(s, true);
					return;
				}
				break; /* 0: more input needed */
			}
			(void)tls_stream_drain(&dc->tls, dc->rc);
		}
		if (dc->fin_rcvd)
			transfer_relay_on_end(s, !dc->tls_on || dc->tls.close_notify_rcvd);
		return;
	}
	transfer_relay_pump_send(s);
}

static void after_callback(struct session *s)
{
	if (!s->closing && !session_busy(s))
		session_process_input(s);
}

static void dc_on_data(void *owner, struct rconn *c, const uint8_t *p, size_t n)
{
	struct data_conn *dc = owner;
	struct session *s = dc->s;

	(void)c;
	if (!s->job.started) {
		if (bbuf_append(&dc->raw_in, p, n) != 0) {
			log_session(s->sid, s->peer_str, s->user_name,
			            "data connection sent too much before a command");
			if (s->job.kind != JOB_NONE)
				data_finish_job(s, 425, "Data connection flooded");
			else
				dc_free(s, true);
		}
		return;
	}
	if (dc->tls_on) {
		if (tls_stream_feed(&dc->tls, p, n) != 0) {
			data_finish_job(s, 426, "TLS input error");
			after_callback(s);
			return;
		}
	} else if (s->job.kind == JOB_STOR) {
		transfer_relay_on_plain(s, p, n);
		after_callback(s);
		return;
	}
	dc_pump(s);
	after_callback(s);
}

static void dc_on_fin(void *owner, struct rconn *c)
{
	struct data_conn *dc = owner;
	struct session *s = dc->s;

	(void)c;
	dc->fin_rcvd = true;
	if (s->job.kind == JOB_NONE) {
		dc_free(s, false); /* closed before any command: forget it */
		return;
	}
	if (!s->job.started)
		return; /* the job starts and sees fin_rcvd */
	if (s->job.kind == JOB_STOR) {
		dc_pump(s);
	} else if (dc->tls_on && !dc->tls.handshake_done) {
		data_finish_job(s, 425, "Data connection closed during the TLS handshake");
	} else {
		/* the client stopped reading early */
		data_finish_job(s, 426, "Data connection closed by the client; transfer aborted");
	}
	after_callback(s);
}

static void dc_on_reset(void *owner, struct rconn *c)
{
	struct data_conn *dc = owner;
	struct session *s = dc->s;

	(void)c;
	dc->rc = NULL; /* the link frees it */
	if (s->job.kind == JOB_STOR && s->job.started && dc->tls_on && dc->tls.close_notify_rcvd) {
		/* close_notify authenticated the end of the upload; a RST after
		 * it loses nothing */
		transfer_relay_on_end(s, true);
	} else if (s->job.kind != JOB_NONE)
		data_finish_job(s, 426, "Data connection reset; transfer aborted");
	else
		dc_free(s, false);
	after_callback(s);
}

static void dc_on_writable(void *owner, struct rconn *c)
{
	struct data_conn *dc = owner;
	struct session *s = dc->s;

	(void)c;
	if (s->job.started && s->job.kind != JOB_STOR && (!dc->tls_on || dc->tls.handshake_done))
		transfer_relay_pump_send(s);
	after_callback(s);
}

static void dc_on_connected(void *owner, struct rconn *c, int status)
{
	struct data_conn *dc = owner;
	struct session *s = dc->s;

	(void)c;
	if (status != 0) {
		dc->rc = NULL; /* freed by the link */
		data_finish_job(s, 425, "Cannot open data connection to the PORT address");
		after_callback(s);
		return;
	}
	dc->connected = true;
	if (s->job.kind != JOB_NONE && !s->job.started)
		start_job_io(s);
	after_callback(s);
}

void data_tick(struct session *s, uint64_t now)
{
	/* Once the dataplane moves the bytes, only it sees them flow: TAKEOVER
	 * gave it data_timeout, and a transfer that stops comes back as a DONE
	 * with ETIMEDOUT (the clock here would cut healthy long transfers). */
	if (s->job.kind == JOB_NONE || s->job.taken_over || now < s->data_deadline_ms)
		return;
	struct data_conn *dc = s->dc;
	bool waiting = dc == NULL || !dc->connected || (dc->tls_on && !dc->tls.handshake_done);
	if (waiting)
		data_finish_job(s, 425, "Data connection timed out");
	else
		data_finish_job(s, 426, "Data connection stalled; transfer aborted");
	after_callback(s);
}

void data_progress(struct session *s)
{
	s->data_deadline_ms = ev_now_ms() + (uint64_t)g_cfg->data_timeout * 1000u;
}
