/* The VAES GCM below the AEAD interface: its counter wraps modulo 2^32 as
 * GCM's inc32 does (no TLS record gets there, so only this test can see
 * it), and text fed one byte per call gives the bytes and tag of one call.
 * Skipped on a CPU without VAES. */
#include "check.h"
#include "gcm_vaes_avx2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static struct gcm_vaes_key key;

/* AES-ECB of nonce || counter (big-endian), by OpenSSL. */
static void reference_keystream(const uint8_t *raw, size_t key_len, const uint8_t nonce[12],
                                uint32_t first, unsigned blocks, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *c = key_len == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb();
	int n = 0;

	CHECK(ctx != NULL && EVP_EncryptInit_ex(ctx, c, NULL, raw, NULL) == 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	for (unsigned i = 0; i < blocks; i++) {
		uint8_t in[16];
		uint32_t ctr = first + i; /* wraps, as inc32 */

		memcpy(in, nonce, 12);
		in[12] = (uint8_t)(ctr >> 24);
		in[13] = (uint8_t)(ctr >> 16);
		in[14] = (uint8_t)(ctr >> 8);
		in[15] = (uint8_t)ctr;
		CHECK(EVP_EncryptUpdate(ctx, out + 16 * i, &n, in, 16) == 1 && n == 16);
	}
	EVP_CIPHER_CTX_free(ctx);
}

/* Start the counter at `first` and encrypt zeros: the output is the
 * keystream, block by block. */
static void counter_wrap(const uint8_t *raw, size_t key_len, uint32_t first, unsigned blocks)
{
	uint8_t nonce[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint8_t got[64 * 16], want[64 * 16], tag[16];
	struct gcm_vaes_state st;

	CHECK(blocks <= 64);
	CHECK_EQ(gcm_vaes_key_init(&key, raw, key_len), 0);
	gcm_vaes_start(&key, &st, nonce, NULL, 0);
	/* The state keeps the counter block byte-reflected: its first four
	 * bytes are the counter, little-endian. */
	memcpy(st.counter, &first, 4);
	memset(got, 0, sizeof(got));
	gcm_vaes_encrypt(&key, &st, got, got, 16 * blocks);
	gcm_vaes_finish(&key, &st, tag);
	reference_keystream(raw, key_len, nonce, first, blocks, want);
	CHECK(memcmp(got, want, 16 * blocks) == 0);
	printf("  AES-%zu: counter from 0x%08x over %u blocks wraps as inc32\n", key_len * 8, first,
	       blocks);
}

/* One call, one byte per call, 17 bytes per call: the same text and tag. */
static void piecewise(const uint8_t *raw, size_t key_len)
{
	enum { LEN = 1000 };
	static uint8_t pt[LEN], whole[LEN], bytes[LEN], odd[LEN];
	uint8_t nonce[12] = {9}, aad[13] = {7, 7, 7};
	uint8_t tag_whole[16], tag_bytes[16], tag_odd[16];
	struct gcm_vaes_state st;

	for (size_t i = 0; i < LEN; i++)
		pt[i] = (uint8_t)(i * 31 + 7);
	CHECK_EQ(gcm_vaes_key_init(&key, raw, key_len), 0);
	gcm_vaes_start(&key, &st, nonce, aad, sizeof(aad));
	gcm_vaes_encrypt(&key, &st, whole, pt, LEN);
	gcm_vaes_finish(&key, &st, tag_whole);

	gcm_vaes_start(&key, &st, nonce, aad, sizeof(aad));
	for (size_t i = 0; i < LEN; i++)
		gcm_vaes_encrypt(&key, &st, bytes + i, pt + i, 1);
	gcm_vaes_finish(&key, &st, tag_bytes);

	gcm_vaes_start(&key, &st, nonce, aad, sizeof(aad));
	for (size_t i = 0; i < LEN; i += 17)
		gcm_vaes_decrypt(&key, &st, odd + i, whole + i, LEN - i < 17 ? LEN - i : 17);
	gcm_vaes_finish(&key, &st, tag_odd);

	CHECK(memcmp(whole, bytes, LEN) == 0);
	CHECK(memcmp(tag_whole, tag_bytes, 16) == 0);
	CHECK(memcmp(odd, pt, LEN) == 0);
	CHECK(memcmp(tag_whole, tag_odd, 16) == 0);
	printf("  AES-%zu: one call, byte by byte and 17-byte pieces agree\n", key_len * 8);
}

int main(void)
{
	uint8_t raw[32];

	if (!gcm_vaes_cpu_supported()) {
		printf("this CPU lacks VAES or VPCLMULQDQ: skipped\n");
		return 77;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(0x40 + i);
	for (size_t key_len = 16; key_len <= 32; key_len += 16) {
		/* Through the 16-block loop, then one block at a time. */
		counter_wrap(raw, key_len, 0xfffffff0u, 40);
		counter_wrap(raw, key_len, 0xfffffffeu, 6);
		piecewise(raw, key_len);
	}
	return check_finish("gcm-vaes");
}
