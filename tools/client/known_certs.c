/* Known-certificates file; see known_certs.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "ftps_x509.h"
#include "known_certs.h"

int known_certs_path(const char *override, char *out, size_t len)
{
	int n;
	if (override != NULL) {
		n = snprintf(out, len, "%s", override);
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME");
		const char *home = getenv("HOME");
		if (xdg != NULL && xdg[0] == '/')
			n = snprintf(out, len, "%s/ftps-client/known_certs", xdg);
		else if (home != NULL && home[0] == '/')
			n = snprintf(out, len, "%s/.config/ftps-client/known_certs", home);
		else
			return -1;
	}
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* mkdir -p for the folder holding path, each level 0700. */
static int make_parent(const char *path)
{
	char copy[4096];
	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -1;
	char *slash = strrchr(copy, '/');
	if (slash == NULL || slash == copy)
		return 0;
	*slash = '\0';
	for (char *p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return (mkdir(copy, 0700) != 0 && errno != EEXIST) ? -1 : 0;
}

static int read_all(const char *path, char **data, char *err, size_t err_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct x509_error xe;
	*data = NULL;
	FILE *probe = fopen(path, "r");
	if (probe == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	fclose(probe);
	if (x509_read_file(path, &buf, &len, &xe) != 0) {
		snprintf(err, err_len, "%s", xe.msg);
		return -1;
	}
	*data = (char *)buf;
	return 0;
}

int known_certs_lookup(const char *path, const char *host_port, char fp_hex[65], char *err,
                       size_t err_len)
{
	char *data = NULL;
	if (read_all(path, &data, err, err_len) != 0)
		return -1;
	if (data == NULL)
		return 0;
	int found = 0, lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char key[300], fp[80];
		if (sscanf(line, "%299s %79s", key, fp) != 2 || strlen(fp) != 64 ||
		    strspn(fp, "0123456789abcdef") != 64) {
			snprintf(err, err_len, "%s line %d is damaged", path, lineno);
			found = -1;
			break;
		}
		if (strcmp(key, host_port) == 0) {
			memcpy(fp_hex, fp, 65);
			found = 1;
			break;
		}
	}
	free(data);
	return found;
}

int known_certs_store(const char *path, const char *host_port, X509 *cert, char *err,
                      size_t err_len)
{
	char fp[65];
	unsigned char *der = NULL;
	char *data = NULL, *out = NULL, *b64 = NULL;
	int rc = -1;
	int der_len = i2d_X509(cert, &der);
	if (der_len <= 0 || x509_fingerprint_hex(cert, fp) != 0) {
		snprintf(err, err_len, "cannot encode the certificate");
		goto out;
	}
	b64 = malloc((size_t)der_len * 4 / 3 + 8);
	if (b64 == NULL)
		goto oom;
	EVP_EncodeBlock((unsigned char *)b64, der, der_len);
	if (make_parent(path) != 0) {
		snprintf(err, err_len, "cannot create the folder for %s: %s", path,
		         strerror(errno));
		goto out;
	}
	if (read_all(path, &data, err, err_len) != 0)
		goto out;
	size_t old_len = data ? strlen(data) : 0;
	size_t cap = old_len + strlen(host_port) + strlen(b64) + 200;
	out = malloc(cap);
	if (out == NULL)
		goto oom;
	size_t used = 0;
	if (data == NULL)
		used = (size_t)snprintf(out, cap,
		                        "# ftps-client known certificates: host:port "
		                        "sha256 certificate(base64 DER)\n");
	char *save = NULL;
	for (char *line = data ? strtok_r(data, "\n", &save) : NULL; line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t klen = strlen(host_port);
		if (strncmp(line, host_port, klen) == 0 && line[klen] == ' ')
			continue; /* replaced below */
		used += (size_t)snprintf(out + used, cap - used, "%s\n", line);
	}
	used += (size_t)snprintf(out + used, cap - used, "%s %s %s\n", host_port, fp, b64);
	struct x509_error xe;
	if (x509_write_atomic(path, out, used, 0600, &xe) != 0) {
		snprintf(err, err_len, "%s", xe.msg);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, err_len, "out of memory");
out:
	OPENSSL_free(der);
	free(b64);
	free(data);
	free(out);
	return rc;
}
