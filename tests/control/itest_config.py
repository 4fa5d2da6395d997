"""Configuration: a bad config or users file is refused at start with
file:line: reason; -t checks a config; the process drops root; SIGHUP
reloads users and certificates without dropping sessions (ticket keys carry
over, so an existing session's data connections still resume); a broken
reload is refused and the old settings stay."""
import hashlib
import os
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

env = h.Env("config")
ck = h.Checker(env)
binary = os.path.join(h.BUILD, "control/ftps-control")

r = subprocess.run([binary, "-c", env.config, "-t"], capture_output=True, text=True)
ck.ok(r.returncode == 0 and "OK (3 users)" in r.stdout, "-t accepts the test config")
bad = os.path.join(env.dir, "bad.ini")
with open(env.config) as f:
    lines = f.read().splitlines()
lines.insert(3, "pasv_ports = 70000-80000")
with open(bad, "w") as f:
    f.write("\n".join(lines) + "\n")
r = subprocess.run([binary, "-c", bad], capture_output=True, text=True, timeout=10)
ck.ok(r.returncode != 0 and "%s:4: pasv_ports" % bad in r.stderr,
      "bad config refused with file:line: reason (%s)" % r.stderr.strip())
with open(bad, "w") as f:
    f.write("[tls]\nsession_reuse = required\n[oops\n")
r = subprocess.run([binary, "-c", bad], capture_output=True, text=True, timeout=10)
ck.ok(r.returncode != 0 and "%s:3:" % bad in r.stderr, "syntax error refused with its line")
bad_users = os.path.join(env.dir, "bad-users.txt")
with open(bad_users, "w") as f:
    f.write("# ok\nmallory:plaintext:/tmp:r\n")
with open(bad, "w") as f:
    f.write(open(env.config).read().replace(env.users_file, bad_users))
r = subprocess.run([binary, "-c", bad], capture_output=True, text=True, timeout=10)
ck.ok(r.returncode != 0 and "%s:2: bad password hash" % bad_users in r.stderr,
      "plain-text password in the users file refused")

def with_tls(extra):
    with open(bad, "w") as f:
        f.write(open(env.config).read().replace("[tls]\n", "[tls]\n" + extra, 1))
    return subprocess.run([binary, "-c", bad], capture_output=True, text=True, timeout=10)


r = with_tls("client_crl = %s\n" % env.ca)
ck.ok(r.returncode != 0 and "client_crl needs client_ca" in r.stderr,
      "a CRL without a client CA refused (%s)" % r.stderr.strip())
r = with_tls("client_ca = %s\nclient_crl = %s\n" % (env.ca, env.ca))
ck.ok(r.returncode != 0 and "no PEM CRL in the file" in r.stderr,
      "a client_crl file holding no CRL refused (%s)" % r.stderr.strip())
r = with_tls("client_ca = %s\nclient_crl = %s\n" % (env.ca, bad + ".missing"))
ck.ok(r.returncode != 0 and "client_crl: cannot read" in r.stderr,
      "a missing client_crl file refused (%s)" % r.stderr.strip())

def with_server(extra):
    with open(bad, "w") as f:
        f.write(open(env.config).read().replace("[server]\n", "[server]\n" + extra, 1))
    return subprocess.run([binary, "-c", bad], capture_output=True, text=True, timeout=10)


for value in ("100", "-1", "high"):
    r = with_server("realtime_priority = %s\n" % value)
    ck.ok(r.returncode != 0 and "realtime_priority: expected 0 (normal scheduling) to 99, got '%s'"
          % value in r.stderr, "realtime_priority = %s refused (%s)" % (value, r.stderr.strip()))

pid = env.procs["control"].pid
status = open("/proc/%d/status" % pid).read()
uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
ck.ok(uid_line.split()[1:] == ["65534"] * 4, "control plane runs as nobody: %s" % uid_line)

CTX = ssl.create_default_context(cafile=env.ca)


def login(user, ver=None, no_ticket=False):
    ctx = CTX
    if ver:
        ctx = ssl.create_default_context(cafile=env.ca)
        ctx.minimum_version = ctx.maximum_version = ver
        if no_ticket:  # TLS 1.2 session-ID resumption, as curl does it
            ctx.options |= ssl.OP_NO_TICKET
    f = h.SessionReusingFTP(context=ctx, timeout=10)
    f.connect(h.SERVER, 21)
    f.login(user, h.PASSWORD)
    f.prot_p()
    return f


def cert_digest(f):
    return hashlib.sha256(f.sock.getpeercert(binary_form=True)).hexdigest()


old13 = login("alice", ssl.TLSVersion.TLSv1_3)
old12 = login("alice", ssl.TLSVersion.TLSv1_2)
old12id = login("alice", ssl.TLSVersion.TLSv1_2, no_ticket=True)
ck.ok(old12id.nlst() == [], "TLS 1.2 session-ID resumption (no tickets) before the reload")
before = cert_digest(old13)
# new user and a new server certificate, then SIGHUP
os.makedirs(os.path.join(env.dir, "root-carol"))
os.chown(os.path.join(env.dir, "root-carol"), 65534, 65534)
subprocess.run([os.path.join(h.SOURCE, "tools/ftps-users"), "-f", env.users_file, "add", "carol",
                os.path.join(env.dir, "root-carol"), "r"], input=(h.PASSWORD + "\n").encode(),
               check=True, env=dict(os.environ, FTPS_BUILD_DIR=h.BUILD))
os.chmod(env.users_file, 0o644)
d = env.dir
subprocess.run(["openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/int.pem",
                "-CAkey", d + "/int.key", "-CAcreateserial", "-out", d + "/server.pem.new",
                "-days", "3", "-extfile", d + "/srv.ext"], check=True, capture_output=True)
os.chmod(d + "/server.pem.new", 0o644)
os.replace(d + "/server.pem.new", d + "/server.pem")
ck.ok(env.reload_control() == "reloaded", "SIGHUP: the control plane reloads")
c = login("carol")
ck.ok(c.voidcmd("NOOP").startswith("200"), "SIGHUP: a new user logs in")
ck.ok(cert_digest(c) != before, "SIGHUP: new connections get the new certificate")
c.quit()
for f, v in ((old13, "1.3"), (old12, "1.2"), (old12id, "1.2 session-ID")):
    ok = f.voidcmd("NOOP").startswith("200") and f.nlst() == []
    ck.ok(ok, "SIGHUP: an existing TLS %s session continues, data connections resume" % v)
    f.quit()
# a broken reload is refused; the server keeps going
good_config = open(env.config).read()
with open(env.config, "a") as f:
    f.write("[limits]\nmax_line = 5\n")
ck.ok(env.reload_control() == "refused", "SIGHUP with a broken configuration: reload refused")
ctl_log = open(os.path.join(env.dir, "control.log")).read()
ck.ok("reload refused" in ctl_log and ":max_line" not in ctl_log, "broken reload refused and logged")
f = login("alice")
ck.ok(f.voidcmd("NOOP").startswith("200") and env.alive("control"), "server fine after that")
# a further good reload with live sessions of every kind
f12 = login("alice", ssl.TLSVersion.TLSv1_2, no_ticket=True)
with open(env.config, "w") as fh:
    fh.write(good_config)
ck.ok(env.reload_control() == "reloaded", "second good reload")
ck.ok(f.nlst() == [] and f12.nlst() == [], "second reload: sessions keep resuming")
f.quit()
f12.quit()
ck.finish()
