#!/usr/bin/env python3
"""ftps-client against a small FTPS server (fake_ftps_server.py) that offers
what vsftpd does not: HASH SHA-256 verification after every transfer (and a
deliberate mismatch), MLSD listings for mirror, and no EPSV, so the client
falls back to PASV and must ignore the (wrong) address in the 227 reply."""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_testenv as T  # noqa: E402

check = T.Checks("client_hash")


def main():
    return T.run_with_env("hash", run_all, check, needs_vsftpd=False, local_user=False)


def events(r):
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def run_all(e):
    ip, d = T.SERVER_IP, e.tmp
    T.keys("genkey", "-o", f"{d}/s.key")
    T.keys("selfsign", "--key", f"{d}/s.key", "--subject", "CN=fake", "--san", "IP:198.18.7.1", "-o", f"{d}/s.crt")
    e.start_fake(f"{d}/s.crt", f"{d}/s.key")
    base = ["--tofu", "-u", "tester", "-p", "2121", "--json"]
    env = dict(e.client_env(), FTPS_PASSWORD="secret")
    payload = os.urandom(1 << 20)
    for name in ("good.bin", "corrupt.bin"):
        with open(os.path.join(e.root, name), "wb") as f:
            f.write(payload)

    def client(*args):
        return e.client(*base, ip, *args, env=env)
    r = e.client(*base, "-v", ip, "get", "good.bin", f"{d}/good.bin", env=env)
    ev = events(r)
    check(r.returncode == 0 and ev and ev[0]["verify"] == "sha256" and
          open(f"{d}/good.bin", "rb").read() == payload, "get verified with HASH SHA-256", r.stderr[-1500:])
    check("-> OPTS HASH SHA-256" in r.stderr and "-> HASH good.bin" in r.stderr,
          "client selects SHA-256 and asks HASH after the transfer")
    check("-> PASV" in r.stderr and "502" in r.stderr,
          "EPSV refused: fell back to PASV, ignoring the 227 address 10.255.255.1")
    r = client("get", "corrupt.bin", f"{d}/corrupt.bin")
    check(r.returncode == 8 and "SHA-256 mismatch" in r.stderr, "HASH mismatch: exit 8 with the message", r.stderr)
    with open(f"{d}/up.bin", "wb") as f:
        f.write(payload[:500000])
    r = client("put", f"{d}/up.bin", "uploaded.bin")
    ev = events(r)
    check(r.returncode == 0 and ev and ev[0]["verify"] == "sha256" and
          open(os.path.join(e.root, "uploaded.bin"), "rb").read() == payload[:500000],
          "put verified with HASH SHA-256", r.stderr)
    r = client("put", f"{d}/up.bin", "corrupt-upload.bin")
    check(r.returncode == 8 and "SHA-256 mismatch" in r.stderr, "put with a HASH mismatch: exit 8", r.stderr)
    with open(f"{d}/partial.bin", "wb") as f:
        f.write(payload[:300000])
    r = client("-c", "get", "good.bin", f"{d}/partial.bin")
    ev = events(r)
    check(r.returncode == 0 and ev and ev[0]["resumed_from"] == 300000 and ev[0]["verify"] == "sha256" and
          open(f"{d}/partial.bin", "rb").read() == payload, "get -c resumed with REST, whole file verified by HASH",
          r.stderr)

    # Mirror through MLSD listings, every file verified by HASH.
    tree = os.path.join(e.root, "tree")
    want = {}
    for i in range(40):
        sub = os.path.join(tree, f"s{i % 4}")
        os.makedirs(sub, exist_ok=True)
        data = os.urandom(i * 97)
        with open(os.path.join(sub, f"n {i}.bin"), "wb") as f:
            f.write(data)
        want[f"s{i % 4}/n {i}.bin"] = hashlib.sha256(data).hexdigest()
    r = client("-P", "3", "mirror", "tree", f"{d}/tree")
    ev = [x for x in events(r) if x["event"] == "file"]
    got = {}
    for dirpath, _, files in os.walk(f"{d}/tree"):
        for n in files:
            p = os.path.join(dirpath, n)
            got[os.path.relpath(p, f"{d}/tree")] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    check(r.returncode == 0 and got == want and len(ev) == 40 and all(x["verify"] == "sha256" for x in ev),
          "mirror over MLSD with 3 sessions: byte-exact, each file HASH-verified", r.stderr[-1500:])


if __name__ == "__main__":
    sys.exit(main())
