/* Building certificates, requests and serials. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "ftps_x509.h"

ASN1_INTEGER *x509_random_serial(struct x509_error *err)
{
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = BN_new();
	/* RFC 5280 4.1.2.2: positive, at most 20 octets. 159 bits of CSPRNG
	 * output keep the top bit clear, so DER never needs a sign octet. */
	if (bn == NULL || !BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) {
		x509_fail(err, "cannot draw a random serial");
		goto out;
	}
	if (BN_is_zero(bn) && !BN_set_word(bn, 1)) {
		x509_fail(err, "cannot set serial");
		goto out;
	}
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	if (serial == NULL)
		x509_fail(err, "cannot encode serial");
out:
	BN_free(bn);
	return serial;
}

static int set_validity(X509 *x, const struct x509_validity *v, struct x509_error *err)
{
	time_t from = v->not_before != 0 ? v->not_before : time(NULL);
	time_t to = v->not_after;
	if (to == 0) {
		if (v->days <= 0 || v->days > 36500)
			return x509_fail(err, "validity must be 1 to 36500 days, not %d", v->days);
		to = from + (time_t)v->days * 86400;
	}
	if (to <= from)
		return x509_fail(err, "validity ends before it starts");
	if (ASN1_TIME_set(X509_getm_notBefore(x), from) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), to) == NULL)
		return x509_fail(err, "cannot set validity");
	return 0;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value, struct x509_error *err)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return x509_fail(err, "cannot build extension %s=%s", OBJ_nid2sn(nid), value);
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : x509_fail(err, "cannot add extension %s", OBJ_nid2sn(nid));
}

/* Common skeleton: version 3, random serial, names, validity, public key. */
static X509 *cert_skeleton(EVP_PKEY *pubkey, const X509_NAME *subject, const X509_NAME *issuer,
                           const struct x509_validity *v, struct x509_error *err)
{
	X509 *x = X509_new();
	ASN1_INTEGER *serial = x509_random_serial(err);
	if (x == NULL || serial == NULL) {
		if (x == NULL)
			x509_fail(err, "out of memory");
		goto fail;
	}
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) ||
	    !X509_set_subject_name(x, subject) || !X509_set_issuer_name(x, issuer) ||
	    !X509_set_pubkey(x, pubkey)) {
		x509_fail(err, "cannot fill in the certificate");
		goto fail;
	}
	if (set_validity(x, v, err) != 0)
		goto fail;
	ASN1_INTEGER_free(serial);
	return x;
fail:
	ASN1_INTEGER_free(serial);
	X509_free(x);
	return NULL;
}

static bool is_rsa(const EVP_PKEY *key)
{
	int id = EVP_PKEY_get_base_id(key);
	return id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS;
}

static int add_sans(X509 *x, const GENERAL_NAMES *sans, struct x509_error *err)
{
	if (sans == NULL || sk_GENERAL_NAME_num(sans) == 0)
		return 0;
	if (!X509_add1_ext_i2d(x, NID_subject_alt_name, (void *)sans, 0, X509V3_ADD_DEFAULT))
		return x509_fail(err, "cannot add subject alternative names");
	return 0;
}

static int sign(X509 *x, EVP_PKEY *key, struct x509_error *err)
{
	if (X509_sign(x, key, x509_sign_digest(key)) <= 0)
		return x509_fail(err, "signing the certificate failed");
	return 0;
}

X509 *x509_build_selfsigned(EVP_PKEY *key, const X509_NAME *subject, const GENERAL_NAMES *sans,
                            const struct x509_validity *validity, struct x509_error *err)
{
	X509 *x = cert_skeleton(key, subject, subject, validity, err);
	if (x == NULL)
		return NULL;
	if (add_ext(x, x, NID_basic_constraints, "critical,CA:FALSE", err) != 0 ||
	    add_ext(x, x, NID_key_usage,
	            is_rsa(key) ? "critical,digitalSignature,keyEncipherment"
	                        : "critical,digitalSignature",
	            err) != 0 ||
	    add_ext(x, x, NID_ext_key_usage, "serverAuth", err) != 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash", err) != 0 ||
	    add_sans(x, sans, err) != 0 || sign(x, key, err) != 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

X509 *x509_build_ca(EVP_PKEY *key, const X509_NAME *subject, const struct x509_validity *v,
                    struct x509_error *err)
{
	X509 *x = cert_skeleton(key, subject, subject, v, err);
	if (x == NULL)
		return NULL;
	if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err) != 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign", err) != 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash", err) != 0 ||
	    add_ext(x, x, NID_authority_key_identifier, "keyid:always", err) != 0 ||
	    sign(x, key, err) != 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

X509 *x509_build_client_cert(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *pubkey,
                             const X509_NAME *subject, const GENERAL_NAMES *sans,
                             const struct x509_validity *v, struct x509_error *err)
{
	if (X509_check_private_key(ca_cert, ca_key) != 1) {
		x509_fail(err, "the CA key does not match the CA certificate");
		return NULL;
	}
	X509 *x = cert_skeleton(pubkey, subject, X509_get_subject_name(ca_cert), v, err);
	if (x == NULL)
		return NULL;
	if (add_ext(x, ca_cert, NID_basic_constraints, "critical,CA:FALSE", err) != 0 ||
	    add_ext(x, ca_cert, NID_key_usage,
	            is_rsa(pubkey) ? "critical,digitalSignature,keyEncipherment"
	                           : "critical,digitalSignature",
	            err) != 0 ||
	    add_ext(x, ca_cert, NID_ext_key_usage, "clientAuth", err) != 0 ||
	    add_ext(x, ca_cert, NID_subject_key_identifier, "hash", err) != 0 ||
	    add_ext(x, ca_cert, NID_authority_key_identifier, "keyid:always", err) != 0 ||
	    add_sans(x, sans, err) != 0 || sign(x, ca_key, err) != 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

X509_REQ *x509_build_csr(EVP_PKEY *key, const X509_NAME *subject, const GENERAL_NAMES *sans,
                         struct x509_error *err)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	if (req == NULL) {
		x509_fail(err, "out of memory");
		return NULL;
	}
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, subject) ||
	    !X509_REQ_set_pubkey(req, key)) {
		x509_fail(err, "cannot fill in the request");
		goto fail;
	}
	if (sans != NULL && sk_GENERAL_NAME_num(sans) > 0) {
		exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, (void *)sans);
		if (exts == NULL || ext == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
			X509_EXTENSION_free(ext);
			x509_fail(err, "cannot encode subject alternative names");
			goto fail;
		}
		if (!X509_REQ_add_extensions(req, exts)) {
			x509_fail(err, "cannot add the extension request");
			goto fail;
		}
	}
	if (X509_REQ_sign(req, key, x509_sign_digest(key)) <= 0) {
		x509_fail(err, "signing the request failed");
		goto fail;
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return req;
fail:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return NULL;
}

GENERAL_NAMES *x509_csr_sans(X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *names = NULL;
	if (exts != NULL)
		names = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return names;
}
