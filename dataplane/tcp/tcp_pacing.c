/* Pacing: new data leaves at a rate of gain x cwnd / SRTT instead of as one
 * burst per ACK.  A window that opens by megabytes at once otherwise goes
 * out at the port's speed, and a queue on the path shorter than the burst
 * drops a large part of it: over the impairment layer's 20 ms delay at MTU
 * 1500, the loadgen's receive ring lost 30-40% of a window per episode, and
 * each episode ended in a retransmission timeout.  The gains are Linux's:
 * 2 in slow start, so that the rate keeps ahead of a window that doubles
 * per round trip, and 1.2 after.  Up to TCP_PACING_QUANTUM bytes may leave
 * back to back (a connection that was idle, or behind its schedule, does
 * not catch up in one burst).  Retransmissions are not paced: they are
 * bounded by the window that loss already shrank. */
#include "tcp_internal.h"

/* Pacing applies once an RTT was measured and the stack has it on. */
static bool pacing_on(const struct tcp_conn *c)
{
	return c->stack->config.pacing && c->srtt_us != 0 && c->cwnd != 0;
}

/* TSC cycles that len bytes take at the connection's pacing rate. */
static uint64_t pacing_cost(const struct tcp_conn *c, uint32_t len)
{
	uint64_t gain_tenths = c->cwnd < c->ssthresh ? 20 : 12;
	uint64_t srtt_tsc = (uint64_t)c->srtt_us * c->stack->tsc_hz / 1000000;
	return (uint64_t)len * srtt_tsc * 10 / (gain_tenths * c->cwnd);
}

bool tcp_pacing_allows(const struct tcp_conn *c)
{
	return !pacing_on(c) || c->pace_next_tsc <= c->stack->now_tsc;
}

void tcp_pacing_sent(struct tcp_conn *c, uint32_t len)
{
	if (!pacing_on(c))
		return;
	uint64_t now = c->stack->now_tsc;
	uint64_t quantum = pacing_cost(c, TCP_PACING_QUANTUM);
	uint64_t from = now > quantum ? now - quantum : 0;
	if (c->pace_next_tsc < from)
		c->pace_next_tsc = from; /* credit for idle time: one quantum at most */
	c->pace_next_tsc += pacing_cost(c, len);
}
