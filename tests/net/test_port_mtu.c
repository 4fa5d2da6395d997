/* port_open on net_memif: an MTU above the 1518-byte frame the PMD reports
 * is accepted when every frame fits one memif buffer (bsize), refused with
 * a message naming bsize when it does not; the trusted link (no L4
 * checksums) is accepted on memif (refused elsewhere: test_tx_backlog); a
 * receive MTU above the MTU is refused (net_tap only: test_dataplane_net).
 * Two memif servers without peers: no root, no traffic. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "check.h"
#include "net/port.h"

int main(void)
{
	char prefix[64], big[160], small[160], sock_big[64], sock_small[64];
	int pid = (int)getpid();
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_port_mtu_%d", pid);
	snprintf(sock_big, sizeof(sock_big), "/tmp/test_port_mtu_%d_a.sock", pid);
	snprintf(sock_small, sizeof(sock_small), "/tmp/test_port_mtu_%d_b.sock", pid);
	snprintf(big, sizeof(big), "--vdev=net_memif0,role=server,id=0,socket=%s,bsize=9216",
	         sock_big);
	snprintf(small, sizeof(small), "--vdev=net_memif1,role=server,id=1,socket=%s", sock_small);
	char *argv[] = {"test_port_mtu",
	                "--no-huge",
	                "--no-pci",
	                "--no-shconf",
	                "-m",
	                "256",
	                "--log-level=error",
	                "--no-telemetry",
	                "-l",
	                "0",
	                big,
	                small,
	                prefix,
	                NULL};
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "test_port_mtu: EAL init failed\n");
		return 1;
	}
	struct rte_mempool *pool =
	    rte_pktmbuf_pool_create("port_mtu", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	CHECK(pool != NULL);
	char error[256] = "";
	struct port_info info;

	/* Default 2048-byte buffers: MTU 9000 refused, the message says why. */
	struct port_config small_cfg = {.name = "net_memif1",
	                                .queue_count = 1,
	                                .rx_descriptors = 256,
	                                .tx_descriptors = 256,
	                                .mtu = 9000};
	CHECK(port_open(&small_cfg, &pool, &info, error, sizeof(error)) != 0);
	CHECK(strstr(error, "bsize") != NULL);
	/* A receive MTU above the MTU is for net_tap only. */
	small_cfg.mtu = 1500;
	small_cfg.receive_mtu = 9000;
	CHECK(port_open(&small_cfg, &pool, &info, error, sizeof(error)) != 0);
	CHECK(strstr(error, "only for net_tap") != NULL);
	small_cfg.receive_mtu = 0;
	/* MTU 1500 fits, and a trusted link is allowed on memif. */
	small_cfg.mtu = 1500;
	small_cfg.trusted_link = true;
	int rc = port_open(&small_cfg, &pool, &info, error, sizeof(error));
	if (rc != 0)
		fprintf(stderr, "%s\n", error);
	CHECK_EQ(rc, 0);
	CHECK(info.trusted_link);
	CHECK_EQ(info.mtu, 1500);
	CHECK_EQ(info.ethdev_mtu, 1500);
	CHECK_EQ(info.receive_mtu, 1500);
	port_close(&info);

	/* 9216-byte buffers: MTU 9000 accepted; the ethdev itself stays at
	 * what the PMD reports, the larger MTU is ours. */
	struct port_config big_cfg = {.name = "net_memif0",
	                              .queue_count = 1,
	                              .rx_descriptors = 256,
	                              .tx_descriptors = 256,
	                              .mtu = 9000};
	rc = port_open(&big_cfg, &pool, &info, error, sizeof(error));
	if (rc != 0)
		fprintf(stderr, "%s\n", error);
	CHECK_EQ(rc, 0);
	CHECK_EQ(info.mtu, 9000);
	CHECK_EQ(info.ethdev_mtu, 1500);
	CHECK(!info.trusted_link);
	port_close(&info);

	rte_mempool_free(pool);
	rte_eal_cleanup();
	unlink(sock_big);
	unlink(sock_small);
	return check_finish("port-mtu");
}
