"""Client-certificate login (mTLS): a certificate's SHA-256 fingerprint or
subject mapped to a user, with or without a password; wrong or missing
certificates refused; users without a mapping unaffected; a certificate
from another CA fails the handshake."""
import ftplib
import os
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

h.require("curl")

env = h.Env("mtls", users=[("alice", "rwdnm"), ("certonly", "r"), ("both", "r")], start=False)
d = env.dir


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def client_cert(name, ca, cakey):
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", "%s/%s.key" % (d, name), "-out", "%s/%s.csr" % (d, name), "-subj", "/CN=" + name)
    with open(d + "/client.ext", "w") as f:
        f.write("extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
    sh("openssl", "x509", "-req", "-in", "%s/%s.csr" % (d, name), "-CA", ca, "-CAkey", cakey,
       "-CAcreateserial", "-out", "%s/%s.pem" % (d, name), "-days", "2", "-extfile",
       d + "/client.ext")
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                          "%s/%s.pem" % (d, name)], capture_output=True, text=True).stdout
    return out.split("=", 1)[1].strip().replace(":", "").lower()


fp_good = client_cert("good-client", env.ca, d + "/ca.key")
client_cert("other-client", env.ca, d + "/ca.key")
sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
   "-keyout", d + "/rogue-ca.key", "-out", d + "/rogue-ca.pem", "-days", "2", "-subj", "/CN=Rogue")
client_cert("rogue-client", d + "/rogue-ca.pem", d + "/rogue-ca.key")
tool = os.path.join(h.SOURCE, "tools/ftps-users")
tenv = dict(os.environ, FTPS_BUILD_DIR=h.BUILD)
sh(tool, "-f", env.users_file, "cert", "certonly", "sha256=%s+nopass" % fp_good)
subprocess.run([tool, "-f", env.users_file, "cert", "both", "subject=CN=good-client"], check=True,
               env=tenv)
os.chmod(env.users_file, 0o644)
env.write_config(**{"tls.client_ca": env.ca, "auth.max_failures": "100"})
env.start_dataplane()
env.start_control()
ck = h.Checker(env)


def attempt(user, pw, cert=None):
    ctx = ssl.create_default_context(cafile=env.ca)
    if cert:
        ctx.load_cert_chain("%s/%s.pem" % (d, cert), "%s/%s.key" % (d, cert))
    f = h.SessionReusingFTP(context=ctx, timeout=10)
    try:
        f.connect(h.SERVER, 21)
        r = f.login(user, pw)
        f.prot_p()
        listing = f.nlst()
        f.quit()
        return r, listing
    except (ftplib.Error, ssl.SSLError, OSError) as e:
        return str(e), None


r, listing = attempt("certonly", "", "good-client")
ck.ok(r.startswith("232") and listing == [], "certificate alone logs in (232) and lists: %s" % r)
r, _ = attempt("certonly", "x", "other-client")
ck.ok(r.startswith("530"), "another valid certificate does not log in as certonly: %s" % r)
r, _ = attempt("certonly", h.PASSWORD)
ck.ok(r.startswith("530"), "certonly without a certificate, right password, refused: %s" % r)
r, listing = attempt("both", h.PASSWORD, "good-client")
ck.ok(r.startswith("230") and listing == [], "subject match + password logs in: %s" % r)
r, _ = attempt("both", "wrong", "good-client")
ck.ok(r.startswith("530"), "subject match + wrong password refused")
r, _ = attempt("both", h.PASSWORD)
ck.ok(r.startswith("530"), "password without the certificate refused")
r, listing = attempt("alice", h.PASSWORD, "other-client")
ck.ok(r.startswith("230"), "users without a certificate mapping log in as before")
r, listing = attempt("alice", h.PASSWORD)
ck.ok(r.startswith("230"), "... also without a client certificate")
r, _ = attempt("certonly", "", "rogue-client")
ck.ok(not r.startswith("2"), "a certificate from another CA is refused: %s" % r[:80])
log = open(env.session_log).read()
ck.ok("logged in (client certificate)" in log and "client certificate required" in log,
      "session log says how each login was authorised")
r = subprocess.run(["curl", "-sS", "--max-time", "20", "--ssl-reqd", "--cacert", env.ca,
                    "--cert", d + "/good-client.pem", "--key", d + "/good-client.key",
                    "-u", "certonly:", "ftp://%s/" % h.SERVER], capture_output=True, text=True)
ck.ok(r.returncode == 0, "curl logs in with the certificate alone (rc %d %s)" %
      (r.returncode, r.stderr.strip()[:100]))
ck.finish()
