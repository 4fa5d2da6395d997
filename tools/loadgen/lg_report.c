/* The report: a human table on stdout and, with --json, one JSON object on
 * the last line holding every figure. */
#include "loadgen.h"

static const char *const workload_names[] = {"retr", "stor", "small", "list"};

struct lat_row {
	const char *name;
	struct lg_hist *h;
};

void lg_report(struct lg_run *run, double seconds, double xfer_seconds, double cpu_seconds)
{
	uint64_t bytes = run->bytes_down + run->bytes_up;
	double secs = xfer_seconds > 0 ? xfer_seconds : 1e-9;
	double gb_s = (double)bytes / secs / 1e9;
	double files_s = (double)run->files / secs;
	double cpu_ns_per_byte = bytes ? cpu_seconds * 1e9 / (double)bytes : 0;
	uint64_t errors = 0;
	for (int e = 0; e < LG_ERR_COUNT; e++)
		errors += run->errors[e];
	struct lat_row rows[] = {
	    {"connect", &run->lat_connect},
	    {"tls_handshake", &run->lat_handshake},
	    {"first_byte", &run->lat_first_byte},
	    {"transfer", &run->lat_transfer},
	};
	const int nrows = (int)(sizeof(rows) / sizeof(rows[0]));
	uint32_t pct[4][3];
	for (int i = 0; i < nrows; i++) {
		pct[i][0] = lg_hist_percentile(rows[i].h, 50);
		pct[i][1] = lg_hist_percentile(rows[i].h, 90);
		pct[i][2] = lg_hist_percentile(rows[i].h, 99);
	}

	printf("ftps-loadgen (%s): %s, %d sessions, %.3f s (transfers %.3f s)\n",
	       run->mode != NULL ? run->mode : "kernel", workload_names[run->opt.workload],
	       run->opt.sessions, seconds, xfer_seconds);
	printf("  %-22s %llu (down %llu, up %llu)\n", "bytes", (unsigned long long)bytes,
	       (unsigned long long)run->bytes_down, (unsigned long long)run->bytes_up);
	printf("  %-22s %.3f Gbit/s  %.3f GB/s\n", "throughput", gb_s * 8, gb_s);
	printf("  %-22s %llu files, %llu transfers, %.1f files/s\n", "files",
	       (unsigned long long)run->files, (unsigned long long)run->transfers, files_s);
	printf("  %-22s %llu resumed, %llu not resumed; %llu TLS 1.3, %llu TLS 1.2\n",
	       "data TLS sessions", (unsigned long long)run->resumed,
	       (unsigned long long)run->not_resumed, (unsigned long long)run->data_tls13,
	       (unsigned long long)run->data_tls12);
	printf("  %-22s %.3f s, %.3f ns/byte\n", "CPU (user+sys)", cpu_seconds, cpu_ns_per_byte);
	if (run->have_cycles)
		printf("  %-22s %.3f cycles/byte (%.3f in busy loops)\n", "lcore TSC",
		       run->cycles_per_byte, run->busy_cycles_per_byte);
	printf("  %-22s %10s %10s %10s %8s\n", "latency (us)", "p50", "p90", "p99", "n");
	for (int i = 0; i < nrows; i++)
		printf("  %-22s %10u %10u %10u %8zu\n", rows[i].name, pct[i][0], pct[i][1],
		       pct[i][2], rows[i].h->n);
	printf("  %-22s %llu", "errors", (unsigned long long)errors);
	for (int e = 0; e < LG_ERR_COUNT; e++)
		if (run->errors[e])
			printf(" %s=%llu", lg_error_name((enum lg_error)e),
			       (unsigned long long)run->errors[e]);
	printf("\n");
	if (!run->opt.json)
		return;
	printf("{\"mode\": \"%s\", \"workload\": \"%s\", \"sessions\": %d, \"seconds\": %.6f, "
	       "\"transfer_seconds\": %.6f, \"bytes\": %llu, "
	       "\"bytes_down\": %llu, \"bytes_up\": %llu, \"gbit_s\": %.4f, \"gb_s\": %.4f, "
	       "\"files\": %llu, \"transfers\": %llu, \"files_s\": %.2f, \"resumed\": %llu, "
	       "\"not_resumed\": %llu, \"data_tls13\": %llu, \"data_tls12\": %llu, "
	       "\"cpu_s\": %.4f, \"cpu_ns_per_byte\": %.4f",
	       run->mode != NULL ? run->mode : "kernel", workload_names[run->opt.workload],
	       run->opt.sessions, seconds, xfer_seconds, (unsigned long long)bytes,
	       (unsigned long long)run->bytes_down, (unsigned long long)run->bytes_up, gb_s * 8,
	       gb_s, (unsigned long long)run->files, (unsigned long long)run->transfers, files_s,
	       (unsigned long long)run->resumed, (unsigned long long)run->not_resumed,
	       (unsigned long long)run->data_tls13, (unsigned long long)run->data_tls12,
	       cpu_seconds, cpu_ns_per_byte);
	if (run->have_cycles)
		printf(", \"cycles_per_byte\": %.4f, \"busy_cycles_per_byte\": %.4f",
		       run->cycles_per_byte, run->busy_cycles_per_byte);
	/* Seconds from the start: all logins ended, then the first transfer
	 * began (never before: see lg_run.logging_in). */
	printf(", \"logins_end_s\": %.6f, \"first_transfer_s\": %.6f",
	       run->t_logins_end > 0 ? run->t_logins_end - run->t_start : 0,
	       run->t_first_op > 0 ? run->t_first_op - run->t_start : 0);
	printf(", \"latency_us\": {");
	for (int i = 0; i < nrows; i++)
		printf("%s\"%s\": {\"p50\": %u, \"p90\": %u, \"p99\": %u, \"n\": %zu}",
		       i ? ", " : "", rows[i].name, pct[i][0], pct[i][1], pct[i][2], rows[i].h->n);
	printf("}, \"errors\": {");
	for (int e = 0; e < LG_ERR_COUNT; e++)
		printf("%s\"%s\": %llu", e ? ", " : "", lg_error_name((enum lg_error)e),
		       (unsigned long long)run->errors[e]);
	printf("}, \"errors_total\": %llu}\n", (unsigned long long)errors);
}
