/* EAL arguments from the configuration file's [eal] section, so a deployment
 * can keep its lcores, devices and memory in one file.  Options given on the
 * command line win over the same option from the file. */
#ifndef FTPS_EAL_ARGS_H
#define FTPS_EAL_ARGS_H

#include <stddef.h>

/* Builds the argument vector for rte_eal_init: argv[0], the [eal] options of
 * the file named by "--config FILE" after "--" (if any), then argv[1..].
 * *out_argv is allocated (free with eal_args_free).  Returns 0, or -1 with
 * "file:line: reason" in error. */
int eal_args_build(int argc, char **argv, int *out_argc, char ***out_argv, char *error,
                   size_t error_len);
void eal_args_free(int argc, char **argv);

#endif
