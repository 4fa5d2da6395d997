#include "tls.h"
#include "tls_import.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp_link.h"
#include "evloop.h"
#include "log.h"

static SSL_CTX *current_ctx;
static int info_idx = -1;
static const struct ftps_config *active_cfg;

/* token -> (user, address) bindings; fixed size, oldest entry reused. */
#define BIND_SLOTS 4096
struct binding {
	uint8_t token[TLS_TOKEN_LEN];
	char user[64];
	struct ftps_ipc_addr addr;
	uint64_t stamp_ms;
	bool used;
};
static struct binding bindings[BIND_SLOTS];

void tls_new_token(uint8_t token[TLS_TOKEN_LEN])
{
	if (RAND_bytes(token, TLS_TOKEN_LEN) != 1) {
		/* No randomness means no safe binding: refuse to go on. */
		log_msg(LOG_ERR, "RAND_bytes failed");
		abort();
	}
}

static unsigned slot_of(const uint8_t *token)
{
	unsigned h;
	memcpy(&h, token, sizeof(h));
	return h % BIND_SLOTS;
}

void tls_bind_token(const uint8_t token[TLS_TOKEN_LEN], const char *user,
                    const struct ftps_ipc_addr *addr)
{
	unsigned start = slot_of(token), pick = start;
	uint64_t oldest = UINT64_MAX;

	/* Linear probe over 8 slots: same token, a free slot, else oldest. */
	for (unsigned i = 0; i < 8; i++) {
		unsigned s = (start + i) % BIND_SLOTS;
		if (!bindings[s].used || !memcmp(bindings[s].token, token, TLS_TOKEN_LEN)) {
			pick = s;
			break;
		}
		if (bindings[s].stamp_ms < oldest) {
			oldest = bindings[s].stamp_ms;
			pick = s;
		}
	}
	struct binding *b = &bindings[pick];
	memcpy(b->token, token, TLS_TOKEN_LEN);
	snprintf(b->user, sizeof(b->user), "%s", user);
	b->addr = *addr;
	b->stamp_ms = ev_now_ms();
	b->used = true;
}

static const struct binding *binding_find(const uint8_t *token)
{
	unsigned start = slot_of(token);
	for (unsigned i = 0; i < 8; i++) {
		const struct binding *b = &bindings[(start + i) % BIND_SLOTS];
		if (b->used && !CRYPTO_memcmp(b->token, token, TLS_TOKEN_LEN))
			return b;
	}
	return NULL;
}

/* Does a session's token bind it to the user and address this data
 * connection expects (or, in per-connection mode, to its own session)? */
static bool binding_ok(const void *data, size_t len, const struct tls_info *info)
{
	if (data == NULL || len != TLS_TOKEN_LEN)
		return false;
	if (active_cfg->session_binding == BIND_CONNECTION)
		return CRYPTO_memcmp(data, info->token, TLS_TOKEN_LEN) == 0;
	const struct binding *b = binding_find(data);
	return b != NULL && info->expect_user != NULL && strcmp(b->user, info->expect_user) == 0 &&
	       memcmp(&b->addr, &info->expect_addr, sizeof(b->addr)) == 0;
}

/* TLS 1.2 session-ID resumption (curl disables tickets): the cached
 * session carries the same token as a ticket would. */
static int new_session_cb(SSL *s, SSL_SESSION *sess)
{
	struct tls_info *info = SSL_get_ex_data(s, info_idx);
	if (info != NULL)
		(void)SSL_SESSION_set1_ticket_appdata(sess, info->token, TLS_TOKEN_LEN);
	return 0; /* the internal cache keeps its own reference */
}

static int ticket_gen_cb(SSL *s, void *arg)
{
	struct tls_info *info = SSL_get_ex_data(s, info_idx);
	SSL_SESSION *sess = SSL_get0_session(s);

	(void)arg;
	if (info == NULL || sess == NULL)
		return 0;
	return SSL_SESSION_set1_ticket_appdata(sess, info->token, TLS_TOKEN_LEN);
}

static SSL_TICKET_RETURN ticket_dec_cb(SSL *s, SSL_SESSION *ss, const unsigned char *keyname,
                                       size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
	struct tls_info *info = SSL_get_ex_data(s, info_idx);
	void *data = NULL;
	size_t len = 0;

	(void)keyname;
	(void)keyname_len;
	(void)arg;
	log_msg(LOG_DEBUG, "ticket presented on a %s connection: status %d",
	        info && info->is_data ? "data" : "control", (int)status);
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		break;
	case SSL_TICKET_FATAL_ERR_MALLOC:
	case SSL_TICKET_FATAL_ERR_OTHER:
		return SSL_TICKET_RETURN_ABORT;
	default: /* none, empty, undecryptable: full handshake, fresh ticket */
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	}
	if (info == NULL)
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	info->ticket_seen = true;
	if (!info->is_data)
		return SSL_TICKET_RETURN_USE_RENEW; /* control: any valid ticket */
	bool ok = SSL_SESSION_get0_ticket_appdata(ss, &data, &len) && binding_ok(data, len, info);
	info->ticket_binding_ok = ok;
	/* A foreign session is not resumed: the handshake falls back to a full
	 * one, which "required" mode then refuses. */
	return ok ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_IGNORE_RENEW;
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)s;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == 3 && memcmp(in + i + 1, "ftp", 3) == 0) {
			*out = in + i + 1;
			*outlen = 3;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_NOACK; /* clients without ALPN "ftp" still work */
}

static int sni_cb(SSL *s, int *ad, void *arg)
{
	struct tls_info *info = SSL_get_ex_data(s, info_idx);
	const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);

	(void)ad;
	(void)arg;
	if (info && name)
		snprintf(info->sni, sizeof(info->sni), "%s", name);
	return SSL_TLSEXT_ERR_OK; /* one certificate: any name is accepted */
}

static void ssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];
	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "unknown error");
	ERR_clear_error();
}

/* Revocation of client certificates: every CRL in the file goes into the
 * verification store and the leaf is checked against it (the internal CA of
 * tools/keys issues leaves directly, so leaf checking covers it). A CRL past
 * its nextUpdate makes OpenSSL refuse every client certificate of that CA:
 * fail closed, but say so at load time so the operator knows why. */
static int load_client_crl(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	X509_CRL *crl;
	unsigned count = 0;
	while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL)) != NULL) {
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		if (next != NULL && X509_cmp_current_time(next) < 0)
			log_msg(
			    LOG_WARN,
			    "%s: CRL expired (nextUpdate passed): client certificates of its CA "
			    "are refused until it is renewed (ftps-keys ca crl)",
			    path);
		int ok = X509_STORE_add_crl(store, crl);
		X509_CRL_free(crl);
		if (ok != 1) {
			fclose(f);
			ssl_err(err, errlen, path);
			return -1;
		}
		count++;
	}
	fclose(f);
	ERR_clear_error(); /* end of file ends the loop */
	if (count == 0) {
		snprintf(err, errlen, "%s: no PEM CRL in the file", path);
		return -1;
	}
	if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1) {
		ssl_err(err, errlen, "CRL check flag");
		return -1;
	}
	log_msg(LOG_INFO, "%s: %u CRL(s) loaded; client certificates are checked for revocation",
	        path, count);
	return 0;
}

static SSL_CTX *build_ctx(const struct ftps_config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ssl_err(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	if (tls_import_ctx_setup(ctx) != 0) {
		ssl_err(err, errlen, "key export set-up");
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, cfg->min_version) ||
	    !SSL_CTX_set_max_proto_version(ctx, cfg->max_version)) {
		ssl_err(err, errlen, "TLS versions");
		goto fail;
	}
	if (!SSL_CTX_set_cipher_list(ctx, cfg->ciphers)) {
		ssl_err(err, errlen, "[tls] ciphers");
		goto fail;
	}
	if (!SSL_CTX_set_ciphersuites(ctx, cfg->ciphersuites)) {
		ssl_err(err, errlen, "[tls] ciphersuites");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->certificate) != 1) {
		ssl_err(err, errlen, cfg->certificate);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err(err, errlen, cfg->key);
		goto fail;
	}
	if (cfg->chain[0]) {
		FILE *f = fopen(cfg->chain, "re");
		X509 *x;
		if (f == NULL) {
			snprintf(err, errlen, "%s: cannot open", cfg->chain);
			goto fail;
		}
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
			if (!SSL_CTX_add0_chain_cert(ctx, x)) {
				X509_free(x);
				fclose(f);
				ssl_err(err, errlen, cfg->chain);
				goto fail;
			}
		}
		fclose(f);
		ERR_clear_error(); /* end of file ends the loop */
	}
	if (cfg->client_ca[0]) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1) {
			ssl_err(err, errlen, cfg->client_ca);
			goto fail;
		}
		if (cfg->client_crl[0] && load_client_crl(ctx, cfg->client_crl, err, errlen) != 0)
			goto fail;
		/* ask for a client certificate; none is fine, a bad one fails */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, NULL);
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_NO_COMPRESSION);
	/* Resumption by tickets (stateless; survive reloads) and, for TLS 1.2
	 * clients that turn tickets off (curl), by session ID from the
	 * internal cache. Lifetime long enough for hours of transfer. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 20000);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	SSL_CTX_set_timeout(ctx, (long)cfg->session_lifetime);
	SSL_CTX_set_num_tickets(ctx, 2);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"ftps-control", 12);
	if (!SSL_CTX_set_session_ticket_cb(ctx, ticket_gen_cb, ticket_dec_cb, NULL)) {
		ssl_err(err, errlen, "ticket callbacks");
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_global_init(const struct ftps_config *cfg, char *err, size_t errlen)
{
	if (info_idx < 0)
		info_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (info_idx < 0) {
		snprintf(err, errlen, "SSL_get_ex_new_index failed");
		return -1;
	}
	SSL_CTX *ctx = build_ctx(cfg, err, errlen);
	if (ctx == NULL)
		return -1;
	SSL_CTX_free(current_ctx);
	current_ctx = ctx;
	active_cfg = cfg;
	return 0;
}

/* Carry the TLS 1.2 session-ID cache over a reload (tickets carry over
 * through their keys); sessions keep their binding token. */
static SSL_CTX *copy_target;
static void copy_session(void *p)
{
	/* A session sits in one cache's list only: add a copy. */
	SSL_SESSION *dup = SSL_SESSION_dup(p);
	if (dup != NULL) {
		(void)SSL_CTX_add_session(copy_target, dup);
		SSL_SESSION_free(dup); /* the cache holds its own reference */
	}
}

int tls_reload(const struct ftps_config *cfg, char *err, size_t errlen)
{
	unsigned char keys[80];
	SSL_CTX *ctx = build_ctx(cfg, err, errlen);

	if (ctx == NULL)
		return -1;
	if (SSL_CTX_get_tlsext_ticket_keys(current_ctx, keys, sizeof(keys)) != 1 ||
	    SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof(keys)) != 1) {
		OPENSSL_cleanse(keys, sizeof(keys));
		SSL_CTX_free(ctx);
		snprintf(err, errlen, "cannot carry ticket keys over");
		return -1;
	}
	OPENSSL_cleanse(keys, sizeof(keys));
	copy_target = ctx;
	OPENSSL_LH_doall((OPENSSL_LHASH *)SSL_CTX_sessions(current_ctx), copy_session);
	copy_target = NULL;
	SSL_CTX_free(current_ctx); /* live SSL objects hold their own reference */
	current_ctx = ctx;
	active_cfg = cfg;
	return 0;
}

void tls_global_fini(void)
{
	SSL_CTX_free(current_ctx);
	current_ctx = NULL;
}

int tls_stream_open(struct tls_stream *t, struct tls_info *info)
{
	memset(t, 0, sizeof(*t));
	t->ssl = SSL_new(current_ctx);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
		SSL_free(t->ssl);
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		memset(t, 0, sizeof(*t));
		return -1;
	}
	BIO_set_mem_eof_return(t->rbio, -1); /* empty means "wait", not EOF */
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_accept_state(t->ssl);
	/* Counts records under the application keys, so a data connection can
	 * be handed to the dataplane with exact sequence numbers. */
	if (tls_import_ssl_setup(t->ssl) != 0) {
		SSL_free(t->ssl);
		memset(t, 0, sizeof(*t));
		return -1;
	}
	SSL_set_ex_data(t->ssl, info_idx, info);
	return 0;
}

void tls_stream_free(struct tls_stream *t)
{
	if (t->ssl)
		SSL_free(t->ssl); /* frees both BIOs */
	memset(t, 0, sizeof(*t));
}

int tls_stream_feed(struct tls_stream *t, const void *p, size_t n)
{
	if (n > INT32_MAX)
		return -1;
	return BIO_write(t->rbio, p, (int)n) == (int)n ? 0 : -1;
}

int tls_stream_handshake(struct tls_stream *t, char *err, size_t errlen)
{
	if (t->handshake_done)
		return 1;
	ERR_clear_error();
	int rc = SSL_do_handshake(t->ssl);
	if (rc == 1) {
		t->handshake_done = true;
		return 1;
	}
	int e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	long verify = SSL_get_verify_result(t->ssl);
	if (verify != X509_V_OK)
		snprintf(err, errlen, "TLS handshake: client certificate refused: %s",
		         X509_verify_cert_error_string(verify));
	else
		ssl_err(err, errlen, "TLS handshake");
	ERR_clear_error();
	return -1;
}

int tls_stream_read(struct tls_stream *t, void *buf, size_t cap)
{
	size_t got = 0;

	ERR_clear_error();
	int rc = SSL_read_ex(t->ssl, buf, cap, &got);
	if (rc == 1)
		return (int)got;
	int e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		t->close_notify_rcvd = true;
		return -2;
	}
	ERR_clear_error();
	return -1;
}

int tls_stream_write(struct tls_stream *t, const void *p, size_t n)
{
	size_t done = 0;
	ERR_clear_error();
	/* Memory BIOs never block, so one call writes everything. */
	if (n == 0)
		return 0;
	return SSL_write_ex(t->ssl, p, n, &done) == 1 && done == n ? 0 : -1;
}

void tls_stream_shutdown(struct tls_stream *t)
{
	if (t->ssl == NULL || t->shutdown_sent)
		return;
	t->shutdown_sent = true;
	ERR_clear_error();
	(void)SSL_shutdown(t->ssl); /* writes close_notify into wbio */
	ERR_clear_error();
}

int tls_stream_drain(struct tls_stream *t, struct rconn *c)
{
	char buf[16384];
	int n;

	while ((n = BIO_read(t->wbio, buf, sizeof(buf))) > 0)
		if (rconn_write(c, buf, (size_t)n) != 0)
			return -1;
	return 0;
}

bool tls_stream_resumed_ok(const struct tls_stream *t)
{
	struct tls_info *info = SSL_get_ex_data(t->ssl, info_idx);
	const void *data = NULL;
	size_t len = 0;

	if (info == NULL || !SSL_session_reused(t->ssl))
		return false;
	/* Whatever the resumption path (ticket or session ID), the session
	 * must carry a token bound to this login. */
	SSL_SESSION *sess = SSL_get0_session(t->ssl);
	void *d = NULL;
	if (sess == NULL || !SSL_SESSION_get0_ticket_appdata(sess, &d, &len))
		return false;
	data = d;
	if (!binding_ok(data, len, info)) {
		info->ticket_seen = true;
		info->ticket_binding_ok = false;
		return false;
	}
	return true;
}

const char *tls_stream_version(const struct tls_stream *t)
{
	return SSL_get_version(t->ssl);
}

/* A resumed session carries the certificate verified when the session was
 * first made, perhaps before a revocation: check it again against the CRL
 * loaded now, so revoking a certificate also ends its resumptions. */
static bool revoked_since_session_began(const SSL *ssl, X509 *cert)
{
	if (!SSL_session_reused(ssl) || active_cfg == NULL || active_cfg->client_crl[0] == '\0')
		return false;
	X509_STORE_CTX *v = X509_STORE_CTX_new();
	bool refused = true;
	if (v != NULL && X509_STORE_CTX_init(v, SSL_CTX_get_cert_store(current_ctx), cert,
	                                     SSL_get_peer_cert_chain(ssl)) == 1) {
		(void)X509_STORE_CTX_set_purpose(v, X509_PURPOSE_SSL_CLIENT);
		refused = X509_verify_cert(v) != 1;
		if (refused)
			log_msg(LOG_WARN,
			        "resumed TLS session's client certificate refused now: %s",
			        X509_verify_cert_error_string(X509_STORE_CTX_get_error(v)));
	}
	X509_STORE_CTX_free(v);
	ERR_clear_error();
	return refused;
}

int tls_stream_peer_cert(const struct tls_stream *t, char *sha256_hex, size_t hex_cap,
                         char *subject, size_t subject_cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (t->ssl == NULL || hex_cap < 65 || subject_cap < 2)
		return -1;
	X509 *cert = SSL_get0_peer_certificate(t->ssl);
	if (cert == NULL || SSL_get_verify_result(t->ssl) != X509_V_OK)
		return -1;
	if (revoked_since_session_began(t->ssl, cert))
		return -1;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		return -1;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(sha256_hex + 2 * i, 3, "%02x", md[i]);
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return -1;
	int rc = -1;
	if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
		int n = BIO_read(b, subject, (int)subject_cap - 1);
		if (n >= 0) {
			subject[n] = '\0';
			rc = 0;
		}
	}
	BIO_free(b);
	return rc;
}

void tls_stream_defer_tickets(struct tls_stream *t)
{
	(void)SSL_set_num_tickets(t->ssl, 0);
}

void tls_stream_issue_tickets(struct tls_stream *t, unsigned n)
{
	/* TLS 1.2 tickets and session IDs come with the handshake; nothing to
	 * add there (their token is bound at login like any other). */
	if (SSL_version(t->ssl) != TLS1_3_VERSION)
		return;
	for (unsigned i = 0; i < n; i++)
		if (SSL_new_session_ticket(t->ssl) != 1)
			ERR_clear_error();
	/* they are written with the next SSL_write: the login reply */
}
