/* Recursive mirroring both ways over N parallel control sessions. */
#ifndef FTPS_MIRROR_H
#define FTPS_MIRROR_H

#include "client.h"
#include "ftp_session.h"

/* Download the remote folder tree into local (created as needed). s is an
 * open, logged-in session that becomes worker 0. */
int mirror_download(struct ftp_session *s, const char *remote, const char *local);
/* Upload the local folder tree into remote (created as needed). */
int mirror_upload(struct ftp_session *s, const char *local, const char *remote);

#endif
