#include "impair.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

/* splitmix64: small, fast, and well distributed for a fault stream. */
static uint64_t impair_next(struct impair *imp)
{
	uint64_t z = (imp->rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static bool impair_chance(struct impair *imp, double probability)
{
	/* Always draw, so that one knob's setting does not shift the others'. */
	uint64_t r = impair_next(imp);
	if (probability <= 0.0)
		return false;
	return (double)(r >> 11) * (1.0 / 9007199254740992.0) < probability;
}

static const char *impair_parse_probability(const char *value, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		return "a probability between 0 and 1";
	*out = v;
	return NULL;
}

static const char *impair_parse_unsigned(const char *value, unsigned long long max,
                                         unsigned long long *out)
{
	char *end;
	errno = 0;
	if (value[0] == '-')
		return "a non-negative whole number";
	unsigned long long v = strtoull(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v > max)
		return "a non-negative whole number in range";
	*out = v;
	return NULL;
}

const char *impair_parse(const char *spec, struct impair_config *config)
{
	static char message[160];
	char copy[512];
	if (strlen(spec) >= sizeof(copy))
		return "impairment specification too long";
	strcpy(copy, spec);
	struct impair_config c = {.reorder_depth = 3, .seed = config->seed};
	char *saveptr = NULL;
	for (char *item = strtok_r(copy, ",", &saveptr); item != NULL;
	     item = strtok_r(NULL, ",", &saveptr)) {
		char *eq = strchr(item, '=');
		if (eq == NULL) {
			snprintf(message, sizeof(message),
			         "impairment item '%.60s' is not key=value", item);
			return message;
		}
		*eq = '\0';
		const char *key = item, *value = eq + 1, *err = NULL;
		unsigned long long u = 0;
		if (strcmp(key, "loss") == 0)
			err = impair_parse_probability(value, &c.loss);
		else if (strcmp(key, "dup") == 0 || strcmp(key, "duplicate") == 0)
			err = impair_parse_probability(value, &c.duplicate);
		else if (strcmp(key, "reorder") == 0)
			err = impair_parse_probability(value, &c.reorder);
		else if (strcmp(key, "corrupt") == 0)
			err = impair_parse_probability(value, &c.corrupt);
		else if (strcmp(key, "depth") == 0) {
			err = impair_parse_unsigned(value, IMPAIR_HOLD_MAX / 2, &u);
			c.reorder_depth = (unsigned int)u;
		} else if (strcmp(key, "delay_us") == 0) {
			err = impair_parse_unsigned(value, 1000000, &u);
			c.delay_us = (unsigned int)u;
		} else if (strcmp(key, "seed") == 0) {
			err = impair_parse_unsigned(value, UINT64_MAX, &u);
			c.seed = u;
		} else {
			snprintf(message, sizeof(message),
			         "unknown impairment '%.40s' (known: loss, dup, reorder, depth, "
			         "corrupt, delay_us, seed)",
			         key);
			return message;
		}
		if (err != NULL) {
			snprintf(message, sizeof(message), "impairment '%.40s' needs %s", key, err);
			return message;
		}
	}
	if (c.reorder > 0 && c.reorder_depth == 0)
		return "impairment 'reorder' needs depth of at least 1";
	*config = c;
	return NULL;
}

void impair_init(struct impair *imp, const struct impair_config *config, uint64_t stream,
                 struct rte_mempool *pool, uint64_t tsc_hz)
{
	uint64_t *lost = imp->lost, *duplicated = imp->duplicated, *reordered = imp->reordered;
	uint64_t *corrupted = imp->corrupted, *delayed = imp->delayed;
	memset(imp, 0, sizeof(*imp));
	imp->lost = lost;
	imp->duplicated = duplicated;
	imp->reordered = reordered;
	imp->corrupted = corrupted;
	imp->delayed = delayed;
	imp->config = *config;
	imp->enabled = config->loss > 0 || config->duplicate > 0 || config->reorder > 0 ||
	               config->corrupt > 0 || config->delay_us > 0;
	/* Each lcore and direction gets its own stream of the same seed. */
	imp->rng_state = config->seed ^ (stream * 0xd1b54a32d192ed03ULL);
	imp->pool = pool;
	imp->tsc_hz = tsc_hz;
	imp->next_due_tsc = UINT64_MAX;
	imp->next_due_frames = UINT64_MAX;
}

static void impair_bump(uint64_t *counter)
{
	if (counter != NULL)
		(*counter)++;
}

/* Lowers the earliest time and frame count at which a held frame may be
 * due, so impair_release scans the held frames only when one may be. */
static void impair_note_due(struct impair *imp, const struct impair_held *h)
{
	if (h->release_after <= imp->frames_seen) {
		if (h->release_tsc < imp->next_due_tsc)
			imp->next_due_tsc = h->release_tsc;
	} else {
		if (h->give_up_tsc < imp->next_due_tsc)
			imp->next_due_tsc = h->give_up_tsc;
		if (h->release_after < imp->next_due_frames)
			imp->next_due_frames = h->release_after;
	}
}

static void impair_hold(struct impair *imp, struct rte_mbuf *frame, uint64_t release_tsc,
                        uint64_t release_after)
{
	struct impair_held *h = &imp->held[imp->held_count++];
	h->frame = frame;
	h->release_tsc = release_tsc;
	h->release_after = release_after;
	h->give_up_tsc = release_tsc + imp->tsc_hz * IMPAIR_REORDER_TIMEOUT_US / 1000000;
	impair_note_due(imp, h);
}

static uint16_t impair_emit(struct impair *imp, struct rte_mbuf *frame, struct rte_mbuf **out,
                            uint16_t *n, uint16_t out_max, uint64_t now_tsc)
{
	if (*n < out_max) {
		out[(*n)++] = frame;
		return 1;
	}
	/* No room this time: hold it for the next call, due at once. */
	if (imp->held_count < IMPAIR_HOLD_MAX) {
		impair_hold(imp, frame, now_tsc, 0);
		return 0;
	}
	rte_pktmbuf_free(frame);
	impair_bump(imp->lost);
	return 0;
}

static bool impair_delay(struct impair *imp, struct rte_mbuf *frame, uint64_t release_tsc)
{
	if (imp->delayed_count == IMPAIR_DELAY_MAX)
		return false;
	unsigned int tail = (imp->delayed_head + imp->delayed_count) % IMPAIR_DELAY_MAX;
	imp->delayed_ring[tail] = (struct impair_delayed){frame, release_tsc};
	imp->delayed_count++;
	return true;
}

uint16_t impair_release(struct impair *imp, struct rte_mbuf **out, uint16_t out_max,
                        uint64_t now_tsc, bool force)
{
	uint16_t n = 0;
	unsigned int kept = 0;
	/* The delay ring is in release order: its due frames are a prefix. */
	while (imp->delayed_count > 0 && n < out_max &&
	       (force || imp->delayed_ring[imp->delayed_head].release_tsc <= now_tsc)) {
		out[n++] = imp->delayed_ring[imp->delayed_head].frame;
		imp->delayed_head = (imp->delayed_head + 1) % IMPAIR_DELAY_MAX;
		imp->delayed_count--;
	}
	/* The other held frames are few, but scanning them on every poll
	 * still costs: only when one may be due. */
	if (!force && now_tsc < imp->next_due_tsc && imp->frames_seen < imp->next_due_frames)
		return n;
	imp->next_due_tsc = UINT64_MAX;
	imp->next_due_frames = UINT64_MAX;
	for (unsigned int i = 0; i < imp->held_count; i++) {
		struct impair_held h = imp->held[i];
		bool due = force ||
		           (now_tsc >= h.release_tsc && imp->frames_seen >= h.release_after) ||
		           now_tsc >= h.give_up_tsc;
		if (due && n < out_max) {
			out[n++] = h.frame;
		} else {
			imp->held[kept++] = h;
			impair_note_due(imp, &h);
		}
	}
	imp->held_count = kept;
	return n;
}

uint16_t impair_apply(struct impair *imp, struct rte_mbuf **in, uint16_t count,
                      struct rte_mbuf **out, uint16_t out_max, uint64_t now_tsc)
{
	uint16_t n = 0;
	if (!imp->enabled) {
		for (uint16_t i = 0; i < count; i++)
			impair_emit(imp, in[i], out, &n, out_max, now_tsc);
		return n;
	}
	uint64_t delay_tsc = imp->tsc_hz * imp->config.delay_us / 1000000;
	for (uint16_t i = 0; i < count; i++) {
		struct rte_mbuf *frame = in[i];
		imp->frames_seen++;
		/* Fixed draw order per frame keeps the stream aligned. */
		bool lose = impair_chance(imp, imp->config.loss);
		bool corrupt = impair_chance(imp, imp->config.corrupt);
		bool duplicate = impair_chance(imp, imp->config.duplicate);
		bool reorder = impair_chance(imp, imp->config.reorder);
		uint64_t where = impair_next(imp);
		if (lose) {
			impair_bump(imp->lost);
			rte_pktmbuf_free(frame);
			continue;
		}
		if (corrupt && rte_pktmbuf_pkt_len(frame) > 0) {
			/* The original may be shared (held for retransmission), so
			 * the fault goes into a private copy. */
			struct rte_mbuf *copy = rte_pktmbuf_copy(frame, imp->pool, 0, UINT32_MAX);
			if (copy != NULL) {
				rte_pktmbuf_free(frame);
				frame = copy;
				uint32_t bit =
				    (uint32_t)(where % ((uint64_t)rte_pktmbuf_pkt_len(frame) * 8));
				/* Anywhere in the frame: a 64 KB frame is a chain
				 * whose first mbuf holds little more than headers. */
				uint32_t offset = bit / 8;
				struct rte_mbuf *segment = frame;
				while (segment != NULL && offset >= segment->data_len) {
					offset -= segment->data_len;
					segment = segment->next;
				}
				if (segment != NULL) {
					uint8_t *byte =
					    rte_pktmbuf_mtod_offset(segment, uint8_t *, offset);
					*byte ^= (uint8_t)(1u << (bit % 8));
					/* The bit must reach the checks: no offload may
					 * recompute the checksums over it. */
					frame->ol_flags &=
					    ~(RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK |
					      RTE_MBUF_F_RX_IP_CKSUM_MASK |
					      RTE_MBUF_F_RX_L4_CKSUM_MASK);
					impair_bump(imp->corrupted);
				}
			}
		}
		struct rte_mbuf *twin = NULL;
		if (duplicate) {
			twin = rte_pktmbuf_copy(frame, imp->pool, 0, UINT32_MAX);
			if (twin != NULL)
				impair_bump(imp->duplicated);
		}
		struct rte_mbuf *frames[2] = {frame, twin};
		for (int k = 0; k < 2; k++) {
			if (frames[k] == NULL)
				continue;
			bool hold_for_reorder = k == 0 && reorder;
			if (hold_for_reorder && imp->held_count < IMPAIR_HOLD_MAX) {
				impair_bump(imp->reordered);
				impair_hold(imp, frames[k], now_tsc + delay_tsc,
				            imp->frames_seen + imp->config.reorder_depth);
				continue;
			}
			/* (A frame to reorder whose hold is full keeps its delay.) */
			if (delay_tsc > 0 && impair_delay(imp, frames[k], now_tsc + delay_tsc)) {
				impair_bump(imp->delayed);
				continue;
			}
			impair_emit(imp, frames[k], out, &n, out_max, now_tsc);
		}
	}
	n = (uint16_t)(n + impair_release(imp, out + n, (uint16_t)(out_max - n), now_tsc, false));
	return n;
}

void impair_free_held(struct impair *imp)
{
	for (unsigned int i = 0; i < imp->held_count; i++)
		rte_pktmbuf_free(imp->held[i].frame);
	imp->held_count = 0;
	for (; imp->delayed_count > 0; imp->delayed_count--) {
		rte_pktmbuf_free(imp->delayed_ring[imp->delayed_head].frame);
		imp->delayed_head = (imp->delayed_head + 1) % IMPAIR_DELAY_MAX;
	}
}
