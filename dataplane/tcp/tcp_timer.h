/* A hashed timer wheel on the TSC (one per lcore): O(1) insert and remove,
 * one slot per tick; an entry further away than one turn waits for as many
 * turns as it needs (its expiry tick is checked when its slot comes up). */
#ifndef FTPS_TCP_TIMER_H
#define FTPS_TCP_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_WHEEL_SLOTS 1024 /* power of two */

struct tcp_timer {
	struct tcp_timer *prev, *next;
	uint64_t expire_tick;
	bool armed;
};

struct tcp_timer_wheel {
	uint64_t tick_tsc;                       /* TSC cycles per tick */
	uint64_t current_tick;                   /* every slot before this has run */
	struct tcp_timer slots[TCP_WHEEL_SLOTS]; /* list heads */
	uint32_t armed_count;
};

void tcp_wheel_init(struct tcp_timer_wheel *w, uint64_t tick_tsc, uint64_t now_tsc);
void tcp_wheel_arm(struct tcp_timer_wheel *w, struct tcp_timer *t, uint64_t expire_tsc);
void tcp_wheel_cancel(struct tcp_timer_wheel *w, struct tcp_timer *t);

/* Calls fire(t, ctx) for every timer due by now_tsc (each removed first).
 * Returns how many fired. */
unsigned int tcp_wheel_advance(struct tcp_timer_wheel *w, uint64_t now_tsc,
                               void (*fire)(struct tcp_timer *t, void *ctx), void *ctx);

#endif
