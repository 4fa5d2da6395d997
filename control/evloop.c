#include "evloop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static int epfd = -1;

/* Handlers removed during a dispatch round must not be called later in the
 * same round: ev_del marks them so the loop skips stale events. */
#define MAX_EVENTS 64
static struct epoll_event ready[MAX_EVENTS];
static int n_ready;

int ev_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -1 : 0;
}

void ev_fini(void)
{
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

int ev_add(struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, h->fd, &ev);
}

int ev_mod(struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};
	return epoll_ctl(epfd, EPOLL_CTL_MOD, h->fd, &ev);
}

void ev_del(struct ev_handler *h)
{
	if (h->fd >= 0)
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL, h->fd, NULL);
	for (int i = 0; i < n_ready; i++)
		if (ready[i].data.ptr == h)
			ready[i].data.ptr = NULL;
}

int ev_run_once(int timeout_ms)
{
	n_ready = epoll_wait(epfd, ready, MAX_EVENTS, timeout_ms);
	if (n_ready < 0) {
		n_ready = 0;
		return errno == EINTR ? 0 : -1;
	}
	int n = n_ready;
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = ready[i].data.ptr;
		if (h != NULL)
			h->cb(h, ready[i].events);
	}
	n_ready = 0;
	return n;
}

uint64_t ev_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
