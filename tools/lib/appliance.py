"""Bring the appliance up and down in a private network namespace.

Shared by tools/ftps-appliance (users), the test harness and the benchmark
scripts, so all of them run the appliance the same way.  Everything here
stays inside namespaces it creates and on addresses from 198.18.0.0/15.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE_ROOT = Path("/run/ftps-appliance")
TEST_NETWORK = "198.18.0.0/15"


class ApplianceError(Exception):
    """Something the user can act on; the message says what."""


def build_dir():
    return Path(os.environ.get("FTPS_BUILD_DIR", REPO / "build"))


def binary(relative):
    path = build_dir() / relative
    if not path.exists():
        raise ApplianceError(f"{path} is missing: build first (meson setup build && ninja -C build)")
    return path


def in_test_network(address):
    """True for 198.18.0.0/15, the only addresses tests may use."""
    parts = [int(x) for x in address.split("/")[0].split(".")]
    return parts[0] == 198 and parts[1] in (18, 19)


def run(cmd, check=True, timeout=60, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise ApplianceError(f"{' '.join(map(str, cmd))} failed: {result.stderr.strip()}")
    return result


class Namespace:
    """A network namespace we own; destroy() kills what runs in it."""

    def __init__(self, name):
        if len(name) > 30 or not name.replace("-", "").isalnum():
            raise ApplianceError(f"bad namespace name {name!r}")
        self.name = name

    def exists(self):
        return Path("/run/netns", self.name).exists()

    def create(self):
        if self.exists():
            raise ApplianceError(f"namespace {self.name} exists already (ftps-appliance down?)")
        run(["ip", "netns", "add", self.name])
        self.run(["ip", "link", "set", "lo", "up"], check=True)
        # The appliance speaks IPv4 only; the kernel end's IPv6 chatter would
        # only add frames the dataplane drops (and shift impairment streams).
        for key in ("all", "default"):
            self.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"])

    def command(self, cmd):
        # nsenter rather than `ip netns exec`: the latter also remounts /sys,
        # which fails where / is not a mount point (a chroot), and nothing
        # here needs the namespace's view of /sys.
        return ["nsenter", f"--net=/run/netns/{self.name}", "--"] + [str(c) for c in cmd]

    def run(self, cmd, check=False, timeout=60, **kw):
        return run(self.command(cmd), check=check, timeout=timeout, **kw)

    def popen(self, cmd, **kw):
        return subprocess.Popen(self.command(cmd), **kw)

    def pids(self):
        r = run(["ip", "netns", "pids", self.name], check=False)
        return [int(p) for p in r.stdout.split()] if r.returncode == 0 else []

    def destroy(self, grace=5.0):
        if not self.exists():
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + wait
            while pids and time.time() < deadline:
                pids = [p for p in self.pids() if Path(f"/proc/{p}").exists()]
                time.sleep(0.05)
        run(["ip", "netns", "del", self.name], check=False)


def hugepages_free_mb():
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return 0
    fields = dict(line.split(":", 1) for line in meminfo.splitlines() if ":" in line)
    free = int(fields.get("HugePages_Free", "0").strip().split()[0])
    size_kb = int(fields.get("Hugepagesize", "2048 kB").strip().split()[0])
    mounted = any(line.split()[2] == "hugetlbfs" for line in Path("/proc/mounts").read_text().splitlines())
    return free * size_kb // 1024 if mounted else 0


def eal_memory_args(prefix, megabytes=512, hugepages="auto"):
    """EAL memory options: hugepages when enough are free, else --no-huge."""
    use_huge = hugepages == "yes" or (hugepages == "auto" and hugepages_free_mb() >= megabytes + 64)
    if hugepages == "yes" and hugepages_free_mb() < megabytes:
        raise ApplianceError(f"{megabytes} MiB of hugepages requested, {hugepages_free_mb()} free")
    if use_huge:
        return ["--in-memory", "-m", str(megabytes), f"--file-prefix={prefix}"], "hugepages"
    return ["--no-huge", "-m", str(megabytes), f"--file-prefix={prefix}"], "no-huge"


def stop_process(process, signo, timeout):
    """Sends signo to a running process and waits up to timeout seconds,
    then kills it.  Returns its exit code, or None when there was no
    process or it had to be killed."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signo)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None
    return process.returncode


class Dataplane:
    """One ftps-dataplane process on a net_tap (or memif) port in a namespace."""

    def __init__(self, namespace, address, prefix_length=24, tap="ftps0", lcores="0",
                 memory_mb=512, impair_rx=None, impair_tx=None, impair_seed=1,
                 vdev=None, log_path=None, extra=(), file_prefix=None, idle_sleep_us=20,
                 control_socket=None, mtu=1500):
        self.ns = namespace
        self.address = address
        self.prefix_length = prefix_length
        self.tap = tap
        self.lcores = lcores
        self.memory_mb = memory_mb
        self.impair_rx, self.impair_tx, self.impair_seed = impair_rx, impair_tx, impair_seed
        self.vdev = vdev or f"net_tap0,iface={tap}"
        self.log_path = Path(log_path) if log_path else None
        self.extra = list(extra)
        self.file_prefix = file_prefix or f"{namespace.name}-dp"
        self.idle_sleep_us = idle_sleep_us
        self.control_socket = control_socket or f"/run/ftps/{self.file_prefix}.sock"
        self.mtu = mtu
        self.process = None
        self.memory_mode = None
        self.ready_line = None

    def command(self):
        memory, self.memory_mode = eal_memory_args(self.file_prefix, self.memory_mb)
        cmd = [binary("dataplane/ftps-dataplane"), "--no-pci", f"--vdev={self.vdev}",
               "-l", self.lcores] + memory + ["--", "--address",
               f"{self.address}/{self.prefix_length}", "--idle-sleep-us", str(self.idle_sleep_us),
               "--control-socket", self.control_socket, "--mtu", str(self.mtu)]
        if self.impair_rx:
            cmd += ["--impair-rx", self.impair_rx]
        if self.impair_tx:
            cmd += ["--impair-tx", self.impair_tx]
        if self.impair_rx or self.impair_tx:
            cmd += ["--impair-seed", str(self.impair_seed)]
        return cmd + self.extra

    def start(self, timeout=30):
        if not in_test_network(self.address):
            raise ApplianceError(f"{self.address} is outside {TEST_NETWORK}")
        Path(self.control_socket).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = self.ns.popen(self.command(), stdout=subprocess.PIPE, stderr=log,
                                         start_new_session=True)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        deadline = time.time() + timeout
        lines = []
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").rstrip()
            lines.append(text)
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(text + "\n")
            if "ftps-dataplane: ready:" in text:
                self.ready_line = text
                self._drain_stdout()
                return self
        try:
            code = self.process.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        self.stop()
        raise ApplianceError("ftps-dataplane did not come up"
                             + (f" (exit {code})" if code is not None else " in time")
                             + (f"; see {self.log_path}" if self.log_path else "")
                             + "\n" + "\n".join(lines[-10:]))

    def _drain_stdout(self):
        # Keep reading so the pipe never fills and blocks the dataplane.
        import threading

        def pump(stream, path):
            for line in stream:
                if path:
                    with open(path, "ab") as f:
                        f.write(line)
        threading.Thread(target=pump, args=(self.process.stdout, self.log_path), daemon=True).start()

    def stop(self, timeout=15):
        """SIGINT and wait; returns the exit code (None if it had to be killed)."""
        code = stop_process(self.process, signal.SIGINT, timeout)
        if code is None:
            return None
        if self.process.stdout is not None:
            try:
                self.process.stdout.close()
            except (OSError, ValueError):
                pass
        return code

    def telemetry(self, command):
        """Runs one telemetry command and returns its JSON value."""
        key = command.split(",")[0]
        try:
            r = run(["dpdk-telemetry.py", "-f", self.file_prefix], check=False, timeout=20,
                    input=command + "\n")
            for line in r.stdout.splitlines():
                line = line.strip()
                if line.startswith("{") and key in line:
                    return json.loads(line)[key]
        except subprocess.TimeoutExpired:
            raise ApplianceError(f"telemetry {command}: no answer within 20 s") from None
        except (ValueError, KeyError) as e:
            raise ApplianceError(f"telemetry {command}: unreadable answer ({e})") from None
        raise ApplianceError(f"telemetry {command}: no answer ({r.stderr.strip()})")


def configure_tap(ns, tap, address, prefix_length=24, timeout=10):
    """Gives the tap's kernel end its address once the dataplane created it.
    Its MTU is the dataplane's receive MTU (65000 by default), which the
    dataplane sets; the dataplane sends frames up to its own MTU (up to
    65000 through its own writes to the tap, 1500 through net_tap's)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ns.run(["ip", "link", "show", tap]).returncode == 0:
            ns.run(["ip", "addr", "add", f"{address}/{prefix_length}", "dev", tap], check=True)
            ns.run(["ip", "link", "set", tap, "up"], check=True)
            return
        time.sleep(0.1)
    raise ApplianceError(f"tap interface {tap} did not appear in {ns.name}")


def unique_name(tag):
    return f"ftps-{tag}-{os.getpid() % 100000}-{random.randrange(1000, 9999)}"


def random_password(length=16):
    import secrets
    import string
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class Control:
    """ftps-control with a self-signed certificate (ftps-keys), a users file
    (ftps-users) holding one demo user, and a config pointing at the
    dataplane's control socket.  Runs inside the namespace, drops to nobody."""

    def __init__(self, namespace, directory, server_address, control_socket,
                 user="demo", password=None, log_path=None, extra_config=None,
                 pasv_ports="40000-40999"):
        self.ns = namespace
        self.dir = Path(directory)
        self.server_address = server_address
        self.control_socket = control_socket
        self.user = user
        self.password_given = password
        self.password = password or random_password()
        self.log_path = Path(log_path) if log_path else self.dir / "control.log"
        self.extra_config = extra_config or {}
        self.pasv_ports = pasv_ports
        self.process = None
        self.certificate = self.dir / "server.pem"
        self.key = self.dir / "server.key"
        self.users_file = self.dir / "users.txt"
        self.root = self.dir / "files" / user
        self.config = self.dir / "control.ini"
        self.session_log = self.dir / "session.log"
        self.xferlog = self.dir / "xferlog"

    def prepare(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        keys = binary("tools/keys/ftps-keys")
        # Key, certificate and the demo user's password persist across
        # restarts, so clients that pinned the certificate keep trusting it.
        if not self.key.exists():
            run([keys, "genkey", "--type", "ec-p256", "-o", self.key])
        if not self.certificate.exists():
            run([keys, "selfsign", "--key", self.key, "--subject", "CN=ftps-appliance",
                 "--san", f"IP:{self.server_address}", "--san", "DNS:ftps-appliance.test",
                 "--days", "365", "-o", self.certificate])
        password_file = self.dir / f"{self.user}.password"
        if password_file.exists() and self.password_given is None:
            self.password = password_file.read_text().strip()
        password_file.write_text(self.password + "\n")
        os.chmod(password_file, 0o600)
        # ftps-control reads its key again as nobody when it reloads.
        os.chown(self.key, 0, nobody.pw_gid)
        os.chmod(self.key, 0o640)
        os.chmod(self.certificate, 0o644)
        self.root.mkdir(parents=True, exist_ok=True)
        for path in (self.root, self.root.parent):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        if self.users_file.exists():
            self.users_file.unlink()
        run([binary("control/ftps-users"), "-f", self.users_file, "add", self.user,
             self.root, "rwdnm"], input=self.password + "\n")
        os.chmod(self.users_file, 0o644)
        for log in (self.session_log, self.xferlog):
            log.touch()
            os.chown(log, nobody.pw_uid, nobody.pw_gid)
        config = {
            "server": {"listen": f"{self.server_address}:21",
                       "implicit_listen": f"{self.server_address}:990",
                       "dataplane_socket": self.control_socket, "run_as": "nobody",
                       "pasv_ports": self.pasv_ports,
                       # The dataplane's lcores busy-poll CPUs the control
                       # plane shares: without this each of its wake-ups
                       # waits out a poller's time slice.
                       "realtime_priority": "1"},
            "tls": {"certificate": self.certificate, "key": self.key},
            "auth": {"users_file": self.users_file},
            "log": {"session_log": self.session_log, "xferlog": self.xferlog},
        }
        for key, value in self.extra_config.items():
            section, name = key.split(".", 1)
            config.setdefault(section, {})[name] = value
        with open(self.config, "w") as f:
            for section, values in config.items():
                f.write(f"[{section}]\n")
                for k, v in values.items():
                    f.write(f"{k} = {v}\n")
        return self

    def start(self, timeout=20, probe="tcp"):
        """probe "tcp": wait for the 220 banner through the namespace's
        kernel stack (net_tap); "log": wait for the control plane to report
        its dataplane link (a memif port has no kernel end to probe from)."""
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        try:
            self.process = self.ns.popen([binary("control/ftps-control"), "-c", self.config],
                                         stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise ApplianceError(f"ftps-control exited with {self.process.returncode}; "
                                     f"see {self.log_path}\n" + self.log_path.read_text()[-2000:])
            if probe == "log":
                with open(self.log_path, "rb") as f:
                    f.seek(log_offset)
                    if b"dataplane link 0 up" in f.read():
                        return self
                time.sleep(0.2)
                continue
            probe_run = self.ns.run([sys.executable, "-c",
                                 "import socket,sys\n"
                                 f"s=socket.create_connection(('{self.server_address}',21),timeout=1)\n"
                                 "sys.exit(0 if s.recv(64).startswith(b'220') else 1)\n"],
                                timeout=10)
            if probe_run.returncode == 0:
                return self
            time.sleep(0.2)
        raise ApplianceError(f"ftps-control did not answer on {self.server_address}:21; "
                             f"see {self.log_path}")

    def stop(self, timeout=10):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        return stop_process(self.process, signal.SIGTERM, timeout)
