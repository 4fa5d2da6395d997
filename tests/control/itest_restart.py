"""Restarts: the control plane killed and restarted while a client is
connected (the client gets a clean failure, a new login succeeds), then the
same for the dataplane (the control plane's sessions end, it reconnects when
the dataplane is back, and a new login succeeds)."""
import ftplib
import os
import signal
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

env = h.Env("restart")
ck = h.Checker(env)
CTX = ssl.create_default_context(cafile=env.ca)


def login():
    f = h.SessionReusingFTP(context=CTX, timeout=10)
    f.connect(h.SERVER, 21)
    f.login("alice", h.PASSWORD)
    f.prot_p()
    return f


def fails_cleanly(f):
    t0 = time.time()
    try:
        f.voidcmd("NOOP")
        return False, "NOOP still answered"
    except (EOFError, OSError, ssl.SSLError, ftplib.Error) as e:
        return time.time() - t0 < 5, type(e).__name__


# 1. control plane killed with a client connected
f = login()
ck.ok(f.nlst() == [], "logged in and listed before the kill")
env.stop("control", signal.SIGKILL)
time.sleep(0.3)
ok, how = fails_cleanly(f)
ck.ok(ok, "client sees a prompt, clean failure after the control plane dies (%s)" % how)
ck.ok(env.alive("dataplane"), "dataplane survives the control plane's death")
env.start_control()
f = login()
ck.ok(f.nlst() == [] and f.voidcmd("NOOP").startswith("200"), "new login after the restart")
f.quit()

# 2. dataplane killed with a client connected
f = login()
env.stop("dataplane", signal.SIGKILL)
time.sleep(0.3)
ok, how = fails_cleanly(f)
ck.ok(ok, "client sees a clean failure after the dataplane dies (%s)" % how)
ck.ok(env.alive("control"), "control plane survives the dataplane's death")
time.sleep(0.5)
env.start_dataplane()
env.wait_ready(timeout=15)  # the control plane reconnects and listens again
f = login()
ck.ok(f.nlst() == [], "new login after the dataplane is back")
f.quit()
ctl_log = open(os.path.join(env.dir, "control.log")).read()
ck.ok("dataplane link 0 lost" in ctl_log and ctl_log.count("dataplane link 0 up") >= 2,
      "control plane logged the loss and the reconnection")

# 3. a malformed IPC message from the dataplane side closes the link, no crash
env.stop("dataplane")
path = env.socket
try:
    os.unlink(path)
except FileNotFoundError:
    pass
ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ls.bind(path)
os.chmod(path, 0o666)
ls.listen(1)
ls.settimeout(5)
c, _ = ls.accept()
c.settimeout(5)
hello = c.recv(4096)
ck.ok(len(hello) == 64, "control plane sent its 64-byte HELLO")
c.send(b"\x01\x00\x07\x00" + b"\x00" * 60)  # HELLO with version 7
try:
    closed = c.recv(4096) == b""
except ConnectionResetError:
    closed = True
ck.ok(closed, "a malformed message closes the link")
c.close()
ls.close()
os.unlink(path)
time.sleep(0.3)
ck.ok(env.alive("control"), "control plane did not crash on the malformed message")
ctl_log = open(os.path.join(env.dir, "control.log")).read()
ck.ok("malformed message (unsupported version" in ctl_log, "the malformed message is logged")
env.start_dataplane()
env.wait_ready(timeout=15)
f = login()
ck.ok(f.nlst() == [], "service resumes with a good dataplane")
f.quit()
ck.finish()
