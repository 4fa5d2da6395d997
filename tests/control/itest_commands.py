"""Every command in the table with odd arguments, logged in over TLS: each
gets a well-formed reply (a 3-digit code; 150 is followed by a final reply),
the server stays up and the session stays usable."""
import ftplib
import os
import re
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

env = h.Env("commands", config={"limits.data_timeout": "1"})
ck = h.Checker(env)
os.makedirs(os.path.join(env.roots["alice"], "d"))
env.chown_roots()
CTX = ssl.create_default_context(cafile=env.ca)
f = ftplib.FTP_TLS(context=CTX, timeout=15)
f.connect(h.SERVER, 21)
f.login("alice", h.PASSWORD)
f.prot_p()
help_text = f.sendcmd("HELP")
commands = sorted(set(re.findall(r"\b[A-Z]{3,4}\b", help_text)) - {"HELP", "QUIT", "OK"})
ck.ok(len(commands) >= 45, "HELP lists %d commands" % len(commands))
args = ["", "x", "..", "/", "../../..", "d", "a" * 900, "\u00e9t\u00e9", "-la", "0",
        "99999999999999999999999", "|1|198.18.0.1|1|", "198,18,0,1,4,1", "SHA-1", "UTF8 ON",
        "20200101000000 d", "A", "I"]
bad = []
count = 0
for cmd in commands:
    for a in args:
        line = (cmd + (" " + a if a else "")).encode("utf-8")
        f.sock.sendall(line + b"\r\n")
        try:
            r = f.getmultiline()
            if r.startswith("150"):
                r = f.getmultiline()  # the transfer outcome follows
        except (EOFError, OSError) as e:
            bad.append("%s -> %r" % (line[:40], e))
            break
        count += 1
        if not re.match(r"^[1-5]\d\d[ -]", r):
            bad.append("%s -> %r" % (line[:40], r[:60]))
        if cmd in ("USER", "PASS") and r.startswith("2"):
            bad.append("%s accepted twice" % cmd)
    if bad and "OSError" in bad[-1]:
        break
ck.ok(not bad, "%d command/argument pairs, every reply well-formed %s" % (count, bad[:3]))
ck.ok(f.voidcmd("NOOP").startswith("200"), "session usable afterwards")
f.quit()
g = ftplib.FTP_TLS(context=CTX, timeout=15)
g.connect(h.SERVER, 21)
g.login("bob", h.PASSWORD)
ck.ok(g.voidcmd("NOOP").startswith("200") and env.alive("control"), "server up, new sessions fine")
g.quit()
ck.finish()
