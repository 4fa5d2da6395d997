#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int path_join(const char *cwd, const char *arg, char *out, size_t cap)
{
	char tmp[2 * VPATH_MAX + 2];
	size_t len = 0;

	if (cap < 2)
		return -1;
	int n = arg[0] == '/' ? snprintf(tmp, sizeof(tmp), "%s", arg)
	                      : snprintf(tmp, sizeof(tmp), "%s/%s", cwd, arg);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	out[0] = '/';
	len = 1;
	char *save = NULL;
	for (char *seg = strtok_r(tmp, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			/* drop the last component; "/.." stays "/" */
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
			continue;
		}
		size_t sl = strlen(seg);
		if (len + (len > 1) + sl + 1 > cap)
			return -1;
		if (len > 1)
			out[len++] = '/';
		memcpy(out + len, seg, sl);
		len += sl;
	}
	out[len] = '\0';
	return 0;
}

int path_open(int root_fd, const char *vpath, int flags, mode_t mode)
{
	struct open_how how = {
	    /* openat2 refuses O_NOCTTY together with O_PATH */
	    .flags = (unsigned long long)(flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY)),
	    .mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = vpath[0] == '/' ? vpath + 1 : vpath;
	if (rel[0] == '\0')
		rel = ".";
	long fd;
	do {
		fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
	} while (fd < 0 && errno == EAGAIN);
	return (int)fd;
}

int path_open_parent(int root_fd, const char *vpath, char *name, size_t cap)
{
	char parent[VPATH_MAX];
	const char *slash = strrchr(vpath, '/');

	if (slash == NULL || slash[1] == '\0' || strlen(slash + 1) >= cap) {
		errno = EINVAL;
		return -1;
	}
	size_t plen = (size_t)(slash - vpath);
	if (plen >= sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(parent, vpath, plen);
	parent[plen] = '\0';
	if (plen == 0)
		strcpy(parent, "/");
	snprintf(name, cap, "%s", slash + 1);
	return path_open(root_fd, parent, O_PATH | O_DIRECTORY, 0);
}

int path_sync_parent(int root_fd, const char *vpath)
{
	char parent[VPATH_MAX];
	const char *slash = strrchr(vpath, '/');
	size_t plen = slash == NULL ? 0 : (size_t)(slash - vpath);
	if (plen >= sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(parent, vpath, plen);
	parent[plen] = '\0';
	/* fsync needs a real descriptor, not O_PATH */
	int fd = path_open(root_fd, plen == 0 ? "/" : parent, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}
