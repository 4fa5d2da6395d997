"""ftps-loadgen-dpdk (the load generator on our TCP stack and record layer)
against the whole appliance on net_memif (tools/ftps-appliance up --port
memif): what it says it stored and fetched (byte counts, SHA-256 per file in
its manifest) must match the files on the appliance's disk, checked here,
and a wrong expectation must be reported as a content or size error."""

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

LOADGEN = str(harness.appliance.build_dir() / "tools" / "loadgen" / "ftps-loadgen-dpdk")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


sha256 = harness.sha256_file


class LoadgenDpdkTest(harness.ApplianceClassFixture, unittest.TestCase):
    APPLIANCE = ("lgd",
                 # Jumbo frames (the benchmark's default) through the
                 # whole appliance: relay, control plane, transfer engine.
                 "--port", "memif", "--mtu", "9000", "--memory-mb", "512",
                 "--set", "limits.max_per_address=256",
                 "--set", "limits.max_per_user=256")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.info["port"] == "memif" and cls.info["memif_client_vdev"]

    def loadgen(self, *args, expect_rc=0, password=None, port=21):
        """One run inside the appliance's namespace (the memif socket is a
        file, the port is not a kernel interface); its own EAL prefix."""
        manifest = self.tmp / f"manifest-{uuid.uuid4().hex[:8]}"
        i = self.info
        eal = ["--no-pci", "--no-huge", "-m", "512", "--log-level=error", "-l", "1",
               f"--file-prefix={self.name}-lg{uuid.uuid4().hex[:4]}",
               f"--vdev={i['memif_client_vdev']}"]
        cmd = self.app.exec_args(LOADGEN, *eal, "--",
            "--address", f"{i['client_address']}/24", "--mtu", str(i["mtu"]),
            "--mbufs", "16383",
            "--server", i["server_address"], "--user", i["user"]["name"],
            "--password", password or i["user"]["password"], "--ca-file", i["ca_file"],
            "--port", str(port),
            "--manifest", str(manifest), "--idle-timeout", "20", "--json", *args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, r.stderr)
        self.assertEqual(r.returncode, expect_rc, r.stdout[-3000:] + r.stderr[-3000:])
        report = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(report["mode"], "dpdk")
        lines = [ln.split() for ln in manifest.read_text().splitlines()]
        return report, lines

    def test_stor_counts_and_hashes_match_disk(self):
        size = 3 * 1048576 + 12345  # not a multiple of any record or block size
        report, lines = self.loadgen("--workload", "stor", "--size", str(size), "--count", "4",
                                     "--sessions", "2", "--prefix", "dst")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["files"], 4)
        self.assertEqual(report["bytes_up"], 4 * size)
        self.assertEqual(report["bytes_down"], 0)
        self.assertEqual(report["resumed"], 4)
        self.assertGreater(report["cycles_per_byte"], 0)
        self.assertEqual(len(lines), 4)
        for op, name, nbytes, digest in lines:
            self.assertEqual(op, "stor")
            self.assertEqual(int(nbytes), size)
            path = self.root / name
            self.assertEqual(path.stat().st_size, size, name)
            self.assertEqual(sha256(path), digest, name)
        self.assertEqual(len({d for *_, d in lines}), 4, "every file has its own content")
        # An empty upload is a file of 0 bytes, not an error.
        report, lines = self.loadgen("--workload", "stor", "--size", "0", "--count", "1",
                                     "--prefix", "dempty")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual((self.root / lines[0][1]).stat().st_size, 0)

    def test_retr_of_a_file_on_disk(self):
        data = os.urandom(5 * 1048576 + 777)
        path = self.root / "dgiven.bin"
        path.write_bytes(data)
        shutil.chown(path, self.root.owner(), self.root.group())
        digest = hashlib.sha256(data).hexdigest()
        report, lines = self.loadgen("--workload", "retr", "--file", "dgiven.bin",
                                     "--size", str(len(data)), "--verify", digest,
                                     "--count", "3", "--sessions", "2")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["bytes_down"], 3 * len(data))
        self.assertEqual(report["files"], 3)
        self.assertEqual(report["resumed"], 3)
        self.assertEqual(report["latency_us"]["first_byte"]["n"], 3)
        self.assertEqual([ln[3] for ln in lines], [digest] * 3)
        self.assertEqual([int(ln[2]) for ln in lines], [len(data)] * 3)
        # A wrong expectation is a content error on every transfer, not a pass.
        wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
        report, _ = self.loadgen("--workload", "retr", "--file", "dgiven.bin",
                                 "--verify", wrong, "--count", "2", "--sessions", "2",
                                 expect_rc=1)
        self.assertEqual(report["errors"]["content"], 2)
        self.assertEqual(report["files"], 0)
        # A wrong size is a size error.
        report, _ = self.loadgen("--workload", "retr", "--file", "dgiven.bin",
                                 "--size", str(len(data) - 1), "--count", "1", expect_rc=1)
        self.assertEqual(report["errors"]["size"], 1)

    def test_small_files_and_listing(self):
        report, lines = self.loadgen("--workload", "small", "--count", "24", "--sessions", "4",
                                     "--prefix", "dsm")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["files"], 48)  # each STOR is read back by a RETR
        # No transfer starts before the last of the four logins has ended
        # (each costs the server a password hash).
        self.assertGreater(report["logins_end_s"], 0)
        self.assertGreaterEqual(report["first_transfer_s"], report["logins_end_s"])
        self.assertEqual(report["bytes_up"], 24 * 4096)
        self.assertEqual(report["bytes_down"], 24 * 4096)
        self.assertEqual(report["resumed"], 48)
        self.assertEqual((report["data_tls13"], report["data_tls12"]), (48, 0))
        stored = {name: digest for op, name, _, digest in lines if op == "stor"}
        fetched = [(name, digest) for op, name, _, digest in lines if op == "retr"]
        self.assertEqual(len(fetched), 24)
        for name, digest in fetched:
            self.assertEqual(digest, stored[name])
        for name, digest in stored.items():
            self.assertEqual(sha256(self.root / name), digest)
        report, lines = self.loadgen("--workload", "list", "--count", "3", "--sessions", "2")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["transfers"], 3)
        self.assertTrue(all(int(n) > 0 for _, _, n, _ in lines))

    def test_small_files_over_tls12(self):
        # --tls 1.2: every data connection resumes a TLS 1.2 session (the
        # benchmark's second small-file figure); content still byte-exact.
        report, lines = self.loadgen("--workload", "small", "--count", "16", "--sessions", "2",
                                     "--prefix", "d12", "--tls", "1.2")
        self.assertEqual(report["errors_total"], 0)
        self.assertEqual(report["files"], 32)
        self.assertEqual(report["resumed"], 32)
        self.assertEqual((report["data_tls13"], report["data_tls12"]), (0, 32))
        stored = [(name, digest) for op, name, _, digest in lines if op == "stor"]
        self.assertEqual(len(stored), 16)
        for name, digest in stored:  # names repeat: the content is a function of the name
            self.assertEqual(sha256(self.root / name), digest)
        self.assertEqual(sorted(d for op, _, _, d in lines if op == "retr"),
                         sorted(d for _, d in stored))

    def test_failures_are_counted_by_kind(self):
        report, lines = self.loadgen("--workload", "list", "--count", "2", "--sessions", "2",
                                     password="wrong-password", expect_rc=1)
        self.assertEqual(report["errors"]["reply"], 2)  # 530 to PASS, once per session
        self.assertEqual(report["transfers"], 0)
        self.assertEqual(lines, [])
        # Nothing listens on port 2: the stack's SYN is answered by RST.
        report, _ = self.loadgen("--workload", "list", "--count", "1", "--sessions", "2",
                                 port=2, expect_rc=1)
        self.assertEqual(report["errors"]["connect"], 2)
        self.assertEqual(report["errors_total"], 2)

    def test_bad_options(self):
        r = subprocess.run([LOADGEN, "--no-pci", "--no-huge", "-m", "64", "--log-level=error",
                            f"--file-prefix={self.name}-bad", "--", "--server", "198.18.0.1",
            "--workload", "bogus"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("ftps-loadgen", r.stderr)
        r = subprocess.run([LOADGEN, "--no-pci", "--no-huge", "-m", "64", "--log-level=error",
                            f"--file-prefix={self.name}-bad", "--", "--server", "198.18.0.1",
                            "--workload", "small", "--tls", "1.1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--tls takes 1.2 or 1.3", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
