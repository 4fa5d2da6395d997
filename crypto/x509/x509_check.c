/* Loading certificates, requests and CRLs, and the checks an import needs. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ftps_x509.h"

/* Read path and insist it holds the wanted kind of object. */
static int load_kind(const char *path, enum x509_kind want, unsigned char **data, size_t *len,
                     struct x509_error *err)
{
	if (x509_read_file(path, data, len, err) != 0)
		return -1;
	enum x509_kind kind = x509_kind_of(*data, *len);
	if (kind != want) {
		x509_fail(err, "wrong format: %s holds %s%s, expected a %s", path,
		          kind == X509_KIND_UNKNOWN ? "" : "a ", x509_kind_name(kind),
		          x509_kind_name(want));
		free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

static bool is_pem(const unsigned char *data, size_t len)
{
	return memmem(data, len, "-----BEGIN ", 11) != NULL;
}

STACK_OF(X509) * x509_certs_load(const char *path, struct x509_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	if (load_kind(path, X509_KIND_CERT, &data, &len, err) != 0)
		return NULL;
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *mem = BIO_new_mem_buf(data, (int)len);
	if (certs == NULL || mem == NULL) {
		x509_fail(err, "out of memory");
		goto fail;
	}
	if (!is_pem(data, len)) {
		X509 *x = d2i_X509_bio(mem, NULL);
		if (x == NULL || !sk_X509_push(certs, x)) {
			X509_free(x);
			x509_fail(err, "cannot decode the DER certificate in %s", path);
			goto fail;
		}
	} else {
		for (;;) {
			X509 *x = PEM_read_bio_X509(mem, NULL, NULL, NULL);
			if (x == NULL)
				break;
			if (!sk_X509_push(certs, x)) {
				X509_free(x);
				x509_fail(err, "out of memory");
				goto fail;
			}
		}
		unsigned long e = ERR_peek_last_error();
		/* Running out of PEM blocks ends the loop normally; anything else
		 * is a damaged certificate. */
		if (e != 0 && ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
			x509_fail(err, "damaged certificate in %s", path);
			goto fail;
		}
		ERR_clear_error();
		if (sk_X509_num(certs) == 0) {
			x509_fail(err, "no certificate found in %s", path);
			goto fail;
		}
	}
	BIO_free(mem);
	free(data);
	return certs;
fail:
	BIO_free(mem);
	free(data);
	sk_X509_pop_free(certs, X509_free);
	return NULL;
}

X509 *x509_cert_load(const char *path, struct x509_error *err)
{
	STACK_OF(X509) *certs = x509_certs_load(path, err);
	if (certs == NULL)
		return NULL;
	X509 *first = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	return first;
}

X509_REQ *x509_csr_load(const char *path, struct x509_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	if (load_kind(path, X509_KIND_CSR, &data, &len, err) != 0)
		return NULL;
	BIO *mem = BIO_new_mem_buf(data, (int)len);
	X509_REQ *req = NULL;
	if (mem != NULL)
		req = is_pem(data, len) ? PEM_read_bio_X509_REQ(mem, NULL, NULL, NULL)
		                        : d2i_X509_REQ_bio(mem, NULL);
	if (req == NULL)
		x509_fail(err, "cannot decode the request in %s", path);
	BIO_free(mem);
	free(data);
	return req;
}

X509_CRL *x509_crl_load(const char *path, struct x509_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	if (load_kind(path, X509_KIND_CRL, &data, &len, err) != 0)
		return NULL;
	BIO *mem = BIO_new_mem_buf(data, (int)len);
	X509_CRL *crl = NULL;
	if (mem != NULL)
		crl = is_pem(data, len) ? PEM_read_bio_X509_CRL(mem, NULL, NULL, NULL)
		                        : d2i_X509_CRL_bio(mem, NULL);
	if (crl == NULL)
		x509_fail(err, "cannot decode the CRL in %s", path);
	BIO_free(mem);
	free(data);
	return crl;
}

int x509_check_key_match(X509 *cert, EVP_PKEY *key, struct x509_error *err)
{
	if (X509_check_private_key(cert, key) == 1) {
		ERR_clear_error();
		return 0;
	}
	ERR_clear_error();
	char subject[256];
	x509_name_text(X509_get_subject_name(cert), subject, sizeof(subject));
	return x509_fail(err,
	                 "key mismatch: the private key does not belong to the certificate "
	                 "for %s",
	                 subject);
}

int x509_check_current(X509 *cert, struct x509_error *err)
{
	char subject[256], when[40];
	x509_name_text(X509_get_subject_name(cert), subject, sizeof(subject));
	const ASN1_TIME *nb = X509_get0_notBefore(cert), *na = X509_get0_notAfter(cert);
	if (X509_cmp_current_time(nb) >= 0) {
		x509_time_text(nb, when, sizeof(when));
		return x509_fail(err, "not yet valid: the certificate for %s is valid only from %s",
		                 subject, when);
	}
	if (X509_cmp_current_time(na) <= 0) {
		x509_time_text(na, when, sizeof(when));
		return x509_fail(err, "expired: the certificate for %s expired on %s", subject,
		                 when);
	}
	return 0;
}

int x509_check_chain(X509 *leaf, STACK_OF(X509) * chain, STACK_OF(X509) * roots, int purpose,
                     struct x509_error *err)
{
	int rc = -1;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (store == NULL || ctx == NULL) {
		x509_fail(err, "out of memory");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(roots); i++) {
		if (!X509_STORE_add_cert(store, sk_X509_value(roots, i))) {
			x509_fail(err, "cannot use root certificate %d", i);
			goto out;
		}
	}
	if (!X509_STORE_CTX_init(ctx, store, leaf, chain)) {
		x509_fail(err, "cannot set up chain verification");
		goto out;
	}
	if (purpose != 0 && !X509_STORE_CTX_set_purpose(ctx, purpose)) {
		x509_fail(err, "cannot set the verification purpose");
		goto out;
	}
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
		goto out;
	}
	int code = X509_STORE_CTX_get_error(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
	char subject[256] = "?";
	if (bad != NULL)
		x509_name_text(X509_get_subject_name(bad), subject, sizeof(subject));
	ERR_clear_error();
	x509_fail(err, "broken chain: %s (at depth %d, %s)", X509_verify_cert_error_string(code),
	          depth, subject);
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

EVP_PKEY *x509_pubkey_load(const char *path, struct x509_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	if (load_kind(path, X509_KIND_PUBKEY, &data, &len, err) != 0)
		return NULL;
	BIO *mem = BIO_new_mem_buf(data, (int)len);
	EVP_PKEY *key = NULL;
	if (mem != NULL)
		key = is_pem(data, len) ? PEM_read_bio_PUBKEY(mem, NULL, NULL, NULL)
		                        : d2i_PUBKEY_bio(mem, NULL);
	if (key == NULL)
		x509_fail(err, "cannot decode the public key in %s", path);
	BIO_free(mem);
	free(data);
	return key;
}
