"""The test plays a hostile dataplane against the real ftps-control:
well-formed but senseless message sequences (unknown ids, duplicate FINs,
random bytes into sessions, resets mid-handshake, credit for nobody), then
malformed messages (mutated fields, wrong sizes, unknown types, extra
descriptors). The control plane must close the link on each malformed
message with a log line, reconnect, and never crash (run it in build-asan)."""
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftps_harness as h

HDR = struct.Struct("<HHIQ")
rnd = random.Random(1234)


VERSION = [1]  # learnt from the control plane's HELLO


def msg(t, cid, body=b"", version=None, length=None):
    n = HDR.size + len(body) if length is None else length
    return HDR.pack(t, VERSION[0] if version is None else version, n, cid) + body


def addr(last):
    return struct.pack("<B3x16s", 4, bytes([198, 18, 0, last]) + b"\0" * 12)


def opened(cid, listener, last=1):
    return msg(5, cid, struct.pack("<IiHHI", listener, 0, 21, 40000 + last, 0) + addr(1) +
               addr(last))


env = h.Env("ipc-chaos", start=False)
ck = h.Checker(env)
path = env.socket
ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ls.bind(path)
os.chmod(path, 0o666)
ls.listen(1)
ls.settimeout(10)
env.start_control(wait=False)


def accept_link():
    c, _ = ls.accept()
    c.settimeout(5)
    hello = c.recv(4096)
    assert len(hello) == 64, hello
    VERSION[0] = HDR.unpack_from(hello)[1]
    c.send(msg(1, 0, struct.pack("<IIII32s", 1, 0, 1, 256 * 1024, b"chaos")))
    return c


def drain(c):
    got = []
    c.setblocking(False)
    try:
        while True:
            m = c.recv(70000)
            if not m:
                got.append(None)
                break
            got.append(m)
    except BlockingIOError:
        pass
    except OSError:
        got.append(None)
    c.settimeout(5)
    return got


# 1. senseless but well-formed sequences
c = accept_link()
time.sleep(0.2)
drain(c)  # LISTEN messages for 21 and 990
lines = [b"USER alice\r\n", b"AUTH TLS\r\n", b"\x16\x03\x01\x00\xff" + os.urandom(200),
         b"PASV\r\n", b"\xff\xf4\r\n", os.urandom(500), b"NOOP\r\n" * 50, b"QUIT\r\n"]
next_id = 1
live = []
for step in range(3000):
    r = rnd.random()
    if r < 0.08 or not live:
        listener = rnd.choice([1, 1, 2, 9999])
        c.send(opened(next_id, listener, rnd.randrange(2, 250)))
        live.append(next_id)
        next_id += 1
    elif r < 0.6:
        cid = rnd.choice(live + [777777])
        data = rnd.choice(lines)[:16384]
        c.send(msg(7, cid, data))
    elif r < 0.7:
        c.send(msg(8, rnd.choice(live), struct.pack("<II", rnd.randrange(1, 65536), 0)))
    elif r < 0.8:
        c.send(msg(9, rnd.choice(live)))
    elif r < 0.85:
        cid = rnd.choice(live)
        c.send(msg(10, cid, struct.pack("<iI", 104, 0)))
        live.remove(cid)
    elif r < 0.9:
        c.send(msg(3, 0, struct.pack("<Ii", rnd.randrange(1, 100), rnd.choice([0, 98]))))
    else:
        c.send(msg(12, rnd.choice(live), struct.pack("<iIQQQ", 0, 1, 5, 1, 2)))
    if step % 50 == 0:
        if None in drain(c):
            break
out = drain(c)
ck.ok(None not in out, "3000 senseless but valid messages: the link stays up")
ck.ok(env.alive("control"), "control plane alive after the senseless sequences")

# 2. malformed messages: each closes the link; the control plane reconnects
valid = [opened(900001, 1), msg(7, 1, b"x"), msg(8, 1, struct.pack("<II", 5, 0)),
         msg(9, 1), msg(10, 1, struct.pack("<iI", 1, 0)),
         msg(3, 0, struct.pack("<Ii", 1, 0))]
closed = 0
rounds = 8
for i in range(rounds):
    m = bytearray(rnd.choice(valid))
    kind = i % 4
    if kind == 0:
        m[rnd.randrange(len(m))] ^= 0xFF  # flip a byte (may hit the header)
        m[2:4] = b"\x63\x00"  # and make sure: version 99
    elif kind == 1:
        m = m + b"extra"  # length mismatch
    elif kind == 2:
        m[0:2] = struct.pack("<H", rnd.choice([0, 13, 200, 65535]))  # unknown type
    else:  # a well-formed LISTEN: valid, but not from the dataplane
        m = bytearray(msg(2, 0, struct.pack("<IHH", 5, 21, 0) + bytes(40)))
    c.send(bytes(m))
    try:
        c.settimeout(5)
        while True:
            x = c.recv(70000)
            if not x:
                closed += 1
                break
    except (ConnectionResetError, socket.timeout):
        closed += 1 if env.alive("control") else 0
    c.close()
    c = accept_link()  # the control plane comes back within about a second
    time.sleep(0.1)
    drain(c)
ck.ok(closed == rounds, "each malformed message closed the link (%d of %d)" % (closed, rounds))
# an fd with a message that must not carry one
fdmsg = msg(9, 1)
c.sendmsg([fdmsg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", os.open("/dev/null", os.O_RDONLY)))])
try:
    gone = c.recv(70000) == b""
except (ConnectionResetError, socket.timeout):
    gone = True
ck.ok(gone, "a descriptor on a FIN closes the link")
c.close()
c = accept_link()
ck.ok(env.alive("control"), "control plane alive after %d malformed messages" % (rounds + 1))
log = open(os.path.join(env.dir, "control.log")).read()
ck.ok(log.count("malformed message") >= rounds - rounds // 4 and
      "message type not valid from the dataplane" in log and log.count("DONE for no transfer") == 1,
      "each malformed message logged")
c.close()
ls.close()
ck.finish()
