/* Connection state: set-up from imported keys, key changes, limits. */
#include "tls_conn_internal.h"

#include <string.h>

#include <openssl/crypto.h>

/* RFC 8446 5.5: AES-GCM may protect at most 2^24.5 full-size records under
 * one key; ask for a KeyUpdate well before. */
#define GCM_RECORD_LIMIT     23726566ULL
#define DEFAULT_UPDATE_AFTER (1ULL << 24)

static int dir_set_key(struct tls_conn *c, struct tls_dir *d, const uint8_t *key)
{
	struct aead_key *k = aead_key_new(c->backend, c->suite->alg, key, c->suite->key_len);

	if (k == NULL)
		return TLS_ERR_BACKEND;
	aead_key_free(d->aead);
	d->aead = k;
	d->epoch++;
	return TLS_OK;
}

int tls_conn_init(struct tls_conn *c, const struct tls_conn_keys *keys,
                  const struct aead_backend *backend)
{
	const struct tls_suite *s;
	uint8_t key[TLS_MAX_KEY_LEN];
	int rc;

	if (c == NULL || keys == NULL)
		return TLS_ERR_INVAL;
	memset(c, 0, sizeof(*c));
	c->peer_alert = -1;
	s = tls_suite_find(keys->version, keys->suite);
	if (s == NULL)
		return TLS_ERR_UNSUPPORTED;
	if (backend == NULL)
		backend = aead_backend_default();
	/* A backend without this AEAD (a cryptodev PMD without ChaCha20, say)
	 * leaves the connection on the portable OpenSSL backend. */
	if (!aead_backend_supports(backend, s->alg))
		backend = aead_backend_find("openssl");
	if (!aead_backend_supports(backend, s->alg))
		return TLS_ERR_UNSUPPORTED;
	c->suite = s;
	c->backend = backend;
	c->version = keys->version;
	c->is_server = keys->is_server != 0;
	c->tx.seq = keys->tx_seq;
	c->rx.seq = keys->rx_seq;
	c->tx_update_after = DEFAULT_UPDATE_AFTER;
	/* TLS 1.2 has no KeyUpdate; like OpenSSL, it runs to the sequence
	 * number limit. */
	c->tx_record_limit = s->alg == AEAD_CHACHA20_POLY1305 || s->version == TLS_VERSION_12
	                         ? UINT64_MAX
	                         : GCM_RECORD_LIMIT;

	if (s->version == TLS_VERSION_13) {
		if (keys->secret_len != s->hash_len)
			return TLS_ERR_INVAL;
		memcpy(c->tx.secret, keys->tx_secret, s->hash_len);
		memcpy(c->rx.secret, keys->rx_secret, s->hash_len);
		if (tls13_traffic_keys(s, c->tx.secret, key, c->tx.iv) != 0)
			goto fail_kdf;
		rc = dir_set_key(c, &c->tx, key);
		if (rc == TLS_OK) {
			if (tls13_traffic_keys(s, c->rx.secret, key, c->rx.iv) != 0)
				goto fail_kdf;
			rc = dir_set_key(c, &c->rx, key);
		}
	} else {
		if (keys->key_len != s->key_len || keys->iv_len != s->fixed_iv_len)
			return TLS_ERR_INVAL;
		memcpy(c->tx.iv, keys->tx_iv, s->fixed_iv_len);
		memcpy(c->rx.iv, keys->rx_iv, s->fixed_iv_len);
		rc = dir_set_key(c, &c->tx, keys->tx_key);
		if (rc == TLS_OK)
			rc = dir_set_key(c, &c->rx, keys->rx_key);
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != TLS_OK)
		tls_conn_fini(c);
	return rc;
fail_kdf:
	OPENSSL_cleanse(key, sizeof(key));
	tls_conn_fini(c);
	return TLS_ERR_BACKEND;
}

void tls_conn_fini(struct tls_conn *c)
{
	if (c == NULL)
		return;
	aead_key_free(c->tx.aead);
	aead_key_free(c->rx.aead);
	OPENSSL_cleanse(c, sizeof(*c));
}

int tls_conn_next_key(struct tls_conn *c, struct tls_dir *d)
{
	uint8_t key[TLS_MAX_KEY_LEN];
	int rc;

	if (tls13_next_secret(c->suite, d->secret, d->secret) != 0 ||
	    tls13_traffic_keys(c->suite, d->secret, key, d->iv) != 0) {
		OPENSSL_cleanse(key, sizeof(key));
		return TLS_ERR_BACKEND;
	}
	rc = dir_set_key(c, d, key);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc == TLS_OK)
		d->seq = 0;
	return rc;
}

bool tls_conn_key_update_due(const struct tls_conn *c)
{
	return c->version == TLS_VERSION_13 && !c->failed &&
	       (c->key_update_owed || c->tx.seq >= c->tx_update_after);
}

size_t tls_sealed_len(const struct tls_conn *c, size_t plain_len)
{
	size_t inner = c->version == TLS_VERSION_13 ? 1 : 0;

	return TLS_HEADER_LEN + c->suite->explicit_iv_len + plain_len + inner + AEAD_TAG_LEN;
}

size_t tls_record_payload_offset(const struct tls_conn *c)
{
	return TLS_HEADER_LEN + c->suite->explicit_iv_len;
}

const char *tls_strerror(int status)
{
	switch (status) {
	case TLS_OK:
		return "ok";
	case TLS_CLOSE_NOTIFY:
		return "peer sent close_notify";
	case TLS_ERR_NEED_MORE:
		return "incomplete record";
	case TLS_ERR_BAD_RECORD_MAC:
		return "bad record MAC (authentication failed)";
	case TLS_ERR_RECORD_OVERFLOW:
		return "record overflow";
	case TLS_ERR_DECODE:
		return "malformed record or message";
	case TLS_ERR_UNEXPECTED:
		return "unexpected message";
	case TLS_ERR_PEER_ALERT:
		return "peer sent a fatal alert";
	case TLS_ERR_SEQ_WRAP:
		return "sequence number would wrap";
	case TLS_ERR_KEY_LIMIT:
		return "AEAD record limit reached";
	case TLS_ERR_CLOSED:
		return "connection closed or failed";
	case TLS_ERR_KEY_UPDATE_NEEDED:
		return "a KeyUpdate must be sent first";
	case TLS_ERR_RETRY:
		return "keys changed in this burst; submit again";
	case TLS_ERR_NOSPACE:
		return "output buffer too small";
	case TLS_ERR_INVAL:
		return "invalid argument";
	case TLS_ERR_BACKEND:
		return "AEAD backend failure";
	case TLS_ERR_UNSUPPORTED:
		return "unsupported cipher suite or backend";
	default:
		return "unknown status";
	}
}

int tls_error_alert(int status)
{
	switch (status) {
	case TLS_ERR_BAD_RECORD_MAC:
		return TLS_ALERT_BAD_RECORD_MAC;
	case TLS_ERR_RECORD_OVERFLOW:
		return TLS_ALERT_RECORD_OVERFLOW;
	case TLS_ERR_DECODE:
		return TLS_ALERT_DECODE_ERROR;
	case TLS_ERR_UNEXPECTED:
		return TLS_ALERT_UNEXPECTED_MESSAGE;
	case TLS_ERR_SEQ_WRAP:
	case TLS_ERR_KEY_LIMIT:
	case TLS_ERR_BACKEND:
		return TLS_ALERT_INTERNAL_ERROR;
	default:
		return -1;
	}
}
