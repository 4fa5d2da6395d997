/* ca: a small internal CA for client certificates (mutual TLS logins).
 *
 * Folder layout (DIR):
 *   ca.key      CA private key, 0600 (optionally passphrase-protected)
 *   ca.crt      CA certificate
 *   index.tsv   one line per issued certificate:
 *               status(V|R) TAB serial(hex) TAB notAfter(unix) TAB
 *               revokedAt(unix, 0 if valid) TAB reason TAB subject
 *   crlnumber   next CRL number (decimal)
 *   issued/     SERIAL.pem for every issued certificate
 *   crl.pem     the current CRL, replaced atomically on revoke and on 'ca crl'
 * Every file is replaced atomically, so a control plane reading crl.pem never
 * sees a partial file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>

#include "keys.h"

#define CA_PATH_MAX    4096
#define CA_MAX_ENTRIES 100000

struct ca_entry {
	char status; /* 'V' valid, 'R' revoked */
	char serial[64];
	time_t not_after;
	time_t revoked_at;
	int reason;
	char subject[512];
};

struct ca_index {
	struct ca_entry *e;
	size_t n, cap;
};

static int ca_path(char *out, const struct keys_opts *o, const char *name)
{
	int n = snprintf(out, CA_PATH_MAX, "%s/%s", o->dir, name);
	return (n < 0 || n >= CA_PATH_MAX) ? -1 : 0;
}

static int index_push(struct ca_index *idx, const struct ca_entry *e)
{
	if (idx->n == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 32;
		if (cap > CA_MAX_ENTRIES)
			return -1;
		struct ca_entry *ne = realloc(idx->e, cap * sizeof(*ne));
		if (ne == NULL)
			return -1;
		idx->e = ne;
		idx->cap = cap;
	}
	idx->e[idx->n++] = *e;
	return 0;
}

static int index_load(const struct keys_opts *o, struct ca_index *idx)
{
	char path[CA_PATH_MAX];
	memset(idx, 0, sizeof(*idx));
	if (ca_path(path, o, "index.tsv") != 0)
		return keys_error("CA folder name too long");
	unsigned char *data = NULL;
	size_t len = 0;
	struct x509_error err;
	if (x509_read_file(path, &data, &len, &err) != 0)
		return keys_error("%s (is %s a CA folder made by 'ftps-keys ca init'?)", err.msg,
		                  o->dir);
	int rc = KEYS_EXIT_OK;
	char *save = NULL;
	int lineno = 0;
	for (char *line = strtok_r((char *)data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		struct ca_entry e;
		memset(&e, 0, sizeof(e));
		char reason[64];
		long long na = 0, ra = 0;
		/* %63[^\t] etc. bound every field; the subject is the rest. */
		if (sscanf(line, "%c\t%63[0-9A-F]\t%lld\t%lld\t%63[A-Za-z]\t%511[^\n]", &e.status,
		           e.serial, &na, &ra, reason, e.subject) != 6 ||
		    (e.status != 'V' && e.status != 'R') ||
		    (e.reason = x509_crl_reason_parse(reason)) == -2) {
			rc = keys_error("%s line %d is damaged", path, lineno);
			break;
		}
		e.not_after = (time_t)na;
		e.revoked_at = (time_t)ra;
		if (index_push(idx, &e) != 0) {
			rc = keys_error("index too large or out of memory");
			break;
		}
	}
	free(data);
	if (rc != KEYS_EXIT_OK) {
		free(idx->e);
		memset(idx, 0, sizeof(*idx));
	}
	return rc;
}

static int index_save(const struct keys_opts *o, const struct ca_index *idx)
{
	char path[CA_PATH_MAX];
	if (ca_path(path, o, "index.tsv") != 0)
		return keys_error("CA folder name too long");
	size_t cap = idx->n * 700 + 1;
	char *buf = malloc(cap);
	if (buf == NULL)
		return keys_error("out of memory");
	size_t used = 0;
	for (size_t i = 0; i < idx->n; i++) {
		const struct ca_entry *e = &idx->e[i];
		int n = snprintf(buf + used, cap - used, "%c\t%s\t%lld\t%lld\t%s\t%s\n", e->status,
		                 e->serial, (long long)e->not_after, (long long)e->revoked_at,
		                 x509_crl_reason_name(e->reason), e->subject);
		if (n < 0 || (size_t)n >= cap - used) {
			free(buf);
			return keys_error("index entry too long");
		}
		used += (size_t)n;
	}
	struct x509_error err;
	int rc = x509_write_atomic(path, buf, used, 0644, &err) == 0 ? KEYS_EXIT_OK
	                                                             : keys_error("%s", err.msg);
	free(buf);
	return rc;
}

/* Upper-case hex without leading zeros: the one spelling the index uses. */
static int serial_normalise(const char *in, char out[64])
{
	char clean[128];
	size_t n = 0;
	if (strncasecmp(in, "0x", 2) == 0)
		in += 2;
	for (; *in != '\0' && n + 1 < sizeof(clean); in++)
		if (*in != ':')
			clean[n++] = *in;
	clean[n] = '\0';
	BIGNUM *bn = NULL;
	if (n == 0 || n > 60 || BN_hex2bn(&bn, clean) != (int)n) {
		BN_free(bn);
		return -1;
	}
	char *hex = BN_bn2hex(bn);
	int rc = (hex != NULL && strlen(hex) < 64) ? 0 : -1;
	if (rc == 0)
		snprintf(out, 64, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

static int serial_of(const X509 *x, char out[64])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int rc = (hex != NULL && strlen(hex) < 64) ? 0 : -1;
	if (rc == 0)
		snprintf(out, 64, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

static int load_ca(const struct keys_opts *o, X509 **cert, EVP_PKEY **key)
{
	char path[CA_PATH_MAX];
	struct x509_error err;
	*key = NULL;
	if (ca_path(path, o, "ca.crt") != 0)
		return keys_error("CA folder name too long");
	*cert = x509_cert_load(path, &err);
	if (*cert == NULL)
		return keys_error("%s", err.msg);
	if (ca_path(path, o, "ca.key") != 0)
		return keys_error("CA folder name too long");
	*key = keys_load_key(o, path);
	if (*key == NULL)
		return KEYS_EXIT_FAIL;
	if (x509_check_key_match(*cert, *key, &err) != 0)
		return keys_error("%s", err.msg);
	return KEYS_EXIT_OK;
}

static int publish_crl(const struct keys_opts *o, X509 *ca_cert, EVP_PKEY *ca_key,
                       const struct ca_index *idx, int days)
{
	char path[CA_PATH_MAX];
	struct x509_error err;
	int rc = KEYS_EXIT_FAIL;
	long number = 1;
	unsigned char *data = NULL;
	size_t len = 0;
	if (ca_path(path, o, "crlnumber") != 0)
		return keys_error("CA folder name too long");
	if (x509_read_file(path, &data, &len, &err) == 0) {
		char *end = NULL;
		number = strtol((char *)data, &end, 10);
		free(data);
		if (end == NULL || number < 1 || number > 0x7fffffffL)
			return keys_error("%s is damaged", path);
	}
	struct x509_revocation *revs = calloc(idx->n + 1, sizeof(*revs));
	ASN1_INTEGER **serials = calloc(idx->n + 1, sizeof(*serials));
	X509_CRL *crl = NULL;
	size_t nrev = 0;
	if (revs == NULL || serials == NULL) {
		keys_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < idx->n; i++) {
		if (idx->e[i].status != 'R')
			continue;
		BIGNUM *bn = NULL;
		if (BN_hex2bn(&bn, idx->e[i].serial) == 0 ||
		    (serials[nrev] = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
			BN_free(bn);
			keys_error("bad serial %s in the index", idx->e[i].serial);
			goto out;
		}
		BN_free(bn);
		revs[nrev].serial = serials[nrev];
		revs[nrev].revoked_at = idx->e[i].revoked_at;
		revs[nrev].reason = idx->e[i].reason;
		nrev++;
	}
	crl = x509_build_crl(ca_cert, ca_key, revs, nrev, number, days, &err);
	if (crl == NULL) {
		keys_error("%s", err.msg);
		goto out;
	}
	char num[32];
	int nlen = snprintf(num, sizeof(num), "%ld\n", number + 1);
	if (x509_write_atomic(path, num, (size_t)nlen, 0644, &err) != 0) {
		keys_error("%s", err.msg);
		goto out;
	}
	if (ca_path(path, o, "crl.pem") != 0 || keys_write_crl(path, crl) != KEYS_EXIT_OK)
		goto out;
	if (o->out != NULL && keys_write_crl(o->out, crl) != KEYS_EXIT_OK)
		goto out;
	printf("published CRL number %ld with %zu revoked certificate%s to %s%s%s\n", number, nrev,
	       nrev == 1 ? "" : "s", path, o->out ? " and " : "", o->out ? o->out : "");
	rc = KEYS_EXIT_OK;
out:
	for (size_t i = 0; serials != NULL && i < nrev; i++)
		ASN1_INTEGER_free(serials[i]);
	free(serials);
	free(revs);
	X509_CRL_free(crl);
	return rc;
}

static int ca_init(struct keys_opts *o)
{
	if (o->subject == NULL) {
		keys_error("ca init needs --dir DIR --subject CN=...");
		return KEYS_EXIT_USAGE;
	}
	char path[CA_PATH_MAX], dir2[CA_PATH_MAX];
	struct x509_error err;
	int rc = KEYS_EXIT_FAIL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *subject = NULL;
	char *pass = NULL;
	if (mkdir(o->dir, 0700) != 0 && errno != EEXIST)
		return keys_error("cannot create %s: %s", o->dir, strerror(errno));
	if (ca_path(path, o, "ca.crt") != 0 || ca_path(dir2, o, "issued") != 0)
		return keys_error("CA folder name too long");
	if (!o->force && access(path, F_OK) == 0)
		return keys_error("%s already holds a CA (use --force to replace it)", o->dir);
	if (mkdir(dir2, 0700) != 0 && errno != EEXIST)
		return keys_error("cannot create %s: %s", dir2, strerror(errno));
	subject = x509_name_parse(o->subject, &err);
	if (subject == NULL) {
		keys_error("%s", err.msg);
		goto out;
	}
	if (keys_pass_get(o, true, &pass) != 0)
		goto out;
	key = x509_key_generate(o->type ? o->type : "ec-p384", &err);
	struct x509_validity v;
	keys_validity(o, 3650, &v);
	if (key == NULL || (cert = x509_build_ca(key, subject, &v, &err)) == NULL) {
		keys_error("%s", err.msg);
		goto out;
	}
	if (ca_path(dir2, o, "ca.key") != 0 || x509_key_save(dir2, key, pass, true, &err) != 0) {
		keys_error("%s", err.msg);
		goto out;
	}
	if (keys_write_cert(path, &cert, 1) != KEYS_EXIT_OK)
		goto out;
	struct ca_index empty = {0};
	if (index_save(o, &empty) != KEYS_EXIT_OK)
		goto out;
	printf("created CA in %s\n", o->dir);
	x509_print_cert(stdout, cert, "  ");
	o->out = NULL;
	rc = publish_crl(o, cert, key, &empty, o->days > 0 && o->days <= 3650 ? o->days : 30);
out:
	keys_pass_free(pass);
	X509_NAME_free(subject);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static int ca_issue(struct keys_opts *o)
{
	if (o->out == NULL || (o->csr == NULL) == (o->key_out == NULL)) {
		keys_error(
		    "ca issue needs --dir DIR -o CERT and one of --csr CSR or --key-out KEY");
		return KEYS_EXIT_USAGE;
	}
	struct x509_error err;
	int rc = KEYS_EXIT_FAIL;
	X509 *ca_cert = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509_REQ *req = NULL;
	X509_NAME *subject = NULL;
	GENERAL_NAMES *sans = NULL;
	struct ca_index idx = {0};
	if (load_ca(o, &ca_cert, &ca_key) != KEYS_EXIT_OK || index_load(o, &idx) != KEYS_EXIT_OK)
		goto out;
	if (o->csr != NULL) {
		req = x509_csr_load(o->csr, &err);
		if (req == NULL) {
			keys_error("%s", err.msg);
			goto out;
		}
		key = X509_REQ_get_pubkey(req);
		if (key == NULL || X509_REQ_verify(req, key) != 1) {
			ERR_clear_error();
			keys_error("the signature on %s does not verify; refusing it", o->csr);
			goto out;
		}
		sans = x509_csr_sans(req);
		subject = o->subject ? x509_name_parse(o->subject, &err)
		                     : X509_NAME_dup(X509_REQ_get_subject_name(req));
	} else {
		if (o->subject == NULL) {
			keys_error("ca issue --key-out needs --subject CN=user");
			rc = KEYS_EXIT_USAGE;
			goto out;
		}
		key = x509_key_generate(o->type ? o->type : "ec-p256", &err);
		if (key == NULL || x509_key_save(o->key_out, key, NULL, o->force, &err) != 0) {
			keys_error("%s", err.msg);
			goto out;
		}
		subject = x509_name_parse(o->subject, &err);
	}
	if (subject == NULL) {
		keys_error("%s", err.msg);
		goto out;
	}
	if (o->sans[0] != '\0' && x509_san_parse(o->sans, &sans, &err) != 0) {
		keys_error("%s", err.msg);
		goto out;
	}
	struct x509_validity v;
	keys_validity(o, 365, &v);
	cert = x509_build_client_cert(ca_cert, ca_key, key, subject, sans, &v, &err);
	if (cert == NULL) {
		keys_error("%s", err.msg);
		goto out;
	}
	struct ca_entry e = {.status = 'V', .reason = CRL_REASON_NONE};
	char path[CA_PATH_MAX], name[80];
	if (serial_of(cert, e.serial) != 0) {
		keys_error("cannot read the new serial");
		goto out;
	}
	for (size_t i = 0; i < idx.n; i++) {
		if (strcmp(idx.e[i].serial, e.serial) == 0) {
			/* 2^-159 odds; refuse rather than reuse a serial. */
			keys_error("serial collision with an issued certificate; run again");
			goto out;
		}
	}
	struct tm tm;
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm)) {
		keys_error("cannot read the new expiry");
		goto out;
	}
	e.not_after = timegm(&tm);
	x509_name_text(subject, e.subject, sizeof(e.subject));
	snprintf(name, sizeof(name), "issued/%s.pem", e.serial);
	if (ca_path(path, o, name) != 0 || keys_write_cert(path, &cert, 1) != KEYS_EXIT_OK ||
	    keys_write_cert(o->out, &cert, 1) != KEYS_EXIT_OK)
		goto out;
	if (index_push(&idx, &e) != 0) {
		keys_error("out of memory");
		goto out;
	}
	if (index_save(o, &idx) != KEYS_EXIT_OK)
		goto out;
	printf("issued client certificate %s (serial %s)%s%s\n", o->out, e.serial,
	       o->key_out ? ", key " : "", o->key_out ? o->key_out : "");
	x509_print_cert(stdout, cert, "  ");
	rc = KEYS_EXIT_OK;
out:
	free(idx.e);
	GENERAL_NAMES_free(sans);
	X509_NAME_free(subject);
	X509_REQ_free(req);
	X509_free(cert);
	X509_free(ca_cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return rc;
}

static int ca_list(struct keys_opts *o)
{
	struct ca_index idx;
	if (index_load(o, &idx) != KEYS_EXIT_OK)
		return KEYS_EXIT_FAIL;
	time_t now = time(NULL);
	printf("%-8s %-42s %-20s %s\n", "STATUS", "SERIAL", "EXPIRES", "SUBJECT");
	for (size_t i = 0; i < idx.n; i++) {
		const struct ca_entry *e = &idx.e[i];
		char when[32];
		struct tm tm;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&e->not_after, &tm));
		const char *status = e->status == 'R'      ? "revoked"
		                     : e->not_after <= now ? "expired"
		                                           : "valid";
		printf("%-8s %-42s %-20s %s\n", status, e->serial, when, e->subject);
	}
	free(idx.e);
	return KEYS_EXIT_OK;
}

static int ca_revoke(struct keys_opts *o)
{
	char serial[64];
	struct x509_error err;
	if ((o->serial == NULL) == (o->cert == NULL)) {
		keys_error("ca revoke needs --dir DIR and one of --serial HEX or --cert CERT");
		return KEYS_EXIT_USAGE;
	}
	int reason = CRL_REASON_UNSPECIFIED;
	if (o->reason != NULL && (reason = x509_crl_reason_parse(o->reason)) < 0) {
		keys_error("unknown reason '%s' (keyCompromise, affiliationChanged, superseded, "
		           "cessationOfOperation, privilegeWithdrawn, unspecified)",
		           o->reason);
		return KEYS_EXIT_USAGE;
	}
	if (o->serial != NULL) {
		if (serial_normalise(o->serial, serial) != 0)
			return keys_error("'%s' is not a hexadecimal serial", o->serial);
	} else {
		X509 *x = x509_cert_load(o->cert, &err);
		if (x == NULL)
			return keys_error("%s", err.msg);
		int r = serial_of(x, serial);
		X509_free(x);
		if (r != 0)
			return keys_error("cannot read the serial of %s", o->cert);
	}
	struct ca_index idx;
	X509 *ca_cert = NULL;
	EVP_PKEY *ca_key = NULL;
	int rc = KEYS_EXIT_FAIL;
	if (index_load(o, &idx) != KEYS_EXIT_OK)
		return KEYS_EXIT_FAIL;
	struct ca_entry *found = NULL;
	for (size_t i = 0; i < idx.n; i++)
		if (strcmp(idx.e[i].serial, serial) == 0)
			found = &idx.e[i];
	if (found == NULL) {
		keys_error("no certificate with serial %s was issued by this CA", serial);
		goto out;
	}
	if (found->status == 'R') {
		keys_error("serial %s (%s) is already revoked", serial, found->subject);
		goto out;
	}
	if (load_ca(o, &ca_cert, &ca_key) != KEYS_EXIT_OK)
		goto out;
	found->status = 'R';
	found->revoked_at = time(NULL);
	found->reason = reason;
	if (index_save(o, &idx) != KEYS_EXIT_OK)
		goto out;
	printf("revoked serial %s (%s), reason %s\n", serial, found->subject,
	       x509_crl_reason_name(reason));
	o->out = NULL;
	rc = publish_crl(o, ca_cert, ca_key, &idx, 30);
out:
	free(idx.e);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	return rc;
}

static int ca_crl(struct keys_opts *o)
{
	struct ca_index idx;
	X509 *ca_cert = NULL;
	EVP_PKEY *ca_key = NULL;
	int rc = KEYS_EXIT_FAIL;
	if (index_load(o, &idx) != KEYS_EXIT_OK)
		return KEYS_EXIT_FAIL;
	if (load_ca(o, &ca_cert, &ca_key) == KEYS_EXIT_OK)
		rc = publish_crl(o, ca_cert, ca_key, &idx, o->days > 0 ? o->days : 30);
	free(idx.e);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	return rc;
}

int keys_cmd_ca(struct keys_opts *o)
{
	static const struct {
		const char *name;
		int (*run)(struct keys_opts *o);
	} sub[] = {
	    {"init", ca_init},     {"issue", ca_issue}, {"list", ca_list},
	    {"revoke", ca_revoke}, {"crl", ca_crl},
	};
	if (o->argc != 1 || o->dir == NULL) {
		keys_error("usage: ftps-keys ca init|issue|list|revoke|crl --dir DIR [options]");
		return KEYS_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (strcmp(o->argv[0], sub[i].name) == 0)
			return sub[i].run(o);
	keys_error("unknown ca command '%s' (init, issue, list, revoke, crl)", o->argv[0]);
	return KEYS_EXIT_USAGE;
}
