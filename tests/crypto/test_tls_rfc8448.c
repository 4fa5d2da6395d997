/* RFC 8448 section 3 (simple 1-RTT handshake): record protection with the
 * trace's application traffic secrets, on one backend (argv[1]). Checks
 * HKDF-Expand-Label keys and IVs, sealing byte-exact records, opening the
 * peer's records, the NewSessionTicket a client receives, close_notify. */
#include "check.h"
#include "crypto_test_util.h"
#include "tls_record.h"

static const char client_secret[] = "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52"
                                    "87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
static const char server_secret[] = "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32"
                                    "82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";
static const char server_key[] = "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56";
static const char server_iv[] = "cf 78 2b 88 dd 83 54 9a ad f1 e9 84";
static const char client_key[] = "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51";
static const char client_iv[] = "5b 78 92 3d ee 08 57 90 33 e5 23 d9";

/* {server} NewSessionTicket, server application key, sequence 0. */
static const char nst_rec[] =
    "17 03 03 00 de 3a 6b 8f 90 41 4a 97 d6 95 9c 34 87 68 0d e5 13 4a 2b 24"
    "0e 6c ff ac 11 6e 95 d4 1d 6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a"
    "01 59 40 25 2f 55 71 3e 06 1d c1 3e 07 88 91 a3 8e fb cf 57 53 ad 8e f1"
    "70 ad 3c 73 53 d1 6d 9d a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0"
    "9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43 9b 29 99 ce 13 06 46 15"
    "13 98 91 d5 e4 c5 b4 06 f1 6e 3f c1 81 a7 7c a4 75 84 00 25 db 2f 0a 77"
    "f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86 51 9d 86 cb ee ac 87 aa c3"
    "47 d1 43 f9 60 5d 64 f6 50 db 4d 02 3e 70 e9 52 ca 49 fe 51 37 12 1c 74"
    "bc 26 97 68 7e 24 87 46 d6 df 35 30 05 f3 bc e1 86 96 12 9c 81 53 55 6b"
    "3b 6c 67 79 b3 7b f1 59 85 68 4f";
/* {client} application data 00 01 .. 31, client key, sequence 0. */
static const char c_app_rec[] =
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea"
    "42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b"
    "62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4";
/* {server} the same data, server key, sequence 1. */
static const char s_app_rec[] =
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc"
    "32 25 d0 5f 82 aa 1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8"
    "fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d";
/* close_notify from the client (sequence 1) and the server (sequence 2). */
static const char c_alert_rec[] =
    "17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3";
static const char s_alert_rec[] =
    "17 03 03 00 13 b5 8f d6 71 66 eb f5 99 d2 47 20 cf be 7e fa 7a 88 64 a9";

static void make_keys(struct tls_conn_keys *k, bool server)
{
	memset(k, 0, sizeof(*k));
	k->version = TLS_VERSION_13;
	k->suite = 0x1301;
	k->is_server = server;
	k->secret_len = 32;
	unhex(server ? server_secret : client_secret, k->tx_secret, sizeof(k->tx_secret));
	unhex(server ? client_secret : server_secret, k->rx_secret, sizeof(k->rx_secret));
}

static void check_key_schedule(void)
{
	const struct tls_suite *s = tls_suite_find(TLS_VERSION_13, 0x1301);
	uint8_t secret[32], key[16], iv[12], want_key[16], want_iv[12];

	CHECK(s != NULL);
	unhex(server_secret, secret, sizeof(secret));
	CHECK_EQ(tls13_traffic_keys(s, secret, key, iv), 0);
	unhex(server_key, want_key, sizeof(want_key));
	unhex(server_iv, want_iv, sizeof(want_iv));
	CHECK(memcmp(key, want_key, 16) == 0);
	CHECK(memcmp(iv, want_iv, 12) == 0);
	unhex(client_secret, secret, sizeof(secret));
	CHECK_EQ(tls13_traffic_keys(s, secret, key, iv), 0);
	unhex(client_key, want_key, sizeof(want_key));
	unhex(client_iv, want_iv, sizeof(want_iv));
	CHECK(memcmp(key, want_key, 16) == 0);
	CHECK(memcmp(iv, want_iv, 12) == 0);
}

static void server_side(const struct aead_backend *be)
{
	struct tls_conn_keys k;
	struct tls_conn c;
	uint8_t rec[256], want[256], out[256], data[50];
	size_t len, want_len, consumed, plain;

	for (int i = 0; i < 50; i++)
		data[i] = (uint8_t)i;
	make_keys(&k, true);
	k.tx_seq = 1; /* the NewSessionTicket went out at sequence 0 */
	CHECK_EQ(tls_conn_init(&c, &k, be), TLS_OK);

	/* Open the client's data record. */
	len = unhex(c_app_rec, rec, sizeof(rec));
	CHECK_EQ(tls_open_buf(&c, rec, len, &consumed, out, sizeof(out), &plain), TLS_OK);
	CHECK_EQ(consumed, len);
	CHECK_EQ(plain, 50);
	CHECK(memcmp(out, data, 50) == 0);

	/* Seal the server's record byte for byte. */
	want_len = unhex(s_app_rec, want, sizeof(want));
	CHECK_EQ(tls_seal_buf(&c, data, 50, out, sizeof(out), &len), TLS_OK);
	CHECK_EQ(len, want_len);
	CHECK(memcmp(out, want, want_len) == 0);

	/* Client close_notify, then ours. */
	len = unhex(c_alert_rec, rec, sizeof(rec));
	CHECK_EQ(tls_open_buf(&c, rec, len, &consumed, out, sizeof(out), &plain), TLS_CLOSE_NOTIFY);
	CHECK_EQ(plain, 0);
	CHECK(c.rx_closed);
	want_len = unhex(s_alert_rec, want, sizeof(want));
	CHECK_EQ(tls_seal_close_notify(&c, out, sizeof(out), &len), TLS_OK);
	CHECK_EQ(len, want_len);
	CHECK(memcmp(out, want, want_len) == 0);
	/* Nothing more either way. */
	CHECK_EQ(tls_seal_buf(&c, data, 50, out, sizeof(out), &len), TLS_ERR_CLOSED);
	len = unhex(c_app_rec, rec, sizeof(rec));
	CHECK_EQ(tls_open_buf(&c, rec, len, &consumed, out, sizeof(out), &plain), TLS_ERR_CLOSED);
	tls_conn_fini(&c);
}

static void client_side(const struct aead_backend *be)
{
	struct tls_conn_keys k;
	struct tls_conn c;
	uint8_t rec[256], want[256], out[256], data[50];
	size_t len, want_len, consumed, plain;

	for (int i = 0; i < 50; i++)
		data[i] = (uint8_t)i;
	make_keys(&k, false);
	CHECK_EQ(tls_conn_init(&c, &k, be), TLS_OK);

	/* The NewSessionTicket is consumed, never returned as data. */
	len = unhex(nst_rec, rec, sizeof(rec));
	memset(out, 0x77, sizeof(out));
	CHECK_EQ(tls_open_buf(&c, rec, len, &consumed, out, sizeof(out), &plain), TLS_OK);
	CHECK_EQ(consumed, len);
	CHECK_EQ(plain, 0);
	CHECK_EQ(c.tickets_rx, 1);

	want_len = unhex(c_app_rec, want, sizeof(want));
	CHECK_EQ(tls_seal_buf(&c, data, 50, out, sizeof(out), &len), TLS_OK);
	CHECK_EQ(len, want_len);
	CHECK(memcmp(out, want, want_len) == 0);

	len = unhex(s_app_rec, rec, sizeof(rec));
	CHECK_EQ(tls_open_buf(&c, rec, len, &consumed, out, sizeof(out), &plain), TLS_OK);
	CHECK_EQ(plain, 50);
	CHECK(memcmp(out, data, 50) == 0);

	want_len = unhex(c_alert_rec, want, sizeof(want));
	CHECK_EQ(tls_seal_close_notify(&c, out, sizeof(out), &len), TLS_OK);
	CHECK_EQ(len, want_len);
	CHECK(memcmp(out, want, want_len) == 0);
	len = unhex(s_alert_rec, rec, sizeof(rec));
	CHECK_EQ(tls_open_buf(&c, rec, len, &consumed, out, sizeof(out), &plain), TLS_CLOSE_NOTIFY);
	tls_conn_fini(&c);

	/* A server must refuse a NewSessionTicket. */
	make_keys(&k, true);
	/* Swap so the server reads with the server key (the trace's NST). */
	uint8_t tmp[48];
	memcpy(tmp, k.tx_secret, 48);
	memcpy(k.tx_secret, k.rx_secret, 48);
	memcpy(k.rx_secret, tmp, 48);
	CHECK_EQ(tls_conn_init(&c, &k, be), TLS_OK);
	len = unhex(nst_rec, rec, sizeof(rec));
	CHECK_EQ(tls_open_buf(&c, rec, len, &consumed, out, sizeof(out), &plain),
	         TLS_ERR_UNEXPECTED);
	CHECK_EQ(tls_error_alert(TLS_ERR_UNEXPECTED), TLS_ALERT_UNEXPECTED_MESSAGE);
	tls_conn_fini(&c);
}

int main(int argc, char **argv)
{
	const struct aead_backend *be = test_backend(argc, argv);

	check_key_schedule();
	server_side(be);
	client_side(be);
	return check_finish("tls-rfc8448");
}
