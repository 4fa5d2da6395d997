#include "lg_pattern.h"

#include <immintrin.h>
#include <openssl/evp.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void lg_pattern_init(struct lg_pattern *p, uint64_t seed, const char *name)
{
	uint64_t key = 0xcbf29ce484222325ull ^ seed; /* FNV-1a over the name */
	for (const unsigned char *c = (const unsigned char *)name; *c != '\0'; c++)
		key = (key ^ *c) * 0x100000001b3ull;
	for (size_t i = 0; i < LG_PATTERN_BLOCK; i += 8) {
		uint64_t v = splitmix64(&key);
		memcpy(p->block + i, &v, 8);
	}
}

/* dst[i] = src[i] + add (mod 256) for every byte, eight lanes at a time in
 * a 64-bit word (SWAR): the low 7 bits of each lane are added without
 * carrying into the next lane, then each lane's top bit is set by XOR.
 * The byte loop was a fifth of the DPDK loadgen's cycles on uploads. */
static void add_bytes(uint8_t *dst, const uint8_t *src, size_t n, uint8_t add)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, high = 0x8080808080808080ull;
	const uint64_t a = 0x0101010101010101ull * add;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, src + i, 8);
		uint64_t sum = ((x & low7) + (a & low7)) ^ ((x ^ a) & high);
		memcpy(dst + i, &sum, 8);
	}
	for (; i < n; i++)
		dst[i] = (uint8_t)(src[i] + add);
}

/* The same, 32 lanes at a time: the SWAR loop was still 16% of the DPDK
 * loadgen's cycles during an upload (perf, 2026-11-29), as much as half
 * its AES-GCM. */
__attribute__((target("avx2"))) static void add_bytes_avx2(uint8_t *dst, const uint8_t *src,
                                                           size_t n, uint8_t add)
{
	const __m256i a = _mm256_set1_epi8((char)add);
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(src + i));
		_mm256_storeu_si256((__m256i *)(dst + i), _mm256_add_epi8(x, a));
	}
	add_bytes(dst + i, src + i, n - i, add);
}

void lg_pattern_fill(const struct lg_pattern *p, uint64_t offset, uint8_t *out, size_t len)
{
	static int have_avx2 = -1;
	if (have_avx2 < 0)
		have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	while (len > 0) {
		size_t in_block = (size_t)(offset % LG_PATTERN_BLOCK);
		size_t n = LG_PATTERN_BLOCK - in_block;
		if (n > len)
			n = len;
		uint8_t add = (uint8_t)(offset / LG_PATTERN_BLOCK);
		if (add == 0)
			memcpy(out, p->block + in_block, n);
		else if (have_avx2)
			add_bytes_avx2(out, p->block + in_block, n, add);
		else
			add_bytes(out, p->block + in_block, n, add);
		out += n;
		offset += n;
		len -= n;
	}
}

int lg_pattern_sha256(const struct lg_pattern *p, uint64_t size, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL)
		return -1;
	int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	uint8_t buf[LG_PATTERN_BLOCK];
	for (uint64_t off = 0; ok && off < size;) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		lg_pattern_fill(p, off, buf, n);
		ok = EVP_DigestUpdate(md, buf, n);
		off += n;
	}
	unsigned int len = 0;
	if (ok)
		ok = EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	return ok && len == 32 ? 0 : -1;
}
