/* Directory listings produced by the control plane: LIST (ls -l form), NLST
 * (names), MLSD/MLST (RFC 3659 7: type, size, modify, perm, unique). */
#ifndef FTPS_CONTROL_LISTING_H
#define FTPS_CONTROL_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "bbuf.h"

enum listing_kind { LISTING_LS, LISTING_NLST, LISTING_MLSD };

/* List directory fd (consumed: closed here) into out, CR LF lines. 0 or -1. */
int listing_dir(int dir_fd, enum listing_kind kind, unsigned perms, struct bbuf *out);
/* One entry for a non-directory path. */
int listing_one(const struct stat *st, const char *name, enum listing_kind kind, unsigned perms,
                struct bbuf *out);
/* "type=file;size=..;modify=..;perm=..;unique=..; " without the name. */
size_t listing_facts(const struct stat *st, const char *type_override, unsigned perms, char *out,
                     size_t cap);

#endif
