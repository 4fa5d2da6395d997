/* Private keys: generation, passphrase-protected storage, loading with
 * errors an operator can act on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "ftps_x509.h"

EVP_PKEY *x509_key_generate(const char *type, struct x509_error *err)
{
	EVP_PKEY *key = NULL;
	if (strcmp(type, "ec-p256") == 0 || strcmp(type, "p256") == 0) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	} else if (strcmp(type, "ec-p384") == 0 || strcmp(type, "p384") == 0) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	} else if (strcmp(type, "ed25519") == 0) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else if (strncmp(type, "rsa", 3) == 0) {
		char *end = NULL;
		errno = 0;
		unsigned long bits = strtoul(type + 3, &end, 10);
		if (errno != 0 || end == type + 3 || *end != '\0' || bits < 2048 || bits > 4096 ||
		    bits % 8 != 0) {
			x509_fail(err,
			          "RSA key size in '%s' must be 2048 to 4096 bits, a multiple "
			          "of 8 (rsa2048, rsa3072, rsa4096)",
			          type);
			return NULL;
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else {
		x509_fail(err,
		          "unknown key type '%s' (use ec-p256, ec-p384, rsa2048, rsa3072, "
		          "rsa4096 or ed25519)",
		          type);
		return NULL;
	}
	if (key == NULL)
		x509_fail(err, "key generation (%s) failed", type);
	return key;
}

int x509_key_save(const char *path, EVP_PKEY *key, const char *passphrase, bool overwrite,
                  struct x509_error *err)
{
	int rc = -1;
	if (!overwrite && access(path, F_OK) == 0)
		return x509_fail(err, "%s exists; refusing to replace a key (use --force)", path);
	BIO *mem = BIO_new(BIO_s_mem());
	if (mem == NULL)
		return x509_fail(err, "out of memory");
	const EVP_CIPHER *cipher = passphrase != NULL ? EVP_aes_256_cbc() : NULL;
	/* With no callback, OpenSSL takes u as the NUL-terminated passphrase. */
	if (!PEM_write_bio_PKCS8PrivateKey(mem, key, cipher, NULL, 0, NULL, (void *)passphrase)) {
		x509_fail(err, "cannot encode the private key");
		goto out;
	}
	char *data = NULL;
	long len = BIO_get_mem_data(mem, &data);
	if (len <= 0) {
		x509_fail(err, "cannot encode the private key");
		goto out;
	}
	rc = x509_write_atomic(path, data, (size_t)len, 0600, err);
	OPENSSL_cleanse(data, (size_t)len);
out:
	BIO_free(mem);
	return rc;
}

/* Never let OpenSSL fall back to prompting on the terminal by itself: the
 * caller decides where a passphrase comes from. */
static int passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	const char *pass = u;
	if (pass == NULL)
		return -1;
	size_t len = strlen(pass);
	if (len > (size_t)size)
		return -1;
	memcpy(buf, pass, len);
	return (int)len;
}

EVP_PKEY *x509_key_load(const char *path, const char *passphrase, struct x509_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	if (x509_read_file(path, &data, &len, err) != 0)
		return NULL;
	enum x509_kind kind = x509_kind_of(data, len);
	if (kind != X509_KIND_KEY && kind != X509_KIND_KEY_ENCRYPTED) {
		x509_fail(err, "wrong format: %s holds %s%s, expected a private key", path,
		          kind == X509_KIND_UNKNOWN ? "" : "a ", x509_kind_name(kind));
		goto out;
	}
	if (kind == X509_KIND_KEY_ENCRYPTED && passphrase == NULL) {
		x509_fail(err,
		          "%s is encrypted: a passphrase is needed (--passphrase-file, "
		          "--passphrase-env or --ask-passphrase)",
		          path);
		goto out;
	}
	BIO *mem = BIO_new_mem_buf(data, (int)len);
	if (mem == NULL) {
		x509_fail(err, "out of memory");
		goto out;
	}
	if (memmem(data, len, "-----BEGIN ", 11) != NULL) {
		key = PEM_read_bio_PrivateKey(mem, NULL, passphrase_cb, (void *)passphrase);
	} else if (kind == X509_KIND_KEY) {
		key = d2i_PrivateKey_bio(mem, NULL);
	} else {
		/* DER PKCS#8 encrypted. */
		X509_SIG *p8 = d2i_PKCS8_bio(mem, NULL);
		PKCS8_PRIV_KEY_INFO *info =
		    p8 ? PKCS8_decrypt(p8, passphrase, (int)strlen(passphrase)) : NULL;
		key = info ? EVP_PKCS82PKEY(info) : NULL;
		PKCS8_PRIV_KEY_INFO_free(info);
		X509_SIG_free(p8);
	}
	BIO_free(mem);
	if (key == NULL) {
		if (kind == X509_KIND_KEY_ENCRYPTED) {
			ERR_clear_error();
			x509_fail(err, "wrong passphrase for %s (or the key file is damaged)",
			          path);
		} else {
			x509_fail(err, "cannot decode the private key in %s", path);
		}
	} else if (kind == X509_KIND_KEY && passphrase != NULL) {
		/* Not an error, but worth knowing: the passphrase was not used. */
		ERR_clear_error();
	}
out:
	OPENSSL_cleanse(data, len);
	free(data);
	return key;
}

void x509_key_describe(const EVP_PKEY *key, char *out, size_t out_len)
{
	int id = EVP_PKEY_get_base_id(key);
	int bits = EVP_PKEY_get_bits(key);
	if (id == EVP_PKEY_EC) {
		char group[64] = "";
		size_t glen = 0;
		if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                    sizeof(group), &glen))
			snprintf(group, sizeof(group), "unknown curve");
		const char *display = group;
		if (strcmp(group, "prime256v1") == 0)
			display = "P-256";
		else if (strcmp(group, "secp384r1") == 0)
			display = "P-384";
		else if (strcmp(group, "secp521r1") == 0)
			display = "P-521";
		snprintf(out, out_len, "ECDSA %s (%d bits)", display, bits);
	} else if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
		snprintf(out, out_len, "RSA %d bits", bits);
	} else if (id == EVP_PKEY_ED25519) {
		snprintf(out, out_len, "Ed25519 (%d bits)", bits);
	} else if (id == EVP_PKEY_ED448) {
		snprintf(out, out_len, "Ed448 (%d bits)", bits);
	} else {
		const char *name = EVP_PKEY_get0_type_name(key);
		snprintf(out, out_len, "%s %d bits", name ? name : "unknown", bits);
	}
	ERR_clear_error();
}

const EVP_MD *x509_sign_digest(const EVP_PKEY *key)
{
	int id = EVP_PKEY_get_base_id(key);
	if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448)
		return NULL;
	if (id == EVP_PKEY_EC && EVP_PKEY_get_bits(key) >= 384)
		return EVP_sha384();
	return EVP_sha256();
}
