/* Internal to the record layer. */
#ifndef FTPS_CRYPTO_TLS_CONN_INTERNAL_H
#define FTPS_CRYPTO_TLS_CONN_INTERNAL_H

#include "tls_record.h"

/* TLS 1.3: move one direction to its next traffic secret, key and IV;
 * its sequence number restarts at 0. */
int tls_conn_next_key(struct tls_conn *c, struct tls_dir *d);

#endif
