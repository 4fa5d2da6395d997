/* ftps-keys: key and certificate manager for the appliance. Each subcommand
 * lives in its own file and gets the parsed options. */
#ifndef FTPS_KEYS_H
#define FTPS_KEYS_H

#include <stdbool.h>
#include <time.h>

#include "ftps_x509.h"

/* Exit statuses (check-expiry uses its own monitoring codes, see there). */
enum keys_exit {
	KEYS_EXIT_OK = 0,
	KEYS_EXIT_FAIL = 1,  /* the operation failed; the message says why */
	KEYS_EXIT_USAGE = 2, /* bad command line */
};

struct keys_opts {
	const char *type;    /* key type for genkey / ca init / ca issue */
	const char *key;     /* private key to use */
	const char *out;     /* output file */
	const char *key_out; /* output for a generated key (ca issue) */
	const char *subject;
	char sans[1024]; /* accumulated --san values, comma-separated */
	const char *cert;
	const char *chain;
	const char *root;
	const char *csr;
	const char *dir; /* CA folder */
	const char *serial;
	const char *reason;
	const char *pass_file;
	const char *pass_env;
	bool ask_pass;
	bool force;
	int days;      /* validity; -1 when not given */
	int warn_days; /* check-expiry threshold */
	time_t not_before, not_after;
	int argc; /* remaining positional arguments */
	char **argv;
};

/* Passphrase from --passphrase-file, --passphrase-env or a terminal prompt
 * (--ask-passphrase; confirm asks twice). *pass is NULL when none was asked
 * for. Returns -1 with a message on stderr when one was asked for and could
 * not be read. Free with keys_pass_free. */
int keys_pass_get(const struct keys_opts *o, bool confirm, char **pass);
void keys_pass_free(char *pass);
/* Load the key named by --key with the passphrase options. */
EVP_PKEY *keys_load_key(const struct keys_opts *o, const char *path);
/* Validity from --days / --not-before / --not-after with a default. */
void keys_validity(const struct keys_opts *o, int default_days, struct x509_validity *v);
/* PEM output, written atomically with mode 0644. */
int keys_write_cert(const char *path, X509 *const *certs, int n);
int keys_write_csr(const char *path, X509_REQ *req);
int keys_write_crl(const char *path, X509_CRL *crl);
/* Print "ftps-keys: <message>" to stderr; returns KEYS_EXIT_FAIL. */
int keys_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int keys_cmd_genkey(struct keys_opts *o);
int keys_cmd_selfsign(struct keys_opts *o);
int keys_cmd_csr(struct keys_opts *o);
int keys_cmd_import(struct keys_opts *o);
int keys_cmd_show(struct keys_opts *o);
int keys_cmd_check_expiry(struct keys_opts *o);
int keys_cmd_ca(struct keys_opts *o);

#endif
