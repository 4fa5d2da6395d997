/* ftps-users: add users and set passwords in the ftps-control users file
 * (format in users.h). Passwords are read from standard input (one line),
 * never from the command line. The file is rewritten atomically, mode 0600.
 *
 *   ftps-users -f FILE add NAME ROOT PERMS [MAX_SESSIONS]
 *   ftps-users -f FILE passwd NAME
 *   ftps-users -f FILE perms NAME PERMS
 *   ftps-users -f FILE cert NAME sha256=HEX[+nopass] | subject=DN[+nopass] | none
 *   ftps-users -f FILE del NAME
 *   ftps-users -f FILE list
 *   ftps-users hash            (print a hash for the password on stdin) */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "users.h"

static int read_password(char *out, size_t cap)
{
	if (fgets(out, (int)cap, stdin) == NULL) {
		fprintf(stderr, "ftps-users: no password on standard input\n");
		return -1;
	}
	size_t n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "ftps-users: empty password refused\n");
		return -1;
	}
	return 0;
}

static int save(const char *path, const struct user_db *db)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "ftps-users: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(f,
	        "# ftps-control users: name:hash:root:perms[:max_sessions[:cert]] (ftps-users)\n");
	for (size_t i = 0; i < db->count; i++) {
		const struct user *u = &db->users[i];
		char perms[8];
		size_t p = 0;
		if (u->perms & PERM_READ)
			perms[p++] = 'r';
		if (u->perms & PERM_WRITE)
			perms[p++] = 'w';
		if (u->perms & PERM_DELETE)
			perms[p++] = 'd';
		if (u->perms & PERM_RENAME)
			perms[p++] = 'n';
		if (u->perms & PERM_MKDIR)
			perms[p++] = 'm';
		if (p == 0)
			perms[p++] = '-';
		perms[p] = '\0';
		if (u->cert[0])
			fprintf(f, "%s:%s:%s:%s:%u:%s%s\n", u->name, u->hash, u->root, perms,
			        u->max_sessions, u->cert, u->cert_nopass ? "+nopass" : "");
		else if (u->max_sessions)
			fprintf(f, "%s:%s:%s:%s:%u\n", u->name, u->hash, u->root, perms,
			        u->max_sessions);
		else
			fprintf(f, "%s:%s:%s:%s\n", u->name, u->hash, u->root, perms);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "ftps-users: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static struct user *find_mut(struct user_db *db, const char *name)
{
	return (struct user *)users_find(db, name);
}

int main(int argc, char **argv)
{
	const char *file = NULL;
	char err[512], pw[1024];
	struct user_db db = {0};
	int i = 1, rc = 1;

	if (argc > 2 && strcmp(argv[1], "-f") == 0) {
		file = argv[2];
		i = 3;
	}
	if (i >= argc)
		goto usage;
	const char *cmd = argv[i++];
	if (strcmp(cmd, "hash") == 0) {
		char h[256];
		if (read_password(pw, sizeof(pw)) || users_make_hash(pw, h, sizeof(h)))
			return 1;
		OPENSSL_cleanse(pw, sizeof(pw));
		printf("%s\n", h);
		return 0;
	}
	if (file == NULL)
		goto usage;
	if (access(file, F_OK) == 0 && users_load(file, &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "ftps-users: %s\n", err);
		return 1;
	}
	if (strcmp(cmd, "list") == 0 && i == argc) {
		for (size_t k = 0; k < db.count; k++)
			printf("%s %s perms=%#x max_sessions=%u cert=%s%s\n", db.users[k].name,
			       db.users[k].root, db.users[k].perms, db.users[k].max_sessions,
			       db.users[k].cert[0] ? db.users[k].cert : "-",
			       db.users[k].cert_nopass ? "+nopass" : "");
		rc = 0;
	} else if (strcmp(cmd, "add") == 0 && (argc - i == 3 || argc - i == 4)) {
		struct user u = {0};
		if (find_mut(&db, argv[i])) {
			fprintf(stderr, "ftps-users: user %s exists (use passwd)\n", argv[i]);
			goto out;
		}
		if (strlen(argv[i]) >= sizeof(u.name) || strchr(argv[i], ':') ||
		    argv[i + 1][0] != '/' || strchr(argv[i + 1], ':') ||
		    strlen(argv[i + 1]) >= sizeof(u.root) ||
		    users_parse_perms(argv[i + 2], &u.perms) != 0) {
			fprintf(stderr,
			        "ftps-users: bad name, root (absolute, no ':') or perms (rwdnm)\n");
			goto out;
		}
		snprintf(u.name, sizeof(u.name), "%s", argv[i]);
		snprintf(u.root, sizeof(u.root), "%s", argv[i + 1]);
		if (argc - i == 4)
			u.max_sessions = (uint32_t)strtoul(argv[i + 3], NULL, 10);
		if (read_password(pw, sizeof(pw)) || users_make_hash(pw, u.hash, sizeof(u.hash)))
			goto out;
		struct user *nu = realloc(db.users, (db.count + 1) * sizeof(*nu));
		if (nu == NULL)
			goto out;
		db.users = nu;
		db.users[db.count++] = u;
		rc = save(file, &db);
	} else if (strcmp(cmd, "passwd") == 0 && argc - i == 1) {
		struct user *u = find_mut(&db, argv[i]);
		if (u == NULL) {
			fprintf(stderr, "ftps-users: no user %s\n", argv[i]);
			goto out;
		}
		if (read_password(pw, sizeof(pw)) || users_make_hash(pw, u->hash, sizeof(u->hash)))
			goto out;
		rc = save(file, &db);
	} else if (strcmp(cmd, "perms") == 0 && argc - i == 2) {
		struct user *u = find_mut(&db, argv[i]);
		if (u == NULL || users_parse_perms(argv[i + 1], &u->perms) != 0) {
			fprintf(stderr, "ftps-users: no user %s or bad perms\n", argv[i]);
			goto out;
		}
		rc = save(file, &db);
	} else if (strcmp(cmd, "cert") == 0 && argc - i == 2) {
		struct user *u = find_mut(&db, argv[i]);
		if (u == NULL) {
			fprintf(stderr, "ftps-users: no user %s\n", argv[i]);
			goto out;
		}
		if (strcmp(argv[i + 1], "none") == 0) {
			u->cert[0] = '\0';
			u->cert_nopass = false;
		} else if (users_parse_cert(argv[i + 1], u) != 0) {
			fprintf(stderr, "ftps-users: cert must be sha256=<64 hex> or subject=<DN>, "
			                "optionally +nopass\n");
			goto out;
		}
		rc = save(file, &db);
	} else if (strcmp(cmd, "del") == 0 && argc - i == 1) {
		struct user *u = find_mut(&db, argv[i]);
		if (u == NULL) {
			fprintf(stderr, "ftps-users: no user %s\n", argv[i]);
			goto out;
		}
		size_t k = (size_t)(u - db.users);
		memmove(&db.users[k], &db.users[k + 1], (db.count - k - 1) * sizeof(*u));
		db.count--;
		rc = save(file, &db);
	} else {
		users_free(&db);
		goto usage;
	}
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	users_free(&db);
	return rc;
usage:
	fprintf(stderr,
	        "usage: ftps-users -f FILE add NAME ROOT PERMS [MAX_SESSIONS]\n"
	        "       ftps-users -f FILE passwd NAME | perms NAME PERMS | del NAME | list\n"
	        "       ftps-users -f FILE cert NAME sha256=HEX[+nopass]|subject=DN[+nopass]|none\n"
	        "       ftps-users hash\n"
	        "Passwords are read from standard input. PERMS: letters from rwdnm.\n");
	return 2;
}
