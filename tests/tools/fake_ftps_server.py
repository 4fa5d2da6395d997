#!/usr/bin/env python3
"""A small explicit-FTPS server for client tests of what vsftpd lacks: HASH
(draft-bryan-ftpext-hash), MLSD, and a server without EPSV (the client must
fall back to PASV and ignore the address in the 227 reply).

usage: fake_ftps_server.py IP PORT ROOT CERT KEY
Files named corrupt* get a wrong HASH, to test the client's mismatch path."""
import hashlib
import os
import socket
import ssl
import sys
import threading


class Session(threading.Thread):
    def __init__(self, conn, ctx, root, ip):
        super().__init__(daemon=True)
        self.conn, self.ctx, self.root, self.ip = conn, ctx, root, ip
        self.cwd = "/"
        self.rest = 0
        self.pasv = None
        self.rfile = conn.makefile("rb")

    def reply(self, text):
        self.conn.sendall((text + "\r\n").encode())

    def path(self, arg):
        p = os.path.normpath(os.path.join(self.cwd, arg or "."))
        if not p.startswith("/"):
            p = "/" + p
        return p, os.path.join(self.root, p.lstrip("/"))

    @staticmethod
    def close_data(d):
        try:
            d.unwrap().close()
        except (OSError, ssl.SSLError):
            d.close()

    def data(self):
        s, _ = self.pasv.accept()
        self.pasv.close()
        self.pasv = None
        return self.ctx.wrap_socket(s, server_side=True)

    def run(self):
        try:
            self.reply("220 fake FTPS ready")
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                cmd, _, arg = line.decode().rstrip("\r\n").partition(" ")
                if not self.handle(cmd.upper(), arg):
                    return
        except (OSError, ssl.SSLError):
            return

    def handle(self, cmd, arg):
        if cmd == "AUTH":
            self.reply("234 go")
            self.conn = self.ctx.wrap_socket(self.conn, server_side=True)
            self.rfile = self.conn.makefile("rb")
        elif cmd == "USER":
            self.reply("331 password")
        elif cmd == "PASS":
            self.reply("230 in")
        elif cmd in ("PBSZ", "PROT", "TYPE"):
            self.reply("200 ok")
        elif cmd == "FEAT":
            self.reply("211-Features:\r\n MLST type*;size*;\r\n HASH SHA-1;SHA-256\r\n REST STREAM\r\n SIZE\r\n"
                       "211 End")
        elif cmd == "OPTS":
            self.reply("200 SHA-256" if arg.upper() == "HASH SHA-256" else "501 no")
        elif cmd == "EPSV":
            self.reply("502 EPSV not implemented here")
        elif cmd == "PASV":
            self.pasv = socket.socket()
            self.pasv.bind((self.ip, 0))
            self.pasv.listen(1)
            port = self.pasv.getsockname()[1]
            # A wrong address on purpose: the client must use the control peer.
            self.reply(f"227 Entering Passive Mode (10,255,255,1,{port >> 8},{port & 255})")
        elif cmd == "PWD":
            self.reply(f'257 "{self.cwd}"')
        elif cmd == "CWD":
            v, real = self.path(arg)
            if os.path.isdir(real):
                self.cwd = v
                self.reply("250 ok")
            else:
                self.reply("550 no such folder")
        elif cmd == "MKD":
            _, real = self.path(arg)
            try:
                os.mkdir(real)
                self.reply("257 created")
            except OSError:
                self.reply("550 exists")
        elif cmd == "SIZE":
            _, real = self.path(arg)
            if os.path.isfile(real):
                self.reply(f"213 {os.path.getsize(real)}")
            else:
                self.reply("550 no such file")
        elif cmd == "REST":
            self.rest = int(arg)
            self.reply("350 ok")
        elif cmd == "HASH":
            v, real = self.path(arg)
            if not os.path.isfile(real):
                self.reply("550 no such file")
                return True
            data = open(real, "rb").read()
            digest = hashlib.sha256(data).hexdigest()
            if os.path.basename(real).startswith("corrupt"):
                digest = hashlib.sha256(data + b"x").hexdigest()
            self.reply(f"213 SHA-256 0-{len(data)} {digest} {arg}")
        elif cmd == "MLSD":
            self.reply("150 listing")
            d = self.data()
            _, real = self.path(arg)
            out = ["type=cdir; ."]
            for name in sorted(os.listdir(real)):
                full = os.path.join(real, name)
                if os.path.isdir(full):
                    out.append(f"type=dir;modify=20260101000000; {name}")
                else:
                    out.append(f"type=file;size={os.path.getsize(full)}; {name}")
            d.sendall(("\r\n".join(out) + "\r\n").encode())
            self.close_data(d)
            self.reply("226 done")
        elif cmd == "RETR":
            _, real = self.path(arg)
            if not os.path.isfile(real):
                self.pasv.close()
                self.pasv = None
                self.reply("550 no such file")
                return True
            self.reply("150 sending")
            d = self.data()
            with open(real, "rb") as f:
                f.seek(self.rest)
                d.sendall(f.read())
            self.rest = 0
            self.close_data(d)
            self.reply("226 done")
        elif cmd == "STOR":
            _, real = self.path(arg)
            self.reply("150 receiving")
            d = self.data()
            mode = "r+b" if self.rest and os.path.exists(real) else "wb"
            with open(real, mode) as f:
                f.seek(self.rest)
                f.truncate()
                while True:
                    chunk = d.recv(65536)
                    if not chunk:
                        break
                    f.write(chunk)
            self.rest = 0
            self.close_data(d)
            self.reply("226 stored")
        elif cmd == "QUIT":
            self.reply("221 bye")
            return False
        else:
            self.reply("502 not implemented")
        return True


def main():
    ip, port, root, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        Session(conn, ctx, root, ip).start()


if __name__ == "__main__":
    main()
