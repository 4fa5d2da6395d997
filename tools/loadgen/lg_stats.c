#include "lg_stats.h"

#include <math.h>
#include <stdlib.h>

void lg_hist_add(struct lg_hist *h, double seconds)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		uint32_t *us = realloc(h->us, cap * sizeof(*us));
		if (us == NULL) {
			h->failed = 1;
			return;
		}
		h->us = us;
		h->cap = cap;
	}
	double v = seconds * 1e6;
	if (v < 0)
		v = 0;
	if (v > 4e9)
		v = 4e9;
	h->us[h->n++] = (uint32_t)(v + 0.5);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

uint32_t lg_hist_percentile(struct lg_hist *h, double p)
{
	if (h->n == 0)
		return 0;
	qsort(h->us, h->n, sizeof(*h->us), cmp_u32);
	double rank = ceil(p / 100.0 * (double)h->n);
	size_t i = rank < 1 ? 0 : (size_t)rank - 1;
	if (i >= h->n)
		i = h->n - 1;
	return h->us[i];
}

void lg_hist_free(struct lg_hist *h)
{
	free(h->us);
	h->us = NULL;
	h->n = h->cap = 0;
}

const char *lg_error_name(enum lg_error e)
{
	static const char *const names[LG_ERR_COUNT] = {
	    "connect",   "tls",  "reply",   "protocol", "data",
	    "truncated", "size", "content", "timeout",
	};
	return (unsigned)e < LG_ERR_COUNT ? names[e] : "unknown";
}
