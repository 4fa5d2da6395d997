/* Batched AEAD behind one interface, with pluggable backends.
 *
 * A backend (OpenSSL EVP, intel-ipsec-mb direct API, DPDK cryptodev) is
 * chosen by name or by aead_backend_default(). A key context (struct
 * aead_key) binds one key to one backend. A burst call seals or opens many
 * operations at once, possibly under many keys and backends; input and
 * output are scatter-gather lists, so ciphertext can land directly in packet
 * buffers and plaintext in write buffers.
 *
 * Thread rules: backends are safe to use from several threads at once, but a
 * struct aead_key must be used by one thread at a time (it holds per-key
 * cipher state). No I/O happens here.
 */
#ifndef FTPS_CRYPTO_AEAD_H
#define FTPS_CRYPTO_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum aead_alg {
	AEAD_AES_128_GCM = 0,
	AEAD_AES_256_GCM,
	AEAD_CHACHA20_POLY1305,
	AEAD_ALG_COUNT,
};

#define AEAD_NONCE_LEN   12
#define AEAD_TAG_LEN     16
#define AEAD_MAX_KEY_LEN 32
/* Most segments one operation may have on each side. */
#define AEAD_MAX_SEGS 36

struct aead_backend;

/* One key bound to one backend. Allocate with aead_key_new(). */
struct aead_key {
	const struct aead_backend *backend;
	enum aead_alg alg;
	uint8_t key_len;
	uint8_t key[AEAD_MAX_KEY_LEN];
	void *priv; /* backend state */
};

/* One AEAD operation. src and dst have the same total length (dst may be the
 * same memory as src for in-place work). For seal, tag receives the 16-byte
 * tag; for open, tag holds the received tag. status is 0 on success,
 * AEAD_ERR_AUTH when the tag does not verify (dst then holds zeros), or
 * another negative AEAD_ERR_* value. */
struct aead_op {
	struct aead_key *key;
	uint8_t nonce[AEAD_NONCE_LEN];
	uint8_t tag[AEAD_TAG_LEN];
	const uint8_t *aad;
	uint32_t aad_len;
	uint16_t src_cnt, dst_cnt;
	const struct iovec *src;
	const struct iovec *dst;
	int status;
};

enum aead_err {
	AEAD_OK = 0,
	AEAD_ERR_AUTH = -1,    /* tag mismatch */
	AEAD_ERR_INVAL = -2,   /* bad arguments (lengths, segment counts) */
	AEAD_ERR_BACKEND = -3, /* the backend failed for another reason */
	AEAD_ERR_UNSUPPORTED = -4,
};

/* Backend registry. Names: "openssl", "ipsec-mb", "vaes-avx2", "cryptodev" (the PMD is
 * picked with aead_cryptodev_setup(), see aead_cryptodev.h). Returns NULL
 * when unknown or unavailable on this machine or build. */
const struct aead_backend *aead_backend_find(const char *name);
const char *aead_backend_name(const struct aead_backend *be);
bool aead_backend_supports(const struct aead_backend *be, enum aead_alg alg);
/* The fastest backend available for AES-GCM on this CPU: vaes-avx2 when the
 * CPU has VAES and VPCLMULQDQ but no AVX-512, else ipsec-mb when it has
 * AES-NI and PCLMULQDQ, otherwise OpenSSL. The environment variable
 * FTPS_AEAD_BACKEND, when set, overrides the choice by name. */
const struct aead_backend *aead_backend_default(void);
/* Names of every backend compiled in, NULL-terminated. */
const char *const *aead_backend_names(void);

size_t aead_key_len(enum aead_alg alg);
const char *aead_alg_name(enum aead_alg alg);

/* Bind key to backend; NULL on failure (unsupported algorithm, bad key
 * length, allocation or backend failure). Free with aead_key_free(). */
struct aead_key *aead_key_new(const struct aead_backend *be, enum aead_alg alg, const uint8_t *key,
                              size_t key_len);
/* Wipes the key material. NULL is allowed. */
void aead_key_free(struct aead_key *key);

/* Process n operations; each op's status says how it went. Returns the
 * number of operations that succeeded. Consecutive operations on the same
 * backend go to it as one burst. */
unsigned aead_seal_burst(struct aead_op *ops, unsigned n);
unsigned aead_open_burst(struct aead_op *ops, unsigned n);

/* Total bytes in an iovec list. */
size_t aead_iov_len(const struct iovec *v, unsigned cnt);
/* Zero every byte of an iovec list (after a failed open, so no
 * unauthenticated plaintext is left behind). */
void aead_iov_wipe(const struct iovec *v, unsigned cnt);

#endif
