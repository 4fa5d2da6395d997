/* AES-GCM with 256-bit VAES and VPCLMULQDQ (two blocks per instruction).
 *
 * Why by hand: intel-ipsec-mb 1.3 (Debian 12) and OpenSSL 3.0 have VAES
 * code only for AVX-512, so on a CPU with VAES but no AVX-512 (AMD Zen 3)
 * both use 128-bit AES-NI and leave half of the AES and carry-less
 * multiply width unused. The lcore spends about half its cycles in AES-GCM.
 *
 * GHASH works on byte-reflected blocks with H multiplied by x once at key
 * set-up; then a carry-less product of two such values, folded twice by the
 * constant 0xc2..01 (the field polynomial, reflected), is their product in
 * GF(2^128) without any bit reversal. Sixteen blocks are hashed per loop
 * iteration against H^16..H^1 and reduced once. */
#include "gcm_vaes_avx2.h"

#include <immintrin.h>
#include <pthread.h>
#include <string.h>

#include <rte_cpuflags.h>

#define GCM_TARGET __attribute__((target("avx2,aes,pclmul,vaes,vpclmulqdq")))

/* The compiler's check of avx2 also asks the OS whether it saves the YMM
 * registers; DPDK's flags cover vaes and vpclmulqdq, which clang 14 (Debian
 * 12, the libFuzzer build) does not know in __builtin_cpu_supports. */
static bool cpu_has_vaes_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("aes") &&
	       __builtin_cpu_supports("pclmul") && rte_cpu_get_flag_enabled(RTE_CPUFLAG_VAES) > 0 &&
	       rte_cpu_get_flag_enabled(RTE_CPUFLAG_VPCLMULQDQ) > 0;
}

/* Asked once, as the other backends probe (pthread_once): DPDK's flags run
 * CPUID, which leaves a virtual machine for the hypervisor every time, and
 * every connection's key set-up asks. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool probed_ok;

static void probe(void)
{
	probed_ok = cpu_has_vaes_avx2();
}

bool gcm_vaes_cpu_supported(void)
{
	return pthread_once(&probe_once, probe) == 0 && probed_ok;
}

GCM_TARGET static inline __m128i byte_swap(__m128i x)
{
	return _mm_shuffle_epi8(
	    x, _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
}

GCM_TARGET static inline __m256i byte_swap_lanes(__m256i x)
{
	const __m256i mask = _mm256_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
	                                      15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	return _mm256_shuffle_epi8(x, mask);
}

/* ---- AES ---- */

GCM_TARGET static inline __m128i key_step(__m128i k, __m128i assist)
{
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	return _mm_xor_si128(k, assist);
}

/* The round constant must be an immediate, hence macros. */
#define NEXT_ROT(prev, last, rcon)                                                                 \
	key_step(prev, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(last, rcon), 0xff))
#define NEXT_SUB(prev, last)                                                                       \
	key_step(prev, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(last, 0), 0xaa))

GCM_TARGET static unsigned expand_key(__m128i rk[15], const uint8_t *raw, size_t key_len)
{
	rk[0] = _mm_loadu_si128((const __m128i *)raw);
	if (key_len == 16) {
		rk[1] = NEXT_ROT(rk[0], rk[0], 0x01);
		rk[2] = NEXT_ROT(rk[1], rk[1], 0x02);
		rk[3] = NEXT_ROT(rk[2], rk[2], 0x04);
		rk[4] = NEXT_ROT(rk[3], rk[3], 0x08);
		rk[5] = NEXT_ROT(rk[4], rk[4], 0x10);
		rk[6] = NEXT_ROT(rk[5], rk[5], 0x20);
		rk[7] = NEXT_ROT(rk[6], rk[6], 0x40);
		rk[8] = NEXT_ROT(rk[7], rk[7], 0x80);
		rk[9] = NEXT_ROT(rk[8], rk[8], 0x1b);
		rk[10] = NEXT_ROT(rk[9], rk[9], 0x36);
		return 10;
	}
	rk[1] = _mm_loadu_si128((const __m128i *)(raw + 16));
	rk[2] = NEXT_ROT(rk[0], rk[1], 0x01);
	rk[3] = NEXT_SUB(rk[1], rk[2]);
	rk[4] = NEXT_ROT(rk[2], rk[3], 0x02);
	rk[5] = NEXT_SUB(rk[3], rk[4]);
	rk[6] = NEXT_ROT(rk[4], rk[5], 0x04);
	rk[7] = NEXT_SUB(rk[5], rk[6]);
	rk[8] = NEXT_ROT(rk[6], rk[7], 0x08);
	rk[9] = NEXT_SUB(rk[7], rk[8]);
	rk[10] = NEXT_ROT(rk[8], rk[9], 0x10);
	rk[11] = NEXT_SUB(rk[9], rk[10]);
	rk[12] = NEXT_ROT(rk[10], rk[11], 0x20);
	rk[13] = NEXT_SUB(rk[11], rk[12]);
	rk[14] = NEXT_ROT(rk[12], rk[13], 0x40);
	return 14;
}

GCM_TARGET static inline __m128i round_key(const struct gcm_vaes_key *key, unsigned r)
{
	return _mm_load_si128((const __m128i *)key->round_keys[r]);
}

GCM_TARGET static inline __m128i aes_block(const struct gcm_vaes_key *key, __m128i b)
{
	b = _mm_xor_si128(b, round_key(key, 0));
	for (unsigned r = 1; r < key->rounds; r++)
		b = _mm_aesenc_si128(b, round_key(key, r));
	return _mm_aesenclast_si128(b, round_key(key, key->rounds));
}

/* Eight independent pairs of blocks keep both AES units busy across the
 * instruction's latency. */
GCM_TARGET static inline void aes_16_blocks(const struct gcm_vaes_key *key, __m256i b[8])
{
	__m256i k = _mm256_load_si256((const __m256i *)key->round_keys[0]);

#pragma GCC unroll 8
	for (int j = 0; j < 8; j++)
		b[j] = _mm256_xor_si256(b[j], k);
	for (unsigned r = 1; r < key->rounds; r++) {
		k = _mm256_load_si256((const __m256i *)key->round_keys[r]);
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++)
			b[j] = _mm256_aesenc_epi128(b[j], k);
	}
	k = _mm256_load_si256((const __m256i *)key->round_keys[key->rounds]);
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++)
		b[j] = _mm256_aesenclast_epi128(b[j], k);
}

/* ---- GHASH ---- */

/* (hi:mi:lo) / x^128 modulo the field polynomial, mi at bit 64. */
GCM_TARGET static inline __m128i gf_reduce(__m128i lo, __m128i mi, __m128i hi)
{
	const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ULL, 1);
	__m128i t = _mm_clmulepi64_si128(lo, poly, 0x10);

	mi = _mm_xor_si128(mi, _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t));
	t = _mm_clmulepi64_si128(mi, poly, 0x10);
	return _mm_xor_si128(hi, _mm_xor_si128(_mm_shuffle_epi32(mi, 0x4e), t));
}

GCM_TARGET static inline __m128i gf_mul(__m128i a, __m128i b)
{
	__m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
	__m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
	__m128i mi =
	    _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));

	return gf_reduce(lo, mi, hi);
}

GCM_TARGET static inline __m128i hash_key(const struct gcm_vaes_key *key)
{
	return _mm_load_si128((const __m128i *)key->hash_powers[GCM_VAES_BLOCKS_PER_LOOP - 1]);
}

/* One block as it is in memory. */
GCM_TARGET static inline __m128i ghash_block(const struct gcm_vaes_key *key, __m128i y,
                                             __m128i block)
{
	return gf_mul(_mm_xor_si128(y, byte_swap(block)), hash_key(key));
}

GCM_TARGET static inline __m128i fold_lanes(__m256i x)
{
	return _mm_xor_si128(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
}

/* Sixteen byte-reflected blocks, two per element; one reduction. */
GCM_TARGET static inline __m128i ghash_16_blocks(const struct gcm_vaes_key *key, __m128i y,
                                                 const __m256i d[8])
{
	__m256i lo = _mm256_setzero_si256(), mi = lo, hi = lo;

#pragma GCC unroll 8
	for (int j = 0; j < 8; j++) {
		__m256i h = _mm256_load_si256((const __m256i *)key->hash_powers[2 * j]);
		__m256i hk = _mm256_load_si256((const __m256i *)key->hash_karatsuba[2 * j]);
		__m256i x = d[j];

		if (j == 0)
			x = _mm256_xor_si256(x,
			                     _mm256_inserti128_si256(_mm256_setzero_si256(), y, 0));
		lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128(x, h, 0x00));
		hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128(x, h, 0x11));
		x = _mm256_xor_si256(x, _mm256_shuffle_epi32(x, 0x4e));
		mi = _mm256_xor_si256(mi, _mm256_clmulepi64_epi128(x, hk, 0x00));
	}
	__m128i lo1 = fold_lanes(lo), hi1 = fold_lanes(hi);

	return gf_reduce(lo1, _mm_xor_si128(fold_lanes(mi), _mm_xor_si128(lo1, hi1)), hi1);
}

/* ---- set-up ---- */

GCM_TARGET int gcm_vaes_key_init(struct gcm_vaes_key *key, const uint8_t *raw, size_t key_len)
{
	__m128i rk[15], h, power[GCM_VAES_BLOCKS_PER_LOOP + 1];
	uint8_t hb[16];
	uint64_t hi = 0, lo = 0, carry;

	if (key_len != 16 && key_len != 32)
		return -1;
	key->rounds = expand_key(rk, raw, key_len);
	for (unsigned r = 0; r <= key->rounds; r++) {
		_mm_store_si128((__m128i *)key->round_keys[r], rk[r]);
		_mm_store_si128((__m128i *)(key->round_keys[r] + 16), rk[r]);
	}
	/* H = E(K, 0), read as a big-endian number, times x. */
	_mm_storeu_si128((__m128i *)hb, aes_block(key, _mm_setzero_si128()));
	for (int i = 0; i < 8; i++) {
		hi = hi << 8 | hb[i];
		lo = lo << 8 | hb[8 + i];
	}
	/* Without a branch: H is secret. */
	carry = 0 - (hi >> 63);
	hi = (hi << 1 | lo >> 63) ^ (0xc200000000000000ULL & carry);
	lo = (lo << 1) ^ (1 & carry);
	h = _mm_set_epi64x((long long)hi, (long long)lo);
	power[1] = h;
	for (int i = 2; i <= GCM_VAES_BLOCKS_PER_LOOP; i++)
		power[i] = gf_mul(power[i - 1], h);
	for (int i = 0; i < GCM_VAES_BLOCKS_PER_LOOP; i++) {
		__m128i p = power[GCM_VAES_BLOCKS_PER_LOOP - i];

		_mm_store_si128((__m128i *)key->hash_powers[i], p);
		_mm_store_si128((__m128i *)key->hash_karatsuba[i],
		                _mm_xor_si128(p, _mm_shuffle_epi32(p, 0x4e)));
	}
	/* The raw key is rk[0]; a plain memset here would be optimised away. */
	explicit_bzero(rk, sizeof(rk));
	explicit_bzero(power, sizeof(power));
	explicit_bzero(hb, sizeof(hb));
	return 0;
}

GCM_TARGET void gcm_vaes_start(const struct gcm_vaes_key *key, struct gcm_vaes_state *st,
                               const uint8_t nonce[12], const uint8_t *aad, size_t aad_len)
{
	uint8_t block[16];
	__m128i y = _mm_setzero_si128();

	memset(st, 0, sizeof(*st));
	memcpy(block, nonce, 12);
	block[12] = block[13] = block[14] = 0;
	block[15] = 1;
	_mm_store_si128((__m128i *)st->tag_mask,
	                aes_block(key, _mm_loadu_si128((const __m128i *)block)));
	block[15] = 2;
	_mm_store_si128((__m128i *)st->counter, byte_swap(_mm_loadu_si128((const __m128i *)block)));
	st->aad_len = aad_len;
	for (; aad_len >= 16; aad += 16, aad_len -= 16)
		y = ghash_block(key, y, _mm_loadu_si128((const __m128i *)aad));
	if (aad_len > 0) {
		memset(block, 0, sizeof(block));
		memcpy(block, aad, aad_len);
		y = ghash_block(key, y, _mm_loadu_si128((const __m128i *)block));
	}
	_mm_store_si128((__m128i *)st->ghash, y);
}

/* ---- the text ---- */

GCM_TARGET static void gcm_crypt(const struct gcm_vaes_key *key, struct gcm_vaes_state *st,
                                 uint8_t *out, const uint8_t *in, size_t len, bool encrypt)
{
	const __m128i one = _mm_set_epi32(0, 0, 0, 1);
	__m128i y = _mm_load_si128((const __m128i *)st->ghash);
	__m128i ctr = _mm_load_si128((const __m128i *)st->counter);

	st->text_len += len;
	/* Complete the block an earlier piece ended in. */
	while (st->partial != 0 && len > 0) {
		uint8_t x = *in++;
		uint8_t o = x ^ st->keystream[st->partial];

		st->ciphertext[st->partial] = encrypt ? o : x;
		*out++ = o;
		len--;
		if (++st->partial == 16) {
			y = ghash_block(key, y, _mm_load_si128((const __m128i *)st->ciphertext));
			st->partial = 0;
		}
	}
	if (len >= 16 * GCM_VAES_BLOCKS_PER_LOOP) {
		const __m256i two = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
		__m256i pair = _mm256_add_epi32(_mm256_broadcastsi128_si256(ctr),
		                                _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0));

		do {
			__m256i b[8], x[8];

#pragma GCC unroll 8
			for (int j = 0; j < 8; j++) {
				b[j] = byte_swap_lanes(pair);
				pair = _mm256_add_epi32(pair, two);
				x[j] = _mm256_loadu_si256((const __m256i *)(in + 32 * j));
			}
			aes_16_blocks(key, b);
#pragma GCC unroll 8
			for (int j = 0; j < 8; j++) {
				b[j] = _mm256_xor_si256(b[j], x[j]);
				_mm256_storeu_si256((__m256i *)(out + 32 * j), b[j]);
				x[j] = byte_swap_lanes(encrypt ? b[j] : x[j]);
			}
			y = ghash_16_blocks(key, y, x);
			in += 16 * GCM_VAES_BLOCKS_PER_LOOP;
			out += 16 * GCM_VAES_BLOCKS_PER_LOOP;
			len -= 16 * GCM_VAES_BLOCKS_PER_LOOP;
		} while (len >= 16 * GCM_VAES_BLOCKS_PER_LOOP);
		ctr = _mm256_castsi256_si128(pair);
	}
	for (; len >= 16; in += 16, out += 16, len -= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)in);
		__m128i o = _mm_xor_si128(x, aes_block(key, byte_swap(ctr)));

		ctr = _mm_add_epi32(ctr, one);
		_mm_storeu_si128((__m128i *)out, o);
		y = ghash_block(key, y, encrypt ? o : x);
	}
	if (len > 0) {
		_mm_store_si128((__m128i *)st->keystream, aes_block(key, byte_swap(ctr)));
		ctr = _mm_add_epi32(ctr, one);
		for (size_t i = 0; i < len; i++) {
			uint8_t x = in[i];
			uint8_t o = x ^ st->keystream[i];

			st->ciphertext[i] = encrypt ? o : x;
			out[i] = o;
		}
		st->partial = (unsigned)len;
	}
	_mm_store_si128((__m128i *)st->ghash, y);
	_mm_store_si128((__m128i *)st->counter, ctr);
}

void gcm_vaes_encrypt(const struct gcm_vaes_key *key, struct gcm_vaes_state *st, uint8_t *out,
                      const uint8_t *in, size_t len)
{
	gcm_crypt(key, st, out, in, len, true);
}

void gcm_vaes_decrypt(const struct gcm_vaes_key *key, struct gcm_vaes_state *st, uint8_t *out,
                      const uint8_t *in, size_t len)
{
	gcm_crypt(key, st, out, in, len, false);
}

GCM_TARGET void gcm_vaes_finish(const struct gcm_vaes_key *key, struct gcm_vaes_state *st,
                                uint8_t tag[16])
{
	__m128i y = _mm_load_si128((const __m128i *)st->ghash);
	__m128i lengths;

	if (st->partial != 0) {
		memset(st->ciphertext + st->partial, 0, 16 - st->partial);
		y = ghash_block(key, y, _mm_load_si128((const __m128i *)st->ciphertext));
		st->partial = 0;
	}
	/* The length block, already in byte-reflected order. */
	lengths = _mm_set_epi64x((long long)(st->aad_len * 8), (long long)(st->text_len * 8));
	y = gf_mul(_mm_xor_si128(y, lengths), hash_key(key));
	_mm_storeu_si128(
	    (__m128i *)tag,
	    _mm_xor_si128(byte_swap(y), _mm_load_si128((const __m128i *)st->tag_mask)));
	/* E(K, J0) and keystream are secret; the state is done with. */
	explicit_bzero(st, sizeof(*st));
}
