/* A seeded, deterministic fault injector at the port boundary, one per
 * direction per lcore.  The decision for the n-th frame depends only on the
 * seed and n, so the same seed and the same input give the same faults. */
#ifndef FTPS_IMPAIR_H
#define FTPS_IMPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

/* Frames held back for reordering, or for want of room in a call's output,
 * at once per direction. */
#define IMPAIR_HOLD_MAX 512
/* Frames held by delay_us at once per direction: what a path of that delay
 * holds in flight (8192 frames of 9 KB: 73 MB, 3.7 GB/s over 20 ms; of
 * 1500 bytes: 12 MB, 1.2 GB/s over 10 ms).  Beyond it a frame goes out
 * undelayed; the held frames' mbufs come out of the port's pool. */
#define IMPAIR_DELAY_MAX          8192
#define IMPAIR_REORDER_TIMEOUT_US 2000

struct impair_config {
	double loss;                /* probability a frame is dropped */
	double duplicate;           /* probability a frame is sent twice */
	double reorder;             /* probability a frame is held back */
	unsigned int reorder_depth; /* frames that overtake a held one */
	double corrupt;             /* probability one bit of a frame is flipped */
	unsigned int delay_us;      /* fixed delay added to every frame */
	uint64_t seed;
};

struct impair_held {
	struct rte_mbuf *frame;
	uint64_t release_tsc;   /* delay: not before this time */
	uint64_t release_after; /* reorder: once this many frames have passed */
	uint64_t give_up_tsc;   /* reorder: released anyway when traffic stops */
};

struct impair {
	bool enabled;
	struct impair_config config;
	uint64_t rng_state;
	uint64_t frames_seen;
	uint64_t tsc_hz;
	struct rte_mempool *pool; /* for copies of duplicated or corrupted frames */
	unsigned int held_count;
	/* No held frame is due before this time or this many frames seen
	 * (impair_release skips the scan until then). */
	uint64_t next_due_tsc, next_due_frames;
	struct impair_held held[IMPAIR_HOLD_MAX];
	/* Frames held by the delay alone, in the order they are due (each is
	 * due delay_us after it came): a ring, so a path of milliseconds,
	 * thousands of frames, costs a look at its head per poll. */
	unsigned int delayed_head, delayed_count;
	struct impair_delayed {
		struct rte_mbuf *frame;
		uint64_t release_tsc;
	} delayed_ring[IMPAIR_DELAY_MAX];
	/* Counters, indices into the owner's counter array. */
	uint64_t *lost, *duplicated, *reordered, *corrupted, *delayed;
};

/* Parses "loss=0.02,reorder=0.01,depth=3,dup=0.005,corrupt=0.001,delay_us=0"
 * into config; returns NULL or a message naming the bad item. */
const char *impair_parse(const char *spec, struct impair_config *config);

void impair_init(struct impair *imp, const struct impair_config *config, uint64_t stream,
                 struct rte_mempool *pool, uint64_t tsc_hz);

/* Passes frames through the fault stage.  Takes ownership of in[0..count);
 * writes at most out_max frames to out and returns how many.  Frames that
 * do not fit are held and released by later calls or impair_release(). */
uint16_t impair_apply(struct impair *imp, struct rte_mbuf **in, uint16_t count,
                      struct rte_mbuf **out, uint16_t out_max, uint64_t now_tsc);

/* Frames held now, for reordering or delay. */
static inline unsigned int impair_held_count(const struct impair *imp)
{
	return imp->held_count + imp->delayed_count;
}

/* Releases held frames that are due (or all, when force is set). */
uint16_t impair_release(struct impair *imp, struct rte_mbuf **out, uint16_t out_max,
                        uint64_t now_tsc, bool force);

void impair_free_held(struct impair *imp);

#endif
