/* The seeded byte pattern of the test peer's pattern service: byte i of the
 * stream is block[i mod 65521], the block being the first 65521 bytes of
 * SplitMix64(seed) output, little endian.  A prime period keeps a chunk
 * shifted by whole blocks from matching.  tests/tcp/tcp_clients.py computes
 * the same. */
#ifndef FTPS_TEST_TCP_PATTERN_H
#define FTPS_TEST_TCP_PATTERN_H

#include <stdint.h>
#include <string.h>

#define TCP_PATTERN_PERIOD 65521u

struct tcp_pattern {
	uint8_t block[2 * TCP_PATTERN_PERIOD]; /* twice, so any slice is contiguous */
};

static inline void tcp_pattern_init(struct tcp_pattern *p, uint64_t seed)
{
	uint64_t state = seed;
	for (uint32_t i = 0; i < TCP_PATTERN_PERIOD; i += 8) {
		state += 0x9e3779b97f4a7c15ull;
		uint64_t z = state;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		for (uint32_t k = 0; k < 8 && i + k < TCP_PATTERN_PERIOD; k++)
			p->block[i + k] = (uint8_t)(z >> (8 * k));
	}
	memcpy(p->block + TCP_PATTERN_PERIOD, p->block, TCP_PATTERN_PERIOD);
}

/* Copies n bytes of the stream starting at offset. */
static inline void tcp_pattern_fill(const struct tcp_pattern *p, uint64_t offset, void *dst,
                                    uint32_t n)
{
	uint8_t *d = dst;
	while (n > 0) {
		uint32_t at = (uint32_t)(offset % TCP_PATTERN_PERIOD);
		uint32_t run = TCP_PATTERN_PERIOD - at;
		if (run > n)
			run = n;
		memcpy(d, p->block + at, run);
		d += run;
		offset += run;
		n -= run;
	}
}

#endif
