/* Deterministic file content for uploads, so a download can be checked
 * against what was stored without keeping the bytes: a 64 KiB block drawn
 * from a seeded generator keyed by (seed, file name), with the block index
 * added to every byte so reordered or repeated blocks change the hash. */
#ifndef LG_PATTERN_H
#define LG_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define LG_PATTERN_BLOCK 65536u

struct lg_pattern {
	uint8_t block[LG_PATTERN_BLOCK];
};

void lg_pattern_init(struct lg_pattern *p, uint64_t seed, const char *name);
/* Writes the bytes at [offset, offset + len) of the pattern into out. */
void lg_pattern_fill(const struct lg_pattern *p, uint64_t offset, uint8_t *out, size_t len);
/* SHA-256 of the first size bytes; returns 0, or -1 if OpenSSL failed. */
int lg_pattern_sha256(const struct lg_pattern *p, uint64_t size, uint8_t out[32]);

#endif
