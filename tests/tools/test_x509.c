/* Unit tests of the X.509 helpers: keys, names, certificates, requests,
 * chains, CRLs, files, and every error message the key manager relies on. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "ftps_x509.h"

static char dir[] = "/tmp/test_x509.XXXXXX";

static const char *path_in(const char *name)
{
	static char buf[4][512];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static bool contains(const char *msg, const char *part)
{
	if (strstr(msg, part) != NULL)
		return true;
	fprintf(stderr, "message '%s' lacks '%s'\n", msg, part);
	return false;
}

static void test_keygen(void)
{
	struct x509_error err;
	static const struct {
		const char *type, *desc;
	} ok[] = {
	    {"ec-p256", "ECDSA P-256"},
	    {"ec-p384", "ECDSA P-384"},
	    {"rsa2048", "RSA 2048"},
	    {"ed25519", "Ed25519"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		EVP_PKEY *k = x509_key_generate(ok[i].type, &err);
		CHECK(k != NULL);
		char desc[128] = "";
		if (k != NULL)
			x509_key_describe(k, desc, sizeof(desc));
		CHECK(contains(desc, ok[i].desc));
		EVP_PKEY_free(k);
	}
	CHECK(x509_key_generate("rsa1024", &err) == NULL);
	CHECK(contains(err.msg, "2048 to 4096"));
	CHECK(x509_key_generate("rsa8192", &err) == NULL);
	CHECK(x509_key_generate("dsa", &err) == NULL);
	CHECK(contains(err.msg, "unknown key type"));
}

static void test_key_files(void)
{
	struct x509_error err;
	EVP_PKEY *k = x509_key_generate("ec-p256", &err);
	CHECK(k != NULL);
	CHECK_EQ(x509_key_save(path_in("plain.key"), k, NULL, false, &err), 0);
	struct stat st;
	CHECK(stat(path_in("plain.key"), &st) == 0 && (st.st_mode & 0777) == 0600);
	/* Never silently replace a key. */
	CHECK_EQ(x509_key_save(path_in("plain.key"), k, NULL, false, &err), -1);
	CHECK(contains(err.msg, "refusing to replace"));
	CHECK_EQ(x509_key_save(path_in("enc.key"), k, "correct horse", false, &err), 0);

	EVP_PKEY *l = x509_key_load(path_in("plain.key"), NULL, &err);
	CHECK(l != NULL && EVP_PKEY_eq(k, l) == 1);
	EVP_PKEY_free(l);
	l = x509_key_load(path_in("enc.key"), "correct horse", &err);
	CHECK(l != NULL && EVP_PKEY_eq(k, l) == 1);
	EVP_PKEY_free(l);
	CHECK(x509_key_load(path_in("enc.key"), "wrong horse", &err) == NULL);
	CHECK(contains(err.msg, "wrong passphrase"));
	CHECK(x509_key_load(path_in("enc.key"), NULL, &err) == NULL);
	CHECK(contains(err.msg, "is encrypted: a passphrase is needed"));
	CHECK(x509_key_load(path_in("missing.key"), NULL, &err) == NULL);
	CHECK(contains(err.msg, "cannot open"));

	/* The encrypted file must not hold the clear key. */
	unsigned char *data = NULL;
	size_t len = 0;
	CHECK_EQ(x509_read_file(path_in("enc.key"), &data, &len, &err), 0);
	CHECK(data != NULL && strstr((char *)data, "ENCRYPTED PRIVATE KEY") != NULL);
	CHECK_EQ(x509_kind_of(data, len), X509_KIND_KEY_ENCRYPTED);
	free(data);
	EVP_PKEY_free(k);
}

static void test_names(void)
{
	struct x509_error err;
	X509_NAME *n = x509_name_parse("CN=ftp.example.com, O=Example\\, Inc", &err);
	CHECK(n != NULL);
	char text[256] = "";
	if (n != NULL)
		x509_name_text(n, text, sizeof(text));
	CHECK(contains(text, "CN = ftp.example.com"));
	CHECK(contains(text, "Example, Inc"));
	X509_NAME_free(n);
	n = x509_name_parse("/CN=a/O=b", &err);
	CHECK(n != NULL && X509_NAME_entry_count(n) == 2);
	X509_NAME_free(n);
	CHECK(x509_name_parse("CN", &err) == NULL);
	CHECK(contains(err.msg, "KEY=value"));
	CHECK(x509_name_parse("XYZ=1", &err) == NULL);
	CHECK(contains(err.msg, "rejected"));
	CHECK(x509_name_parse("", &err) == NULL);

	GENERAL_NAMES *g = NULL;
	CHECK_EQ(x509_san_parse("DNS:ftp.test,IP:198.18.7.1,2001:db8::1,other.test", &g, &err), 0);
	CHECK_EQ(sk_GENERAL_NAME_num(g), 4);
	x509_san_text(g, text, sizeof(text));
	CHECK(contains(text, "DNS:ftp.test, IP:198.18.7.1, IP:2001:db8::1, DNS:other.test"));
	CHECK_EQ(x509_san_parse("IP:198.18.7.999", &g, &err), -1);
	CHECK(contains(err.msg, "not an IPv4 or IPv6 address"));
	CHECK_EQ(x509_san_parse("DNS:bad name", &g, &err), -1);
	CHECK(contains(err.msg, "not a valid DNS name"));
	GENERAL_NAMES_free(g);
}

static X509 *make_selfsigned(EVP_PKEY *k, time_t from, time_t to)
{
	struct x509_error err;
	X509_NAME *n = x509_name_parse("CN=ftp.test", &err);
	GENERAL_NAMES *g = NULL;
	CHECK_EQ(x509_san_parse("DNS:ftp.test,IP:198.18.7.1", &g, &err), 0);
	struct x509_validity v = {.not_before = from, .not_after = to, .days = 30};
	X509 *x = x509_build_selfsigned(k, n, g, &v, &err);
	GENERAL_NAMES_free(g);
	X509_NAME_free(n);
	return x;
}

static void test_selfsigned(void)
{
	struct x509_error err;
	EVP_PKEY *k = x509_key_generate("ec-p256", &err);
	X509 *x = make_selfsigned(k, 0, 0);
	CHECK(x != NULL);
	if (x == NULL)
		return;
	CHECK_EQ(X509_check_host(x, "ftp.test", 0, 0, NULL), 1);
	CHECK_EQ(X509_check_host(x, "wrong.test", 0, 0, NULL), 0);
	CHECK_EQ(X509_check_ip_asc(x, "198.18.7.1", 0), 1);
	CHECK_EQ(X509_check_ip_asc(x, "198.18.7.2", 0), 0);
	CHECK_EQ(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	CHECK((X509_get_extended_key_usage(x) & XKU_SSL_SERVER) != 0);
	CHECK((X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE) != 0);
	CHECK_EQ(X509_verify(x, k), 1);
	CHECK_EQ(x509_check_current(x, &err), 0);
	CHECK_EQ(x509_check_key_match(x, k, &err), 0);
	/* Serials: positive, at most 20 octets, different every time. */
	const ASN1_INTEGER *s1 = X509_get0_serialNumber(x);
	CHECK(ASN1_STRING_length(s1) <= 20 && ASN1_STRING_type(s1) == V_ASN1_INTEGER);
	X509 *y = make_selfsigned(k, 0, 0);
	CHECK(y != NULL && ASN1_INTEGER_cmp(s1, X509_get0_serialNumber(y)) != 0);
	char fp[96], hex[65];
	CHECK_EQ(x509_fingerprint_sha256(x, fp), 0);
	CHECK_EQ(x509_fingerprint_hex(x, hex), 0);
	CHECK_EQ(strlen(fp), 95);
	CHECK_EQ(strlen(hex), 64);

	EVP_PKEY *other = x509_key_generate("ec-p256", &err);
	CHECK_EQ(x509_check_key_match(x, other, &err), -1);
	CHECK(contains(err.msg, "key mismatch"));

	time_t now = time(NULL);
	X509 *old = make_selfsigned(k, now - 10 * 86400, now - 86400);
	CHECK_EQ(x509_check_current(old, &err), -1);
	CHECK(contains(err.msg, "expired"));
	int days = 0;
	CHECK(x509_days_until(X509_get0_notAfter(old), &days) == 0 && days < 0);
	X509 *future = make_selfsigned(k, now + 86400, now + 10 * 86400);
	CHECK_EQ(x509_check_current(future, &err), -1);
	CHECK(contains(err.msg, "not yet valid"));

	/* Files: atomic write then load back; wrong kind named in the error. */
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	CHECK(len > 0);
	CHECK_EQ(x509_write_atomic(path_in("x.der"), der, (size_t)len, 0644, &err), 0);
	OPENSSL_free(der);
	X509 *back = x509_cert_load(path_in("x.der"), &err);
	CHECK(back != NULL && X509_cmp(back, x) == 0);
	X509_free(back);
	CHECK(x509_cert_load(path_in("plain.key"), &err) == NULL);
	CHECK(contains(err.msg, "wrong format"));
	CHECK(contains(err.msg, "private key"));
	CHECK(x509_key_load(path_in("x.der"), NULL, &err) == NULL);
	CHECK(contains(err.msg, "wrong format"));
	CHECK_EQ(x509_write_atomic(path_in("junk"), "hello", 5, 0644, &err), 0);
	CHECK(x509_cert_load(path_in("junk"), &err) == NULL);
	CHECK(contains(err.msg, "neither PEM nor DER"));

	X509_free(future);
	X509_free(old);
	X509_free(y);
	X509_free(x);
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
}

static void test_csr(void)
{
	struct x509_error err;
	EVP_PKEY *k = x509_key_generate("ed25519", &err);
	X509_NAME *n = x509_name_parse("CN=ftp.test", &err);
	GENERAL_NAMES *g = NULL;
	CHECK_EQ(x509_san_parse("ftp.test,198.18.7.1", &g, &err), 0);
	X509_REQ *req = x509_build_csr(k, n, g, &err);
	CHECK(req != NULL);
	if (req != NULL) {
		CHECK_EQ(X509_REQ_verify(req, k), 1);
		GENERAL_NAMES *back = x509_csr_sans(req);
		char text[256] = "";
		x509_san_text(back, text, sizeof(text));
		CHECK(contains(text, "DNS:ftp.test, IP:198.18.7.1"));
		GENERAL_NAMES_free(back);
	}
	X509_REQ_free(req);
	GENERAL_NAMES_free(g);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_ca_chain_crl(void)
{
	struct x509_error err;
	EVP_PKEY *ca_key = x509_key_generate("ec-p384", &err);
	X509_NAME *ca_name = x509_name_parse("CN=Test Client CA", &err);
	struct x509_validity v = {.days = 30};
	X509 *ca = x509_build_ca(ca_key, ca_name, &v, &err);
	CHECK(ca != NULL);
	EVP_PKEY *uk = x509_key_generate("ec-p256", &err);
	X509_NAME *un = x509_name_parse("CN=alice", &err);
	X509 *user = x509_build_client_cert(ca, ca_key, uk, un, NULL, &v, &err);
	X509 *user2 = x509_build_client_cert(ca, ca_key, uk, un, NULL, &v, &err);
	CHECK(user != NULL && user2 != NULL);
	CHECK((X509_get_extended_key_usage(user) & XKU_SSL_CLIENT) != 0);
	STACK_OF(X509) *roots = sk_X509_new_null();
	sk_X509_push(roots, ca);
	CHECK_EQ(x509_check_chain(user, NULL, roots, X509_PURPOSE_SSL_CLIENT, &err), 0);
	/* The wrong root: a broken chain with a reason and a depth. */
	EVP_PKEY *k2 = x509_key_generate("ec-p256", &err);
	X509 *stranger = make_selfsigned(k2, 0, 0);
	STACK_OF(X509) *wrong = sk_X509_new_null();
	sk_X509_push(wrong, stranger);
	CHECK_EQ(x509_check_chain(user, NULL, wrong, X509_PURPOSE_SSL_CLIENT, &err), -1);
	CHECK(contains(err.msg, "broken chain"));
	CHECK(contains(err.msg, "depth 0"));
	/* A CA key that is not the CA's. */
	CHECK(x509_build_client_cert(ca, k2, uk, un, NULL, &v, &err) == NULL);
	CHECK(contains(err.msg, "does not match"));

	/* Revoke user, keep user2: the CRL check tells them apart. */
	struct x509_revocation rev = {.serial = X509_get0_serialNumber(user),
	                              .revoked_at = time(NULL),
	                              .reason = CRL_REASON_KEY_COMPROMISE};
	X509_CRL *crl = x509_build_crl(ca, ca_key, &rev, 1, 7, 30, &err);
	CHECK(crl != NULL);
	if (crl != NULL) {
		CHECK_EQ(X509_CRL_verify(crl, ca_key), 1);
		X509_REVOKED *found = NULL;
		CHECK_EQ(X509_CRL_get0_by_serial(crl, &found,
		                                 (ASN1_INTEGER *)X509_get0_serialNumber(user)),
		         1);
		CHECK_EQ(X509_CRL_get0_by_serial(crl, &found,
		                                 (ASN1_INTEGER *)X509_get0_serialNumber(user2)),
		         0);
		ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
		CHECK(num != NULL && ASN1_INTEGER_get(num) == 7);
		ASN1_INTEGER_free(num);
		X509_STORE *store = X509_STORE_new();
		X509_STORE_add_cert(store, ca);
		X509_STORE_add_crl(store, crl);
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		X509_STORE_CTX_init(ctx, store, user, NULL);
		CHECK_EQ(X509_verify_cert(ctx), 0);
		CHECK_EQ(X509_STORE_CTX_get_error(ctx), X509_V_ERR_CERT_REVOKED);
		X509_STORE_CTX_cleanup(ctx);
		X509_STORE_CTX_init(ctx, store, user2, NULL);
		CHECK_EQ(X509_verify_cert(ctx), 1);
		X509_STORE_CTX_free(ctx);
		X509_STORE_free(store);
	}
	CHECK_EQ(x509_crl_reason_parse("keyCompromise"), CRL_REASON_KEY_COMPROMISE);
	CHECK_EQ(x509_crl_reason_parse("nonsense"), -2);
	X509_CRL_free(crl);
	sk_X509_pop_free(wrong, X509_free);
	sk_X509_pop_free(roots, X509_free);
	X509_free(user);
	X509_free(user2);
	X509_NAME_free(un);
	X509_NAME_free(ca_name);
	EVP_PKEY_free(uk);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(ca_key);
}

static void test_atomic_leaves_nothing(void)
{
	struct x509_error err;
	CHECK_EQ(x509_write_atomic(path_in("a.pem"), "one", 3, 0644, &err), 0);
	CHECK_EQ(x509_write_atomic(path_in("a.pem"), "second", 6, 0644, &err), 0);
	unsigned char *data = NULL;
	size_t len = 0;
	CHECK_EQ(x509_read_file(path_in("a.pem"), &data, &len, &err), 0);
	CHECK(len == 6 && memcmp(data, "second", 6) == 0);
	free(data);
	DIR *d = opendir(dir);
	struct dirent *de;
	int temps = 0;
	while (d != NULL && (de = readdir(d)) != NULL)
		temps += strstr(de->d_name, ".tmp.") != NULL;
	if (d != NULL)
		closedir(d);
	CHECK_EQ(temps, 0);
	CHECK_EQ(x509_write_atomic("/nonexistent-dir/x.pem", "x", 1, 0644, &err), -1);
	CHECK(contains(err.msg, "cannot create a temporary file"));
}

static void cleanup(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlink(path_in(de->d_name));
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	test_keygen();
	test_key_files();
	test_names();
	test_selfsigned();
	test_csr();
	test_ca_chain_crl();
	test_atomic_leaves_nothing();
	cleanup();
	return check_finish("x509");
}
