/* Unit tests of the client's known-certificates file: store, look up,
 * replace one host without touching others, file mode, damaged lines. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ftps_x509.h"
#include "known_certs.h"

static X509 *cert_for(const char *cn)
{
	struct x509_error err;
	EVP_PKEY *k = x509_key_generate("ec-p256", &err);
	X509_NAME *n = x509_name_parse(cn, &err);
	struct x509_validity v = {.days = 1};
	X509 *x = k && n ? x509_build_selfsigned(k, n, NULL, &v, &err) : NULL;
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	return x;
}

int main(void)
{
	char dir[] = "/tmp/test_known.XXXXXX";
	if (mkdtemp(dir) == NULL)
		return 1;
	char path[256], err[512], fp[65], want[65];
	snprintf(path, sizeof(path), "%s/sub/ftps-client/known_certs", dir);

	/* Path from the environment. */
	char p2[512];
	setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
	CHECK_EQ(known_certs_path(NULL, p2, sizeof(p2)), 0);
	CHECK(strcmp(p2, "/x/cfg/ftps-client/known_certs") == 0);
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", "/home/u", 1);
	CHECK_EQ(known_certs_path(NULL, p2, sizeof(p2)), 0);
	CHECK(strcmp(p2, "/home/u/.config/ftps-client/known_certs") == 0);
	CHECK_EQ(known_certs_path("/o", p2, sizeof(p2)), 0);
	CHECK(strcmp(p2, "/o") == 0);

	X509 *a = cert_for("CN=a"), *b = cert_for("CN=b"), *c = cert_for("CN=c");
	CHECK(a && b && c);
	CHECK_EQ(known_certs_lookup(path, "h:21", fp, err, sizeof(err)), 0); /* no file yet */
	CHECK_EQ(known_certs_store(path, "h:21", a, err, sizeof(err)), 0);
	CHECK_EQ(known_certs_store(path, "[2001:db8::1]:990", b, err, sizeof(err)), 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ(known_certs_lookup(path, "h:21", fp, err, sizeof(err)), 1);
	x509_fingerprint_hex(a, want);
	CHECK(strcmp(fp, want) == 0);
	CHECK_EQ(known_certs_lookup(path, "h:2121", fp, err, sizeof(err)), 0);
	CHECK_EQ(known_certs_lookup(path, "h", fp, err, sizeof(err)), 0);
	/* Replace h:21 only. */
	CHECK_EQ(known_certs_store(path, "h:21", c, err, sizeof(err)), 0);
	CHECK_EQ(known_certs_lookup(path, "h:21", fp, err, sizeof(err)), 1);
	x509_fingerprint_hex(c, want);
	CHECK(strcmp(fp, want) == 0);
	CHECK_EQ(known_certs_lookup(path, "[2001:db8::1]:990", fp, err, sizeof(err)), 1);
	x509_fingerprint_hex(b, want);
	CHECK(strcmp(fp, want) == 0);
	/* One line per host after the replacement. */
	FILE *f = fopen(path, "r");
	int lines = 0;
	char line[4096];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		lines += strncmp(line, "h:21 ", 5) == 0;
	if (f != NULL)
		fclose(f);
	CHECK_EQ(lines, 1);
	/* A damaged file is reported, not guessed at. */
	f = fopen(path, "a");
	if (f != NULL) {
		fputs("x:1 not-a-fingerprint\n", f);
		fclose(f);
	}
	CHECK_EQ(known_certs_lookup(path, "y:1", fp, err, sizeof(err)), -1);
	CHECK(strstr(err, "is damaged") != NULL);
	X509_free(a);
	X509_free(b);
	X509_free(c);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ(system(cmd), 0);
	return check_finish("known_certs");
}
