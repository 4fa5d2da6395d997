"""ftplib.FTP_TLS that resumes the control connection's TLS session on every
data connection, as servers requiring session reuse (ours by default,
vsftpd's require_ssl_reuse) demand; cpython gh-63699.  Shared by both test
harnesses and the scripts they run inside a namespace."""

import ftplib


class SessionReusingFTP(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size
