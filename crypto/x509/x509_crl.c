/* Certificate revocation lists for the internal client CA (RFC 5280 5). */
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "ftps_x509.h"

static const struct {
	int code;
	const char *name;
} reasons[] = {
    {CRL_REASON_NONE, "none"},
    {CRL_REASON_UNSPECIFIED, "unspecified"},
    {CRL_REASON_KEY_COMPROMISE, "keyCompromise"},
    {CRL_REASON_CA_COMPROMISE, "CACompromise"},
    {CRL_REASON_AFFILIATION_CHANGED, "affiliationChanged"},
    {CRL_REASON_SUPERSEDED, "superseded"},
    {CRL_REASON_CESSATION_OF_OPERATION, "cessationOfOperation"},
    {CRL_REASON_CERTIFICATE_HOLD, "certificateHold"},
    {CRL_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn"},
};

int x509_crl_reason_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcasecmp(reasons[i].name, name) == 0)
			return reasons[i].code;
	return -2;
}

const char *x509_crl_reason_name(int reason)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == reason)
			return reasons[i].name;
	return "unknown";
}

static int add_revoked(X509_CRL *crl, const struct x509_revocation *rev, struct x509_error *err)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_TIME *when = ASN1_TIME_set(NULL, rev->revoked_at);
	ASN1_ENUMERATED *reason = NULL;
	if (r == NULL || when == NULL ||
	    !X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)rev->serial) ||
	    !X509_REVOKED_set_revocationDate(r, when)) {
		x509_fail(err, "cannot build a revoked entry");
		goto fail;
	}
	/* RFC 5280 5.3.1: omit the reason code rather than use unspecified. */
	if (rev->reason != CRL_REASON_NONE && rev->reason != CRL_REASON_UNSPECIFIED) {
		reason = ASN1_ENUMERATED_new();
		if (reason == NULL || !ASN1_ENUMERATED_set(reason, rev->reason) ||
		    !X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0)) {
			x509_fail(err, "cannot add a reason code");
			goto fail;
		}
	}
	if (!X509_CRL_add0_revoked(crl, r)) {
		x509_fail(err, "cannot add a revoked entry");
		goto fail;
	}
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	return 0;
fail:
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	X509_REVOKED_free(r);
	return -1;
}

X509_CRL *x509_build_crl(X509 *ca_cert, EVP_PKEY *ca_key, const struct x509_revocation *revs,
                         size_t n_revs, long crl_number, int days, struct x509_error *err)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
	ASN1_TIME *next = ASN1_TIME_adj(NULL, time(NULL), days, 0);
	ASN1_INTEGER *number = ASN1_INTEGER_new();
	X509_EXTENSION *akid = NULL;
	if (days <= 0 || days > 3650) {
		x509_fail(err, "CRL validity must be 1 to 3650 days, not %d", days);
		goto fail;
	}
	if (X509_check_private_key(ca_cert, ca_key) != 1) {
		x509_fail(err, "the CA key does not match the CA certificate");
		goto fail;
	}
	if (crl == NULL || now == NULL || next == NULL || number == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca_cert)) ||
	    !X509_CRL_set1_lastUpdate(crl, now) || !X509_CRL_set1_nextUpdate(crl, next)) {
		x509_fail(err, "cannot fill in the CRL");
		goto fail;
	}
	for (size_t i = 0; i < n_revs; i++)
		if (add_revoked(crl, &revs[i], err) != 0)
			goto fail;
	if (!X509_CRL_sort(crl)) {
		x509_fail(err, "cannot sort the CRL");
		goto fail;
	}
	if (!ASN1_INTEGER_set(number, crl_number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0)) {
		x509_fail(err, "cannot add the CRL number");
		goto fail;
	}
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca_cert, NULL, NULL, crl, 0);
	akid = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (akid == NULL || !X509_CRL_add_ext(crl, akid, -1)) {
		x509_fail(err, "cannot add the authority key identifier");
		goto fail;
	}
	if (X509_CRL_sign(crl, ca_key, x509_sign_digest(ca_key)) <= 0) {
		x509_fail(err, "signing the CRL failed");
		goto fail;
	}
	X509_EXTENSION_free(akid);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	return crl;
fail:
	X509_EXTENSION_free(akid);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return NULL;
}
