/* Latency samples (microseconds) and their percentiles, and error counts
 * by kind, for the load generator's report. */
#ifndef LG_STATS_H
#define LG_STATS_H

#include <stddef.h>
#include <stdint.h>

struct lg_hist {
	uint32_t *us;
	size_t n, cap;
	int failed; /* an allocation failed: samples were dropped */
};

void lg_hist_add(struct lg_hist *h, double seconds);
/* p in [0, 100]; nearest-rank percentile in microseconds, 0 if empty.
 * Sorts the samples in place. */
uint32_t lg_hist_percentile(struct lg_hist *h, double p);
void lg_hist_free(struct lg_hist *h);

enum lg_error {
	LG_ERR_CONNECT,   /* TCP connect refused, reset or failed */
	LG_ERR_TLS,       /* handshake or record error */
	LG_ERR_REPLY,     /* unexpected FTP reply code */
	LG_ERR_PROTOCOL,  /* malformed reply, e.g. a bad EPSV port */
	LG_ERR_DATA,      /* data connection lost */
	LG_ERR_TRUNCATED, /* download ended without close_notify */
	LG_ERR_SIZE,      /* byte count differs from the expected size */
	LG_ERR_CONTENT,   /* SHA-256 differs from the expected content */
	LG_ERR_TIMEOUT,   /* no progress for the idle timeout */
	LG_ERR_COUNT
};

const char *lg_error_name(enum lg_error e);

#endif
