/* Dataplane configuration: a good file loads, a bad one is refused with the
 * file, the line and the reason, and command-line values override. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "check.h"
#include "config.h"

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

	struct {
		const char *text;
		const char *expect;
	} bad[] = {
	    {"[net]\naddress = 198.18.0.300\n", ":2: [net] address"},
	    {"[net]\naddress = 198.18.0.1/24\n\nmtu = 100000\n", ":4: [net] mtu"},
	    {"[net]\ncolour = blue\n", ":2: unknown key 'colour' in section [net]"},
	    {"[net\naddress = 1.2.3.4\n", ":1:"},
	    {"[dataplane]\nidle_sleep_us = -1\n", ":2: [dataplane] idle_sleep_us"},
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

	unlink(path);
	return check_finish("dataplane-config");
}
