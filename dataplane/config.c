#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

void dataplane_config_defaults(struct dataplane_config *config)
{
	memset(config, 0, sizeof(*config));
	config->ip.mtu = 1500;
	config->rx_descriptors = 1024;
	config->tx_descriptors = 1024;
	config->mbufs_per_worker = 16383;
	config->idle_sleep_us = 0;
	config->impair_seed = 1;
	config->transfer_max_budget_mb = 32;
	config->tcp_rto_min_ms = 200;
	snprintf(config->control_socket, sizeof(config->control_socket),
	         "/run/ftps/dataplane.sock");
}

static int config_unsigned(const char *value, unsigned long long min, unsigned long long max,
                           unsigned long long *out)
{
	char *end;
	errno = 0;
	if (value[0] == '-' || value[0] == '\0')
		return -1;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int config_address(const char *value, rte_be32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, value, &a) != 1)
		return -1;
	*out = a.s_addr;
	return 0;
}

static int config_string(char *dst, size_t dst_len, const char *value)
{
	if (strlen(value) >= dst_len)
		return -1;
	strcpy(dst, value);
	return 0;
}

static int config_cidr(struct dataplane_config *config, const char *value)
{
	char copy[64];
	if (config_string(copy, sizeof(copy), value) != 0)
		return -1;
	char *slash = strchr(copy, '/');
	unsigned long long prefix = 24;
	if (slash != NULL) {
		*slash = '\0';
		if (config_unsigned(slash + 1, 1, 30, &prefix) != 0)
			return -1;
	}
	if (config_address(copy, &config->ip.address) != 0)
		return -1;
	config->prefix_length = (uint8_t)prefix;
	config->ip.netmask = htonl((uint32_t)(0xffffffffu << (32 - prefix)));
	return 0;
}

int dataplane_config_set(struct dataplane_config *config, const char *section, const char *key,
                         const char *value, char *error, size_t error_len)
{
	unsigned long long u = 0;
	int rc = -1;
	const char *expect = "a valid value";
#define IS(s, k) (strcmp(section, s) == 0 && strcmp(key, k) == 0)
	if (strcmp(section, "eal") == 0)
		return 0; /* read before EAL starts, by eal_args.c */
	if (IS("net", "address")) {
		expect = "an IPv4 address with optional /prefix (1-30)";
		rc = config_cidr(config, value);
	} else if (IS("net", "gateway")) {
		expect = "an IPv4 address";
		rc = config_address(value, &config->ip.gateway);
	} else if (IS("net", "mtu")) {
		/* Above 9000 only net_memif and net_tap; port_open says so. */
		expect = "a number from 576 to 65000";
		rc = config_unsigned(value, 576, 65000, &u);
		config->ip.mtu = (uint16_t)u;
	} else if (IS("net", "receive_mtu")) {
		/* Above the MTU only on net_tap; port_open says so. */
		expect = "a number from 576 to 65000";
		rc = config_unsigned(value, 576, 65000, &u);
		config->receive_mtu = (uint16_t)u;
	} else if (IS("port", "name")) {
		expect = "an ethdev name of at most 63 characters";
		rc = config_string(config->port_name, sizeof(config->port_name), value);
	} else if (IS("port", "trusted_link")) {
		expect = "yes or no";
		rc = strcmp(value, "yes") == 0 || strcmp(value, "no") == 0 ? 0 : -1;
		config->port_trusted_link = strcmp(value, "yes") == 0;
	} else if (IS("port", "tap_writes")) {
		expect = "yes or no";
		rc = strcmp(value, "yes") == 0 || strcmp(value, "no") == 0 ? 0 : -1;
		config->port_tap_through_pmd = strcmp(value, "no") == 0;
	} else if (IS("transfer", "mapped_reads")) {
		expect = "yes or no";
		rc = strcmp(value, "yes") == 0 || strcmp(value, "no") == 0 ? 0 : -1;
		config->transfer_unmapped_reads = strcmp(value, "no") == 0;
	} else if (IS("transfer", "max_budget_mb")) {
		expect = "a number of MiB from 2 to 32";
		rc = config_unsigned(value, 2, 32, &u);
		config->transfer_max_budget_mb = (unsigned int)u;
	} else if (IS("port", "rx_descriptors")) {
		expect = "a number from 64 to 16384";
		rc = config_unsigned(value, 64, 16384, &u);
		config->rx_descriptors = (uint16_t)u;
	} else if (IS("port", "tx_descriptors")) {
		expect = "a number from 64 to 16384";
		rc = config_unsigned(value, 64, 16384, &u);
		config->tx_descriptors = (uint16_t)u;
	} else if (IS("dataplane", "mbufs_per_worker")) {
		expect = "a number from 1023 to 4194303";
		rc = config_unsigned(value, 1023, 4194303, &u);
		config->mbufs_per_worker = (unsigned int)u;
	} else if (IS("dataplane", "idle_sleep_us")) {
		expect = "microseconds from 0 (pure polling) to 10000";
		rc = config_unsigned(value, 0, 10000, &u);
		config->idle_sleep_us = (unsigned int)u;
	} else if (IS("dataplane", "control_socket")) {
		expect = "a socket path of at most 107 characters";
		rc = config_string(config->control_socket, sizeof(config->control_socket), value);
	} else if (IS("dataplane", "pid_file")) {
		expect = "a path of at most 255 characters";
		rc = config_string(config->pid_file, sizeof(config->pid_file), value);
	} else if (IS("impair", "rx")) {
		expect = "an impairment list such as loss=0.02,reorder=0.01,depth=3";
		rc = config_string(config->impair_rx_spec, sizeof(config->impair_rx_spec), value);
	} else if (IS("impair", "tx")) {
		expect = "an impairment list such as loss=0.02,reorder=0.01,depth=3";
		rc = config_string(config->impair_tx_spec, sizeof(config->impair_tx_spec), value);
	} else if (IS("tcp", "rto_min_ms")) {
		/* RFC 6298 2.4 asks for 1 s; Linux uses 200 ms; a data-centre
		 * path with sub-millisecond RTTs recovers far faster lower. */
		expect = "milliseconds from 1 to 1000";
		rc = config_unsigned(value, 1, 1000, &u);
		config->tcp_rto_min_ms = (unsigned int)u;
	} else if (IS("tcp", "pacing")) {
		expect = "yes or no";
		rc = strcmp(value, "yes") == 0 || strcmp(value, "no") == 0 ? 0 : -1;
		config->tcp_unpaced = strcmp(value, "no") == 0;
	} else if (IS("tcp", "congestion_control")) {
		expect = "cubic or newreno";
		rc = strcmp(value, "cubic") == 0 || strcmp(value, "newreno") == 0 ? 0 : -1;
		config->tcp_newreno = strcmp(value, "newreno") == 0;
	} else if (IS("impair", "seed")) {
		expect = "a whole number";
		rc = config_unsigned(value, 0, UINT64_MAX, &u);
		config->impair_seed = u;
	} else {
		snprintf(error, error_len, "unknown key '%s' in section [%s]", key, section);
		return -1;
	}
#undef IS
	if (rc != 0) {
		snprintf(error, error_len, "[%s] %s = '%.80s': expected %s", section, key, value,
		         expect);
		return -1;
	}
	return 0;
}

struct config_load_state {
	struct dataplane_config *config;
	const char *path;
	char *error;
	size_t error_len;
	int failed;
};

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_load_state *s = user;
	if (s->failed)
		return 0;
	char reason[256];
	if (dataplane_config_set(s->config, section, name, value, reason, sizeof(reason)) != 0) {
		s->failed = 1;
		snprintf(s->error, s->error_len, "%s", reason);
		return 0;
	}
	return 1;
}

int dataplane_config_load(struct dataplane_config *config, const char *path, char *error,
                          size_t error_len)
{
	struct config_load_state s = {config, path, error, error_len, 0};
	char reason[300] = "";
	s.error = reason;
	s.error_len = sizeof(reason);
	int line = ini_parse(path, config_ini_handler, &s);
	if (line == -1) {
		snprintf(error, error_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (line != 0) {
		snprintf(error, error_len, "%s:%d: %s", path, line,
		         reason[0] ? reason : "syntax error (expected [section] or key = value)");
		return -1;
	}
	return 0;
}

int dataplane_config_finish(struct dataplane_config *config, char *error, size_t error_len)
{
	if (config->ip.address == 0) {
		snprintf(error, error_len, "no address: set [net] address or pass --address");
		return -1;
	}
	if (config->ip.gateway != 0 && (config->ip.gateway & config->ip.netmask) !=
	                                   (config->ip.address & config->ip.netmask)) {
		snprintf(error, error_len, "gateway is not on the address's subnet");
		return -1;
	}
	config->impair_rx.seed = config->impair_seed;
	config->impair_tx.seed = config->impair_seed;
	const char *message;
	if (config->impair_rx_spec[0] &&
	    (message = impair_parse(config->impair_rx_spec, &config->impair_rx)) != NULL) {
		snprintf(error, error_len, "[impair] rx: %s", message);
		return -1;
	}
	if (config->impair_tx_spec[0] &&
	    (message = impair_parse(config->impair_tx_spec, &config->impair_tx)) != NULL) {
		snprintf(error, error_len, "[impair] tx: %s", message);
		return -1;
	}
	return 0;
}
