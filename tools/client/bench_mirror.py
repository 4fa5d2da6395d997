#!/usr/bin/env python3
"""Benchmark ftps-client against Debian's vsftpd in a private namespace, each
figure next to a baseline measured in the same run:
  - mirror of many small files: ftps-client -P 1 and -P N vs lftp mirror -P 1 / -P N
  - one large download: ftps-client get vs curl
usage: bench_mirror.py [--files N] [--size BYTES] [--big MIB] [--parallel N] [--json]
Needs root, vsftpd, lftp, curl and a build (FTPS_BUILD_DIR, default ./build)."""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/tools"))
import ftps_testenv as T  # noqa: E402


def timed(cmd, env=None):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[3:6]} failed: {r.stderr[-500:]}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--big", type=int, default=128, help="large file size in MiB")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    e = T.Env("bench")
    try:
        res = run(e, a)
    finally:
        e.close()
    rows = [
        ("lftp mirror -P 1 (baseline)", res["lftp_p1_files_per_s"], "files/s"),
        ("ftps-client mirror -P 1", res["client_p1_files_per_s"], "files/s"),
        (f"lftp mirror -P {a.parallel} (baseline)", res["lftp_pn_files_per_s"], "files/s"),
        (f"ftps-client mirror -P {a.parallel}", res["client_pn_files_per_s"], "files/s"),
        (f"curl get {a.big} MiB (baseline)", res["curl_get_mb_per_s"], "MB/s"),
        (f"ftps-client get {a.big} MiB", res["client_get_mb_per_s"], "MB/s"),
    ]
    print(f"{'run':<34} {'value':>10}  unit   ({a.files} files of {a.size} B, vsftpd 3.0.3, loopback in a netns)")
    for name, value, unit in rows:
        print(f"{name:<34} {value:>10.1f}  {unit}")
    for k in sorted(k for k in res if k.endswith("_ratio")):
        print(f"{k:<34} {res[k]:>10.2f}")
    if a.json:
        print(json.dumps(res))


def run(e, a):
    ip, d = T.SERVER_IP, e.tmp
    T.keys("genkey", "-o", f"{d}/s.key")
    T.keys("selfsign", "--key", f"{d}/s.key", "--subject", "CN=bench", "--san", "IP:198.18.7.1",
           "-o", f"{d}/s.crt")
    fp = subprocess.run(["openssl", "x509", "-in", f"{d}/s.crt", "-noout", "-fingerprint", "-sha256"],
                        capture_output=True, text=True, check=True).stdout.split("=")[1].strip()
    pin = ["--pin", "sha256:" + fp.replace(":", "").lower()]
    e.start_vsftpd(f"{d}/s.crt", f"{d}/s.key")
    tree = os.path.join(e.root, "tree")
    rng = random.Random(1)
    for i in range(a.files):
        sub = os.path.join(tree, f"d{i % 10}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i}"), "wb") as f:
            f.write(rng.randbytes(a.size))
    with open(os.path.join(e.root, "big.bin"), "wb") as f:
        for _ in range(a.big):
            f.write(os.urandom(1 << 20))
    for dirpath, _, files in os.walk(e.root):
        shutil.chown(dirpath, e.user, e.user)
        for n in files:
            shutil.chown(os.path.join(dirpath, n), e.user, e.user)
    env = e.client_env()
    res = {"files": a.files, "file_size": a.size, "parallel": a.parallel, "big_mib": a.big}

    def lftp(par, out):
        return timed(e.ns_cmd(["lftp", "-c", f"set ssl:verify-certificate no; set ftp:ssl-force yes; "
                                             f"set ftp:ssl-protect-data yes; open -u {e.user},{e.password} {ip}; "
                                             f"mirror -P {par} tree {out}"]))

    def ours(par, out):
        return timed(e.client_cmd(*pin, "--plain", "-P", str(par), ip, "mirror", "tree", out), env)

    for name, fn, par in (("lftp_p1", lftp, 1), ("client_p1", ours, 1),
                          ("lftp_pn", lftp, a.parallel), ("client_pn", ours, a.parallel)):
        out = os.path.join(d, name)
        res[f"{name}_files_per_s"] = a.files / fn(par, out)
        shutil.rmtree(out)
    mb = a.big * 1.048576
    res["curl_get_mb_per_s"] = mb / timed(e.ns_cmd(["curl", "-sS", "--ssl-reqd", "-k", "-u", f"{e.user}:{e.password}",
                                                    f"ftp://{ip}/big.bin", "-o", f"{d}/curl.bin"]))
    os.unlink(f"{d}/curl.bin")
    res["client_get_mb_per_s"] = mb / timed(e.client_cmd(*pin, "--plain", ip, "get", "big.bin", f"{d}/ours.bin"), env)
    os.unlink(f"{d}/ours.bin")
    res["client_p1_vs_lftp_p1_ratio"] = res["client_p1_files_per_s"] / res["lftp_p1_files_per_s"]
    res["client_pn_vs_lftp_pn_ratio"] = res["client_pn_files_per_s"] / res["lftp_pn_files_per_s"]
    res["client_pn_vs_client_p1_ratio"] = res["client_pn_files_per_s"] / res["client_p1_files_per_s"]
    res["client_get_vs_curl_ratio"] = res["client_get_mb_per_s"] / res["curl_get_mb_per_s"]
    return res


if __name__ == "__main__":
    main()
