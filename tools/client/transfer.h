/* One file each way over an open session, with REST resume and verification
 * (HASH SHA-256 when the server offers it, else the size). */
#ifndef FTPS_TRANSFER_H
#define FTPS_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "ftp_session.h"
#include "progress.h"

#define SIZE_UNKNOWN UINT64_MAX

/* Download remote to local. remote_size may be SIZE_UNKNOWN (asked with
 * SIZE). resume: continue a shorter local file with REST and skip a complete
 * one. Reports to p and returns an enum client_exit. */
int xfer_get(struct ftp_session *s, const char *remote, const char *local, uint64_t remote_size,
             bool resume, struct progress *p);
/* Upload local to remote; resume continues after the remote file's size. */
int xfer_put(struct ftp_session *s, const char *local, const char *remote, bool resume,
             struct progress *p);
/* SHA-256 of the bytes of a local file, lower-case hex. */
int xfer_sha256_file(const char *path, char hex[65]);

#endif
