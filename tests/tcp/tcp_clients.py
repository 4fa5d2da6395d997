#!/usr/bin/env python3
"""Kernel-side clients for the TCP test peer (run inside the test namespace).

  sink    ADDR BYTES SEED   upload BYTES of the pattern to port 9; the peer's
                            SHA-256 and count must equal ours
  pattern ADDR BYTES SEED   download BYTES of the pattern from port 19 and
                            compare every byte
  echo    ADDR BYTES SEED   send BYTES to port 7 while reading the echo back;
                            SHA-256 of both directions must match
  many    ADDR CONNS BYTES  CONNS concurrent pattern downloads of BYTES each
  synflood ADDR PORT SECS   raw-socket SYNs from spoofed 198.18 sources

Each prints one line of JSON and exits 0 on success, 1 on any mismatch.
"""
import hashlib
import json
import os
import random
import selectors
import socket
import struct
import sys
import threading
import time

PERIOD = 65521
MASK = (1 << 64) - 1


def pattern_block(seed):
    out = bytearray()
    state = seed & MASK
    while len(out) < PERIOD:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out += z.to_bytes(8, "little")
    block = bytes(out[:PERIOD])
    return block + block


class Pattern:
    """The stream byte i = block[i % PERIOD]."""

    def __init__(self, seed):
        self.block = pattern_block(seed)

    def slice(self, offset, n):
        parts = []
        while n > 0:
            at = offset % PERIOD
            run = min(PERIOD - at, n)
            parts.append(self.block[at:at + run])
            offset += run
            n -= run
        return b"".join(parts)


def connect(addr, port):
    s = socket.create_connection((addr, port), timeout=60)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return s


def chunks(pattern, total, size=1 << 20):
    off = 0
    while off < total:
        n = min(size, total - off)
        yield pattern.slice(off, n)
        off += n


def cmd_sink(addr, total, seed):
    p = Pattern(seed)
    sha = hashlib.sha256()
    t0 = time.time()
    s = connect(addr, 9)
    for c in chunks(p, total):
        sha.update(c)
        s.sendall(c)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        reply += d
    dt = time.time() - t0
    s.close()
    fields = reply.decode(errors="replace").split()
    ok = len(fields) == 2 and fields[0] == sha.hexdigest() and int(fields[1]) == total
    return ok, {"bytes": total, "sha256": sha.hexdigest(), "peer": fields,
                "gbit_s": round(total * 8 / dt / 1e9, 3)}


def cmd_pattern(addr, total, seed):
    p = Pattern(seed)
    t0 = time.time()
    s = connect(addr, 19)
    s.sendall(b"%d %d\n" % (total, seed))
    got = 0
    bad_at = None
    sha = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while True:
        n = s.recv_into(buf)
        if n == 0:
            break
        if bad_at is None and bytes(view[:n]) != p.slice(got, n):
            bad_at = got
        sha.update(view[:n])
        got += n
    dt = time.time() - t0
    s.close()
    ok = got == total and bad_at is None
    return ok, {"bytes": got, "expected": total, "first_bad_offset": bad_at,
                "sha256": sha.hexdigest(), "gbit_s": round(got * 8 / dt / 1e9, 3)}


def cmd_echo(addr, total, seed):
    p = Pattern(seed)
    s = connect(addr, 7)
    sent_sha = hashlib.sha256()
    recv_sha = hashlib.sha256()
    got = [0]

    def reader():
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            recv_sha.update(d)
            got[0] += len(d)

    t0 = time.time()
    th = threading.Thread(target=reader)
    th.start()
    for c in chunks(p, total):
        sent_sha.update(c)
        s.sendall(c)
    s.shutdown(socket.SHUT_WR)
    th.join(timeout=300)
    dt = time.time() - t0
    s.close()
    ok = got[0] == total and sent_sha.hexdigest() == recv_sha.hexdigest()
    return ok, {"bytes": got[0], "expected": total, "sent_sha256": sent_sha.hexdigest(),
                "echo_sha256": recv_sha.hexdigest(),
                "gbit_s_each_way": round(total * 8 / dt / 1e9, 3)}


def cmd_many(addr, conns, each):
    seeds = 8
    expect = {}
    for seed in range(seeds):
        expect[seed] = hashlib.sha256(Pattern(seed).slice(0, each)).hexdigest()
    sel = selectors.DefaultSelector()
    state = {}
    t0 = time.time()
    pending = list(range(conns))
    active = 0
    done = failed = 0

    def start(i):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((addr, 19))
        state[s] = {"i": i, "seed": i % seeds, "sha": hashlib.sha256(), "got": 0,
                    "sent": False}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)

    # Open them all (the point is concurrency), a few hundred per batch so
    # the kernel's own SYN backlog is not the limit.
    while pending or state:
        while pending and active < conns and len(state) < conns:
            start(pending.pop())
            active += 1
            if active % 200 == 0:
                break
        for key, ev in sel.select(timeout=1.0):
            s = key.fileobj
            st = state[s]
            if ev & selectors.EVENT_WRITE and not st["sent"]:
                try:
                    s.send(b"%d %d\n" % (each, st["seed"]))
                    st["sent"] = True
                    sel.modify(s, selectors.EVENT_READ)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    failed += 1
                    sel.unregister(s)
                    s.close()
                    del state[s]
                continue
            if ev & selectors.EVENT_READ:
                try:
                    d = s.recv(1 << 18)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    d = None
                if d:
                    st["sha"].update(d)
                    st["got"] += len(d)
                    continue
                ok = d is not None and st["got"] == each and \
                    st["sha"].hexdigest() == expect[st["seed"]]
                if ok:
                    done += 1
                else:
                    failed += 1
                sel.unregister(s)
                s.close()
                del state[s]
        if time.time() - t0 > 600:
            break
    dt = time.time() - t0
    return failed == 0 and done == conns, {"connections": conns, "ok": done, "failed": failed,
                                           "bytes_each": each,
                                           "gbit_s": round(done * each * 8 / dt / 1e9, 3)}


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


def cmd_synflood(addr, port, secs):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    dst = socket.inet_aton(addr)
    base = addr.rsplit(".", 1)[0]
    # Spoofed sources inside our own /24 that no host answers for.
    sources = [socket.inet_aton("%s.%d" % (base, 200 + i)) for i in range(8)]
    rng = random.Random(7)
    sent = 0
    t_end = time.time() + secs
    while time.time() < t_end:
        for _ in range(256):
            src = rng.choice(sources)
            sport = rng.randrange(1024, 65535)
            seq = rng.getrandbits(32)
            tcp = struct.pack("!HHIIBBHHH", sport, port, seq, 0, 5 << 4, 0x02, 65535, 0, 0)
            pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
            tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, socket.IPPROTO_TCP, 0,
                             src, dst)
            try:
                raw.sendto(ip + tcp, (addr, 0))
                sent += 1
            except OSError:
                pass
    return True, {"syns_sent": sent, "seconds": secs}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cmd = sys.argv[1]
    a = sys.argv[2:]
    if cmd == "sink":
        ok, info = cmd_sink(a[0], int(a[1]), int(a[2]))
    elif cmd == "pattern":
        ok, info = cmd_pattern(a[0], int(a[1]), int(a[2]))
    elif cmd == "echo":
        ok, info = cmd_echo(a[0], int(a[1]), int(a[2]))
    elif cmd == "many":
        ok, info = cmd_many(a[0], int(a[1]), int(a[2]))
    elif cmd == "synflood":
        ok, info = cmd_synflood(a[0], int(a[1]), float(a[2]))
    else:
        print(__doc__)
        return 2
    info["command"] = cmd
    info["ok"] = bool(ok) if "ok" not in info else info["ok"]
    info["pass"] = bool(ok)
    print(json.dumps(info))
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
