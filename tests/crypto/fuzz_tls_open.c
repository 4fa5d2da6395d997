/* Fuzz target for the receive side of the record layer (tls_open_burst
 * through tls_open_buf). The first input byte picks the suite and a mode:
 * raw bytes as a record stream, or the rest sealed as a TLS 1.3 inner
 * plaintext by a peer holding the keys (so alert, handshake, padding and
 * content-type parsing behind the AEAD get exercised too).
 *
 * With -Dfuzz=true it is a libFuzzer target; otherwise a main() runs it
 * over seeded pseudo-random inputs as a unit test. Invariant checked: on
 * any error, no plaintext is reported. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_record.h"

static const uint16_t suites[][2] = {
    {TLS_VERSION_13, 0x1301},
    {TLS_VERSION_13, 0x1303},
    {TLS_VERSION_12, 0xC02F},
    {TLS_VERSION_12, 0xCCA8},
};

static void keys_for(struct tls_conn_keys *k, unsigned which, bool server)
{
	const struct tls_suite *s = tls_suite_find(suites[which][0], suites[which][1]);

	memset(k, 0, sizeof(*k));
	k->version = suites[which][0];
	k->suite = suites[which][1];
	k->is_server = server;
	k->secret_len = s->hash_len;
	k->key_len = s->key_len;
	k->iv_len = s->fixed_iv_len;
	for (int i = 0; i < 48; i++) {
		k->tx_secret[i] = (uint8_t)(server ? i : 99 - i);
		k->rx_secret[i] = (uint8_t)(server ? 99 - i : i);
	}
	for (int i = 0; i < 32; i++) {
		k->tx_key[i] = (uint8_t)(server ? i : 77 + i);
		k->rx_key[i] = (uint8_t)(server ? 77 + i : i);
	}
	for (int i = 0; i < 12; i++) {
		k->tx_iv[i] = (uint8_t)(server ? i : 50 + i);
		k->rx_iv[i] = (uint8_t)(server ? 50 + i : i);
	}
}

static int failures;

static void expect(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant broken: %s\n", what);
		failures++;
#ifdef FUZZ_LIBFUZZER
		abort();
#endif
	}
}

/* Open every record of buf on c, checking the no-plaintext-on-error rule. */
static void open_stream(struct tls_conn *c, const uint8_t *buf, size_t len)
{
	static uint8_t out[TLS_MAX_OPEN_RECORD];
	size_t off = 0, consumed, plain;

	while (off < len) {
		int rc = tls_open_buf(c, buf + off, len - off, &consumed, out, sizeof(out), &plain);

		if (rc < 0)
			expect(plain == 0, "plaintext reported with an error");
		if (rc == TLS_OK)
			expect(plain <= TLS_MAX_PLAINTEXT, "plaintext over 16 KiB");
		if (consumed == 0 || rc < 0)
			break;
		off += consumed;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rec[TLS_MAX_OPEN_RECORD + 64];
	struct tls_conn_keys ks, kc;
	struct tls_conn server, client;
	unsigned which, mode;

	if (size < 1)
		return 0;
	which = data[0] % 4;
	mode = (data[0] >> 2) % 2;
	keys_for(&ks, which, true);
	keys_for(&kc, which, false);
	if (tls_conn_init(&server, &ks, aead_backend_find("openssl")) != TLS_OK ||
	    tls_conn_init(&client, &kc, aead_backend_find("openssl")) != TLS_OK)
		abort();
	if (mode == 0 || suites[which][0] != TLS_VERSION_13 ||
	    size - 1 > TLS13_MAX_CIPHERTEXT - 16) {
		open_stream(&client, data + 1, size - 1);
	} else {
		/* Seal the input as an inner plaintext under the server's key. */
		size_t inner = size - 1, clen = inner + AEAD_TAG_LEN;
		struct aead_op op;
		struct iovec s = {(void *)(data + 1), inner}, d = {rec + 5, inner};

		rec[0] = 23;
		rec[1] = 3;
		rec[2] = 3;
		rec[3] = (uint8_t)(clen >> 8);
		rec[4] = (uint8_t)clen;
		memset(&op, 0, sizeof(op));
		op.key = server.tx.aead;
		memcpy(op.nonce, server.tx.iv, 12);
		op.aad = rec;
		op.aad_len = 5;
		op.src = &s;
		op.src_cnt = inner > 0 ? 1 : 0;
		op.dst = &d;
		op.dst_cnt = inner > 0 ? 1 : 0;
		if (aead_seal_burst(&op, 1) != 1)
			abort();
		memcpy(rec + 5 + inner, op.tag, AEAD_TAG_LEN);
		open_stream(&client, rec, 5 + clen);
	}
	tls_conn_fini(&server);
	tls_conn_fini(&client);
	return 0;
}

#ifndef FUZZ_LIBFUZZER
/* Unit-test mode: seeded inputs, some random, some shaped like records or
 * like alerts and handshake messages. */
int main(void)
{
	static uint8_t buf[20000];
	uint32_t x = 2463534242u;
	unsigned runs = 20000;

	for (unsigned r = 0; r < runs; r++) {
		size_t len;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		len = 1 + x % (r % 10 == 0 ? sizeof(buf) - 1 : 64);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (uint8_t)x;
		}
		/* Shape some: plausible headers, small types, zero padding. */
		if (r % 3 == 1 && len > 6) {
			buf[1] = r % 2 ? 23 : 21;
			buf[2] = 3;
			buf[3] = 3;
		}
		if (r % 5 == 2 && len > 3) {
			buf[0] = (uint8_t)(buf[0] | 4); /* sealed mode */
			buf[len - 1] = (uint8_t)(20 + r % 5);
			if (r % 2)
				buf[1] = 24; /* KeyUpdate-like */
			else
				buf[1] = 4; /* NewSessionTicket-like */
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("fuzz-tls-open: %u inputs, %d failures\n", runs, failures);
	return failures == 0 ? 0 : 1;
}
#endif
