/* Human-readable descriptions and fingerprints; never prints key material. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ftps_x509.h"

int x509_fingerprint_sha256(const X509 *cert, char out[96])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!X509_digest(cert, EVP_sha256(), md, &len) || len != 32) {
		out[0] = '\0';
		ERR_clear_error();
		return -1;
	}
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < len ? ":" : "");
	return 0;
}

int x509_fingerprint_hex(const X509 *cert, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!X509_digest(cert, EVP_sha256(), md, &len) || len != 32) {
		out[0] = '\0';
		ERR_clear_error();
		return -1;
	}
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

void x509_time_text(const ASN1_TIME *t, char *out, size_t out_len)
{
	struct tm tm;
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm) ||
	    strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, out_len, "(invalid time)");
	ERR_clear_error();
}

int x509_days_until(const ASN1_TIME *t, int *days)
{
	int d = 0, s = 0;
	if (!ASN1_TIME_diff(&d, &s, NULL, t)) {
		ERR_clear_error();
		return -1;
	}
	/* ASN1_TIME_diff gives same-signed days and seconds; round down. */
	if (d <= 0 && s < 0)
		d -= 1;
	*days = d;
	return 0;
}

static void print_pubkey(FILE *f, EVP_PKEY *key, const char *indent)
{
	char desc[128];
	x509_key_describe(key, desc, sizeof(desc));
	fprintf(f, "%sKey:         %s\n", indent, desc);
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(key, &der);
	if (len > 0) {
		unsigned char md[32];
		if (EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL)) {
			fprintf(f, "%sSPKI SHA-256: ", indent);
			for (int i = 0; i < 32; i++)
				fprintf(f, "%02X%s", md[i], i < 31 ? ":" : "\n");
		}
		OPENSSL_free(der);
	}
	ERR_clear_error();
}

void x509_print_cert(FILE *f, X509 *cert, const char *indent)
{
	char text[1024], from[40], to[40], fp[96];
	x509_name_text(X509_get_subject_name(cert), text, sizeof(text));
	fprintf(f, "%sSubject:     %s\n", indent, text);
	x509_name_text(X509_get_issuer_name(cert), text, sizeof(text));
	fprintf(f, "%sIssuer:      %s\n", indent, text);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	fprintf(f, "%sSerial:      %s\n", indent, hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	x509_time_text(X509_get0_notBefore(cert), from, sizeof(from));
	x509_time_text(X509_get0_notAfter(cert), to, sizeof(to));
	fprintf(f, "%sValidity:    %s to %s", indent, from, to);
	int days = 0;
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0)
		fprintf(f, " (NOT YET VALID)\n");
	else if (x509_days_until(X509_get0_notAfter(cert), &days) == 0 && days < 0)
		fprintf(f, " (EXPIRED)\n");
	else
		fprintf(f, " (%d days left)\n", days);
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	x509_san_text(sans, text, sizeof(text));
	GENERAL_NAMES_free(sans);
	fprintf(f, "%sSANs:        %s\n", indent, text[0] ? text : "(none)");
	EVP_PKEY *key = X509_get0_pubkey(cert);
	if (key != NULL)
		print_pubkey(f, key, indent);
	if (x509_fingerprint_sha256(cert, fp) == 0)
		fprintf(f, "%sSHA-256:     %s\n", indent, fp);
	ERR_clear_error();
}

void x509_print_csr(FILE *f, X509_REQ *req, const char *indent)
{
	char text[1024];
	x509_name_text(X509_REQ_get_subject_name(req), text, sizeof(text));
	fprintf(f, "%sSubject:     %s\n", indent, text);
	GENERAL_NAMES *sans = x509_csr_sans(req);
	x509_san_text(sans, text, sizeof(text));
	GENERAL_NAMES_free(sans);
	fprintf(f, "%sSANs:        %s\n", indent, text[0] ? text : "(none)");
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	if (key != NULL) {
		print_pubkey(f, key, indent);
		fprintf(f, "%sSignature:   %s\n", indent,
		        X509_REQ_verify(req, key) == 1 ? "valid" : "INVALID");
	}
	ERR_clear_error();
}

void x509_print_key(FILE *f, EVP_PKEY *key, const char *indent)
{
	fprintf(f, "%sPrivate key (contents not shown)\n", indent);
	print_pubkey(f, key, indent);
}

void x509_print_pubkey(FILE *f, EVP_PKEY *key, const char *indent)
{
	print_pubkey(f, key, indent);
}

void x509_print_crl(FILE *f, X509_CRL *crl, const char *indent)
{
	char text[1024], when[40];
	x509_name_text(X509_CRL_get_issuer(crl), text, sizeof(text));
	fprintf(f, "%sIssuer:      %s\n", indent, text);
	x509_time_text(X509_CRL_get0_lastUpdate(crl), when, sizeof(when));
	fprintf(f, "%sLast update: %s\n", indent, when);
	if (X509_CRL_get0_nextUpdate(crl) != NULL) {
		x509_time_text(X509_CRL_get0_nextUpdate(crl), when, sizeof(when));
		fprintf(f, "%sNext update: %s\n", indent, when);
	}
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
	fprintf(f, "%sRevoked:     %d\n", indent, sk_X509_REVOKED_num(revs));
	for (int i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		x509_time_text(X509_REVOKED_get0_revocationDate(r), when, sizeof(when));
		ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
		int code = reason ? (int)ASN1_ENUMERATED_get(reason) : CRL_REASON_NONE;
		ASN1_ENUMERATED_free(reason);
		fprintf(f, "%s  %s revoked %s (%s)\n", indent, hex ? hex : "?", when,
		        x509_crl_reason_name(code));
		OPENSSL_free(hex);
		BN_free(bn);
	}
	ERR_clear_error();
}
