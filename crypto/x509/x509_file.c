/* File access for keys and certificates: bounded reads, atomic replacement,
 * and recognising what a file holds. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ftps_x509.h"

#define X509_FILE_MAX (16u << 20)

int x509_read_file(const char *path, unsigned char **data, size_t *len, struct x509_error *err)
{
	int rc = -1;
	unsigned char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return x509_fail(err, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		x509_fail(err, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > X509_FILE_MAX) {
		x509_fail(err, "%s is not a regular file of at most 16 MiB", path);
		goto out;
	}
	size_t size = (size_t)st.st_size;
	buf = malloc(size + 1);
	if (buf == NULL) {
		x509_fail(err, "out of memory reading %s", path);
		goto out;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			x509_fail(err, "cannot read %s: %s", path,
			          n < 0 ? strerror(errno) : "short");
			goto out;
		}
		got += (size_t)n;
	}
	buf[size] = '\0';
	*data = buf;
	*len = size;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int x509_write_atomic(const char *path, const void *data, size_t len, unsigned int mode,
                      struct x509_error *err)
{
	int rc = -1;
	int fd = -1, dirfd = -1;
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	char *dircopy = strdup(path);
	if (tmp == NULL || dircopy == NULL) {
		x509_fail(err, "out of memory writing %s", path);
		goto out;
	}
	snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
	/* mkstemp creates the file 0600, so a key is never readable by others,
	 * not even for a moment before the fchmod below. */
	fd = mkstemp(tmp);
	if (fd < 0) {
		x509_fail(err, "cannot create a temporary file next to %s: %s", path,
		          strerror(errno));
		goto out_nounlink;
	}
	if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		x509_fail(err, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		x509_fail(err, "cannot close %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		x509_fail(err, "cannot install %s: %s", path, strerror(errno));
		goto out;
	}
	/* The rename is durable only once the folder entry is on disk. */
	dirfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0 && fsync(dirfd) != 0 && errno != EINVAL) {
		x509_fail(err, "cannot sync the folder of %s: %s", path, strerror(errno));
		goto out_nounlink;
	}
	rc = 0;
	goto out_nounlink;
out:
	unlink(tmp);
out_nounlink:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	free(tmp);
	free(dircopy);
	return rc;
}

static const struct {
	const char *label;
	enum x509_kind kind;
} pem_labels[] = {
    {"CERTIFICATE", X509_KIND_CERT},
    {"TRUSTED CERTIFICATE", X509_KIND_CERT},
    {"X509 CERTIFICATE", X509_KIND_CERT},
    {"CERTIFICATE REQUEST", X509_KIND_CSR},
    {"NEW CERTIFICATE REQUEST", X509_KIND_CSR},
    {"ENCRYPTED PRIVATE KEY", X509_KIND_KEY_ENCRYPTED},
    {"PRIVATE KEY", X509_KIND_KEY},
    {"RSA PRIVATE KEY", X509_KIND_KEY},
    {"EC PRIVATE KEY", X509_KIND_KEY},
    {"PUBLIC KEY", X509_KIND_PUBKEY},
    {"X509 CRL", X509_KIND_CRL},
};

static enum x509_kind kind_of_der(const unsigned char *data, size_t len)
{
	enum x509_kind kind = X509_KIND_UNKNOWN;
	const unsigned char *p = data;
	long l = (long)len;
	X509 *x = d2i_X509(NULL, &p, l);
	if (x != NULL) {
		X509_free(x);
		kind = X509_KIND_CERT;
		goto out;
	}
	p = data;
	X509_REQ *r = d2i_X509_REQ(NULL, &p, l);
	if (r != NULL) {
		X509_REQ_free(r);
		kind = X509_KIND_CSR;
		goto out;
	}
	p = data;
	X509_CRL *c = d2i_X509_CRL(NULL, &p, l);
	if (c != NULL) {
		X509_CRL_free(c);
		kind = X509_KIND_CRL;
		goto out;
	}
	p = data;
	EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, l);
	if (k != NULL) {
		EVP_PKEY_free(k);
		kind = X509_KIND_KEY;
		goto out;
	}
	p = data;
	X509_SIG *sig = d2i_X509_SIG(NULL, &p, l);
	if (sig != NULL) {
		X509_SIG_free(sig);
		kind = X509_KIND_KEY_ENCRYPTED;
		goto out;
	}
	p = data;
	k = d2i_PUBKEY(NULL, &p, l);
	if (k != NULL) {
		EVP_PKEY_free(k);
		kind = X509_KIND_PUBKEY;
	}
out:
	ERR_clear_error();
	return kind;
}

enum x509_kind x509_kind_of(const unsigned char *data, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	const unsigned char *end = data + len;
	for (const unsigned char *p = data; p + sizeof(begin) - 1 < end; p++) {
		if (memcmp(p, begin, sizeof(begin) - 1) != 0)
			continue;
		const unsigned char *label = p + sizeof(begin) - 1;
		const unsigned char *dash = label;
		while (dash < end && *dash != '-' && *dash != '\n')
			dash++;
		size_t llen = (size_t)(dash - label);
		for (size_t i = 0; i < sizeof(pem_labels) / sizeof(pem_labels[0]); i++) {
			if (strlen(pem_labels[i].label) != llen ||
			    memcmp(pem_labels[i].label, label, llen) != 0)
				continue;
			enum x509_kind kind = pem_labels[i].kind;
			/* Traditional OpenSSL format marks encryption in a header. */
			if (kind == X509_KIND_KEY && memmem(dash, (size_t)(end - dash),
			                                    "Proc-Type: 4,ENCRYPTED", 22) != NULL)
				kind = X509_KIND_KEY_ENCRYPTED;
			return kind;
		}
		return X509_KIND_UNKNOWN;
	}
	return kind_of_der(data, len);
}

const char *x509_kind_name(enum x509_kind kind)
{
	switch (kind) {
	case X509_KIND_CERT:
		return "certificate";
	case X509_KIND_CSR:
		return "certificate signing request";
	case X509_KIND_KEY:
		return "private key";
	case X509_KIND_KEY_ENCRYPTED:
		return "encrypted private key";
	case X509_KIND_PUBKEY:
		return "public key";
	case X509_KIND_CRL:
		return "certificate revocation list";
	case X509_KIND_UNKNOWN:
	default:
		return "nothing recognisable (neither PEM nor DER X.509 data)";
	}
}
