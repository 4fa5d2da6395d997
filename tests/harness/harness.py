"""Test harness: a private namespace with the dataplane on a tap, clients
run inside it, logs collected, and everything removed on exit, also after a
failure or a timeout.  Built on tools/lib/appliance.py, the same code that
tools/ftps-appliance uses."""

import atexit
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "lib"))
import appliance  # noqa: E402
from appliance import ApplianceError, Dataplane, Namespace, configure_tap, unique_name  # noqa: E402,F401
from waiting import wait_for  # noqa: E402,F401  (tests call harness.wait_for)

SERVER = "198.18.0.1"
CLIENT = "198.18.0.2"

_live = []


def _cleanup_all(*_):
    # Everything is closed even if one close() fails (a sanitizer report
    # found at tear-down); the first failure is raised at the end.
    failure = None
    while _live:
        try:
            _live.pop().close()
        except Exception as e:  # noqa: BLE001 - re-raised below
            failure = failure or e
    if failure is not None:
        raise failure


def _on_sigterm(signo, frame):
    try:
        _cleanup_all()
    except Exception as e:  # noqa: BLE001 - exiting anyway
        print(f"clean-up after SIGTERM: {e}", file=sys.stderr)
    os._exit(124)


atexit.register(_cleanup_all)
# meson test stops a test that runs too long with SIGTERM: clean up then too.
signal.signal(signal.SIGTERM, _on_sigterm)


def log_dir():
    d = Path(os.environ.get("FTPS_TEST_LOG_DIR", tempfile.gettempdir())) / "ftps-test-logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


class TapNetwork:
    """Namespace + dataplane on net_tap + the tap's kernel end configured."""

    def __init__(self, tag, server=SERVER, client=CLIENT, prefix_length=24, **dataplane_args):
        self.ns = Namespace(unique_name(tag))
        self.server, self.client = server, client
        self.tap = "ftps0"
        self.log = log_dir() / f"{self.ns.name}-dataplane.log"
        self.dataplane = None
        _live.append(self)
        try:
            self.ns.create()
            self.dataplane = Dataplane(self.ns, server, prefix_length, tap=self.tap,
                                       log_path=self.log, **dataplane_args)
            self.dataplane.start()
            configure_tap(self.ns, self.tap, client, prefix_length)
        except BaseException:
            self.close()
            raise

    @property
    def server_mac(self):
        m = re.search(r"mac ([0-9A-Fa-f:]{17})", self.dataplane.ready_line or "")
        return m.group(1).lower() if m else None

    def run(self, cmd, timeout=60, check=False, **kw):
        return self.ns.run(cmd, timeout=timeout, check=check, **kw)

    def counters(self):
        return self.dataplane.telemetry("/ftps/counters")

    def close(self):
        if self in _live:
            _live.remove(self)
        code = None
        if self.dataplane is not None:
            code = self.dataplane.stop()
        self.ns.destroy()
        check_sanitizer_reports(self.log)
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


class SanitizerReport(AssertionError):
    pass


def check_sanitizer_reports(*logs):
    """A sanitizer report in any process log fails the test."""
    for log in logs:
        try:
            text = Path(log).read_text(errors="replace")
        except OSError:
            continue
        for marker in SANITIZER_MARKERS:
            if marker in text:
                at = text.index(marker)
                raise SanitizerReport(f"sanitizer report in {log}:\n{text[max(0, at - 200):at + 2000]}")


def send_raw_frames(network, frames):
    """Sends Ethernet frames out of the tap's kernel end from inside the
    namespace (a helper process, since sockets belong to a namespace)."""
    script = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
        f"s.bind(({network.tap!r},0))\n"
        "import time\n"
        "sent=0\n"
        "for line in sys.stdin:\n"
        "    if sent % 100 == 99: time.sleep(0.005)  # the tap's queue holds 1000\n"
        "    try:\n"
        "        s.send(bytes.fromhex(line.strip())); sent+=1\n"
        "    except OSError as e:\n"
        "        print('refused by the kernel:', e, line[:60], file=sys.stderr)\n"
        "print(sent)\n"
    )
    r = network.run([sys.executable, "-c", script], timeout=60,
                    input="\n".join(f.hex() for f in frames) + "\n")
    if r.returncode != 0:
        raise ApplianceError(f"raw send failed: {r.stderr}")
    return int(r.stdout.strip()), r.stderr


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ipv4_checksum(header):
    total = 0
    for i in range(0, len(header), 2):
        total += (header[i] << 8) + (header[i + 1] if i + 1 < len(header) else 0)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ipv4_packet(src, dst, proto, payload, ttl=64, flags_fragment=0x4000, version_ihl=0x45,
                total_length=None, checksum=None):
    import struct
    length = total_length if total_length is not None else 20 + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", version_ihl, 0, length, 0, flags_fragment, ttl, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    ck = ipv4_checksum(header) if checksum is None else checksum
    header = header[:10] + struct.pack("!H", ck) + header[12:]
    return header + payload


def settle(read, predicate, timeout=30.0, interval=0.1):
    """Reads a value (a telemetry dict, a log) until predicate(value) holds
    or timeout passes and returns the last value read: the caller asserts
    on it as before, so a state that never arrives still fails, with the
    values seen last.  For counters that move after the event a client sees
    (a transfer is freed, its buffers returned, a frame counted, only after
    the reply that ended the client's command)."""
    deadline = time.time() + timeout
    value = read()
    while not predicate(value) and time.time() < deadline:
        time.sleep(interval)
        value = read()
    return value


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


APPLIANCE_TOOL = str(REPO / "tools" / "ftps-appliance")


class OnExit:
    """Runs fn once: at close(), or on exit / meson's SIGTERM if the test
    never got there."""

    def __init__(self, fn):
        self.fn = fn
        _live.append(self)

    def close(self):
        if self in _live:  # (already taken off by _cleanup_all)
            _live.remove(self)
        fn, self.fn = self.fn, None
        if fn is not None:
            fn()


def appliance_tool_down(name):
    """`ftps-appliance down --name NAME`, bounded; nothing to stop is fine."""
    try:
        subprocess.run([sys.executable, APPLIANCE_TOOL, "down", "--name", name],
                       capture_output=True, timeout=90)
    except subprocess.TimeoutExpired:
        pass


class ToolAppliance:
    """An appliance a test runs `ftps-appliance` for itself under this
    name: close() (also run on exit and on meson's SIGTERM) takes it down,
    so a test stopped by its timeout leaves no dataplane busy-polling
    through the rest of the suite.  Creating one first removes a leftover
    of the name (names hold the test's pid, so only a killed earlier test
    can have left one)."""

    def __init__(self, name):
        self.name = name
        self._down()
        _live.append(self)

    def _down(self):
        appliance_tool_down(self.name)

    def close(self):
        if self in _live:
            _live.remove(self)
        self._down()


class ApplianceUnderTest:
    """The whole appliance brought up by tools/ftps-appliance (the user's
    command) with its files in a temporary folder; down() stops it, keeps
    the logs and fails on any sanitizer report in them."""

    def __init__(self, tag, *extra):
        # The whole process id: pid_max is 32768 here, so "% 10000" gave two
        # live tests (other worktrees run theirs on this machine too) the
        # same appliance name now and then.  Only a dead process can have
        # left an appliance of this name: see _tool_down() below.  The "p"
        # keeps these names apart from the old tag+digits ones that
        # worktrees without this change still use.
        self.name = f"{tag}p{os.getpid()}"
        self.data = tempfile.mkdtemp(prefix=f"ftps-{tag}-data-")
        os.chmod(self.data, 0o755)
        self.logs = log_dir() / f"appliance-{self.name}"
        self.is_down = False
        self.info = None
        # A leftover of this name (a test killed before its tear-down that
        # had this process id) would make `up` refuse: remove it.
        self._tool_down()
        # From here on a SIGTERM (meson's timeout) takes it down too: a
        # leftover appliance busy-polling through the rest of the suite
        # slowed every later test.
        _live.append(self)
        try:
            # 120 s: the sanitizer build on a loaded machine (key generation,
            # the dataplane's EAL start, the control plane) needs more than
            # the tool's default 60 s now and then.
            r = subprocess.run([sys.executable, APPLIANCE_TOOL, "up", "--name", self.name, "--json",
                                "--timeout", "120", "--data-dir", self.data,
                                "--log-dir", str(self.logs), *extra],
                               capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            r = None
        if r is None or r.returncode != 0:
            self.down()  # whatever came half way up
            raise RuntimeError("appliance did not come up: "
                               + (r.stderr[-2000:] if r is not None else "timeout"))
        self.info = json.loads(r.stdout.strip().splitlines()[-1])
        self.ns = Namespace(self.info["namespace"])
        self.root = Path(self.info["user"]["root"])
        self.dataplane = Dataplane(self.ns, self.info["server_address"],
                                   file_prefix=self.info["telemetry_prefix"])

    def _tool_down(self):
        appliance_tool_down(self.name)

    def close(self):
        self.down()

    def down(self):
        if self.is_down:
            return
        self.is_down = True
        if self in _live:
            _live.remove(self)
        self._tool_down()
        if self.info is None:  # it never came up
            shutil.rmtree(self.data, ignore_errors=True)
            return
        logs = Path(self.info["logs"])
        for name in ("session.log", "xferlog"):  # kept for a post-mortem
            if (Path(self.data) / name).exists():
                shutil.copy(Path(self.data) / name, logs / name)
        shutil.rmtree(self.data, ignore_errors=True)
        check_sanitizer_reports(logs / "dataplane.log", logs / "control.log")

    def exec_args(self, *command):
        """argv running command inside the appliance's namespace."""
        return [sys.executable, APPLIANCE_TOOL, "exec", "--name", self.name, "--", *command]

    def curl_args(self, *args, timeout=600):
        user = self.info["user"]
        return ["curl", "-sS", "--max-time", str(timeout), "--ssl-reqd", "--cacert",
                self.info["ca_file"], "-u", f"{user['name']}:{user['password']}", *args]

    def curl(self, *args, timeout=600):
        return self.ns.run(self.curl_args(*args, timeout=timeout), timeout=timeout + 30)

    def url(self, path=""):
        return f"ftp://{self.info['server_address']}/{path}"

    def telemetry(self, what):
        return self.dataplane.telemetry(what)

    def transfers_settled(self, timeout=30):
        """/ftps/transfer once no transfer is active and every I/O buffer
        is back (the dataplane frees a transfer on its next poll after
        reporting DONE, so right after a client's 226 it may still count
        as active); the last reading if that never happens."""
        return settle(lambda: self.telemetry("/ftps/transfer"),
                      lambda t: t["active"] == 0 and t["io_buffers_free"] == t["io_buffers"],
                      timeout)

    def run_ftplib(self, body, timeout=120):
        """Runs body as Python in the namespace after a Python ftplib login
        as the demo user (variable f: explicit TLS, PROT P, TYPE I, the
        control session resumed on data connections), then f.quit()."""
        user = self.info["user"]
        script = f"""
import ftplib, hashlib, io, os, ssl, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from ftp_session_reuse import SessionReusingFTP as F
ctx = ssl.create_default_context(cafile={self.info['ca_file']!r})
f = F({self.info['server_address']!r}, context=ctx, timeout=60)
f.login({user['name']!r}, {user['password']!r}); f.prot_p(); f.voidcmd('TYPE I')
{body}
f.quit()
"""
        return self.ns.run([sys.executable, "-c", script], timeout=timeout)

    def session_log(self):
        return Path(self.info["session_log"]).read_text()

    def assert_logged(self, text, timeout=20):
        """The client may see its data connection fail before ftps-control
        has had the dataplane's report and logged the reply: wait for it."""
        if not wait_for(lambda: text in self.session_log(), timeout):
            raise AssertionError(f"{text!r} not in the session log:\n{self.session_log()[-4000:]}")


class ApplianceClassFixture:
    """For a unittest.TestCase (list it first among the bases): one
    ApplianceUnderTest with the class's APPLIANCE arguments and a scratch
    folder (tmp) for the whole class, down after its last test."""

    APPLIANCE = ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="ftps-appliance-test-"))
        os.chmod(cls.tmp, 0o755)
        cls.app = ApplianceUnderTest(*cls.APPLIANCE)
        cls.name = cls.app.name
        cls.info = cls.app.info
        cls.root = cls.app.root

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.app.down()
