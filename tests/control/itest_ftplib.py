"""Python ftplib.FTP_TLS: with the data-connection session-reuse subclass
(session=self.sock.session) listings work; without it the listing is refused
in `required` mode with a clear 4xx and works in `allowed` mode. Also MLSD,
NLST, FEAT, HASH and a REST download through the relay path."""
import ftplib
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h


def context(env, ver=None):
    ctx = ssl.create_default_context(cafile=env.ca)
    if ver:
        ctx.minimum_version = ctx.maximum_version = ver
    return ctx


def login(env, cls, ver=None):
    f = cls(context=context(env, ver), timeout=15)
    f.connect(h.SERVER, 21)
    f.login("alice", h.PASSWORD)
    f.prot_p()
    return f


env = h.Env("ftplib")
ck = h.Checker(env)
root = env.roots["alice"]
os.makedirs(os.path.join(root, "sub"))
data = os.urandom(50000)
with open(os.path.join(root, "sub", "f.bin"), "wb") as fh:
    fh.write(data)
env.chown_roots()

for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
    tag = ver.name
    f = login(env, h.SessionReusingFTP, ver)
    names = f.nlst()
    ck.ok(names == ["sub"], "%s: NLST with session reuse" % tag)
    lines = []
    f.retrlines("LIST", lines.append)
    ck.ok(len(lines) == 1 and lines[0].startswith("d") and lines[0].endswith(" sub"),
          "%s: LIST in ls -l form" % tag)
    facts = dict(f.mlsd("sub"))
    ck.ok(facts.get("f.bin", {}).get("size") == "50000" and facts["f.bin"]["type"] == "file",
          "%s: MLSD facts" % tag)
    # several data connections in a row on one session (tickets re-issued)
    ok = all(f.nlst("sub") == ["f.bin"] for _ in range(5))
    ck.ok(ok, "%s: five more data connections all resume" % tag)
    got = bytearray()
    f.retrbinary("RETR sub/f.bin", got.extend, rest=1000)
    ck.ok(bytes(got) == data[1000:], "%s: REST + RETR (relay path)" % tag)
    feat = f.sendcmd("FEAT")
    ck.ok("MLST type*;size*;modify*;perm*;unique*;" in feat and "AUTH TLS" in feat,
          "%s: FEAT multi-line reply" % tag)
    import hashlib
    ck.ok(f.sendcmd("HASH sub/f.bin").split()[3] == hashlib.sha256(data).hexdigest(),
          "%s: HASH SHA-256" % tag)
    ck.ok(f.sendcmd("MFMT 20200102030405 sub/f.bin").startswith("213 Modify=20200102030405") and
          f.sendcmd("MDTM sub/f.bin") == "213 20200102030405", "%s: MFMT then MDTM" % tag)
    ck.ok(f.sendcmd("XCWD sub").startswith("250") and f.sendcmd("XPWD").startswith('257 "/sub"')
          and f.sendcmd("XCUP").startswith("250") and f.pwd() == "/", "%s: X* aliases" % tag)
    ck.ok(f.sendcmd("TYPE A").startswith("200") and f.sendcmd("MODE S").startswith("200") and
          f.sendcmd("STRU F").startswith("200") and f.sendcmd("ALLO 10").startswith("202"),
          "%s: TYPE/MODE/STRU/ALLO" % tag)
    ck.ok(f.sendcmd("MLST sub/f.bin").startswith("250-") and
          f.sendcmd("SYST") == "215 UNIX Type: L8" and f.sendcmd("HELP").startswith("214"),
          "%s: MLST, SYST, HELP" % tag)
    ck.ok(f.sendcmd("STAT").startswith("211-"), "%s: STAT" % tag)
    try:
        f.sendcmd("CCC")
        ck.ok(False, "%s: CCC refused" % tag)
    except ftplib.error_perm as e:
        ck.ok(str(e).startswith("534"), "%s: CCC refused (%s)" % (tag, e))
    f.quit()

    f = login(env, ftplib.FTP_TLS, ver)
    try:
        f.nlst()
        ck.ok(False, "%s: plain FTP_TLS listing refused in required mode" % tag)
    except ftplib.error_temp as e:
        ck.ok(str(e).startswith("425") and "not resumed" in str(e),
              "%s: plain FTP_TLS listing refused in required mode: %s" % (tag, e))
    except Exception as e:
        ck.ok(False, "%s: unexpected %r" % (tag, e))
    ck.ok(f.voidcmd("NOOP").startswith("200"), "%s: session usable after the refusal" % tag)
    f.quit()

# allowed mode: restart the control plane with session_reuse = allowed
env.stop("control")
env.write_config(**{"tls.session_reuse": "allowed"})
env.start_control()
for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
    f = login(env, ftplib.FTP_TLS, ver)
    ck.ok(f.nlst() == ["sub"], "%s: plain FTP_TLS lists in allowed mode" % ver.name)
    f.quit()
ck.finish()
