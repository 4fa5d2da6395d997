"""curl against ftps-control: explicit (--ssl-reqd) and implicit (ftps://),
TLS 1.2 and 1.3: log in, LIST, MLSD, MKD, CWD, RNFR/RNTO, DELE, RMD, SIZE,
MDTM, and a download and upload through the temporary relay transfer path.
"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

h.require("curl")

env = h.Env("curl")
ck = h.Checker(env)
root = env.roots["alice"]
os.makedirs(os.path.join(root, "pub"))
payload = os.urandom(100000)
with open(os.path.join(root, "pub", "hello.bin"), "wb") as f:
    f.write(payload)
os.utime(os.path.join(root, "pub", "hello.bin"), (1700000000, 1700000000))
env.chown_roots()
auth = "alice:%s" % h.PASSWORD

for mode in ("explicit", "implicit"):
    for ver in ("1.2", "1.3"):
        tag = "%s-%s" % (mode, ver.replace(".", ""))
        base = ("ftp://%s/" if mode == "explicit" else "ftps://%s:990/") % h.SERVER
        opts = ["--cacert", env.ca, "-u", auth, "--tlsv" + ver, "--tls-max", ver]
        if mode == "explicit":
            opts.append("--ssl-reqd")
        r = h.curl(opts + ["-v", base])
        ck.ok(r.returncode == 0 and "pub" in r.stdout, "%s: login and LIST" % tag)
        ck.ok("SSL connection using TLSv%s" % ver in r.stderr, "%s: TLS %s negotiated" % (tag, ver))
        ck.ok(" 226 " in r.stderr or "< 226" in r.stderr, "%s: 226 after the listing" % tag)
        r = h.curl(opts + ["-X", "MLSD", base + "pub/"])
        ck.ok(r.returncode == 0 and "type=file;size=100000;modify=20231114221320;" in r.stdout
              and r.stdout.rstrip().endswith("hello.bin"), "%s: MLSD facts" % tag)
        d = "dir-" + tag
        r = h.curl(opts + ["-Q", "MKD " + d, base])
        ck.ok(r.returncode == 0 and os.path.isdir(os.path.join(root, d)), "%s: MKD" % tag)
        r = h.curl(opts + ["-Q", "CWD " + d, "-Q", "PWD", base])
        ck.ok(r.returncode == 0, "%s: CWD into the new directory" % tag)
        r = h.curl(opts + [base + d + "/"])
        ck.ok(r.returncode == 0 and r.stdout == "", "%s: CWD + LIST of an empty directory" % tag)
        r = h.curl(opts + ["-Q", "RNFR " + d, "-Q", "RNTO " + d + "-renamed", base])
        ck.ok(r.returncode == 0 and os.path.isdir(os.path.join(root, d + "-renamed"))
              and not os.path.exists(os.path.join(root, d)), "%s: RNFR/RNTO" % tag)
        r = h.curl(opts + ["-Q", "RMD " + d + "-renamed", base])
        ck.ok(r.returncode == 0 and not os.path.exists(os.path.join(root, d + "-renamed")),
              "%s: RMD" % tag)
        r = h.curl(opts + ["-I", base + "pub/hello.bin"])
        ck.ok(r.returncode == 0 and "Content-Length: 100000" in r.stdout, "%s: SIZE" % tag)
        ck.ok("Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT" in r.stdout, "%s: MDTM" % tag)
        r = h.curl(opts + ["-o", env.dir + "/dl-" + tag, base + "pub/hello.bin"])
        ok = r.returncode == 0 and open(env.dir + "/dl-" + tag, "rb").read() == payload
        ck.ok(ok, "%s: RETR byte-exact (relay transfer path)" % tag)
        up = env.dir + "/up-" + tag
        with open(up, "wb") as f:
            f.write(os.urandom(70001))
        r = h.curl(opts + ["-T", up, base + "pub/up-" + tag])
        stored = os.path.join(root, "pub", "up-" + tag)
        ok = r.returncode == 0 and os.path.exists(stored) and \
            hashlib.sha256(open(stored, "rb").read()).digest() == \
            hashlib.sha256(open(up, "rb").read()).digest()
        ck.ok(ok, "%s: STOR byte-exact (relay transfer path)" % tag)
        r = h.curl(opts + ["-Q", "DELE pub/up-" + tag, base])
        ck.ok(r.returncode == 0 and not os.path.exists(stored), "%s: DELE" % tag)

xfer = open(env.xferlog).read()
ck.ok(xfer.count(" alice ftp 0 * c") >= 8, "xferlog has the completed transfers")
ck.ok(env.alive("control") and env.alive("dataplane"), "both processes still up")
ck.finish()
