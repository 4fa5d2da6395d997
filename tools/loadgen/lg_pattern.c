#include "lg_pattern.h"

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

void lg_pattern_fill(const struct lg_pattern *p, uint64_t offset, uint8_t *out, size_t len)
{
	while (len > 0) {
		size_t in_block = (size_t)(offset % LG_PATTERN_BLOCK);
		size_t n = LG_PATTERN_BLOCK - in_block;
		if (n > len)
			n = len;
		uint8_t add = (uint8_t)(offset / LG_PATTERN_BLOCK);
		const uint8_t *src = p->block + in_block;
		for (size_t i = 0; i < n; i++)
			out[i] = (uint8_t)(src[i] + add);
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
