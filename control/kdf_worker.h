/* Password hashing off the event loop. scrypt costs tens of milliseconds
 * and 16 MiB per check; run inline it would stall every session and relayed
 * transfer for that long on each login (and let a client with wrong
 * passwords stall the loop at will). One worker thread takes checks from a
 * bounded queue and hands results back through an eventfd. Only this file
 * uses threads; results are delivered on the event loop thread. */
#ifndef FTPS_CONTROL_KDF_WORKER_H
#define FTPS_CONTROL_KDF_WORKER_H

#include <stdbool.h>
#include <stdint.h>

/* Called on the loop thread for every finished check. */
typedef void (*kdf_result_fn)(uint64_t sid, bool ok);

int kdf_worker_start(kdf_result_fn fn);
void kdf_worker_stop(void);
/* Queue a check of password against hash (NULL: same work, result false).
 * -1 if the queue is full (the caller refuses the login for now). */
int kdf_submit(uint64_t sid, const char *hash, const char *password);

#endif
