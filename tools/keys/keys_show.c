/* show and check-expiry: read-only inspection. */
#include <stdlib.h>
#include <string.h>

#include "keys.h"

/* check-expiry exit statuses, as monitoring systems (Nagios plugins) expect. */
enum expiry_status {
	EXPIRY_OK = 0,
	EXPIRY_WARNING = 1,
	EXPIRY_CRITICAL = 2,
	EXPIRY_UNKNOWN = 3,
};

static int show_one(struct keys_opts *o, const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct x509_error err;
	if (x509_read_file(path, &data, &len, &err) != 0)
		return keys_error("%s", err.msg);
	enum x509_kind kind = x509_kind_of(data, len);
	free(data);
	int rc = KEYS_EXIT_OK;
	printf("%s: %s\n", path, x509_kind_name(kind));
	switch (kind) {
	case X509_KIND_CERT: {
		STACK_OF(X509) *certs = x509_certs_load(path, &err);
		if (certs == NULL)
			return keys_error("%s", err.msg);
		int n = sk_X509_num(certs);
		for (int i = 0; i < n; i++) {
			if (n > 1)
				printf("  certificate %d of %d%s\n", i + 1, n,
				       i == 0 ? " (leaf)" : "");
			x509_print_cert(stdout, sk_X509_value(certs, i), "  ");
		}
		sk_X509_pop_free(certs, X509_free);
		break;
	}
	case X509_KIND_CSR: {
		X509_REQ *req = x509_csr_load(path, &err);
		if (req == NULL)
			return keys_error("%s", err.msg);
		x509_print_csr(stdout, req, "  ");
		X509_REQ_free(req);
		break;
	}
	case X509_KIND_KEY:
	case X509_KIND_KEY_ENCRYPTED: {
		if (kind == X509_KIND_KEY_ENCRYPTED && o->pass_file == NULL &&
		    o->pass_env == NULL && !o->ask_pass) {
			printf("  (encrypted: give a passphrase option to see its type)\n");
			break;
		}
		EVP_PKEY *key = keys_load_key(o, path);
		if (key == NULL)
			return KEYS_EXIT_FAIL;
		x509_print_key(stdout, key, "  ");
		EVP_PKEY_free(key);
		break;
	}
	case X509_KIND_CRL: {
		X509_CRL *crl = x509_crl_load(path, &err);
		if (crl == NULL)
			return keys_error("%s", err.msg);
		x509_print_crl(stdout, crl, "  ");
		X509_CRL_free(crl);
		break;
	}
	case X509_KIND_PUBKEY: {
		EVP_PKEY *key = x509_pubkey_load(path, &err);
		if (key == NULL)
			return keys_error("%s", err.msg);
		x509_print_pubkey(stdout, key, "  ");
		EVP_PKEY_free(key);
		break;
	}
	case X509_KIND_UNKNOWN:
	default:
		rc = keys_error("wrong format: %s is neither a PEM nor a DER certificate, key, "
		                "CSR or CRL",
		                path);
		break;
	}
	return rc;
}

int keys_cmd_show(struct keys_opts *o)
{
	if (o->argc == 0) {
		keys_error("show needs at least one FILE");
		return KEYS_EXIT_USAGE;
	}
	int rc = KEYS_EXIT_OK;
	for (int i = 0; i < o->argc; i++)
		if (show_one(o, o->argv[i]) != KEYS_EXIT_OK)
			rc = KEYS_EXIT_FAIL;
	return rc;
}

static enum expiry_status check_cert(const char *path, X509 *cert, int warn_days)
{
	char subject[512], when[40];
	x509_name_text(X509_get_subject_name(cert), subject, sizeof(subject));
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		x509_time_text(X509_get0_notBefore(cert), when, sizeof(when));
		printf("CRITICAL: %s: %s is not yet valid (valid from %s)\n", path, subject, when);
		return EXPIRY_CRITICAL;
	}
	int days = 0;
	x509_time_text(X509_get0_notAfter(cert), when, sizeof(when));
	if (x509_days_until(X509_get0_notAfter(cert), &days) != 0) {
		printf("UNKNOWN: %s: %s has an unreadable expiry time\n", path, subject);
		return EXPIRY_UNKNOWN;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		printf("CRITICAL: %s: %s expired on %s\n", path, subject, when);
		return EXPIRY_CRITICAL;
	}
	if (days < warn_days) {
		printf("WARNING: %s: %s expires on %s, in %d day%s (threshold %d)\n", path, subject,
		       when, days, days == 1 ? "" : "s", warn_days);
		return EXPIRY_WARNING;
	}
	printf("OK: %s: %s expires on %s, in %d days\n", path, subject, when, days);
	return EXPIRY_OK;
}

int keys_cmd_check_expiry(struct keys_opts *o)
{
	if (o->argc == 0) {
		keys_error("check-expiry needs at least one certificate FILE");
		return EXPIRY_UNKNOWN;
	}
	/* The worst status wins: UNKNOWN > CRITICAL > WARNING > OK. */
	enum expiry_status worst = EXPIRY_OK;
	for (int i = 0; i < o->argc; i++) {
		struct x509_error err;
		STACK_OF(X509) *certs = x509_certs_load(o->argv[i], &err);
		if (certs == NULL) {
			printf("UNKNOWN: %s\n", err.msg);
			worst = EXPIRY_UNKNOWN;
			continue;
		}
		for (int j = 0; j < sk_X509_num(certs); j++) {
			enum expiry_status s =
			    check_cert(o->argv[i], sk_X509_value(certs, j), o->warn_days);
			if (s > worst)
				worst = s;
		}
		sk_X509_pop_free(certs, X509_free);
	}
	return (int)worst;
}
