#!/usr/bin/env python3
"""ftps-client against Debian's vsftpd in a private namespace: the
self-signed trust-on-first-use flow driven through a pty, the CA flow (CSR
signed by `openssl x509 -req`, imported by ftps-keys; curl, lftp and our
client verify; a wrong host name fails), session resumption on TLS 1.2 and
1.3, implicit FTPS, the file commands and every error case with its message."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_testenv as T  # noqa: E402

check = T.Checks("client_trust")


def fingerprint(cert):
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True).stdout
    colon = out.strip().split("=")[1]
    return colon, colon.replace(":", "").lower()


def make_selfsigned(e, name):
    key, crt = os.path.join(e.tmp, name + ".key"), os.path.join(e.tmp, name + ".crt")
    T.keys("genkey", "--type", "ec-p256", "-o", key)
    T.keys("selfsign", "--key", key, "--subject", "CN=ftp.test", "--san", "DNS:ftp.test,IP:198.18.7.1",
           "--days", "30", "-o", crt)
    return crt, key


def main():
    return T.run_with_env("trust", run_all, check)


def run_all(e):
    ip = T.SERVER_IP
    crt, key = make_selfsigned(e, "self1")
    fp_colon, fp_hex = fingerprint(crt)
    server = e.start_vsftpd(crt, key)
    payload = os.urandom(300000)
    with open(os.path.join(e.root, "data.bin"), "wb") as f:
        f.write(payload)
    shutil.chown(os.path.join(e.root, "data.bin"), e.user, e.user)
    env = e.client_env()
    known = os.path.join(env["XDG_CONFIG_HOME"], "ftps-client", "known_certs")
    out1 = os.path.join(e.tmp, "out1.bin")

    # 1. First interactive run: fingerprint shown, answer "always".
    rc, text = T.run_pty(e.client_cmd(ip, "get", "data.bin", out1), env, [("[o]nce / [a]lways", "always\n")])
    check(rc == 0 and fp_colon in text and "self-signed certificate" in text and "Subject:" in text and
          "Issuer:" in text and "Validity:" in text, "pty: prompt shows the certificate, 'always' accepted", text)
    check(open(out1, "rb").read() == payload, "pty: the transfer after 'always' is byte-exact")
    check(os.path.exists(known) and f"{ip}:21 {fp_hex}" in open(known).read() and
          oct(os.stat(known).st_mode & 0o777) == "0o600", "'always' stored host:port -> certificate, mode 0600")

    # 2. Next run: no prompt.
    rc, text = T.run_pty(e.client_cmd(ip, "ls"), env, [])
    check(rc == 0 and "Trust this certificate" not in text and "data.bin" in text,
          "pty: the next run does not prompt", text)

    # 'once' stores nothing; 'abort' exits 3 (fresh config folder).
    env_once = dict(env, XDG_CONFIG_HOME=os.path.join(e.tmp, "cfg-once"))
    rc, text = T.run_pty(e.client_cmd(ip, "ls"), env_once, [("[o]nce / [a]lways", "once\n")])
    check(rc == 0 and not os.path.exists(os.path.join(e.tmp, "cfg-once", "ftps-client", "known_certs")),
          "pty: 'once' connects and stores nothing", text)
    rc, text = T.run_pty(e.client_cmd(ip, "ls"), env_once, [("[o]nce / [a]lways", "abort\n")])
    check(rc == 3 and "aborted: certificate not trusted" in text, "pty: 'abort' exits 3", text)
    rc, text = T.run_pty(e.client_cmd("--batch", ip, "ls"), env_once, [])
    check(rc == 3 and "Trust this certificate" not in text, "--batch never prompts, even on a terminal", text)

    # 3. The server gets a new self-signed certificate: refused loudly.
    e.stop_vsftpd(server)
    crt2, key2 = make_selfsigned(e, "self2")
    fp2_colon, fp2_hex = fingerprint(crt2)
    server = e.start_vsftpd(crt2, key2)
    r = e.client(ip, "ls")
    check(r.returncode == 4 and "HAS CHANGED" in r.stderr and "man-in-the-middle" in r.stderr and
          fp_hex in r.stderr and fp2_hex in r.stderr and "trust" in r.stderr,
          "changed certificate: loud warning, exit 4", r.stderr)
    rc, text = T.run_pty(e.client_cmd(ip, "ls"), env, [("[o]nce / [a]lways", "always\n")])
    check(rc == 4 and "Trust this certificate" not in text,
          "changed certificate on a terminal: refused without offering to trust", text)
    r = e.client("--tofu", ip, "ls")
    check(r.returncode == 4, "--tofu does not override a stored certificate", r.stderr)
    # Only the explicit trust command replaces it.
    r = e.client(ip, "trust")
    check(r.returncode == 3 and "needs --pin" in r.stderr, "trust without a terminal needs --pin", r.stderr)
    r = e.client("--pin", "sha256:" + fp_hex, ip, "trust")
    check(r.returncode == 4 and "does not match --pin" in r.stderr, "trust with a wrong pin stores nothing", r.stderr)
    rc, text = T.run_pty(e.client_cmd(ip, "trust"), env, [("[o]nce / [a]lways", "always\n")])
    check(rc == 0 and "REPLACES the stored certificate" in text and fp2_colon in text,
          "trust on a terminal replaces the stored certificate", text)
    r = e.client(ip, "ls")
    check(r.returncode == 0 and fp2_hex in open(known).read() and fp_hex not in open(known).read(),
          "after 'trust' the new certificate is accepted", r.stderr)

    # 4. Non-interactive policies (fresh config each).
    def fresh(tag):
        return dict(env, XDG_CONFIG_HOME=os.path.join(e.tmp, "cfg-" + tag))
    r = e.client(ip, "ls", env=fresh("none"))
    check(r.returncode == 3 and f"--pin sha256:{fp2_hex}" in r.stderr and "--tofu" in r.stderr,
          "non-interactive, unverifiable: exit 3 naming --pin and --tofu", r.stderr)
    r = e.client("--pin", "sha256:" + fp2_colon, ip, "ls", env=fresh("pin"))
    check(r.returncode == 0 and "data.bin" in r.stdout, "--pin with the right fingerprint connects", r.stderr)
    r = e.client("--pin", "sha256:" + fp_hex, ip, "ls", env=fresh("pin"))
    check(r.returncode == 4 and "pinned (--pin)" in r.stderr, "--pin mismatch: exit 4", r.stderr)
    r = e.client("--pin", "sha256:1234", ip, "ls", env=fresh("pin"))
    check(r.returncode == 1 and "64 hex digits" in r.stderr, "malformed --pin: usage error", r.stderr)
    r = e.client("--tofu", ip, "ls", env=fresh("tofu"))
    check(r.returncode == 0 and "trusting this certificate on first use" in r.stderr, "--tofu stores and connects")
    r = e.client("--insecure-skip-verify", ip, "ls", env=fresh("insecure"))
    check(r.returncode == 0 and "WARNING: --insecure-skip-verify" in r.stderr and "NOT verified" in r.stderr,
          "--insecure-skip-verify connects with a loud warning", r.stderr)
    check(not os.path.exists(os.path.join(e.tmp, "cfg-insecure", "ftps-client", "known_certs")),
          "--insecure-skip-verify stores nothing")

    # 5. Session resumption on TLS 1.2 and 1.3, implicit FTPS.
    for v in ("1.2", "1.3"):
        r = e.client("-v", "--tls", v, ip, "get", "data.bin", os.path.join(e.tmp, "v.bin"))
        check(r.returncode == 0 and f"data TLS TLSv{v}, session resumed" in r.stderr and
              open(os.path.join(e.tmp, "v.bin"), "rb").read() == payload,
              f"TLS {v}: data connection resumes the control session (vsftpd require_ssl_reuse=YES)", r.stderr[-2000:])
    implicit = e.start_vsftpd(crt2, key2, port=990, implicit=True)
    r = e.client("--implicit", "--pin", "sha256:" + fp2_hex, ip, "ls", env=fresh("implicit"))
    check(r.returncode == 0 and "data.bin" in r.stdout, "implicit FTPS on port 990", r.stderr)
    r = e.client("--timeout", "2", "--pin", "sha256:" + fp2_hex, "-p", "990", ip, "ls", env=fresh("implicit"))
    check(r.returncode == 2 and "no reply from the server within 2 s (timeout)" in r.stderr,
          "explicit client against an implicit server: timeout, exit 2", r.stderr)
    e.stop_vsftpd(implicit)

    # An expired certificate, even from a trusted CA file, is not verified.
    T.keys("selfsign", "--key", key2, "--subject", "CN=ftp.test", "--san", "IP:198.18.7.1",
           "--not-before", "2020-01-01", "--not-after", "2021-01-01", "-o", f"{e.tmp}/expired.crt")
    old_server = e.start_vsftpd(f"{e.tmp}/expired.crt", key2, port=2122)
    r = e.client("--ca-file", f"{e.tmp}/expired.crt", "-p", "2122", ip, "ls", env=fresh("expired"))
    check(r.returncode == 3 and "certificate has expired" in r.stderr and "2021-01-01" in r.stderr,
          "expired server certificate: exit 3, 'certificate has expired' and the dates shown", r.stderr)
    e.stop_vsftpd(old_server)

    # IPv6 on the namespace's loopback: [::1]:PORT, EPSV, IP SAN check.
    T.keys("selfsign", "--key", key2, "--subject", "CN=v6", "--san", "IP:::1", "-o", f"{e.tmp}/v6.crt")
    v6 = e.start_vsftpd(f"{e.tmp}/v6.crt", key2, port=2123, ip="::1")
    r = e.client("--tofu", "[::1]:2123", "get", "data.bin", f"{e.tmp}/v6.bin", env=fresh("v6"))
    known6 = os.path.join(e.tmp, "cfg-v6", "ftps-client", "known_certs")
    check(r.returncode == 0 and open(f"{e.tmp}/v6.bin", "rb").read() == payload and
          "[::1]:2123 " in open(known6).read(), "IPv6: [::1]:2123 with --tofu stores '[::1]:2123', download exact",
          r.stderr)
    r = e.client("--ca-file", f"{e.tmp}/v6.crt", "[::1]:2123", "ls", env=fresh("v6ca"))
    check(r.returncode == 0, "IPv6: the IP SAN ::1 verifies against --ca-file", r.stderr)
    e.stop_vsftpd(v6)

    # 6. File commands.
    pin = ["--pin", "sha256:" + fp2_hex]
    local = os.path.join(e.tmp, "local.txt")
    with open(local, "w") as f:
        f.write("local file\n")
    steps = [
        (["mkdir", "newdir"], 0), (["put", local, "newdir/a.txt"], 0),
        (["rename", "newdir/a.txt", "newdir/b.txt"], 0), (["ls", "newdir"], 0),
    ]
    for args, want in steps:
        r = e.client(*pin, ip, *args)
        check(r.returncode == want, f"{' '.join(args[:1])} succeeds", r.stderr)
    check("b.txt" in r.stdout and open(os.path.join(e.root, "newdir", "b.txt")).read() == "local file\n",
          "put + rename + ls show the file on the server")
    os.makedirs(f"{e.tmp}/into")
    r = e.client(*pin, ip, "get", "newdir/b.txt", f"{e.tmp}/into")
    check(r.returncode == 0 and open(f"{e.tmp}/into/b.txt").read() == "local file\n",
          "get REMOTE DIR keeps the remote name", r.stderr)
    r = e.client(*pin, ip, "put", local, "newdir/")
    check(r.returncode == 0 and os.path.exists(os.path.join(e.root, "newdir", "local.txt")),
          "put LOCAL DIR/ keeps the local name", r.stderr)
    e.client(*pin, ip, "rm", "newdir/local.txt")
    r = e.client(*pin, ip, "rm", "newdir/b.txt")
    check(r.returncode == 0 and not os.path.exists(os.path.join(e.root, "newdir", "b.txt")), "rm removes it")
    r = e.client(*pin, ip, "rmdir", "newdir")
    check(r.returncode == 0 and not os.path.exists(os.path.join(e.root, "newdir")), "rmdir removes the folder")

    # 7. Error cases, each with its message and exit status.
    errors = [
        ((*pin, ip, "get", "missing.bin", os.path.join(e.tmp, "m")), 6, "550"),
        ((*pin, ip, "rm", "missing.bin"), 6, "rm missing.bin: 550"),
        ((*pin, ip, "rename", "missing.bin", "x"), 6, "rename missing.bin: 550"),
        ((*pin, ip, "put", os.path.join(e.tmp, "nope"), "x"), 7, "cannot read"),
        ((*pin, ip, "get", "data.bin", "/nonexistent-dir/x"), 7, "cannot write /nonexistent-dir/x"),
        ((*pin, "-p", "2121", ip, "ls"), 2, "cannot connect to 198.18.7.1 port 2121"),
        ((*pin, ip, "frobnicate"), 1, "unknown command"),
        ((*pin, "-R", ip, "mirror", os.path.join(e.tmp, "no-such-dir"), "x"), 7, "is not a folder"),
        ((*pin, ip, "mirror", "no-such-dir", os.path.join(e.tmp, "mx")), 6, "cannot enter"),
        ((*pin, ip, "get"), 1, "wrong number of arguments"),
        ((*pin, ip, "get", "a\r\nDELE data.bin"), 1, "CR/LF"),
        ((*pin, "--tofu", ip, "ls"), 1, "choose one of"),
        (("--ca-file", "/nonexistent.pem", ip, "ls"), 1, "cannot load CA file"),
    ]
    for args, status, message in errors:
        r = e.client(*args)
        check(r.returncode == status and message in r.stderr,
              f"error: {' '.join(a for a in args[2:] if len(a) < 40)} -> exit {status}, '{message}'",
              f"got {r.returncode}: {r.stderr}")
    nopass = {k: v for k, v in env.items() if k != "FTPS_PASSWORD"}
    rc, text = T.run_pty(e.client_cmd(*pin, ip, "ls"), nopass, [("Password:", e.password + "\n")])
    check(rc == 0 and "data.bin" in text and e.password not in text, "password asked on a terminal, not echoed", text)
    r = e.client(*pin, ip, "ls", env=nopass)
    check(r.returncode == 1 and "no password for user" in r.stderr, "no password and no terminal: usage error",
          r.stderr)
    with open(f"{e.tmp}/pwfile", "w") as f:
        f.write(e.password + "\n")
    r = e.client(*pin, "--password-file", f"{e.tmp}/pwfile", ip, "ls", env=nopass)
    check(r.returncode == 0, "--password-file logs in", r.stderr)
    check(not os.path.exists(os.path.join(e.tmp, "m")), "a refused download leaves no empty local file")
    with open(f"{e.tmp}/keep.txt", "w") as f:
        f.write("keep me")
    r = e.client(*pin, ip, "get", "missing.bin", f"{e.tmp}/keep.txt")
    check(r.returncode == 6 and open(f"{e.tmp}/keep.txt").read() == "keep me",
          "a refused download leaves an existing local file untouched", r.stderr)
    check(not os.path.exists(os.path.join(e.tmp, "mx")), "a mirror of a missing folder creates nothing locally")
    bad = dict(env, FTPS_PASSWORD="wrong-password")
    r = e.client(*pin, ip, "ls", env=bad)
    check(r.returncode == 5 and "login as" in r.stderr and "530" in r.stderr, "wrong password: exit 5", r.stderr)

    # 8. CA flow: CSR by ftps-keys, signed by a test CA, imported, served.
    d = e.tmp
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt", "-subj", "/CN=Test CA", "-days", "5",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], check=True, capture_output=True)
    T.keys("genkey", "--type", "rsa2048", "-o", f"{d}/srv.key")
    T.keys("csr", "--key", f"{d}/srv.key", "--subject", "CN=ftp.test", "--san", "DNS:ftp.test,IP:198.18.7.1",
           "-o", f"{d}/srv.csr")
    with open(f"{d}/srv.ext", "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", f"{d}/srv.csr", "-CA", f"{d}/ca.crt", "-CAkey", f"{d}/ca.key",
                    "-CAcreateserial", "-days", "3", "-copy_extensions", "copy", "-extfile", f"{d}/srv.ext",
                    "-out", f"{d}/srv.crt"], check=True, capture_output=True)
    T.keys("import", "--key", f"{d}/srv.key", "--cert", f"{d}/srv.crt", "--root", f"{d}/ca.crt",
           "-o", f"{d}/installed.pem")
    e.stop_vsftpd(server)
    server = e.start_vsftpd(f"{d}/installed.pem", f"{d}/srv.key")
    url_user = f"{e.user}:{e.password}"
    r = subprocess.run(e.ns_cmd(["curl", "-sS", "--ssl-reqd", "--cacert", f"{d}/ca.crt", "-u", url_user,
                                 "ftp://ftp.test/data.bin", "-o", f"{d}/curl.bin"]), capture_output=True, text=True)
    check(r.returncode == 0 and open(f"{d}/curl.bin", "rb").read() == payload,
          "CA flow: curl --cacert verifies and downloads", r.stderr)
    r = subprocess.run(e.ns_cmd(["curl", "-sS", "--ssl-reqd", "--cacert", f"{d}/ca.crt", "-u", url_user,
                                 "ftp://wrong.test/data.bin", "-o", f"{d}/curl2.bin"]), capture_output=True, text=True)
    check(r.returncode == 60 and "wrong.test" in r.stderr, "CA flow: curl with a wrong host name fails", r.stderr)
    lftp = subprocess.run(e.ns_cmd(["lftp", "-c",
                                    f"set ssl:ca-file {d}/ca.crt; set ssl:verify-certificate yes; "
                                    f"set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set net:max-retries 1; "
                                    f"open -u {e.user},{e.password} ftp.test; get data.bin -o {d}/lftp.bin"]),
                          capture_output=True, text=True, timeout=60)
    check(lftp.returncode == 0 and open(f"{d}/lftp.bin", "rb").read() == payload,
          "CA flow: lftp with verification downloads", lftp.stderr)
    lftp = subprocess.run(e.ns_cmd(["lftp", "-c",
                                    f"set ssl:ca-file {d}/ca.crt; set ssl:verify-certificate yes; "
                                    f"set ftp:ssl-force yes; set net:max-retries 1; set net:timeout 5; "
                                    f"open -u {e.user},{e.password} wrong.test; ls"]),
                          capture_output=True, text=True, timeout=60)
    check(lftp.returncode != 0 and "match requested host name" in lftp.stderr,
          "CA flow: lftp with a wrong host name fails", lftp.stderr)
    print(f"   (lftp said: {lftp.stderr.strip()[:200]})")
    fresh_ca = fresh("ca")
    r = e.client("--ca-file", f"{d}/ca.crt", "ftp.test", "get", "data.bin", f"{d}/ours.bin", env=fresh_ca)
    check(r.returncode == 0 and open(f"{d}/ours.bin", "rb").read() == payload and "Trust this" not in r.stderr,
          "CA flow: ftps-client --ca-file verifies the host name without prompting", r.stderr)
    r = e.client("--ca-file", f"{d}/ca.crt", ip, "ls", env=fresh_ca)
    check(r.returncode == 0, "CA flow: ftps-client verifies the IP SAN", r.stderr)
    r = e.client("--ca-file", f"{d}/ca.crt", "wrong.test", "ls", env=fresh_ca)
    check(r.returncode == 3 and "hostname mismatch" in r.stderr, "CA flow: ftps-client refuses a wrong host name",
          r.stderr)
    r = e.client("ftp.test", "ls", env=fresh_ca)
    check(r.returncode == 3 and "unable to get local issuer certificate" in r.stderr,
          "without --ca-file the test CA is unknown (system store)", r.stderr)
    check(not os.path.exists(os.path.join(e.tmp, "cfg-ca", "ftps-client", "known_certs")),
          "a CA-verified server is not written to known_certs")

    # 9. Client certificates from the internal CA (vsftpd checks the chain; it
    #    has no CRL support, so revocation is checked in keys_cli_test and waits
    #    for the appliance's control plane).
    T.keys("ca", "init", "--dir", f"{d}/clientca", "--subject", "CN=Test Client CA")
    T.keys("ca", "issue", "--dir", f"{d}/clientca", "--subject", f"CN={e.user}", "--key-out", f"{d}/user.key",
           "-o", f"{d}/user.crt")
    e.stop_vsftpd(server)
    server = e.start_vsftpd(f"{d}/installed.pem", f"{d}/srv.key",
                            extra=f"require_cert=YES\nvalidate_cert=YES\nca_certs_file={d}/clientca/ca.crt\n")
    r = e.client("--ca-file", f"{d}/ca.crt", "--cert", f"{d}/user.crt", "--key", f"{d}/user.key",
                 "ftp.test", "get", "data.bin", f"{d}/mtls.bin", env=fresh_ca)
    check(r.returncode == 0 and open(f"{d}/mtls.bin", "rb").read() == payload,
          "client certificate from the internal CA: vsftpd (require_cert, validate_cert) accepts it", r.stderr)
    r = e.client("--ca-file", f"{d}/ca.crt", "ftp.test", "ls", env=fresh_ca)
    check(r.returncode == 3 and "alert" in r.stderr, "without a client certificate: the server's TLS alert, exit 3",
          r.stderr)
    print(f"   (client said: {r.stderr.strip()[:200]})")
    T.keys("selfsign", "--key", f"{d}/user.key", "--subject", f"CN={e.user}", "-o", f"{d}/rogue.crt")
    r = e.client("--ca-file", f"{d}/ca.crt", "--cert", f"{d}/rogue.crt", "--key", f"{d}/user.key",
                 "ftp.test", "ls", env=fresh_ca)
    check(r.returncode == 3 and "unknown ca" in r.stderr, "a client certificate not from the CA: refused, exit 3",
          r.stderr)
    print(f"   (client said: {r.stderr.strip()[:200]})")
    r = e.client("--ca-file", f"{d}/ca.crt", "--cert", f"{d}/user.crt", "--key", f"{d}/srv.key",
                 "ftp.test", "ls", env=fresh_ca)
    check(r.returncode == 1 and "cannot use client certificate" in r.stderr,
          "client certificate with the wrong key: usage error", r.stderr)


if __name__ == "__main__":
    sys.exit(main())
