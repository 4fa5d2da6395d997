#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ipc/ftps_ipc.h"

void config_defaults(struct ftps_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->explicit_listen.enabled = true;
	cfg->explicit_listen.port = 21;
	snprintf(cfg->dataplane_socket, sizeof(cfg->dataplane_socket), "%s", FTPS_IPC_DEFAULT_PATH);
	cfg->pasv_min = 50000;
	cfg->pasv_max = 50999;
	cfg->allow_port = true;
	snprintf(cfg->banner, sizeof(cfg->banner), "FTPS server ready");
	cfg->min_version = TLS1_2_VERSION;
	cfg->max_version = TLS1_3_VERSION;
	snprintf(cfg->ciphers, sizeof(cfg->ciphers),
	         "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES");
	snprintf(cfg->ciphersuites, sizeof(cfg->ciphersuites),
	         "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
	cfg->session_reuse = REUSE_REQUIRED;
	cfg->session_binding = BIND_USER_ADDRESS;
	cfg->session_lifetime = 86400;
	cfg->require_tls = true;
	cfg->fast_path = true;
	cfg->allow_truncated_uploads = false;
	cfg->require_prot_p = true;
	cfg->login_delay_ms = 1000;
	cfg->max_failures = 5;
	cfg->lockout_seconds = 300;
	cfg->max_sessions = 256;
	cfg->max_per_address = 16;
	cfg->max_per_user = 16;
	cfg->idle_timeout = 300;
	cfg->login_timeout = 60;
	cfg->data_timeout = 60;
	cfg->max_line = 1024;
	cfg->log_level = 2;
}

struct parse_state {
	struct ftps_config *cfg;
	char reason[256];
};

static int fail(struct parse_state *st, const char *fmt, const char *a, const char *b)
{
	/* inih keeps parsing after an error and reports the FIRST bad line:
	 * keep the first reason too, so line and reason agree. */
	if (st->reason[0] == '\0')
		snprintf(st->reason, sizeof(st->reason), fmt, a, b);
	return 0;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	if (v[0] < '0' || v[0] > '9')
		return -1;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || *end != '\0' || n < min || n > max)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
	    !strcasecmp(v, "off")) {
		*out = false;
		return 0;
	}
	return -1;
}

/* "port", "addr:port", or "off". */
static int parse_listen(const char *v, struct listen_spec *out)
{
	char host[64];
	const char *colon = strrchr(v, ':');
	uint32_t port;

	if (!strcasecmp(v, "off") || !strcasecmp(v, "no")) {
		out->enabled = false;
		return 0;
	}
	out->addr.s_addr = htonl(INADDR_ANY);
	if (colon != NULL) {
		size_t n = (size_t)(colon - v);
		if (n == 0 || n >= sizeof(host))
			return -1;
		memcpy(host, v, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, &out->addr) != 1)
			return -1;
		v = colon + 1;
	}
	if (parse_u32(v, 1, 65535, &port) != 0)
		return -1;
	out->port = (uint16_t)port;
	out->enabled = true;
	return 0;
}

static int set_path(struct parse_state *st, char *dst, size_t cap, const char *name, const char *v,
                    bool must_read)
{
	if (strlen(v) >= cap)
		return fail(st, "%s: path too long%s", name, "");
	if (v[0] != '\0' && must_read && access(v, R_OK) != 0)
		return fail(st, "%s: cannot read %s", name, v);
	snprintf(dst, cap, "%s", v);
	return 1;
}

#define KEY(s, n) (!strcmp(section, s) && !strcmp(name, n))

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	struct ftps_config *c = st->cfg;
	uint32_t u;

	if (name == NULL)
		return 1; /* section header alone */
	if (KEY("server", "listen")) {
		if (parse_listen(value, &c->explicit_listen) != 0)
			return fail(st, "listen: expected [address:]port or off, got '%s'%s", value,
			            "");
	} else if (KEY("server", "implicit_listen")) {
		if (parse_listen(value, &c->implicit_listen) != 0)
			return fail(st,
			            "implicit_listen: expected [address:]port or off, got '%s'%s",
			            value, "");
	} else if (KEY("server", "dataplane_socket")) {
		if (value[0] != '/' || strlen(value) >= 100)
			return fail(st,
			            "dataplane_socket: need an absolute path under 100 bytes%s%s",
			            "", "");
		return set_path(st, c->dataplane_socket, sizeof(c->dataplane_socket), name, value,
		                false);
	} else if (KEY("server", "run_as")) {
		if (strlen(value) >= sizeof(c->run_as))
			return fail(st, "run_as: name too long%s%s", "", "");
		snprintf(c->run_as, sizeof(c->run_as), "%s", value);
	} else if (KEY("server", "realtime_priority")) {
		if (parse_u32(value, 0, 99, &c->realtime_priority))
			return fail(st, "%s: expected 0 (normal scheduling) to 99, got '%s'", name,
			            value);
	} else if (KEY("server", "pasv_ports")) {
		unsigned a, b;
		char tail;
		if (sscanf(value, "%u-%u%c", &a, &b, &tail) != 2 || a < 1024 || b > 65535 || a > b)
			return fail(st,
			            "pasv_ports: expected LOW-HIGH within 1024-65535, got '%s'%s",
			            value, "");
		c->pasv_min = (uint16_t)a;
		c->pasv_max = (uint16_t)b;
	} else if (KEY("server", "pasv_address")) {
		if (inet_pton(AF_INET, value, &c->pasv_address) != 1)
			return fail(st, "pasv_address: not an IPv4 address: '%s'%s", value, "");
		c->pasv_address_set = true;
	} else if (KEY("server", "allow_port")) {
		if (parse_bool(value, &c->allow_port))
			return fail(st, "%s: expected yes or no, got '%s'", name, value);
	} else if (KEY("server", "allow_foreign_port")) {
		if (parse_bool(value, &c->allow_foreign_port))
			return fail(st, "%s: expected yes or no, got '%s'", name, value);
	} else if (KEY("server", "banner")) {
		if (strlen(value) >= sizeof(c->banner) || strpbrk(value, "\r\n"))
			return fail(st, "banner: too long or contains a line break%s%s", "", "");
		snprintf(c->banner, sizeof(c->banner), "%s", value);
	} else if (KEY("tls", "certificate")) {
		return set_path(st, c->certificate, sizeof(c->certificate), name, value, true);
	} else if (KEY("tls", "key")) {
		return set_path(st, c->key, sizeof(c->key), name, value, true);
	} else if (KEY("tls", "chain")) {
		return set_path(st, c->chain, sizeof(c->chain), name, value, true);
	} else if (KEY("tls", "client_ca")) {
		return set_path(st, c->client_ca, sizeof(c->client_ca), name, value, true);
	} else if (KEY("tls", "client_crl")) {
		return set_path(st, c->client_crl, sizeof(c->client_crl), name, value, true);
	} else if (KEY("tls", "min_version") || KEY("tls", "max_version")) {
		int v;
		if (!strcmp(value, "1.2"))
			v = TLS1_2_VERSION;
		else if (!strcmp(value, "1.3"))
			v = TLS1_3_VERSION;
		else
			return fail(st, "%s: expected 1.2 or 1.3, got '%s'", name, value);
		if (name[1] == 'i')
			c->min_version = v;
		else
			c->max_version = v;
	} else if (KEY("tls", "ciphers")) {
		if (strlen(value) >= sizeof(c->ciphers))
			return fail(st, "ciphers: too long%s%s", "", "");
		snprintf(c->ciphers, sizeof(c->ciphers), "%s", value);
	} else if (KEY("tls", "ciphersuites")) {
		if (strlen(value) >= sizeof(c->ciphersuites))
			return fail(st, "ciphersuites: too long%s%s", "", "");
		snprintf(c->ciphersuites, sizeof(c->ciphersuites), "%s", value);
	} else if (KEY("tls", "session_reuse")) {
		if (!strcmp(value, "off"))
			c->session_reuse = REUSE_OFF;
		else if (!strcmp(value, "allowed"))
			c->session_reuse = REUSE_ALLOWED;
		else if (!strcmp(value, "required"))
			c->session_reuse = REUSE_REQUIRED;
		else
			return fail(st,
			            "session_reuse: expected off, allowed or required, got '%s'%s",
			            value, "");
	} else if (KEY("tls", "session_binding")) {
		if (!strcmp(value, "user"))
			c->session_binding = BIND_USER_ADDRESS;
		else if (!strcmp(value, "connection"))
			c->session_binding = BIND_CONNECTION;
		else
			return fail(st, "session_binding: expected user or connection, got '%s'%s",
			            value, "");
	} else if (KEY("tls", "session_lifetime")) {
		if (parse_u32(value, 60, 7 * 86400, &c->session_lifetime))
			return fail(st, "%s: expected seconds 60..604800, got '%s'", name, value);
	} else if (KEY("transfer", "fast_path")) {
		if (parse_bool(value, &c->fast_path))
			return fail(st, "%s: expected yes or no, got '%s'", name, value);
	} else if (KEY("transfer", "allow_truncated_uploads")) {
		if (parse_bool(value, &c->allow_truncated_uploads))
			return fail(st, "%s: expected yes or no, got '%s'", name, value);
	} else if (KEY("tls", "require_tls")) {
		if (parse_bool(value, &c->require_tls))
			return fail(st, "%s: expected yes or no, got '%s'", name, value);
	} else if (KEY("tls", "require_prot_p")) {
		if (parse_bool(value, &c->require_prot_p))
			return fail(st, "%s: expected yes or no, got '%s'", name, value);
	} else if (KEY("tls", "allow_ccc")) {
		if (parse_bool(value, &c->allow_ccc))
			return fail(st, "%s: expected yes or no, got '%s'", name, value);
		if (c->allow_ccc)
			return fail(st, "%s: CCC is not supported by this server%s", name, "");
	} else if (KEY("auth", "users_file")) {
		return set_path(st, c->users_file, sizeof(c->users_file), name, value, true);
	} else if (KEY("auth", "anonymous")) {
		if (parse_bool(value, &c->anonymous))
			return fail(st, "%s: expected yes or no, got '%s'", name, value);
	} else if (KEY("auth", "anonymous_root")) {
		return set_path(st, c->anonymous_root, sizeof(c->anonymous_root), name, value,
		                true);
	} else if (KEY("auth", "login_delay_ms")) {
		if (parse_u32(value, 0, 60000, &c->login_delay_ms))
			return fail(st, "%s: expected 0..60000, got '%s'", name, value);
	} else if (KEY("auth", "max_failures")) {
		if (parse_u32(value, 1, 1000, &c->max_failures))
			return fail(st, "%s: expected 1..1000, got '%s'", name, value);
	} else if (KEY("auth", "lockout_seconds")) {
		if (parse_u32(value, 0, 86400, &c->lockout_seconds))
			return fail(st, "%s: expected 0..86400, got '%s'", name, value);
	} else if (!strcmp(section, "limits")) {
		static const struct {
			const char *name;
			size_t off;
			uint32_t min, max;
		} lim[] = {
		    {"max_sessions", offsetof(struct ftps_config, max_sessions), 1, 100000},
		    {"max_per_address", offsetof(struct ftps_config, max_per_address), 1, 100000},
		    {"max_per_user", offsetof(struct ftps_config, max_per_user), 1, 100000},
		    {"idle_timeout", offsetof(struct ftps_config, idle_timeout), 1, 86400},
		    {"login_timeout", offsetof(struct ftps_config, login_timeout), 1, 3600},
		    {"data_timeout", offsetof(struct ftps_config, data_timeout), 1, 3600},
		    {"max_line", offsetof(struct ftps_config, max_line), 64, 8192},
		};
		for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
			if (strcmp(name, lim[i].name))
				continue;
			if (parse_u32(value, lim[i].min, lim[i].max, &u))
				return fail(st, "%s: number out of range: '%s'", name, value);
			memcpy((char *)c + lim[i].off, &u, sizeof(u));
			return 1;
		}
		return fail(st, "unknown key '%s' in [%s]", name, section);
	} else if (KEY("log", "session_log")) {
		return set_path(st, c->session_log, sizeof(c->session_log), name, value, false);
	} else if (KEY("log", "xferlog")) {
		return set_path(st, c->xferlog, sizeof(c->xferlog), name, value, false);
	} else if (KEY("log", "level")) {
		if (parse_u32(value, 0, 3, &u))
			return fail(st, "%s: expected 0..3, got '%s'", name, value);
		c->log_level = (int)u;
	} else {
		return fail(st, "unknown key '%s' in [%s]", name, section);
	}
	return 1;
}

int config_load(const char *path, struct ftps_config *cfg, char *err, size_t errlen)
{
	struct parse_state st = {.cfg = cfg};

	config_defaults(cfg);
	int rc = ini_parse(path, handler, &st);
	if (rc < 0) {
		snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: %s", path, rc,
		         st.reason[0] ? st.reason : "syntax error");
		return -1;
	}
	/* Whole-file rules; these have no single line. */
	const char *why = NULL;
	if (cfg->certificate[0] == '\0' || cfg->key[0] == '\0')
		why = "[tls] certificate and key are required";
	else if (cfg->users_file[0] == '\0' && !cfg->anonymous)
		why = "[auth] users_file is required unless anonymous = yes";
	else if (cfg->anonymous && cfg->anonymous_root[0] == '\0')
		why = "[auth] anonymous = yes needs anonymous_root";
	else if (!cfg->explicit_listen.enabled && !cfg->implicit_listen.enabled)
		why = "[server] neither listen nor implicit_listen is enabled";
	else if (cfg->min_version > cfg->max_version)
		why = "[tls] min_version is above max_version";
	else if (cfg->client_crl[0] != '\0' && cfg->client_ca[0] == '\0')
		why = "[tls] client_crl needs client_ca (the CA whose revocations it lists)";
	if (why) {
		snprintf(err, errlen, "%s:0: %s", path, why);
		return -1;
	}
	return 0;
}
