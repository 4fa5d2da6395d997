/* Key import from OpenSSL 3.0: keylog capture (TLS 1.3), master secret and
 * randoms (TLS 1.2), record counting through the message callback. */
#include "tls_import.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct capture {
	uint8_t client_secret[TLS_MAX_SECRET_LEN], server_secret[TLS_MAX_SECRET_LEN];
	size_t client_len, server_len;
	/* Set once the last record under handshake keys went by in that
	 * direction; from then on every record header is counted. */
	bool write_marked, read_marked;
	uint64_t written, read;
	bool key_update_seen;
};

static int ex_index = -1, ctx_ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

/* A keylog callback installed before ours (SSLKEYLOGFILE-style debugging)
 * keeps working: it is stored with the SSL_CTX and called after ours. */
struct prev_keylog {
	SSL_CTX_keylog_cb_func cb;
};

static void capture_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr != NULL) {
		OPENSSL_cleanse(ptr, sizeof(struct capture));
		free(ptr);
	}
}

static void prev_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static void ex_setup(void)
{
	ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, capture_free);
	ctx_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, prev_free);
}

static struct capture *capture_of(const SSL *ssl)
{
	if (pthread_once(&ex_once, ex_setup) != 0 || ex_index < 0)
		return NULL;
	return SSL_get_ex_data(ssl, ex_index);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decode the hex field; returns its byte length or 0 if malformed. */
static size_t parse_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (s[0] != '\0' && s[0] != ' ' && s[0] != '\n') {
		int hi = hexval(s[0]), lo = s[1] != '\0' ? hexval(s[1]) : -1;

		if (hi < 0 || lo < 0 || n == cap)
			return 0;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return n;
}

/* NSS key log line: "<LABEL> <client_random hex> <secret hex>". */
static void keylog_cb(const SSL *ssl, const char *line)
{
	static const char cl[] = "CLIENT_TRAFFIC_SECRET_0 ";
	static const char sl[] = "SERVER_TRAFFIC_SECRET_0 ";
	struct capture *cap = capture_of(ssl);
	struct prev_keylog *prev = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_ex_index);
	const char *p;
	uint8_t *dst;
	size_t *len;

	if (prev != NULL && prev->cb != NULL)
		prev->cb(ssl, line);
	if (cap == NULL)
		return;
	if (strncmp(line, cl, sizeof(cl) - 1) == 0) {
		dst = cap->client_secret;
		len = &cap->client_len;
	} else if (strncmp(line, sl, sizeof(sl) - 1) == 0) {
		dst = cap->server_secret;
		len = &cap->server_len;
	} else {
		return;
	}
	p = strchr(line + sizeof(cl) - 1, ' ');
	if (p == NULL)
		return;
	*len = parse_hex(p + 1, dst, TLS_MAX_SECRET_LEN);
}

#define RT_HEADER     256 /* SSL3_RT_HEADER */
#define HS_FINISHED   20
#define HS_KEY_UPDATE 24

static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
	struct capture *cap = arg;
	const uint8_t *b = buf;
	bool tls13 = SSL_version(ssl) == TLS1_3_VERSION;

	(void)version;
	if (cap == NULL)
		return;
	switch (content_type) {
	case RT_HEADER:
		/* TLS 1.2: the records after ChangeCipherSpec (Finished
		 * first) use the new keys, from sequence number 0. OpenSSL
		 * reports a received CCS only by its record header, so the
		 * header marks the change in both directions. TLS 1.3
		 * compatibility CCS records change nothing. */
		if (!tls13 && len >= 1 && b[0] == SSL3_RT_CHANGE_CIPHER_SPEC) {
			if (write_p) {
				cap->write_marked = true;
				cap->written = 0;
			} else {
				cap->read_marked = true;
				cap->read = 0;
			}
			break;
		}
		if (write_p ? cap->write_marked : cap->read_marked) {
			if (write_p)
				cap->written++;
			else
				cap->read++;
		}
		break;
	case SSL3_RT_HANDSHAKE:
		if (len < 1)
			break;
		/* TLS 1.3: the Finished record is the last one under handshake
		 * keys in its direction (RFC 8446 7.2). The callback for a
		 * message runs after its record headers, so the Finished
		 * record itself is not counted. */
		if (tls13 && b[0] == HS_FINISHED) {
			if (write_p && !cap->write_marked) {
				cap->write_marked = true;
				cap->written = 0;
			} else if (!write_p && !cap->read_marked) {
				cap->read_marked = true;
				cap->read = 0;
			}
		}
		if (b[0] == HS_KEY_UPDATE)
			cap->key_update_seen = true;
		break;
	default:
		break;
	}
}

int tls_import_ctx_setup(SSL_CTX *ctx)
{
	SSL_CTX_keylog_cb_func old;

	if (ctx == NULL || pthread_once(&ex_once, ex_setup) != 0 || ctx_ex_index < 0)
		return -1;
	old = SSL_CTX_get_keylog_callback(ctx);
	if (old != NULL && old != keylog_cb && SSL_CTX_get_ex_data(ctx, ctx_ex_index) == NULL) {
		struct prev_keylog *prev = calloc(1, sizeof(*prev));

		if (prev == NULL)
			return -1;
		prev->cb = old;
		if (SSL_CTX_set_ex_data(ctx, ctx_ex_index, prev) != 1) {
			free(prev);
			return -1;
		}
	}
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);
	return 0;
}

int tls_import_ssl_setup(SSL *ssl)
{
	struct capture *cap;

	if (ssl == NULL || pthread_once(&ex_once, ex_setup) != 0 || ex_index < 0)
		return -1;
	if (SSL_get_ex_data(ssl, ex_index) != NULL)
		return -1;
	cap = calloc(1, sizeof(*cap));
	if (cap == NULL)
		return -1;
	if (SSL_set_ex_data(ssl, ex_index, cap) != 1) {
		free(cap);
		return -1;
	}
	SSL_set_msg_callback(ssl, msg_cb);
	SSL_set_msg_callback_arg(ssl, cap);
	return 0;
}

int tls_import_counts(SSL *ssl, uint64_t *written, uint64_t *read)
{
	struct capture *cap = ssl != NULL ? capture_of(ssl) : NULL;

	if (cap == NULL)
		return -1;
	*written = cap->written;
	*read = cap->read;
	return 0;
}

static int failf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int export_tls13(SSL *ssl, const struct tls_suite *s, const struct capture *cap,
                        struct tls_conn_keys *k, char *err, size_t err_len)
{
	bool server = SSL_is_server(ssl) != 0;

	if (cap->client_len != s->hash_len || cap->server_len != s->hash_len)
		return failf(err, err_len,
		             "TLS 1.3 traffic secrets not captured (call tls_import_ctx_setup on "
		             "the SSL_CTX before the handshake)");
	if (cap->key_update_seen)
		return failf(err, err_len, "OpenSSL already did a KeyUpdate; keys moved on");
	k->secret_len = s->hash_len;
	memcpy(k->tx_secret, server ? cap->server_secret : cap->client_secret, s->hash_len);
	memcpy(k->rx_secret, server ? cap->client_secret : cap->server_secret, s->hash_len);
	if (tls13_traffic_keys(s, k->tx_secret, k->tx_key, k->tx_iv) != 0 ||
	    tls13_traffic_keys(s, k->rx_secret, k->rx_key, k->rx_iv) != 0)
		return failf(err, err_len, "HKDF-Expand-Label failed");
	return 0;
}

static int export_tls12(SSL *ssl, const struct tls_suite *s, struct tls_conn_keys *k, char *err,
                        size_t err_len)
{
	SSL_SESSION *sess = SSL_get_session(ssl);
	uint8_t master[64], cr[32], sr[32];
	uint8_t block[2 * TLS_MAX_KEY_LEN + 2 * TLS_IV_LEN];
	size_t mlen, kl = s->key_len, il = s->fixed_iv_len;
	bool server = SSL_is_server(ssl) != 0;
	int rc = 0;

	if (sess == NULL)
		return failf(err, err_len, "no TLS session");
	mlen = SSL_SESSION_get_master_key(sess, master, sizeof(master));
	if (mlen != 48 || SSL_get_client_random(ssl, cr, sizeof(cr)) != sizeof(cr) ||
	    SSL_get_server_random(ssl, sr, sizeof(sr)) != sizeof(sr)) {
		rc = failf(err, err_len, "cannot read master secret or randoms");
		goto out;
	}
	/* AEAD suites have no MAC keys: client_write_key, server_write_key,
	 * client_write_IV, server_write_IV (RFC 5246 6.3). */
	if (tls12_key_block(s, master, mlen, cr, sr, block, 2 * kl + 2 * il) != 0) {
		rc = failf(err, err_len, "TLS1-PRF key expansion failed");
		goto out;
	}
	k->key_len = (uint8_t)kl;
	k->iv_len = (uint8_t)il;
	memcpy(server ? k->rx_key : k->tx_key, block, kl);
	memcpy(server ? k->tx_key : k->rx_key, block + kl, kl);
	memcpy(server ? k->rx_iv : k->tx_iv, block + 2 * kl, il);
	memcpy(server ? k->tx_iv : k->rx_iv, block + 2 * kl + il, il);
out:
	OPENSSL_cleanse(master, sizeof(master));
	OPENSSL_cleanse(block, sizeof(block));
	return rc;
}

int tls_import_export(SSL *ssl, struct tls_conn_keys *keys, uint8_t *leftover, size_t leftover_cap,
                      size_t *leftover_len, char *err, size_t err_len)
{
	const SSL_CIPHER *cipher;
	const struct tls_suite *s;
	struct capture *cap;
	BIO *rbio, *wbio;
	size_t pending;
	int version, rc;
	uint16_t id;

	if (ssl == NULL || keys == NULL || leftover_len == NULL)
		return failf(err, err_len, "invalid argument");
	*leftover_len = 0;
	cap = capture_of(ssl);
	if (cap == NULL)
		return failf(err, err_len, "tls_import_ssl_setup was not called on this SSL");
	if (!SSL_is_init_finished(ssl))
		return failf(err, err_len, "handshake not finished");
	version = SSL_version(ssl);
	if (version != TLS1_2_VERSION && version != TLS1_3_VERSION)
		return failf(err, err_len, "protocol %s is not supported for takeover",
		             SSL_get_version(ssl));
	cipher = SSL_get_current_cipher(ssl);
	if (cipher == NULL)
		return failf(err, err_len, "no cipher negotiated");
	id = (uint16_t)SSL_CIPHER_get_protocol_id(cipher);
	s = tls_suite_find(version == TLS1_3_VERSION ? TLS_VERSION_13 : TLS_VERSION_12, id);
	if (s == NULL)
		return failf(err, err_len, "cipher suite %s (0x%04x) is not supported for takeover",
		             SSL_CIPHER_get_name(cipher), id);
	if (!cap->write_marked || !cap->read_marked)
		return failf(err, err_len, "application keys not in use in both directions yet");
	if (SSL_has_pending(ssl) || SSL_pending(ssl) > 0)
		return failf(err, err_len,
		             "OpenSSL holds buffered record data; takeover would "
		             "lose it (do not SSL_read before takeover)");
	wbio = SSL_get_wbio(ssl);
	if (wbio != NULL && BIO_ctrl_pending(wbio) > 0)
		return failf(err, err_len, "%zu bytes still in the write BIO: send them first",
		             (size_t)BIO_ctrl_pending(wbio));
	rbio = SSL_get_rbio(ssl);
	pending = rbio != NULL ? BIO_ctrl_pending(rbio) : 0;
	if (pending > leftover_cap || (pending > 0 && leftover == NULL)) {
		*leftover_len = pending;
		return failf(err, err_len, "leftover buffer too small: %zu bytes needed", pending);
	}

	memset(keys, 0, sizeof(*keys));
	keys->version = s->version;
	keys->suite = s->id;
	keys->is_server = SSL_is_server(ssl) ? 1 : 0;
	keys->tx_seq = cap->written;
	keys->rx_seq = cap->read;
	if (s->version == TLS_VERSION_13) {
		keys->key_len = s->key_len;
		keys->iv_len = TLS_IV_LEN;
		rc = export_tls13(ssl, s, cap, keys, err, err_len);
	} else {
		rc = export_tls12(ssl, s, keys, err, err_len);
	}
	if (rc != 0) {
		OPENSSL_cleanse(keys, sizeof(*keys));
		return rc;
	}
	if (pending > 0) {
		int got = BIO_read(rbio, leftover, (int)pending);

		if (got < 0 || (size_t)got != pending) {
			OPENSSL_cleanse(keys, sizeof(*keys));
			return failf(err, err_len, "cannot read leftover bytes from the read BIO");
		}
	}
	*leftover_len = pending;
	return 0;
}
