/* A small epoll event loop: one handler per descriptor, level-triggered.
 * Single-threaded; handlers may add and remove descriptors (including their
 * own) while being called. */
#ifndef FTPS_CONTROL_EVLOOP_H
#define FTPS_CONTROL_EVLOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct ev_handler {
	void (*cb)(struct ev_handler *h, uint32_t events);
	int fd;
};

int ev_init(void);
void ev_fini(void);
int ev_add(struct ev_handler *h, uint32_t events);
int ev_mod(struct ev_handler *h, uint32_t events);
void ev_del(struct ev_handler *h);
/* Wait up to timeout_ms and dispatch; returns handlers run or -1. */
int ev_run_once(int timeout_ms);
/* Monotonic milliseconds. */
uint64_t ev_now_ms(void);

#endif
