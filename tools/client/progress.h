/* Progress and per-file reports. On a terminal: one redrawn status line on
 * stderr with rate and ETA. Otherwise: one line per file on stdout, plain
 * text or JSON (--json), and a summary. Thread-safe. */
#ifndef FTPS_PROGRESS_H
#define FTPS_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"

struct progress {
	enum output_mode mode;
	atomic_uint_fast64_t bytes_done;
	atomic_uint_fast64_t bytes_total; /* bytes this run expects to move */
	bool total_known;                 /* from a listing; else grown per file */
	atomic_uint files_done, files_failed, files_skipped;
	unsigned int files_total;
	double start;
	pthread_mutex_t lock; /* one writer of terminal lines at a time */
	pthread_t drawer;
	atomic_bool stop;
	bool drawing;
};

struct file_report {
	const char *op; /* "get", "put" */
	const char *remote, *local;
	uint64_t bytes;        /* bytes moved in this run */
	uint64_t resumed_from; /* offset the transfer resumed at (REST) */
	uint64_t size;         /* final size */
	const char *verify;    /* "sha256", "size", "skipped-complete" */
	int status;            /* enum client_exit */
	const char *error;     /* when status != 0 */
};

double progress_now(void);
void progress_start(struct progress *p, enum output_mode mode, unsigned int files, uint64_t bytes);
void progress_add(struct progress *p, uint64_t bytes);
/* A transfer learned that of `listed` bytes (its size in the listing, or
 * SIZE_UNKNOWN) it will move `to_move` (less when resuming, 0 when
 * complete): keeps the percentage and ETA honest. */
void progress_plan(struct progress *p, uint64_t listed, uint64_t to_move);
void progress_file(struct progress *p, const struct file_report *r, double seconds);
/* Stop the drawer and print the summary. */
void progress_finish(struct progress *p, int status);

#endif
