/* The fast path for file bytes (issue 6): once a data connection's TLS
 * handshake is done, its keys and sequence numbers are exported
 * (crypto/tls_import), the open file goes to the dataplane with SCM_RIGHTS,
 * and the dataplane's worker lcore seals or opens every record and reads or
 * writes the file with io_uring.  Its DONE becomes the reply.  Listings and
 * connections that cannot be taken over stay on transfer_relay.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "session.h"
#include "tls_import.h"

static void takeover_copy_dir(struct ftps_ipc_tls_dir *d, const uint8_t *key, const uint8_t *iv,
                              const uint8_t *secret, uint64_t seq, const struct tls_conn_keys *k)
{
	memcpy(d->key, key, k->key_len);
	memcpy(d->iv, iv, k->iv_len);
	if (k->version == TLS_VERSION_13)
		memcpy(d->secret, secret, k->secret_len);
	d->key_len = k->key_len;
	d->iv_len = k->iv_len;
	d->secret_len = k->version == TLS_VERSION_13 ? k->secret_len : 0;
	d->seq = seq;
}

int transfer_takeover_try(struct session *s)
{
	struct data_conn *dc = s->dc;
	if (!g_cfg->fast_path || dc == NULL || dc->rc == NULL || !dc->tls.handshake_done)
		return 0;
	/* What OpenSSL wrote (TLS 1.3 tickets) must be in the dataplane's
	 * hands before the TAKEOVER; the relay keeps the order. */
	if (tls_stream_drain(&dc->tls, dc->rc) != 0)
		return 0;
	if (rconn_pending(dc->rc) > 0)
		return 1; /* on_writable brings us back */
	size_t cap = sizeof(struct ftps_ipc_takeover) + FTPS_IPC_MAX_LEFTOVER;
	struct ftps_ipc_takeover *m = calloc(1, cap);
	if (m == NULL)
		return 0;
	struct tls_conn_keys keys;
	size_t leftover = 0;
	char err[200];
	if (tls_import_export(dc->tls.ssl, &keys, m->leftover, FTPS_IPC_MAX_LEFTOVER, &leftover,
	                      err, sizeof(err)) != 0) {
		log_msg(LOG_INFO, "session %llu: transfer stays on the control plane: %s",
		        (unsigned long long)s->sid, err);
		free(m);
		return 0;
	}
	size_t len = sizeof(*m) + leftover;
	ftps_ipc_hdr_init(&m->hdr, FTPS_IPC_TAKEOVER, (uint32_t)len, dc->rc->id);
	m->tls_version = keys.version;
	m->suite = keys.suite;
	m->direction = s->job.kind == JOB_RETR ? FTPS_IPC_DIR_SEND_FILE : FTPS_IPC_DIR_RECV_FILE;
	m->file_offset = s->job.offset;
	if (s->job.kind == JOB_STOR) {
		/* APPE opened with O_APPEND: its writes land at the end anyway;
		 * the offset keeps the dataplane's accounting right. */
		struct stat st;
		if (fstat(s->job.fd, &st) == 0 && (uint64_t)st.st_size > m->file_offset)
			m->file_offset = (uint64_t)st.st_size;
	}
	m->flags = g_cfg->allow_truncated_uploads ? 0 : FTPS_IPC_TAKEOVER_REQUIRE_CLOSE_NOTIFY;
	m->leftover_len = (uint32_t)leftover;
	/* The stall clock moves to the dataplane with the bytes (data_tick
	 * stops at TAKEOVER). */
	m->idle_timeout_s = g_cfg->data_timeout;
	takeover_copy_dir(&m->tx, keys.tx_key, keys.tx_iv, keys.tx_secret, keys.tx_seq, &keys);
	takeover_copy_dir(&m->rx, keys.rx_key, keys.rx_iv, keys.rx_secret, keys.rx_seq, &keys);
	int rc = rconn_takeover(dc->rc, m, len, s->job.fd);
	/* Secrets never linger in our memory. */
	OPENSSL_cleanse(&keys, sizeof(keys));
	OPENSSL_cleanse(m, len);
	free(m);
	if (rc != 0)
		return 0;
	s->job.taken_over = true;
	return 1;
}

void transfer_takeover_done(struct session *s, const struct ftps_ipc_done *done)
{
	s->job.bytes = done->bytes;
	int code = 426;
	const char *text = "Data connection lost; transfer aborted";
	switch (done->status) {
	case 0:
		code = 226;
		text = s->job.kind == JOB_STOR ? "Transfer complete; the data is on stable storage"
		                               : "Transfer complete";
		break;
	case ECONNABORTED:
		text = "Upload ended without TLS close_notify: possibly truncated, not reported "
		       "as stored (the partial file is kept; REST resumes it)";
		break;
	case ENOSPC:
	case EDQUOT:
		code = 452;
		text = "Insufficient storage space; transfer aborted";
		break;
	case EIO:
		code = 451;
		text = "Local I/O error; transfer aborted";
		break;
	case ESTALE:
		code = 451;
		text = "The file changed during the transfer; transfer aborted";
		break;
	case EFBIG:
		code = 552;
		text = "File size limit exceeded; transfer aborted";
		break;
	case EPROTO:
		text = "TLS error on the data connection; transfer aborted";
		break;
	case ETIMEDOUT:
		text = "Data connection stalled; transfer aborted";
		break;
	case EOPNOTSUPP:
		code = 451;
		text = "The dataplane cannot take this transfer over";
		break;
	default:
		break;
	}
	data_finish_job(s, code, text);
}
