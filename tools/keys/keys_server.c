/* genkey, selfsign, csr: the appliance's own key and certificate. */
#include <stdlib.h>
#include <string.h>

#include "keys.h"

int keys_cmd_genkey(struct keys_opts *o)
{
	if (o->out == NULL || o->argc != 0) {
		keys_error("genkey needs -o KEY (and no other arguments)");
		return KEYS_EXIT_USAGE;
	}
	struct x509_error err;
	char *pass = NULL;
	if (keys_pass_get(o, true, &pass) != 0)
		return KEYS_EXIT_FAIL;
	const char *type = o->type ? o->type : "ec-p256";
	EVP_PKEY *key = x509_key_generate(type, &err);
	int rc = KEYS_EXIT_FAIL;
	if (key == NULL) {
		keys_error("%s", err.msg);
		goto out;
	}
	if (x509_key_save(o->out, key, pass, o->force, &err) != 0) {
		keys_error("%s", err.msg);
		goto out;
	}
	char desc[128];
	x509_key_describe(key, desc, sizeof(desc));
	printf("wrote %s private key to %s (mode 0600%s)\n", desc, o->out,
	       pass ? ", encrypted with AES-256" : ", not encrypted");
	rc = KEYS_EXIT_OK;
out:
	keys_pass_free(pass);
	EVP_PKEY_free(key);
	return rc;
}

/* Key, subject and SANs, shared by selfsign and csr. */
static int load_request_parts(struct keys_opts *o, const char *cmd, EVP_PKEY **key,
                              X509_NAME **subject, GENERAL_NAMES **sans)
{
	struct x509_error err;
	*key = NULL;
	*subject = NULL;
	*sans = NULL;
	if (o->key == NULL || o->subject == NULL || o->out == NULL || o->argc != 0) {
		keys_error("%s needs --key KEY --subject CN=... -o FILE", cmd);
		return KEYS_EXIT_USAGE;
	}
	*subject = x509_name_parse(o->subject, &err);
	if (*subject == NULL)
		return keys_error("%s", err.msg);
	if (o->sans[0] != '\0' && x509_san_parse(o->sans, sans, &err) != 0)
		return keys_error("%s", err.msg);
	*key = keys_load_key(o, o->key);
	return *key == NULL ? KEYS_EXIT_FAIL : KEYS_EXIT_OK;
}

int keys_cmd_selfsign(struct keys_opts *o)
{
	EVP_PKEY *key;
	X509_NAME *subject;
	GENERAL_NAMES *sans;
	X509 *cert = NULL;
	int rc = load_request_parts(o, "selfsign", &key, &subject, &sans);
	if (rc != KEYS_EXIT_OK)
		goto out;
	if (sans == NULL)
		fprintf(stderr, "ftps-keys: warning: no --san given; clients match host names "
		                "against SANs only\n");
	struct x509_validity v;
	keys_validity(o, 365, &v);
	struct x509_error err;
	cert = x509_build_selfsigned(key, subject, sans, &v, &err);
	if (cert == NULL) {
		rc = keys_error("%s", err.msg);
		goto out;
	}
	rc = keys_write_cert(o->out, &cert, 1);
	if (rc == KEYS_EXIT_OK) {
		printf("wrote self-signed certificate %s\n", o->out);
		x509_print_cert(stdout, cert, "  ");
	}
out:
	X509_free(cert);
	GENERAL_NAMES_free(sans);
	X509_NAME_free(subject);
	EVP_PKEY_free(key);
	return rc;
}

int keys_cmd_csr(struct keys_opts *o)
{
	EVP_PKEY *key;
	X509_NAME *subject;
	GENERAL_NAMES *sans;
	X509_REQ *req = NULL;
	int rc = load_request_parts(o, "csr", &key, &subject, &sans);
	if (rc != KEYS_EXIT_OK)
		goto out;
	struct x509_error err;
	req = x509_build_csr(key, subject, sans, &err);
	if (req == NULL) {
		rc = keys_error("%s", err.msg);
		goto out;
	}
	rc = keys_write_csr(o->out, req);
	if (rc == KEYS_EXIT_OK) {
		printf("wrote certificate signing request %s\n", o->out);
		x509_print_csr(stdout, req, "  ");
	}
out:
	X509_REQ_free(req);
	GENERAL_NAMES_free(sans);
	X509_NAME_free(subject);
	EVP_PKEY_free(key);
	return rc;
}
