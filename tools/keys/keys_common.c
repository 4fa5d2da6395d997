/* Helpers shared by the subcommands: passphrases, key loading, output. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "keys.h"

#define PASS_MAX 1024

int keys_error(const char *fmt, ...)
{
	va_list ap;
	fputs("ftps-keys: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return KEYS_EXIT_FAIL;
}

void keys_pass_free(char *pass)
{
	if (pass != NULL) {
		OPENSSL_cleanse(pass, strlen(pass));
		free(pass);
	}
}

static int pass_from_file(const char *path, char **pass)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct x509_error err;
	if (x509_read_file(path, &data, &len, &err) != 0) {
		keys_error("passphrase: %s", err.msg);
		return -1;
	}
	/* The first line is the passphrase; a trailing newline is not part of it. */
	size_t n = strcspn((char *)data, "\r\n");
	data[n] = '\0';
	if (n == 0) {
		keys_error("passphrase file %s is empty", path);
		OPENSSL_cleanse(data, len);
		free(data);
		return -1;
	}
	*pass = (char *)data;
	return 0;
}

int keys_pass_get(const struct keys_opts *o, bool confirm, char **pass)
{
	*pass = NULL;
	int sources = (o->pass_file != NULL) + (o->pass_env != NULL) + o->ask_pass;
	if (sources > 1) {
		keys_error("give only one of --passphrase-file, --passphrase-env, "
		           "--ask-passphrase");
		return -1;
	}
	if (o->pass_file != NULL)
		return pass_from_file(o->pass_file, pass);
	if (o->pass_env != NULL) {
		const char *v = getenv(o->pass_env);
		if (v == NULL || *v == '\0') {
			keys_error("environment variable %s is not set or empty", o->pass_env);
			return -1;
		}
		*pass = strdup(v);
		if (*pass == NULL) {
			keys_error("out of memory");
			return -1;
		}
		return 0;
	}
	if (o->ask_pass) {
		char *buf = calloc(1, PASS_MAX);
		if (buf == NULL) {
			keys_error("out of memory");
			return -1;
		}
		/* OpenSSL's UI reads from the terminal with echo off. */
		if (EVP_read_pw_string_min(buf, 4, PASS_MAX, "Passphrase:", confirm ? 1 : 0) != 0) {
			keys_pass_free(buf);
			keys_error("could not read a passphrase (at least 4 characters) from the "
			           "terminal%s",
			           confirm ? ", or the two entries differ" : "");
			ERR_clear_error();
			return -1;
		}
		*pass = buf;
	}
	return 0;
}

EVP_PKEY *keys_load_key(const struct keys_opts *o, const char *path)
{
	char *pass = NULL;
	if (keys_pass_get(o, false, &pass) != 0)
		return NULL;
	struct x509_error err;
	EVP_PKEY *key = x509_key_load(path, pass, &err);
	keys_pass_free(pass);
	if (key == NULL)
		keys_error("%s", err.msg);
	return key;
}

void keys_validity(const struct keys_opts *o, int default_days, struct x509_validity *v)
{
	v->not_before = o->not_before;
	v->not_after = o->not_after;
	v->days = o->days >= 0 ? o->days : default_days;
}

static int write_bio(const char *path, BIO *mem)
{
	char *data = NULL;
	long len = BIO_get_mem_data(mem, &data);
	struct x509_error err;
	if (len <= 0)
		return keys_error("nothing to write to %s", path);
	if (x509_write_atomic(path, data, (size_t)len, 0644, &err) != 0)
		return keys_error("%s", err.msg);
	return KEYS_EXIT_OK;
}

int keys_write_cert(const char *path, X509 *const *certs, int n)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int rc = KEYS_EXIT_FAIL;
	if (mem == NULL)
		return keys_error("out of memory");
	for (int i = 0; i < n; i++) {
		if (!PEM_write_bio_X509(mem, certs[i])) {
			keys_error("cannot encode certificate %d", i);
			goto out;
		}
	}
	rc = write_bio(path, mem);
out:
	BIO_free(mem);
	return rc;
}

int keys_write_csr(const char *path, X509_REQ *req)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int rc = KEYS_EXIT_FAIL;
	if (mem == NULL)
		return keys_error("out of memory");
	if (PEM_write_bio_X509_REQ(mem, req))
		rc = write_bio(path, mem);
	else
		keys_error("cannot encode the request");
	BIO_free(mem);
	return rc;
}

int keys_write_crl(const char *path, X509_CRL *crl)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int rc = KEYS_EXIT_FAIL;
	if (mem == NULL)
		return keys_error("out of memory");
	if (PEM_write_bio_X509_CRL(mem, crl))
		rc = write_bio(path, mem);
	else
		keys_error("cannot encode the CRL");
	BIO_free(mem);
	return rc;
}
