/* Dataplane configuration: a good file loads, a bad one is refused with the
 * file, the line and the reason, and command-line values override. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "check.h"
#include "config.h"
#include "eal_args.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

int main(void)
{
	char path[] = "/tmp/ftps-dataplane-config-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	struct dataplane_config c;
	char error[512];

	dataplane_config_defaults(&c);
	write_file(path,
	           "; comment\n[net]\naddress = 198.18.0.1/24\ngateway = 198.18.0.254\n"
	           "mtu = 9000\n[port]\nname = net_tap0\n[impair]\nrx = loss=0.1\nseed = 5\n");
	CHECK_EQ(dataplane_config_load(&c, path, error, sizeof(error)), 0);
	CHECK_EQ(dataplane_config_finish(&c, error, sizeof(error)), 0);
	CHECK_EQ(c.ip.address, inet_addr("198.18.0.1"));
	CHECK_EQ(c.ip.netmask, inet_addr("255.255.255.0"));
	CHECK_EQ(c.ip.mtu, 9000);
	CHECK(strcmp(c.port_name, "net_tap0") == 0);
	CHECK_EQ(c.impair_rx.seed, 5);
	CHECK(c.impair_rx.loss > 0.09 && c.impair_rx.loss < 0.11);

	CHECK_EQ(dataplane_config_set(&c, "net", "address", "198.19.1.1/16", error, sizeof(error)),
	         0);
	CHECK_EQ(c.ip.netmask, inet_addr("255.255.0.0"));
	CHECK(!c.port_tap_through_pmd); /* our own tap writes by default */
	CHECK_EQ(dataplane_config_set(&c, "port", "tap_writes", "no", error, sizeof(error)), 0);
	CHECK(c.port_tap_through_pmd);
	CHECK(!c.tcp_unpaced);
	CHECK_EQ(dataplane_config_set(&c, "tcp", "pacing", "no", error, sizeof(error)), 0);
	CHECK(c.tcp_unpaced);
	CHECK_EQ(dataplane_config_set(&c, "tcp", "pacing", "off", error, sizeof(error)), -1);
	CHECK(strstr(error, "[tcp] pacing = 'off': expected yes or no") != NULL);
	CHECK(!c.transfer_unmapped_reads);
	CHECK_EQ(dataplane_config_set(&c, "transfer", "mapped_reads", "no", error, sizeof(error)),
	         0);
	CHECK(c.transfer_unmapped_reads);
	CHECK_EQ(dataplane_config_set(&c, "transfer", "mapped_reads", "yes", error, sizeof(error)),
	         0);
	CHECK(!c.transfer_unmapped_reads);
	CHECK_EQ(c.transfer_max_budget_mb, 32u); /* budgets grow up to 32 MiB by default */
	CHECK_EQ(dataplane_config_set(&c, "transfer", "max_budget_mb", "2", error, sizeof(error)),
	         0);
	CHECK_EQ(c.transfer_max_budget_mb, 2u);

	struct {
		const char *text;
		const char *expect;
	} bad[] = {
	    {"[net]\naddress = 198.18.0.300\n", ":2: [net] address"},
	    {"[net]\naddress = 198.18.0.1/24\n\nmtu = 100000\n", ":4: [net] mtu"},
	    {"[net]\ncolour = blue\n", ":2: unknown key 'colour' in section [net]"},
	    {"[net\naddress = 1.2.3.4\n", ":1:"},
	    {"[dataplane]\nidle_sleep_us = -1\n", ":2: [dataplane] idle_sleep_us"},
	    {"[port]\ntap_writes = maybe\n", ":2: [port] tap_writes"},
	    {"[transfer]\nmapped_reads = 1\n", ":2: [transfer] mapped_reads"},
	    {"[transfer]\nmax_budget_mb = 64\n", ":2: [transfer] max_budget_mb"},
	    {"[transfer]\nmax_budget_mb = 1\n", ":2: [transfer] max_budget_mb"},
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dataplane_config_defaults(&c);
		write_file(path, bad[i].text);
		int rc = dataplane_config_load(&c, path, error, sizeof(error));
		CHECK_EQ(rc, -1);
		CHECK(strstr(error, path) == error);
		if (strstr(error, bad[i].expect) == NULL)
			fprintf(stderr, "error '%s' lacks '%s'\n", error, bad[i].expect);
		CHECK(strstr(error, bad[i].expect) != NULL);
	}

	dataplane_config_defaults(&c);
	write_file(path, "[impair]\ntx = loss=3\n[net]\naddress=198.18.0.1\n");
	CHECK_EQ(dataplane_config_load(&c, path, error, sizeof(error)), 0);
	CHECK_EQ(dataplane_config_finish(&c, error, sizeof(error)), -1);
	CHECK(strstr(error, "[impair] tx") != NULL);

	dataplane_config_defaults(&c);
	CHECK_EQ(dataplane_config_finish(&c, error, sizeof(error)), -1);
	CHECK(strstr(error, "no address") != NULL);

	CHECK_EQ(dataplane_config_load(&c, "/nonexistent/ftps.ini", error, sizeof(error)), -1);
	CHECK(strstr(error, "cannot open") != NULL);

	/* [eal]: options from the file go in front; the command line wins. */
	write_file(path, "[eal]\nlcores = 2-3\ndevice = net_tap0,iface=x\nhugepages = no\n"
	                 "memory_mb = 512\n[net]\naddress = 198.18.0.1\n");
	char config_arg[64];
	snprintf(config_arg, sizeof(config_arg), "--config=%s", path);
	char *argv1[] = {"ftps-dataplane", "--no-pci", "--", config_arg, NULL};
	int eal_argc = 0;
	char **eal_argv = NULL;
	CHECK_EQ(eal_args_build(4, argv1, &eal_argc, &eal_argv, error, sizeof(error)), 0);
	CHECK_EQ(eal_argc, 4 + 6);
	if (eal_argc == 10) {
		CHECK(strcmp(eal_argv[1], "-l") == 0 && strcmp(eal_argv[2], "2-3") == 0);
		CHECK(strcmp(eal_argv[3], "--vdev=net_tap0,iface=x") == 0);
		CHECK(strcmp(eal_argv[4], "--no-huge") == 0);
		CHECK(strcmp(eal_argv[5], "-m") == 0 && strcmp(eal_argv[6], "512") == 0);
		CHECK(strcmp(eal_argv[7], "--no-pci") == 0 && strcmp(eal_argv[8], "--") == 0);
	}
	eal_args_free(eal_argc, eal_argv);
	char *argv2[] = {"ftps-dataplane", "-l", "0", "--", "--config", path, NULL};
	CHECK_EQ(eal_args_build(6, argv2, &eal_argc, &eal_argv, error, sizeof(error)), 0);
	int lcore_options = 0;
	for (int i = 0; i < eal_argc; i++)
		lcore_options += strcmp(eal_argv[i], "-l") == 0;
	CHECK_EQ(lcore_options, 1); /* the command line's */
	eal_args_free(eal_argc, eal_argv);
	write_file(path, "[eal]\nmemory_mb = 12\n");
	CHECK_EQ(eal_args_build(6, argv2, &eal_argc, &eal_argv, error, sizeof(error)), -1);
	CHECK(strstr(error, ":2: [eal] memory_mb") != NULL);

	unlink(path);
	return check_finish("dataplane-config");
}
