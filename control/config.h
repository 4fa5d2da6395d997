/* ftps-control configuration: an INI file parsed with inih. Every key is
 * checked where it is read; a bad file is refused with "file:line: reason".
 * See config_example.ini for every key and its default. */
#ifndef FTPS_CONTROL_CONFIG_H
#define FTPS_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#define CFG_PATH_MAX 512

enum reuse_mode { REUSE_OFF, REUSE_ALLOWED, REUSE_REQUIRED };
enum reuse_binding { BIND_USER_ADDRESS, BIND_CONNECTION };

struct listen_spec {
	bool enabled;
	struct in_addr addr; /* INADDR_ANY = every address */
	uint16_t port;
};

struct ftps_config {
	/* [server] */
	struct listen_spec explicit_listen;
	struct listen_spec implicit_listen;
	char dataplane_socket[CFG_PATH_MAX];
	char run_as[64];
	uint32_t realtime_priority; /* 0: normal scheduling; 1..99: SCHED_FIFO event loop */
	uint16_t pasv_min, pasv_max;
	bool pasv_address_set;
	struct in_addr pasv_address;
	bool allow_port;
	bool allow_foreign_port; /* FXP / bounce: off */
	char banner[128];
	/* [tls] */
	char certificate[CFG_PATH_MAX];
	char key[CFG_PATH_MAX];
	char chain[CFG_PATH_MAX];
	char client_ca[CFG_PATH_MAX];
	char client_crl[CFG_PATH_MAX]; /* "" = no revocation check */
	int min_version;               /* TLS1_2_VERSION or TLS1_3_VERSION */
	int max_version;
	char ciphers[512];
	char ciphersuites[256];
	enum reuse_mode session_reuse;
	enum reuse_binding session_binding;
	uint32_t session_lifetime;
	bool require_tls;    /* no USER before AUTH TLS */
	bool require_prot_p; /* data only after PBSZ 0 and PROT P */
	bool allow_ccc;
	/* [transfer] */
	bool fast_path;               /* file bytes on the dataplane (TAKEOVER) */
	bool allow_truncated_uploads; /* accept an upload that ends without close_notify */
	/* [auth] */
	char users_file[CFG_PATH_MAX];
	bool anonymous;
	char anonymous_root[CFG_PATH_MAX];
	uint32_t login_delay_ms;
	uint32_t max_failures;
	uint32_t lockout_seconds;
	/* [limits] */
	uint32_t max_sessions;
	uint32_t max_per_address;
	uint32_t max_per_user;
	uint32_t idle_timeout;
	uint32_t login_timeout;
	uint32_t data_timeout;
	uint32_t max_line;
	/* [log] */
	char session_log[CFG_PATH_MAX];
	char xferlog[CFG_PATH_MAX];
	int log_level;
};

void config_defaults(struct ftps_config *cfg);
/* Load path into cfg (defaults first). On error returns -1 and writes
 * "file:line: reason" into err. */
int config_load(const char *path, struct ftps_config *cfg, char *err, size_t errlen);

#endif
