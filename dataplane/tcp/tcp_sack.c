/* SACK: the blocks we report as a receiver (RFC 2018 4) and the sender's
 * scoreboard for loss recovery (RFC 6675). */
#include <string.h>

#include "tcp_internal.h"

/* RFC 2018 4: the first block holds the most recently received segment;
 * the others follow, highest first (the most recent arrivals in a bulk
 * transfer). */
unsigned int tcp_sack_blocks(const struct tcp_conn *c, struct tcp_sack_range *out, unsigned int max)
{
	struct tcp_sack_range ranges[TCP_SACK_MAX_BLOCKS * 2];
	unsigned int count = 0;
	struct tcp_sack_range cur = {0, 0};
	bool open = false;
	/* Walk the queue once, merging touching segments into ranges; keep
	 * the range holding the latest arrival and the highest others. */
	struct tcp_sack_range latest = {0, 0};
	bool have_latest = false;
	for (const struct rte_mbuf *m = c->ooo_head;; m = m->next) {
		bool flush = m == NULL;
		uint32_t s = 0, e = 0;
		if (!flush) {
			s = m->hash.usr;
			e = s + m->data_len;
			if (open && s == cur.end) {
				cur.end = e;
				continue;
			}
			flush = open;
		}
		if (flush && open) {
			if (seq_geq(c->ooo_last_start, cur.start) &&
			    seq_lt(c->ooo_last_start, cur.end)) {
				latest = cur;
				have_latest = true;
			} else {
				/* keep the highest ranges in a small ring */
				if (count == RTE_DIM(ranges)) {
					memmove(ranges, ranges + 1,
					        sizeof(ranges[0]) * (count - 1));
					count--;
				}
				ranges[count++] = cur;
			}
		}
		if (m == NULL)
			break;
		cur.start = s;
		cur.end = e;
		open = true;
	}
	unsigned int n = 0;
	if (have_latest && n < max)
		out[n++] = latest;
	while (count > 0 && n < max)
		out[n++] = ranges[--count];
	return n;
}

void tcp_scoreboard_clear(struct tcp_conn *c)
{
	c->sb_count = 0;
	c->sacked_bytes = 0;
}

static void recount(struct tcp_conn *c)
{
	uint32_t total = 0;
	for (unsigned int i = 0; i < c->sb_count; i++)
		total += c->scoreboard[i].end - c->scoreboard[i].start;
	c->sacked_bytes = total;
}

/* Merges the blocks of one ACK into the sorted, disjoint scoreboard. */
void tcp_scoreboard_update(struct tcp_conn *c, const struct tcp_options *o)
{
	for (unsigned int b = 0; b < o->sack_count; b++) {
		uint32_t start = o->sack[b].start, end = o->sack[b].end;
		/* Ignore D-SACKs and blocks outside what we sent (RFC 2883,
		 * RFC 5961 5 spirit: never trust the peer beyond SND.MAX). */
		if (!seq_lt(start, end) || seq_leq(end, c->snd_una) || seq_gt(end, c->snd_max))
			continue;
		if (seq_lt(start, c->snd_una))
			start = c->snd_una;
		unsigned int i = 0;
		while (i < c->sb_count && seq_lt(c->scoreboard[i].end, start))
			i++;
		/* Merge with every range it touches. */
		unsigned int j = i;
		while (j < c->sb_count && seq_leq(c->scoreboard[j].start, end)) {
			start = seq_min(start, c->scoreboard[j].start);
			end = seq_max(end, c->scoreboard[j].end);
			j++;
		}
		unsigned int removed = j - i;
		if (removed == 0) {
			if (c->sb_count == TCP_SCOREBOARD_MAX) {
				if (i == c->sb_count)
					continue; /* full: forget the highest new block */
				c->sb_count--;
			}
			memmove(&c->scoreboard[i + 1], &c->scoreboard[i],
			        sizeof(c->scoreboard[0]) * (c->sb_count - i));
			c->sb_count++;
		} else if (removed > 1) {
			memmove(&c->scoreboard[i + 1], &c->scoreboard[j],
			        sizeof(c->scoreboard[0]) * (c->sb_count - j));
			c->sb_count = (uint8_t)(c->sb_count - (removed - 1));
		}
		c->scoreboard[i].start = start;
		c->scoreboard[i].end = end;
	}
	recount(c);
}

/* Drops what the cumulative ACK now covers. */
void tcp_scoreboard_ack(struct tcp_conn *c)
{
	unsigned int drop = 0;
	while (drop < c->sb_count && seq_leq(c->scoreboard[drop].end, c->snd_una))
		drop++;
	if (drop > 0) {
		memmove(&c->scoreboard[0], &c->scoreboard[drop],
		        sizeof(c->scoreboard[0]) * (c->sb_count - drop));
		c->sb_count = (uint8_t)(c->sb_count - drop);
	}
	if (c->sb_count > 0 && seq_lt(c->scoreboard[0].start, c->snd_una))
		c->scoreboard[0].start = c->snd_una;
	recount(c);
}

uint32_t tcp_scoreboard_skip(const struct tcp_conn *c, uint32_t seq, uint32_t *room)
{
	*room = UINT32_MAX;
	for (unsigned int i = 0; i < c->sb_count; i++) {
		const struct tcp_sack_range *r = &c->scoreboard[i];
		if (seq_lt(seq, r->start)) {
			*room = r->start - seq;
			break;
		}
		if (seq_lt(seq, r->end))
			seq = r->end;
	}
	return seq;
}

uint32_t tcp_scoreboard_sacked_below(const struct tcp_conn *c, uint32_t seq)
{
	uint32_t total = 0;
	for (unsigned int i = 0; i < c->sb_count && seq_lt(c->scoreboard[i].start, seq); i++)
		total += seq_min(c->scoreboard[i].end, seq) - c->scoreboard[i].start;
	return total;
}

uint32_t tcp_scoreboard_high(const struct tcp_conn *c)
{
	return c->sb_count > 0 ? c->scoreboard[c->sb_count - 1].end : c->snd_una;
}

bool tcp_scoreboard_next_hole(const struct tcp_conn *c, uint32_t from, uint32_t *start,
                              uint32_t *len)
{
	uint32_t cursor = seq_max(from, c->snd_una);
	for (unsigned int i = 0; i < c->sb_count; i++) {
		const struct tcp_sack_range *r = &c->scoreboard[i];
		if (seq_lt(cursor, r->start)) {
			*start = cursor;
			*len = r->start - cursor;
			return true;
		}
		cursor = seq_max(cursor, r->end);
	}
	return false;
}

/* RFC 6675 4 SetPipe, with every hole below the highest SACKed byte taken
 * as lost (IsLost) until it has been retransmitted. */
uint32_t tcp_pipe(const struct tcp_conn *c)
{
	uint32_t outstanding = c->snd_max - c->snd_una;
	uint32_t lost = 0;
	uint32_t cursor = seq_max(c->rexmit_high, c->snd_una);
	for (unsigned int i = 0; i < c->sb_count; i++) {
		const struct tcp_sack_range *r = &c->scoreboard[i];
		if (seq_lt(cursor, r->start))
			lost += r->start - cursor;
		cursor = seq_max(cursor, r->end);
	}
	uint32_t not_in_flight = c->sacked_bytes + lost;
	return outstanding > not_in_flight ? outstanding - not_in_flight : 0;
}
