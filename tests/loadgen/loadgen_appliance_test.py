"""ftps-loadgen against the whole appliance (tools/ftps-appliance up): what
the load generator says it stored and fetched (byte counts, SHA-256 per
file in its manifest) must match the files on the appliance's disk, and a
wrong expected hash must be reported as a content error on every transfer."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
import harness  # noqa: E402

LOADGEN = str(harness.appliance.build_dir() / "tools" / "loadgen" / "ftps-loadgen")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


sha256 = harness.sha256_file


class LoadgenApplianceTest(harness.ApplianceClassFixture, unittest.TestCase):
    APPLIANCE = ("lg", "--set", "limits.max_per_address=256",
                 "--set", "limits.max_per_user=256")

    def loadgen(self, *args, expect_rc=0, password=None, port=21):
        manifest = self.tmp / f"manifest-{uuid.uuid4().hex[:8]}"
        i = self.info
        cmd = self.app.exec_args(LOADGEN,
            "--server", i["server_address"], "--port", str(port), "--user", i["user"]["name"],
            "--password", password or i["user"]["password"], "--ca-file", i["ca_file"],
            "--manifest", str(manifest), "--idle-timeout", "20", "--json", *args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, r.stderr)
        self.assertEqual(r.returncode, expect_rc, r.stdout + r.stderr)
        report = json.loads(r.stdout.strip().splitlines()[-1])
        lines = [ln.split() for ln in manifest.read_text().splitlines()]
        return report, lines

    def test_stor_counts_and_hashes_match_disk(self):
        size = 3 * 1048576 + 12345  # not a multiple of any record or block size
        report, lines = self.loadgen("--workload", "stor", "--size", str(size), "--count", "6",
                                     "--sessions", "3", "--prefix", "st")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["files"], 6)
        self.assertEqual(report["bytes_up"], 6 * size)
        self.assertEqual(report["bytes_down"], 0)
        self.assertEqual(report["resumed"], 6)
        self.assertEqual(len(lines), 6)
        for op, name, nbytes, digest in lines:
            self.assertEqual(op, "stor")
            self.assertEqual(int(nbytes), size)
            path = self.root / name
            self.assertEqual(path.stat().st_size, size, name)
            self.assertEqual(sha256(path), digest, name)
        self.assertEqual(len({d for *_, d in lines}), 6, "every file has its own content")
        # --bytes: one session stops once the finished transfers reach it.
        report, lines = self.loadgen("--workload", "stor", "--size", "100000",
                                     "--bytes", "250000", "--prefix", "by")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["bytes_up"], 300000)
        self.assertEqual(len(lines), 3)

    def test_retr_of_a_file_on_disk(self):
        data = os.urandom(2 * 1048576 + 777)
        path = self.root / "given.bin"
        path.write_bytes(data)
        shutil.chown(path, self.root.owner(), self.root.group())
        digest = hashlib.sha256(data).hexdigest()
        report, lines = self.loadgen("--workload", "retr", "--file", "given.bin",
                                     "--size", str(len(data)), "--verify", digest,
                                     "--count", "4", "--sessions", "2")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["bytes_down"], 4 * len(data))
        self.assertEqual(report["files"], 4)
        self.assertEqual(report["latency_us"]["first_byte"]["n"], 4)
        self.assertEqual([ln[3] for ln in lines], [digest] * 4)
        self.assertEqual([int(ln[2]) for ln in lines], [len(data)] * 4)
        # A wrong expectation is a content error on every transfer, not a pass.
        wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
        report, _ = self.loadgen("--workload", "retr", "--file", "given.bin",
                                 "--verify", wrong, "--count", "2", "--sessions", "2",
                                 expect_rc=1)
        self.assertEqual(report["errors"]["content"], 2)
        self.assertEqual(report["files"], 0)
        # A wrong size is a size error.
        report, _ = self.loadgen("--workload", "retr", "--file", "given.bin",
                                 "--size", str(len(data) + 1), "--count", "1", expect_rc=1)
        self.assertEqual(report["errors"]["size"], 1)

    def test_small_file_storm_and_listing(self):
        report, lines = self.loadgen("--workload", "small", "--count", "24", "--sessions", "4",
                                     "--prefix", "sm")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["files"], 48)  # each STOR is read back by a RETR
        # No transfer starts before the last of the four logins has ended
        # (each costs the server a password hash).
        self.assertGreater(report["logins_end_s"], 0)
        self.assertGreaterEqual(report["first_transfer_s"], report["logins_end_s"])
        self.assertEqual(report["bytes_up"], 24 * 4096)
        self.assertEqual(report["bytes_down"], 24 * 4096)
        self.assertGreater(report["files_s"], 0)
        self.assertEqual((report["data_tls13"], report["data_tls12"]), (48, 0))
        stored = {name: digest for op, name, _, digest in lines if op == "stor"}
        fetched = [(name, digest) for op, name, _, digest in lines if op == "retr"]
        self.assertEqual(len(fetched), 24)
        for name, digest in fetched:
            self.assertEqual(digest, stored[name])
        for name, digest in stored.items():
            self.assertEqual(sha256(self.root / name), digest)
        # The same storm over TLS 1.2 (resumed by session ID or ticket).
        report, lines12 = self.loadgen("--workload", "small", "--count", "8", "--sessions", "2",
                                       "--prefix", "sm12", "--tls", "1.2")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual((report["data_tls13"], report["data_tls12"]), (0, 16))
        self.assertEqual(report["resumed"], 16)
        for op, name, _, digest in lines12:
            if op == "stor":
                self.assertEqual(sha256(self.root / name), digest)
        report, lines = self.loadgen("--workload", "list", "--count", "5", "--sessions", "2")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["transfers"], 5)
        # Every listing names the files stored above.
        self.assertTrue(all(int(n) > 0 for _, _, n, _ in lines))

    def test_failures_are_counted_by_kind(self):
        report, lines = self.loadgen("--workload", "list", "--count", "3", "--sessions", "3",
                                     password="wrong-password", expect_rc=1)
        self.assertEqual(report["errors"]["reply"], 3)  # 530 to PASS, once per session
        self.assertEqual(report["transfers"], 0)
        self.assertEqual(lines, [])
        report, _ = self.loadgen("--workload", "list", "--count", "1", "--sessions", "2",
                                 port=2, expect_rc=1)
        self.assertEqual(report["errors"]["connect"], 2)  # nothing listens on port 2
        r = subprocess.run([LOADGEN, "--server", "198.18.0.1", "--workload", "bogus"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("ftps-loadgen", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
