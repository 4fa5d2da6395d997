/* Dataplane configuration: an INI file (inih) with command-line overrides. */
#ifndef FTPS_DATAPLANE_CONFIG_H
#define FTPS_DATAPLANE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "net/impair.h"
#include "net/net_lcore.h"

struct dataplane_config {
	struct net_address_config ip;
	uint8_t prefix_length;
	char port_name[64];
	uint16_t rx_descriptors;
	uint16_t tx_descriptors;
	unsigned int mbufs_per_worker;
	unsigned int idle_sleep_us;
	char control_socket[108];
	char pid_file[256];
	struct impair_config impair_rx;
	struct impair_config impair_tx;
	uint64_t impair_seed;
	char impair_rx_spec[256];
	char impair_tx_spec[256];
	unsigned int tcp_rto_min_ms;
	bool tcp_newreno; /* congestion control: CUBIC unless set */
	bool tcp_unpaced; /* new data in bursts, not paced ([tcp] pacing = no) */
	/* No L4 checksums on a shared-memory link between local processes
	 * (net_memif only; port_open refuses it elsewhere). */
	bool port_trusted_link;
	/* 0: the link's default (port_config.receive_mtu). */
	uint16_t receive_mtu;
	/* net_tap: send through the PMD (at most 1500-byte frames) instead of
	 * our own writes to the tap ([port] tap_writes = no). */
	bool port_tap_through_pmd;
	/* Downloads of tmpfs/ramfs files read into buffers instead of sealed
	 * from a mapping of the page cache ([transfer] mapped_reads = no). */
	bool transfer_unmapped_reads;
	/* The most a transfer's send or receive budget may grow to with the
	 * path's bandwidth-delay product, MiB ([transfer] max_budget_mb, 2-32;
	 * 2 keeps every transfer at its start). */
	unsigned int transfer_max_budget_mb;
};

void dataplane_config_defaults(struct dataplane_config *config);

/* Reads an INI file over the current values.  Returns 0, or -1 with
 * "file:line: reason" in error. */
int dataplane_config_load(struct dataplane_config *config, const char *path, char *error,
                          size_t error_len);

/* Sets one key as if it were in section [section] of the file; the command
 * line uses this, so both paths validate the same way. */
int dataplane_config_set(struct dataplane_config *config, const char *section, const char *key,
                         const char *value, char *error, size_t error_len);

/* Checks cross-field rules and parses the impairment specs. */
int dataplane_config_finish(struct dataplane_config *config, char *error, size_t error_len);

#endif
