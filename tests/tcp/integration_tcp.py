#!/usr/bin/env python3
"""Interop of the userspace TCP stack with Linux TCP through net_tap.

Each scenario creates its own network namespace, starts ftps-tcp-peer in it
on a tap interface (198.18.x.1), gives the kernel end 198.18.x.2/24 and runs
kernel clients (tcp_clients.py) inside the namespace.  The peer is stopped
with SIGTERM at the end and must report no session errors, no open
connections (TIME_WAIT aside) and its mbuf pools back at their start count.
Namespace and processes are removed on every exit path.

usage: integration_tcp.py bulk|impaired|many|synflood
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("FTPS_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("FTPS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
PEER = os.path.join(BUILD, "tests/tcp/ftps-tcp-peer")
CLIENTS = os.path.join(SOURCE, "tests/tcp/tcp_clients.py")
# Where tests/harness keeps process logs too: meson-logs/ftps-test-logs of
# the build under test (FTPS_TEST_LOG_DIR), not loose in /tmp.  Keep in step
# with harness.log_dir(); importing harness would install its exit and
# signal handlers here.
LOG_DIR = os.path.join(os.environ.get("FTPS_TEST_LOG_DIR", tempfile.gettempdir()),
                       "ftps-test-logs")
MiB = 1 << 20
GiB = 1 << 30


class Namespace:
    def __init__(self, scenario):
        tag = "%d%s" % (os.getpid() % 100000, scenario[:3])
        self.name = "ftpstcp" + tag
        self.iface = "ftt" + tag
        self.prefix = "ftpstcp" + tag
        self.subnet = 100 + os.getpid() % 100
        self.peer_addr = "198.18.%d.1" % self.subnet
        self.kernel_addr = "198.18.%d.2" % self.subnet
        self.peer = None
        os.makedirs(LOG_DIR, exist_ok=True)
        self.log_path = os.path.join(LOG_DIR, "%s.peer.log" % self.name)
        self.log = None

    def __enter__(self):
        # The name holds this process's id: an existing namespace of that
        # name is the leftover of a killed earlier run (pids wrap at 32768).
        if os.path.exists("/run/netns/" + self.name):
            pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        return self

    def start_peer(self, extra=()):
        self.log = open(self.log_path, "w+")
        cmd = ["ip", "netns", "exec", self.name, PEER, "--no-pci", "--no-huge", "-m", "1024",
               "--file-prefix", self.prefix, "--vdev=net_tap0,iface=%s" % self.iface, "-l", "0",
               "--log-level=error", "--", "--address", self.peer_addr + "/24"] + list(extra)
        self.peer = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.peer.poll() is not None:
                raise RuntimeError("peer exited: " + self.read_log())
            if "ready:" in self.read_log():
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("peer not ready: " + self.read_log())
        for args in (["addr", "add", self.kernel_addr + "/24", "dev", self.iface],
                     ["link", "set", self.iface, "up"], ["link", "set", "lo", "up"]):
            subprocess.run(["ip", "-n", self.name] + args, check=True)
        # The peer answers ARP and ping before any TCP test starts.
        subprocess.run(["ip", "netns", "exec", self.name, "ping", "-c", "1", "-W", "2",
                        self.peer_addr], check=True, stdout=subprocess.DEVNULL)

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def client(self, *args, timeout=120, background=False):
        cmd = ["ip", "netns", "exec", self.name, sys.executable, CLIENTS] + [str(a) for a in args]
        if background:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout)
        return parse_result(r.stdout, r.returncode)

    def stop_peer(self):
        """SIGTERM, then the peer's own account of what it holds."""
        if self.peer is None:
            return None
        self.peer.send_signal(signal.SIGTERM)
        try:
            self.peer.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.peer.kill()
            self.peer.wait()
        self.peer = None
        log = self.read_log()
        check(not re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", log),
              "no sanitizer report from the peer")
        m = re.search(r"stopped: sessions (\d+) done (\d+) errors (\d+); connections open (\d+) "
                      r"time-wait (\d+); mbufs-in-use start (\d+) end (\d+)", log)
        counters = dict((k, int(v)) for k, v in re.findall(r"counter (\w+) (\d+)", log))
        if m is None:
            return {"log": log[-2000:]}
        keys = ["sessions", "done", "errors", "open", "time_wait", "mbufs_start", "mbufs_end"]
        out = dict(zip(keys, (int(x) for x in m.groups())))
        out["counters"] = counters
        return out

    def __exit__(self, *exc):
        if self.peer is not None:
            self.peer.kill()
            self.peer.wait()
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        if self.log is not None:
            self.log.close()
        return False


def parse_result(stdout, rc):
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    info = json.loads(lines[-1]) if lines else {"raw": stdout}
    info["rc"] = rc
    return info


failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    sys.stdout.flush()
    if not cond:
        failures.append(what)


def check_peer_clean(stats, allow_open=False):
    check(stats is not None and "mbufs_start" in stats, "peer reported its state: %s" % stats)
    if stats is None or "mbufs_start" not in stats:
        return
    check(stats["errors"] == 0, "no session errors (%d)" % stats["errors"])
    if not allow_open:
        check(stats["open"] == 0, "no connection left open (%d)" % stats["open"])
    check(stats["mbufs_start"] == stats["mbufs_end"],
          "mbufs back to start (%d -> %d)" % (stats["mbufs_start"], stats["mbufs_end"]))


def scenario_bulk(ns):
    ns.start_peer()
    r = ns.client("sink", ns.peer_addr, GiB, 11)
    check(r["rc"] == 0 and r.get("pass"), "1 GiB upload, SHA-256 equal: %s" % r)
    r = ns.client("pattern", ns.peer_addr, GiB, 12)
    check(r["rc"] == 0 and r.get("pass"), "1 GiB download, byte-exact: %s" % r)
    r = ns.client("echo", ns.peer_addr, 64 * MiB, 13)
    check(r["rc"] == 0 and r.get("pass"), "64 MiB echo both ways at once: %s" % r)
    check_peer_clean(ns.stop_peer())


def scenario_impaired(ns):
    spec = "loss=0.02,reorder=0.01,dup=0.005,corrupt=0.001"
    ns.start_peer(["--impair-rx", spec, "--impair-tx", spec, "--impair-seed", "42"])
    size = int(os.environ.get("FTPS_TCP_IMPAIRED_BYTES", GiB))
    # The download took ~100 s of the 150 s it had on a loaded machine.
    r = ns.client("sink", ns.peer_addr, size, 21, timeout=400)
    check(r["rc"] == 0 and r.get("pass"), "impaired upload, SHA-256 equal: %s" % r)
    r = ns.client("pattern", ns.peer_addr, size, 22, timeout=400)
    check(r["rc"] == 0 and r.get("pass"), "impaired download, byte-exact: %s" % r)
    stats = ns.stop_peer()
    check_peer_clean(stats)
    c = stats.get("counters", {}) if stats else {}
    check(c.get("tx_retransmits", 0) > 0, "the stack retransmitted (%s)" % c.get("tx_retransmits"))
    check(c.get("drop_bad_checksum", 0) > 0 or c.get("drop_duplicate", 0) > 0,
          "corrupted or duplicated segments were dropped and counted")


def scenario_many(ns):
    ns.start_peer()
    conns = int(os.environ.get("FTPS_TCP_MANY_CONNS", 1000))
    r = ns.client("many", ns.peer_addr, conns, MiB, timeout=200)
    check(r["rc"] == 0 and r.get("pass"), "%d concurrent connections x 1 MiB: %s" % (conns, r))
    check_peer_clean(ns.stop_peer())


def scenario_synflood(ns):
    ns.start_peer()
    flood = ns.client("synflood", ns.peer_addr, 19, 20, background=True)
    try:
        time.sleep(1)
        r = ns.client("pattern", ns.peer_addr, 256 * MiB, 31, timeout=100)
        check(r["rc"] == 0 and r.get("pass"), "bulk download completes under a SYN flood: %s" % r)
    finally:
        out, _ = flood.communicate(timeout=60)
    f = parse_result(out, flood.returncode)
    check(f.get("syns_sent", 0) > 1000, "the flood sent SYNs: %s" % f)
    stats = ns.stop_peer()
    # Half-open connections of the flood are reset at shutdown; only they
    # may remain.
    check_peer_clean(stats, allow_open=True)
    c = stats.get("counters", {}) if stats else {}
    check(c.get("tx_syn_cookies", 0) > 0, "SYN cookies answered the flood (%s)" %
          c.get("tx_syn_cookies"))


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("bulk", "impaired", "many", "synflood"):
        print(__doc__)
        return 2
    if os.geteuid() != 0:
        print("skipped: needs root for network namespaces")
        return 77
    if not os.path.exists(PEER):
        print("missing " + PEER)
        return 1
    scenario = sys.argv[1]

    def on_signal(signo, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.time()
    try:
        with Namespace(scenario) as ns:
            globals()["scenario_" + scenario](ns)
    except Exception as e:  # any failure still removes the namespace (with)
        failures.append("exception: %r" % (e,))
        print("FAIL exception: %r" % (e,))
    print("%s: %.1f s, %d failure(s)" % (scenario, time.time() - t0, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
