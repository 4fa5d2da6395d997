/* What one resumed data-connection handshake costs each side in OpenSSL,
 * the control plane's and the client's CPU per small file: a client and a
 * server in one thread over a BIO pair, each side's calls timed on the
 * thread's CPU clock. Run by tools/bench-handshake (not a test).
 *
 * bench-handshake MODE COUNT
 *   MODE: tls13-resumed-tickets0|1|2 (tickets the server sends on each
 *   resumed connection), tls12-resumed (session ID), tls13-full
 * Prints one JSON object: microseconds per handshake for server and client. */
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct side_clock {
	double server, client;
};

static double thread_cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(const char *what)
{
	fprintf(stderr, "bench-handshake: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* A throwaway P-256 certificate, as ftps-keys makes by default. */
static void self_signed(SSL_CTX *ctx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	if (key == NULL || cert == NULL)
		fail("key generation");
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"bench", -1, -1,
	                           0);
	X509_set_issuer_name(cert, name);
	if (X509_sign(cert, key, EVP_sha256()) == 0 || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		fail("certificate");
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* Runs one handshake to completion, then one byte from server to client so
 * the client reads what the server sent after its Finished (tickets). */
static void handshake(SSL *client, SSL *server, struct side_clock *clock)
{
	int client_done = 0, server_done = 0;
	for (int round = 0; round < 20 && !(client_done && server_done); round++) {
		double t0 = thread_cpu_seconds();
		if (!client_done && SSL_do_handshake(client) == 1)
			client_done = 1;
		double t1 = thread_cpu_seconds();
		if (!server_done && SSL_do_handshake(server) == 1)
			server_done = 1;
		double t2 = thread_cpu_seconds();
		clock->client += t1 - t0;
		clock->server += t2 - t1;
	}
	if (!(client_done && server_done))
		fail("handshake did not complete");
	char byte = 'x';
	double t0 = thread_cpu_seconds();
	if (SSL_write(server, &byte, 1) != 1)
		fail("server write");
	double t1 = thread_cpu_seconds();
	if (SSL_read(client, &byte, 1) != 1)
		fail("client read");
	double t2 = thread_cpu_seconds();
	clock->server += t1 - t0;
	clock->client += t2 - t1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench-handshake tls13-resumed-tickets0|1|2|tls12-resumed|"
		                "tls13-full COUNT\n");
		return 2;
	}
	const char *mode = argv[1];
	int count = atoi(argv[2]);
	int tls12 = strcmp(mode, "tls12-resumed") == 0;
	int full = strcmp(mode, "tls13-full") == 0;
	int tickets = 2;
	if (strncmp(mode, "tls13-resumed-tickets", 21) == 0)
		tickets = atoi(mode + 21);
	else if (!tls12 && !full)
		count = 0;
	if (count <= 0 || tickets < 0 || tickets > 2) {
		fprintf(stderr, "bench-handshake: bad mode or count\n");
		return 2;
	}
	SSL_CTX *server_ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *client_ctx = SSL_CTX_new(TLS_client_method());
	if (server_ctx == NULL || client_ctx == NULL)
		fail("SSL_CTX_new");
	self_signed(server_ctx);
	/* The suites the load generator and the benchmarks use. */
	if (SSL_CTX_set_ciphersuites(client_ctx, "TLS_AES_128_GCM_SHA256") != 1 ||
	    SSL_CTX_set_cipher_list(client_ctx, "ECDHE-ECDSA-AES128-GCM-SHA256") != 1 ||
	    SSL_CTX_set_max_proto_version(client_ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION) != 1)
		fail("client settings");
	SSL_CTX_set_session_cache_mode(server_ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(server_ctx, (const unsigned char *)"bench", 5);
	if (tls12) /* session-ID resumption, as curl does */
		SSL_CTX_set_options(server_ctx, SSL_OP_NO_TICKET);

	SSL_SESSION *session = NULL;
	struct side_clock clock = {0, 0};
	for (int i = 0; i <= count; i++) {
		SSL *server = SSL_new(server_ctx), *client = SSL_new(client_ctx);
		BIO *client_end = NULL, *server_end = NULL;
		if (server == NULL || client == NULL ||
		    BIO_new_bio_pair(&client_end, 1 << 16, &server_end, 1 << 16) != 1)
			fail("SSL_new");
		SSL_set_bio(client, client_end, client_end);
		SSL_set_bio(server, server_end, server_end);
		SSL_set_connect_state(client);
		SSL_set_accept_state(server);
		/* Connection 0 is the control connection: a full handshake whose
		 * session the others resume, untimed. */
		if (i > 0 && !full) {
			SSL_set_num_tickets(server, (size_t)tickets);
			SSL_set_session(client, session);
		}
		struct side_clock one = {0, 0};
		handshake(client, server, &one);
		if (i > 0) {
			if (!full && !SSL_session_reused(client))
				fail("the session was not resumed");
			clock.server += one.server;
			clock.client += one.client;
		} else {
			session = SSL_get1_session(client);
		}
		/* A clean shutdown keeps the session resumable. */
		SSL_set_shutdown(server, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_set_shutdown(client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(server);
		SSL_free(client);
	}
	printf("{\"mode\": \"%s\", \"handshakes\": %d, \"server_us\": %.2f, \"client_us\": %.2f, "
	       "\"openssl\": \"%s\"}\n",
	       mode, count, clock.server / count * 1e6, clock.client / count * 1e6,
	       OpenSSL_version(OPENSSL_VERSION));
	SSL_SESSION_free(session);
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	return 0;
}
