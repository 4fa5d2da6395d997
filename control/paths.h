/* Paths under a user's root. Clients name paths in a virtual tree whose "/"
 * is the user's root; the session keeps its cwd as such a virtual absolute
 * path. Names are normalised lexically (".." stops at "/"), then every
 * lookup goes through openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from
 * the root's descriptor, so no "..", absolute path or symlink (absolute or
 * relative) can leave the root even if the tree changes underneath. */
#ifndef FTPS_CONTROL_PATHS_H
#define FTPS_CONTROL_PATHS_H

#include <stddef.h>
#include <sys/types.h>

#define VPATH_MAX 1024

/* Combine cwd and a client argument into a normalised virtual path. 0 or -1
 * (too long). */
int path_join(const char *cwd, const char *arg, char *out, size_t cap);
/* openat2 of a virtual path beneath root_fd; -1 with errno (EXDEV when a
 * symlink points outside, ELOOP for magic links). */
int path_open(int root_fd, const char *vpath, int flags, mode_t mode);
/* Open the parent directory of vpath (O_PATH|O_DIRECTORY) and return the
 * last component in name. -1 for "/" itself or errors. */
int path_open_parent(int root_fd, const char *vpath, char *name, size_t cap);
/* fsync the directory holding vpath, so that a new file's name survives a
 * crash as its data does (POSIX leaves that to the parent's fsync); -1 with
 * errno. */
int path_sync_parent(int root_fd, const char *vpath);

#endif
