/* TEMPORARY transfer path (issue 5): file bytes for RETR/STOR/APPE/STOU and
 * listing text are carried here by the control plane itself, through its
 * own OpenSSL connection and the dataplane relay. Issue 6 replaces this for
 * file transfers with the dataplane's fast path (TAKEOVER/DONE); listings
 * stay here. Kept small on purpose: bounded by the relay credit, no
 * read-ahead beyond SEND_HIGH bytes per connection. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "evloop.h"
#include "session.h"

#define SEND_HIGH (128u * 1024u)
#define CHUNK     16384u

static int send_bytes(struct data_conn *dc, const void *p, size_t n)
{
	if (dc->tls_on) {
		if (tls_stream_write(&dc->tls, p, n) != 0)
			return -1;
		return tls_stream_drain(&dc->tls, dc->rc);
	}
	return rconn_write(dc->rc, p, n);
}

void transfer_relay_pump_send(struct session *s)
{
	struct data_conn *dc = s->dc;
	uint8_t buf[CHUNK];

	/* A download the dataplane takes (or is about to take) over moves no
	 * bytes here. */
	if (s->job.taken_over ||
	    (s->job.kind == JOB_RETR && dc != NULL && dc->tls_on && transfer_takeover_try(s)))
		return;

	while (dc != NULL && dc->rc != NULL && rconn_pending(dc->rc) < SEND_HIGH) {
		size_t n = 0;
		if (s->job.kind == JOB_SEND_BUFFER) {
			n = bbuf_len(&s->job.buf);
			if (n > CHUNK)
				n = CHUNK;
			if (n > 0)
				memcpy(buf, bbuf_head(&s->job.buf), n);
			bbuf_consume(&s->job.buf, n);
		} else if (s->job.kind == JOB_RETR) {
			ssize_t r = pread(s->job.fd, buf, CHUNK, (off_t)s->job.offset);
			if (r < 0) {
				data_finish_job(s, 451, "Read error; transfer aborted");
				return;
			}
			n = (size_t)r;
			s->job.offset += n;
		} else {
			return;
		}
		if (n == 0) {
			/* complete: close_notify + FIN happen in data_finish_job */
			data_finish_job(s, 226, "Transfer complete");
			return;
		}
		if (send_bytes(dc, buf, n) != 0) {
			data_finish_job(s, 426, "Send failed; transfer aborted");
			return;
		}
		s->job.bytes += n;
		data_progress(s);
	}
}

void transfer_relay_on_plain(struct session *s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = pwrite(s->job.fd, p, n, (off_t)s->job.offset);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			data_finish_job(s, errno == ENOSPC || errno == EDQUOT ? 452 : 451,
			                errno == ENOSPC || errno == EDQUOT
			                    ? "Insufficient storage space; transfer aborted"
			                    : "Write error; transfer aborted");
			return;
		}
		p += w;
		n -= (size_t)w;
		s->job.offset += (uint64_t)w;
		s->job.bytes += (uint64_t)w;
		data_progress(s);
	}
}

void transfer_relay_on_end(struct session *s, bool close_notify)
{
	if (!close_notify) {
		/* FIN without close_notify: possibly truncated; keep the
		 * partial file for REST, report failure. */
		data_finish_job(s, 426,
		                "Upload ended without TLS close_notify; possible truncation");
		return;
	}
	if (fdatasync(s->job.fd) != 0) {
		data_finish_job(s, 451, "Could not make the file durable");
		return;
	}
	data_finish_job(s, 226, "Transfer complete");
}
