/* TCP-stack transport of a DPDK load generator session: the state machine
 * is lg_control.c's (the same as kernel mode); here are its connections on
 * the userspace TCP stack.  OpenSSL runs over memory BIOs: bytes from
 * tcp_recv() are written into the read BIO, and what OpenSSL writes is
 * drained from the write BIO into mbufs for tcp_send().  On a data
 * connection, once the (resumed) handshake is done, tls_import_export()
 * hands the keys and the counted sequence numbers to the record layer,
 * which opens downloads straight from the RX mbufs and seals uploads
 * straight into one-record TX mbufs.
 *
 * Driving: TCP callbacks (connected, readable, writable, closed) call
 * lgd_session_drive(), which runs steps until none makes progress; a session
 * that waits for record mbufs sets `retry` and the poll loop drives it. */
#include "lgd.h"

#include <errno.h>
#include <openssl/err.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "net_mbuf.h"

static struct lgd_session *session_of(struct lg_ctl *c)
{
	return (struct lgd_session *)((char *)c - offsetof(struct lgd_session, ctl));
}

static struct lgd_conn *conn_of(struct lg_ctl *c, enum lg_link l)
{
	struct lgd_session *s = session_of(c);
	return l == LG_LINK_CTRL ? &s->ctrl : &s->data;
}

static int fail(struct lgd_session *s, enum lg_error e, const char *why)
{
	return lg_ctl_fail(&s->ctl, e, why);
}

/* ---- connections for the state machine ------------------------------ */

static int conn_open(struct lg_ctl *c, enum lg_link l, uint16_t port)
{
	struct lgd_conn *conn = conn_of(c, l);
	if (lgd_conn_open(session_of(c), conn, port) != 0)
		return conn->error < 0 ? conn->error : -EIO;
	return 0;
}

static int conn_connected(struct lg_ctl *c, enum lg_link l)
{
	struct lgd_conn *conn = conn_of(c, l);
	if (conn->state == LGD_TCP_FAILED)
		return -1;
	return conn->state == LGD_TCP_OPEN;
}

static SSL *conn_tls_start(struct lg_ctl *c, enum lg_link l)
{
	struct lgd_conn *conn = conn_of(c, l);
	if (lgd_conn_tls_new(session_of(c), conn) == NULL)
		return NULL;
	/* A data connection's keys go to the record layer afterwards. */
	if (l == LG_LINK_DATA && tls_import_ssl_setup(conn->ssl) != 0)
		return NULL;
	return conn->ssl;
}

static int conn_handshake(struct lg_ctl *c, enum lg_link l)
{
	struct lgd_session *s = session_of(c);
	struct lgd_conn *conn = conn_of(c, l);
	bool ctrl = l == LG_LINK_CTRL;
	int r = SSL_do_handshake(conn->ssl);
	if (lgd_conn_flush(conn) < 0)
		return ctrl ? fail(s, LG_ERR_CONNECT, "control send")
		            : fail(s, LG_ERR_DATA, "data send");
	if (r != 1) {
		int e = SSL_get_error(conn->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return fail(s, LG_ERR_TLS, ctrl ? "control handshake" : "data handshake");
		if (conn->state == LGD_TCP_FAILED || conn->eof)
			return fail(s, LG_ERR_TLS,
			            ctrl ? "control handshake: connection closed"
			                 : "data handshake: connection closed");
		return 0;
	}
	if (!ctrl && BIO_ctrl_pending(conn->net_out) > 0) {
		s->retry = true; /* the Finished waits for packet mbufs */
		return 0;
	}
	return 1;
}

static SSL *conn_ssl(struct lg_ctl *c, enum lg_link l)
{
	return conn_of(c, l)->ssl;
}

static void conn_close(struct lg_ctl *c, enum lg_link l)
{
	lgd_conn_close(conn_of(c, l));
	if (l == LG_LINK_DATA)
		session_of(c)->close_sent = false;
}

/* Hands the pending command to OpenSSL or the plain queue, then pushes
 * the queue: 1 done, -1 error (TCP takes the bytes when it can). */
static int ctrl_write(struct lg_ctl *ctl)
{
	struct lgd_session *s = session_of(ctl);
	struct lgd_conn *c = &s->ctrl;
	if (ctl->out_off == ctl->out_len) {
		if (c->out != NULL && lgd_conn_flush(c) < 0)
			return fail(s, LG_ERR_CONNECT, "control send");
		return 1;
	}
	while (ctl->out_off < ctl->out_len) {
		size_t left = ctl->out_len - ctl->out_off;
		if (c->ssl != NULL) {
			int n = SSL_write(c->ssl, ctl->out + ctl->out_off, (int)left);
			if (n <= 0)
				return fail(s, LG_ERR_TLS, "control write");
			ctl->out_off += (size_t)n;
		} else {
			if (lgd_conn_queue_copy(c, ctl->out + ctl->out_off, left) != 0)
				return fail(s, LG_ERR_CONNECT, "control send: out of mbufs");
			ctl->out_off = ctl->out_len;
		}
	}
	if (lgd_conn_flush(c) < 0)
		return fail(s, LG_ERR_CONNECT, "control send");
	return 1;
}

/* > 0 bytes read into buf, 0 waiting, -1 error. */
static int ctrl_read(struct lg_ctl *ctl, char *buf, size_t room)
{
	struct lgd_session *s = session_of(ctl);
	struct lgd_conn *c = &s->ctrl;
	if (c->ssl != NULL) {
		int n = SSL_read(c->ssl, buf, (int)room);
		if (n > 0)
			return n;
		int e = SSL_get_error(c->ssl, n);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return fail(s, LG_ERR_TLS, "control connection closed");
	} else if (c->in != NULL) {
		uint32_t n = c->in->pkt_len < room ? c->in->pkt_len : (uint32_t)room;
		const void *p = rte_pktmbuf_read(c->in, 0, n, buf);
		if (p != buf)
			memcpy(buf, p, n);
		c->in = net_chain_consume(c->in, n);
		if (n > 0)
			return (int)n;
	}
	if (c->state == LGD_TCP_FAILED || c->eof)
		return fail(s, LG_ERR_CONNECT, "control connection closed");
	return 0;
}

static int ctrl_wait(struct lg_ctl *ctl)
{
	struct lgd_session *s = session_of(ctl);
	if (s->ctrl.state == LGD_TCP_FAILED)
		return fail(s, LG_ERR_CONNECT, "control connection lost");
	return 0;
}

/* ---- data connection ------------------------------------------------ */

/* Opens every complete record received, LGD_OPEN_BURST at a time, into
 * the session buffer and hashes the plaintext.  1 progress, 0 none, -1
 * failed. */
static int data_open_records(struct lgd_session *s)
{
	struct lgd_conn *c = &s->data;
	int progress = 0;
	for (;;) {
		struct tls_open_job jobs[LGD_OPEN_BURST];
		struct iovec src[LGD_OPEN_BURST][TLS_MAX_SEGS], dst[LGD_OPEN_BURST];
		uint32_t lens[LGD_OPEN_BURST];
		unsigned int n = 0;
		uint32_t off = 0;
		size_t dst_off = 0;
		struct lgd_cursor cur = {c->in, 0};
		while (n < LGD_OPEN_BURST && c->in != NULL &&
		       c->in->pkt_len - off >= TLS_HEADER_LEN) {
			uint8_t hdr[TLS_HEADER_LEN];
			size_t record_len = 0;
			if (!lgd_cursor_copy(cur, hdr, TLS_HEADER_LEN))
				break;
			int rc = tls_record_frame(&c->tls, hdr, &record_len);
			if (rc != TLS_OK)
				return fail(s, LG_ERR_TLS, tls_strerror(rc));
			if (c->in->pkt_len - off < record_len ||
			    dst_off + record_len - TLS_HEADER_LEN > LG_BUF_SIZE)
				break;
			unsigned int segs =
			    lgd_cursor_iov(&cur, (uint32_t)record_len, src[n], TLS_MAX_SEGS);
			if (segs == 0) {
				/* Scattered over too many small segments: one copy into
				 * the bounce buffer, which only one job can use. */
				if (n > 0)
					break;
				if (!lgd_cursor_copy(cur, s->lr->leftover, (uint32_t)record_len))
					break;
				lgd_cursor_advance(&cur, (uint32_t)record_len);
				src[n][0] = (struct iovec){s->lr->leftover, record_len};
				segs = 1;
			}
			dst[n] = (struct iovec){s->ctl.buf + dst_off, record_len - TLS_HEADER_LEN};
			memset(&jobs[n], 0, sizeof(jobs[n]));
			jobs[n].conn = &c->tls;
			jobs[n].src = src[n];
			jobs[n].src_cnt = (uint16_t)segs;
			jobs[n].dst = &dst[n];
			jobs[n].dst_cnt = 1;
			lens[n] = (uint32_t)record_len;
			off += (uint32_t)record_len;
			dst_off += record_len - TLS_HEADER_LEN;
			n++;
			if (segs == 1 && src[n - 1][0].iov_base == s->lr->leftover)
				break;
		}
		if (n == 0)
			return progress;
		tls_open_burst(jobs, n);
		uint32_t consumed = 0;
		for (unsigned int i = 0; i < n; i++) {
			int st = jobs[i].status;
			if (st == TLS_ERR_RETRY)
				break; /* a KeyUpdate changed the key: open it again */
			consumed += lens[i];
			if (st == TLS_CLOSE_NOTIFY) {
				s->ctl.clean_close = 1;
				continue;
			}
			if (st != TLS_OK) {
				c->in = net_chain_consume(c->in, consumed);
				return fail(s, LG_ERR_TLS, tls_strerror(st));
			}
			if (jobs[i].plain_len == 0)
				continue;
			/* On failure the session is closed, its queues freed. */
			if (lg_ctl_data_in(&s->ctl, dst[i].iov_base, jobs[i].plain_len) != 0)
				return -1;
		}
		c->in = net_chain_consume(c->in, consumed);
		progress = 1;
	}
}

static int data_read(struct lgd_session *s)
{
	struct lgd_conn *c = &s->data;
	int progress = data_open_records(s);
	if (progress < 0)
		return -1;
	if (c->state == LGD_TCP_FAILED && !c->eof)
		return fail(s, LG_ERR_DATA, "data connection lost");
	if (!c->eof)
		return progress;
	if (!s->ctl.clean_close)
		s->ctl.run->errors[LG_ERR_TRUNCATED]++; /* the size check decides the rest */
	return lg_ctl_data_finished(&s->ctl);
}

/* Seals n bytes of s->ctl.buf into one-record mbufs queued on the connection. */
static int data_seal(struct lgd_session *s, uint32_t n)
{
	struct lgd_conn *c = &s->data;
	struct tls_seal_job jobs[LGD_SEAL_CHUNK / TLS_MAX_PLAINTEXT];
	struct iovec src[LGD_SEAL_CHUNK / TLS_MAX_PLAINTEXT],
	    dst[LGD_SEAL_CHUNK / TLS_MAX_PLAINTEXT];
	struct rte_mbuf *mbufs[LGD_SEAL_CHUNK / TLS_MAX_PLAINTEXT];
	unsigned int records = n == 0 ? 0 : (n + TLS_MAX_PLAINTEXT - 1) / TLS_MAX_PLAINTEXT;
	if (rte_pktmbuf_alloc_bulk(s->lr->record_pool, mbufs, records) != 0)
		return 0;
	for (unsigned int i = 0; i < records; i++) {
		uint32_t off = i * TLS_MAX_PLAINTEXT;
		uint32_t piece = n - off < TLS_MAX_PLAINTEXT ? n - off : TLS_MAX_PLAINTEXT;
		src[i] = (struct iovec){s->ctl.buf + off, piece};
		dst[i] = (struct iovec){rte_pktmbuf_mtod(mbufs[i], void *),
		                        tls_sealed_len(&c->tls, piece)};
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].conn = &c->tls;
		jobs[i].src = &src[i];
		jobs[i].src_cnt = 1;
		jobs[i].dst = &dst[i];
		jobs[i].dst_cnt = 1;
	}
	tls_seal_burst(jobs, records);
	int result = 1;
	for (unsigned int i = 0; i < records; i++) {
		if (result == 1 && jobs[i].status == TLS_OK) {
			rte_pktmbuf_append(mbufs[i], (uint16_t)jobs[i].out_len);
			if (lgd_conn_queue(c, mbufs[i]) != 0)
				result = -1;
			continue;
		}
		result = -1;
		rte_pktmbuf_free(mbufs[i]);
	}
	return result;
}

/* Seals one control record (KeyUpdate or close_notify) and queues it. */
static int data_seal_control(struct lgd_session *s, bool close_notify)
{
	struct lgd_conn *c = &s->data;
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->lr->record_pool);
	if (m == NULL)
		return 0;
	size_t len = 0;
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	int rc = close_notify
	             ? tls_seal_close_notify(&c->tls, p, rte_pktmbuf_tailroom(m), &len)
	             : tls_seal_key_update(&c->tls, false, p, rte_pktmbuf_tailroom(m), &len);
	if (rc != TLS_OK) {
		rte_pktmbuf_free(m);
		return -1;
	}
	rte_pktmbuf_append(m, (uint16_t)len);
	return lgd_conn_queue(c, m) == 0 ? 1 : -1;
}

/* Upload: pattern -> SHA-256 -> sealed records, while TCP takes them; then
 * close_notify and FIN. */
static int data_write(struct lgd_session *s)
{
	struct lgd_conn *c = &s->data;
	int progress = 0;
	if (c->state == LGD_TCP_FAILED)
		return fail(s, LG_ERR_DATA, "data connection lost while sending");
	for (;;) {
		int r = lgd_conn_flush(c);
		if (r < 0)
			return fail(s, LG_ERR_DATA, "data connection lost while sending");
		if (r == 0 || c->tc == NULL)
			return progress;
		if (s->ctl.bytes == s->ctl.x.expect_size || s->close_sent)
			break;
		/* tcp_send takes a chain whenever the send queue is below its
		 * budget; once it is full, writable() comes at half. */
		if (tcp_send_space(c->tc) == 0)
			return progress;
		if (tcp_send_ahead_full(c->tc)) {
			s->retry = true; /* the poll loop comes back once frames went out */
			return progress;
		}
		if (tls_conn_key_update_due(&c->tls)) {
			r = data_seal_control(s, false);
			if (r < 0)
				return fail(s, LG_ERR_TLS, "KeyUpdate");
			if (r == 0)
				goto wait_mbufs;
		}
		uint64_t left = s->ctl.x.expect_size - s->ctl.bytes;
		uint32_t n = left < LGD_SEAL_CHUNK ? (uint32_t)left : LGD_SEAL_CHUNK;
		if (rte_mempool_avail_count(s->lr->record_pool) <
		    (n + TLS_MAX_PLAINTEXT - 1) / TLS_MAX_PLAINTEXT)
			goto wait_mbufs;
		if (lg_ctl_fill(&s->ctl, n) != 0)
			return -1;
		r = data_seal(s, n);
		if (r < 0)
			return fail(s, LG_ERR_TLS, "seal");
		if (r == 0)
			goto wait_mbufs;
		s->ctl.bytes += n;
		progress = 1;
	}
	if (!s->close_sent) {
		int r = data_seal_control(s, true);
		if (r < 0)
			return fail(s, LG_ERR_TLS, "close_notify");
		if (r == 0)
			goto wait_mbufs;
		s->close_sent = true;
		r = lgd_conn_flush(c);
		if (r < 0)
			return fail(s, LG_ERR_DATA, "close_notify not sent");
		if (r == 0)
			return 1;
	}
	if (c->out != NULL)
		return progress;
	/* The FIN follows the close_notify; the server's answer is drained. */
	if (tcp_shutdown(c->tc) != 0)
		return fail(s, LG_ERR_DATA, "shutdown");
	s->ctl.ds = LG_D_DRAIN;
	return 1;
wait_mbufs:
	s->retry = true;
	s->lr->pool_waits++;
	return progress;
}

static int data_drain(struct lg_ctl *ctl)
{
	struct lgd_conn *c = &session_of(ctl)->data;
	rte_pktmbuf_free(c->in); /* the upload's fate is in the reply */
	c->in = NULL;
	if (c->eof || c->state == LGD_TCP_FAILED)
		return lg_ctl_data_finished(ctl);
	return 0;
}

/* Handshake done (and counted as resumed or not): export the keys and
 * let the record layer take over. */
static int data_take_over(struct lg_ctl *ctl)
{
	struct lgd_session *s = session_of(ctl);
	struct lgd_conn *c = &s->data;
	struct tls_conn_keys keys;
	char err[160];
	size_t leftover = 0;
	int rc = tls_import_export(c->ssl, &keys, s->lr->leftover, LGD_LEFTOVER_MAX, &leftover, err,
	                           sizeof(err));
	if (rc != 0)
		return fail(s, LG_ERR_TLS, err);
	rc = tls_conn_init(&c->tls, &keys, NULL);
	OPENSSL_cleanse(&keys, sizeof(keys));
	if (rc != TLS_OK)
		return fail(s, LG_ERR_TLS, tls_strerror(rc));
	c->records = true;
	SSL_free(c->ssl);
	c->ssl = NULL;
	c->net_in = c->net_out = NULL;
	/* The server's first records that reached the read BIO come first. */
	struct lgd_conn saved = {.in = c->in};
	c->in = NULL;
	if (leftover > 0 && lgd_conn_queue_copy(c, s->lr->leftover, leftover) != 0) {
		rte_pktmbuf_free(saved.in);
		return fail(s, LG_ERR_DATA, "out of mbufs");
	}
	/* conn_queue_copy filled c->out: move it to the input side. */
	c->in = c->out;
	c->out = NULL;
	if (saved.in != NULL) {
		if (c->in == NULL)
			c->in = saved.in;
		else if (rte_pktmbuf_chain(c->in, saved.in) != 0) {
			rte_pktmbuf_free(saved.in);
			return fail(s, LG_ERR_DATA, "chain too long");
		}
	}
	return 1;
}

static int data_xfer(struct lg_ctl *ctl)
{
	struct lgd_session *s = session_of(ctl);
	return ctl->x.op == LG_OP_STOR ? data_write(s) : data_read(s);
}

static const struct lg_ctl_ops dpdk_ops = {
    .name = "ftps-loadgen-dpdk",
    .open = conn_open,
    .connected = conn_connected,
    .tls_start = conn_tls_start,
    .handshake = conn_handshake,
    .ssl = conn_ssl,
    .close = conn_close,
    .ctrl_write = ctrl_write,
    .ctrl_read = ctrl_read,
    .ctrl_wait = ctrl_wait,
    .data_ready = data_take_over,
    .data_xfer = data_xfer,
    .data_drain = data_drain,
};

void lgd_session_drive(struct lgd_session *s)
{
	if (s->in_drive) {
		s->drive_again = true;
		return;
	}
	s->in_drive = true;
	s->retry = false;
	for (;;) {
		s->drive_again = false;
		int r = lg_ctl_step(&s->ctl);
		if (r < 0)
			break;
		if (r == 0 && !s->drive_again)
			break;
		s->ctl.last_activity = lg_now();
	}
	s->in_drive = false;
}

struct lgd_session *lgd_session_start(struct lgd_run *lr, int id)
{
	struct lgd_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->lr = lr;
	s->ctrl.s = s->data.s = s;
	lg_ctl_start(&s->ctl, &lr->run, id, &dpdk_ops);
	return s;
}

void lgd_session_check_timeout(struct lgd_session *s, double now)
{
	lg_ctl_check_timeout(&s->ctl, now);
}

void lgd_session_free(struct lgd_session *s)
{
	if (s == NULL)
		return;
	lg_ctl_release(&s->ctl);
	free(s);
}
