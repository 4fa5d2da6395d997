"""rclone (Debian's 1.60) with several parallel connections lists and copies
a directory tree (both directions) without a single 425. rclone shares one
TLS session cache across its control connections, so its data connections
often resume a session made on a sibling control connection of the same
login: binding to user + address (not to one connection) lets that work."""
import filecmp
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

h.require("rclone")

env = h.Env("rclone")
ck = h.Checker(env)
root = env.roots["alice"]
tree = os.path.join(root, "tree")
n_files = 0
for d in range(4):
    sub = os.path.join(tree, "d%d" % d, "deeper")
    os.makedirs(sub)
    for i in range(8):
        for where in (os.path.dirname(sub), sub):
            with open(os.path.join(where, "f%d.bin" % i), "wb") as fh:
                fh.write(os.urandom(1000 * (i + 1) + d))
            n_files += 1
env.chown_roots()

obscured = subprocess.run(["rclone", "obscure", h.PASSWORD], capture_output=True, text=True,
                          check=True).stdout.strip()
base = ["rclone", "--config", os.path.join(env.dir, "rclone.conf"), "-vv",
        "--ftp-host", h.SERVER, "--ftp-user", "alice", "--ftp-pass", obscured,
        "--ftp-explicit-tls", "--ftp-concurrency", "6",
        "--transfers", "6", "--checkers", "6", "--low-level-retries", "1", "--retries", "1"]


def rclone(*args):
    # rclone 1.60's ftp backend ignores --ca-cert; Go reads SSL_CERT_FILE,
    # so the server certificate is still verified against the test CA.
    return subprocess.run(base + list(args), capture_output=True, text=True, timeout=90,
                          env=dict(os.environ, SSL_CERT_FILE=env.ca))


r = rclone("lsf", "-R", ":ftp:tree")
listed = [l for l in r.stdout.splitlines() if not l.endswith("/")]
ck.ok(r.returncode == 0 and len(listed) == n_files, "lsf -R lists all %d files" % n_files)
local = os.path.join(env.dir, "copy-down")
r = rclone("copy", ":ftp:tree", local)
ck.ok(r.returncode == 0, "copy down the tree")
cmp = filecmp.dircmp(tree, local)


def same(c):
    if c.left_only or c.right_only or c.diff_files or c.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
    return not mismatch and not errors and all(same(s) for s in c.subdirs.values())


ck.ok(os.path.isdir(local) and same(cmp), "downloaded tree is byte-identical")
r = rclone("copy", local, ":ftp:tree-up")
ck.ok(r.returncode == 0 and same(filecmp.dircmp(local, os.path.join(root, "tree-up"))),
      "copy the tree back up, byte-identical")
both = r.stderr
if os.environ.get("FTPS_DEBUG"):
    print("\n".join(l for l in r.stderr.splitlines() if "rror" in l or "tor" in l)[-6000:])
r = rclone("check", local, ":ftp:tree-up")
ck.ok(r.returncode == 0, "rclone check agrees")
log = open(env.session_log).read()
ck.ok(" 425 " not in log and "425" not in both, "not a single 425 (session log and rclone)")
ck.ok(log.count("logged in") >= 2, "rclone used several control connections (%d logins)"
      % log.count("logged in"))
ck.finish()
