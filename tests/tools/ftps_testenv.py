"""Test environment for the client tests: a private network namespace on
198.18.0.0/15 with Debian's vsftpd and a temporary local user.

Everything created here is removed by close(), which also runs at exit and on
SIGINT/SIGTERM, so no namespace, process, user or folder outlives a test."""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SERVER_IP = "198.18.7.1"
OTHER_IP = "198.18.7.2"  # also ours, but not in the certificate
VSFTPD = "/usr/sbin/vsftpd"


# Sanitizer reports seen in any tool's output (build-asan); tests fail on any.
SANITIZER_REPORTS = []


def scan(text):
    """Remember sanitizer reports (ASan, LSan, UBSan) found in a tool's output."""
    for marker in ("Sanitizer", "runtime error:"):
        if marker in (text or ""):
            SANITIZER_REPORTS.append(text[text.index(marker) - 200 if text.index(marker) > 200 else 0:][:3000])
            return


def build_dir():
    return os.environ.get("FTPS_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))


def tool(name):
    sub = "keys" if name == "ftps-keys" else "client"
    return os.path.join(build_dir(), "tools", sub, name)


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


class Checks:
    """A test's checks: prints ok/FAIL lines, counts failures; finish() adds
    the sanitizer check over every tool run and gives the exit status."""

    def __init__(self, name):
        self.name = name
        self.failures = 0

    def __call__(self, cond, what, detail=""):
        if cond:
            print(f"ok: {what}")
        else:
            self.failures += 1
            print(f"FAIL: {what}\n{detail}")
        sys.stdout.flush()  # interleaves correctly with the tools' own output

    def finish(self):
        self(not SANITIZER_REPORTS, "no sanitizer reports from any tool run", "\n".join(SANITIZER_REPORTS))
        print(f"{self.name}: {self.failures} failures")
        return 1 if self.failures else 0


def run_with_env(name, run_all, check, needs_vsftpd=True, **env_args):
    """main() of a test against vsftpd in its own namespace: 77 (skip) when
    not root or vsftpd is missing, else run_all(env) and the exit status."""
    if os.geteuid() != 0 or (needs_vsftpd and not os.path.exists(VSFTPD)):
        print("needs root (network namespace)" + (" and vsftpd (tools/packages/tools.txt)"
                                                  if needs_vsftpd else ""))
        return 77
    e = Env(name, **env_args)
    try:
        run_all(e)
    finally:
        e.close()
    return check.finish()


class Env:
    def __init__(self, tag, local_user=True):
        self.tag = tag
        self.ns = f"ftpsk{tag}{os.getpid()}"
        self.user = f"ftk{tag}{os.getpid()}"[:30]
        self.password = "pw-" + os.urandom(6).hex()
        self.tmp = tempfile.mkdtemp(prefix=f"ftps-{tag}-")
        os.chmod(self.tmp, 0o755)
        self.root = os.path.join(self.tmp, "srv")
        self.servers = []
        self.closed = False
        self.user_added = False
        self.ns_added = False
        self.local_user = local_user
        atexit.register(self.close)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _on_signal(self, signum, frame):
        self.close()
        raise SystemExit(128 + signum)

    def _remove_stale(self):
        """The namespace, /etc/netns entry and user names hold this
        process's id: if they exist, a killed earlier test with the same id
        (pids wrap at 32768 here) left them, and they would make
        `ip netns add`, makedirs and useradd fail."""
        if os.path.exists(os.path.join("/run/netns", self.ns)):
            self._remove_namespace()
        shutil.rmtree(os.path.join("/etc/netns", self.ns), ignore_errors=True)
        if self.local_user and subprocess.run(["id", "-u", self.user],
                                              capture_output=True).returncode == 0:
            subprocess.run(["pkill", "-KILL", "-u", self.user], capture_output=True)
            subprocess.run(["userdel", self.user], capture_output=True)

    def _remove_namespace(self):
        """Kills whatever still runs inside the namespace, then deletes it."""
        r = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True, text=True)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)

    def _setup(self):
        self._remove_stale()
        run(["ip", "netns", "add", self.ns])
        self.ns_added = True
        # `ip netns exec` bind-mounts /etc/netns/NAME/hosts over /etc/hosts, so
        # names resolve inside our namespace only.
        self.etc = os.path.join("/etc/netns", self.ns)
        os.makedirs(self.etc)
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write(f"127.0.0.1 localhost\n{SERVER_IP} ftp.test wrong.test\n")
        run(["ip", "-n", self.ns, "link", "set", "lo", "up"])
        for ip in (SERVER_IP, OTHER_IP):
            run(["ip", "-n", self.ns, "addr", "add", ip + "/32", "dev", "lo"])
        os.makedirs(self.root)
        os.makedirs(os.path.join(self.tmp, "empty"))
        if self.local_user:
            # A real local user: vsftpd authenticates through PAM as in production.
            run(["useradd", "-M", "-d", self.root, "-s", "/bin/sh", self.user])
            self.user_added = True
            run(["chpasswd"], input=f"{self.user}:{self.password}\n")
            shutil.chown(self.root, self.user, self.user)
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)

    def client_env(self):
        env = dict(os.environ)
        env["HOME"] = self.home
        env["XDG_CONFIG_HOME"] = os.path.join(self.home, ".config")
        env["FTPS_PASSWORD"] = self.password
        return env

    def ns_cmd(self, cmd):
        return ["ip", "netns", "exec", self.ns] + cmd

    def client_cmd(self, *args):
        return self.ns_cmd([tool("ftps-client"), "-u", self.user] + list(args))

    def client(self, *args, check=False, timeout=60, env=None):
        r = subprocess.run(self.client_cmd(*args), capture_output=True, text=True,
                           timeout=timeout, env=env or self.client_env(), check=check)
        scan(r.stderr)
        return r

    def start_vsftpd(self, cert, key, port=21, implicit=False, ip=SERVER_IP, extra=""):
        name = f"vsftpd-{port}"
        if ":" in ip:  # IPv6 (the namespace's own ::1)
            listen = f"listen=NO\nlisten_ipv6=YES\nlisten_address6={ip}"
        else:
            listen = f"listen=YES\nlisten_ipv6=NO\nlisten_address={ip}"
        conf = os.path.join(self.tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write(f"""{listen}
listen_port={port}
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root={self.root}
userlist_enable=NO
pam_service_name=vsftpd
secure_chroot_dir={self.tmp}/empty
seccomp_sandbox=NO
ssl_enable=YES
implicit_ssl={'YES' if implicit else 'NO'}
rsa_cert_file={cert}
rsa_private_key_file={key}
ssl_ciphers=HIGH
force_local_logins_ssl=YES
force_local_data_ssl=YES
require_ssl_reuse=YES
pasv_enable=YES
pasv_min_port=30000
pasv_max_port=31000
max_clients=100
max_per_ip=100
xferlog_enable=YES
vsftpd_log_file={self.tmp}/{name}.log
{extra}""")
        proc = subprocess.Popen(self.ns_cmd([VSFTPD, conf]), stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(self.tmp, name + ".err"), "w"),
                                start_new_session=True)
        self.servers.append(proc)
        deadline = time.time() + 10
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"vsftpd exited: {open(os.path.join(self.tmp, name + '.err')).read()}")
            r = subprocess.run(self.ns_cmd(["bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}"]),
                               capture_output=True)
            if r.returncode == 0:
                return proc
            time.sleep(0.05)
        raise RuntimeError("vsftpd did not start listening")

    def start_fake(self, cert, key, port=2121):
        """The fake FTPS server (HASH, MLSD, no EPSV) in the namespace."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_ftps_server.py")
        proc = subprocess.Popen(self.ns_cmd([sys.executable, script, SERVER_IP, str(port), self.root, cert, key]),
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "fake.err"), "w"),
                                start_new_session=True)
        self.servers.append(proc)
        self._wait_listening(proc, SERVER_IP, port)
        return proc

    def _wait_listening(self, proc, ip, port):
        deadline = time.time() + 10
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("server exited at start")
            r = subprocess.run(self.ns_cmd(["bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}"]),
                               capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("server did not start listening")

    def stop_vsftpd(self, proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        self.servers.remove(proc)

    def close(self):
        if self.closed:
            return
        self.closed = True
        for proc in list(self.servers):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        self.servers = []
        if self.ns_added:
            self._remove_namespace()  # with any session children still in it
            shutil.rmtree(os.path.join("/etc/netns", self.ns), ignore_errors=True)
        if self.user_added:
            subprocess.run(["pkill", "-KILL", "-u", self.user], capture_output=True)
            subprocess.run(["userdel", self.user], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def keys(*args, check=True, **kw):
    r = subprocess.run([tool("ftps-keys")] + list(args), capture_output=True, text=True, **kw)
    scan(r.stderr)
    if check and r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, r.args, r.stdout, r.stderr)
    return r


def run_pty(cmd, env, answers, timeout=30):
    """Run cmd on a pseudo-terminal (stdin, stdout, stderr), answering each
    (prompt, reply) in order when the prompt text appears. Returns (exit
    status, everything printed)."""
    import pty
    import select
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    out = b""
    pending = list(answers)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                out += chunk
                if pending and pending[0][0].encode() in out:
                    # Let the program turn echo off after its prompt.
                    time.sleep(0.2)
                    os.write(master, pending.pop(0)[1].encode())
                    out += b"<<answered>>"
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
        rc = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    scan(out.decode(errors="replace"))
    return rc, out.decode(errors="replace")
