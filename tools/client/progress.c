/* Progress output; see progress.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

double progress_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(double bytes, char *out, size_t len)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", bytes, units[u]);
}

static void draw(struct progress *p)
{
	double el = progress_now() - p->start;
	uint64_t done = atomic_load(&p->bytes_done);
	uint64_t total = atomic_load(&p->bytes_total);
	double rate = el > 0 ? (double)done / el : 0;
	char d[32], t[32], r[32], eta[32] = "--:--";
	human((double)done, d, sizeof(d));
	human((double)total, t, sizeof(t));
	human(rate, r, sizeof(r));
	if (rate > 0 && total > done) {
		long s = (long)((double)(total - done) / rate);
		snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
	}
	int pct = total ? (int)(100.0 * (double)(done < total ? done : total) / (double)total) : 0;
	if (total == 0 && atomic_load(&p->files_done) >= p->files_total)
		pct = 100;
	int width = 20, fill = pct * width / 100;
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	pthread_mutex_lock(&p->lock);
	fprintf(stderr, "\r[%s] %3d%% %s/%s %s/s ETA %s files %u/%u   ", bar, pct, d, t, r, eta,
	        atomic_load(&p->files_done), p->files_total);
	fflush(stderr);
	pthread_mutex_unlock(&p->lock);
}

static void *drawer(void *arg)
{
	struct progress *p = arg;
	while (!atomic_load(&p->stop)) {
		draw(p);
		usleep(200 * 1000);
	}
	return NULL;
}

void progress_start(struct progress *p, enum output_mode mode, unsigned int files, uint64_t bytes)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->files_total = files;
	atomic_store(&p->bytes_total, bytes);
	p->total_known = bytes > 0;
	p->start = progress_now();
	pthread_mutex_init(&p->lock, NULL);
	if (mode == OUTPUT_TTY && pthread_create(&p->drawer, NULL, drawer, p) == 0)
		p->drawing = true;
}

void progress_add(struct progress *p, uint64_t bytes)
{
	atomic_fetch_add(&p->bytes_done, bytes);
}

void progress_plan(struct progress *p, uint64_t listed, uint64_t to_move)
{
	if (!p->total_known)
		atomic_fetch_add(&p->bytes_total, to_move);
	else if (listed != UINT64_MAX && listed > to_move)
		atomic_fetch_sub(&p->bytes_total, listed - to_move);
}

/* JSON string with the escapes RFC 8259 7 requires. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

void progress_file(struct progress *p, const struct file_report *r, double seconds)
{
	if (r->status == EXIT_OK)
		atomic_fetch_add(&p->files_done, 1);
	else
		atomic_fetch_add(&p->files_failed, 1);
	if (r->verify != NULL && strcmp(r->verify, "skipped-complete") == 0)
		atomic_fetch_add(&p->files_skipped, 1);
	pthread_mutex_lock(&p->lock);
	if (p->mode == OUTPUT_JSON) {
		printf("{\"event\":\"file\",\"op\":");
		json_str(stdout, r->op);
		printf(",\"remote\":");
		json_str(stdout, r->remote);
		printf(",\"local\":");
		json_str(stdout, r->local);
		printf(",\"bytes\":%llu,\"resumed_from\":%llu,\"size\":%llu,\"seconds\":%.3f,"
		       "\"verify\":",
		       (unsigned long long)r->bytes, (unsigned long long)r->resumed_from,
		       (unsigned long long)r->size, seconds);
		json_str(stdout, r->verify ? r->verify : "none");
		printf(",\"status\":%d", r->status);
		if (r->error) {
			printf(",\"error\":");
			json_str(stdout, r->error);
		}
		printf("}\n");
		fflush(stdout);
	} else if (p->mode == OUTPUT_PLAIN) {
		if (r->status == EXIT_OK)
			printf("%s %s -> %s: %llu bytes%s in %.3f s, verified by %s\n", r->op,
			       r->op[0] == 'g' ? r->remote : r->local,
			       r->op[0] == 'g' ? r->local : r->remote, (unsigned long long)r->bytes,
			       r->resumed_from ? " (resumed)" : "", seconds,
			       r->verify ? r->verify : "none");
		fflush(stdout);
	}
	if (r->status != EXIT_OK) {
		if (p->mode == OUTPUT_TTY)
			fputc('\n', stderr);
		fprintf(stderr, "ftps-client: %s %s failed: %s\n", r->op,
		        r->op[0] == 'g' ? r->remote : r->local, r->error ? r->error : "error");
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_finish(struct progress *p, int status)
{
	if (p->drawing) {
		atomic_store(&p->stop, true);
		pthread_join(p->drawer, NULL);
		draw(p);
		fputc('\n', stderr);
	}
	double el = progress_now() - p->start;
	uint64_t done = atomic_load(&p->bytes_done);
	double rate = el > 0 ? (double)done / el : 0;
	if (p->mode == OUTPUT_JSON) {
		printf("{\"event\":\"summary\",\"files\":%u,\"failed\":%u,\"skipped\":%u,"
		       "\"bytes\":%llu,\"seconds\":%.3f,\"bytes_per_second\":%.0f,\"status\":%d}\n",
		       atomic_load(&p->files_done), atomic_load(&p->files_failed),
		       atomic_load(&p->files_skipped), (unsigned long long)done, el, rate, status);
	} else {
		char d[32], r[32];
		human((double)done, d, sizeof(d));
		human(rate, r, sizeof(r));
		fprintf(p->mode == OUTPUT_TTY ? stderr : stdout,
		        "%u files done (%u already complete), %u failed, %s in %.2f s (%s/s)\n",
		        atomic_load(&p->files_done), atomic_load(&p->files_skipped),
		        atomic_load(&p->files_failed), d, el, r);
	}
	fflush(stdout);
	pthread_mutex_destroy(&p->lock);
}
