/* Known-certificates file: certificates the user chose to trust "always",
 * keyed by host:port. One line each:
 *   host:port SP sha256-hex SP base64(DER certificate)
 * Kept in $XDG_CONFIG_HOME/ftps-client/known_certs (default
 * ~/.config/ftps-client/known_certs), mode 0600, replaced atomically. */
#ifndef FTPS_KNOWN_CERTS_H
#define FTPS_KNOWN_CERTS_H

#include <stddef.h>

#include <openssl/x509.h>

/* Path of the file; override wins when not NULL. */
int known_certs_path(const char *override, char *out, size_t len);
/* 1 and the stored fingerprint when host_port is known, 0 when not, -1 on a
 * damaged or unreadable file (message in err). */
int known_certs_lookup(const char *path, const char *host_port, char fp_hex[65], char *err,
                       size_t err_len);
/* Add or replace the entry for host_port. */
int known_certs_store(const char *path, const char *host_port, X509 *cert, char *err,
                      size_t err_len);

#endif
