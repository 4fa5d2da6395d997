#!/usr/bin/env python3
"""ftps-client and ftps-keys against the appliance's own control plane
(tests/control/ftps_harness.py: ftps-control with the dataplane stand-in the
harness picks), in the harness's private namespace:
  - self-signed flow: ftps-keys key + certificate, interactive "always" on a
    pty, next run silent, restart with a new certificate -> refused, exit 4;
  - CA flow: CSR from ftps-keys signed by the harness CA's intermediate with
    `openssl x509 -req`, imported by ftps-keys over the served certificate
    file, SIGHUP reload; curl and lftp verify it, a wrong host name fails;
  - client certificates from ftps-keys' internal CA (tls.client_ca), one
    revoked and refused after a SIGHUP reload of tls.client_crl, also when
    the client resumes a TLS session from before the revocation;
  - mirror of 1000 files both ways over 4 sessions, killed part way and
    resumed, every transferred file verified with HASH SHA-256."""
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("FTPS_SOURCE_DIR", os.path.join(HERE, "../.."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests/control"))
import ftps_testenv as T  # noqa: E402

check = T.Checks("client_appliance")
N_FILES = 1000


def main():
    if os.geteuid() != 0:
        print("needs root")
        return 77
    if not os.path.exists(os.path.join(T.build_dir(), "control", "ftps-control")):
        print("the appliance's control plane is not built here")
        return 77
    import ftps_harness as H
    env = H.Env("keysclient", start=False)
    home = tempfile.mkdtemp(prefix="ftps-appl-home-")
    try:
        run_all(H, env, home)
        env.stop("control")
        log = os.path.join(env.dir, "control.log")
        text = open(log, errors="replace").read() if os.path.exists(log) else ""
        check("Sanitizer" not in text and "runtime error:" not in text, "no sanitizer report from ftps-control")
        if check.failures:
            print(env.logs())
    finally:
        shutil.rmtree(home, ignore_errors=True)
        env.cleanup()
    return check.finish()


def run_all(H, env, home):
    ip, d = H.SERVER, env.dir
    cenv = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, "cfg"), FTPS_PASSWORD=H.PASSWORD)
    client = [T.tool("ftps-client"), "-u", "alice"]

    def run(*args, e=None, timeout=120):
        r = subprocess.run(client + list(args), capture_output=True, text=True, env=e or cenv, timeout=timeout)
        T.scan(r.stderr)
        return r

    def fingerprint(path):
        out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha256"],
                             capture_output=True, text=True, check=True).stdout
        return out.strip().split("=")[1].replace(":", "").lower()

    def selfsigned(name):
        key, crt = f"{d}/{name}.key", f"{d}/{name}.crt"
        T.keys("genkey", "-o", key)
        T.keys("selfsign", "--key", key, "--subject", "CN=ftps.test", "--san", f"IP:{ip},DNS:ftps.test",
               "-o", crt)
        os.chown(key, 65534, 65534)  # the control plane reads it again as 'nobody' on reload
        return crt, key

    root = env.roots["alice"]
    payload = os.urandom(700000)
    with open(os.path.join(root, "data.bin"), "wb") as f:
        f.write(payload)

    # 1. Self-signed flow.
    crt1, key1 = selfsigned("self1")
    env.write_config(**{"tls.certificate": crt1, "tls.key": key1, "tls.chain": ""})
    env.start_dataplane()
    env.start_control()
    rc, text = T.run_pty(client + ["--json", ip, "get", "data.bin", f"{d}/got.bin"], cenv,
                         [("[o]nce / [a]lways", "always\n")])
    check(rc == 0 and "self-signed certificate" in text and "Trust this certificate" in text and
          open(f"{d}/got.bin", "rb").read() == payload, "appliance: pty prompt, 'always', transfer byte-exact", text)
    check('"verify":"sha256"' in text, "appliance: the download is verified with HASH SHA-256", text)
    rc, text = T.run_pty(client + [ip, "ls"], cenv, [])
    check(rc == 0 and "Trust this certificate" not in text and "data.bin" in text,
          "appliance: next run does not prompt", text)
    env.stop("control")
    crt2, key2 = selfsigned("self2")
    env.write_config(**{"tls.certificate": crt2, "tls.key": key2})
    env.start_control()
    r = run(ip, "ls")
    check(r.returncode == 4 and "HAS CHANGED" in r.stderr and fingerprint(crt2) in r.stderr,
          "appliance restarted with a new self-signed certificate: refused with the warning, exit 4", r.stderr)

    # 2. CA flow: CSR for the served key, signed by the harness intermediate,
    #    imported over the served certificate file, then SIGHUP.
    T.keys("csr", "--key", key2, "--subject", "CN=ftps.test", "--san", f"IP:{ip},DNS:ftps.test",
           "-o", f"{d}/ca-flow.csr")
    with open(f"{d}/ca-flow.ext", "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", f"{d}/ca-flow.csr", "-CA", f"{d}/int.pem", "-CAkey",
                    f"{d}/int.key", "-CAcreateserial", "-days", "2", "-copy_extensions", "copy",
                    "-extfile", f"{d}/ca-flow.ext", "-out", f"{d}/ca-flow.crt"], check=True, capture_output=True)
    T.keys("import", "--key", key2, "--cert", f"{d}/ca-flow.crt", "--chain", f"{d}/int.pem", "--root", env.ca,
           "-o", crt2)
    os.chmod(crt2, 0o644)
    # The reload is asynchronous: wait for its log line, not a fixed time.
    outcome = env.reload_control()
    check(outcome == "reloaded", "appliance CA flow: SIGHUP reloads the imported certificate", outcome)
    auth = f"alice:{H.PASSWORD}"
    r = H.curl(["--ssl-reqd", "--cacert", env.ca, "-u", auth, f"ftp://{ip}/data.bin", "-o", f"{d}/curl.bin"])
    check(r.returncode == 0 and open(f"{d}/curl.bin", "rb").read() == payload,
          "appliance CA flow: imported + reloaded; curl --cacert verifies and downloads", r.stderr)
    r = H.curl(["--ssl-reqd", "--cacert", env.ca, "-u", auth, "--resolve", f"wrong.test:21:{ip}",
                "ftp://wrong.test/data.bin", "-o", f"{d}/curl2.bin"])
    check(r.returncode == 60, "appliance CA flow: curl with a wrong host name fails", r.stderr)
    lf = subprocess.run(["lftp", "-c", f"set ssl:ca-file {env.ca}; set ssl:verify-certificate yes; "
                                       f"set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set net:max-retries 1; "
                                       f"open -u alice,{H.PASSWORD} {ip}; get data.bin -o {d}/lftp.bin"],
                        capture_output=True, text=True, timeout=60)
    check(lf.returncode == 0 and open(f"{d}/lftp.bin", "rb").read() == payload,
          "appliance CA flow: lftp with verification downloads", lf.stderr)
    fresh = dict(cenv, XDG_CONFIG_HOME=os.path.join(home, "cfg-ca"))
    r = run("--ca-file", env.ca, ip, "get", "data.bin", f"{d}/ours.bin", e=fresh)
    check(r.returncode == 0 and open(f"{d}/ours.bin", "rb").read() == payload,
          "appliance CA flow: ftps-client --ca-file verifies without a prompt", r.stderr)
    r = run(ip, "ls")
    check(r.returncode == 4, "a stored self-signed entry still wins over the new CA-signed certificate "
                             "(replace it with 'trust')", r.stderr)

    # 3. Client certificates from the internal CA.
    T.keys("ca", "init", "--dir", f"{d}/clientca", "--subject", "CN=Appliance Client CA")
    T.keys("ca", "issue", "--dir", f"{d}/clientca", "--subject", "CN=alice", "--key-out", f"{d}/alice.key",
           "-o", f"{d}/alice.crt")
    T.keys("genkey", "-o", f"{d}/rogue.key")
    T.keys("selfsign", "--key", f"{d}/rogue.key", "--subject", "CN=alice", "-o", f"{d}/rogue.crt")
    # 'reader' logs in with a certificate alone; two certificates name it.
    for name in ("reader", "reader-lost"):
        T.keys("ca", "issue", "--dir", f"{d}/clientca", "--subject", "CN=reader", "--key-out",
               f"{d}/{name}.key", "-o", f"{d}/{name}.crt")
    subprocess.run([os.path.join(H.SOURCE, "tools/ftps-users"), "-f", env.users_file, "cert", "reader",
                    "subject=CN=reader+nopass"], check=True, capture_output=True,
                   env=dict(os.environ, FTPS_BUILD_DIR=H.BUILD))
    os.chmod(env.users_file, 0o644)
    crl = f"{d}/clientca/crl.pem"
    if not os.path.exists(crl):
        T.keys("ca", "crl", "--dir", f"{d}/clientca")
    os.chmod(f"{d}/clientca", 0o755)
    os.chmod(f"{d}/clientca/ca.crt", 0o644)
    os.chmod(crl, 0o644)
    env.stop("control")
    env.write_config(**{"tls.client_ca": f"{d}/clientca/ca.crt", "tls.client_crl": crl})
    env.start_control()
    r = run("--ca-file", env.ca, "--cert", f"{d}/alice.crt", "--key", f"{d}/alice.key", ip, "ls", e=fresh)
    check(r.returncode == 0 and "data.bin" in r.stdout,
          "client certificate issued by ftps-keys' CA is accepted by the appliance", r.stderr)
    r = run("--ca-file", env.ca, "--cert", f"{d}/rogue.crt", "--key", f"{d}/rogue.key", ip, "ls", e=fresh)
    check(r.returncode == 3 and "alert" in r.stderr, "a client certificate from another issuer is refused, exit 3",
          r.stderr)

    # 3b. Revocation: tls.client_crl is the CRL ftps-keys publishes; SIGHUP reloads it.
    contexts = {}

    def cert_login(name, session=None):
        """Explicit FTPS login as 'reader' with certificate NAME; returns
        (reply or error text, TLS session, whether it was resumed)."""
        if name not in contexts:  # a session resumes only in the context that made it
            contexts[name] = ssl.create_default_context(cafile=env.ca)
            contexts[name].load_cert_chain(f"{d}/{name}.crt", f"{d}/{name}.key")
        ctx = contexts[name]
        try:
            with socket.create_connection((ip, 21), timeout=10) as raw:
                f = raw.makefile("rb")
                f.readline()
                raw.sendall(b"AUTH TLS\r\n")
                if not f.readline().startswith(b"234"):
                    return "AUTH TLS refused", None, False
                with ctx.wrap_socket(raw, server_hostname=ip, session=session) as t:
                    tf = t.makefile("rb")
                    t.sendall(b"USER reader\r\n")
                    reply = tf.readline().decode(errors="replace").strip()
                    if reply.startswith("331"):
                        t.sendall(b"PASS \r\n")
                        reply = tf.readline().decode(errors="replace").strip()
                    t.sendall(b"QUIT\r\n")
                    tf.readline()
                    return reply, t.session, t.session_reused
        except (ssl.SSLError, OSError) as e:
            return "refused: %s" % e, None, False

    reply, lost_session, _ = cert_login("reader-lost")
    check(reply.startswith("232"), "before revocation the certificate alone logs in as reader (232)", reply)
    reply, _, _ = cert_login("reader")
    check(reply.startswith("232"), "reader's other certificate logs in too", reply)
    log_path = os.path.join(env.dir, "control.log")
    loaded_before = open(log_path, errors="replace").read().count("CRL(s) loaded")
    T.keys("ca", "revoke", "--dir", f"{d}/clientca", "--cert", f"{d}/reader-lost.crt",
           "--reason", "keyCompromise")
    os.chmod(crl, 0o644)
    env.procs["control"].send_signal(signal.SIGHUP)
    H.wait_for(lambda: open(log_path, errors="replace").read().count("CRL(s) loaded") > loaded_before, 30)
    check(open(log_path, errors="replace").read().count("CRL(s) loaded") > loaded_before,
          "SIGHUP reloads the CRL")
    reply, _, _ = cert_login("reader-lost")
    check(not reply.startswith("2"), "a revoked certificate is refused", reply)
    r = run("--ca-file", env.ca, "--cert", f"{d}/reader-lost.crt", "--key", f"{d}/reader-lost.key", ip, "ls",
            e=fresh)
    check(r.returncode == 3 and "revoked" in r.stderr,
          "ftps-client with a revoked certificate exits 3 and says it was revoked", r.stderr)
    reply, _, resumed = cert_login("reader-lost", session=lost_session)
    check(resumed and not reply.startswith("2"),
          "a TLS session resumed from before the revocation does not log in (resumed: %s)" % resumed, reply)
    reply, _, _ = cert_login("reader")
    check(reply.startswith("232"), "the user's certificate that is not revoked still logs in", reply)
    text = open(log_path, errors="replace").read() + open(env.session_log, errors="replace").read()
    check("client certificate refused: certificate revoked" in text,
          "the control plane's log says the certificate was revoked", text[-2000:])

    # 4. Mirror 1000 files both ways over 4 sessions, killed and resumed, HASH-verified.
    rng = random.Random(3)
    tree = os.path.join(root, "tree")
    want = {}
    for i in range(N_FILES):
        sub = os.path.join(tree, f"d{i // 100}")
        os.makedirs(sub, exist_ok=True)
        data = rng.randbytes(rng.randrange(0, 9000))
        with open(os.path.join(sub, f"f{i:04d}"), "wb") as f:
            f.write(data)
        want[f"d{i // 100}/f{i:04d}"] = hashlib.sha256(data).hexdigest()
    env.chown_roots()

    def digest(path):
        out = {}
        for dp, _, fs in os.walk(path):
            for n in fs:
                p = os.path.join(dp, n)
                out[os.path.relpath(p, path)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
        return out

    def count(path):
        return sum(len(fs) for _, _, fs in os.walk(path))

    base = ["--ca-file", env.ca, "--json", "-P", "4"]
    for label, args, watch, result in (
            ("download", [ip, "mirror", "tree", f"{d}/down"], f"{d}/down", f"{d}/down"),
            ("upload", ["-R", ip, "mirror", f"{d}/down", "up"], os.path.join(root, "up"), os.path.join(root, "up"))):
        proc = subprocess.Popen(client + base + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=fresh)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and count(watch) < 200:
            time.sleep(0.02)
        at_kill = count(watch)
        proc.kill()
        proc.communicate()
        check(0 < at_kill < N_FILES, f"appliance mirror {label}: killed part way ({at_kill} files)")
        r = run(*base, "-c", *args, e=fresh, timeout=300)
        ev = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        files = [x for x in ev if x["event"] == "file"]
        moved = [x for x in files if x["verify"] != "skipped-complete"]
        check(r.returncode == 0 and len(files) == N_FILES and moved and
              all(x["verify"] == "sha256" for x in moved),
              f"appliance mirror {label}: resumed, {len(moved)} files moved, each verified with HASH SHA-256",
              r.stderr[-2000:])
        check(digest(result) == want, f"appliance mirror {label}: byte-exact")


if __name__ == "__main__":
    sys.exit(main())
