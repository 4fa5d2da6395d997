/* ftps-client: shared configuration, exit statuses and run state. */
#ifndef FTPS_CLIENT_H
#define FTPS_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* Exit statuses scripts can rely on (documented in --help and the README).
 * When several transfers fail, the first failure's status is returned. */
enum client_exit {
	EXIT_OK = 0,
	EXIT_USAGE = 1,        /* bad command line */
	EXIT_NETWORK = 2,      /* cannot connect, timeout, connection lost */
	EXIT_UNTRUSTED = 3,    /* TLS failed or certificate not trusted / user aborted */
	EXIT_CERT_CHANGED = 4, /* certificate differs from the stored one or the pin */
	EXIT_LOGIN = 5,        /* login refused */
	EXIT_REMOTE = 6,       /* server refused a command (no such file, permission) */
	EXIT_LOCAL = 7,        /* local file error */
	EXIT_VERIFY = 8,       /* transfer verification failed (hash or size mismatch) */
};

enum output_mode { OUTPUT_TTY, OUTPUT_PLAIN, OUTPUT_JSON };

struct client_config {
	char host[256];
	uint16_t port;
	bool implicit;
	int tls_version; /* 0 any of 1.2/1.3, else TLS1_2_VERSION or TLS1_3_VERSION */
	const char *user;
	char *password;
	const char *ca_file;
	const char *client_cert, *client_key; /* mutual TLS */
	const char *pin;                      /* lower-case hex SHA-256 of the certificate */
	char pin_hex[65];
	bool tofu;
	bool insecure;
	bool interactive; /* may prompt on the terminal */
	const char *known_path_override;
	int timeout_s;
	int parallel;
	bool resume;
	bool reverse; /* mirror upload */
	bool verbose;
	enum output_mode output;
	bool replace_trust; /* the 'trust' command: confirm and store a new certificate */
	SSL_CTX *ssl_ctx;
	/* Set by the first session after the trust decision; every later session
	 * (data connections and parallel control sessions) must present exactly
	 * this certificate. Written once before worker threads start. */
	char accepted_fp[65];
};

/* "host:port" as the known-certificates file spells it ("[v6]:port"). */
void client_host_port(const struct client_config *cfg, char *out, size_t len);

#endif
