"""lftp (GnuTLS) with ftp:ssl-force and certificate verification against the
test CA: cls -l, mkdir, mv, rm; and a get/put through the relay path."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

h.require("lftp")

env = h.Env("lftp")
ck = h.Checker(env)
root = env.roots["alice"]
with open(os.path.join(root, "file-a.txt"), "w") as f:
    f.write("alpha\n" * 1000)
with open(os.path.join(root, "doomed.txt"), "w") as f:
    f.write("bye\n")
env.chown_roots()


def lftp(cmds, extra=""):
    script = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
              "set ftp:ssl-force true; set ftp:ssl-protect-data true; "
              "set ssl:ca-file %s; set ssl:verify-certificate yes; set ssl:check-hostname yes; "
              "%s open -u alice,%s ftp://%s; %s" % (env.ca, extra, h.PASSWORD, h.SERVER, cmds))
    return subprocess.run(["lftp", "-d", "-c", script], capture_output=True, text=True, timeout=60)


r = lftp("cls -l")
ck.ok(r.returncode == 0 and "file-a.txt" in r.stdout and "doomed.txt" in r.stdout,
      "cls -l lists the root")
ck.ok("PROT P" in r.stderr and "AUTH TLS" in r.stderr, "lftp used AUTH TLS and PROT P")
ck.ok("425" not in r.stderr, "no 425 on lftp's data connections")
r = lftp("mkdir newdir; cls -l")
ck.ok(r.returncode == 0 and os.path.isdir(os.path.join(root, "newdir")), "mkdir")
r = lftp("mv file-a.txt newdir/file-b.txt")
ck.ok(r.returncode == 0 and os.path.exists(os.path.join(root, "newdir", "file-b.txt")), "mv")
r = lftp("rm doomed.txt")
ck.ok(r.returncode == 0 and not os.path.exists(os.path.join(root, "doomed.txt")), "rm")
r = lftp("cls -l newdir")
ck.ok(r.returncode == 0 and "file-b.txt" in r.stdout, "cls -l of a subdirectory")
r = lftp("get newdir/file-b.txt -o %s/got.txt" % env.dir)
ck.ok(r.returncode == 0 and open(env.dir + "/got.txt").read() == "alpha\n" * 1000,
      "get byte-exact (relay transfer path)")
ck.ok("non-properly terminated" not in r.stderr, "close_notify seen by GnuTLS")
for ver in ("1.2", "1.3"):
    prio = "NORMAL:-VERS-ALL:+VERS-TLS" + ver
    r = lftp("cls -l", extra="set ssl:priority %s;" % prio)
    ck.ok(r.returncode == 0 and "newdir" in r.stdout, "cls -l with TLS %s only" % ver)
# verification really happens: a wrong CA must fail
r = subprocess.run(["lftp", "-c", "set net:max-retries 1; set ftp:ssl-force true; "
                    "set ssl:ca-file /etc/ssl/certs/ca-certificates.crt; "
                    "set ssl:verify-certificate yes; open -u alice,%s ftp://%s; cls" %
                    (h.PASSWORD, h.SERVER)], capture_output=True, text=True, timeout=60)
ck.ok(r.returncode != 0, "lftp refuses the server with the wrong CA (verification is on)")
ck.finish()
