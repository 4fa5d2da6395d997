/* Record-layer throughput for one AEAD backend (argv[1], "cryptodev:<pmd>"
 * for a crypto PMD): TLS 1.3 AES-128-GCM records of 16 KiB and 1 KiB,
 * sealed and opened in bursts of 1, 8 and 32 through tls_seal_burst() and
 * tls_open_burst() (so the record layer's own work is counted), on one
 * core, per second of CPU time. Prints one line per case and, last, one JSON object. Used by
 * tools/bench-crypto, which adds the OpenSSL baseline. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "aead.h"
#include "aead_cryptodev.h"
#include "tls_record.h"

#define MAX_BURST 32

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Throughput is per second of this thread's CPU time, as `openssl speed`
 * counts user CPU time: on a shared machine, time the scheduler gives to
 * others counts for neither side. */
static double cpu_now(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static void make_pair(struct tls_conn *a, struct tls_conn *b, const struct aead_backend *be)
{
	struct tls_conn_keys k;

	memset(&k, 0, sizeof(k));
	k.version = TLS_VERSION_13;
	k.suite = 0x1301;
	k.secret_len = 32;
	for (int i = 0; i < 32; i++) {
		k.tx_secret[i] = (uint8_t)i;
		k.rx_secret[i] = (uint8_t)(i + 100);
	}
	if (tls_conn_init(a, &k, be) != TLS_OK)
		exit(1);
	memcpy(k.tx_secret, k.rx_secret, 32);
	for (int i = 0; i < 32; i++)
		k.rx_secret[i] = (uint8_t)i;
	if (tls_conn_init(b, &k, be) != TLS_OK)
		exit(1);
	/* Measure steady state, not KeyUpdates. */
	a->tx_update_after = UINT64_MAX;
	a->tx_record_limit = UINT64_MAX;
}

struct result {
	double gbps, cpb;
};

static double tsc_hz; /* measured TSC rate, to turn GB/s into cycles/B */

static uint8_t plain[MAX_BURST][TLS_MAX_PLAINTEXT];
static uint8_t sealed[MAX_BURST][TLS_MAX_SEAL_RECORD];
static uint8_t opened[MAX_BURST][TLS_MAX_OPEN_RECORD];

static struct result run(const struct aead_backend *be, size_t size, unsigned burst, bool seal,
                         double seconds)
{
	struct tls_conn a, b;
	struct tls_seal_job sj[MAX_BURST];
	struct tls_open_job oj[MAX_BURST];
	struct iovec src[MAX_BURST], dst[MAX_BURST], osrc[MAX_BURST], odst[MAX_BURST];
	uint64_t bytes = 0, c0, c1;
	double t0, t1, w0, w1;
	struct result r;

	make_pair(&a, &b, be);
	for (unsigned i = 0; i < burst; i++) {
		memset(plain[i], (int)i, size);
		src[i] = (struct iovec){plain[i], size};
		dst[i] = (struct iovec){sealed[i], sizeof(sealed[i])};
		memset(&sj[i], 0, sizeof(sj[i]));
		sj[i].conn = &a;
		sj[i].src = &src[i];
		sj[i].src_cnt = 1;
		sj[i].dst = &dst[i];
		sj[i].dst_cnt = 1;
	}
	/* One burst sealed at sequence numbers 0..burst-1 feeds the open
	 * runs; the opener restarts at 0 each time. */
	tls_seal_burst(sj, burst);
	for (unsigned i = 0; i < burst; i++) {
		if (sj[i].status != TLS_OK)
			exit(1);
		osrc[i] = (struct iovec){sealed[i], sj[i].out_len};
		odst[i] = (struct iovec){opened[i], sizeof(opened[i])};
		memset(&oj[i], 0, sizeof(oj[i]));
		oj[i].conn = &b;
		oj[i].src = &osrc[i];
		oj[i].src_cnt = 1;
		oj[i].dst = &odst[i];
		oj[i].dst_cnt = 1;
	}
	t0 = cpu_now();
	w0 = clock_s(CLOCK_MONOTONIC);
	c0 = __rdtsc();
	do {
		for (int rep = 0; rep < 16; rep++) {
			if (seal) {
				if (tls_seal_burst(sj, burst) != burst)
					exit(2);
			} else {
				b.rx.seq = 0;
				if (tls_open_burst(oj, burst) != burst)
					exit(3);
			}
			bytes += size * burst;
		}
		t1 = cpu_now();
	} while (t1 - t0 < seconds);
	c1 = __rdtsc();
	w1 = clock_s(CLOCK_MONOTONIC);
	r.gbps = (double)bytes / (t1 - t0) / 1e9;
	/* TSC cycles of CPU time per byte. */
	tsc_hz = (double)(c1 - c0) / (w1 - w0);
	r.cpb = tsc_hz * (t1 - t0) / (double)bytes;
	tls_conn_fini(&a);
	tls_conn_fini(&b);
	return r;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "ipsec-mb";
	double seconds = argc > 2 ? atof(argv[2]) : 0.3;
	const char *label = name;
	const struct aead_backend *be;
	static const size_t sizes[] = {16384, 1024};
	static const unsigned bursts[] = {1, 8, 32};
	char json[8192];
	size_t jl = 0;

	if (strncmp(name, "cryptodev:", 10) == 0) {
		if (aead_cryptodev_test_eal(name + 10) != 0)
			return 1;
		label = name + 10;
		name = "cryptodev";
	}
	be = aead_backend_find(name);
	if (be == NULL) {
		fprintf(stderr, "backend %s not available\n", name);
		return 1;
	}
	jl += (size_t)snprintf(json + jl, sizeof(json) - jl, "{\"backend\": \"%s\"", label);
	for (size_t s = 0; s < 2; s++) {
		for (size_t b = 0; b < 3; b++) {
			for (int op = 0; op < 2; op++) {
				struct result r = run(be, sizes[s], bursts[b], op == 0, seconds);
				const char *opn = op == 0 ? "seal" : "open";

				printf("%-18s %-4s %6zu B burst %2u: %6.3f GB/s %6.3f cycles/B\n",
				       label, opn, sizes[s], bursts[b], r.gbps, r.cpb);
				jl += (size_t)snprintf(
				    json + jl, sizeof(json) - jl,
				    ", \"%s_%zu_b%u_gbps\": %.4f, \"%s_%zu_b%u_cpb\": %.4f", opn,
				    sizes[s], bursts[b], r.gbps, opn, sizes[s], bursts[b], r.cpb);
			}
		}
	}
	printf("%s, \"tsc_ghz\": %.4f, \"default_backend\": \"%s\"}\n", json, tsc_hz / 1e9,
	       aead_backend_name(aead_backend_default()));
	fflush(stdout);
	return 0;
}
