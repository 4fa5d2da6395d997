/* Plain driver for the libFuzzer targets, so the default gcc build runs
 * them too: replays every file in a corpus directory, then feeds mutated
 * corpus entries and random inputs for a bounded time.
 *   fuzz_driver CORPUS_DIR SECONDS [SEED] */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX_INPUT 40000
#define MAX_CORPUS       256

static uint64_t rng;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint8_t *corpus[MAX_CORPUS];
static size_t corpus_len[MAX_CORPUS];
static size_t n_corpus;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static uint8_t in[DRIVER_MAX_INPUT];
	if (argc < 3) {
		fprintf(stderr, "usage: %s CORPUS_DIR SECONDS [SEED]\n", argv[0]);
		return 2;
	}
	double seconds = atof(argv[2]);
	rng = argc > 3 ? strtoull(argv[3], NULL, 0) : (uint64_t)time(NULL);
	if (rng == 0)
		rng = 1;
	printf("seed %llu\n", (unsigned long long)rng);
	DIR *d = opendir(argv[1]);
	if (d == NULL) {
		perror(argv[1]);
		return 2;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n_corpus < MAX_CORPUS) {
		char path[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		size_t n = fread(in, 1, sizeof(in), f);
		fclose(f);
		corpus[n_corpus] = malloc(n ? n : 1);
		if (corpus[n_corpus] == NULL)
			return 1;
		memcpy(corpus[n_corpus], in, n);
		corpus_len[n_corpus++] = n;
		LLVMFuzzerTestOneInput(in, n);
	}
	closedir(d);
	printf("replayed %zu corpus files\n", n_corpus);
	double end = now_s() + seconds;
	unsigned long runs = 0;
	while (now_s() < end) {
		for (int k = 0; k < 1000; k++, runs++) {
			size_t n;
			if (n_corpus && (next_rand() & 3) != 0) {
				size_t c = next_rand() % n_corpus;
				n = corpus_len[c];
				memcpy(in, corpus[c], n);
				unsigned muts = 1 + next_rand() % 8;
				for (unsigned m = 0; m < muts; m++) {
					uint64_t r = next_rand();
					switch (r % 4) {
					case 0: /* flip a byte */
						if (n)
							in[(r >> 8) % n] = (uint8_t)(r >> 32);
						break;
					case 1: /* truncate */
						if (n)
							n = (r >> 8) % n;
						break;
					case 2: /* grow with a repeated byte */
						if (n < DRIVER_MAX_INPUT - 600) {
							size_t add = (r >> 8) % 600;
							memset(in + n, (int)(r >> 40), add);
							n += add;
						}
						break;
					default: /* splice another corpus entry */
						if (n_corpus) {
							size_t o = (r >> 8) % n_corpus;
							size_t add = corpus_len[o];
							if (n + add < DRIVER_MAX_INPUT) {
								memcpy(in + n, corpus[o], add);
								n += add;
							}
						}
						break;
					}
				}
			} else {
				n = next_rand() % 2048;
				for (size_t i = 0; i < n; i++)
					in[i] = (uint8_t)next_rand();
			}
			LLVMFuzzerTestOneInput(in, n);
		}
	}
	printf("%lu inputs in %.1f s, no crash\n", runs, seconds);
	for (size_t i = 0; i < n_corpus; i++)
		free(corpus[i]);
	return 0;
}
