"""The dataplane on a real (virtual) wire: ARP, ping, malformed frames,
telemetry, impairment, clean shutdown, and two dataplanes over net_memif."""

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
import harness  # noqa: E402
from harness import CLIENT, SERVER, TapNetwork  # noqa: E402

ICMP_ECHO = b"\x08\x00"

# Sends count ICMP echo requests 2 ms apart and prints the number of
# distinct replies each time it grows, "sent" after the last request, and
# goes on counting until a line (or EOF) on stdin.
PINGER = r"""
import os, select, socket, struct, sys, time
def checksum(b):
    total = sum((b[i] << 8) + (b[i + 1] if i + 1 < len(b) else 0) for i in range(0, len(b), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
dst, count, ident = sys.argv[1], int(sys.argv[2]), os.getpid() & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setblocking(False)
seen = set()
def drain():
    while True:
        try:
            pkt = s.recv(2048)
        except BlockingIOError:
            return
        ihl = (pkt[0] & 15) * 4
        kind, _, _, pid, seq = struct.unpack_from("!BBHHH", pkt, ihl)
        if kind == 0 and pid == ident and seq not in seen:
            seen.add(seq)
            print(len(seen), flush=True)
for seq in range(1, count + 1):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"p" * 56
    s.sendto(body[:2] + struct.pack("!H", checksum(body)) + body[4:], (dst, 0))
    end = time.time() + 0.002
    while time.time() < end:
        select.select([s], [], [], max(0.0, end - time.time()))
        drain()
print("sent", flush=True)
while True:
    ready = select.select([s, sys.stdin], [], [])[0]
    drain()
    if sys.stdin in ready:
        break
print(len(seen), flush=True)
"""


def echo_request(seq=1, payload=b"x" * 32):
    body = ICMP_ECHO + b"\x00\x00" + struct.pack("!HH", 0x4242, seq) + payload
    ck = harness.ipv4_checksum(body)
    return body[:2] + struct.pack("!H", ck) + body[4:]


class DataplaneNetTest(unittest.TestCase):
    def test_ping_and_arping(self):
        with TapNetwork("ping") as net:
            r = net.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", SERVER])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("3 received", r.stdout)
            r = net.run(["arping", "-c", "2", "-w", "5", "-I", net.tap, SERVER])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(net.server_mac, r.stdout.lower())
            c = net.counters()
            self.assertGreaterEqual(c["rx_icmp_echo"], 3)
            self.assertGreaterEqual(c["tx_arp_reply"], 2)
            self.assertEqual(c["tx_gratuitous_arp"], 1)
            self.assertEqual(net.close(), 0, "dataplane did not exit cleanly")

    def test_receive_mtu_above_send_mtu(self):
        # net_tap sends at most 1500-byte packets but takes larger ones: the
        # dataplane gives the tap's kernel end its receive MTU, and refuses
        # (counted) the echo requests whose replies it could not send.
        with TapNetwork("rxmtu") as net:
            self.assertIn("mtu 1500 receive-mtu 65000", net.dataplane.ready_line)
            r = net.run(["ip", "-j", "link", "show", net.tap], check=True)
            self.assertEqual(json.loads(r.stdout)[0]["mtu"], 65000)
            r = net.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1472", SERVER])
            self.assertIn("2 received", r.stdout, r.stdout + r.stderr)
            r = net.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "-M", "do", "-s", "1900", SERVER])
            self.assertNotEqual(r.returncode, 0, "a reply larger than the MTU went out")
            c = harness.wait_for(lambda: net.counters()["drop_icmp_echo_too_big"] >= 2 and net.counters(), 10)
            self.assertTrue(c, "the oversized echo requests were not counted")
            self.assertEqual(c["drop_eth_oversized"], 0)
        # Anything but net_tap keeps receive MTU = MTU (port_open refuses
        # more; tests/net/test_port_mtu.c).

    def test_tap_writes_and_the_pmd(self):
        # By default the dataplane writes its frames to the tap itself and
        # may send more than net_tap's 1500 bytes: a 1828-byte reply.
        with TapNetwork("tapw", mtu=9000) as net:
            # ... and reads them itself too (one queue), without net_tap's
            # signal per frame (tests/net/test_tap_io.c).
            self.assertIn("mtu 9000 receive-mtu 65000 tap-writes=1 tap-reads=1",
                          net.dataplane.ready_line)
            r = net.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1800", SERVER])
            self.assertIn("2 received", r.stdout, r.stdout + r.stderr)
            c = net.counters()
            self.assertEqual(c["drop_tap_write_refused"], 0)
            self.assertEqual(c["drop_tap_truncated"] + c["tap_read_errors"], 0)
        # [port] tap_writes = no: frames leave through net_tap itself, with
        # its checksum offloads, at most 1500 bytes ...
        with TapNetwork("tapp", extra=["--tap-writes", "no"]) as net:
            self.assertIn("mtu 1500 receive-mtu 65000 tap-writes=0 tap-reads=0 offloads ipv4-cksum=1 "
                          "tcp-cksum=1",
                          net.dataplane.ready_line)
            r = net.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", SERVER])
            self.assertIn("3 received", r.stdout, r.stdout + r.stderr)
        # ... so a larger MTU is refused at start, with the reason.
        ns = harness.Namespace(harness.unique_name("tapr"))
        ns.create()
        log = harness.log_dir() / f"{ns.name}-dataplane.log"
        try:
            dataplane = harness.Dataplane(ns, SERVER, tap="ftps0", log_path=log, mtu=9000,
                                          extra=["--tap-writes", "no"])
            with self.assertRaises(harness.ApplianceError):
                dataplane.start()
            self.assertIn("needs the dataplane's own tap writes", log.read_text())
        finally:
            ns.destroy()

    def test_arp_resolution_of_peer(self):
        # The dataplane resolves its gateway at start: the kernel end answers.
        with TapNetwork("arpres", extra=["--gateway", CLIENT]) as net:
            c = harness.wait_for(lambda: net.counters()["arp_resolved"] >= 1 and net.counters(), 30)
            self.assertTrue(c, "gateway was not resolved")
            self.assertGreaterEqual(c["tx_arp_request"], 1)
            self.assertGreaterEqual(c["arp_resolved"], 1)

    def test_malformed_frames_are_counted(self):
        # At the link's own MTU, so the 2000-byte frame below is oversized.
        with TapNetwork("malformed", extra=["--receive-mtu", "1500"]) as net:
            # Larger MTU on the kernel end so an oversized frame can leave it.
            net.run(["ip", "link", "set", net.tap, "mtu", "9000", "txqueuelen", "10000"],
                    check=True)
            net.run(["ping", "-c", "1", "-W", "2", SERVER])  # resolve the MAC
            ours, theirs = harness.mac_bytes(net.server_mac), b"\x02\x00\x00\x00\x00\x09"
            eth = ours + theirs + b"\x08\x00"
            good = harness.ipv4_packet(CLIENT, SERVER, 1, echo_request())
            # (A frame shorter than an Ethernet header cannot leave a kernel
            # packet socket; the unit tests cover that one.)
            frames = {
                "drop_eth_oversized": eth + harness.ipv4_packet(CLIENT, SERVER, 1, echo_request(payload=b"y" * 2000)),
                "drop_eth_unknown_type": ours + theirs + b"\x88\xb5" + b"z" * 50,
                "drop_ipv4_short": eth + good[:12],
                "drop_ipv4_bad_version": eth + bytes([0x65]) + good[1:],
                "drop_ipv4_bad_header_length": eth + harness.ipv4_packet(CLIENT, SERVER, 1, echo_request(), version_ihl=0x43),
                "drop_ipv4_bad_total_length": eth + harness.ipv4_packet(CLIENT, SERVER, 1, echo_request(), total_length=1400),
                "drop_ipv4_bad_checksum": eth + harness.ipv4_packet(CLIENT, SERVER, 1, echo_request(), checksum=0x1234),
                "drop_ipv4_fragment": eth + harness.ipv4_packet(CLIENT, SERVER, 1, echo_request(), flags_fragment=0x2000),
                "drop_ipv4_not_for_us": eth + harness.ipv4_packet(CLIENT, "198.18.0.77", 1, echo_request()),
                "drop_ipv4_bad_source": eth + harness.ipv4_packet("127.0.0.1", SERVER, 1, echo_request()),
                "drop_ipv4_unknown_protocol": eth + harness.ipv4_packet(CLIENT, SERVER, 17, b"\x00" * 16),
                "drop_icmp_bad_checksum": eth + harness.ipv4_packet(CLIENT, SERVER, 1, echo_request()[:2] + b"\xde\xad" + echo_request()[4:]),
                "drop_arp_malformed": ours + theirs + b"\x08\x06" + b"\x00\x01\x08\x00\x06",
            }
            before = net.counters()
            names = list(frames)
            sent, refused = harness.send_raw_frames(net, [frames[n] for n in names])
            self.assertEqual(sent, len(names), refused)
            # And a storm of garbage: random bytes, random sizes.
            import random
            rng = random.Random(7)
            garbage = [ours + theirs + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1500)))
                       for _ in range(2000)]
            garbage_sent, _ = harness.send_raw_frames(net, garbage)
            self.assertGreater(garbage_sent, 1900)
            expected = before["rx_frames"] + len(frames) + garbage_sent

            def accounted(c):
                # Every frame that was not answered was counted as a drop.
                drops = sum(c[k] - before[k] for k in c if k.startswith("drop_"))
                accepted = (c["rx_icmp_echo"] - before["rx_icmp_echo"]) + (c["rx_arp"] - before["rx_arp"])
                return drops + accepted, c["rx_frames"] - before["rx_frames"]

            # rx_frames counts a burst before its frames are classified: wait
            # until every frame seen is also accounted for (a single reading
            # could fall between the two).
            after = harness.settle(net.counters, lambda c: c["rx_frames"] >= expected and
                                   accounted(c)[0] == accounted(c)[1], 30)
            self.assertGreaterEqual(after["rx_frames"], expected, "dataplane did not see every frame")
            for name in names:
                self.assertGreaterEqual(after[name] - before[name], 1, f"{name} not counted")
            counted, seen = accounted(after)
            self.assertEqual(counted, seen)
            # Still serving.
            r = net.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", SERVER])
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(net.close(), 0, "dataplane did not exit cleanly")

    def test_telemetry(self):
        with TapNetwork("telemetry") as net:
            counters = net.counters()
            described = net.dataplane.telemetry("/ftps/counters/describe")
            self.assertEqual(set(counters), set(described))
            for name in ("rx_frames", "drop_ipv4_bad_checksum", "drop_eth_short", "impair_rx_lost"):
                self.assertIn(name, counters)
                self.assertTrue(described[name])
            per_worker = net.dataplane.telemetry("/ftps/counters,0")
            self.assertIn("rx_frames", per_worker)
            port = net.dataplane.telemetry("/ftps/port")
            self.assertEqual(port["driver"], "net_tap")
            self.assertEqual(port["mac"].lower(), net.server_mac)
            info = net.dataplane.telemetry("/ftps/info")
            self.assertEqual(info["address"], SERVER)
            self.assertEqual(info["workers"], 1)
            # Busy cycles: only loops that did work count, so pings add
            # some and they stay a fraction of the time that passed.
            start = time.monotonic()
            r = net.run(["ping", "-c", "3", "-i", "0.2", "-W", "5", SERVER])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            after = net.dataplane.telemetry("/ftps/info")
            self.assertGreater(after["tsc_hz"], 0)
            busy = after["busy_cycles"] - info["busy_cycles"]
            self.assertGreater(busy, 0)
            self.assertLess(busy, (time.monotonic() - start) * after["tsc_hz"])

    def _impaired_ping(self, seed):
        with TapNetwork(f"impair{seed}", impair_rx="loss=0.3", impair_seed=seed) as net:
            # A static neighbour entry: no ARP traffic to perturb the stream.
            net.run(["ip", "neigh", "replace", SERVER, "lladdr", net.server_mac, "dev", net.tap,
                     "nud", "permanent"], check=True)
            # Not ping(8): with losses it stops waiting two round-trip times
            # after its last request, and on a loaded machine missed late
            # replies the dataplane did send.  This pinger keeps counting
            # replies until told to stop, once the dataplane has counted
            # every request and its replies have had time to arrive.
            proc = net.ns.popen([sys.executable, "-c", PINGER, SERVER, "300"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            received, sent = [0], threading.Event()

            def read_progress():
                for line in proc.stdout:
                    if line.startswith("sent"):
                        sent.set()
                    elif line.strip().isdigit():
                        received[0] = int(line)
            reader = threading.Thread(target=read_progress, daemon=True)
            reader.start()
            try:
                self.assertTrue(sent.wait(60), "the pinger did not send its requests")
                # Every request the kernel sent is counted as lost or echoed.
                c = harness.settle(net.counters,
                                   lambda c: c["impair_rx_lost"] + c["rx_icmp_echo"] >= 300, 30)
                harness.wait_for(lambda: received[0] >= c["rx_icmp_echo"], 30)
            finally:
                try:
                    proc.communicate("stop\n", timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                reader.join(10)
            return received[0], c["impair_rx_lost"], c["rx_icmp_echo"]

    def test_impairment_on_the_wire(self):
        a = self._impaired_ping(11)
        b = self._impaired_ping(11)
        c = self._impaired_ping(12)
        received, lost, echoed = a
        self.assertEqual(a, b, "same seed, same input, different faults")
        self.assertNotEqual(a[1], c[1], "a different seed gave the same faults")
        # 30% loss of 300 requests: well inside 20-40% for any fair stream.
        self.assertTrue(60 <= lost <= 120, f"lost {lost} of 300")
        self.assertEqual(received, echoed)
        self.assertEqual(received + lost, 300)

    def test_shutdown_on_sigterm(self):
        net = TapNetwork("sigterm")
        try:
            net.dataplane.process.send_signal(signal.SIGTERM)
            self.assertEqual(net.dataplane.process.wait(60), 0)
            text = Path(net.log).read_text()
            self.assertIn("stopped cleanly", text)
        finally:
            net.close()
        self.assertFalse(net.ns.exists())


class ApplianceCommandTest(unittest.TestCase):
    TOOL = str(harness.REPO / "tools" / "ftps-appliance")

    def _tool(self, *args, timeout=90):
        return subprocess.run([sys.executable, self.TOOL, *args], capture_output=True, text=True,
                              timeout=timeout)

    def test_up_status_down(self):
        name = f"cmdt{os.getpid()}"  # the pid: unique among live tests
        guard = harness.ToolAppliance(name)
        try:
            r = self._tool("up", "--name", name, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            info = json.loads(r.stdout.strip().splitlines()[-1])
            for key in ("namespace", "server_address", "client_address", "ports", "user", "ca_file"):
                self.assertIn(key, info)
            self.assertEqual(info["namespace"], f"ftps-{name}")
            ns = harness.Namespace(info["namespace"])
            p = ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", info["server_address"]])
            self.assertEqual(p.returncode, 0, p.stdout)
            r = self._tool("status", "--name", name, "--json")
            self.assertEqual(json.loads(r.stdout)["status"], "running")
            again = self._tool("up", "--name", name)
            self.assertNotEqual(again.returncode, 0)
            self.assertIn("already", again.stderr)
            r = self._tool("down", "--name", name)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(ns.exists())
            r = self._tool("status", "--name", name, "--json")
            self.assertEqual(json.loads(r.stdout)["status"], "down")
        finally:
            guard.close()

    def _foreground(self, name):
        proc = subprocess.Popen([sys.executable, self.TOOL, "up", "--foreground", "--name", name],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            if line.startswith("running;"):
                return proc
        proc.wait(10)
        self.fail("foreground appliance did not come up")

    def test_ctrl_c_in_foreground(self):
        name = f"cmdc{os.getpid()}"  # the pid: unique among live tests
        guard = harness.ToolAppliance(name)
        try:
            proc = self._foreground(name)
            proc.send_signal(signal.SIGINT)
            out = proc.communicate(timeout=30)[0]
            self.assertEqual(proc.returncode, 0, out)
            self.assertIn("removed", out)
            self.assertFalse(harness.Namespace(f"ftps-{name}").exists())
        finally:
            guard.close()

    def test_killed_processes_restart(self):
        # A connected client gets a clean failure (reset or 421, never a
        # hang); the supervisor restarts the dead process and new logins work.
        name = f"cmdk{os.getpid()}"  # the pid: unique among live tests
        guard = harness.ToolAppliance(name)
        try:
            r = self._tool("up", "--name", name, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            info = json.loads(r.stdout.strip().splitlines()[-1])
            ns = harness.Namespace(info["namespace"])
            user = info["user"]
            client = (
                "import socket,sys,time\n"
                f"s=socket.create_connection(({info['server_address']!r},21),timeout=20)\n"
                "print(s.recv(100).decode().strip(),flush=True)\n"
                "sys.stdin.readline()\n"
                "try:\n"
                "    s.sendall(b'NOOP\\r\\n'); d=s.recv(100)\n"
                "    print('after:', d.decode().strip() or 'closed')\n"
                "except OSError as e:\n"
                "    print('after: error', e)\n")
            for victim in ("dataplane_pid", "control_pid"):
                proc = ns.popen([sys.executable, "-c", client], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
                self.assertTrue(proc.stdout.readline().startswith("220"))
                state = json.loads(Path(f"/run/ftps-appliance/{name}/state.json").read_text())
                os.kill(state[victim], signal.SIGKILL)
                time.sleep(1)
                out = proc.communicate("go\n", timeout=30)[0]
                self.assertIn("after:", out)
                self.assertTrue("error" in out or "closed" in out or "421" in out, out)
                ok = harness.wait_for(lambda: ns.run(
                    ["curl", "-sS", "--max-time", "10", "--ssl-reqd", "--cacert", info["ca_file"],
                     "-u", f"{user['name']}:{user['password']}",
                     f"ftp://{info['server_address']}/"]).returncode == 0, 90, 1.0)
                self.assertTrue(ok, f"no login after {victim} was killed")
            r = self._tool("status", "--name", name, "--json")
            self.assertEqual(json.loads(r.stdout)["status"], "running")
        finally:
            guard.close()
        self.assertFalse(harness.Namespace(f"ftps-{name}").exists())


class MemifTopologyTest(unittest.TestCase):
    def test_two_dataplanes_over_memif(self):
        ns = harness.Namespace(harness.unique_name("memif"))
        sock = f"/run/ftps/{ns.name}.memif"
        Path("/run/ftps").mkdir(parents=True, exist_ok=True)
        a = b = None
        # Destroying the namespace also stops both dataplanes in it.
        remove = harness.OnExit(ns.destroy)
        try:
            ns.create()
            a = harness.Dataplane(ns, "198.18.2.1", 24, vdev=f"net_memif0,role=server,socket={sock}",
                                  file_prefix=f"{ns.name}-a", log_path=harness.log_dir() / f"{ns.name}-a.log",
                                  memory_mb=256)
            a.start()
            b = harness.Dataplane(ns, "198.18.2.2", 24, vdev=f"net_memif0,role=client,socket={sock}",
                                  file_prefix=f"{ns.name}-b", log_path=harness.log_dir() / f"{ns.name}-b.log",
                                  memory_mb=256, extra=["--gateway", "198.18.2.1"])
            b.start()
            # b resolves its gateway (a) over the memif link.
            cb = harness.wait_for(lambda: (lambda c: c if c["arp_resolved"] >= 1 else None)(b.telemetry("/ftps/counters")), 30)
            self.assertTrue(cb, "b did not resolve a over memif")
            ca = a.telemetry("/ftps/counters")
            self.assertGreaterEqual(ca["tx_arp_reply"], 1)
            self.assertEqual(b.stop(), 0)
            self.assertEqual(a.stop(), 0)
        finally:
            for d in (b, a):
                if d:
                    d.stop()
            remove.close()
            Path(sock).unlink(missing_ok=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
