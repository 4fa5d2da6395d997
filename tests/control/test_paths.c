/* Unit tests for path normalisation and openat2 confinement. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "paths.h"

static void join_is(const char *cwd, const char *arg, const char *want)
{
	char out[VPATH_MAX];
	CHECK(path_join(cwd, arg, out, sizeof(out)) == 0);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "join(%s, %s) = %s, want %s\n", cwd, arg, out, want);
	CHECK(strcmp(out, want) == 0);
}

int main(void)
{
	join_is("/", "a", "/a");
	join_is("/a/b", "../c", "/a/c");
	join_is("/a", "../../../../etc/passwd", "/etc/passwd");
	join_is("/a", "/x//y/./z/", "/x/y/z");
	join_is("/", "..", "/");
	join_is("/a/b", ".", "/a/b");
	char long_arg[3000];
	memset(long_arg, 'x', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	char out[VPATH_MAX];
	CHECK(path_join("/", long_arg, out, sizeof(out)) == -1);

	char tmpl[] = "/tmp/ftps-paths-XXXXXX";
	char *base = mkdtemp(tmpl);
	CHECK(base != NULL);
	char p[512];
	snprintf(p, sizeof(p), "%s/root", base);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/secret", base);
	int fd = open(p, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/root/file", base);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/root/abs", base);
	CHECK(symlink("/etc", p) == 0);
	snprintf(p, sizeof(p), "%s/root/rel", base);
	CHECK(symlink("../secret", p) == 0);
	snprintf(p, sizeof(p), "%s/root/inside", base);
	CHECK(symlink("file", p) == 0);
	snprintf(p, sizeof(p), "%s/root", base);
	int root = open(p, O_PATH | O_DIRECTORY);
	CHECK(root >= 0);

	fd = path_open(root, "/file", O_RDONLY, 0);
	CHECK(fd >= 0);
	close(fd);
	fd = path_open(root, "/inside", O_RDONLY, 0); /* symlink within the root */
	CHECK(fd >= 0);
	close(fd);
	fd = path_open(root, "/", O_RDONLY | O_DIRECTORY, 0);
	CHECK(fd >= 0);
	close(fd);
	errno = 0;
	CHECK(path_open(root, "/abs/passwd", O_RDONLY, 0) < 0 && errno == EXDEV);
	errno = 0;
	CHECK(path_open(root, "/rel", O_RDONLY, 0) < 0 && errno == EXDEV);
	errno = 0;
	CHECK(path_open(root, "../secret", O_RDONLY, 0) < 0 && errno == EXDEV);
	CHECK(path_open(root, "/proc/self/root/etc/passwd", O_RDONLY, 0) < 0);

	char name[256];
	fd = path_open_parent(root, "/file", name, sizeof(name));
	CHECK(fd >= 0 && strcmp(name, "file") == 0);
	close(fd);
	CHECK(path_open_parent(root, "/", name, sizeof(name)) < 0);
	CHECK(path_open_parent(root, "/abs/x", name, sizeof(name)) < 0);
	close(root);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	CHECK(system(cmd) == 0);
	return check_finish("test_paths");
}
