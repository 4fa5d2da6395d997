/* One FTPS session of the DPDK load generator: the same FTP state machine as
 * lg_session.c (kernel mode), on TCP-stack connections.  OpenSSL runs over
 * memory BIOs: bytes from tcp_recv() are written into the read BIO, and
 * what OpenSSL writes is drained from the write BIO into mbufs for
 * tcp_send().  On a data connection, once the (resumed) handshake is done,
 * tls_import_export() hands the keys and the counted sequence numbers to
 * the record layer, which opens downloads straight from the RX mbufs and
 * seals uploads straight into one-record TX mbufs.
 *
 * Driving: TCP callbacks (connected, readable, writable, closed) call
 * lgd_session_drive(), which runs steps until none makes progress; a session
 * that waits for record mbufs sets `retry` and the poll loop drives it. */
#include "lgd.h"
#include "lg_ftp.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "net_mbuf.h"

/* ---- session bookkeeping (as lg_session.c) --------------------------- */

static void data_reset(struct lgd_session *s)
{
	lgd_conn_close(&s->data);
	s->ds = LG_D_NONE;
	s->close_sent = false;
	if (s->md != NULL) {
		EVP_MD_CTX_free(s->md);
		s->md = NULL;
	}
}

static int fail(struct lgd_session *s, enum lg_error e, const char *why)
{
	if (s->cs != LG_C_DONE) {
		s->run->errors[e]++;
		if (!s->run->opt.json || getenv("LG_DEBUG") != NULL)
			fprintf(stderr, "ftps-loadgen-dpdk: session %d: %s error: %s\n", s->id,
			        lg_error_name(e), why);
		data_reset(s);
		lgd_conn_close(&s->ctrl);
		s->cs = LG_C_DONE;
		s->run->live_sessions--;
	}
	ERR_clear_error();
	return -1;
}

static void ctrl_send(struct lgd_session *s, enum lg_cstate next, const char *fmt, ...)
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

/* Hands the pending command to OpenSSL or the plain queue: 1 done, -1 error. */
static int ctrl_flush(struct lgd_session *s)
{
	struct lgd_conn *c = &s->ctrl;
	while (s->out_off < s->out_len) {
		size_t left = s->out_len - s->out_off;
		if (c->ssl != NULL) {
			int n = SSL_write(c->ssl, s->out + s->out_off, (int)left);
			if (n <= 0)
				return fail(s, LG_ERR_TLS, "control write");
			s->out_off += (size_t)n;
		} else {
			if (lgd_conn_queue_copy(c, s->out + s->out_off, left) != 0)
				return fail(s, LG_ERR_CONNECT, "control send: out of mbufs");
			s->out_off = s->out_len;
		}
	}
	if (lgd_conn_flush(c) < 0)
		return fail(s, LG_ERR_CONNECT, "control send");
	return 1;
}

static int ctrl_parse(struct lgd_session *s)
{
	return lg_reply_take(s->in, &s->in_len, sizeof(s->in), &s->reply_code, s->reply_line,
	                     sizeof(s->reply_line));
}

/* 1 a reply is ready, 0 waiting, -1 error. */
static int ctrl_read(struct lgd_session *s)
{
	struct lgd_conn *c = &s->ctrl;
	for (;;) {
		int r = ctrl_parse(s);
		if (r < 0)
			return fail(s, LG_ERR_PROTOCOL, "malformed reply");
		if (r > 0)
			return 1;
		size_t room = sizeof(s->in) - s->in_len;
		if (c->ssl != NULL) {
			int n = SSL_read(c->ssl, s->in + s->in_len, (int)room);
			if (n > 0) {
				s->in_len += (size_t)n;
				continue;
			}
			int e = SSL_get_error(c->ssl, n);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return fail(s, LG_ERR_TLS, "control connection closed");
		} else if (c->in != NULL) {
			uint32_t n = c->in->pkt_len < room ? c->in->pkt_len : (uint32_t)room;
			const void *p = rte_pktmbuf_read(c->in, 0, n, s->in + s->in_len);
			if (p != s->in + s->in_len)
				memcpy(s->in + s->in_len, p, n);
			s->in_len += n;
			c->in = net_chain_consume(c->in, n);
			continue;
		}
		if (c->state == LGD_TCP_FAILED || c->eof)
			return fail(s, LG_ERR_CONNECT, "control connection closed");
		return 0;
	}
}

static void start_next(struct lgd_session *s);

static int finish_op(struct lgd_session *s)
{
	enum lg_error err = LG_ERR_PROTOCOL;
	const char *why = "";
	if (lg_finish_transfer(s->run, &s->x, s->bytes, s->md, s->t_op, &err, &why) != 0)
		return fail(s, err, why);
	data_reset(s);
	start_next(s);
	return 1;
}

static void start_next(struct lgd_session *s)
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
	s->close_sent = false;
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

static int on_reply(struct lgd_session *s)
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
		if (lgd_conn_tls_new(s, &s->ctrl) == NULL)
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
		/* The login replies have been read, so a TLS 1.3 server's
		 * tickets are in the session: data connections resume it. */
		s->tls_session = SSL_get1_session(s->ctrl.ssl);
		if (s->tls_session == NULL)
			return fail(s, LG_ERR_TLS, "no TLS session to resume");
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
		if (lgd_conn_open(s, &s->data, port) != 0)
			return fail(s, LG_ERR_CONNECT, "data connect");
		s->data_port = port;
		s->ds = LG_D_CONNECTING;
		s->cs = LG_C_XFER_CMD;
		s->out_len = s->out_off = 0;
		return 1;
	}
	case LG_C_XFER_CMD:
		if (code == 226 || code == 250) {
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
		lgd_conn_close(&s->ctrl);
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

static int step_ctrl(struct lgd_session *s)
{
	struct lg_run *run = s->run;
	struct lgd_conn *c = &s->ctrl;
	int progress = 0;
	switch (s->cs) {
	case LG_C_DONE:
		return 0;
	case LG_C_CONNECTING:
		if (c->state == LGD_TCP_FAILED)
			return fail(s, LG_ERR_CONNECT, "control connect");
		if (c->state != LGD_TCP_OPEN)
			return 0;
		lg_hist_add(&run->lat_connect, lg_now() - s->t_connect);
		s->cs = LG_C_BANNER;
		return 1;
	case LG_C_HANDSHAKE: {
		int r = SSL_do_handshake(c->ssl);
		if (lgd_conn_flush(c) < 0)
			return fail(s, LG_ERR_CONNECT, "control send");
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return fail(s, LG_ERR_TLS, "control handshake");
			if (c->state == LGD_TCP_FAILED || c->eof)
				return fail(s, LG_ERR_TLS, "control handshake: connection closed");
			return 0;
		}
		lg_hist_add(&run->lat_handshake, lg_now() - s->t_handshake);
		ctrl_send(s, LG_C_USER, "USER %s", run->opt.user);
		return 1;
	}
	default:
		break;
	}
	if (s->cs == LG_C_XFER_CMD && s->ds == LG_D_CONNECTING) {
		/* The command goes out once the data connection is up. */
		if (c->state == LGD_TCP_FAILED)
			return fail(s, LG_ERR_CONNECT, "control connection lost");
		return 0;
	}
	if (s->out_off < s->out_len) {
		if (ctrl_flush(s) < 0)
			return -1;
		progress = 1;
		if (s->cs == LG_C_XFER_CMD)
			s->t_cmd = lg_now();
	} else if (c->out != NULL && lgd_conn_flush(c) < 0) {
		return fail(s, LG_ERR_CONNECT, "control send");
	}
	int r = ctrl_read(s);
	if (r < 0)
		return r;
	if (r == 0)
		return progress;
	return on_reply(s) < 0 ? -1 : 1;
}

/* ---- data connection ------------------------------------------------ */

static int data_finished(struct lgd_session *s)
{
	lgd_conn_close(&s->data);
	s->ds = LG_D_NONE;
	s->data_done = 1;
	return s->ctrl_done ? finish_op(s) : 1;
}

/* Opens every complete record received, LGD_OPEN_BURST at a time, into
 * the session buffer and hashes the plaintext.  1 progress, 0 none, -1
 * failed. */
static int data_open_records(struct lgd_session *s)
{
	struct lgd_conn *c = &s->data;
	struct lg_run *run = s->run;
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
			dst[n] = (struct iovec){s->buf + dst_off, record_len - TLS_HEADER_LEN};
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
				s->clean_close = 1;
				continue;
			}
			if (st != TLS_OK) {
				c->in = net_chain_consume(c->in, consumed);
				return fail(s, LG_ERR_TLS, tls_strerror(st));
			}
			if (jobs[i].plain_len == 0)
				continue;
			if (!s->first_byte_seen) {
				s->first_byte_seen = 1;
				lg_hist_add(&run->lat_first_byte, lg_now() - s->t_cmd);
			}
			s->bytes += jobs[i].plain_len;
			if (s->md != NULL &&
			    !EVP_DigestUpdate(s->md, dst[i].iov_base, jobs[i].plain_len)) {
				c->in = net_chain_consume(c->in, consumed);
				return fail(s, LG_ERR_PROTOCOL, "SHA-256 update");
			}
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
	if (!s->clean_close)
		s->run->errors[LG_ERR_TRUNCATED]++; /* the size check decides the rest */
	return data_finished(s);
}

/* Seals n bytes of s->buf into one-record mbufs queued on the connection. */
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
		src[i] = (struct iovec){s->buf + off, piece};
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
		if (s->bytes == s->x.expect_size || s->close_sent)
			break;
		/* tcp_send takes a chain whenever the send queue is below its
		 * budget; once it is full, writable() comes at half. */
		if (tcp_send_space(c->tc) == 0)
			return progress;
		if (tls_conn_key_update_due(&c->tls)) {
			r = data_seal_control(s, false);
			if (r < 0)
				return fail(s, LG_ERR_TLS, "KeyUpdate");
			if (r == 0)
				goto wait_mbufs;
		}
		uint64_t left = s->x.expect_size - s->bytes;
		uint32_t n = left < LGD_SEAL_CHUNK ? (uint32_t)left : LGD_SEAL_CHUNK;
		if (rte_mempool_avail_count(s->lr->record_pool) <
		    (n + TLS_MAX_PLAINTEXT - 1) / TLS_MAX_PLAINTEXT)
			goto wait_mbufs;
		lg_pattern_fill(s->pattern, s->bytes, s->buf, n);
		if (s->md != NULL && !EVP_DigestUpdate(s->md, s->buf, n))
			return fail(s, LG_ERR_PROTOCOL, "SHA-256 update");
		r = data_seal(s, n);
		if (r < 0)
			return fail(s, LG_ERR_TLS, "seal");
		if (r == 0)
			goto wait_mbufs;
		s->bytes += n;
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
	s->ds = LG_D_DRAIN;
	return 1;
wait_mbufs:
	s->retry = true;
	s->lr->pool_waits++;
	return progress;
}

static int data_drain(struct lgd_session *s)
{
	struct lgd_conn *c = &s->data;
	rte_pktmbuf_free(c->in); /* the upload's fate is in the reply */
	c->in = NULL;
	if (c->eof || c->state == LGD_TCP_FAILED)
		return data_finished(s);
	return 0;
}

/* Handshake done: export the keys and let the record layer take over. */
static int data_take_over(struct lgd_session *s)
{
	struct lgd_conn *c = &s->data;
	struct tls_conn_keys keys;
	char err[160];
	size_t leftover = 0;
	if (SSL_session_reused(c->ssl))
		s->run->resumed++;
	else
		s->run->not_resumed++;
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
	s->ds = LG_D_XFER;
	return 1;
}

static int step_data(struct lgd_session *s)
{
	struct lg_run *run = s->run;
	struct lgd_conn *c = &s->data;
	switch (s->ds) {
	case LG_D_NONE:
		return 0;
	case LG_D_CONNECTING: {
		if (c->state == LGD_TCP_FAILED)
			return fail(s, LG_ERR_CONNECT, "data connect");
		if (c->state != LGD_TCP_OPEN)
			return 0;
		lg_hist_add(&run->lat_connect, lg_now() - s->t_connect);
		if (lgd_conn_tls_new(s, c) == NULL || tls_import_ssl_setup(c->ssl) != 0)
			return fail(s, LG_ERR_TLS, "data SSL_new");
		/* Each data connection resumes its own copy of the control
		 * session (OpenSSL marks a used TLS 1.3 session not resumable). */
		SSL_SESSION *copy = SSL_SESSION_dup(s->tls_session);
		int ok = copy != NULL && SSL_set_session(c->ssl, copy);
		SSL_SESSION_free(copy);
		if (!ok)
			return fail(s, LG_ERR_TLS, "data SSL_set_session");
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
		int r = SSL_do_handshake(c->ssl);
		int f = lgd_conn_flush(c);
		if (f < 0)
			return fail(s, LG_ERR_DATA, "data send");
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return fail(s, LG_ERR_TLS, "data handshake");
			if (c->state == LGD_TCP_FAILED || c->eof)
				return fail(s, LG_ERR_TLS, "data handshake: connection closed");
			return 0;
		}
		if (BIO_ctrl_pending(c->net_out) > 0) {
			s->retry = true; /* the Finished waits for packet mbufs */
			return 0;
		}
		lg_hist_add(&run->lat_handshake, lg_now() - s->t_handshake);
		return data_take_over(s);
	}
	case LG_D_XFER:
		return s->x.op == LG_OP_STOR ? data_write(s) : data_read(s);
	case LG_D_DRAIN:
		return data_drain(s);
	}
	return 0;
}

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
		int p = step_ctrl(s);
		if (p < 0)
			break;
		int q = step_data(s);
		if (q < 0)
			break;
		if (p == 0 && q == 0 && !s->drive_again)
			break;
		s->last_activity = lg_now();
	}
	s->in_drive = false;
}

struct lgd_session *lgd_session_start(struct lgd_run *lr, int id)
{
	struct lgd_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->id = id;
	s->lr = lr;
	s->run = &lr->run;
	s->ctrl.s = s->data.s = s;
	s->pattern = malloc(sizeof(*s->pattern));
	s->buf = malloc(LG_BUF_SIZE);
	s->run->live_sessions++;
	s->cs = LG_C_CONNECTING;
	s->t_connect = s->last_activity = lg_now();
	if (s->pattern == NULL || s->buf == NULL)
		fail(s, LG_ERR_CONNECT, "out of memory");
	else if (lgd_conn_open(s, &s->ctrl, s->run->opt.port) != 0)
		fail(s, LG_ERR_CONNECT, strerror(-s->ctrl.error));
	return s;
}

void lgd_session_check_timeout(struct lgd_session *s, double now)
{
	if (s->cs != LG_C_DONE && now - s->last_activity > s->run->opt.idle_timeout)
		fail(s, LG_ERR_TIMEOUT, "no progress");
}

void lgd_session_free(struct lgd_session *s)
{
	if (s == NULL)
		return;
	data_reset(s);
	lgd_conn_close(&s->ctrl);
	SSL_SESSION_free(s->tls_session);
	free(s->pattern);
	free(s->buf);
	free(s);
}
