#include "control_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "ftps_ipc.h"

struct control_link_message {
	struct control_link_message *next;
	size_t len;
	unsigned char bytes[];
};

int control_link_open(struct control_link *link, const char *path, unsigned int worker_id,
                      unsigned int worker_count, char *error, size_t error_len)
{
	memset(link, 0, sizeof(*link));
	link->listen_fd = -1;
	link->fd = -1;
	link->worker_id = worker_id;
	link->worker_count = worker_count;
	int n = worker_id == 0 ? snprintf(link->path, sizeof(link->path), "%s", path)
	                       : snprintf(link->path, sizeof(link->path), "%s.%u", path, worker_id);
	if (n < 0 || (size_t)n >= sizeof(link->path)) {
		snprintf(error, error_len, "control socket path too long: %s", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(error, error_len, "control socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	memcpy(addr.sun_path, link->path, strlen(link->path) + 1);
	/* A stale socket from a dataplane that died; nothing listens there. */
	unlink(link->path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 4) != 0) {
		snprintf(error, error_len, "control socket %s: %s", link->path, strerror(errno));
		close(fd);
		return -1;
	}
	/* The control plane drops root; it must still be able to connect. */
	chmod(link->path, 0666);
	link->listen_fd = fd;
	link->poll_interval_tsc = rte_get_tsc_hz() / 50000; /* 20 us */
	return 0;
}

static void control_link_clear_queue(struct control_link *link)
{
	struct control_link_message *m = link->queue_head;
	while (m != NULL) {
		struct control_link_message *next = m->next;
		free(m);
		m = next;
	}
	link->queue_head = link->queue_tail = NULL;
	link->queued_bytes = 0;
}

void control_link_drop(struct control_link *link, const char *why)
{
	if (link->fd < 0)
		return;
	fprintf(stderr, "ftps-dataplane: worker %u: control plane link lost: %s\n", link->worker_id,
	        why);
	close(link->fd);
	link->fd = -1;
	link->hello_received = false;
	link->links_lost++;
	control_link_clear_queue(link);
}

void control_link_close(struct control_link *link)
{
	control_link_drop(link, "shutting down");
	if (link->listen_fd >= 0) {
		close(link->listen_fd);
		unlink(link->path);
		link->listen_fd = -1;
	}
}

bool control_link_flush(struct control_link *link)
{
	while (link->queue_head != NULL && link->fd >= 0) {
		struct control_link_message *m = link->queue_head;
		long n = ftps_ipc_send(link->fd, m->bytes, m->len, -1);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0) {
			control_link_drop(link, strerror(errno));
			return false;
		}
		link->queue_head = m->next;
		if (link->queue_head == NULL)
			link->queue_tail = NULL;
		link->queued_bytes -= m->len;
		link->messages_out++;
		free(m);
	}
	return link->fd >= 0;
}

bool control_link_send(struct control_link *link, const void *message, size_t len)
{
	if (link->fd < 0)
		return false;
	if (link->queue_head == NULL) {
		long n = ftps_ipc_send(link->fd, message, len, -1);
		if (n >= 0) {
			link->messages_out++;
			return true;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			control_link_drop(link, strerror(errno));
			return false;
		}
	}
	if (link->queued_bytes + len > CONTROL_LINK_QUEUE_MAX) {
		control_link_drop(link, "control plane stopped reading (queue full)");
		return false;
	}
	struct control_link_message *m = malloc(sizeof(*m) + len);
	if (m == NULL) {
		control_link_drop(link, "out of memory queueing a message");
		return false;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->bytes, message, len);
	if (link->queue_tail != NULL)
		link->queue_tail->next = m;
	else
		link->queue_head = m;
	link->queue_tail = m;
	link->queued_bytes += len;
	return true;
}
