"""The whole appliance on its embedded default (tools/ftps-appliance up):
real curl and Python ftplib through the tap, the dataplane's TCP stack and
relay, and ftps-control's TLS; files compared by SHA-256."""

import os
import sys
import shutil
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
import harness  # noqa: E402

sha256 = harness.sha256_file


class ApplianceFtpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.app = harness.ApplianceUnderTest("f")
        cls.info = cls.app.info
        cls.ns = cls.app.ns
        cls.work = Path(tempfile.mkdtemp(prefix="ftps-appliance-test-"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)
        cls.app.down()

    def curl(self, *args, timeout=120):
        user = self.info["user"]
        cmd = ["curl", "-sS", "--max-time", str(timeout - 10), "--cacert", self.info["ca_file"],
               "-u", f"{user['name']}:{user['password']}", *args]
        return self.ns.run(cmd, timeout=timeout)

    def url(self, path="", implicit=False):
        scheme, port = ("ftps", 990) if implicit else ("ftp", 21)
        return f"{scheme}://{self.info['server_address']}:{port}/{path}"

    def round_trip(self, size, implicit=False, tls="--tlsv1.2", max_tls=None):
        src = self.work / f"src-{size}-{implicit}-{tls}"
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        name = src.name
        extra = [tls] + (["--tls-max", max_tls] if max_tls else [])
        explicit = [] if implicit else ["--ssl-reqd"]
        r = self.curl(*explicit, *extra, "-T", str(src), self.url(name, implicit))
        self.assertEqual(r.returncode, 0, f"upload {size}: {r.stderr}")
        stored = Path(self.info["user"]["root"]) / name
        self.assertEqual(sha256(stored), sha256(src), "stored file differs")
        back = self.work / (name + ".back")
        r = self.curl(*explicit, *extra, "-o", str(back), self.url(name, implicit))
        self.assertEqual(r.returncode, 0, f"download {size}: {r.stderr}")
        self.assertEqual(sha256(back), sha256(src), "downloaded file differs")

    def test_explicit_tls13_sizes(self):
        for size in (0, 1, 16383, 16384, 16385, 3 * 1024 * 1024 + 7):
            with self.subTest(size=size):
                self.round_trip(size, tls="--tlsv1.3")

    def test_explicit_tls12(self):
        for size in (1, 16385, 1024 * 1024):
            with self.subTest(size=size):
                self.round_trip(size, tls="--tlsv1.2", max_tls="1.2")

    def test_implicit(self):
        for tls, max_tls in (("--tlsv1.3", None), ("--tlsv1.2", "1.2")):
            with self.subTest(tls=tls):
                self.round_trip(70000, implicit=True, tls=tls, max_tls=max_tls)

    def test_listing_and_certificate(self):
        Path(self.info["user"]["root"], "listed.txt").write_text("x")
        r = self.curl("--ssl-reqd", self.url())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("listed.txt", r.stdout)
        # Verification is real: without the appliance's certificate it fails.
        r = self.ns.run(["curl", "-sS", "--max-time", "20", "--ssl-reqd", "-u", "x:y", self.url()],
                        timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate", r.stderr.lower())

    def test_copies_kept_for_data_connections_only(self):
        # The relay keeps copies of relayed bytes for the TAKEOVER replay:
        # a session without data connections must cost none, a transfer some.
        dataplane = self.app.dataplane
        Path(self.info["user"]["root"], "sized.txt").write_text("12345")
        before = dataplane.telemetry("/ftps/relay")
        r = self.curl("--ssl-reqd", "-I", self.url("sized.txt"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Content-Length: 5", r.stdout)
        after = dataplane.telemetry("/ftps/relay")
        self.assertGreater(after["bytes_to_control"], before["bytes_to_control"])
        self.assertEqual(after["bytes_kept_for_takeover"], before["bytes_kept_for_takeover"])
        self.round_trip(1000, tls="--tlsv1.3")
        self.assertGreater(dataplane.telemetry("/ftps/relay")["bytes_kept_for_takeover"],
                           after["bytes_kept_for_takeover"])

    def test_scheduling_of_control_and_dataplane(self):
        # ftps-appliance asks for [server] realtime_priority = 1: the event
        # loop thread runs SCHED_FIFO at 1, the password-hashing thread and
        # anything else it starts stays at normal scheduling.
        pid = self.info["control_pid"]
        threads = {}
        for task in Path(f"/proc/{pid}/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            # stat fields 40 (rt_priority) and 41 (policy), counted from 1
            threads[int(task.name)] = (int(fields[37]), int(fields[38]))
        self.assertEqual(threads.pop(pid), (1, 1), "main thread: SCHED_FIFO, priority 1")
        self.assertTrue(threads, "the password-hashing thread is running")
        self.assertTrue(all(t == (0, 0) for t in threads.values()), threads)
        # The dataplane's lcore (the main thread: one worker) naps 20 us
        # when idle, with 1 us of timer slack instead of the default 50 us.
        slack = Path(f"/proc/{self.info['dataplane_pid']}/timerslack_ns").read_text()
        self.assertEqual(int(slack), 1000)

    def test_python_ftplib_with_session_reuse(self):
        r = self.app.run_ftplib("""
data = os.urandom(200000)
f.storbinary('STOR py.bin', io.BytesIO(data))
out = io.BytesIO()
f.retrbinary('RETR py.bin', out.write)
assert out.getvalue() == data, 'round trip differs'
names = f.nlst()
assert 'py.bin' in names, names
print('ok')
""")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok", r.stdout)

    def test_zz_files_moved_on_the_fast_path(self):
        # Runs last (alphabetical): every file transfer above went through
        # the dataplane's transfer engine, none failed.
        # The last transfer may still be freed after its 226: wait for that.
        t = self.app.transfers_settled()
        self.assertGreaterEqual(t["started"], 20)
        self.assertEqual(t["completed"], t["started"])
        self.assertEqual(t["failed"], 0)
        self.assertGreater(t["records_sealed"], 0)
        self.assertGreater(t["records_opened"], 0)
        self.assertGreater(t["fsyncs"], 0)
        self.assertEqual(t["active"], 0)
        self.assertEqual(t["io_buffers_free"], t["io_buffers"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
