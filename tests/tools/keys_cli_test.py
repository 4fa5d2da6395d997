#!/usr/bin/env python3
"""ftps-keys end to end, without network: every subcommand, the CA flow with
a CSR signed by `openssl x509 -req` through an intermediate, the internal
client CA checked by `openssl verify -crl_check`, atomic installation under a
concurrent reader, and every error case with its message."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_testenv as T  # noqa: E402
from ftps_testenv import keys  # noqa: E402

check = T.Checks("keys_cli")


def expect_fail(args, message, status=1):
    r = keys(*args, check=False)
    check(r.returncode == status and message in r.stderr,
          f"{' '.join(args[:2])}: exit {status} with '{message}' (got {r.returncode}: {r.stderr.strip()})")
    return r


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), capture_output=True, text=True, check=True)


def main():
    d = tempfile.mkdtemp(prefix="ftps-keys-test-")
    try:
        run_all(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return check.finish()


def run_all(d):
    p = lambda name: os.path.join(d, name)  # noqa: E731

    # Keys of every type: 0600, never printed.
    for t, desc in [("ec-p256", "ECDSA P-256"), ("ec-p384", "ECDSA P-384"),
                    ("rsa2048", "RSA 2048"), ("rsa4096", "RSA 4096"), ("ed25519", "Ed25519")]:
        r = keys("genkey", "--type", t, "-o", p(t + ".key"))
        mode = stat.S_IMODE(os.stat(p(t + ".key")).st_mode)
        check(mode == 0o600, f"genkey {t} writes mode 0600 (got {oct(mode)})")
        check(desc in r.stdout and "PRIVATE KEY" not in r.stdout and "BEGIN" not in r.stdout,
              f"genkey {t} reports the type, prints no key")
        r = keys("show", p(t + ".key"))
        check(desc in r.stdout and "BEGIN" not in r.stdout, f"show {t} key: type, no key material")
    expect_fail(["genkey", "--type", "rsa1024", "-o", p("weak.key")], "2048 to 4096")
    expect_fail(["genkey", "--type", "dsa", "-o", p("dsa.key")], "unknown key type")
    expect_fail(["genkey", "-o", p("ec-p256.key")], "refusing to replace a key")

    # Passphrases: from a file or the environment; wrong and missing ones.
    with open(p("pass"), "w") as f:
        f.write("correct horse battery\n")
    with open(p("badpass"), "w") as f:
        f.write("wrong\n")
    keys("genkey", "--type", "ec-p256", "--passphrase-file", p("pass"), "-o", p("enc.key"))
    check("ENCRYPTED PRIVATE KEY" in open(p("enc.key")).read(), "passphrase key is encrypted PKCS#8")
    r = keys("show", p("enc.key"), "--passphrase-env", "KEYPASS",
             env=dict(os.environ, KEYPASS="correct horse battery"))
    check("ECDSA P-256" in r.stdout, "encrypted key opens with --passphrase-env")
    expect_fail(["selfsign", "--key", p("enc.key"), "--subject", "CN=x", "-o", p("x.crt"),
                 "--passphrase-file", p("badpass")], "wrong passphrase")
    expect_fail(["selfsign", "--key", p("enc.key"), "--subject", "CN=x", "-o", p("x.crt")],
                "is encrypted: a passphrase is needed")

    # Passphrase typed on a terminal: asked twice when creating, echo off.
    rc, text = T.run_pty([T.tool("ftps-keys"), "genkey", "--ask-passphrase", "-o", p("tty.key")], dict(os.environ),
                         [("Passphrase:", "hunter22\n"), ("Verifying", "hunter22\n")])
    check(rc == 0 and "encrypted with AES-256" in text and "hunter22" not in text,
          "genkey --ask-passphrase on a terminal (asked twice, not echoed)", text)
    rc, text = T.run_pty([T.tool("ftps-keys"), "show", "--ask-passphrase", p("tty.key")], dict(os.environ),
                         [("Passphrase:", "hunter22\n")])
    check(rc == 0 and "ECDSA P-256" in text, "show --ask-passphrase opens the key", text)
    rc, text = T.run_pty([T.tool("ftps-keys"), "show", "--ask-passphrase", p("tty.key")], dict(os.environ),
                         [("Passphrase:", "hunter2\n")])
    check(rc == 1 and "wrong passphrase" in text, "a mistyped passphrase: 'wrong passphrase'", text)
    rc, text = T.run_pty([T.tool("ftps-keys"), "genkey", "--ask-passphrase", "-o", p("tty2.key")], dict(os.environ),
                         [("Passphrase:", "hunter22\n"), ("Verifying", "hunter23\n")])
    check(rc == 1 and "two entries differ" in text and not os.path.exists(p("tty2.key")),
          "genkey with two different passphrases writes nothing", text)

    # Self-signed server certificate with SANs, validity and usages.
    r = keys("selfsign", "--key", p("ec-p256.key"), "--subject", "CN=ftp.test,O=Test",
             "--san", "DNS:ftp.test", "--san", "IP:198.18.7.1", "--days", "90", "-o", p("self.crt"))
    text = openssl("x509", "-in", p("self.crt"), "-noout", "-text").stdout
    check("DNS:ftp.test, IP Address:198.18.7.1" in text, "selfsign: SANs DNS and IP")
    check("TLS Web Server Authentication" in text and "Digital Signature" in text,
          "selfsign: extKeyUsage serverAuth and keyUsage")
    check("CA:FALSE" in text, "selfsign: not a CA")
    serials = {openssl("x509", "-in", p("self.crt"), "-noout", "-serial").stdout}
    keys("selfsign", "--key", p("ec-p256.key"), "--subject", "CN=ftp.test", "-o", p("self2.crt"))
    serials.add(openssl("x509", "-in", p("self2.crt"), "-noout", "-serial").stdout)
    check(len(serials) == 2 and len(list(serials)[0].strip()) > 30, "selfsign: random 159-bit serials differ")
    fp = openssl("x509", "-in", p("self.crt"), "-noout", "-fingerprint", "-sha256").stdout.split("=")[1].strip()
    r = keys("show", p("self.crt"))
    check(fp in r.stdout and "SANs:        DNS:ftp.test, IP:198.18.7.1" in r.stdout and
          "Issuer:" in r.stdout and "Validity:" in r.stdout and "ECDSA P-256" in r.stdout,
          "show cert: subject, issuer, validity, SANs, key, SHA-256 as openssl computes it")
    expect_fail(["selfsign", "--key", p("ec-p256.key"), "--subject", "CN=x", "--san", "IP:1.2.3.999",
                 "-o", p("x.crt")], "not an IPv4 or IPv6 address")
    expect_fail(["selfsign", "--key", p("ec-p256.key"), "--subject", "CNx", "-o", p("x.crt")],
                "KEY=value")
    expect_fail(["selfsign", "--key", p("self.crt"), "--subject", "CN=x", "-o", p("x.crt")],
                "wrong format")
    r = keys("selfsign", check=False)
    check(r.returncode == 2 and "needs --key" in r.stderr, "selfsign without arguments: usage, exit 2")

    # check-expiry: monitoring exit statuses.
    r = keys("check-expiry", p("self.crt"), "--days", "30", check=False)
    check(r.returncode == 0 and r.stdout.startswith("OK:"), "check-expiry 90-day cert, 30-day threshold: OK, 0")
    r = keys("check-expiry", p("self.crt"), "--days", "100", check=False)
    check(r.returncode == 1 and r.stdout.startswith("WARNING:"), "check-expiry within 100 days: WARNING, 1")
    keys("selfsign", "--key", p("ec-p256.key"), "--subject", "CN=old", "--not-before", "2020-01-01",
         "--not-after", "2021-01-01", "-o", p("expired.crt"))
    keys("selfsign", "--key", p("ec-p256.key"), "--subject", "CN=future", "--not-before", "2099-01-01",
         "--not-after", "2099-12-31", "-o", p("future.crt"))
    r = keys("check-expiry", p("expired.crt"), check=False)
    check(r.returncode == 2 and "expired on 2021-01-01" in r.stdout, "check-expiry expired: CRITICAL, 2")
    r = keys("check-expiry", p("future.crt"), check=False)
    check(r.returncode == 2 and "not yet valid" in r.stdout, "check-expiry not yet valid: CRITICAL, 2")
    r = keys("check-expiry", p("pass"), check=False)
    check(r.returncode == 3 and "UNKNOWN" in r.stdout, "check-expiry on a non-certificate: UNKNOWN, 3")

    # CA flow: root -> intermediate (openssl) -> our CSR signed with `openssl x509 -req`.
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("root.key"), "-out", p("root.crt"), "-subj", "/CN=Test Root", "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("int.key"), "-out", p("int.csr"), "-subj", "/CN=Test Intermediate")
    with open(p("ext.cnf"), "w") as f:
        f.write("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                "[server]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                "keyUsage=critical,digitalSignature\n")
    openssl("x509", "-req", "-in", p("int.csr"), "-CA", p("root.crt"), "-CAkey", p("root.key"),
            "-CAcreateserial", "-days", "30", "-extfile", p("ext.cnf"), "-extensions", "ca", "-out", p("int.crt"))
    r = keys("csr", "--key", p("ec-p384.key"), "--subject", "CN=ftp.test", "--san", "ftp.test,198.18.7.1",
             "-o", p("server.csr"))
    check("DNS:ftp.test, IP:198.18.7.1" in r.stdout, "csr carries the SANs")
    check("verify OK" in openssl("req", "-in", p("server.csr"), "-noout", "-verify").stderr +
          openssl("req", "-in", p("server.csr"), "-noout", "-verify").stdout, "csr signature verifies with openssl")
    openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("int.crt"), "-CAkey", p("int.key"),
            "-CAcreateserial", "-days", "20", "-copy_extensions", "copy", "-extfile", p("ext.cnf"),
            "-extensions", "server", "-out", p("server.crt"))
    r = keys("import", "--key", p("ec-p384.key"), "--cert", p("server.crt"), "--chain", p("int.crt"),
             "--root", p("root.crt"), "-o", p("installed.pem"))
    installed = open(p("installed.pem")).read()
    check(installed.count("BEGIN CERTIFICATE") == 2 and "1 chain certificate" in r.stdout,
          "import installs leaf + intermediate")
    v = subprocess.run(["openssl", "verify", "-CAfile", p("root.crt"), "-untrusted", p("installed.pem"),
                        p("installed.pem")], capture_output=True, text=True)
    check(v.returncode == 0, "installed chain verifies with openssl")
    check(not [n for n in os.listdir(d) if ".tmp." in n], "import leaves no temporary files")

    # CA replies as PKCS#7 bundles (PEM and DER) and as a PEM bundle with the chain first.
    openssl("crl2pkcs7", "-nocrl", "-certfile", p("int.crt"), "-certfile", p("server.crt"), "-out", p("reply.p7b"))
    openssl("crl2pkcs7", "-nocrl", "-certfile", p("int.crt"), "-certfile", p("server.crt"), "-outform", "DER",
            "-out", p("reply.p7c"))
    with open(p("reversed.pem"), "w") as f:
        f.write(open(p("int.crt")).read() + open(p("server.crt")).read())
    leaf_fp = openssl("x509", "-in", p("server.crt"), "-noout", "-fingerprint", "-sha256").stdout.split("=")[1].strip()
    for name in ("reply.p7b", "reply.p7c", "reversed.pem"):
        r = keys("import", "--key", p("ec-p384.key"), "--cert", p(name), "--root", p("root.crt"),
                 "-o", p("from-" + name + ".pem"), check=False)
        first = openssl("x509", "-in", p("from-" + name + ".pem"), "-noout", "-fingerprint",
                        "-sha256").stdout if r.returncode == 0 else ""
        check(r.returncode == 0 and leaf_fp in first and "1 chain certificate" in r.stdout,
              f"import of {name}: leaf found by its key, installed first", r.stderr)

    # Import errors: nothing installed, the old file stays.
    before = open(p("installed.pem")).read()
    expect_fail(["import", "--key", p("ec-p256.key"), "--cert", p("server.crt"), "--chain", p("int.crt"),
                 "--root", p("root.crt"), "-o", p("installed.pem")], "key mismatch")
    expect_fail(["import", "--key", p("ec-p384.key"), "--cert", p("server.crt"),
                 "--root", p("root.crt"), "-o", p("installed.pem")],
                "broken chain: unable to get local issuer certificate")
    expect_fail(["import", "--key", p("ec-p384.key"), "--cert", p("server.crt"), "--chain", p("int.crt"),
                 "--root", p("self.crt"), "-o", p("installed.pem")], "broken chain")
    expect_fail(["import", "--key", p("ec-p384.key"), "--cert", p("server.crt"), "--chain", p("int.crt"),
                 "--root", "system", "-o", p("installed.pem")], "broken chain: unable to get local issuer")
    expect_fail(["import", "--key", p("ec-p384.key"), "--cert", p("server.csr"),
                 "--root", p("root.crt"), "-o", p("installed.pem")], "wrong format")
    expect_fail(["import", "--key", p("ec-p256.key"), "--cert", p("expired.crt"),
                 "--root", p("expired.crt"), "-o", p("installed.pem")], "expired")
    expect_fail(["import", "--key", p("ec-p256.key"), "--cert", p("future.crt"),
                 "--root", p("future.crt"), "-o", p("installed.pem")], "not yet valid")
    check(open(p("installed.pem")).read() == before, "failed imports leave the installed file untouched")

    # Atomic replacement: a reader never sees a partial file.
    keys("csr", "--key", p("ec-p384.key"), "--subject", "CN=ftp.test", "--san", "ftp.test", "-o", p("s2.csr"))
    openssl("x509", "-req", "-in", p("s2.csr"), "-CA", p("int.crt"), "-CAkey", p("int.key"),
            "-CAcreateserial", "-days", "20", "-extfile", p("ext.cnf"), "-extensions", "server",
            "-out", p("server2.crt"))
    keys("import", "--key", p("ec-p384.key"), "--cert", p("server2.crt"), "--chain", p("int.crt"),
         "--root", p("root.crt"), "-o", p("alt.pem"))
    versions = {open(p("installed.pem")).read(), open(p("alt.pem")).read()}
    seen, bad, stop = [0], [0], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                data = open(p("installed.pem")).read()
            except FileNotFoundError:
                bad[0] += 1
                continue
            seen[0] += 1
            if data not in versions:
                bad[0] += 1
    t = threading.Thread(target=reader)
    t.start()
    for i in range(20):
        src = p("server2.crt") if i % 2 == 0 else p("server.crt")
        keys("import", "--key", p("ec-p384.key"), "--cert", src, "--chain", p("int.crt"),
             "--root", p("root.crt"), "-o", p("installed.pem"))
    stop.set()
    t.join()
    check(seen[0] > 20 and bad[0] == 0, f"concurrent reader saw {seen[0]} whole files, {bad[0]} partial or missing")

    # show for a chain, CSR, CRL and garbage.
    r = keys("show", p("installed.pem"), p("server.csr"))
    check("certificate 1 of 2 (leaf)" in r.stdout and "certificate signing request" in r.stdout and
          "Signature:   valid" in r.stdout, "show chain and CSR")
    expect_fail(["show", p("ext.cnf")], "wrong format")
    openssl("pkey", "-in", p("rsa2048.key"), "-pubout", "-out", p("rsa.pub"))
    openssl("x509", "-in", p("self.crt"), "-outform", "DER", "-out", p("self.der"))
    r = keys("show", p("rsa.pub"), p("self.der"))
    check("RSA 2048 bits" in r.stdout and fp in r.stdout, "show a public key and a DER certificate")

    # Internal client CA: issue, list, revoke, CRL, checked by openssl verify -crl_check.
    ca = p("clientca")
    keys("ca", "init", "--dir", ca, "--subject", "CN=FTPS Client CA")
    check(stat.S_IMODE(os.stat(os.path.join(ca, "ca.key")).st_mode) == 0o600, "ca key 0600")
    r = keys("ca", "issue", "--dir", ca, "--subject", "CN=alice", "--key-out", p("alice.key"), "-o", p("alice.crt"))
    keys("genkey", "-o", p("bob.key"))
    keys("csr", "--key", p("bob.key"), "--subject", "CN=bob", "-o", p("bob.csr"))
    keys("ca", "issue", "--dir", ca, "--csr", p("bob.csr"), "-o", p("bob.crt"))
    text = openssl("x509", "-in", p("bob.crt"), "-noout", "-text").stdout
    check("TLS Web Client Authentication" in text and "Issuer: CN = FTPS Client CA" in text,
          "ca issue: clientAuth certificate from a CSR")
    bob_serial = openssl("x509", "-in", p("bob.crt"), "-noout", "-serial").stdout.split("=")[1].strip()
    r = keys("ca", "list", "--dir", ca)
    check(r.stdout.count("valid ") == 2 and "CN = alice" in r.stdout and bob_serial in r.stdout, "ca list shows both")
    r = keys("ca", "revoke", "--dir", ca, "--serial", bob_serial.lower(), "--reason", "keyCompromise")
    check("revoked serial" in r.stdout and "published CRL number" in r.stdout, "ca revoke publishes a CRL")
    crl = os.path.join(ca, "crl.pem")
    a = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", os.path.join(ca, "ca.crt"),
                        "-CRLfile", crl, p("alice.crt")], capture_output=True, text=True)
    b = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", os.path.join(ca, "ca.crt"),
                        "-CRLfile", crl, p("bob.crt")], capture_output=True, text=True)
    check(a.returncode == 0, "openssl verify -crl_check: alice valid")
    check(b.returncode != 0 and "certificate revoked" in b.stdout + b.stderr, "openssl verify -crl_check: bob revoked")
    crl_text = openssl("crl", "-in", crl, "-noout", "-text").stdout
    check("Key Compromise" in crl_text and f"Serial Number: {bob_serial}" in crl_text,
          "CRL lists bob's serial with the reason")
    r = keys("ca", "list", "--dir", ca)
    check("revoked" in r.stdout, "ca list marks the revoked certificate")
    keys("ca", "crl", "--dir", ca, "-o", p("published-crl.pem"))
    n1 = openssl("crl", "-in", crl, "-noout", "-crlnumber").stdout
    # init published CRL 1, revoke CRL 2, this one is 3.
    check(n1.strip() == "crlNumber=0x03", f"CRL number increases ({n1.strip()})")
    check(open(p("published-crl.pem")).read() == open(crl).read(), "ca crl -o publishes the same CRL")
    expect_fail(["ca", "revoke", "--dir", ca, "--serial", bob_serial], "already revoked")
    expect_fail(["ca", "revoke", "--dir", ca, "--serial", "ABCDEF"], "no certificate with serial")
    expect_fail(["ca", "revoke", "--dir", ca, "--serial", "xyz"], "not a hexadecimal serial")
    expect_fail(["ca", "list", "--dir", p("nowhere")], "ftps-keys ca init")
    expect_fail(["ca", "init", "--dir", ca, "--subject", "CN=again"], "already holds a CA")
    with open(os.path.join(ca, "index.tsv"), "a") as f:
        f.write("garbage line\n")
    expect_fail(["ca", "list", "--dir", ca], "is damaged")
    r = keys("ca", "frobnicate", "--dir", ca, check=False)
    check(r.returncode == 2 and "unknown ca command" in r.stderr, "unknown ca command: usage, exit 2")


if __name__ == "__main__":
    sys.exit(main())
