"""Several dataplane workers: the control plane connects to every worker's
socket (<path>.<w>) after worker 0's HELLO, listens on each, and serves
sessions and data connections arriving on any link (data connections may
land on another worker than their control connection)."""
import os
import re
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

env = h.Env("workers", workers=3)
ck = h.Checker(env)
with open(os.path.join(env.roots["alice"], "f.txt"), "w") as f:
    f.write("x" * 5000)
env.chown_roots()
CTX = ssl.create_default_context(cafile=env.ca)


sessions = []
ok = True
for i in range(24):
    f = h.SessionReusingFTP(context=CTX, timeout=10)
    f.connect(h.SERVER, 21)
    f.login("alice" if i % 2 else "bob", h.PASSWORD)
    f.prot_p()
    sessions.append(f)
for i, f in enumerate(sessions):
    for _ in range(2):
        names = f.nlst()
        ok = ok and names == (["f.txt"] if i % 2 else [])
    got = bytearray()
    if i % 2:
        f.retrbinary("RETR f.txt", got.extend)
        ok = ok and bytes(got) == b"x" * 5000
ck.ok(ok, "24 sessions, 72 data connections, all correct")
for f in sessions:
    f.quit()
ctl_log = open(os.path.join(env.dir, "control.log")).read()
ck.ok(all("dataplane link %d up (kernel-relay, worker %d of 3)" % (w, w) in ctl_log
          for w in range(3)), "control plane connected to all three workers")
log = open(env.session_log).read()
links = set(re.findall(r"dataplane link (\d)\)", log))
ck.ok(len(links) >= 2, "control connections arrived on several links: %s" % sorted(links))
ck.ok(" 425 " not in log and "refused" not in log, "no refusals")
ck.finish()
