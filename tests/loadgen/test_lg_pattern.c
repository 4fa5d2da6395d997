/* The upload pattern is deterministic, position-dependent and hashes the
 * same however it is cut into pieces; percentiles use nearest rank. */
#include "check.h"
#include "lg_pattern.h"
#include "lg_stats.h"

#include <openssl/evp.h>
#include <string.h>

static uint8_t whole[300000], pieces[300000];

int main(void)
{
	static struct lg_pattern a, b, c;
	lg_pattern_init(&a, 1, "lg-0-0.bin");
	lg_pattern_init(&b, 1, "lg-0-0.bin");
	lg_pattern_init(&c, 1, "lg-0-1.bin");
	CHECK(memcmp(a.block, b.block, sizeof(a.block)) == 0);
	CHECK(memcmp(a.block, c.block, sizeof(a.block)) != 0);
	lg_pattern_init(&c, 2, "lg-0-0.bin");
	CHECK(memcmp(a.block, c.block, sizeof(a.block)) != 0);

	/* Cut at odd places, including across 64 KiB blocks. */
	lg_pattern_fill(&a, 0, whole, sizeof(whole));
	size_t cuts[] = {0, 1, 4095, 65535, 65537, 131072, 200001, sizeof(pieces)};
	for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++)
		lg_pattern_fill(&a, cuts[i], pieces + cuts[i], cuts[i + 1] - cuts[i]);
	CHECK(memcmp(whole, pieces, sizeof(whole)) == 0);
	/* Block 1 is block 0 shifted by one, so a repeated block is caught. */
	CHECK(memcmp(whole, whole + LG_PATTERN_BLOCK, LG_PATTERN_BLOCK) != 0);
	CHECK_EQ((uint8_t)(whole[10] + 1), whole[LG_PATTERN_BLOCK + 10]);

	/* Every byte of block k is block 0's byte plus k (mod 256), whatever
	 * the alignment of the piece; k >= 256 wraps. */
	static uint8_t blk[LG_PATTERN_BLOCK];
	const uint64_t ks[] = {1, 2, 127, 128, 129, 255, 256, 300};
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		size_t skew = i * 3; /* unaligned starts and odd lengths too */
		uint64_t base = ks[i] * LG_PATTERN_BLOCK;
		lg_pattern_fill(&a, base + skew, blk, LG_PATTERN_BLOCK - skew - i);
		int same = 1;
		for (size_t j = 0; j < LG_PATTERN_BLOCK - skew - i; j++)
			same &= blk[j] == (uint8_t)(a.block[j + skew] + ks[i]);
		CHECK(same);
	}

	uint8_t h1[32], h2[32];
	unsigned int len = 0;
	CHECK_EQ(lg_pattern_sha256(&a, sizeof(whole), h1), 0);
	CHECK(EVP_Digest(whole, sizeof(whole), h2, &len, EVP_sha256(), NULL) == 1);
	CHECK_EQ(len, 32);
	CHECK(memcmp(h1, h2, 32) == 0);
	CHECK_EQ(lg_pattern_sha256(&a, sizeof(whole) - 1, h2), 0);
	CHECK(memcmp(h1, h2, 32) != 0);

	struct lg_hist h = {0};
	CHECK_EQ(lg_hist_percentile(&h, 50), 0);
	for (int i = 100; i >= 1; i--)
		lg_hist_add(&h, i * 1e-6); /* 1..100 us, added in reverse */
	CHECK_EQ(h.n, 100);
	CHECK_EQ(lg_hist_percentile(&h, 50), 50);
	CHECK_EQ(lg_hist_percentile(&h, 90), 90);
	CHECK_EQ(lg_hist_percentile(&h, 99), 99);
	CHECK_EQ(lg_hist_percentile(&h, 100), 100);
	CHECK_EQ(lg_hist_percentile(&h, 0), 1);
	lg_hist_add(&h, -1.0); /* clock oddities clamp to 0, never wrap */
	CHECK_EQ(lg_hist_percentile(&h, 0), 0);
	lg_hist_free(&h);
	CHECK(strcmp(lg_error_name(LG_ERR_CONTENT), "content") == 0);
	CHECK(strcmp(lg_error_name(LG_ERR_COUNT), "unknown") == 0);
	return check_finish("lg-pattern");
}
