/* TLS 1.2 / 1.3 record protection after an OpenSSL handshake (RFC 8446 5,
 * RFC 5246 6.2, RFC 5288, RFC 7905). No I/O: records go in and out as
 * scatter-gather lists, so ciphertext can be written straight into TX packet
 * buffers and plaintext straight into file write buffers.
 *
 * Per connection state (struct tls_conn) holds, for each direction, the
 * AEAD key handle, static IV, sequence number and (TLS 1.3) the traffic
 * secret for KeyUpdate. The caller owns the struct (typically in per-lcore
 * memory) and uses it from one thread at a time.
 *
 * Record framing: the caller finds record boundaries in its byte stream with
 * tls_record_frame() and hands each complete record to tls_open_burst().
 * Only application data is returned to the caller; alerts and post-handshake
 * handshake messages (KeyUpdate, NewSessionTicket to a client) are handled
 * here and never returned as data.
 */
#ifndef FTPS_CRYPTO_TLS_RECORD_H
#define FTPS_CRYPTO_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "aead.h"
#include "tls_keys.h"

#define TLS_HEADER_LEN    5
#define TLS_MAX_PLAINTEXT 16384
/* Largest record this layer seals: header, explicit nonce or inner content
 * type, 16 KiB, tag. */
#define TLS_MAX_SEAL_RECORD (TLS_HEADER_LEN + 8 + TLS_MAX_PLAINTEXT + 16)
/* Largest record this layer accepts (RFC 8446 5.2 / RFC 5246 6.2.3). */
#define TLS13_MAX_CIPHERTEXT (TLS_MAX_PLAINTEXT + 256)
#define TLS12_MAX_CIPHERTEXT (TLS_MAX_PLAINTEXT + 2048)
#define TLS_MAX_OPEN_RECORD  (TLS_HEADER_LEN + TLS12_MAX_CIPHERTEXT)
/* Segments a job may have on each side. */
#define TLS_MAX_SEGS (AEAD_MAX_SEGS - 2)

enum tls_content_type {
	TLS_CT_CHANGE_CIPHER_SPEC = 20,
	TLS_CT_ALERT = 21,
	TLS_CT_HANDSHAKE = 22,
	TLS_CT_APPLICATION_DATA = 23,
};

enum tls_alert_desc {
	TLS_ALERT_CLOSE_NOTIFY = 0,
	TLS_ALERT_UNEXPECTED_MESSAGE = 10,
	TLS_ALERT_BAD_RECORD_MAC = 20,
	TLS_ALERT_RECORD_OVERFLOW = 22,
	TLS_ALERT_DECODE_ERROR = 50,
	TLS_ALERT_INTERNAL_ERROR = 80,
	TLS_ALERT_USER_CANCELED = 90,
};

/* Results. TLS_OK and TLS_CLOSE_NOTIFY are not errors; every negative value
 * is. After a fatal error (marked F) the connection is failed: it opens and
 * seals nothing more except the fatal alert from tls_seal_alert(). */
enum tls_status {
	TLS_OK = 0,
	TLS_CLOSE_NOTIFY = 1,            /* the peer closed its direction cleanly */
	TLS_ERR_NEED_MORE = -1,          /* the record is not complete yet */
	TLS_ERR_BAD_RECORD_MAC = -2,     /* F: authentication failed */
	TLS_ERR_RECORD_OVERFLOW = -3,    /* F: record longer than allowed */
	TLS_ERR_DECODE = -4,             /* F: malformed header, alert or message */
	TLS_ERR_UNEXPECTED = -5,         /* F: content or message not allowed now */
	TLS_ERR_PEER_ALERT = -6,         /* F: the peer sent a fatal alert */
	TLS_ERR_SEQ_WRAP = -7,           /* F: sequence number would wrap */
	TLS_ERR_KEY_LIMIT = -8,          /* F: AEAD record limit reached */
	TLS_ERR_CLOSED = -9,             /* this direction is closed or failed */
	TLS_ERR_KEY_UPDATE_NEEDED = -10, /* seal tls_seal_key_update() first */
	TLS_ERR_RETRY = -11,             /* not processed: the keys changed earlier in this
	                                  * burst; submit the record again */
	TLS_ERR_NOSPACE = -12,           /* output segments too small */
	TLS_ERR_INVAL = -13,             /* bad arguments */
	TLS_ERR_BACKEND = -14,           /* F: the AEAD backend failed */
	TLS_ERR_UNSUPPORTED = -15,       /* suite or backend cannot be used */
};

const char *tls_strerror(int status);
/* The alert to send for a fatal local error, or -1 when none applies. */
int tls_error_alert(int status);

/* Key material of one connection after its handshake: plain data with no
 * pointers, so the control plane can send it to the dataplane as is. Fill
 * with tls_import_*() (tls_import.h) or by hand (tests). */
struct tls_conn_keys {
	uint16_t version; /* TLS_VERSION_12 or TLS_VERSION_13 */
	uint16_t suite;   /* IANA cipher suite number */
	uint8_t is_server;
	uint8_t secret_len; /* TLS 1.3 traffic secret length */
	uint8_t key_len;
	uint8_t iv_len; /* 12, or 4 for TLS 1.2 AES-GCM */
	/* tx = what this side writes, rx = what it reads. */
	uint8_t tx_secret[TLS_MAX_SECRET_LEN], rx_secret[TLS_MAX_SECRET_LEN];
	uint8_t tx_key[TLS_MAX_KEY_LEN], rx_key[TLS_MAX_KEY_LEN];
	uint8_t tx_iv[TLS_IV_LEN], rx_iv[TLS_IV_LEN];
	uint64_t tx_seq, rx_seq;
};

struct tls_dir {
	struct aead_key *aead;
	uint8_t iv[TLS_IV_LEN];
	uint8_t secret[TLS_MAX_SECRET_LEN];
	uint64_t seq;
	uint64_t epoch; /* bumped on every key change */
};

struct tls_conn {
	const struct tls_suite *suite;
	const struct aead_backend *backend;
	uint16_t version;
	bool is_server;
	struct tls_dir tx, rx;
	/* TLS 1.3: records sealed under one key before a KeyUpdate is asked
	 * for (default 2^24, below the AES-GCM limit of 2^24.5 in RFC 8446
	 * 5.5), and the hard limit after which sealing stops. */
	uint64_t tx_update_after, tx_record_limit;
	bool key_update_owed; /* the peer asked for a KeyUpdate */
	bool rx_closed, tx_closed, failed;
	int16_t peer_alert; /* last alert received, -1 none */
	/* Counters. */
	uint64_t key_updates_rx, key_updates_tx, tickets_rx;
};

/* Set up a connection from imported keys on a backend (NULL: the default
 * backend; a backend that lacks the suite's AEAD falls back to OpenSSL).
 * Returns TLS_OK or TLS_ERR_UNSUPPORTED / TLS_ERR_BACKEND. */
int tls_conn_init(struct tls_conn *c, const struct tls_conn_keys *keys,
                  const struct aead_backend *backend);
/* Frees the AEAD keys and wipes every secret. */
void tls_conn_fini(struct tls_conn *c);

/* Size of the record that seals plain_len bytes (no padding). */
size_t tls_sealed_len(const struct tls_conn *c, size_t plain_len);
/* Where the payload starts in a record: 5, or 13 with TLS 1.2 AES-GCM's
 * explicit nonce. For work in place, seal from plaintext placed at this
 * offset of the output record; open into the record's own bytes from this
 * offset. */
size_t tls_record_payload_offset(const struct tls_conn *c);
/* Validate a record header (RFC 8446 5.1-5.2) and give the whole record's
 * length (header included). TLS_OK, or a fatal TLS_ERR_* (the connection
 * is then marked failed). */
int tls_record_frame(struct tls_conn *c, const uint8_t hdr[TLS_HEADER_LEN], size_t *record_len);

/* True when the caller must seal a KeyUpdate (tls_seal_key_update) before
 * more application data: the peer asked for one, or the key is old. */
bool tls_conn_key_update_due(const struct tls_conn *c);

struct tls_seal_priv {
	struct aead_op op;
	uint8_t hdr[TLS_HEADER_LEN + 8];
	uint8_t aad[13];
	uint8_t inner_type;
	uint8_t hdr_len;
	struct iovec src_v[AEAD_MAX_SEGS];
	struct iovec dst_v[AEAD_MAX_SEGS];
};

/* Seal application data into one record. dst needs room for
 * tls_sealed_len(conn, total src length) bytes. */
struct tls_seal_job {
	struct tls_conn *conn;
	const struct iovec *src; /* plaintext, at most TLS_MAX_PLAINTEXT */
	const struct iovec *dst; /* output segments */
	uint16_t src_cnt, dst_cnt;
	size_t out_len; /* bytes of the record written to dst */
	int status;
	struct tls_seal_priv priv;
};

struct tls_open_priv {
	struct aead_op op;
	uint8_t hdr[TLS_HEADER_LEN + 8];
	uint8_t aad[13];
	uint64_t epoch;
	size_t clen;
	struct iovec src_v[AEAD_MAX_SEGS];
	struct iovec dst_v[AEAD_MAX_SEGS];
};

/* Open one complete record (as framed by tls_record_frame). dst needs room
 * for the record length minus TLS_HEADER_LEN bytes; on success it holds
 * plain_len bytes of application data (plain_len is 0 for alerts and
 * handshake messages, handled here). On any error dst holds no plaintext. */
struct tls_open_job {
	struct tls_conn *conn;
	const struct iovec *src;
	const struct iovec *dst;
	uint16_t src_cnt, dst_cnt;
	uint8_t type; /* content type found (inner type for TLS 1.3) */
	size_t plain_len;
	int status;
	struct tls_open_priv priv;
};

/* Seal or open n jobs (any mix of connections) in one AEAD burst. Jobs of
 * one connection are processed in array order. Returns how many jobs ended
 * with TLS_OK (or TLS_CLOSE_NOTIFY for opens). */
unsigned tls_seal_burst(struct tls_seal_job *jobs, unsigned n);
unsigned tls_open_burst(struct tls_open_job *jobs, unsigned n);

/* Control records, sealed into one contiguous buffer of at least
 * tls_sealed_len(c, 5) bytes. */
int tls_seal_close_notify(struct tls_conn *c, uint8_t *out, size_t cap, size_t *out_len);
/* A fatal alert (after an error); the connection is failed afterwards. */
int tls_seal_alert(struct tls_conn *c, uint8_t desc, uint8_t *out, size_t cap, size_t *out_len);
/* TLS 1.3 KeyUpdate, then the write key moves on (RFC 8446 4.6.3). */
int tls_seal_key_update(struct tls_conn *c, bool request_peer_update, uint8_t *out, size_t cap,
                        size_t *out_len);

/* Contiguous helpers over the burst calls. tls_seal_buf seals len <=
 * TLS_MAX_PLAINTEXT bytes. tls_open_buf opens the first record in in[]:
 * *consumed is its length (0 with TLS_ERR_NEED_MORE). */
int tls_seal_buf(struct tls_conn *c, const void *in, size_t len, uint8_t *out, size_t cap,
                 size_t *out_len);
int tls_open_buf(struct tls_conn *c, const uint8_t *in, size_t in_len, size_t *consumed,
                 uint8_t *out, size_t cap, size_t *plain_len);

#endif
