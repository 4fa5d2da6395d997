/* AES-GCM (128- and 256-bit keys) on 256-bit VAES and VPCLMULQDQ without
 * AVX-512, for CPUs such as AMD Zen 3 where intel-ipsec-mb 1.3 only has
 * 128-bit AES-NI code. Streaming: start, any number of encrypt or decrypt
 * calls on consecutive pieces of the text, finish. Internal to crypto/. */
#ifndef FTPS_CRYPTO_GCM_VAES_AVX2_H
#define FTPS_CRYPTO_GCM_VAES_AVX2_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GCM_VAES_BLOCKS_PER_LOOP 16

struct gcm_vaes_key {
	/* Each round key twice, once per 128-bit lane. */
	alignas(32) uint8_t round_keys[15][32];
	/* H^16 .. H^1, byte-reflected and multiplied by x, in the order the
	 * blocks of one loop iteration meet them. */
	alignas(32) uint8_t hash_powers[GCM_VAES_BLOCKS_PER_LOOP][16];
	/* The same powers' high and low halves XORed, in both halves
	 * (Karatsuba: three carry-less multiplies per block, not four). */
	alignas(32) uint8_t hash_karatsuba[GCM_VAES_BLOCKS_PER_LOOP][16];
	unsigned rounds;
};

struct gcm_vaes_state {
	alignas(16) uint8_t ghash[16];      /* running hash, byte-reflected */
	alignas(16) uint8_t counter[16];    /* next counter block, byte-reflected */
	alignas(16) uint8_t tag_mask[16];   /* E(K, J0) */
	alignas(16) uint8_t keystream[16];  /* of the block a piece ended in */
	alignas(16) uint8_t ciphertext[16]; /* that block's ciphertext so far */
	unsigned partial;                   /* bytes of that block already used, 0..15 */
	uint64_t aad_len, text_len;
};

/* True when this CPU (and OS) runs the code: AVX2, VAES, VPCLMULQDQ. */
bool gcm_vaes_cpu_supported(void);

/* key_len 16 or 32; -1 otherwise. Only call when gcm_vaes_cpu_supported(). */
int gcm_vaes_key_init(struct gcm_vaes_key *key, const uint8_t *raw, size_t key_len);

void gcm_vaes_start(const struct gcm_vaes_key *key, struct gcm_vaes_state *st,
                    const uint8_t nonce[12], const uint8_t *aad, size_t aad_len);
/* out may equal in; a piece may end mid-block. One message stays under
 * GCM's 2^36 - 32 bytes (a TLS record is at most 2^14 + 256). */
void gcm_vaes_encrypt(const struct gcm_vaes_key *key, struct gcm_vaes_state *st, uint8_t *out,
                      const uint8_t *in, size_t len);
void gcm_vaes_decrypt(const struct gcm_vaes_key *key, struct gcm_vaes_state *st, uint8_t *out,
                      const uint8_t *in, size_t len);
/* Also wipes *st. */
void gcm_vaes_finish(const struct gcm_vaes_key *key, struct gcm_vaes_state *st, uint8_t tag[16]);

#endif
