"""openssl s_client -starttls ftp shows the certificate chain (server +
intermediate) verified against the test CA; SNI accepted, ALPN "ftp"
selected; implicit FTPS on 990 as well; TLS 1.1 refused."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

env = h.Env("openssl")
ck = h.Checker(env)


def s_client(*args):
    r = subprocess.run(["openssl", "s_client", "-CAfile", env.ca, "-showcerts"] + list(args),
                       input=b"QUIT\r\n", capture_output=True, timeout=20)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


rc, out = s_client("-starttls", "ftp", "-connect", h.SERVER + ":21", "-servername", "ftps.test",
                   "-alpn", "ftp")
ck.ok("Certificate chain" in out and " 0 s:CN = ftps.test" in out and
      " 1 s:CN = FTPS Test Intermediate" in out, "explicit: chain of server and intermediate")
ck.ok(out.count("-----BEGIN CERTIFICATE-----") == 2, "explicit: both certificates sent")
ck.ok("Verify return code: 0 (ok)" in out, "explicit: verifies against the test CA")
ck.ok("ALPN protocol: ftp" in out, "ALPN ftp selected")
rc, out = s_client("-connect", h.SERVER + ":990", "-servername", "other.name", "-ign_eof")
ck.ok(" 1 s:CN = FTPS Test Intermediate" in out and "Verify return code: 0 (ok)" in out,
      "implicit: chain verified, any SNI name accepted")
ck.ok("220 " in out, "implicit: banner after the handshake")
rc, out = s_client("-starttls", "ftp", "-connect", h.SERVER + ":21", "-tls1_1",
                   "-cipher", "DEFAULT@SECLEVEL=0")
ck.ok(rc != 0 and ("protocol version" in out or "Cipher is (NONE)" in out),
      "TLS 1.1 refused by the server (minimum 1.2)")
for v in ("-tls1_2", "-tls1_3"):
    rc, out = s_client("-starttls", "ftp", "-connect", h.SERVER + ":21", v)
    want = "TLSv1.2" if v == "-tls1_2" else "TLSv1.3"
    ck.ok("Protocol  : " + want in out or "New, " + want in out, "%s handshake" % want)
ck.ok(env.alive("control"), "server up")
ck.finish()
