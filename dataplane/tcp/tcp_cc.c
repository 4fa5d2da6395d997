/* Congestion control plug-ins: NewReno (RFC 5681, 6582) and CUBIC
 * (RFC 9438).  Windows are in bytes; CUBIC works in segments internally. */
#include <math.h>

#include "tcp_internal.h"

static uint32_t flight_half(const struct tcp_conn *c)
{
	uint32_t mss = tcp_effective_mss(c);
	uint32_t flight = c->snd_max - c->snd_una;
	uint32_t half = flight / 2;
	return half > 2 * mss ? half : 2 * mss; /* RFC 5681 eq. 4 */
}

/* Slow start with appropriate byte counting (RFC 3465): the window grows
 * by every byte acknowledged, not by at most L = 2 MSS per ACK.  Receivers
 * that acknowledge a whole burst at once -- this stack (one ACK per poll),
 * Linux (one per GRO batch) -- send one stretch ACK per round trip on a
 * long path, and with L = 2 MSS slow start grew the window by 2 MSS per
 * round trip: 18 KB per 20 ms at MTU 9000, a 32 MiB window after 37 s
 * (measured in tools/bench-long-path).  Counting every byte still at most
 * doubles the window per round trip.  After a retransmission timeout an
 * ACK may also cover what the receiver held out of order, bytes newly
 * acknowledged but not newly delivered (RFC 3465 2.3).  RFC 3465's answer,
 * L = 2 MSS, meets the same stretch ACKs there: at MTU 1500 over 20 ms a
 * window repairing 5 MB of holes grew by 2 MSS per round trip.  Counting
 * only bytes sent since the timeout credits what this window delivered,
 * whatever the ACKs' spacing, and still at most doubles it per round trip. */
static uint32_t slow_start(struct tcp_conn *c, uint32_t acked)
{
	uint32_t inc = acked;
	if (c->after_timeout) {
		inc = acked < c->timeout_sent ? acked : c->timeout_sent;
		c->timeout_sent -= inc;
	}
	if (c->cwnd + inc > c->ssthresh) {
		uint32_t used = c->ssthresh > c->cwnd ? c->ssthresh - c->cwnd : 0;
		c->cwnd = c->ssthresh > c->cwnd ? c->ssthresh : c->cwnd;
		return acked > used ? acked - used : 0;
	}
	c->cwnd += inc;
	return 0;
}

static void newreno_init(struct tcp_conn *c)
{
	c->bytes_acked_ca = 0;
}

static void newreno_on_ack(struct tcp_conn *c, uint32_t acked)
{
	uint32_t mss = tcp_effective_mss(c);
	if (c->cwnd < c->ssthresh) {
		acked = slow_start(c, acked);
		if (acked == 0)
			return;
	}
	/* RFC 5681 3.1: about one MSS per RTT, by byte counting. */
	c->bytes_acked_ca += acked;
	if (c->bytes_acked_ca >= c->cwnd) {
		c->bytes_acked_ca -= c->cwnd;
		c->cwnd += mss;
	}
}

static void newreno_on_congestion(struct tcp_conn *c)
{
	c->ssthresh = flight_half(c);
	c->cwnd = c->ssthresh;
	c->bytes_acked_ca = 0;
}

static void newreno_on_rto(struct tcp_conn *c)
{
	c->ssthresh = flight_half(c);
	c->cwnd = tcp_effective_mss(c);
	c->bytes_acked_ca = 0;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .on_ack = newreno_on_ack,
    .on_congestion = newreno_on_congestion,
    .on_rto = newreno_on_rto,
};

/* RFC 9438 constants. */
#define CUBIC_C    0.4
#define CUBIC_BETA 0.7

static void cubic_init(struct tcp_conn *c)
{
	c->cubic_w_max = 0;
	c->cubic_k = 0;
	c->cubic_epoch_tsc = 0;
	c->bytes_acked_ca = 0;
}

static void cubic_on_ack(struct tcp_conn *c, uint32_t acked)
{
	struct tcp_stack *s = c->stack;
	double mss = tcp_effective_mss(c);
	if (c->cwnd < c->ssthresh) {
		acked = slow_start(c, acked);
		if (acked == 0)
			return;
	}
	double cwnd = c->cwnd / mss;
	if (c->cubic_epoch_tsc == 0) {
		/* RFC 9438 4.2: a new congestion-avoidance epoch. */
		c->cubic_epoch_tsc = s->now_tsc;
		if (c->cubic_w_max < cwnd) {
			c->cubic_k = 0;
			c->cubic_w_max = cwnd;
		} else {
			c->cubic_k = cbrt((c->cubic_w_max - cwnd) / CUBIC_C);
		}
		c->cubic_w_est = cwnd;
	}
	double rtt = c->srtt_us > 0 ? c->srtt_us / 1e6 : 0.001;
	double t = (double)(s->now_tsc - c->cubic_epoch_tsc) / (double)s->tsc_hz;
	/* Eq. 1 evaluated one RTT ahead (4.2), bounded to 1.5x (4.4). */
	double d = t + rtt - c->cubic_k;
	double target = CUBIC_C * d * d * d + c->cubic_w_max;
	if (target < cwnd)
		target = cwnd;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	/* Reno-friendly estimate (4.3), alpha = 3(1-beta)/(1+beta). */
	double segs_acked = acked / mss;
	c->cubic_w_est += 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA) * segs_acked / cwnd;
	if (c->cubic_w_est > target)
		target = c->cubic_w_est;
	double next = cwnd + (target - cwnd) / cwnd * segs_acked;
	uint32_t bytes = (uint32_t)(next * mss);
	if (bytes > c->cwnd)
		c->cwnd = bytes;
}

static void cubic_reduce(struct tcp_conn *c)
{
	double mss = tcp_effective_mss(c);
	double cwnd = c->cwnd / mss;
	/* RFC 9438 4.7 fast convergence. */
	if (cwnd < c->cubic_w_max)
		c->cubic_w_max = cwnd * (1 + CUBIC_BETA) / 2;
	else
		c->cubic_w_max = cwnd;
	uint32_t ss = (uint32_t)(cwnd * CUBIC_BETA * mss);
	c->ssthresh = ss > 2 * (uint32_t)mss ? ss : 2 * (uint32_t)mss;
	c->cubic_epoch_tsc = 0;
}

static void cubic_on_congestion(struct tcp_conn *c)
{
	cubic_reduce(c);
	c->cwnd = c->ssthresh;
}

static void cubic_on_rto(struct tcp_conn *c)
{
	cubic_reduce(c);
	c->cwnd = tcp_effective_mss(c);
}

const struct tcp_cc_ops tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_congestion = cubic_on_congestion,
    .on_rto = cubic_on_rto,
};
