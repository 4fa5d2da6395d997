/* Relay mode: TCP connections whose bytes the dataplane carries to and from
 * ftps-control over the worker's control link.  The control plane sees a
 * byte stream per connection (it runs TLS and FTP on it); the dataplane
 * knows no FTP.  Credit on the link bounds what is in flight each way, and a
 * connection whose credit toward the control plane is spent stops reading
 * from TCP, so the TCP receive window closes (backpressure end to end). */
#ifndef FTPS_RELAY_H
#define FTPS_RELAY_H

#include <stdint.h>

#include <rte_mempool.h>

#include "control_link.h"

struct tcp_stack;
struct worker;
struct relay;

#define RELAY_COUNTER_LIST(X)                                                                      \
	X(connections_accepted, "connections accepted and handed to the control plane")            \
	X(connections_connected, "outgoing connections opened for the control plane")              \
	X(connections_refused, "connections refused: no control plane or no memory")               \
	X(connections_reset_by_peer, "relayed connections reset or timed out on the TCP side")     \
	X(connections_reset_by_control, "relayed connections reset by the control plane")          \
	X(connections_reset_link_lost, "relayed connections reset because the link was lost")      \
	X(bytes_to_control, "stream bytes carried to the control plane")                           \
	X(bytes_from_control, "stream bytes carried from the control plane")                       \
	X(bytes_kept_for_takeover,                                                                 \
	  "data-connection bytes copied until credited (TAKEOVER replay)")                         \
	X(messages_malformed, "malformed or out-of-sequence messages (the link was dropped)")      \
	X(messages_unknown_connection, "messages for a connection that is already gone")           \
	X(credit_violations, "DATA beyond the granted credit (the link was dropped)")

enum relay_counter {
#define RELAY_COUNTER_ENUM(name, description) RELAY_COUNTER_##name,
	RELAY_COUNTER_LIST(RELAY_COUNTER_ENUM)
#undef RELAY_COUNTER_ENUM
	    RELAY_COUNTER_COUNT
};

extern const char *const relay_counter_names[RELAY_COUNTER_COUNT];

/* Creates the relay of one worker on its TCP stack and opens its control
 * socket.  Returns NULL with a message in error. */
struct transfer_engine;

/* engine may be NULL: TAKEOVER is then refused with a DONE. */
struct relay *relay_create(struct tcp_stack *stack, struct transfer_engine *engine,
                           struct rte_mempool *pool, const char *path, unsigned int worker_id,
                           unsigned int worker_count, char *error, size_t error_len);

/* worker_poll_fn: accepts a control plane, reads its messages, moves data. */
unsigned int relay_worker_poll(struct worker *w, void *relay, uint64_t now_tsc);

/* Resets every relayed connection, closes the link and frees the relay. */
void relay_destroy(struct relay *relay);

const uint64_t *relay_counters(const struct relay *relay);
uint32_t relay_connection_count(const struct relay *relay);
const struct control_link *relay_link(const struct relay *relay);

#endif
