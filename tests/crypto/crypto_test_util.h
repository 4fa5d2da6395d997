/* Shared helpers for the crypto tests: hex decoding, backend choice from
 * the command line, a deterministic data pattern. */
#ifndef FTPS_TEST_CRYPTO_UTIL_H
#define FTPS_TEST_CRYPTO_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "aead_cryptodev.h"

/* Decode hex, ignoring spaces, newlines and colons; returns the length. */
static inline size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s != '\0'; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap) {
			fprintf(stderr, "unhex: buffer too small\n");
			exit(2);
		}
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return n;
}

/* The backend named in argv[1] (default "openssl"); "cryptodev:<pmd>"
 * starts EAL with a private file prefix and no PCI or hugepages first. */
static inline const struct aead_backend *test_backend(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "openssl";
	const struct aead_backend *be;

	if (strncmp(name, "cryptodev:", 10) == 0) {
		if (aead_cryptodev_test_eal(name + 10) != 0) {
			fprintf(stderr, "cannot start cryptodev %s\n", name + 10);
			exit(1);
		}
		name = "cryptodev";
	}
	be = aead_backend_find(name);
	/* Only this backend depends on the CPU (VAES, VPCLMULQDQ): elsewhere
	 * its tests are skipped, not failed. */
	if (be == NULL && strcmp(name, "vaes-avx2") == 0) {
		printf("backend vaes-avx2: this CPU lacks VAES or VPCLMULQDQ, skipped\n");
		exit(77);
	}
	if (be == NULL) {
		fprintf(stderr, "backend %s not available\n", name);
		exit(1);
	}
	printf("backend: %s\n", aead_backend_name(be));
	return be;
}

/* Byte at stream offset off of a test flow (seed tells flows apart). */
static inline uint8_t pattern_byte(uint64_t off, uint32_t seed)
{
	uint64_t x = off * 0x9E3779B97F4A7C15ULL + seed;

	return (uint8_t)(x >> 56 ^ off);
}

static inline void pattern_fill(uint8_t *p, size_t len, uint64_t off, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(off + i, seed);
}

static inline int pattern_check(const uint8_t *p, size_t len, uint64_t off, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != pattern_byte(off + i, seed))
			return -1;
	}
	return 0;
}

#endif
