/* Server certificate policy: CA verification with host name or IP, pinned
 * fingerprints, the known-certificates file, and the user's choice. */
#ifndef FTPS_TRUST_H
#define FTPS_TRUST_H

#include <openssl/ssl.h>

#include "client.h"

/* Decide whether the certificate on this freshly handshaken control
 * connection is trusted. Prompts only when cfg->interactive. On success
 * fills cfg->accepted_fp and returns EXIT_OK; otherwise an enum client_exit
 * with the explanation already printed to stderr. */
int trust_decide(struct client_config *cfg, SSL *ssl);
/* The 'trust' command: show the certificate and replace the stored entry
 * after confirmation (terminal) or when it matches --pin. */
int trust_replace(struct client_config *cfg, SSL *ssl);
/* Print subject, issuer, validity, SANs and SHA-256 of cert to stderr. */
void trust_show_cert(X509 *cert);

#endif
