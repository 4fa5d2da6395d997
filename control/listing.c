#include "listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "users.h"

static void mode_string(mode_t m, char out[11])
{
	out[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : '-';
	const char *rwx = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		out[1 + i] = (m & (1u << (8 - i))) ? rwx[i] : '-';
	out[10] = '\0';
}

static int ls_line(const struct stat *st, const char *name, struct bbuf *out)
{
	char mode[11], when[32], line[1400];
	struct tm tm;
	time_t now = time(NULL);

	mode_string(st->st_mode, mode);
	gmtime_r(&st->st_mtime, &tm);
	/* ls: the year instead of the time for entries older than ~6 months */
	const char *fmt = (now - st->st_mtime > 15552000 || st->st_mtime > now + 3600)
	                      ? "%b %e  %Y"
	                      : "%b %e %H:%M";
	if (strftime(when, sizeof(when), fmt, &tm) == 0)
		return -1;
	int n = snprintf(line, sizeof(line), "%s %3lu ftp      ftp      %12lld %s %s\r\n", mode,
	                 (unsigned long)st->st_nlink, (long long)st->st_size, when, name);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return bbuf_append(out, line, (size_t)n);
}

size_t listing_facts(const struct stat *st, const char *type_override, unsigned perms, char *out,
                     size_t cap)
{
	char when[32];
	struct tm tm;
	char perm[16];
	size_t p = 0;
	bool dir = S_ISDIR(st->st_mode);

	gmtime_r(&st->st_mtime, &tm);
	if (strftime(when, sizeof(when), "%Y%m%d%H%M%S", &tm) == 0)
		return 0;
	/* RFC 3659 7.5.5 perm letters, from the user's permissions */
	if (dir) {
		perm[p++] = 'e';
		if (perms & PERM_READ)
			perm[p++] = 'l';
		if (perms & PERM_WRITE)
			perm[p++] = 'c';
		if (perms & PERM_MKDIR)
			perm[p++] = 'm';
		if (perms & PERM_WRITE)
			perm[p++] = 'p';
	} else {
		if (perms & PERM_READ)
			perm[p++] = 'r';
		if (perms & PERM_WRITE) {
			perm[p++] = 'w';
			perm[p++] = 'a';
		}
	}
	if (perms & PERM_DELETE)
		perm[p++] = 'd';
	if (perms & PERM_RENAME)
		perm[p++] = 'f';
	perm[p] = '\0';
	int n = snprintf(out, cap, "type=%s;size=%lld;modify=%s;perm=%s;unique=%llxg%llx;",
	                 type_override ? type_override
	                 : dir         ? "dir"
	                               : "file",
	                 (long long)st->st_size, when, perm, (unsigned long long)st->st_dev,
	                 (unsigned long long)st->st_ino);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int emit(const struct stat *st, const char *name, const char *type, enum listing_kind kind,
                unsigned perms, struct bbuf *out)
{
	char line[1400];
	int n;

	switch (kind) {
	case LISTING_LS:
		return ls_line(st, name, out);
	case LISTING_NLST:
		n = snprintf(line, sizeof(line), "%s\r\n", name);
		break;
	case LISTING_MLSD: {
		char facts[256];
		if (listing_facts(st, type, perms, facts, sizeof(facts)) == 0)
			return -1;
		n = snprintf(line, sizeof(line), "%s %s\r\n", facts, name);
		break;
	}
	default:
		return -1;
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return bbuf_append(out, line, (size_t)n);
}

int listing_one(const struct stat *st, const char *name, enum listing_kind kind, unsigned perms,
                struct bbuf *out)
{
	return emit(st, name, NULL, kind, perms, out);
}

int listing_dir(int dir_fd, enum listing_kind kind, unsigned perms, struct bbuf *out)
{
	DIR *d = fdopendir(dir_fd);
	struct dirent *e;
	int rc = 0;

	if (d == NULL) {
		close(dir_fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		bool dot = strcmp(e->d_name, ".") == 0, dotdot = strcmp(e->d_name, "..") == 0;
		if ((dot || dotdot) && kind != LISTING_MLSD)
			continue;
		if (dotdot)
			continue; /* the parent of the root is nobody's business */
		if (strchr(e->d_name, '\n') || strchr(e->d_name, '\r'))
			continue; /* names that would break the line format */
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* removed meanwhile */
		if (emit(&st, e->d_name, dot ? "cdir" : NULL, kind, perms, out) != 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}
