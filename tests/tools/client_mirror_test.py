#!/usr/bin/env python3
"""ftps-client transfers against Debian's vsftpd in a private namespace:
mirror of a 1000-file tree both ways over 4 parallel sessions, killed part
way and resumed with -c, byte-exact; REST resume of get and put; progress
output on a terminal and as JSON lines. vsftpd offers no HASH, so files are
compared here (the HASH path is unit-tested in test_ftp_reply)."""
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_testenv as T  # noqa: E402

check = T.Checks("client_mirror")
N_FILES = 1000


def tree_digest(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def count_files(root):
    return sum(len(files) for _, _, files in os.walk(root))


def make_tree(root, owner):
    rng = random.Random(7)
    for i in range(N_FILES):
        sub = os.path.join(root, f"d{i // 100:02d}", "deeper" if i % 3 == 0 else "")
        os.makedirs(sub, exist_ok=True)
        name = f"file {i:04d}.dat" if i % 50 == 0 else f"f{i:04d}.dat"
        with open(os.path.join(sub, name), "wb") as f:
            f.write(rng.randbytes(rng.randrange(0, 12000)))
    for dirpath, dirs, files in os.walk(root):
        shutil.chown(dirpath, owner, owner)
        for n in files:
            shutil.chown(os.path.join(dirpath, n), owner, owner)


def logins(e):
    with open(os.path.join(e.tmp, "vsftpd-21.log")) as f:
        return f.read().count("OK LOGIN")


def interrupted_then_resumed(e, pin, args, watch, label):
    """Start a mirror, SIGKILL it once `watch` holds some files, resume with -c."""
    before = logins(e)
    proc = subprocess.Popen(e.client_cmd(*pin, "--json", "-P", "4", *args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=e.client_env())
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and count_files(watch) < 200:
        time.sleep(0.02)
    at_kill = count_files(watch)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    check(0 < at_kill < N_FILES, f"{label}: killed part way ({at_kill} of {N_FILES} files present)")
    t0 = time.time()
    r = subprocess.run(e.client_cmd(*pin, "--json", "-P", "4", "-c", *args), capture_output=True, text=True,
                       env=e.client_env(), timeout=120)
    elapsed = time.time() - t0
    T.scan(r.stderr)
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    files = [ev for ev in events if ev["event"] == "file"]
    summary = [ev for ev in events if ev["event"] == "summary"]
    skipped = sum(1 for ev in files if ev["verify"] == "skipped-complete")
    check(r.returncode == 0 and len(files) == N_FILES and summary and summary[0]["failed"] == 0,
          f"{label}: resumed run exits 0 with {N_FILES} JSON file lines and a summary", r.stderr[-2000:])
    check(skipped >= at_kill - 8 and skipped < N_FILES,
          f"{label}: resume skipped {skipped} complete files, transferred the rest")
    check(logins(e) - before >= 8, f"{label}: 4 parallel control sessions per run ({logins(e) - before} logins)")
    print(f"   {label}: resumed {N_FILES - skipped} files in {elapsed:.2f} s")
    return elapsed


def main():
    return T.run_with_env("mirror", run_all, check)


def run_all(e):
    ip = T.SERVER_IP
    key, crt = os.path.join(e.tmp, "s.key"), os.path.join(e.tmp, "s.crt")
    T.keys("genkey", "-o", key)
    T.keys("selfsign", "--key", key, "--subject", "CN=ftp.test", "--san", "IP:198.18.7.1", "-o", crt)
    fp = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-fingerprint", "-sha256"],
                        capture_output=True, text=True, check=True).stdout.split("=")[1].strip()
    pin = ["--pin", "sha256:" + fp.replace(":", "").lower()]
    e.start_vsftpd(crt, key)
    src = os.path.join(e.root, "tree")
    make_tree(src, e.user)
    want = tree_digest(src)
    check(len(want) == N_FILES, f"server tree holds {N_FILES} files")

    # Download mirror, interrupted and resumed.
    down = os.path.join(e.tmp, "down")
    interrupted_then_resumed(e, pin, [ip, "mirror", "tree", down], down, "mirror download")
    got = tree_digest(down)
    check(got == want, "mirror download is byte-exact (every path and SHA-256)",
          f"{len(set(want) ^ set(got))} paths differ")

    # Upload mirror (-R) of the local copy into a new remote folder.
    up = os.path.join(e.root, "up")
    os.makedirs(up)
    shutil.chown(up, e.user, e.user)
    interrupted_then_resumed(e, pin, ["-R", ip, "mirror", down, "up/tree"], up, "mirror upload")
    check(tree_digest(os.path.join(up, "tree")) == want, "mirror upload is byte-exact")

    # REST resume of a single file each way.
    big = os.urandom(4 << 20)
    with open(os.path.join(e.root, "big.bin"), "wb") as f:
        f.write(big)
    shutil.chown(os.path.join(e.root, "big.bin"), e.user, e.user)
    local = os.path.join(e.tmp, "big.bin")
    with open(local, "wb") as f:
        f.write(big[:1572864])
    r = e.client(*pin, "--json", "-c", ip, "get", "big.bin", local)
    ev = json.loads(r.stdout.splitlines()[0])
    check(r.returncode == 0 and ev["resumed_from"] == 1572864 and ev["bytes"] == len(big) - 1572864 and
          ev["verify"] == "size" and open(local, "rb").read() == big,
          "get -c resumes with REST at the local size, byte-exact", r.stdout + r.stderr)
    r = e.client(*pin, "--json", "-c", ip, "get", "big.bin", local)
    ev = json.loads(r.stdout.splitlines()[0])
    check(r.returncode == 0 and ev["verify"] == "skipped-complete" and ev["bytes"] == 0,
          "get -c of a complete file transfers nothing")
    with open(local + ".longer", "wb") as f:
        f.write(big + b"extra")
    r = e.client(*pin, "--json", "-c", ip, "get", "big.bin", local + ".longer")
    check(r.returncode == 0 and open(local + ".longer", "rb").read() == big,
          "get -c over a longer local file starts over", r.stderr)
    remote_part = os.path.join(e.root, "upbig.bin")
    with open(remote_part, "wb") as f:
        f.write(big[:1048576])
    shutil.chown(remote_part, e.user, e.user)
    r = e.client(*pin, "--json", "-c", ip, "put", local, "upbig.bin")
    ev = json.loads(r.stdout.splitlines()[0])
    check(r.returncode == 0 and ev["resumed_from"] == 1048576 and open(remote_part, "rb").read() == big,
          "put -c resumes with REST after the remote size, byte-exact", r.stdout + r.stderr)
    for v in ("1.2", "1.3"):
        r = e.client(*pin, "--tls", v, ip, "put", local, f"whole-{v}.bin")
        with open(os.path.join(e.root, f"whole-{v}.bin"), "rb") as f:
            check(r.returncode == 0 and f.read() == big, f"4 MiB put over TLS {v} arrives whole", r.stderr)
    r = e.client(*pin, "--plain", ip, "get", "big.bin", local + ".plain")
    check(r.returncode == 0 and "get big.bin ->" in r.stdout and "verified by size" in r.stdout and
          "1 files done" in r.stdout, "plain per-file lines when not on a terminal", r.stdout)

    # Progress on a terminal: bar, rate and ETA on stderr.
    rc, text = T.run_pty(e.client_cmd(*pin, ip, "get", "big.bin", local + ".tty"), e.client_env(), [])
    check(rc == 0 and "ETA" in text and "100%" in text and "/s" in text and "/4.0 MiB" in text,
          "terminal progress shows the size from SIZE, rate and ETA", text[-500:])
    # A resumed get counts only the bytes still to move.
    with open(local + ".tty2", "wb") as f:
        f.write(big[:3 << 20])
    rc, text = T.run_pty(e.client_cmd(*pin, "-c", ip, "get", "big.bin", local + ".tty2"), e.client_env(), [])
    check(rc == 0 and "/1.0 MiB" in text and open(local + ".tty2", "rb").read() == big,
          "terminal progress of a resumed get counts the remaining 1 MiB", text[-500:])


if __name__ == "__main__":
    sys.exit(main())
