"""Every refusal the issue lists, each checked, with the server staying up
and other sessions unaffected:
USER before AUTH TLS; PROT C / data without PROT P; a data connection from
another address; a data connection resuming another login's TLS session;
PORT/EPRT to another address or a low port; paths escaping the root through
'..', an absolute path and symlinks; wrong password (delay, then lockout);
too many sessions per address; an overlong command line; garbage and binary
bytes on the control connection."""
import ftplib
import os
import random
import re
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

env = h.Env("refusals")
ck = h.Checker(env)
root = env.roots["alice"]
os.makedirs(os.path.join(root, "inside"))
with open(os.path.join(root, "inside", "ok.txt"), "w") as f:
    f.write("fine\n")
os.symlink("/", os.path.join(root, "abs-escape"))
os.symlink("../root-bob", os.path.join(root, "rel-escape"))
os.symlink("inside", os.path.join(root, "good-link"))
with open(os.path.join(env.roots["bob"], "bob-secret.txt"), "w") as f:
    f.write("bob only\n")
env.chown_roots()
CTX = ssl.create_default_context(cafile=env.ca)


def login(user="alice", src=None, prot=True):
    f = h.SessionReusingFTP(context=CTX, timeout=15)
    f.connect(h.SERVER, 21, source_address=(src, 0) if src else None)
    f.login(user, h.PASSWORD)
    if prot:
        f.prot_p()
    return f


def expect(fn, code, what):
    try:
        r = fn()
        return ck.ok(False, "%s: expected %s, got %r" % (what, code, r))
    except (ftplib.error_perm, ftplib.error_temp, ftplib.error_reply) as e:
        return ck.ok(str(e).startswith(code), "%s -> %s" % (what, e))


def plain(src=None):
    s = socket.create_connection((h.SERVER, 21), timeout=10,
                                 source_address=(src, 0) if src else None)
    fh = s.makefile("rb")
    return s, fh


def read_reply(fh):
    line = fh.readline().decode(errors="replace")
    if len(line) > 3 and line[3] == "-":
        code = line[:3]
        while True:
            nxt = fh.readline().decode(errors="replace")
            if not nxt or nxt.startswith(code + " "):
                break
    return line


bystander = login("bob")  # an unrelated session that must stay unaffected

# 1. USER before AUTH TLS
s, fh = plain()
read_reply(fh)
s.sendall(b"USER alice\r\n")
ck.ok(read_reply(fh).startswith("530"), "USER before AUTH TLS refused with 530")
s.sendall(b"PASS x\r\n")
ck.ok(read_reply(fh).startswith("530"), "PASS before AUTH TLS refused with 530")
s.sendall(b"LIST\r\n")
ck.ok(read_reply(fh).startswith("530"), "LIST before AUTH TLS refused")
s.close()

# 2. PROT C and data without PROT P
f = login(prot=False)
f.voidcmd("PBSZ 0")
expect(lambda: f.voidcmd("PROT C"), "534", "PROT C when PROT P is required")
expect(lambda: f.nlst(), "521", "LIST with PROT C (no PROT P)")
f.prot_p()
ck.ok(f.nlst() == ["abs-escape", "good-link", "inside", "rel-escape"] or
      sorted(f.nlst()) == ["abs-escape", "good-link", "inside", "rel-escape"],
      "after PROT P the listing works")
f.quit()

# 3. a data connection from another address
f = login()
resp = f.sendcmd("PASV")
nums = [int(x) for x in re.search(r"\((\d+,\d+,\d+,\d+,\d+,\d+)\)", resp).group(1).split(",")]
port = nums[4] * 256 + nums[5]
# refused at connect (a dataplane answering the SYN with RST) or right after
try:
    thief = socket.create_connection((h.SERVER, port), timeout=5, source_address=(h.ALIEN, 0))
    try:
        thief.settimeout(3)
        stolen = thief.recv(100)
    except (ConnectionResetError, socket.timeout):
        stolen = b""
    thief.close()
except (ConnectionResetError, ConnectionRefusedError):
    stolen = b""
ck.ok(stolen == b"", "data connection from %s gets nothing" % h.ALIEN)
conn = socket.create_connection((h.SERVER, port), timeout=5, source_address=(h.SELF, 0))
f.putcmd("NLST inside")
ck.ok(f.getresp().startswith("150"), "the rightful client still gets 150")
tconn = CTX.wrap_socket(conn, server_hostname=h.SERVER, session=f.sock.session)
got = b""
while True:
    b = tconn.recv(4096)
    if not b:
        break
    got += b
tconn.close()
ck.ok(got == b"ok.txt\r\n" and f.voidresp().startswith("226"),
      "the rightful client's listing completes after the intrusion")
logs = open(os.path.join(env.dir, "dataplane.log")).read() + open(env.session_log).read()
if h.REAL_DATAPLANE:
    # The real dataplane refuses it in TCP (the listener takes only the
    # client's address): the SYN is answered with a reset and counted.
    import json, subprocess as sp
    tel = sp.run(["dpdk-telemetry.py", "-f", env.name], input="/ftps/tcp\n",
                 capture_output=True, text=True).stdout
    tcp = next((json.loads(l)["/ftps/tcp"] for l in tel.splitlines()
                if l.strip().startswith("{") and "/ftps/tcp" in l), {})
    ck.ok(tcp.get("tx_rst", 0) >= 1, "the intrusion is refused with a reset and counted")
else:
    ck.ok(("refused connection from %s" % h.ALIEN) in logs or
          ("refused data connection from other address %s" % h.ALIEN) in logs,
          "the intrusion is logged")
f.quit()

# 4. a data connection resuming another login's TLS session
alice = login("alice")
bob = login("bob")


def data_with_session(ftp, session, cmd="NLST", src=None):
    """A passive data connection wrapped with an explicitly chosen session."""
    hp = ftplib.parse227(ftp.sendcmd("PASV"))
    raw = socket.create_connection((h.SERVER, hp[1]), timeout=10,
                                   source_address=(src, 0) if src else None)
    ftp.putcmd(cmd)
    r = ftp.getresp()
    if not r.startswith("150"):
        raw.close()
        raise ftplib.error_reply(r)
    try:
        t = CTX.wrap_socket(raw, server_hostname=h.SERVER, session=session)
        data = b""
        while True:
            b = t.recv(4096)
            if not b:
                break
            data += b
        t.close()
    except (ssl.SSLError, OSError):
        data = None
    return data, ftp.getresp()


try:
    data, r = data_with_session(bob, alice.sock.session)
    ck.ok(r.startswith("425") and "another login" in r and not data,
          "bob's data connection with alice's TLS session refused: %s" % r.strip())
except ftplib.Error as e:
    ck.ok(str(e).startswith("425"), "bob's data connection with alice's session refused: %s" % e)
alice2 = login("alice")
data, r = data_with_session(alice2, alice.sock.session)
ck.ok(r.startswith("226") and data is not None and b"inside" in data,
      "alice's second connection may resume alice's session (rclone case)")
alice_other = login("alice", src=h.ALIEN)
try:
    data, r = data_with_session(alice_other, alice.sock.session, src=h.ALIEN)
    ok = r.startswith("425")
except ftplib.Error as e:
    ok, r = str(e).startswith("425"), str(e)
ck.ok(ok, "alice from another address cannot resume alice's session: %s" % r.strip())
for x in (alice, bob, alice2, alice_other):
    x.quit()

# 5. PORT / EPRT to another address or a low port
f = login()
alien_port = h.ALIEN.replace(".", ",")
self_port = h.SELF.replace(".", ",")
expect(lambda: f.sendcmd("PORT %s,200,1" % alien_port), "501", "PORT to another address")
expect(lambda: f.sendcmd("PORT %s,0,80" % self_port), "501", "PORT to port 80")
expect(lambda: f.sendcmd("EPRT |1|%s|5000|" % h.ALIEN), "501", "EPRT to another address")
expect(lambda: f.sendcmd("EPRT |1|198.18.0.1|21|"), "501", "EPRT to port 21")
expect(lambda: f.sendcmd("EPRT |2|::1|5000|"), "522", "EPRT IPv6")
f.set_pasv(False)
ck.ok(sorted(f.nlst("inside")) == ["ok.txt"], "active mode (PORT to the client itself) works")
f.set_pasv(True)
f.quit()

# 6. paths escaping the root
f = login()
f.cwd("../../../..")
ck.ok(f.pwd() == "/", "CWD ../../../.. stays at /")
expect(lambda: f.size("../../../etc/passwd"), "550", "SIZE ../../../etc/passwd")
expect(lambda: f.size("/etc/passwd"), "550", "SIZE /etc/passwd (absolute)")
expect(lambda: f.cwd("/abs-escape"), "550", "CWD into a symlink to /")
expect(lambda: f.size("abs-escape/etc/passwd"), "550", "SIZE through a symlink to /")
expect(lambda: f.nlst("rel-escape"), "550", "LIST through a relative symlink out of the root")
expect(lambda: f.retrbinary("RETR rel-escape/bob-secret.txt", lambda b: None), "550",
       "RETR through a relative symlink out of the root")
expect(lambda: f.sendcmd("MLST abs-escape/etc"), "550", "MLST through a symlink")
expect(lambda: f.rename("inside/ok.txt", "abs-escape/tmp/stolen"), "550",
       "rename into a symlink out of the root")
f.cwd("good-link")
ck.ok(f.nlst() == ["ok.txt"], "a symlink inside the root works")
f.quit()
log = open(env.session_log).read()
ck.ok("escape: 550" in log, "escapes logged as refused")

# 7. wrong password: delay, then lockout (max_failures 3, 300 ms delay)
times = []
for i in range(3):
    g = h.SessionReusingFTP(context=CTX, timeout=15)
    g.connect(h.SERVER, 21, source_address=(h.SPARE, 0))
    g.auth()
    t0 = time.time()
    try:
        g.login("reader", "wrong-%d" % i)
        ck.ok(False, "wrong password accepted")
    except ftplib.error_perm as e:
        times.append(time.time() - t0)
        ck.ok(str(e).startswith("530"), "wrong password %d -> 530" % (i + 1))
    g.close()
ck.ok(min(times) >= 0.3, "failed logins delayed (min %.2f s)" % min(times))
g = h.SessionReusingFTP(context=CTX, timeout=15)
g.connect(h.SERVER, 21, source_address=(h.SPARE, 0))
g.auth()
try:
    g.login("reader", h.PASSWORD)
    ck.ok(False, "locked-out user logged in")
except ftplib.error_perm as e:
    ck.ok(str(e).startswith("530"), "after 3 failures the right password is refused (locked)")
g.close()
ck.ok("locked out" in open(env.session_log).read(), "lockout logged")
f = login("alice")
ck.ok(f.voidcmd("NOOP").startswith("200"), "other users and addresses unaffected by the lockout")
f.quit()

# 8. overlong command line
f = login()
f.sock.sendall(b"NOOP " + b"A" * 5000 + b"\r\n")
expect(lambda: f.getresp(), "500", "overlong command line")
ck.ok(f.voidcmd("NOOP").startswith("200"), "session continues after the overlong line")

# 9. garbage and binary bytes on the control connection (TLS)
rnd = random.Random(7)
for i in range(20):
    junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
    junk = junk.replace(b"\n", b"").replace(b"\r", b"")
    f.sock.sendall(junk + b"\r\n")
    r = ""
    try:
        r = f.getresp()
    except ftplib.Error as e:
        r = str(e)
    if not r.startswith("5"):
        ck.ok(False, "garbage %d answered with %r" % (i, r))
        break
else:
    ck.ok(True, "20 binary garbage lines each answered with 5xx")
ck.ok(f.voidcmd("NOOP").startswith("200"), "session alive after garbage")
f.quit()
s, fh = plain()
read_reply(fh)
s.sendall(b"\x00\xff\xfe\x16\x03\x01garbage\r\n\x80\x81\r\n")
ck.ok(read_reply(fh).startswith("500") and read_reply(fh).startswith("500"),
      "binary bytes before TLS get 500")
s.sendall(os.urandom(100000))  # no line end in sight: bounded, then dropped or 500
time.sleep(0.5)
s.close()
ck.ok(env.alive("control"), "control plane still up after garbage")
ck.ok(bystander.voidcmd("NOOP").startswith("200") and sorted(bystander.nlst()) == ["bob-secret.txt"],
      "the bystander session is unaffected")
bystander.quit()

# 10. too many sessions per address (restart with max_per_address = 3)
env.stop("control")
env.write_config(**{"limits.max_per_address": "3"})
env.start_control()
held = [plain(h.ALIEN) for _ in range(3)]
ck.ok(all(read_reply(fh).startswith("220") for _, fh in held), "3 sessions from one address")
s, fh = plain(h.ALIEN)
ck.ok(read_reply(fh).startswith("421"), "the 4th session from that address gets 421")
s.close()
f = login("alice")
ck.ok(f.voidcmd("NOOP").startswith("200"), "another address still gets in")
f.quit()
for s, _ in held:
    s.close()
ck.ok(env.alive("control"), "control plane up at the end")
ck.finish()
