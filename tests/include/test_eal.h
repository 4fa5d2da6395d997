/* EAL start-up for unit tests: no hugepages, no PCI, no telemetry, a private
 * runtime directory, so tests run in parallel and need no NIC. */
#ifndef FTPS_TEST_EAL_H
#define FTPS_TEST_EAL_H

#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

static inline int test_eal_init(const char *name)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s_%d", name, (int)getpid());
	char *argv[] = {
	    (char *)name,        "--no-huge",      "--no-pci", "--no-shconf", "-m",   "256",
	    "--log-level=error", "--no-telemetry", "-l",       "0",           prefix, NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "%s: EAL init failed: %s\n", name, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

#endif
