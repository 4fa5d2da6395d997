/* The per-lcore timer wheel and the connection timers that ride on it:
 * retransmission (RFC 6298), delayed ACK (RFC 9293 3.8.6.3), persist
 * (RFC 9293 3.8.6.1), keepalive (RFC 9293 3.8.4) and TIME_WAIT (3.10.7.4).
 * Each connection has one wheel entry at its earliest deadline. */
#include "tcp_timer.h"

#include <errno.h>
#include <stddef.h>

#include "tcp_internal.h"

static void list_init(struct tcp_timer *head)
{
	head->prev = head->next = head;
}

static void list_remove(struct tcp_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

static void list_push(struct tcp_timer *head, struct tcp_timer *t)
{
	t->next = head;
	t->prev = head->prev;
	head->prev->next = t;
	head->prev = t;
}

void tcp_wheel_init(struct tcp_timer_wheel *w, uint64_t tick_tsc, uint64_t now_tsc)
{
	w->tick_tsc = tick_tsc == 0 ? 1 : tick_tsc;
	w->current_tick = now_tsc / w->tick_tsc;
	w->armed_count = 0;
	for (unsigned int i = 0; i < TCP_WHEEL_SLOTS; i++)
		list_init(&w->slots[i]);
}

void tcp_wheel_cancel(struct tcp_timer_wheel *w, struct tcp_timer *t)
{
	if (!t->armed)
		return;
	list_remove(t);
	t->armed = false;
	w->armed_count--;
}

void tcp_wheel_arm(struct tcp_timer_wheel *w, struct tcp_timer *t, uint64_t expire_tsc)
{
	/* Round up: a timer never fires early. */
	uint64_t tick = (expire_tsc + w->tick_tsc - 1) / w->tick_tsc;
	if (t->armed && t->expire_tick == tick)
		return;
	tcp_wheel_cancel(w, t);
	t->expire_tick = tick;
	uint64_t slot_tick = tick < w->current_tick ? w->current_tick : tick;
	list_push(&w->slots[slot_tick & (TCP_WHEEL_SLOTS - 1)], t);
	t->armed = true;
	w->armed_count++;
}

unsigned int tcp_wheel_advance(struct tcp_timer_wheel *w, uint64_t now_tsc,
                               void (*fire)(struct tcp_timer *t, void *ctx), void *ctx)
{
	uint64_t now_tick = now_tsc / w->tick_tsc;
	if (now_tick < w->current_tick)
		return 0;
	unsigned int fired = 0;
	uint64_t span = now_tick - w->current_tick + 1;
	if (span > TCP_WHEEL_SLOTS)
		span = TCP_WHEEL_SLOTS; /* one full turn visits every slot */
	for (uint64_t i = 0; i < span && w->armed_count > 0; i++) {
		struct tcp_timer *head = &w->slots[(w->current_tick + i) & (TCP_WHEEL_SLOTS - 1)];
		/* Detach the slot so callbacks may re-arm into it safely. */
		struct tcp_timer batch;
		list_init(&batch);
		if (head->next != head) {
			batch.next = head->next;
			batch.prev = head->prev;
			batch.next->prev = &batch;
			batch.prev->next = &batch;
			list_init(head);
		}
		while (batch.next != &batch) {
			struct tcp_timer *t = batch.next;
			list_remove(t);
			if (t->expire_tick <= now_tick) {
				t->armed = false;
				w->armed_count--;
				fire(t, ctx);
				fired++;
			} else {
				list_push(head, t); /* a later turn */
			}
		}
	}
	w->current_tick = now_tick + 1;
	return fired;
}

/* ---- connection timers ---- */

static uint64_t earliest(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

void tcp_conn_timer_update(struct tcp_conn *c)
{
	uint64_t due =
	    earliest(earliest(earliest(c->rto_at, c->delack_at), c->tlp_at),
	             earliest(earliest(c->persist_at, c->keepalive_at), c->time_wait_at));
	if (due == 0)
		tcp_wheel_cancel(&c->stack->wheel, &c->timer);
	else
		tcp_wheel_arm(&c->stack->wheel, &c->timer, due);
}

/* RFC 6298 5.1/5.3: (re)start the timer for the current RTO. */
void tcp_rto_arm(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	uint64_t rto = (uint64_t)c->rto_ms << c->backoff;
	if (rto > s->config.rto_max_ms)
		rto = s->config.rto_max_ms;
	c->rto_at = s->now_tsc + tcp_ms_to_tsc(s, rto);
}

/* RFC 6298 2.2 and 2.3, with the RTO floored and capped. */
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us)
{
	const struct tcp_stack_config *cfg = &c->stack->config;
	if (rtt_us == 0)
		rtt_us = 1;
	if (c->min_rtt_us == 0 || rtt_us < c->min_rtt_us)
		c->min_rtt_us = rtt_us;
	if (c->srtt_us == 0) {
		c->srtt_us = rtt_us;
		c->rttvar_us = rtt_us / 2;
	} else {
		uint32_t delta = c->srtt_us > rtt_us ? c->srtt_us - rtt_us : rtt_us - c->srtt_us;
		c->rttvar_us = (3 * c->rttvar_us + delta) / 4;
		c->srtt_us = (7 * c->srtt_us + rtt_us) / 8;
	}
	uint64_t rto_us = (uint64_t)c->srtt_us + 4 * (uint64_t)c->rttvar_us;
	uint64_t rto_ms = (rto_us + 999) / 1000;
	if (rto_ms < cfg->rto_min_ms)
		rto_ms = cfg->rto_min_ms;
	if (rto_ms > cfg->rto_max_ms)
		rto_ms = cfg->rto_max_ms;
	c->rto_ms = (uint32_t)rto_ms;
}

static void rto_expired(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	c->rto_at = 0;
	tcp_count(s, TCP_COUNTER_rto_fired);
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
		if (++c->retries > s->config.syn_retries) {
			tcp_count(s, TCP_COUNTER_timeouts);
			tcp_conn_terminate(c, -ETIMEDOUT);
			return;
		}
		c->backoff++;
		/* RFC 6298 5.7: after a lost SYN the RTO of data starts at 3 s;
		 * we keep the backed-off value until a sample arrives. */
		tcp_send_syn(c);
		tcp_rto_arm(c);
		return;
	}
	if (c->snd_una == c->snd_max)
		return; /* nothing outstanding: stale */
	if (++c->retries > s->config.data_retries) {
		tcp_count(s, TCP_COUNTER_timeouts);
		tcp_send_rst(c);
		tcp_conn_terminate(c, -ETIMEDOUT);
		return;
	} /* RFC 5681 3.1 eq. 4 and RFC 6298 5.5-5.6: collapse the window, back
	   * off, go back to snd_una.  The SACK scoreboard is kept so SACKed data
	   * is not sent again (RFC 6675 5.1); a reneging receiver (RFC 2018 8)
	   * still gets everything through the next timeout, which clears it. */
	/* One reduction per loss episode: a timeout during recovery after a
	 * backed-off one, or while data out at an earlier timeout is still
	 * unacknowledged, keeps ssthresh (as Linux does in its Loss state; RFC
	 * 5681 eq. 4 takes FlightSize, not the collapsed window).  Reducing
	 * again from a window the last timeout collapsed drove ssthresh to
	 * 2 MSS: congestion avoidance from there took minutes at 20 ms. */
	if ((c->in_recovery && c->backoff > 0) || c->after_timeout)
		c->cwnd = c->snd_mss;
	else
		c->cc->on_rto(c);
	/* Until what was out at the timeout is acknowledged, an ACK may cover
	 * megabytes the receiver already held, and duplicate ACKs report
	 * losses this timeout already answered (see after_timeout). */
	c->after_timeout = true;
	c->timeout_recover = c->snd_max;
	c->timeout_sent = 0;
	c->hole_pass_done_tsc = 0;
	c->in_recovery = false;
	c->dupacks = 0;
	if (c->backoff > 0)
		tcp_scoreboard_clear(c);
	if (c->backoff < 16)
		c->backoff++;
	c->rtt_timing = false; /* Karn: no sample from retransmitted data */
	c->snd_nxt = c->snd_una;
	c->cur_seg = NULL;
	c->tlp_at = 0;
	tcp_rto_arm(c);
	tcp_conn_mark(c, TCP_EV_OUTPUT);
}

/* RFC 8985 7.2: PTO = 2 SRTT, plus room for a delayed ACK when a single
 * segment is in flight; at least 5 ms (our timer granularity is 1 ms). */
void tcp_tlp_arm(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	if (c->in_recovery && c->sack_ok && c->srtt_us != 0) {
		/* In recovery the same timer bounds how long the holes may stay
		 * unfilled after the last cumulative progress (RFC 8985 6.3). */
		uint64_t wait_us = 2 * (uint64_t)c->srtt_us;
		if (wait_us < 5000)
			wait_us = 5000;
		c->tlp_at = s->now_tsc + wait_us * s->tsc_hz / 1000000;
		return;
	}
	if (c->in_recovery || c->snd_una == c->snd_max || c->srtt_us == 0 || c->tlp_sent) {
		c->tlp_at = 0;
		return;
	}
	uint64_t pto_us = 2 * (uint64_t)c->srtt_us;
	if (c->snd_max - c->snd_una <= c->snd_mss)
		pto_us += 50000;
	if (pto_us < 5000)
		pto_us = 5000;
	c->tlp_at = s->now_tsc + pto_us * s->tsc_hz / 1000000;
	if (c->rto_at != 0 && c->tlp_at >= c->rto_at)
		c->tlp_at = 0; /* the RTO comes first anyway */
}

static void tlp_expired(struct tcp_conn *c)
{
	c->tlp_at = 0;
	if (c->in_recovery && c->sack_ok && c->snd_una != c->snd_max) {
		/* No progress for two RTTs: the retransmissions of the holes
		 * were lost too; send them again rather than wait for the RTO. */
		c->rexmit_high = c->snd_una;
		c->hole_pass_done_tsc = 0;
		tcp_count(c->stack, TCP_COUNTER_lost_retransmits);
		tcp_conn_mark(c, TCP_EV_OUTPUT);
		tcp_tlp_arm(c);
		return;
	}
	if (c->in_recovery || c->snd_una == c->snd_max || c->tlp_sent || c->snd_wnd == 0)
		return;
	/* RFC 8985 7.3: retransmit the last segment so that its ACK (with
	 * SACK) reveals a lost tail without waiting for the RTO. */
	uint32_t mss = tcp_effective_mss(c);
	uint32_t data_end = c->snd_una + c->sq_bytes;
	uint32_t top = seq_lt(data_end, c->snd_max) ? data_end : c->snd_max;
	uint32_t len = top - c->snd_una < mss ? top - c->snd_una : mss;
	c->tlp_sent = true;
	tcp_count(c->stack, TCP_COUNTER_tlp_probes);
	tcp_retransmit_range(c, top - len, len == 0 ? 1 : len);
}

static void persist_expired(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	c->persist_at = 0;
	if (c->snd_wnd != 0 || (c->sq_bytes == 0 && !c->fin_queued)) {
		c->persist_backoff = 0;
		tcp_conn_mark(c, TCP_EV_OUTPUT);
		return;
	}
	tcp_send_window_probe(c);
	tcp_count(s, TCP_COUNTER_persist_probes);
	if (c->persist_backoff < 16)
		c->persist_backoff++;
	/* RFC 9293 3.8.6.1: probe with exponential backoff, never give up
	 * while the peer answers. */
	uint64_t ms = (uint64_t)c->rto_ms << c->persist_backoff;
	if (ms > s->config.rto_max_ms)
		ms = s->config.rto_max_ms;
	c->persist_at = s->now_tsc + tcp_ms_to_tsc(s, ms);
}

static void keepalive_expired(struct tcp_conn *c)
{
	struct tcp_stack *s = c->stack;
	c->keepalive_at = 0;
	if (c->keepalive_idle_s == 0 || c->state != TCP_ESTABLISHED)
		return;
	uint64_t idle_tsc = tcp_ms_to_tsc(s, (uint64_t)c->keepalive_idle_s * 1000);
	if (s->now_tsc - c->last_rx_tsc < idle_tsc && c->keepalive_sent == 0) {
		c->keepalive_at = c->last_rx_tsc + idle_tsc;
		return;
	}
	if (c->keepalive_sent >= c->keepalive_count) {
		tcp_count(s, TCP_COUNTER_timeouts);
		tcp_send_rst(c);
		tcp_conn_terminate(c, -ETIMEDOUT);
		return;
	}
	tcp_send_keepalive(c);
	tcp_count(s, TCP_COUNTER_keepalive_probes);
	c->keepalive_sent++;
	c->keepalive_at = s->now_tsc + tcp_ms_to_tsc(s, (uint64_t)c->keepalive_interval_s * 1000);
}

static void conn_timer_fire(struct tcp_timer *t, void *ctx)
{
	struct tcp_stack *s = ctx;
	struct tcp_conn *c = (struct tcp_conn *)((char *)t - offsetof(struct tcp_conn, timer));
	uint64_t now = s->now_tsc;
	if (c->time_wait_at != 0 && c->time_wait_at <= now) {
		c->time_wait_at = 0;
		tcp_conn_terminate(c, 0);
		return;
	}
	if (c->delack_at != 0 && c->delack_at <= now) {
		c->delack_at = 0;
		if (c->ack_pending) {
			tcp_count(s, TCP_COUNTER_delayed_acks);
			tcp_send_ack(c);
		}
	}
	if (c->rto_at != 0 && c->rto_at <= now) {
		rto_expired(c);
		if (c->state == TCP_CLOSED)
			return;
	}
	if (c->tlp_at != 0 && c->tlp_at <= now)
		tlp_expired(c);
	if (c->persist_at != 0 && c->persist_at <= now)
		persist_expired(c);
	if (c->keepalive_at != 0 && c->keepalive_at <= now) {
		keepalive_expired(c);
		if (c->state == TCP_CLOSED)
			return;
	}
	tcp_conn_timer_update(c);
}

void tcp_timers_run(struct tcp_stack *s)
{
	tcp_wheel_advance(&s->wheel, s->now_tsc, conn_timer_fire, s);
}
