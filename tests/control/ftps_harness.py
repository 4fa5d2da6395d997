"""Integration-test harness for ftps-control (issue 5).

Each test process creates its own network namespace (198.18.0.0/15 addresses
on its loopback), joins it with setns(2) so every client it runs (curl,
lftp, rclone, openssl, ftplib) lives there too, makes a test CA, an
intermediate and a server certificate with the openssl command line, a users
file with tools/ftps-users, and starts:

  * the dataplane: FTPS_DATAPLANE_CMD if set, else tests/control/kernel-relay
    (a kernel-socket stand-in for the dataplane's relay mode, used only until
    that relay mode lands). The command is a template: {socket} is the
    control socket path, {addr} the server address, {ns} the namespace,
    {workers} the number of dataplane workers a test wants.
  * the control plane: FTPS_CONTROL_CMD if set (template with {config}),
    else $FTPS_BUILD_DIR/control/ftps-control -c {config}.

FTPS_SERVER_ADDR overrides the address clients connect to (default
198.18.0.1). Everything is removed at exit.
"""
import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from waiting import wait_for  # noqa: E402,F401  (tests call ftps_harness.wait_for)
from ftp_session_reuse import SessionReusingFTP  # noqa: E402,F401

CLONE_NEWNET = 0x40000000
SERVER = os.environ.get("FTPS_SERVER_ADDR", "198.18.0.1")
OTHER = "198.18.0.2"   # a second client address inside the namespace
THIRD = "198.18.0.3"
BUILD = os.environ.get("FTPS_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("FTPS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
PASSWORD = "s3cret-Pass"
# FTPS_REAL_DATAPLANE: the dataplane is ftps-dataplane on a tap (clients on
# its kernel end), not the kernel-socket stand-in (everything on lo).
REAL_DATAPLANE = bool(os.environ.get("FTPS_REAL_DATAPLANE"))
# Client addresses by role: SELF is where a client's connections come from
# by default, ALIEN another client address, SPARE a third one.  On lo the
# server's own address is the natural source; on the tap it is .2.
if REAL_DATAPLANE:
    SELF, ALIEN, SPARE = OTHER, THIRD, "198.18.0.4"
else:
    SELF, ALIEN, SPARE = SERVER, OTHER, THIRD


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, **kw)


def remove_stale_netns(name):
    if not os.path.exists("/run/netns/" + name):
        return
    r = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    run(["ip", "netns", "del", name], check=False, stderr=subprocess.DEVNULL)


def require(*tools):
    """Skip (exit 77, meson's skip code) without root or a needed client."""
    if os.geteuid() != 0:
        print("SKIP: integration tests need root (network namespaces)")
        sys.exit(77)
    for t in tools:
        if shutil.which(t) is None:
            print("SKIP: %s is not installed (tools/packages/control.txt)" % t)
            sys.exit(77)


class Env:
    def __init__(self, name, config=None, users=None, start=True, workers=1):
        require("ip", "openssl")
        self.workers = workers
        self.name = "ftpsctl-%s-%d" % (name, os.getpid())
        self.dir = tempfile.mkdtemp(prefix="ftpsctl-")
        os.chmod(self.dir, 0o755)
        self.procs = {}
        self.config_overrides = config or {}
        atexit.register(self.cleanup)
        # meson stops a test that times out with SIGTERM: exit through
        # atexit so the namespace and the processes go away too
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
        self._netns()
        self._certs()
        self._users(users or [("alice", "rwdnm"), ("bob", "rwdnm"), ("reader", "r")])
        self.write_config()
        if start:
            self.start_dataplane()
            self.start_control()

    # ---- namespace ----
    def _netns(self):
        # The name holds this process's id: a namespace of that name can
        # only be the leftover of a killed earlier test (pids wrap at
        # 32768 here); remove it and what still runs in it.
        remove_stale_netns(self.name)
        run(["ip", "netns", "add", self.name])
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open("/run/netns/" + self.name, os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        os.close(fd)
        run(["ip", "link", "set", "lo", "up"])
        if REAL_DATAPLANE:
            return  # the tap's kernel end gets the client addresses later
        for a in (SERVER, OTHER, THIRD):
            run(["ip", "addr", "add", a + "/32", "dev", "lo"], check=False)

    # ---- certificates (openssl command line) ----
    def _certs(self):
        d = self.dir
        o = lambda *a: run(["openssl"] + list(a), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        self.ca = os.path.join(d, "ca.pem")
        o("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", d + "/ca.key", "-out", self.ca, "-days", "2", "-subj", "/CN=FTPS Test Root CA",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(d + "/int.ext", "w") as f:
            f.write("basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")
        o("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", d + "/int.key", "-out", d + "/int.csr", "-subj", "/CN=FTPS Test Intermediate")
        o("x509", "-req", "-in", d + "/int.csr", "-CA", self.ca, "-CAkey", d + "/ca.key",
          "-CAcreateserial", "-out", d + "/int.pem", "-days", "2", "-extfile", d + "/int.ext")
        with open(d + "/srv.ext", "w") as f:
            f.write("subjectAltName=IP:%s,DNS:ftps.test\nextendedKeyUsage=serverAuth\n"
                    "basicConstraints=CA:FALSE\n" % SERVER)
        o("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=ftps.test")
        o("x509", "-req", "-in", d + "/server.csr", "-CA", d + "/int.pem", "-CAkey",
          d + "/int.key", "-CAcreateserial", "-out", d + "/server.pem", "-days", "2",
          "-extfile", d + "/srv.ext")
        self.chain = d + "/int.pem"
        # read by the unprivileged control process on reload
        for f in ("server.key", "server.pem", "int.pem"):
            os.chmod(os.path.join(d, f), 0o644)

    # ---- users and their roots ----
    def _users(self, users):
        self.users_file = os.path.join(self.dir, "users.txt")
        self.roots = {}
        tool = os.path.join(SOURCE, "tools", "ftps-users")
        env = dict(os.environ, FTPS_BUILD_DIR=BUILD)
        for name, perms in users:
            root = os.path.join(self.dir, "root-" + name)
            os.makedirs(root)
            self.roots[name] = root
            run([tool, "-f", self.users_file, "add", name, root, perms],
                input=(PASSWORD + "\n").encode(), env=env)
        os.chmod(self.users_file, 0o644)

    def chown_roots(self):
        for root in self.roots.values():
            for dp, dns, fns in os.walk(root):
                for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
                    os.lchown(n, 65534, 65534)

    def write_config(self, **more):
        self.config_overrides.update(more)
        self.socket = os.path.join(self.dir, "dataplane.sock")
        self.session_log = os.path.join(self.dir, "session.log")
        self.xferlog = os.path.join(self.dir, "xferlog")
        cfg = {
            "server": {"listen": SERVER + ":21", "implicit_listen": SERVER + ":990",
                       "dataplane_socket": self.socket, "run_as": "nobody",
                       "pasv_ports": "40000-40099"},
            "tls": {"certificate": self.dir + "/server.pem", "key": self.dir + "/server.key",
                    "chain": self.chain},
            "auth": {"users_file": self.users_file, "login_delay_ms": "300",
                     "max_failures": "3", "lockout_seconds": "60"},
            "limits": {"max_per_address": "32"},
            "log": {"session_log": self.session_log, "xferlog": self.xferlog, "level": "2"},
        }
        if not os.environ.get("FTPS_DATAPLANE_CMD"):
            # The kernel-socket stand-in relays only; it has no transfer
            # engine to take file bytes over (the real dataplane does).
            cfg["transfer"] = {"fast_path": "no"}
        for key, val in self.config_overrides.items():
            sec, k = key.split(".", 1)
            cfg.setdefault(sec, {})[k] = val
        self.config = os.path.join(self.dir, "control.ini")
        with open(self.config, "w") as f:
            for sec, kv in cfg.items():
                f.write("[%s]\n" % sec)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
        for p in (self.session_log, self.xferlog):
            open(p, "a").close()
            os.chown(p, 65534, 65534)

    # ---- processes ----
    def _spawn(self, key, cmd):
        logf = open(os.path.join(self.dir, key + ".log"), "ab")
        self.procs[key] = subprocess.Popen(cmd, stdout=logf, stderr=logf, shell=isinstance(cmd, str),
                                           start_new_session=True)

    def start_dataplane(self):
        tmpl = os.environ.get("FTPS_DATAPLANE_CMD")
        if tmpl:
            cmd = tmpl.format(socket=self.socket, addr=SERVER, ns=self.name,
                              workers=self.workers)
        else:
            cmd = [sys.executable, os.path.join(SOURCE, "tests/control/kernel-relay"),
                   "--socket", self.socket, "--workers", str(self.workers)]
        self._spawn("dataplane", cmd)
        # 30 s: the real dataplane's EAL start on a loaded 2-core machine
        # (the ASan build, other tests) took longer than the 10 s here before.
        for _ in range(600):
            if os.path.exists(self.socket):
                if REAL_DATAPLANE:
                    self._configure_tap()
                return
            time.sleep(0.05)
        raise RuntimeError("dataplane socket did not appear\n" + self.logs())

    def _configure_tap(self):
        """The real dataplane's tap: clients live on its kernel end."""
        for _ in range(600):
            if run(["ip", "link", "show", "ftps0"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.05)
        run(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], check=False)
        for a in (SELF, ALIEN, SPARE):
            run(["ip", "addr", "add", a + "/24", "dev", "ftps0"], check=False,
                stderr=subprocess.DEVNULL)
        run(["ip", "link", "set", "ftps0", "up"])

    def start_control(self, wait=True):
        self.chown_roots()
        tmpl = os.environ.get("FTPS_CONTROL_CMD")
        if tmpl:
            cmd = tmpl.format(config=self.config)
        else:
            cmd = [os.path.join(BUILD, "control/ftps-control"), "-c", self.config]
        self._spawn("control", cmd)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                with socket.create_connection((SERVER, 21), timeout=1) as s:
                    if s.recv(100).startswith(b"220"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready\n" + self.logs())

    def stop(self, key, sig=signal.SIGTERM):
        p = self.procs.pop(key, None)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def log_text(self, key="control"):
        p = os.path.join(self.dir, key + ".log")
        if not os.path.exists(p):
            return ""
        with open(p, errors="replace") as f:
            return f.read()

    def reload_control(self, timeout=30):
        """SIGHUP to the control plane, then waits until it has logged the
        outcome ("reloaded ..." or "reload refused: ...", written once the
        new configuration is in force or rejected): the reload is
        asynchronous, a fixed sleep raced it on a loaded machine.  Returns
        "reloaded", "refused" or None if neither was logged in time."""
        def counts():
            text = self.log_text("control")
            return text.count("ftps-control info: reloaded "), text.count("reload refused")
        before = counts()
        self.procs["control"].send_signal(signal.SIGHUP)

        def outcome():
            now = counts()
            if now[0] > before[0]:
                return "reloaded"
            if now[1] > before[1]:
                return "refused"
            return None
        return wait_for(outcome, timeout)

    def alive(self, key):
        p = self.procs.get(key)
        return p is not None and p.poll() is None

    def logs(self):
        out = []
        for key in ("dataplane", "control", "session"):
            p = os.path.join(self.dir, key + ".log")
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append("==== %s ====\n%s" % (key, f.read()[-6000:]))
        return "\n".join(out)

    def cleanup(self):
        for key in list(self.procs):
            self.stop(key)
        run(["ip", "netns", "del", self.name], check=False, stderr=subprocess.DEVNULL)
        if os.environ.get("FTPS_KEEP_TMP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Checker:
    """Counts checks; a failing check prints and the run ends non-zero."""

    def __init__(self, env):
        self.env, self.passed, self.failed = env, 0, 0

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed += 1
            print("FAIL %s" % what)
        sys.stdout.flush()
        return cond

    def finish(self):
        # Stop the control plane so LeakSanitizer runs, then fail on any
        # sanitizer report in its log.
        self.env.stop("control")
        log = os.path.join(self.env.dir, "control.log")
        text = open(log, errors="replace").read() if os.path.exists(log) else ""
        self.ok("Sanitizer" not in text and "runtime error:" not in text,
                "no sanitizer report from ftps-control")
        if self.failed:
            print(self.env.logs())
        print("%d checks passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed or self.passed == 0 else 0)


def curl(args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout)] + args,
                          capture_output=True, text=True)
