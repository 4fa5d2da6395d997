/* Send and receive budgets that follow the path's bandwidth-delay product.
 *
 * A connection never has more than its budget in flight: a download's send
 * budget bounds the sealed records not yet acknowledged, an upload's
 * receive budget is the window the client may fill.  A fixed 2 MiB is
 * plenty on a local link (memif, a LAN: tens of microseconds of round
 * trip), but caps a transfer at 2 MiB per round trip: 0.5 GB/s at 4 ms,
 * 100 MB/s at 20 ms between data centres.  So each transfer starts at
 * TRANSFER_BUDGET_START and, once per smoothed round trip, doubles its
 * budget when the budget is what limited it (as TCP's slow start probes,
 * and as Linux grows socket buffers), up to the engine's max_budget
 * ([transfer] max_budget_mb, at most TRANSFER_BUDGET_MAX):
 *
 * - download: the client acknowledged at least 3/4 of the budget in one
 *   round trip (the budget was all in flight), and the client's window
 *   could take more than the budget (growing past it only holds more
 *   sealed records back);
 * - upload: at least 3/4 of the window arrived in one round trip (data the
 *   engine leaves unread closes the window, so a slow disk never grows it;
 *   arrivals, not what the engine took, since it takes in bursts after a
 *   slow write).
 *
 * Anything else that limits a transfer (the congestion window, a slow
 * client, this lcore's CPU) moves less than that per round trip, so the
 * budget stays.  Growth is also bounded per lcore, so long transfers leave
 * buffers for the others: what grown download budgets add may fill half
 * the record pool (a 32 MiB budget is 2048 of its 4095 records), what
 * grown upload windows add a quarter of the receive pool (at MTU 1500 a
 * 32 MiB window is 23000 mbufs, more than a worker has) -- and leftover
 * bytes, close_notify and KeyUpdate records, and other connections' ACKs,
 * still find mbufs.  "Per round trip" is per smallest round-trip sample (the
 * path without queues): data queued at a slow client lengthens the
 * smoothed round trip as the budget grows, and measured against that a
 * budget grew to its maximum on any path (32 MiB at 2 ms, where the path
 * held 3 MB).  A budget never shrinks during a transfer: after a
 * congestion episode the congestion window limits the flight by itself. */
#include "tcp.h"
#include "transfer_internal.h"

/* Checked at most this often, however short the round trip. */
#define TRANSFER_BUDGET_CHECK_MIN_US 1000u

/* Where the bytes the transfer moved stand: SND.UNA of a download (TLS
 * records the client acknowledged), bytes arrived of an upload. */
static uint64_t transfer_budget_position(const struct transfer *t, const struct tcp_conn_info *info)
{
	return t->direction == TRANSFER_SEND_FILE ? info->snd_una : info->bytes_received;
}

static uint64_t transfer_budget_moved(const struct transfer *t, const struct tcp_conn_info *info)
{
	if (t->direction == TRANSFER_SEND_FILE)
		return (uint32_t)(info->snd_una - (uint32_t)t->budget_check_mark);
	return info->bytes_received - t->budget_check_mark;
}

static void transfer_budget_mark(struct transfer *t, const struct tcp_conn_info *info,
                                 uint64_t now_tsc)
{
	uint32_t interval_us = info->srtt_us;
	if (interval_us < TRANSFER_BUDGET_CHECK_MIN_US)
		interval_us = TRANSFER_BUDGET_CHECK_MIN_US;
	t->budget_check_mark = transfer_budget_position(t, info);
	t->budget_check_start_tsc = now_tsc;
	t->budget_check_tsc = now_tsc + t->engine->tsc_hz * interval_us / 1000000u;
}

void transfer_budget_start(struct transfer *t, uint64_t now_tsc)
{
	if (t->direction == TRANSFER_SEND_FILE)
		tcp_set_send_budget(t->tcp, TRANSFER_BUDGET_START);
	else
		tcp_set_receive_budget(t->tcp, TRANSFER_BUDGET_START);
	struct tcp_conn_info info;
	tcp_conn_get_info(t->tcp, &info);
	transfer_budget_mark(t, &info, now_tsc);
}

static bool transfer_budget_limited(const struct transfer *t, const struct tcp_conn_info *info,
                                    uint32_t budget, uint64_t now_tsc)
{
	uint64_t elapsed = now_tsc - t->budget_check_start_tsc;
	if (elapsed == 0 || info->min_rtt_us == 0)
		return false;
	if (t->direction == TRANSFER_SEND_FILE && budget >= info->max_snd_wnd)
		return false;
	/* Per round trip over an interval that may be longer than one. */
	double rtt_tsc = (double)t->engine->tsc_hz * info->min_rtt_us / 1e6;
	double per_round_trip = (double)transfer_budget_moved(t, info) * rtt_tsc / (double)elapsed;
	return per_round_trip >= 0.75 * budget;
}

/* Bytes of budget one mbuf (upload) or record (download) holds; 0 when
 * unknown. */
static uint32_t transfer_budget_unit_bytes(const struct transfer *t,
                                           const struct tcp_conn_info *info)
{
	if (t->direction == TRANSFER_SEND_FILE)
		return TLS_MAX_PLAINTEXT;
	uint32_t per_unit = info->effective_mss;
	return per_unit > t->engine->receive_mbuf_bytes ? t->engine->receive_mbuf_bytes : per_unit;
}

/* Mbufs (upload) or records (download) that bytes of budget may hold. */
static uint32_t transfer_budget_units(const struct transfer *t, const struct tcp_conn_info *info,
                                      uint32_t bytes)
{
	uint32_t per_unit = transfer_budget_unit_bytes(t, info);
	return per_unit == 0 ? UINT32_MAX : (bytes + per_unit - 1) / per_unit;
}

/* Caps a growth to what the lcore's pools can spare; returns the budget
 * to set (budget itself: no room).  A doubling that does not fit whole
 * takes what is left of the share: at MTU 1500 an upload's window then
 * reaches 7.7 MiB at the default pools instead of stopping at 4. */
static uint32_t transfer_budget_afford(struct transfer *t, const struct tcp_conn_info *info,
                                       uint32_t budget, uint32_t grown)
{
	struct transfer_engine *e = t->engine;
	bool download = t->direction == TRANSFER_SEND_FILE;
	uint32_t *held = download ? &e->budget_records : &e->budget_receive_mbufs;
	uint32_t limit = download ? TRANSFER_RECORD_MBUFS / 2 : e->receive_mbufs / 4;
	if (!download && e->receive_mbufs == 0)
		limit = UINT32_MAX; /* no pool given (unit tests) */
	uint32_t units = transfer_budget_units(t, info, grown - TRANSFER_BUDGET_START);
	uint32_t more = units > t->budget_units ? units - t->budget_units : 0;
	if (*held + more > limit) {
		uint32_t spare = limit > *held ? limit - *held : 0;
		uint64_t affordable = TRANSFER_BUDGET_START + (uint64_t)(t->budget_units + spare) *
		                                                  transfer_budget_unit_bytes(t, info);
		if (spare == 0 || affordable <= budget)
			return budget;
		more = spare;
		grown = affordable < grown ? (uint32_t)affordable : grown;
	}
	*held += more;
	t->budget_units += more;
	return grown;
}

void transfer_budget_release(struct transfer *t)
{
	uint32_t *held = t->direction == TRANSFER_SEND_FILE ? &t->engine->budget_records
	                                                    : &t->engine->budget_receive_mbufs;
	*held -= t->budget_units < *held ? t->budget_units : *held;
	t->budget_units = 0;
}

void transfer_budget_tune(struct transfer *t, uint64_t now_tsc)
{
	if (t->tcp == NULL || t->state != TRANSFER_RUNNING || now_tsc < t->budget_check_tsc)
		return;
	struct tcp_conn_info info;
	tcp_conn_get_info(t->tcp, &info);
	bool download = t->direction == TRANSFER_SEND_FILE;
	uint32_t budget = download ? info.snd_budget : info.rcv_budget;
	uint32_t max = t->engine->max_budget;
	if (budget < max && transfer_budget_limited(t, &info, budget, now_tsc)) {
		uint32_t grown = budget * 2 < max ? budget * 2 : max;
		grown = transfer_budget_afford(t, &info, budget, grown);
		if (grown == budget) {
			transfer_count(t, TRANSFER_COUNTER_budget_refusals, 1);
		} else if (download) {
			tcp_set_send_budget(t->tcp, grown);
		} else {
			/* The stack caps a window at what its scale can announce
			 * (65535 << 9, 512 bytes short of 32 MiB). */
			tcp_set_receive_budget(t->tcp, grown);
			struct tcp_conn_info set;
			tcp_conn_get_info(t->tcp, &set);
			grown = set.rcv_budget;
		}
		if (grown > budget) {
			transfer_count(t, TRANSFER_COUNTER_budget_growths, 1);
			if (grown > t->engine->largest_budget)
				t->engine->largest_budget = grown;
		}
	}
	transfer_budget_mark(t, &info, now_tsc);
}
