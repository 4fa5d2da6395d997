/* Record protection: seal and open bursts (RFC 8446 5.2-5.4, RFC 5246
 * 6.2.3.3 with RFC 5288 nonces, RFC 7905 nonces), alerts and post-handshake
 * messages. */
#include "tls_conn_internal.h"
#include "iov_util.h"

#include <string.h>

#define HS_NEW_SESSION_TICKET 4
#define HS_KEY_UPDATE         24

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void fail(struct tls_conn *c)
{
	c->failed = true;
}

/* Per-record nonce: RFC 8446 5.3 (and RFC 7905 for TLS 1.2 ChaCha20):
 * static IV XOR the 64-bit sequence number, left-padded; RFC 5288 3 for
 * TLS 1.2 AES-GCM: 4-byte salt, then the 8-byte explicit nonce. */
static void make_nonce(const struct tls_conn *c, const struct tls_dir *d, uint64_t seq,
                       const uint8_t *explicit_nonce, uint8_t *nonce)
{
	if (c->suite->explicit_iv_len > 0) {
		memcpy(nonce, d->iv, 4);
		memcpy(nonce + 4, explicit_nonce, 8);
		return;
	}
	uint8_t s[8];

	put_be64(s, seq);
	memcpy(nonce, d->iv, TLS_IV_LEN);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
}

/* TLS 1.2 additional data: seq_num + type + version + plaintext length. */
static void tls12_aad(uint8_t aad[13], uint64_t seq, uint8_t type, size_t plain_len)
{
	put_be64(aad, seq);
	aad[8] = type;
	aad[9] = 0x03;
	aad[10] = 0x03;
	aad[11] = (uint8_t)(plain_len >> 8);
	aad[12] = (uint8_t)plain_len;
}

/* Header checks without side effects (see tls_record_frame). */
static int frame_check(const struct tls_conn *c, const uint8_t hdr[TLS_HEADER_LEN],
                       size_t *record_len)
{
	size_t len = ((size_t)hdr[3] << 8) | hdr[4];
	bool v13 = c->version == TLS_VERSION_13;
	size_t min = c->suite->explicit_iv_len + AEAD_TAG_LEN + (v13 ? 1 : 0);
	size_t max = v13 ? TLS13_MAX_CIPHERTEXT : TLS12_MAX_CIPHERTEXT;
	int rc = TLS_OK;

	/* RFC 8446 5.1: after the handshake every TLS 1.3 record is
	 * application_data outside; TLS 1.2 shows the real type. A handshake
	 * record under TLS 1.2 would be renegotiation, which is refused. */
	if (v13 ? hdr[0] != TLS_CT_APPLICATION_DATA
	        : hdr[0] != TLS_CT_APPLICATION_DATA && hdr[0] != TLS_CT_ALERT)
		rc = TLS_ERR_UNEXPECTED;
	else if (hdr[1] != 0x03 || hdr[2] != 0x03)
		rc = TLS_ERR_DECODE;
	else if (len > max)
		rc = TLS_ERR_RECORD_OVERFLOW;
	else if (len < min)
		rc = TLS_ERR_DECODE;
	if (rc == TLS_OK)
		*record_len = TLS_HEADER_LEN + len;
	return rc;
}

int tls_record_frame(struct tls_conn *c, const uint8_t hdr[TLS_HEADER_LEN], size_t *record_len)
{
	int rc = frame_check(c, hdr, record_len);

	if (rc != TLS_OK)
		fail(c);
	return rc;
}

/* Prepare one record of the given type for sealing: header, nonce, AAD and
 * the AEAD operation. The sequence number is taken here. */
static int seal_prepare(struct tls_conn *c, uint8_t type, const struct iovec *src, unsigned src_cnt,
                        size_t plain_len, const struct iovec *dst, unsigned dst_cnt,
                        struct tls_seal_priv *p, size_t *out_len)
{
	bool v13 = c->version == TLS_VERSION_13;
	size_t total = tls_sealed_len(c, plain_len);
	size_t clen = plain_len + (v13 ? 1 : 0);
	struct aead_op *op = &p->op;
	int n;

	if (c->tx.seq == UINT64_MAX) {
		fail(c);
		return TLS_ERR_SEQ_WRAP;
	}
	if (c->tx.seq >= c->tx_record_limit) {
		fail(c);
		return TLS_ERR_KEY_LIMIT;
	}
	if (aead_iov_len(dst, dst_cnt) < total)
		return TLS_ERR_NOSPACE;

	p->hdr[0] = v13 ? TLS_CT_APPLICATION_DATA : type;
	p->hdr[1] = 0x03;
	p->hdr[2] = 0x03;
	p->hdr[3] = (uint8_t)((total - TLS_HEADER_LEN) >> 8);
	p->hdr[4] = (uint8_t)(total - TLS_HEADER_LEN);
	p->hdr_len = (uint8_t)(TLS_HEADER_LEN + c->suite->explicit_iv_len);
	/* The explicit nonce is the sequence number: unique per key, as RFC
	 * 5288 3 requires, and what OpenSSL does too. */
	if (c->suite->explicit_iv_len > 0)
		put_be64(p->hdr + TLS_HEADER_LEN, c->tx.seq);
	make_nonce(c, &c->tx, c->tx.seq, p->hdr + TLS_HEADER_LEN, op->nonce);
	if (v13) {
		memcpy(p->aad, p->hdr, TLS_HEADER_LEN);
		op->aad_len = TLS_HEADER_LEN;
	} else {
		tls12_aad(p->aad, c->tx.seq, type, plain_len);
		op->aad_len = 13;
	}
	op->aad = p->aad;

	unsigned k = 0;
	for (unsigned i = 0; i < src_cnt; i++) {
		if (src[i].iov_len > 0)
			p->src_v[k++] = src[i];
	}
	if (v13) {
		p->inner_type = type;
		p->src_v[k].iov_base = &p->inner_type;
		p->src_v[k].iov_len = 1;
		k++;
	}
	n = iov_sub(dst, dst_cnt, p->hdr_len, clen, p->dst_v, AEAD_MAX_SEGS);
	if (n < 0)
		return TLS_ERR_INVAL;
	op->key = c->tx.aead;
	op->src = p->src_v;
	op->src_cnt = (uint16_t)k;
	op->dst = p->dst_v;
	op->dst_cnt = (uint16_t)n;
	op->status = AEAD_OK;
	*out_len = total;
	c->tx.seq++;
	return TLS_OK;
}

/* Header and tag go around the ciphertext once the AEAD has run. */
static int seal_finish(struct tls_conn *c, struct tls_seal_priv *p, const struct iovec *dst,
                       unsigned dst_cnt, size_t out_len)
{
	if (p->op.status != AEAD_OK) {
		fail(c);
		return TLS_ERR_BACKEND;
	}
	if (iov_scatter(dst, dst_cnt, 0, p->hdr, p->hdr_len) != 0 ||
	    iov_scatter(dst, dst_cnt, out_len - AEAD_TAG_LEN, p->op.tag, AEAD_TAG_LEN) != 0)
		return TLS_ERR_INVAL;
	return TLS_OK;
}

static int seal_job_prepare(struct tls_seal_job *j)
{
	struct tls_conn *c = j->conn;
	size_t plain_len;

	if (c == NULL || c->suite == NULL || j->src_cnt > TLS_MAX_SEGS ||
	    j->dst_cnt > AEAD_MAX_SEGS || (j->src_cnt > 0 && j->src == NULL) || j->dst == NULL)
		return TLS_ERR_INVAL;
	if (c->failed || c->tx_closed)
		return TLS_ERR_CLOSED;
	plain_len = aead_iov_len(j->src, j->src_cnt);
	if (plain_len > TLS_MAX_PLAINTEXT)
		return TLS_ERR_INVAL;
	if (c->tx.seq == UINT64_MAX) {
		fail(c);
		return TLS_ERR_SEQ_WRAP;
	}
	if (tls_conn_key_update_due(c))
		return TLS_ERR_KEY_UPDATE_NEEDED;
	return seal_prepare(c, TLS_CT_APPLICATION_DATA, j->src, j->src_cnt, plain_len, j->dst,
	                    j->dst_cnt, &j->priv, &j->out_len);
}

#define BURST_CHUNK 32

unsigned tls_seal_burst(struct tls_seal_job *jobs, unsigned n)
{
	struct aead_op ops[BURST_CHUNK];
	unsigned ok = 0;

	for (unsigned base = 0; base < n; base += BURST_CHUNK) {
		unsigned m = n - base < BURST_CHUNK ? n - base : BURST_CHUNK;
		unsigned k = 0;
		unsigned idx[BURST_CHUNK];

		for (unsigned i = 0; i < m; i++) {
			struct tls_seal_job *j = &jobs[base + i];

			j->out_len = 0;
			j->status = seal_job_prepare(j);
			if (j->status == TLS_OK) {
				ops[k] = j->priv.op;
				idx[k++] = base + i;
			}
		}
		aead_seal_burst(ops, k);
		for (unsigned i = 0; i < k; i++) {
			struct tls_seal_job *j = &jobs[idx[i]];

			j->priv.op.status = ops[i].status;
			memcpy(j->priv.op.tag, ops[i].tag, AEAD_TAG_LEN);
			j->status = seal_finish(j->conn, &j->priv, j->dst, j->dst_cnt, j->out_len);
			if (j->status == TLS_OK)
				ok++;
			else
				j->out_len = 0;
		}
	}
	return ok;
}

/* Seal one control record (alert or handshake) into a flat buffer. */
static int seal_control(struct tls_conn *c, uint8_t type, const uint8_t *msg, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len)
{
	struct tls_seal_priv p;
	struct iovec src = {(void *)msg, len};
	struct iovec dst = {out, cap};
	size_t total = 0;
	int rc;

	rc = seal_prepare(c, type, &src, 1, len, &dst, 1, &p, &total);
	if (rc != TLS_OK)
		return rc;
	aead_seal_burst(&p.op, 1);
	rc = seal_finish(c, &p, &dst, 1, total);
	if (rc == TLS_OK)
		*out_len = total;
	return rc;
}

int tls_seal_close_notify(struct tls_conn *c, uint8_t *out, size_t cap, size_t *out_len)
{
	static const uint8_t alert[2] = {1, TLS_ALERT_CLOSE_NOTIFY};
	int rc;

	if (c == NULL || out == NULL || out_len == NULL)
		return TLS_ERR_INVAL;
	if (c->failed || c->tx_closed)
		return TLS_ERR_CLOSED;
	rc = seal_control(c, TLS_CT_ALERT, alert, sizeof(alert), out, cap, out_len);
	if (rc == TLS_OK)
		c->tx_closed = true;
	return rc;
}

int tls_seal_alert(struct tls_conn *c, uint8_t desc, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t alert[2] = {2, desc};
	int rc;

	if (c == NULL || out == NULL || out_len == NULL || c->suite == NULL)
		return TLS_ERR_INVAL;
	if (c->tx_closed)
		return TLS_ERR_CLOSED;
	/* Allowed on a failed connection: that is when it is needed. */
	rc = seal_control(c, TLS_CT_ALERT, alert, sizeof(alert), out, cap, out_len);
	c->tx_closed = true;
	fail(c);
	return rc;
}

int tls_seal_key_update(struct tls_conn *c, bool request_peer_update, uint8_t *out, size_t cap,
                        size_t *out_len)
{
	uint8_t msg[5] = {HS_KEY_UPDATE, 0, 0, 1, request_peer_update ? 1 : 0};
	int rc;

	if (c == NULL || out == NULL || out_len == NULL || c->suite == NULL)
		return TLS_ERR_INVAL;
	if (c->version != TLS_VERSION_13)
		return TLS_ERR_UNSUPPORTED;
	if (c->failed || c->tx_closed)
		return TLS_ERR_CLOSED;
	rc = seal_control(c, TLS_CT_HANDSHAKE, msg, sizeof(msg), out, cap, out_len);
	if (rc != TLS_OK)
		return rc;
	/* RFC 8446 4.6.3: the sender switches keys right after KeyUpdate. */
	rc = tls_conn_next_key(c, &c->tx);
	if (rc != TLS_OK) {
		fail(c);
		return rc;
	}
	c->key_update_owed = false;
	c->key_updates_tx++;
	return TLS_OK;
}

static int open_job_prepare(struct tls_open_job *j)
{
	struct tls_conn *c = j->conn;
	struct tls_open_priv *p = &j->priv;
	struct aead_op *op = &p->op;
	size_t total, rec_len, body, clen, xlen;
	int rc, n;

	if (c == NULL || c->suite == NULL || j->src_cnt > AEAD_MAX_SEGS ||
	    j->dst_cnt > AEAD_MAX_SEGS || j->src == NULL || (j->dst_cnt > 0 && j->dst == NULL))
		return TLS_ERR_INVAL;
	if (c->failed || c->rx_closed)
		return TLS_ERR_CLOSED;
	total = aead_iov_len(j->src, j->src_cnt);
	if (total < TLS_HEADER_LEN)
		return TLS_ERR_NEED_MORE;
	if (iov_gather(j->src, j->src_cnt, 0, p->hdr, TLS_HEADER_LEN) != 0)
		return TLS_ERR_INVAL;
	/* A fatal error found here fails the connection only when the burst
	 * reaches this job in order (tls_open_burst), so records before it in
	 * the same burst still count. */
	rc = frame_check(c, p->hdr, &rec_len);
	if (rc != TLS_OK)
		return rc;
	if (total < rec_len)
		return TLS_ERR_NEED_MORE;
	if (total > rec_len)
		return TLS_ERR_INVAL; /* one record per job */
	if (c->rx.seq == UINT64_MAX)
		return TLS_ERR_SEQ_WRAP;
	xlen = c->suite->explicit_iv_len;
	body = rec_len - TLS_HEADER_LEN;
	clen = body - xlen - AEAD_TAG_LEN;
	if (aead_iov_len(j->dst, j->dst_cnt) < clen)
		return TLS_ERR_NOSPACE;
	if (xlen > 0 &&
	    iov_gather(j->src, j->src_cnt, TLS_HEADER_LEN, p->hdr + TLS_HEADER_LEN, xlen) != 0)
		return TLS_ERR_INVAL;
	make_nonce(c, &c->rx, c->rx.seq, p->hdr + TLS_HEADER_LEN, op->nonce);
	if (c->version == TLS_VERSION_13) {
		memcpy(p->aad, p->hdr, TLS_HEADER_LEN);
		op->aad_len = TLS_HEADER_LEN;
	} else {
		tls12_aad(p->aad, c->rx.seq, p->hdr[0], clen);
		op->aad_len = 13;
	}
	op->aad = p->aad;
	if (iov_gather(j->src, j->src_cnt, TLS_HEADER_LEN + xlen + clen, op->tag, AEAD_TAG_LEN) !=
	    0)
		return TLS_ERR_INVAL;
	n = iov_sub(j->src, j->src_cnt, TLS_HEADER_LEN + xlen, clen, p->src_v, AEAD_MAX_SEGS);
	if (n < 0)
		return TLS_ERR_INVAL;
	op->src = p->src_v;
	op->src_cnt = (uint16_t)n;
	n = iov_sub(j->dst, j->dst_cnt, 0, clen, p->dst_v, AEAD_MAX_SEGS);
	if (n < 0)
		return TLS_ERR_INVAL;
	op->dst = p->dst_v;
	op->dst_cnt = (uint16_t)n;
	op->key = c->rx.aead;
	op->status = AEAD_OK;
	p->clen = clen;
	p->epoch = c->rx.epoch;
	c->rx.seq++;
	return TLS_OK;
}

/* RFC 8446 5.4: the content type is the last non-zero byte of the inner
 * plaintext; zeros after it are padding. Returns the type's offset, or -1
 * when every byte is zero. */
static long inner_type_offset(const struct iovec *v, unsigned cnt, size_t len, uint8_t *type)
{
	size_t end = len;

	for (unsigned i = cnt; i-- > 0;) {
		const uint8_t *b = v[i].iov_base;

		for (size_t k = v[i].iov_len; k-- > 0;) {
			end--;
			if (b[k] != 0) {
				*type = b[k];
				return (long)end;
			}
		}
	}
	return -1;
}

static int handle_alert(struct tls_conn *c, const struct iovec *v, unsigned cnt, size_t len)
{
	uint8_t a[2];

	if (len != 2 || iov_gather(v, cnt, 0, a, 2) != 0) {
		fail(c);
		return TLS_ERR_DECODE;
	}
	c->peer_alert = a[1];
	if (a[1] == TLS_ALERT_CLOSE_NOTIFY) {
		c->rx_closed = true;
		return TLS_CLOSE_NOTIFY;
	}
	/* RFC 8446 6: user_canceled is the only other non-fatal alert. In
	 * TLS 1.2 any warning-level alert may be ignored (RFC 5246 7.2). */
	if (a[1] == TLS_ALERT_USER_CANCELED || (c->version == TLS_VERSION_12 && a[0] == 1))
		return TLS_OK;
	fail(c);
	return TLS_ERR_PEER_ALERT;
}

/* Post-handshake messages (RFC 8446 4.6). A message must lie inside one
 * record; KeyUpdate must end its record (RFC 8446 5.1). */
static int handle_handshake(struct tls_conn *c, const struct iovec *v, unsigned cnt, size_t len)
{
	size_t off = 0;

	if (c->version != TLS_VERSION_13 || len == 0) {
		fail(c);
		return TLS_ERR_UNEXPECTED;
	}
	while (off < len) {
		uint8_t h[5];
		size_t mlen;

		if (len - off < 4 || iov_gather(v, cnt, off, h, 4) != 0)
			goto unexpected;
		mlen = ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
		if (mlen > len - off - 4)
			goto unexpected; /* spans records: not supported here */
		switch (h[0]) {
		case HS_NEW_SESSION_TICKET:
			/* Tickets are for resumption, which the dataplane does
			 * not do; a server never receives one. */
			if (c->is_server)
				goto unexpected;
			c->tickets_rx++;
			break;
		case HS_KEY_UPDATE:
			if (mlen != 1 || off + 5 != len)
				goto unexpected;
			if (iov_gather(v, cnt, off + 4, &h[4], 1) != 0 || h[4] > 1) {
				fail(c);
				return TLS_ERR_DECODE;
			}
			if (tls_conn_next_key(c, &c->rx) != TLS_OK) {
				fail(c);
				return TLS_ERR_BACKEND;
			}
			c->key_updates_rx++;
			if (h[4] == 1)
				c->key_update_owed = true;
			break;
		default:
			goto unexpected;
		}
		off += 4 + mlen;
	}
	return TLS_OK;
unexpected:
	fail(c);
	return TLS_ERR_UNEXPECTED;
}

static int open_finish(struct tls_open_job *j)
{
	struct tls_conn *c = j->conn;
	struct tls_open_priv *p = &j->priv;
	const struct iovec *v = p->op.dst;
	unsigned cnt = p->op.dst_cnt;
	size_t len = p->clen;
	uint8_t type = p->hdr[0];
	int rc;

	if (p->epoch != c->rx.epoch)
		return TLS_ERR_RETRY; /* a KeyUpdate earlier in this burst */
	if (c->failed || c->rx_closed)
		return TLS_ERR_CLOSED;
	if (p->op.status == AEAD_ERR_AUTH) {
		fail(c);
		return TLS_ERR_BAD_RECORD_MAC;
	}
	if (p->op.status != AEAD_OK) {
		fail(c);
		return TLS_ERR_BACKEND;
	}
	if (c->version == TLS_VERSION_13) {
		long off = inner_type_offset(v, cnt, len, &type);

		if (off < 0) {
			fail(c);
			return TLS_ERR_UNEXPECTED;
		}
		len = (size_t)off;
	}
	if (len > TLS_MAX_PLAINTEXT) {
		fail(c);
		return TLS_ERR_RECORD_OVERFLOW;
	}
	j->type = type;
	switch (type) {
	case TLS_CT_APPLICATION_DATA:
		j->plain_len = len;
		return TLS_OK;
	case TLS_CT_ALERT:
		rc = handle_alert(c, v, cnt, len);
		break;
	case TLS_CT_HANDSHAKE:
		rc = handle_handshake(c, v, cnt, len);
		break;
	default:
		fail(c);
		rc = TLS_ERR_UNEXPECTED;
		break;
	}
	/* Control records are consumed here, never handed out as data. */
	aead_iov_wipe(v, cnt);
	return rc;
}

static bool is_fatal_prepare(int status)
{
	return status == TLS_ERR_UNEXPECTED || status == TLS_ERR_DECODE ||
	       status == TLS_ERR_RECORD_OVERFLOW || status == TLS_ERR_SEQ_WRAP;
}

unsigned tls_open_burst(struct tls_open_job *jobs, unsigned n)
{
	struct aead_op ops[BURST_CHUNK];
	unsigned ok = 0;

	for (unsigned base = 0; base < n; base += BURST_CHUNK) {
		unsigned m = n - base < BURST_CHUNK ? n - base : BURST_CHUNK;
		unsigned idx[BURST_CHUNK];
		unsigned k = 0;

		for (unsigned i = 0; i < m; i++) {
			struct tls_open_job *j = &jobs[base + i];

			j->plain_len = 0;
			j->type = 0;
			j->status = open_job_prepare(j);
			if (j->status == TLS_OK) {
				ops[k] = j->priv.op;
				idx[k++] = base + i;
			}
		}
		aead_open_burst(ops, k);
		/* Results in job order, so the state changes a record makes
		 * (KeyUpdate, close_notify, a fatal error) apply to the records
		 * after it, never before. */
		for (unsigned i = 0, o = 0; i < m; i++) {
			struct tls_open_job *j = &jobs[base + i];

			if (o < k && idx[o] == base + i) {
				j->priv.op.status = ops[o++].status;
				j->status = open_finish(j);
				if (j->status < 0)
					aead_iov_wipe(j->priv.op.dst, j->priv.op.dst_cnt);
			} else if (is_fatal_prepare(j->status) && j->conn != NULL) {
				fail(j->conn);
			}
			if (j->status >= 0)
				ok++;
		}
	}
	return ok;
}

int tls_seal_buf(struct tls_conn *c, const void *in, size_t len, uint8_t *out, size_t cap,
                 size_t *out_len)
{
	struct iovec src = {(void *)in, len};
	struct iovec dst = {out, cap};
	struct tls_seal_job j = {.conn = c, .src = &src, .src_cnt = 1, .dst = &dst, .dst_cnt = 1};

	tls_seal_burst(&j, 1);
	*out_len = j.out_len;
	return j.status;
}

int tls_open_buf(struct tls_conn *c, const uint8_t *in, size_t in_len, size_t *consumed,
                 uint8_t *out, size_t cap, size_t *plain_len)
{
	size_t rec_len;
	int rc;

	*consumed = 0;
	*plain_len = 0;
	if (c == NULL || c->suite == NULL || in == NULL)
		return TLS_ERR_INVAL;
	if (c->failed || c->rx_closed)
		return TLS_ERR_CLOSED;
	if (in_len < TLS_HEADER_LEN)
		return TLS_ERR_NEED_MORE;
	rc = tls_record_frame(c, in, &rec_len);
	if (rc != TLS_OK)
		return rc;
	if (in_len < rec_len)
		return TLS_ERR_NEED_MORE;

	struct iovec src = {(void *)in, rec_len};
	struct iovec dst = {out, cap};
	struct tls_open_job j = {.conn = c, .src = &src, .src_cnt = 1, .dst = &dst, .dst_cnt = 1};

	tls_open_burst(&j, 1);
	/* The record is used up when it was processed, good or bad; not when
	 * the call could not look at it (no room, bad arguments). */
	if (j.status >= 0 || (j.status != TLS_ERR_NEED_MORE && j.status != TLS_ERR_RETRY &&
	                      j.status != TLS_ERR_NOSPACE && j.status != TLS_ERR_INVAL))
		*consumed = rec_len;
	*plain_len = j.plain_len;
	return j.status;
}
