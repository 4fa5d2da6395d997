/* X.509 helpers on OpenSSL 3.0 shared by the key manager (tools/keys) and the
 * client (tools/client). Every function that can fail returns 0 on success or
 * -1 with a human-readable reason in *err (the OpenSSL error queue is drained
 * into that message and cleared). Nothing here prints key material. */
#ifndef FTPS_X509_H
#define FTPS_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct x509_error {
	char msg[768];
};

/* Record a failure: formats the message, then appends the first OpenSSL
 * reason (if any) and clears the OpenSSL error queue. Always returns -1. */
int x509_fail(struct x509_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- files (x509_file.c) ---- */

/* Replace path with data atomically: write a temporary file in the same
 * folder, fsync it, rename it over path, fsync the folder. A reader sees the
 * old file or the new one, never a mixture. mode applies to the new file. */
int x509_write_atomic(const char *path, const void *data, size_t len, unsigned int mode,
                      struct x509_error *err);
/* Read a whole file (at most 16 MiB) into a NUL-terminated heap buffer. */
int x509_read_file(const char *path, unsigned char **data, size_t *len, struct x509_error *err);

enum x509_kind {
	X509_KIND_UNKNOWN = 0,
	X509_KIND_CERT,          /* one or more certificates (a chain) */
	X509_KIND_CSR,           /* certificate signing request */
	X509_KIND_KEY,           /* private key, clear */
	X509_KIND_KEY_ENCRYPTED, /* private key protected by a passphrase */
	X509_KIND_PUBKEY,
	X509_KIND_CRL,
};
/* What a PEM or DER blob holds, by its first PEM label or by trial DER parse. */
enum x509_kind x509_kind_of(const unsigned char *data, size_t len);
const char *x509_kind_name(enum x509_kind kind);

/* ---- keys (x509_key.c) ---- */

/* Key types an operator names: ec-p256, ec-p384, rsa2048, rsa3072, rsa4096
 * (any multiple of 8 from 2048 to 4096 as rsaNNNN), ed25519. */
EVP_PKEY *x509_key_generate(const char *type, struct x509_error *err);
/* Write a private key as PKCS#8 PEM, AES-256-CBC + PBKDF2 when passphrase is
 * not NULL, atomically with mode 0600. Refuses to replace an existing file
 * unless overwrite is true. */
int x509_key_save(const char *path, EVP_PKEY *key, const char *passphrase, bool overwrite,
                  struct x509_error *err);
/* Load a private key (PEM or DER). Distinguishes: missing passphrase, wrong
 * passphrase, and a file that holds something other than a private key. */
EVP_PKEY *x509_key_load(const char *path, const char *passphrase, struct x509_error *err);
/* "EC P-256", "RSA 3072", "ED25519": type and size for display. */
void x509_key_describe(const EVP_PKEY *key, char *out, size_t out_len);
/* Digest for signing with this key: SHA-384 for P-384, none for Ed25519,
 * SHA-256 otherwise. */
const EVP_MD *x509_sign_digest(const EVP_PKEY *key);

/* ---- names and SANs (x509_name.c) ---- */

/* "CN=ftp.example.com,O=Example" or "/CN=ftp.example.com/O=Example";
 * a backslash escapes the separator. */
X509_NAME *x509_name_parse(const char *text, struct x509_error *err);
/* Comma-separated list: "DNS:name", "IP:198.18.0.1", "IP:2001:db8::1", or a
 * bare entry (an IP address if it parses as one, else a DNS name). Appends to
 * *names (created when NULL). */
int x509_san_parse(const char *text, GENERAL_NAMES **names, struct x509_error *err);
/* One line of text for a name: "CN=ftp.example.com, O=Example". */
void x509_name_text(const X509_NAME *name, char *out, size_t out_len);

/* ---- building (x509_build.c) ---- */

struct x509_validity {
	time_t not_before; /* 0: now */
	time_t not_after;  /* 0: not_before + days */
	int days;          /* used when not_after is 0 */
};

/* Self-signed TLS server certificate: basicConstraints CA:FALSE, keyUsage
 * digitalSignature (+keyEncipherment for RSA), extKeyUsage serverAuth,
 * subject key id, SANs, a 159-bit serial from the CSPRNG. */
X509 *x509_build_selfsigned(EVP_PKEY *key, const X509_NAME *subject, const GENERAL_NAMES *sans,
                            const struct x509_validity *validity, struct x509_error *err);
/* PKCS#10 request with subject and a SAN extension request. */
X509_REQ *x509_build_csr(EVP_PKEY *key, const X509_NAME *subject, const GENERAL_NAMES *sans,
                         struct x509_error *err);
/* Self-signed CA certificate (CA:TRUE, pathlen 0, keyCertSign + cRLSign). */
X509 *x509_build_ca(EVP_PKEY *key, const X509_NAME *subject, const struct x509_validity *v,
                    struct x509_error *err);
/* Client certificate (extKeyUsage clientAuth) for pubkey, signed by the CA.
 * sans may be NULL. */
X509 *x509_build_client_cert(X509 *ca_cert, EVP_PKEY *ca_key, EVP_PKEY *pubkey,
                             const X509_NAME *subject, const GENERAL_NAMES *sans,
                             const struct x509_validity *v, struct x509_error *err);
/* A fresh positive serial of 159 random bits. */
ASN1_INTEGER *x509_random_serial(struct x509_error *err);
/* SANs from a CSR's extension request (NULL when it has none). */
GENERAL_NAMES *x509_csr_sans(X509_REQ *req);

/* ---- loading and checking (x509_check.c) ---- */

/* Load every certificate in a PEM file (or one DER certificate). Fails with
 * a "wrong format" message when the file holds something else. */
STACK_OF(X509) * x509_certs_load(const char *path, struct x509_error *err);
X509 *x509_cert_load(const char *path, struct x509_error *err);
X509_REQ *x509_csr_load(const char *path, struct x509_error *err);
X509_CRL *x509_crl_load(const char *path, struct x509_error *err);

/* 0 when the private key is the one the certificate names. */
int x509_check_key_match(X509 *cert, EVP_PKEY *key, struct x509_error *err);
/* 0 when now is inside the certificate's validity; else "expired on ..." or
 * "not valid before ...". */
int x509_check_current(X509 *cert, struct x509_error *err);
/* Verify leaf with the untrusted chain up to one of the roots, for purpose
 * (X509_PURPOSE_SSL_SERVER etc., 0 for any). On failure the message names the
 * reason and the certificate at the failing depth. */
int x509_check_chain(X509 *leaf, STACK_OF(X509) * chain, STACK_OF(X509) * roots, int purpose,
                     struct x509_error *err);

/* ---- describing (x509_describe.c) ---- */

/* "AB:CD:..." (95 characters + NUL) of the DER certificate. */
int x509_fingerprint_sha256(const X509 *cert, char out[96]);
/* Lower-case hex without separators (64 + NUL), the form pins use. */
int x509_fingerprint_hex(const X509 *cert, char out[65]);
/* ISO 8601 UTC: "2026-11-27T11:00:00Z". */
void x509_time_text(const ASN1_TIME *t, char *out, size_t out_len);
/* Days (rounded down) from now until t; negative when t is past. */
int x509_days_until(const ASN1_TIME *t, int *days);
/* Multi-line description to f, each line prefixed by indent. */
void x509_print_cert(FILE *f, X509 *cert, const char *indent);
void x509_print_csr(FILE *f, X509_REQ *req, const char *indent);
void x509_print_key(FILE *f, EVP_PKEY *key, const char *indent);
void x509_print_pubkey(FILE *f, EVP_PKEY *key, const char *indent);
/* Public key from a PEM or DER SubjectPublicKeyInfo file. */
EVP_PKEY *x509_pubkey_load(const char *path, struct x509_error *err);
void x509_print_crl(FILE *f, X509_CRL *crl, const char *indent);
/* SANs of a certificate as "DNS:a, IP:198.18.0.1" (empty when none). */
void x509_san_text(const GENERAL_NAMES *names, char *out, size_t out_len);

/* ---- CRL (x509_crl.c) ---- */

struct x509_revocation {
	const ASN1_INTEGER *serial;
	time_t revoked_at;
	int reason; /* CRL_REASON_* from x509v3.h, CRL_REASON_NONE for none */
};
/* Version 2 CRL signed by the CA, with CRL number and authority key id. */
X509_CRL *x509_build_crl(X509 *ca_cert, EVP_PKEY *ca_key, const struct x509_revocation *revs,
                         size_t n_revs, long crl_number, int days, struct x509_error *err);
/* CRL_REASON_* from a name like "keyCompromise"; -2 when unknown. */
int x509_crl_reason_parse(const char *name);
const char *x509_crl_reason_name(int reason);

#endif
