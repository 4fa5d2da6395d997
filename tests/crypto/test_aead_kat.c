/* AEAD known answers for one backend (argv[1]): AES-128-GCM and AES-256-GCM
 * (GCM specification test cases 4 and 16), ChaCha20-Poly1305 (RFC 8439
 * 2.8.2); flat and scatter-gather; tag tampering; mixed bursts; random
 * sizes and segmentations checked against the OpenSSL backend. */
#include "check.h"
#include "crypto_test_util.h"

struct vec {
	enum aead_alg alg;
	const char *key, *iv, *aad, *pt, *ct, *tag;
};

#define GCM_PT                                                                                     \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                         \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
/* "Ladies and Gentlemen of the class of '99: If I could offer you only one
 * tip for the future, sunscreen would be it." */
#define SUNSCREEN                                                                                  \
	"4c616469657320616e642047656e746c656d656e206f662074686520636c6173"                         \
	"73206f66202739393a204966204920636f756c64206f6666657220796f75206f"                         \
	"6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"                         \
	"637265656e20776f756c642062652069742e"

static const struct vec vecs[] = {
    {AEAD_AES_128_GCM, "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", GCM_AAD,
     GCM_PT,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {AEAD_AES_256_GCM, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", GCM_AAD, GCM_PT,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {AEAD_CHACHA20_POLY1305, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
     "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7", SUNSCREEN,
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
     "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
     "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
     "3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691"},
};

struct decoded {
	uint8_t key[32], iv[12], aad[32], pt[128], ct[128], tag[16];
	size_t key_len, aad_len, len;
};

static void decode(const struct vec *v, struct decoded *d)
{
	d->key_len = unhex(v->key, d->key, sizeof(d->key));
	unhex(v->iv, d->iv, sizeof(d->iv));
	d->aad_len = unhex(v->aad, d->aad, sizeof(d->aad));
	d->len = unhex(v->pt, d->pt, sizeof(d->pt));
	unhex(v->ct, d->ct, sizeof(d->ct));
	unhex(v->tag, d->tag, sizeof(d->tag));
}

/* Split buf into segments of the given sizes (the last takes the rest). */
static unsigned split(uint8_t *buf, size_t len, const size_t *sizes, unsigned n, struct iovec *out)
{
	unsigned k = 0;
	size_t off = 0;

	for (unsigned i = 0; i < n && off < len; i++) {
		size_t take = i + 1 == n || sizes[i] > len - off ? len - off : sizes[i];

		out[k].iov_base = buf + off;
		out[k].iov_len = take;
		off += take;
		k++;
	}
	return k;
}

static void run_vec(const struct aead_backend *be, const struct vec *v)
{
	struct decoded d;
	uint8_t out[128], back[128];
	struct aead_key *key;

	decode(v, &d);
	if (!aead_backend_supports(be, v->alg)) {
		printf("  %s: not offered by this backend (connections use openssl)\n",
		       aead_alg_name(v->alg));
		return;
	}
	key = aead_key_new(be, v->alg, d.key, d.key_len);
	CHECK(key != NULL);
	if (key == NULL)
		return;

	/* Flat seal and open. */
	struct iovec s = {d.pt, d.len}, o = {out, d.len}, b = {back, d.len};
	struct aead_op op = {.key = key,
	                     .aad = d.aad,
	                     .aad_len = (uint32_t)d.aad_len,
	                     .src = &s,
	                     .src_cnt = 1,
	                     .dst = &o,
	                     .dst_cnt = 1};

	memcpy(op.nonce, d.iv, 12);
	CHECK_EQ(aead_seal_burst(&op, 1), 1);
	CHECK(memcmp(out, d.ct, d.len) == 0);
	CHECK(memcmp(op.tag, d.tag, 16) == 0);
	op.src = &o;
	op.dst = &b;
	CHECK_EQ(aead_open_burst(&op, 1), 1);
	CHECK(memcmp(back, d.pt, d.len) == 0);

	/* Scatter-gather with different cuts on each side. */
	static const size_t cut_a[] = {1, 15, 17, 3, 40};
	static const size_t cut_b[] = {33, 2, 7, 64};
	struct iovec sv[8], dv[8];
	unsigned sn = split(d.pt, d.len, cut_a, 5, sv);
	memset(out, 0, sizeof(out));
	unsigned dn = split(out, d.len, cut_b, 4, dv);
	struct aead_op sg = {.key = key,
	                     .aad = d.aad,
	                     .aad_len = (uint32_t)d.aad_len,
	                     .src = sv,
	                     .src_cnt = (uint16_t)sn,
	                     .dst = dv,
	                     .dst_cnt = (uint16_t)dn};

	memcpy(sg.nonce, d.iv, 12);
	CHECK_EQ(aead_seal_burst(&sg, 1), 1);
	CHECK(memcmp(out, d.ct, d.len) == 0);
	CHECK(memcmp(sg.tag, d.tag, 16) == 0);
	memset(back, 0, sizeof(back));
	sn = split(out, d.len, cut_b, 4, sv);
	dn = split(back, d.len, cut_a, 5, dv);
	sg.src = sv;
	sg.src_cnt = (uint16_t)sn;
	sg.dst = dv;
	sg.dst_cnt = (uint16_t)dn;
	CHECK_EQ(aead_open_burst(&sg, 1), 1);
	CHECK(memcmp(back, d.pt, d.len) == 0);

	/* A flipped tag bit fails and leaves no plaintext behind. */
	struct aead_op bad = op;
	bad.src = &o;
	bad.dst = &b;
	memset(back, 0xaa, sizeof(back));
	bad.tag[5] ^= 0x10;
	CHECK_EQ(aead_open_burst(&bad, 1), 0);
	CHECK_EQ(bad.status, AEAD_ERR_AUTH);
	int zero = 1;
	for (size_t i = 0; i < d.len; i++)
		zero &= back[i] == 0;
	CHECK(zero);
	/* A flipped ciphertext bit or AAD bit too. */
	out[7] ^= 1;
	struct aead_op bad2 = op;
	bad2.src = &o;
	bad2.dst = &b;
	CHECK_EQ(aead_open_burst(&bad2, 1), 0);
	CHECK_EQ(bad2.status, AEAD_ERR_AUTH);
	out[7] ^= 1;
	uint8_t aad2[32];
	memcpy(aad2, d.aad, d.aad_len);
	aad2[0] ^= 0x80;
	bad2 = op;
	bad2.src = &o;
	bad2.dst = &b;
	bad2.aad = aad2;
	CHECK_EQ(aead_open_burst(&bad2, 1), 0);
	aead_key_free(key);
	printf("  %s: known answers ok\n", aead_alg_name(v->alg));
}

/* Random lengths, segmentations and bursts: this backend seals, OpenSSL
 * opens, and the other way round. */
static void cross_check(const struct aead_backend *be, enum aead_alg alg)
{
	const struct aead_backend *ref = aead_backend_find("openssl");
	enum { N = 16, MAXLEN = 20000 };
	static uint8_t pt[N][MAXLEN], ct[N][MAXLEN], back[N][MAXLEN];
	struct iovec sv[N][4], dv[N][4];
	struct aead_op ops[N];
	uint8_t keyb[32], aad[13];
	uint32_t rnd = 12345;

	if (!aead_backend_supports(be, alg))
		return;
	for (size_t i = 0; i < sizeof(keyb); i++)
		keyb[i] = (uint8_t)(i * 7 + alg);
	struct aead_key *k = aead_key_new(be, alg, keyb, aead_key_len(alg));
	struct aead_key *kr = aead_key_new(ref, alg, keyb, aead_key_len(alg));
	CHECK(k != NULL && kr != NULL);
	if (k == NULL || kr == NULL)
		return;
	memset(aad, 0x5a, sizeof(aad));
	size_t lens[N];
	for (unsigned i = 0; i < N; i++) {
		rnd = rnd * 1103515245u + 12345u;
		lens[i] = (rnd >> 8) % MAXLEN;
		pattern_fill(pt[i], lens[i], i * 100000ULL, alg);
		size_t cuts[3] = {lens[i] / 3, 7, 0};
		unsigned sn = split(pt[i], lens[i], cuts, 3, sv[i]);
		size_t dcuts[2] = {lens[i] / 5 + 3, 9};
		unsigned dn = split(ct[i], lens[i], dcuts, 2, dv[i]);
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].key = (i % 3 == 0) ? kr : k; /* mixed backends in one burst */
		ops[i].aad = aad;
		ops[i].aad_len = sizeof(aad);
		ops[i].src = sv[i];
		ops[i].src_cnt = (uint16_t)sn;
		ops[i].dst = dv[i];
		ops[i].dst_cnt = (uint16_t)dn;
		ops[i].nonce[11] = (uint8_t)i;
	}
	CHECK_EQ(aead_seal_burst(ops, N), N);
	/* Open each with the other backend. */
	for (unsigned i = 0; i < N; i++) {
		ops[i].key = ops[i].key == kr ? k : kr;
		sv[i][0].iov_base = ct[i];
		sv[i][0].iov_len = lens[i];
		ops[i].src = sv[i];
		ops[i].src_cnt = lens[i] > 0 ? 1 : 0;
		dv[i][0].iov_base = back[i];
		dv[i][0].iov_len = lens[i];
		ops[i].dst = dv[i];
		ops[i].dst_cnt = lens[i] > 0 ? 1 : 0;
	}
	CHECK_EQ(aead_open_burst(ops, N), N);
	int same = 1;
	for (unsigned i = 0; i < N; i++)
		same &= memcmp(back[i], pt[i], lens[i]) == 0;
	CHECK(same);
	aead_key_free(k);
	aead_key_free(kr);
	printf("  %s: %d random ops cross-checked with openssl\n", aead_alg_name(alg), N);
}

/* Random cut sizes, mostly 1 to 40 bytes, one in sixteen 200 to 2000 (the
 * last segment takes the rest). */
static unsigned random_split(uint8_t *buf, size_t len, uint32_t *rnd, struct iovec *out,
                             unsigned max)
{
	size_t cuts[AEAD_MAX_SEGS];

	for (unsigned i = 0; i < max; i++) {
		*rnd = *rnd * 1103515245u + 12345u;
		cuts[i] = (*rnd >> 28) == 0 ? 200 + (*rnd >> 8) % 1800 : 1 + (*rnd >> 8) % 40;
	}
	return split(buf, len, cuts, max, out);
}

enum { SWEEP_MAX_SEGS = 30 };

/* Seal `in` into `out` through random cuts and check the result against
 * OpenSSL's flat one (ref_ct, ref's tag), then open `out` into `back` and
 * check that pt came back. One buffer for all three is in place. */
static void round_trip(struct aead_op *o, const struct aead_op *ref, const uint8_t *ref_ct,
                       const uint8_t *pt, uint8_t *in, uint8_t *out, uint8_t *back, size_t len,
                       uint32_t *rnd, int *failed_ops, int *mismatches)
{
	struct iovec sv[SWEEP_MAX_SEGS], dv[SWEEP_MAX_SEGS];

	o->src = sv;
	o->dst = dv;
	o->src_cnt = (uint16_t)random_split(in, len, rnd, sv, SWEEP_MAX_SEGS);
	o->dst_cnt = (uint16_t)random_split(out, len, rnd, dv, SWEEP_MAX_SEGS);
	*failed_ops += aead_seal_burst(o, 1) != 1;
	*mismatches += memcmp(out, ref_ct, len) != 0 || memcmp(o->tag, ref->tag, AEAD_TAG_LEN) != 0;
	o->src_cnt = (uint16_t)random_split(out, len, rnd, sv, SWEEP_MAX_SEGS);
	o->dst_cnt = (uint16_t)random_split(back, len, rnd, dv, SWEEP_MAX_SEGS);
	*failed_ops += aead_open_burst(o, 1) != 1;
	*mismatches += memcmp(back, pt, len) != 0;
	o->src = o->dst = NULL;
}

/* Every length from 0 to 600 bytes and 200 random ones up to 17000, both
 * sides cut into random segments, apart and in place: byte for byte the ciphertext and tag the
 * OpenSSL backend gives for the same input unsegmented, and back again. A
 * block carried wrongly across a segment boundary shows here. AAD lengths
 * vary too, but a cryptodev key holds a session per AAD length and only a
 * few of them, so there only TLS's 5 and 13 bytes. */
static void segment_sweep(const struct aead_backend *be, enum aead_alg alg)
{
	const struct aead_backend *ref = aead_backend_find("openssl");
	enum { SWEEP = 600, RANDOM = 200, MAXLEN = 17000, MAXSEGS = SWEEP_MAX_SEGS };
	static const uint32_t aad_lens[] = {5, 13, 0, 16, 17, 32, 40};
	size_t n_aad = strcmp(aead_backend_name(be), "cryptodev") == 0 ? 2 : 7;
	static uint8_t pt[MAXLEN], ref_ct[MAXLEN], ct[MAXLEN], back[MAXLEN];
	uint8_t keyb[32], aad[40];
	uint32_t rnd = 777u + (uint32_t)alg;
	int failed_ops = 0, mismatches = 0, forgeries = 0;

	if (!aead_backend_supports(be, alg))
		return;
	for (size_t i = 0; i < sizeof(keyb); i++)
		keyb[i] = (uint8_t)(i * 13 + 5);
	for (size_t i = 0; i < sizeof(aad); i++)
		aad[i] = (uint8_t)(0xa0 + i);
	struct aead_key *k = aead_key_new(be, alg, keyb, aead_key_len(alg));
	struct aead_key *kr = aead_key_new(ref, alg, keyb, aead_key_len(alg));
	CHECK(k != NULL && kr != NULL);
	if (k == NULL || kr == NULL)
		return;
	for (size_t step = 0; step <= SWEEP + RANDOM; step++) {
		size_t len = step;

		if (step > SWEEP) {
			rnd = rnd * 1103515245u + 12345u;
			len = (rnd >> 8) % (MAXLEN + 1);
		}
		struct iovec flat_in = {pt, len}, flat_out = {ref_ct, len};
		struct iovec sv[MAXSEGS], dv[MAXSEGS];
		struct aead_op r = {.key = kr,
		                    .aad = aad,
		                    .aad_len = aad_lens[step % n_aad],
		                    .src = &flat_in,
		                    .src_cnt = len > 0,
		                    .dst = &flat_out,
		                    .dst_cnt = len > 0};

		r.nonce[0] = (uint8_t)step;
		r.nonce[11] = (uint8_t)(step >> 8);
		pattern_fill(pt, len, len * 1000, alg);
		struct aead_op o = r;
		o.key = k;
		failed_ops += aead_seal_burst(&r, 1) != 1;
		round_trip(&o, &r, ref_ct, pt, pt, ct, back, len, &rnd, &failed_ops, &mismatches);
		/* In place, each side cut differently over the one buffer. */
		memcpy(back, pt, len);
		round_trip(&o, &r, ref_ct, pt, back, back, back, len, &rnd, &failed_ops,
		           &mismatches);
		o.src = sv;
		o.dst = dv;
		o.dst_cnt = (uint16_t)random_split(back, len, &rnd, dv, MAXSEGS);
		if (len > 0) {
			ct[len / 2] ^= 0x01;
			o.src_cnt = (uint16_t)random_split(ct, len, &rnd, sv, MAXSEGS);
			forgeries += aead_open_burst(&o, 1) != 0 || o.status != AEAD_ERR_AUTH;
			ct[len / 2] ^= 0x01;
		}
	}
	CHECK_EQ(failed_ops, 0);
	CHECK_EQ(mismatches, 0);
	CHECK_EQ(forgeries, 0);
	aead_key_free(k);
	aead_key_free(kr);
	printf("  %s: lengths 0-%d and %d up to %d in random segments match openssl\n",
	       aead_alg_name(alg), SWEEP, RANDOM, MAXLEN);
}

int main(int argc, char **argv)
{
	const struct aead_backend *be = test_backend(argc, argv);

	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		run_vec(be, &vecs[i]);
	for (int a = 0; a < AEAD_ALG_COUNT; a++)
		cross_check(be, (enum aead_alg)a);
	for (int a = 0; a < AEAD_ALG_COUNT; a++)
		segment_sweep(be, (enum aead_alg)a);
	/* Bad arguments are refused, not crashed on. */
	uint8_t key[16] = {0};
	CHECK(aead_key_new(be, AEAD_AES_128_GCM, key, 15) == NULL);
	struct aead_op op = {0};
	CHECK_EQ(aead_seal_burst(&op, 1), 0);
	CHECK_EQ(op.status, AEAD_ERR_INVAL);
	CHECK(aead_backend_find("no-such-backend") == NULL);
	CHECK(aead_backend_default() != NULL);
	return check_finish("aead-kat");
}
