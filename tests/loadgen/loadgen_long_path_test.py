"""Transfers over a long path: the appliance on net_memif with 15 ms of
delay each way in its own impairment layer (30 ms of round trip, a link
between data centres), driven by ftps-loadgen-dpdk.  A fixed 2 MiB budget
would cap each transfer at 2 MiB per round trip (70 MB/s here); the
engine must grow a download's send budget and an upload's receive budget
while they are what limits the transfer, and only then, and the bytes must
arrive intact (hashes checked on the appliance's disk)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import loadgen_dpdk_test  # noqa: E402

START_BUDGET = 2 << 20  # dataplane/transfer/transfer_internal.h: TRANSFER_BUDGET_START
SIZE = 32 * 1048576 + 4321


def long_path(tag, mtu):
    """The appliance on memif at mtu with 15 ms of delay each way."""
    return (tag, "--port", "memif", "--mtu", str(mtu), "--memory-mb", "512",
            "--impair-rx", "delay_us=15000", "--impair-tx", "delay_us=15000")


class LongPathTest(harness.ApplianceClassFixture, unittest.TestCase):
    APPLIANCE = long_path("lgl", 9000)
    # The same run-and-check helper as the memif load generator test.
    loadgen = loadgen_dpdk_test.LoadgenDpdkTest.loadgen

    def growths(self):
        # Once the transfers are gone: a growth in their last round trip
        # counts too.
        return self.app.transfers_settled()["budget_growths"]

    def test_budgets_grow_while_they_limit(self):
        before = self.growths()
        # The load generator's own budget (its window and its send queue)
        # is 32 MiB here, so the appliance's budget is the limit.
        report, lines = self.loadgen("--workload", "stor", "--size", str(SIZE), "--count", "1",
                                     "--prefix", "lpath", "--budget", str(32 << 20))
        self.assertEqual(report["errors_total"], 0)
        (_, name, nbytes, digest), = lines
        self.assertEqual(int(nbytes), SIZE)
        self.assertEqual(harness.sha256_file(self.root / name), digest)
        after_upload = self.growths()
        self.assertGreater(after_upload, before, "the upload's receive budget never grew")
        report, lines = self.loadgen("--workload", "retr", "--file", name, "--size", str(SIZE),
                                     "--verify", digest, "--count", "1",
                                     "--budget", str(32 << 20))
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["bytes_down"], SIZE)
        self.assertGreater(self.growths(), after_upload, "the download's send budget never grew")
        transfer = self.app.transfers_settled()
        self.assertGreater(transfer["largest_budget"], START_BUDGET)
        self.assertLessEqual(transfer["largest_budget"], 32 << 20)

    def test_budgets_stay_when_the_client_limits(self):
        # A client with a 512 KiB window and send queue: the appliance's
        # 2 MiB budget never limits, so it must not grow (memory).
        before = self.growths()
        report, lines = self.loadgen("--workload", "stor", "--size", str(SIZE // 4), "--count",
                                     "1", "--prefix", "lsmall", "--budget", str(512 << 10))
        self.assertEqual(report["errors_total"], 0)
        (_, name, _, digest), = lines
        self.assertEqual(harness.sha256_file(self.root / name), digest)
        report, _ = self.loadgen("--workload", "retr", "--file", name, "--size", str(SIZE // 4),
                                 "--verify", digest, "--count", "1", "--budget", str(512 << 10))
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(self.growths(), before)


class LongPathSmallMtuTest(harness.ApplianceClassFixture, unittest.TestCase):
    """At MTU 1500 an upload's window holds one receive mbuf per 1460-byte
    segment, and the lcore's share (a quarter of its receive pool) is not
    a whole doubling past 4 MiB: the window takes what is left of it."""
    APPLIANCE = long_path("lgs", 1500)
    loadgen = loadgen_dpdk_test.LoadgenDpdkTest.loadgen

    def test_upload_window_takes_what_is_left_of_the_share(self):
        # 11 MiB of the loadgen's: a full window stays within the
        # impairment layer's delay ring (8192 frames each way).
        report, lines = self.loadgen("--workload", "stor", "--size", str(SIZE), "--count", "1",
                                     "--prefix", "lmtu", "--budget", str(11 << 20))
        self.assertEqual(report["errors_total"], 0)
        (_, name, nbytes, digest), = lines
        self.assertEqual(int(nbytes), SIZE)
        self.assertEqual(harness.sha256_file(self.root / name), digest)
        transfer = self.app.transfers_settled()
        # 2 MiB, 4 MiB, then the rest of the share: 16383 // 4 mbufs of
        # 1460 bytes beyond the first 2 MiB, 7.7 MiB (a whole doubling to
        # 8 MiB needs 4310 of them).
        self.assertGreater(transfer["largest_budget"], 4 << 20,
                           "the window stopped at a whole doubling")
        self.assertLessEqual(transfer["largest_budget"], START_BUDGET + (16383 // 4) * 1460)
        self.assertGreater(transfer["budget_refusals"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
