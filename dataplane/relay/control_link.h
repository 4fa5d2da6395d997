/* The dataplane's end of one link to ftps-control (control/ipc/ftps_ipc.h):
 * a SOCK_SEQPACKET socket per worker that the dataplane listens on.  One
 * control plane at a time; when it goes away the relay resets everything it
 * carried and the link waits for the next one.  Owned by one worker lcore. */
#ifndef FTPS_CONTROL_LINK_H
#define FTPS_CONTROL_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct control_link_message;

struct control_link {
	int listen_fd;
	int fd; /* -1 while no control plane is connected */
	bool hello_received;
	unsigned int worker_id;
	unsigned int worker_count;
	char path[108];
	/* Messages the socket would not take yet, oldest first. Bounded: the
	 * credit scheme bounds the data in flight, and a control plane that
	 * stops reading altogether is dropped at the cap. */
	struct control_link_message *queue_head, *queue_tail;
	size_t queued_bytes;
	uint64_t next_poll_tsc;
	uint64_t poll_interval_tsc;
	uint64_t messages_in, messages_out, malformed, links_accepted, links_lost;
};

/* Creates the listening socket at path (worker 0) or "path.N" (worker N).
 * Returns 0 or -1 with a message in error. */
int control_link_open(struct control_link *link, const char *path, unsigned int worker_id,
                      unsigned int worker_count, char *error, size_t error_len);
void control_link_close(struct control_link *link);

/* Queues or sends one message; false when the link is down or broken (the
 * caller treats the link as lost). */
bool control_link_send(struct control_link *link, const void *message, size_t len);

/* Sends what the queue holds; false if the link broke. */
bool control_link_flush(struct control_link *link);

/* Drops the current control plane (after a protocol violation or EOF). */
void control_link_drop(struct control_link *link, const char *why);

#define CONTROL_LINK_QUEUE_MAX (64u << 20)

#endif
