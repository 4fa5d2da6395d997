/* Interop with OpenSSL's own record layer, on one backend (argv[1]).
 *
 * An OpenSSL client and an OpenSSL server handshake over memory BIOs (TLS
 * 1.2 and 1.3, every suite the layer supports); then this layer takes over
 * the server side (tls_import_export + tls_conn_init) and data flows both
 * ways against the OpenSSL client: argv[2] MiB (default 100) each way for
 * TLS 1.3 AES-128-GCM, 4 MiB for the others. Mid-stream the client sends a
 * KeyUpdate asking for ours; our side also starts KeyUpdates itself; both
 * sides close with close_notify. Unsupported suites are refused. */
#include "check.h"
#include "crypto_test_util.h"
#include "tls_import.h"
#include "tls_record.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static EVP_PKEY *ec_key, *rsa_key;
static X509 *ec_cert, *rsa_cert;

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (x == NULL)
		return NULL;
	if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) == NULL || X509_set_pubkey(x, key) != 1)
		goto fail;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1,
	                               -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

struct pair {
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
};

struct suite_case {
	int version; /* TLS1_2_VERSION / TLS1_3_VERSION */
	const char *name;
	bool rsa;
};

static void pair_free(struct pair *p)
{
	SSL_free(p->s);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	memset(p, 0, sizeof(*p));
}

static int pair_ssl(struct pair *p);

/* A keylog callback the application had before ours keeps being called. */
static unsigned keylog_lines;
static void count_keylog(const SSL *ssl, const char *line)
{
	(void)ssl;
	if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0 ||
	    strncmp(line, "CLIENT_RANDOM ", 14) == 0)
		keylog_lines++;
}

static int pair_new(struct pair *p, const struct suite_case *sc)
{
	memset(p, 0, sizeof(*p));
	p->sctx = SSL_CTX_new(TLS_server_method());
	p->cctx = SSL_CTX_new(TLS_client_method());
	if (p->sctx == NULL || p->cctx == NULL)
		return -1;
	SSL_CTX *both[2] = {p->sctx, p->cctx};
	for (int i = 0; i < 2; i++) {
		if (SSL_CTX_set_min_proto_version(both[i], sc->version) != 1 ||
		    SSL_CTX_set_max_proto_version(both[i], sc->version) != 1)
			return -1;
		if (sc->version == TLS1_3_VERSION) {
			if (SSL_CTX_set_ciphersuites(both[i], sc->name) != 1)
				return -1;
		} else if (SSL_CTX_set_cipher_list(both[i], sc->name) != 1) {
			return -1;
		}
	}
	if (SSL_CTX_use_certificate(p->sctx, sc->rsa ? rsa_cert : ec_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(p->sctx, sc->rsa ? rsa_key : ec_key) != 1)
		return -1;
	SSL_CTX_set_keylog_callback(p->sctx, count_keylog);
	if (tls_import_ctx_setup(p->sctx) != 0 || tls_import_ctx_setup(p->cctx) != 0)
		return -1;
	/* The client keeps sessions so a second connection can resume. */
	SSL_CTX_set_session_cache_mode(p->cctx, SSL_SESS_CACHE_CLIENT);
	return pair_ssl(p);
}

/* New SSL objects on the pair's contexts (a second connection). */
static int pair_ssl(struct pair *p)
{
	SSL_free(p->s);
	SSL_free(p->c);
	p->s = SSL_new(p->sctx);
	p->c = SSL_new(p->cctx);
	if (p->s == NULL || p->c == NULL || tls_import_ssl_setup(p->s) != 0 ||
	    tls_import_ssl_setup(p->c) != 0)
		return -1;
	SSL_set_bio(p->s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_bio(p->c, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	return 0;
}

/* Move everything from one SSL's write BIO into another's read BIO. */
static void pump(SSL *from, SSL *to)
{
	uint8_t buf[16384];
	int n;

	while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof(buf))) > 0) {
		if (BIO_write(SSL_get_rbio(to), buf, n) != n)
			abort();
	}
}

#define EARLY_LEN 3000
#define SEED_C2S  11
#define SEED_S2C  22

/* Handshake; the client sends EARLY_LEN bytes right after its own
 * handshake, so they reach the server behind its last flight. */
static int handshake(struct pair *p)
{
	bool cdone = false, sdone = false, sent = false;
	uint8_t early[EARLY_LEN];

	pattern_fill(early, sizeof(early), 0, SEED_C2S);
	for (int round = 0; round < 20 && !(cdone && sdone); round++) {
		if (!cdone) {
			int rc = SSL_do_handshake(p->c);
			if (rc == 1)
				cdone = true;
			else if (SSL_get_error(p->c, rc) != SSL_ERROR_WANT_READ)
				return -1;
		}
		if (cdone && !sent) {
			if (SSL_write(p->c, early, sizeof(early)) != (int)sizeof(early))
				return -1;
			sent = true;
		}
		pump(p->c, p->s);
		if (!sdone) {
			int rc = SSL_do_handshake(p->s);
			if (rc == 1)
				sdone = true;
			else if (SSL_get_error(p->s, rc) != SSL_ERROR_WANT_READ)
				return -1;
		}
		pump(p->s, p->c);
	}
	if (!sent && cdone) {
		if (SSL_write(p->c, early, sizeof(early)) != (int)sizeof(early))
			return -1;
		pump(p->c, p->s);
	}
	return cdone && sdone ? 0 : -1;
}

/* The server side of a flow, run by this layer. */
struct server {
	struct tls_conn conn;
	uint8_t *in; /* received, not yet opened bytes */
	size_t in_len, in_cap;
	uint64_t got; /* application bytes opened */
	bool closed;  /* close_notify received */
	int error;
};

static void server_feed(struct server *sv, const uint8_t *b, size_t n)
{
	if (sv->in_len + n > sv->in_cap) {
		fprintf(stderr, "inbound buffer overflow\n");
		abort();
	}
	memcpy(sv->in + sv->in_len, b, n);
	sv->in_len += n;
}

/* Open every complete record in sv->in, in bursts of up to 8, plaintext
 * into two-segment buffers, checking the data pattern. */
static void server_open_all(struct server *sv)
{
	enum { BURST = 8 };
	static uint8_t plain[BURST][TLS_MAX_OPEN_RECORD];
	struct tls_open_job jobs[BURST];
	struct iovec src[BURST], dst[BURST][2];
	size_t off = 0;

	while (!sv->closed && sv->error == 0) {
		unsigned n = 0;
		size_t scan = off;

		while (n < BURST && sv->in_len - scan >= TLS_HEADER_LEN) {
			size_t rec_len;
			int rc = tls_record_frame(&sv->conn, sv->in + scan, &rec_len);

			if (rc != TLS_OK) {
				sv->error = rc;
				break;
			}
			if (sv->in_len - scan < rec_len)
				break;
			src[n].iov_base = sv->in + scan;
			src[n].iov_len = rec_len;
			/* Cut the output in two at an odd place. */
			dst[n][0].iov_base = plain[n];
			dst[n][0].iov_len = 1001;
			dst[n][1].iov_base = plain[n] + 1001;
			dst[n][1].iov_len = sizeof(plain[n]) - 1001;
			memset(&jobs[n], 0, sizeof(jobs[n]));
			jobs[n].conn = &sv->conn;
			jobs[n].src = &src[n];
			jobs[n].src_cnt = 1;
			jobs[n].dst = dst[n];
			jobs[n].dst_cnt = 2;
			scan += rec_len;
			n++;
		}
		if (n == 0 || sv->error != 0)
			break;
		tls_open_burst(jobs, n);
		for (unsigned i = 0; i < n; i++) {
			struct tls_open_job *j = &jobs[i];

			if (j->status == TLS_ERR_RETRY)
				break; /* reopen from here under the new key */
			off += j->src->iov_len;
			if (j->status == TLS_CLOSE_NOTIFY) {
				sv->closed = true;
				break;
			}
			if (j->status != TLS_OK) {
				fprintf(stderr, "open: %s\n", tls_strerror(j->status));
				sv->error = j->status;
				break;
			}
			if (j->plain_len > 0 &&
			    pattern_check(plain[i], j->plain_len, sv->got, SEED_C2S) != 0) {
				fprintf(stderr, "c2s data mismatch at %llu\n",
				        (unsigned long long)sv->got);
				sv->error = TLS_ERR_INVAL;
				break;
			}
			sv->got += j->plain_len;
		}
	}
	memmove(sv->in, sv->in + off, sv->in_len - off);
	sv->in_len -= off;
}

/* Seal up to 8 records of our data into the client's read BIO. Each source
 * comes from two iovecs and each record lands in three output segments.
 * Returns bytes of application data sent. */
static size_t server_seal_some(struct server *sv, SSL *client, uint64_t sent, uint64_t total)
{
	enum { BURST = 8, REC = TLS_MAX_PLAINTEXT };
	static uint8_t data[BURST][REC], out[BURST][TLS_MAX_SEAL_RECORD];
	struct tls_seal_job jobs[BURST];
	struct iovec src[BURST][2], dst[BURST][3];
	uint8_t ku[64];
	size_t ku_len, done = 0;
	unsigned n = 0;

	if (tls_conn_key_update_due(&sv->conn)) {
		if (tls_seal_key_update(&sv->conn, false, ku, sizeof(ku), &ku_len) != TLS_OK ||
		    BIO_write(SSL_get_rbio(client), ku, (int)ku_len) != (int)ku_len) {
			sv->error = TLS_ERR_INVAL;
			return 0;
		}
	}
	for (uint64_t off = sent; n < BURST && off < total; n++) {
		size_t len = total - off < REC ? (size_t)(total - off) : REC;

		pattern_fill(data[n], len, off, SEED_S2C);
		size_t a = len / 3;
		src[n][0] = (struct iovec){data[n], a};
		src[n][1] = (struct iovec){data[n] + a, len - a};
		size_t rec = tls_sealed_len(&sv->conn, len);
		dst[n][0] = (struct iovec){out[n], 3}; /* splits the header */
		dst[n][1] = (struct iovec){out[n] + 3, rec / 2};
		dst[n][2] = (struct iovec){out[n] + 3 + rec / 2, sizeof(out[n]) - 3 - rec / 2};
		memset(&jobs[n], 0, sizeof(jobs[n]));
		jobs[n].conn = &sv->conn;
		jobs[n].src = src[n];
		jobs[n].src_cnt = 2;
		jobs[n].dst = dst[n];
		jobs[n].dst_cnt = 3;
		off += len;
	}
	tls_seal_burst(jobs, n);
	for (unsigned i = 0; i < n; i++) {
		if (jobs[i].status == TLS_ERR_KEY_UPDATE_NEEDED)
			break; /* the rest goes after the KeyUpdate, next round */
		if (jobs[i].status != TLS_OK) {
			fprintf(stderr, "seal: %s\n", tls_strerror(jobs[i].status));
			sv->error = jobs[i].status;
			break;
		}
		if (BIO_write(SSL_get_rbio(client), out[i], (int)jobs[i].out_len) !=
		    (int)jobs[i].out_len)
			abort();
		done += src[i][0].iov_len + src[i][1].iov_len;
	}
	return done;
}

struct flow_result {
	uint64_t c2s, s2c;
	uint64_t key_updates_rx, key_updates_tx;
	bool ok;
};

static void flow(const struct aead_backend *be, const struct suite_case *sc, uint64_t total,
                 uint64_t update_after, struct flow_result *res)
{
	struct pair p;
	struct tls_conn_keys keys;
	static struct server sv;
	static uint8_t cbuf[65536];
	uint8_t leftover[65536];
	size_t left_len = 0;
	char err[256] = "";
	uint64_t c2s_sent = EARLY_LEN, s2c_sent = 0, s2c_got = 0;
	bool ku_sent = false;

	memset(res, 0, sizeof(*res));
	CHECK_EQ(pair_new(&p, sc), 0);
	CHECK_EQ(handshake(&p), 0);
	int rc =
	    tls_import_export(p.s, &keys, leftover, sizeof(leftover), &left_len, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "%s: export: %s\n", sc->name, err);
		pair_free(&p);
		return;
	}
	/* What OpenSSL already sent under the application keys, counted from
	 * its message callback: two NewSessionTickets (TLS 1.3) or the
	 * Finished (TLS 1.2). */
	printf("  %s: takeover at tx_seq %llu rx_seq %llu, %zu leftover bytes\n", sc->name,
	       (unsigned long long)keys.tx_seq, (unsigned long long)keys.rx_seq, left_len);
	CHECK_EQ(keys.tx_seq, sc->version == TLS1_3_VERSION ? 2 : 1);
	CHECK_EQ(keys.rx_seq, sc->version == TLS1_3_VERSION ? 0 : 1);
	CHECK(left_len > EARLY_LEN);

	memset(&sv, 0, sizeof(sv));
	sv.in_cap = 4 << 20;
	sv.in = malloc(sv.in_cap);
	CHECK_EQ(tls_conn_init(&sv.conn, &keys, be), TLS_OK);
	OPENSSL_cleanse(&keys, sizeof(keys));
	if (update_after > 0)
		sv.conn.tx_update_after = update_after;
	server_feed(&sv, leftover, left_len);
	server_open_all(&sv);
	CHECK_EQ(sv.got, EARLY_LEN);

	while (sv.error == 0 && (sv.got < total || s2c_got < total)) {
		bool progress = false;

		if (c2s_sent < total) {
			size_t n = total - c2s_sent < sizeof(cbuf) ? (size_t)(total - c2s_sent)
			                                           : sizeof(cbuf);
			/* Halfway, the client updates its keys and asks for
			 * ours (RFC 8446 4.6.3). */
			if (!ku_sent && sc->version == TLS1_3_VERSION && c2s_sent >= total / 2) {
				CHECK_EQ(SSL_key_update(p.c, SSL_KEY_UPDATE_REQUESTED), 1);
				ku_sent = true;
			}
			pattern_fill(cbuf, n, c2s_sent, SEED_C2S);
			CHECK_EQ(SSL_write(p.c, cbuf, (int)n), (int)n);
			c2s_sent += n;
			progress = true;
		}
		int m;
		while ((m = BIO_read(SSL_get_wbio(p.c), cbuf, sizeof(cbuf))) > 0)
			server_feed(&sv, cbuf, (size_t)m);
		uint64_t before = sv.got;
		server_open_all(&sv);
		progress |= sv.got != before;
		if (s2c_sent < total) {
			size_t d = server_seal_some(&sv, p.c, s2c_sent, total);
			s2c_sent += d;
			progress |= d > 0;
		}
		while ((m = SSL_read(p.c, cbuf, sizeof(cbuf))) > 0) {
			if (pattern_check(cbuf, (size_t)m, s2c_got, SEED_S2C) != 0) {
				fprintf(stderr, "s2c data mismatch at %llu\n",
				        (unsigned long long)s2c_got);
				sv.error = TLS_ERR_INVAL;
				break;
			}
			s2c_got += (size_t)m;
			progress = true;
		}
		if (m <= 0 && SSL_get_error(p.c, m) != SSL_ERROR_WANT_READ) {
			fprintf(stderr, "client SSL_read failed\n");
			ERR_print_errors_fp(stderr);
			sv.error = TLS_ERR_INVAL;
		}
		if (!progress) {
			fprintf(stderr, "no progress\n");
			break;
		}
	}
	CHECK_EQ(sv.error, 0);
	CHECK_EQ(sv.got, total);
	CHECK_EQ(s2c_got, total);

	/* A KeyUpdate the client asked for after our last data still goes
	 * out (RFC 8446 4.6.3 only requires it before more data). */
	if (tls_conn_key_update_due(&sv.conn)) {
		uint8_t ku[64];
		size_t ku_len;

		CHECK_EQ(tls_seal_key_update(&sv.conn, false, ku, sizeof(ku), &ku_len), TLS_OK);
		CHECK_EQ(BIO_write(SSL_get_rbio(p.c), ku, (int)ku_len), (int)ku_len);
	}
	/* close_notify from the client, then ours. */
	CHECK(SSL_shutdown(p.c) >= 0);
	int m;
	while ((m = BIO_read(SSL_get_wbio(p.c), cbuf, sizeof(cbuf))) > 0)
		server_feed(&sv, cbuf, (size_t)m);
	server_open_all(&sv);
	CHECK(sv.closed);
	uint8_t cn[64];
	size_t cn_len;
	CHECK_EQ(tls_seal_close_notify(&sv.conn, cn, sizeof(cn), &cn_len), TLS_OK);
	CHECK_EQ(BIO_write(SSL_get_rbio(p.c), cn, (int)cn_len), (int)cn_len);
	CHECK_EQ(SSL_shutdown(p.c), 1); /* the client saw our close_notify */

	res->c2s = sv.got;
	res->s2c = s2c_got;
	res->key_updates_rx = sv.conn.key_updates_rx;
	res->key_updates_tx = sv.conn.key_updates_tx;
	res->ok = sv.error == 0 && sv.got == total && s2c_got == total && sv.closed;
	printf("  %s: %llu bytes each way, KeyUpdates received %llu sent %llu: %s\n", sc->name,
	       (unsigned long long)total, (unsigned long long)res->key_updates_rx,
	       (unsigned long long)res->key_updates_tx, res->ok ? "ok" : "FAILED");
	tls_conn_fini(&sv.conn);
	free(sv.in);
	pair_free(&p);
}

/* A suite outside the list is refused with a clear reason. */
static void refused(const struct suite_case *sc)
{
	struct pair p;
	struct tls_conn_keys keys;
	uint8_t left[4096];
	size_t left_len;
	char err[256] = "";

	CHECK_EQ(pair_new(&p, sc), 0);
	CHECK_EQ(handshake(&p), 0);
	CHECK_EQ(tls_import_export(p.s, &keys, left, sizeof(left), &left_len, err, sizeof(err)),
	         -1);
	CHECK(strstr(err, "not supported") != NULL);
	printf("  %s refused: %s\n", sc->name, err);
	pair_free(&p);
}

/* After a forged record the server sends a fatal bad_record_mac alert,
 * which OpenSSL reports as such. */
static void fatal_alert(const struct aead_backend *be)
{
	static const struct suite_case sc = {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", false};
	struct pair p;
	struct tls_conn_keys keys;
	struct tls_conn c;
	uint8_t left[65536], out[TLS_MAX_OPEN_RECORD], alert[64];
	size_t left_len, consumed, plain, alen;
	char err[256];

	CHECK_EQ(pair_new(&p, &sc), 0);
	CHECK_EQ(handshake(&p), 0);
	CHECK_EQ(tls_import_export(p.s, &keys, left, sizeof(left), &left_len, err, sizeof(err)), 0);
	CHECK_EQ(tls_conn_init(&c, &keys, be), TLS_OK);
	left[left_len - 1] ^= 1; /* the tag of the client's early data */
	CHECK_EQ(tls_open_buf(&c, left, left_len, &consumed, out, sizeof(out), &plain),
	         TLS_ERR_BAD_RECORD_MAC);
	CHECK_EQ(plain, 0);
	CHECK_EQ(tls_seal_alert(&c, (uint8_t)tls_error_alert(TLS_ERR_BAD_RECORD_MAC), alert,
	                        sizeof(alert), &alen),
	         TLS_OK);
	CHECK_EQ(BIO_write(SSL_get_rbio(p.c), alert, (int)alen), (int)alen);
	uint8_t b[16];
	int rc = SSL_read(p.c, b, sizeof(b));
	CHECK(rc <= 0);
	CHECK_EQ(SSL_get_error(p.c, rc), SSL_ERROR_SSL);
	unsigned long e = ERR_peek_last_error();
	CHECK_EQ(ERR_GET_REASON(e), SSL_R_SSLV3_ALERT_BAD_RECORD_MAC);
	ERR_clear_error();
	tls_conn_fini(&c);
	pair_free(&p);
}

/* Our layer takes over the client side (as the load generator will): the
 * TLS 1.3 server's NewSessionTickets arrive as leftover bytes and are
 * consumed; a KeyUpdate the server asks for is answered; data flows both
 * ways; close_notify both ways. */
static void client_takeover(const struct aead_backend *be, const struct suite_case *sc)
{
	enum { TOTAL = 1 << 20 };
	struct pair p;
	struct tls_conn_keys keys;
	struct tls_conn c;
	static uint8_t left[65536], buf[65536], rec[TLS_MAX_OPEN_RECORD], out[TLS_MAX_OPEN_RECORD];
	static uint8_t in[4 << 20];
	size_t left_len, rec_len, consumed, plain, in_len = 0, off;
	char err[256] = "";
	uint64_t sent = 0, got = 0, server_got = 0;
	bool v13 = sc->version == TLS1_3_VERSION;

	CHECK_EQ(pair_new(&p, sc), 0);
	CHECK_EQ(handshake(&p), 0);
	/* Not yet: the client's record layer state must be exported before
	 * OpenSSL reads anything after the handshake. */
	int rc = tls_import_export(p.c, &keys, left, sizeof(left), &left_len, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "client export: %s\n", err);
		pair_free(&p);
		return;
	}
	/* The client wrote Finished and then one data record (TLS 1.3: the
	 * data record is sequence 0; TLS 1.2: Finished 0, data 1). */
	printf("  client %s: takeover at tx_seq %llu rx_seq %llu, %zu leftover bytes\n", sc->name,
	       (unsigned long long)keys.tx_seq, (unsigned long long)keys.rx_seq, left_len);
	CHECK_EQ(keys.tx_seq, v13 ? 1 : 2);
	CHECK_EQ(keys.rx_seq, v13 ? 0 : 1);
	CHECK_EQ(tls_conn_init(&c, &keys, be), TLS_OK);
	for (off = 0; off < left_len; off += consumed) {
		rc = tls_open_buf(&c, left + off, left_len - off, &consumed, out, sizeof(out),
		                  &plain);
		CHECK_EQ(rc, TLS_OK);
		CHECK_EQ(plain, 0);
		if (rc != TLS_OK)
			break;
	}
	CHECK_EQ(c.tickets_rx, v13 ? 2 : 0);
	/* The server reads the early data OpenSSL's client sent. */
	CHECK_EQ(SSL_read(p.s, buf, EARLY_LEN), EARLY_LEN);
	CHECK(pattern_check(buf, EARLY_LEN, 0, SEED_C2S) == 0);
	if (v13)
		CHECK_EQ(SSL_key_update(p.s, SSL_KEY_UPDATE_REQUESTED), 1);

	while (sent < TOTAL || got < TOTAL) {
		/* Server to us. */
		if (got < TOTAL) {
			pattern_fill(buf, 65536, got, SEED_S2C);
			CHECK_EQ(SSL_write(p.s, buf, 65536), 65536);
			int m;
			while ((m = BIO_read(SSL_get_wbio(p.s), in + in_len,
			                     (int)(sizeof(in) - in_len))) > 0)
				in_len += (size_t)m;
			for (off = 0; off < in_len; off += consumed) {
				rc = tls_open_buf(&c, in + off, in_len - off, &consumed, out,
				                  sizeof(out), &plain);
				if (rc == TLS_ERR_NEED_MORE)
					break;
				CHECK_EQ(rc, TLS_OK);
				if (rc != TLS_OK)
					goto out;
				CHECK(pattern_check(out, plain, got, SEED_S2C) == 0);
				got += plain;
			}
			memmove(in, in + off, in_len - off);
			in_len -= off;
		}
		/* Us to the server, answering its KeyUpdate first. */
		if (tls_conn_key_update_due(&c)) {
			CHECK_EQ(tls_seal_key_update(&c, false, rec, sizeof(rec), &rec_len),
			         TLS_OK);
			CHECK_EQ(BIO_write(SSL_get_rbio(p.s), rec, (int)rec_len), (int)rec_len);
		}
		for (int i = 0; i < 4 && sent < TOTAL; i++) {
			pattern_fill(buf, 16384, sent, SEED_C2S);
			CHECK_EQ(tls_seal_buf(&c, buf, 16384, rec, sizeof(rec), &rec_len), TLS_OK);
			CHECK_EQ(BIO_write(SSL_get_rbio(p.s), rec, (int)rec_len), (int)rec_len);
			sent += 16384;
		}
		int m;
		while ((m = SSL_read(p.s, buf, sizeof(buf))) > 0) {
			/* Our stream restarts the pattern after the early data
			 * OpenSSL's client sent. */
			CHECK(pattern_check(buf, (size_t)m, server_got, SEED_C2S) == 0);
			server_got += (size_t)m;
		}
		CHECK_EQ(SSL_get_error(p.s, m), SSL_ERROR_WANT_READ);
	}
	CHECK_EQ(c.key_updates_rx, v13 ? 1 : 0);
	CHECK_EQ(c.key_updates_tx, v13 ? 1 : 0);
	/* We close first; the server answers. */
	CHECK_EQ(tls_seal_close_notify(&c, rec, sizeof(rec), &rec_len), TLS_OK);
	CHECK_EQ(BIO_write(SSL_get_rbio(p.s), rec, (int)rec_len), (int)rec_len);
	CHECK_EQ(SSL_read(p.s, buf, sizeof(buf)), 0);
	CHECK_EQ(SSL_get_error(p.s, 0), SSL_ERROR_ZERO_RETURN);
	CHECK(SSL_shutdown(p.s) >= 0);
	in_len = 0;
	int m;
	while ((m = BIO_read(SSL_get_wbio(p.s), in + in_len, (int)(sizeof(in) - in_len))) > 0)
		in_len += (size_t)m;
	CHECK_EQ(tls_open_buf(&c, in, in_len, &consumed, out, sizeof(out), &plain),
	         TLS_CLOSE_NOTIFY);
	printf("  client %s: 1 MiB each way, KeyUpdates %llu/%llu: ok\n", sc->name,
	       (unsigned long long)c.key_updates_rx, (unsigned long long)c.key_updates_tx);
out:
	tls_conn_fini(&c);
	pair_free(&p);
}

/* A resumed handshake, as an FTPS data connection resuming its control
 * connection's session does: the server's records under the application
 * keys are counted again (not assumed), and data flows both ways. */
static void resumed(const struct aead_backend *be, const struct suite_case *sc)
{
	struct pair p;
	struct tls_conn_keys keys;
	struct tls_conn c;
	static uint8_t left[65536], buf[65536], rec[TLS_MAX_OPEN_RECORD], out[TLS_MAX_OPEN_RECORD];
	size_t left_len, rec_len, consumed, plain;
	char err[256] = "";
	SSL_SESSION *sess;
	uint64_t got = 0;
	int n;

	CHECK_EQ(pair_new(&p, sc), 0);
	CHECK_EQ(handshake(&p), 0);
	/* TLS 1.3 tickets come after the handshake: let the client read them. */
	CHECK(SSL_read(p.c, buf, sizeof(buf)) <= 0);
	sess = SSL_get1_session(p.c);
	CHECK(sess != NULL && SSL_SESSION_is_resumable(sess));
	/* An SSL freed without shutdown marks its session not resumable. */
	CHECK(SSL_shutdown(p.c) >= 0);
	CHECK(SSL_shutdown(p.s) >= 0);
	CHECK_EQ(pair_ssl(&p), 0);
	CHECK_EQ(SSL_set_session(p.c, sess), 1);
	CHECK_EQ(handshake(&p), 0);
	CHECK_EQ(SSL_session_reused(p.s), 1);
	CHECK_EQ(tls_import_export(p.s, &keys, left, sizeof(left), &left_len, err, sizeof(err)), 0);
	printf("  resumed %s: takeover at tx_seq %llu rx_seq %llu\n", sc->name,
	       (unsigned long long)keys.tx_seq, (unsigned long long)keys.rx_seq);
	CHECK_EQ(tls_conn_init(&c, &keys, be), TLS_OK);
	/* The client's early data, then 64 records each way. */
	CHECK_EQ(tls_open_buf(&c, left, left_len, &consumed, out, sizeof(out), &plain), TLS_OK);
	CHECK_EQ(consumed, left_len);
	CHECK_EQ(plain, EARLY_LEN);
	CHECK(pattern_check(out, plain, 0, SEED_C2S) == 0);
	for (int i = 0; i < 64; i++) {
		pattern_fill(buf, 16384, (uint64_t)i * 16384, SEED_S2C);
		CHECK_EQ(tls_seal_buf(&c, buf, 16384, rec, sizeof(rec), &rec_len), TLS_OK);
		CHECK_EQ(BIO_write(SSL_get_rbio(p.c), rec, (int)rec_len), (int)rec_len);
		while ((n = SSL_read(p.c, buf, sizeof(buf))) > 0) {
			CHECK(pattern_check(buf, (size_t)n, got, SEED_S2C) == 0);
			got += (uint64_t)n;
		}
		pattern_fill(buf, 16384, EARLY_LEN + (uint64_t)i * 16384, SEED_C2S);
		CHECK_EQ(SSL_write(p.c, buf, 16384), 16384);
		n = BIO_read(SSL_get_wbio(p.c), rec, sizeof(rec));
		CHECK(n > 0);
		CHECK_EQ(tls_open_buf(&c, rec, (size_t)n, &consumed, out, sizeof(out), &plain),
		         TLS_OK);
		CHECK_EQ(plain, 16384);
		CHECK(pattern_check(out, plain, EARLY_LEN + (uint64_t)i * 16384, SEED_C2S) == 0);
	}
	CHECK_EQ(got, 64 * 16384);
	tls_conn_fini(&c);
	SSL_SESSION_free(sess);
	pair_free(&p);
}

/* Export is refused while OpenSSL holds data it already decrypted. */
static void refused_pending(void)
{
	static const struct suite_case sc = {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", false};
	struct pair p;
	struct tls_conn_keys keys;
	uint8_t left[65536], b[1];
	size_t left_len;
	char err[256] = "";

	CHECK_EQ(pair_new(&p, &sc), 0);
	CHECK_EQ(handshake(&p), 0);
	CHECK_EQ(SSL_peek(p.s, b, 1), 1);
	CHECK_EQ(tls_import_export(p.s, &keys, left, sizeof(left), &left_len, err, sizeof(err)),
	         -1);
	CHECK(strstr(err, "buffered") != NULL);
	printf("  pending data refused: %s\n", err);
	/* Too small a leftover buffer is refused with the size needed. */
	pair_free(&p);
	CHECK_EQ(pair_new(&p, &sc), 0);
	CHECK_EQ(handshake(&p), 0);
	CHECK_EQ(tls_import_export(p.s, &keys, left, 10, &left_len, err, sizeof(err)), -1);
	CHECK(left_len > EARLY_LEN);
	pair_free(&p);
}

int main(int argc, char **argv)
{
	const struct aead_backend *be = test_backend(argc, argv);
	uint64_t big = (argc > 2 ? strtoull(argv[2], NULL, 10) : 100) << 20;
	static const struct suite_case cases[] = {
	    {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", false},
	    {TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", false},
	    {TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", false},
	    {TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", false},
	    {TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256", true},
	    {TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", false},
	    {TLS1_2_VERSION, "ECDHE-RSA-AES256-GCM-SHA384", true},
	    {TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", false},
	    {TLS1_2_VERSION, "ECDHE-RSA-CHACHA20-POLY1305", true},
	};
	static const struct suite_case unsupported[] = {
	    {TLS1_3_VERSION, "TLS_AES_128_CCM_SHA256", false},
	    {TLS1_2_VERSION, "ECDHE-RSA-AES128-SHA256", true},
	};
	struct flow_result r;

	ec_key = EVP_EC_gen("P-256");
	rsa_key = EVP_RSA_gen(2048);
	CHECK(ec_key != NULL && rsa_key != NULL);
	ec_cert = self_signed(ec_key);
	rsa_cert = self_signed(rsa_key);
	CHECK(ec_cert != NULL && rsa_cert != NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The first case carries the big flow and, every 2000 records,
		 * a KeyUpdate started by our side; the others 4 MiB with a
		 * KeyUpdate every 100 records for TLS 1.3. */
		bool first = i == 0;
		uint64_t total = first ? big : 4 << 20, every = first ? 2000 : 100;
		flow(be, &cases[i], total, every, &r);
		CHECK(r.ok);
		if (cases[i].version == TLS1_3_VERSION) {
			/* The reply to the client's request and our own (one
			 * KeyUpdate may serve both). */
			uint64_t own = total / TLS_MAX_PLAINTEXT / every;
			CHECK_EQ(r.key_updates_rx, 1);
			CHECK(r.key_updates_tx >= (own > 1 ? own : 1));
		}
	}
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		refused(&unsupported[i]);
	CHECK(keylog_lines >= sizeof(cases) / sizeof(cases[0]));
	refused_pending();
	resumed(be, &cases[0]);
	resumed(be, &cases[4]);
	client_takeover(be, &cases[0]);
	client_takeover(be, &cases[2]);
	client_takeover(be, &cases[4]);
	fatal_alert(be);

	X509_free(ec_cert);
	X509_free(rsa_cert);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa_key);
	return check_finish("tls-interop");
}
