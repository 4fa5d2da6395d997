/* Key import from an OpenSSL 3.0 connection whose handshake ran over memory
 * BIOs, so the record layer (tls_record.h) can take the connection over.
 *
 * Use:
 *   tls_import_ctx_setup(ctx)      once per SSL_CTX (installs the keylog
 *                                  callback; one set before is still called)
 *   tls_import_ssl_setup(ssl)      per SSL, before its handshake (installs
 *                                  the message callback that counts records)
 *   ... SSL_do_handshake() until it returns 1; send everything the write
 *   BIO holds to the peer (TLS 1.3 servers have written their
 *   NewSessionTickets by then); do not call SSL_read ...
 *   tls_import_export(ssl, &keys, leftover, cap, &n, err, sizeof(err))
 *
 * Sequence numbers continue exactly where OpenSSL stopped: every record
 * OpenSSL wrote or read under the application keys (a TLS 1.3 server's
 * NewSessionTickets, the TLS 1.2 Finished) is counted from the message
 * callback, not assumed. Bytes that reached the read BIO after the
 * handshake are returned in leftover; they are the first records for the
 * record layer to open.
 */
#ifndef FTPS_CRYPTO_TLS_IMPORT_H
#define FTPS_CRYPTO_TLS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tls_record.h"

int tls_import_ctx_setup(SSL_CTX *ctx);
int tls_import_ssl_setup(SSL *ssl);

/* Returns 0 and fills keys (and leftover, *leftover_len bytes) on success.
 * Returns -1 with a reason in err when the connection cannot be taken
 * over: unsupported version or cipher suite, handshake not finished, key
 * secrets not captured, data still buffered inside OpenSSL or in the write
 * BIO, a KeyUpdate already done by OpenSSL, or leftover too small (its
 * needed size is then in *leftover_len). The SSL is not changed except that
 * the leftover bytes are read out of its read BIO on success. */
int tls_import_export(SSL *ssl, struct tls_conn_keys *keys, uint8_t *leftover, size_t leftover_cap,
                      size_t *leftover_len, char *err, size_t err_len);

/* Records OpenSSL sealed / opened under the application keys so far. */
int tls_import_counts(SSL *ssl, uint64_t *written, uint64_t *read);

#endif
