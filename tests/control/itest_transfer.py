"""The temporary relay transfer path (transfer_relay.c, replaced by issue 6's
fast path for files): STOR, APPE, STOU, REST STOR, RETR, ABOR during a
download (426 then 226), an upload ending without close_notify reported as
a possible truncation (426, partial file kept), xferlog lines."""
import ftplib
import hashlib
import io
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

env = h.Env("transfer", config={"limits.data_timeout": "2"})
ck = h.Checker(env)
root = env.roots["alice"]
big = os.urandom(8 << 20)
with open(os.path.join(root, "big.bin"), "wb") as f:
    f.write(big)
with open(os.path.join(root, "sparse.bin"), "wb") as f:
    f.truncate(256 << 20)  # sparse: large without costing disk or time
env.chown_roots()
CTX = ssl.create_default_context(cafile=env.ca)


f = h.SessionReusingFTP(context=CTX, timeout=20)
f.connect(h.SERVER, 21)
f.login("alice", h.PASSWORD)
f.prot_p()

got = bytearray()
f.retrbinary("RETR big.bin", got.extend)
ck.ok(hashlib.sha256(got).digest() == hashlib.sha256(big).digest(), "8 MiB RETR byte-exact")
f.storbinary("STOR up.bin", io.BytesIO(b"a" * 1000))
f.storbinary("APPE up.bin", io.BytesIO(b"b" * 500))
ck.ok(open(os.path.join(root, "up.bin"), "rb").read() == b"a" * 1000 + b"b" * 500, "STOR + APPE")
f.storbinary("STOR up.bin", io.BytesIO(b"c" * 300), rest=800)
ck.ok(open(os.path.join(root, "up.bin"), "rb").read() == b"a" * 800 + b"c" * 300,
      "REST 800 + STOR resumes at the offset")
conn = f.transfercmd("STOU")

conn.sendall(b"unique")
conn.unwrap()
conn.close()
r = f.voidresp()
stou = [n for n in os.listdir(root) if n.startswith("ftps.")]
ck.ok(r.startswith("226") and len(stou) == 1 and
      open(os.path.join(root, stou[0]), "rb").read() == b"unique", "STOU stores a unique name")
expect_size = f.size("big.bin")
ck.ok(expect_size == len(big), "SIZE of an 8 MiB file")

# ABOR during a download: 426 then 226, the session continues
conn = f.transfercmd("RETR big.bin")
first = conn.recv(16384)
f.sock.sendall(b"ABOR\r\n")
r1 = f.getline()
r2 = f.getline()
try:
    while conn.recv(65536):
        pass
except (ssl.SSLError, OSError):
    pass
conn.close()
ck.ok(len(first) > 0 and r1.startswith("426") and r2.startswith("226"),
      "ABOR mid-download -> %s / %s" % (r1.strip(), r2.strip()))
ck.ok(f.voidcmd("NOOP").startswith("200") and f.nlst("big.bin") == ["big.bin"],
      "session usable after ABOR")

# a client that stops reading: 426 after data_timeout (2 s) without progress
conn = f.transfercmd("RETR sparse.bin")
conn.recv(1000)
f.sock.settimeout(15)
try:
    r = f.getresp()
except ftplib.Error as e:
    r = str(e)
conn.close()
ck.ok(r.startswith("426") and "stalled" in r, "stalled download -> %s" % r.strip())
ck.ok(f.voidcmd("NOOP").startswith("200"), "session usable after the stall")

# upload ending with FIN but without close_notify: possible truncation
conn = f.transfercmd("STOR trunc.bin")
conn.sendall(b"z" * 50000)
raw = socket.socket(fileno=os.dup(conn.fileno()))
conn.close()  # no unwrap(): no close_notify
raw.shutdown(socket.SHUT_RDWR)
raw.close()
try:
    r = f.voidresp()
except ftplib.Error as e:
    r = str(e)
ck.ok(r.startswith("426") and "close_notify" in r, "upload without close_notify -> %s" % r.strip())
path = os.path.join(root, "trunc.bin")
ck.ok(os.path.exists(path) and 0 < os.path.getsize(path) <= 50000, "partial file kept for REST")
f.quit()
xfer = open(env.xferlog).read().splitlines()
ck.ok(any(" big.bin " not in l and "/big.bin b _ o r alice ftp 0 * c" in l for l in xfer),
      "xferlog: completed download")
ck.ok(any("/trunc.bin b _ i r alice ftp 0 * i" in l for l in xfer),
      "xferlog: incomplete upload marked 'i'")
ck.finish()
