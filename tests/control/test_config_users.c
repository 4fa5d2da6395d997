/* Unit tests for the INI config (file:line: reason errors), the users file,
 * scrypt hashes and lockout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "users.h"

static char dir[] = "/tmp/ftps-cfg-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, 512, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return p;
}

static void test_config(void)
{
	struct ftps_config cfg;
	char err[512], text[2048];

	const char *cert = write_file("cert.pem", "x");
	snprintf(text, sizeof(text),
	         "[server]\nlisten = 198.18.0.1:2121\npasv_ports = 41000-41010\n"
	         "[tls]\ncertificate = %s\nkey = %s\nsession_reuse = allowed\nmin_version = 1.3\n"
	         "[auth]\nusers_file = %s\n[limits]\nidle_timeout = 30\n",
	         cert, cert, cert);
	const char *good = write_file("good.ini", text);
	CHECK(config_load(good, &cfg, err, sizeof(err)) == 0);
	CHECK_EQ(cfg.explicit_listen.port, 2121);
	CHECK_EQ(cfg.pasv_min, 41000);
	CHECK_EQ(cfg.session_reuse, REUSE_ALLOWED);
	CHECK_EQ(cfg.idle_timeout, 30);
	CHECK(!cfg.implicit_listen.enabled);

	snprintf(text, sizeof(text), "[server]\nlisten = 21\n\n[tls]\nsession_reuse = sometimes\n");
	const char *bad = write_file("bad.ini", text);
	CHECK(config_load(bad, &cfg, err, sizeof(err)) != 0);
	char want[600];
	snprintf(want, sizeof(want), "%s:5: session_reuse", bad);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	if (strncmp(err, want, strlen(want)) != 0)
		fprintf(stderr, "got: %s\n", err);

	bad = write_file("bad2.ini", "[limits]\nmax_sessions = -1\n");
	CHECK(config_load(bad, &cfg, err, sizeof(err)) != 0);
	CHECK(strstr(err, ":2: max_sessions") != NULL);
	bad = write_file("bad3.ini", "[server]\nfrobnicate = 1\n");
	CHECK(config_load(bad, &cfg, err, sizeof(err)) != 0);
	CHECK(strstr(err, ":2: unknown key 'frobnicate'") != NULL);
	bad = write_file("bad4.ini", "[tls]\ncertificate = /nonexistent/x.pem\n");
	CHECK(config_load(bad, &cfg, err, sizeof(err)) != 0);
	CHECK(strstr(err, ":2: certificate: cannot read") != NULL);
	/* two bad lines: the first one's line and reason are reported */
	bad = write_file("bad6.ini", "[server]\nlisten = 99999\n[limits]\nmax_line = 1\n");
	CHECK(config_load(bad, &cfg, err, sizeof(err)) != 0);
	CHECK(strstr(err, ":2: listen:") != NULL);
	if (strstr(err, ":2: listen:") == NULL)
		fprintf(stderr, "got: %s\n", err);
	bad = write_file("bad5.ini", "[server]\nlisten = 21\n");
	CHECK(config_load(bad, &cfg, err, sizeof(err)) != 0);
	CHECK(strstr(err, "certificate and key are required") != NULL);
}

static void test_users(void)
{
	char hash[256], err[512], text[1024];
	struct user_db db;

	CHECK(users_make_hash("pw-1", hash, sizeof(hash)) == 0);
	CHECK(strncmp(hash, "scrypt$16384$8$1$", 17) == 0);
	CHECK(users_check_password(hash, "pw-1"));
	CHECK(!users_check_password(hash, "pw-2"));
	CHECK(!users_check_password(NULL, "pw-1"));
	CHECK(!users_check_password("md5$abc", "pw-1"));

	snprintf(text, sizeof(text), "# comment\nalice:%s:/srv/a:rwdnm:3\nbob:%s:/srv/b:r\n", hash,
	         hash);
	CHECK(users_load(write_file("users.txt", text), &db, err, sizeof(err)) == 0);
	CHECK_EQ(db.count, 2);
	const struct user *a = users_find(&db, "alice");
	CHECK(a != NULL && a->max_sessions == 3 && a->perms == 31);
	const struct user *b = users_find(&db, "bob");
	CHECK(b != NULL && b->perms == PERM_READ);
	CHECK(users_find(&db, "carol") == NULL);
	users_free(&db);

	snprintf(text, sizeof(text), "alice:%s:/srv/a:rwx\n", hash);
	CHECK(users_load(write_file("users2.txt", text), &db, err, sizeof(err)) != 0);
	CHECK(strstr(err, ":1: perms") != NULL);
	CHECK(users_load(write_file("users3.txt", "\nbob:plain:/srv/b:r\n"), &db, err,
	                 sizeof(err)) != 0);
	CHECK(strstr(err, ":2: bad password hash") != NULL);

	/* client-certificate mapping: the last field may contain ':' */
	snprintf(text, sizeof(text),
	         "carol:%s:/srv/c:r:0:subject=CN=carol,O=a:b+nopass\n"
	         "dave:%s:/srv/d:r:2:sha256=%064d\n",
	         hash, hash, 7);
	CHECK(users_load(write_file("users4.txt", text), &db, err, sizeof(err)) == 0);
	const struct user *c = users_find(&db, "carol");
	CHECK(c != NULL && c->cert_nopass && strcmp(c->cert, "subject=CN=carol,O=a:b") == 0);
	CHECK(c != NULL && users_cert_matches(c, "00", "CN=carol,O=a:b"));
	CHECK(c != NULL && !users_cert_matches(c, "00", "CN=carol"));
	const struct user *dv = users_find(&db, "dave");
	char fp[65];
	snprintf(fp, sizeof(fp), "%064d", 7);
	CHECK(dv != NULL && !dv->cert_nopass && dv->max_sessions == 2);
	CHECK(dv != NULL && users_cert_matches(dv, fp, "CN=x"));
	fp[10] = '1';
	CHECK(dv != NULL && !users_cert_matches(dv, fp, "CN=x"));
	users_free(&db);
	snprintf(text, sizeof(text), "erin:%s:/srv/e:r:0:sha256=abc\n", hash);
	CHECK(users_load(write_file("users5.txt", text), &db, err, sizeof(err)) != 0);
	CHECK(strstr(err, ":1: cert must be") != NULL);

	auth_configure(3, 60);
	CHECK(!auth_locked("eve", "198.18.0.9", 1000));
	auth_record_failure("eve", "198.18.0.9", 1000);
	auth_record_failure("eve", "198.18.0.9", 1001);
	CHECK(!auth_locked("eve", "198.18.0.9", 1002));
	auth_record_failure("eve", "198.18.0.9", 1002);
	CHECK(auth_locked("eve", "198.18.0.9", 1003));
	CHECK(auth_locked("other", "198.18.0.9", 1003)); /* the address is locked too */
	CHECK(auth_locked("eve", "198.18.0.10", 1003));  /* and the user elsewhere */
	CHECK(!auth_locked("eve", "198.18.0.9", 1002 + 60001));
}

int main(void)
{
	CHECK(mkdtemp(dir) != NULL);
	test_config();
	test_users();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return check_finish("test_config_users");
}
