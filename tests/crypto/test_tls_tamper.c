/* Tamper and edge tests on one backend (argv[1]): every altered record
 * gives its defined error and never plaintext; sequence wrap, record limits,
 * KeyUpdate inside a burst, padding, alerts, post-handshake messages. */
#include "check.h"
#include "crypto_test_util.h"
#include "tls_record.h"

static const struct aead_backend *be;

/* Two ends with mirrored keys: a seals what b opens. */
static void make_pair(struct tls_conn *a, struct tls_conn *b, uint16_t version, uint16_t suite)
{
	struct tls_conn_keys ka, kb;
	const struct tls_suite *s = tls_suite_find(version, suite);

	memset(&ka, 0, sizeof(ka));
	ka.version = version;
	ka.suite = suite;
	ka.is_server = 1;
	ka.secret_len = s->hash_len;
	ka.key_len = s->key_len;
	ka.iv_len = s->fixed_iv_len;
	for (int i = 0; i < 48; i++) {
		ka.tx_secret[i] = (uint8_t)(i + 1);
		ka.rx_secret[i] = (uint8_t)(200 - i);
	}
	for (int i = 0; i < 32; i++) {
		ka.tx_key[i] = (uint8_t)(i * 3);
		ka.rx_key[i] = (uint8_t)(i * 5 + 1);
	}
	for (int i = 0; i < 12; i++) {
		ka.tx_iv[i] = (uint8_t)(i + 0x40);
		ka.rx_iv[i] = (uint8_t)(i + 0x80);
	}
	kb = ka;
	kb.is_server = 0;
	memcpy(kb.tx_secret, ka.rx_secret, 48);
	memcpy(kb.rx_secret, ka.tx_secret, 48);
	memcpy(kb.tx_key, ka.rx_key, 32);
	memcpy(kb.rx_key, ka.tx_key, 32);
	memcpy(kb.tx_iv, ka.rx_iv, 12);
	memcpy(kb.rx_iv, ka.tx_iv, 12);
	CHECK_EQ(tls_conn_init(a, &ka, be), TLS_OK);
	CHECK_EQ(tls_conn_init(b, &kb, be), TLS_OK);
}

#define PLAIN_LEN 1000
static uint8_t plain[TLS_MAX_PLAINTEXT + 512];

/* True when out[0..len) holds any 16-byte run of the plaintext pattern. */
static bool leaks_plaintext(const uint8_t *out, size_t len)
{
	for (size_t i = 0; i + 16 <= len; i++) {
		for (size_t k = 0; k + 16 <= PLAIN_LEN; k += 16) {
			if (memcmp(out + i, plain + k, 16) == 0)
				return true;
		}
	}
	return false;
}

/* Open rec[0..len) on a fresh receiver and expect failure without
 * plaintext. Returns the status. */
static int open_fresh(uint16_t version, uint16_t suite, const uint8_t *rec, size_t len)
{
	struct tls_conn a, b;
	static uint8_t out[TLS_MAX_OPEN_RECORD];
	size_t consumed, plain_len = 12345;
	int rc;

	make_pair(&a, &b, version, suite);
	memset(out, 0xee, sizeof(out));
	rc = tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &plain_len);
	CHECK(rc < 0);
	CHECK_EQ(plain_len, 0);
	CHECK(!leaks_plaintext(out, sizeof(out)));
	tls_conn_fini(&a);
	tls_conn_fini(&b);
	return rc;
}

static void tamper(uint16_t version, uint16_t suite)
{
	struct tls_conn a, b;
	uint8_t rec[2048], bad[2048];
	size_t len, consumed, pl;
	unsigned header_mac = 0, header_other = 0;

	make_pair(&a, &b, version, suite);
	CHECK_EQ(tls_seal_buf(&a, plain, PLAIN_LEN, rec, sizeof(rec), &len), TLS_OK);
	CHECK_EQ(len, tls_sealed_len(&a, PLAIN_LEN));
	/* Sanity: the untouched record opens. */
	uint8_t out[2048];
	CHECK_EQ(tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &pl), TLS_OK);
	CHECK_EQ(pl, PLAIN_LEN);
	CHECK(memcmp(out, plain, PLAIN_LEN) == 0);
	tls_conn_fini(&a);
	tls_conn_fini(&b);

	/* Every bit of the header. */
	for (size_t bit = 0; bit < TLS_HEADER_LEN * 8; bit++) {
		memcpy(bad, rec, len);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = open_fresh(version, suite, bad, len);
		if (rc == TLS_ERR_BAD_RECORD_MAC)
			header_mac++;
		else
			CHECK(rc == TLS_ERR_UNEXPECTED || rc == TLS_ERR_DECODE ||
			      rc == TLS_ERR_RECORD_OVERFLOW || rc == TLS_ERR_NEED_MORE);
		header_other += rc != TLS_ERR_BAD_RECORD_MAC;
	}
	/* Ciphertext bits (explicit nonce included for TLS 1.2 GCM) and
	 * tag bits. */
	size_t positions[] = {5, 6, 13, 100, len / 2, len - 17, len - 16, len - 9, len - 1};
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
		for (int bitn = 0; bitn < 8; bitn += 3) {
			memcpy(bad, rec, len);
			bad[positions[i]] ^= (uint8_t)(1u << bitn);
			CHECK_EQ(open_fresh(version, suite, bad, len), TLS_ERR_BAD_RECORD_MAC);
		}
	}
	/* Truncated: incomplete record, and a shortened length field. */
	CHECK_EQ(open_fresh(version, suite, rec, len - 1), TLS_ERR_NEED_MORE);
	CHECK_EQ(open_fresh(version, suite, rec, 3), TLS_ERR_NEED_MORE);
	memcpy(bad, rec, len);
	bad[4] = (uint8_t)(bad[4] - 16);
	bad[3] = (uint8_t)(((len - 5 - 16) >> 8));
	bad[4] = (uint8_t)(len - 5 - 16);
	CHECK_EQ(open_fresh(version, suite, bad, len - 16), TLS_ERR_BAD_RECORD_MAC);
	printf("  %04x: header flips %u bad_record_mac, %u header errors\n", suite, header_mac,
	       header_other);
}

static void replay_reorder(uint16_t version, uint16_t suite)
{
	struct tls_conn a, b;
	uint8_t r0[2048], r1[2048], out[2048];
	size_t l0, l1, consumed, pl;

	make_pair(&a, &b, version, suite);
	CHECK_EQ(tls_seal_buf(&a, plain, PLAIN_LEN, r0, sizeof(r0), &l0), TLS_OK);
	CHECK_EQ(tls_seal_buf(&a, plain, PLAIN_LEN, r1, sizeof(r1), &l1), TLS_OK);
	CHECK_EQ(tls_open_buf(&b, r0, l0, &consumed, out, sizeof(out), &pl), TLS_OK);
	memset(out, 0, sizeof(out));
	CHECK_EQ(tls_open_buf(&b, r0, l0, &consumed, out, sizeof(out), &pl),
	         TLS_ERR_BAD_RECORD_MAC);
	CHECK_EQ(pl, 0);
	CHECK(!leaks_plaintext(out, sizeof(out)));
	CHECK(b.failed);
	/* A failed connection opens nothing more, even good records. */
	CHECK_EQ(tls_open_buf(&b, r1, l1, &consumed, out, sizeof(out), &pl), TLS_ERR_CLOSED);
	tls_conn_fini(&a);
	tls_conn_fini(&b);

	make_pair(&a, &b, version, suite);
	CHECK_EQ(tls_seal_buf(&a, plain, PLAIN_LEN, r0, sizeof(r0), &l0), TLS_OK);
	CHECK_EQ(tls_seal_buf(&a, plain, PLAIN_LEN, r1, sizeof(r1), &l1), TLS_OK);
	CHECK_EQ(tls_open_buf(&b, r1, l1, &consumed, out, sizeof(out), &pl),
	         TLS_ERR_BAD_RECORD_MAC);
	CHECK(!leaks_plaintext(out, sizeof(out)));
	tls_conn_fini(&a);
	tls_conn_fini(&b);
}

/* Seal an arbitrary TLS 1.3 inner plaintext under a's write key, the way
 * a peer could (for padding, odd types, oversized contents). */
static size_t craft13(struct tls_conn *a, const uint8_t *inner, size_t inner_len, uint8_t *out)
{
	size_t clen = inner_len + AEAD_TAG_LEN;
	struct aead_op op;
	struct iovec s = {(void *)inner, inner_len}, d = {out + 5, inner_len};

	out[0] = 23;
	out[1] = 3;
	out[2] = 3;
	out[3] = (uint8_t)(clen >> 8);
	out[4] = (uint8_t)clen;
	memset(&op, 0, sizeof(op));
	op.key = a->tx.aead;
	memcpy(op.nonce, a->tx.iv, 12);
	for (int i = 0; i < 8; i++)
		op.nonce[4 + i] ^= (uint8_t)(a->tx.seq >> (56 - 8 * i));
	op.aad = out;
	op.aad_len = 5;
	op.src = &s;
	op.src_cnt = 1;
	op.dst = &d;
	op.dst_cnt = 1;
	CHECK_EQ(aead_seal_burst(&op, 1), 1);
	memcpy(out + 5 + inner_len, op.tag, 16);
	a->tx.seq++;
	return 5 + clen;
}

static int open_crafted(const uint8_t *inner, size_t inner_len, size_t *pl, uint8_t *type)
{
	struct tls_conn a, b;
	static uint8_t rec[TLS_MAX_OPEN_RECORD + 64], out[TLS_MAX_OPEN_RECORD];
	size_t len, consumed;
	int rc;

	make_pair(&a, &b, TLS_VERSION_13, 0x1301);
	len = craft13(&a, inner, inner_len, rec);
	rc = tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), pl);
	if (rc == TLS_OK && *pl > 0)
		CHECK(memcmp(out, inner, *pl) == 0);
	*type = 0;
	tls_conn_fini(&a);
	tls_conn_fini(&b);
	return rc;
}

static void inner_plaintext_rules(void)
{
	static uint8_t inner[TLS_MAX_PLAINTEXT + 300];
	size_t pl;
	uint8_t type;

	/* Data, type, 200 bytes of zero padding. */
	memcpy(inner, plain, 100);
	inner[100] = 23;
	memset(inner + 101, 0, 200);
	CHECK_EQ(open_crafted(inner, 301, &pl, &type), TLS_OK);
	CHECK_EQ(pl, 100);
	/* All zeros: no content type. */
	memset(inner, 0, 50);
	CHECK_EQ(open_crafted(inner, 50, &pl, &type), TLS_ERR_UNEXPECTED);
	/* 16385 bytes of inner data: record_overflow after decryption. */
	memset(inner, 0x41, TLS_MAX_PLAINTEXT + 1);
	inner[TLS_MAX_PLAINTEXT + 1] = 23;
	CHECK_EQ(open_crafted(inner, TLS_MAX_PLAINTEXT + 2, &pl, &type), TLS_ERR_RECORD_OVERFLOW);
	CHECK_EQ(pl, 0);
	/* Exactly 16384 is fine, with padding up to the ciphertext limit. */
	inner[TLS_MAX_PLAINTEXT] = 23;
	memset(inner + TLS_MAX_PLAINTEXT + 1, 0, 239);
	CHECK_EQ(open_crafted(inner, TLS_MAX_PLAINTEXT + 240, &pl, &type), TLS_OK);
	CHECK_EQ(pl, TLS_MAX_PLAINTEXT);
	/* Unknown inner type (heartbeat, 24) and a CCS. */
	inner[0] = 1;
	inner[1] = 24;
	CHECK_EQ(open_crafted(inner, 2, &pl, &type), TLS_ERR_UNEXPECTED);
	inner[1] = 20;
	CHECK_EQ(open_crafted(inner, 2, &pl, &type), TLS_ERR_UNEXPECTED);
	/* Alerts: fatal from the peer, malformed, user_canceled. */
	uint8_t al[3] = {2, TLS_ALERT_BAD_RECORD_MAC, 21};
	CHECK_EQ(open_crafted(al, 3, &pl, &type), TLS_ERR_PEER_ALERT);
	uint8_t al_short[2] = {2, 21};
	CHECK_EQ(open_crafted(al_short, 2, &pl, &type), TLS_ERR_DECODE);
	uint8_t al_uc[3] = {1, TLS_ALERT_USER_CANCELED, 21};
	CHECK_EQ(open_crafted(al_uc, 3, &pl, &type), TLS_OK);
	CHECK_EQ(pl, 0);
	/* Handshake messages: a ClientHello is not allowed; KeyUpdate with a
	 * bad value or not at the end of the record; a message that runs
	 * past the record. */
	uint8_t ch[6] = {1, 0, 0, 1, 0, 22};
	CHECK_EQ(open_crafted(ch, 6, &pl, &type), TLS_ERR_UNEXPECTED);
	uint8_t ku_bad[6] = {24, 0, 0, 1, 2, 22};
	CHECK_EQ(open_crafted(ku_bad, 6, &pl, &type), TLS_ERR_DECODE);
	uint8_t ku_mid[10] = {24, 0, 0, 1, 0, 4, 0, 0, 0, 22};
	CHECK_EQ(open_crafted(ku_mid, 10, &pl, &type), TLS_ERR_UNEXPECTED);
	uint8_t nst_long[8] = {4, 0, 0, 9, 0, 0, 0, 22};
	CHECK_EQ(open_crafted(nst_long, 8, &pl, &type), TLS_ERR_UNEXPECTED);
	/* An empty application data record is allowed. */
	uint8_t empty[1] = {23};
	CHECK_EQ(open_crafted(empty, 1, &pl, &type), TLS_OK);
	CHECK_EQ(pl, 0);
}

static void oversized_and_limits(uint16_t version, uint16_t suite)
{
	struct tls_conn a, b;
	static uint8_t rec[TLS_MAX_OPEN_RECORD + 64], out[TLS_MAX_OPEN_RECORD];
	size_t len, consumed, pl, max;

	make_pair(&a, &b, version, suite);
	/* Sealing more than 16 KiB is refused. */
	CHECK_EQ(tls_seal_buf(&a, plain, TLS_MAX_PLAINTEXT + 1, rec, sizeof(rec), &len),
	         TLS_ERR_INVAL);
	CHECK_EQ(tls_seal_buf(&a, plain, TLS_MAX_PLAINTEXT, rec, 100, &len), TLS_ERR_NOSPACE);
	CHECK_EQ(tls_seal_buf(&a, plain, TLS_MAX_PLAINTEXT, rec, sizeof(rec), &len), TLS_OK);
	CHECK_EQ(tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &pl), TLS_OK);
	CHECK_EQ(pl, TLS_MAX_PLAINTEXT);
	/* A header announcing more than the limit. */
	max = version == TLS_VERSION_13 ? TLS13_MAX_CIPHERTEXT : TLS12_MAX_CIPHERTEXT;
	memset(rec, 0x33, max + 6);
	rec[0] = 23;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = (uint8_t)((max + 1) >> 8);
	rec[4] = (uint8_t)(max + 1);
	CHECK_EQ(tls_open_buf(&b, rec, max + 6, &consumed, out, sizeof(out), &pl),
	         TLS_ERR_RECORD_OVERFLOW);
	CHECK(b.failed);
	CHECK_EQ(tls_error_alert(TLS_ERR_RECORD_OVERFLOW), TLS_ALERT_RECORD_OVERFLOW);
	tls_conn_fini(&a);
	tls_conn_fini(&b);

	/* Sequence numbers: the last usable value works, then no more. */
	make_pair(&a, &b, version, suite);
	a.tx_record_limit = UINT64_MAX;
	a.tx_update_after = UINT64_MAX;
	a.tx.seq = UINT64_MAX - 1;
	b.rx.seq = UINT64_MAX - 1;
	CHECK_EQ(tls_seal_buf(&a, plain, 10, rec, sizeof(rec), &len), TLS_OK);
	CHECK_EQ(tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &pl), TLS_OK);
	CHECK_EQ(pl, 10);
	CHECK_EQ(tls_seal_buf(&a, plain, 10, rec, sizeof(rec), &len), TLS_ERR_SEQ_WRAP);
	CHECK(a.failed);
	CHECK_EQ(tls_open_buf(&b, rec, 40, &consumed, out, sizeof(out), &pl), TLS_ERR_SEQ_WRAP);
	tls_conn_fini(&a);
	tls_conn_fini(&b);
}

/* TLS 1.3: KeyUpdate before the record limit, and in the middle of an open
 * burst (records behind it come back TLS_ERR_RETRY, then open). */
static void key_updates(uint16_t suite)
{
	struct tls_conn a, b;
	enum { N = 5 };
	static uint8_t recs[N][2048], outs[N][2048];
	size_t lens[N];
	struct iovec src[N], dst[N];
	struct tls_open_job jobs[N];

	make_pair(&a, &b, TLS_VERSION_13, suite);
	a.tx_update_after = 3;
	a.tx_record_limit = 10;
	CHECK_EQ(tls_seal_buf(&a, plain, 100, recs[0], 2048, &lens[0]), TLS_OK);
	CHECK_EQ(tls_seal_buf(&a, plain + 100, 100, recs[1], 2048, &lens[1]), TLS_OK);
	CHECK_EQ(tls_seal_buf(&a, plain + 200, 100, recs[2], 2048, &lens[2]), TLS_OK);
	CHECK(tls_conn_key_update_due(&a));
	CHECK_EQ(tls_seal_buf(&a, plain, 100, recs[3], 2048, &lens[3]), TLS_ERR_KEY_UPDATE_NEEDED);
	/* Now one stream: r0 r1 KeyUpdate(update_requested) r2 r3. */
	struct tls_conn a2, b2;
	tls_conn_fini(&a);
	tls_conn_fini(&b);
	make_pair(&a2, &b2, TLS_VERSION_13, suite);
	a2.tx_update_after = 2;
	CHECK_EQ(tls_seal_buf(&a2, plain, 100, recs[0], 2048, &lens[0]), TLS_OK);
	CHECK_EQ(tls_seal_buf(&a2, plain + 100, 100, recs[1], 2048, &lens[1]), TLS_OK);
	CHECK_EQ(tls_seal_key_update(&a2, true, recs[2], 2048, &lens[2]), TLS_OK);
	CHECK_EQ(a2.tx.seq, 0);
	CHECK(!tls_conn_key_update_due(&a2));
	CHECK_EQ(tls_seal_buf(&a2, plain + 200, 100, recs[3], 2048, &lens[3]), TLS_OK);
	CHECK_EQ(tls_seal_buf(&a2, plain + 300, 100, recs[4], 2048, &lens[4]), TLS_OK);
	for (int i = 0; i < N; i++) {
		src[i] = (struct iovec){recs[i], lens[i]};
		dst[i] = (struct iovec){outs[i], sizeof(outs[i])};
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].conn = &b2;
		jobs[i].src = &src[i];
		jobs[i].src_cnt = 1;
		jobs[i].dst = &dst[i];
		jobs[i].dst_cnt = 1;
	}
	tls_open_burst(jobs, N);
	CHECK_EQ(jobs[0].status, TLS_OK);
	CHECK_EQ(jobs[1].status, TLS_OK);
	CHECK_EQ(jobs[2].status, TLS_OK);
	CHECK_EQ(jobs[2].plain_len, 0);
	CHECK_EQ(jobs[2].type, TLS_CT_HANDSHAKE);
	CHECK_EQ(jobs[3].status, TLS_ERR_RETRY);
	CHECK_EQ(jobs[4].status, TLS_ERR_RETRY);
	CHECK(!leaks_plaintext(outs[3], sizeof(outs[3])));
	CHECK_EQ(b2.key_updates_rx, 1);
	/* The peer asked for our update: data waits until it is sent. */
	CHECK(tls_conn_key_update_due(&b2));
	uint8_t tmp[64];
	size_t tl;
	CHECK_EQ(tls_seal_buf(&b2, plain, 10, recs[0], 2048, &lens[0]), TLS_ERR_KEY_UPDATE_NEEDED);
	CHECK_EQ(tls_seal_key_update(&b2, false, tmp, sizeof(tmp), &tl), TLS_OK);
	CHECK(!tls_conn_key_update_due(&b2));
	tls_open_burst(&jobs[3], 2);
	CHECK_EQ(jobs[3].status, TLS_OK);
	CHECK_EQ(jobs[4].status, TLS_OK);
	CHECK_EQ(jobs[4].plain_len, 100);
	CHECK(memcmp(outs[3], plain + 200, 100) == 0);
	CHECK(memcmp(outs[4], plain + 300, 100) == 0);
	/* Our KeyUpdate opens at the peer, which then reads our new key. */
	size_t consumed, pl;
	uint8_t o[2048];
	CHECK_EQ(tls_open_buf(&a2, tmp, tl, &consumed, o, sizeof(o), &pl), TLS_OK);
	CHECK_EQ(a2.key_updates_rx, 1);
	CHECK(!a2.key_update_owed); /* update_not_requested */
	CHECK_EQ(tls_seal_buf(&b2, plain, 10, recs[0], 2048, &lens[0]), TLS_OK);
	CHECK_EQ(tls_open_buf(&a2, recs[0], lens[0], &consumed, o, sizeof(o), &pl), TLS_OK);
	CHECK_EQ(pl, 10);
	tls_conn_fini(&a2);
	tls_conn_fini(&b2);

	/* The hard limit stops sealing when no KeyUpdate was sent. */
	make_pair(&a, &b, TLS_VERSION_13, suite);
	a.tx_update_after = UINT64_MAX;
	a.tx_record_limit = 2;
	CHECK_EQ(tls_seal_buf(&a, plain, 10, recs[0], 2048, &lens[0]), TLS_OK);
	CHECK_EQ(tls_seal_buf(&a, plain, 10, recs[0], 2048, &lens[0]), TLS_OK);
	CHECK_EQ(tls_seal_buf(&a, plain, 10, recs[0], 2048, &lens[0]), TLS_ERR_KEY_LIMIT);
	tls_conn_fini(&a);
	tls_conn_fini(&b);
}

/* Seal a TLS 1.2 AES-GCM record of any type under a's write key. */
static size_t craft12(struct tls_conn *a, uint8_t type, const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t aad[13];
	struct aead_op op;
	struct iovec s = {(void *)pt, len}, d = {out + 13, len};
	uint64_t seq = a->tx.seq;
	size_t body = 8 + len + 16;

	out[0] = type;
	out[1] = 3;
	out[2] = 3;
	out[3] = (uint8_t)(body >> 8);
	out[4] = (uint8_t)body;
	for (int i = 0; i < 8; i++) {
		out[5 + i] = (uint8_t)(seq >> (56 - 8 * i));
		aad[i] = out[5 + i];
	}
	aad[8] = type;
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = (uint8_t)(len >> 8);
	aad[12] = (uint8_t)len;
	memset(&op, 0, sizeof(op));
	op.key = a->tx.aead;
	memcpy(op.nonce, a->tx.iv, 4);
	memcpy(op.nonce + 4, out + 5, 8);
	op.aad = aad;
	op.aad_len = 13;
	op.src = &s;
	op.src_cnt = 1;
	op.dst = &d;
	op.dst_cnt = 1;
	CHECK_EQ(aead_seal_burst(&op, 1), 1);
	memcpy(out + 13 + len, op.tag, 16);
	a->tx.seq++;
	return 13 + len + 16;
}

static void tls12_specific(void)
{
	struct tls_conn a, b;
	uint8_t rec[2048], out[2048];
	size_t len, consumed, pl;

	make_pair(&a, &b, TLS_VERSION_12, 0xC02F);
	CHECK_EQ(tls_seal_buf(&a, plain, 100, rec, sizeof(rec), &len), TLS_OK);
	/* The explicit nonce is the sequence number (RFC 5288 3). */
	CHECK_EQ(rec[12], 0);
	rec[0] = 22; /* renegotiation attempt */
	CHECK_EQ(tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &pl), TLS_ERR_UNEXPECTED);
	CHECK_EQ(tls_seal_key_update(&a, false, rec, sizeof(rec), &len), TLS_ERR_UNSUPPORTED);
	tls_conn_fini(&a);
	tls_conn_fini(&b);
	/* A warning alert (no_renegotiation) is ignored in TLS 1.2; a fatal
	 * one ends the connection and is remembered. */
	make_pair(&a, &b, TLS_VERSION_12, 0xC02F);
	uint8_t warn[2] = {1, 100}, fatal[2] = {2, 40};
	len = craft12(&a, TLS_CT_ALERT, warn, 2, rec);
	CHECK_EQ(tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &pl), TLS_OK);
	CHECK_EQ(pl, 0);
	CHECK(!b.failed);
	CHECK_EQ(tls_seal_buf(&a, plain, 100, rec, sizeof(rec), &len), TLS_OK);
	CHECK_EQ(tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &pl), TLS_OK);
	CHECK_EQ(pl, 100);
	len = craft12(&a, TLS_CT_ALERT, fatal, 2, rec);
	CHECK_EQ(tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &pl), TLS_ERR_PEER_ALERT);
	CHECK_EQ(b.peer_alert, 40);
	CHECK(b.failed);
	tls_conn_fini(&a);
	tls_conn_fini(&b);
	/* Alert records show their real type in TLS 1.2. */
	make_pair(&a, &b, TLS_VERSION_12, 0xCCA8);
	CHECK_EQ(tls_seal_close_notify(&a, rec, sizeof(rec), &len), TLS_OK);
	CHECK_EQ(rec[0], TLS_CT_ALERT);
	CHECK_EQ(tls_open_buf(&b, rec, len, &consumed, out, sizeof(out), &pl), TLS_CLOSE_NOTIFY);
	tls_conn_fini(&a);
	tls_conn_fini(&b);
}

/* A malformed record fails the connection only from its place in the
 * burst on: the good record before it is still delivered. */
static void burst_order(void)
{
	struct tls_conn a, b;
	static uint8_t r[3][2048], o[3][2048];
	size_t l[3];
	struct iovec src[3], dst[3];
	struct tls_open_job j[3];

	make_pair(&a, &b, TLS_VERSION_13, 0x1301);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(tls_seal_buf(&a, plain, 500, r[i], sizeof(r[i]), &l[i]), TLS_OK);
	r[1][1] = 0x02; /* bad version in the second header */
	for (int i = 0; i < 3; i++) {
		src[i] = (struct iovec){r[i], l[i]};
		dst[i] = (struct iovec){o[i], sizeof(o[i])};
		memset(&j[i], 0, sizeof(j[i]));
		j[i].conn = &b;
		j[i].src = &src[i];
		j[i].src_cnt = 1;
		j[i].dst = &dst[i];
		j[i].dst_cnt = 1;
	}
	CHECK_EQ(tls_open_burst(j, 3), 1);
	CHECK_EQ(j[0].status, TLS_OK);
	CHECK_EQ(j[0].plain_len, 500);
	CHECK(memcmp(o[0], plain, 500) == 0);
	CHECK_EQ(j[1].status, TLS_ERR_DECODE);
	CHECK_EQ(j[2].status, TLS_ERR_CLOSED);
	CHECK(!leaks_plaintext(o[2], sizeof(o[2])));
	CHECK(b.failed);
	tls_conn_fini(&a);
	tls_conn_fini(&b);
}

/* Seal and open in place: plaintext sits at the payload offset of the
 * record buffer, and opening writes the plaintext over the ciphertext. */
static void in_place(uint16_t version, uint16_t suite)
{
	struct tls_conn a, b;
	static uint8_t buf[TLS_MAX_SEAL_RECORD];
	size_t off, len, pl = 3000;

	make_pair(&a, &b, version, suite);
	off = tls_record_payload_offset(&a);
	memcpy(buf + off, plain, pl);
	struct iovec src = {buf + off, pl}, dst[2] = {{buf, 700}, {buf + 700, sizeof(buf) - 700}};
	struct tls_seal_job sj = {.conn = &a, .src = &src, .src_cnt = 1, .dst = dst, .dst_cnt = 2};
	CHECK_EQ(tls_seal_burst(&sj, 1), 1);
	len = sj.out_len;
	CHECK_EQ(len, tls_sealed_len(&a, pl));
	CHECK(memcmp(buf + off, plain, 64) != 0); /* really encrypted */

	struct iovec rsrc[2] = {{buf, 1000}, {buf + 1000, len - 1000}};
	struct iovec rdst[2] = {{buf + off, 1000 - off}, {buf + 1000, len - 1000}};
	struct tls_open_job oj = {.conn = &b, .src = rsrc, .src_cnt = 2, .dst = rdst, .dst_cnt = 2};
	CHECK_EQ(tls_open_burst(&oj, 1), 1);
	CHECK_EQ(oj.status, TLS_OK);
	CHECK_EQ(oj.plain_len, pl);
	CHECK(memcmp(buf + off, plain, pl) == 0);
	tls_conn_fini(&a);
	tls_conn_fini(&b);
}

int main(int argc, char **argv)
{
	static const struct {
		uint16_t version, suite;
	} suites[] = {
	    {TLS_VERSION_13, 0x1301}, {TLS_VERSION_13, 0x1302}, {TLS_VERSION_13, 0x1303},
	    {TLS_VERSION_12, 0xC02F}, {TLS_VERSION_12, 0xC030}, {TLS_VERSION_12, 0xCCA8},
	};

	be = test_backend(argc, argv);
	pattern_fill(plain, sizeof(plain), 0, 99);
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		tamper(suites[i].version, suites[i].suite);
		replay_reorder(suites[i].version, suites[i].suite);
		oversized_and_limits(suites[i].version, suites[i].suite);
		in_place(suites[i].version, suites[i].suite);
	}
	inner_plaintext_rules();
	burst_order();
	key_updates(0x1301);
	key_updates(0x1303);
	tls12_specific();
	/* Unknown suites are refused by tls_conn_init. */
	struct tls_conn_keys k = {.version = TLS_VERSION_13, .suite = 0x1304};
	struct tls_conn c;
	CHECK_EQ(tls_conn_init(&c, &k, be), TLS_ERR_UNSUPPORTED);
	return check_finish("tls-tamper");
}
