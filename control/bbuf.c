#include "bbuf.h"

#include <stdlib.h>
#include <string.h>

void bbuf_init(struct bbuf *b, size_t max)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	b->max = max;
}

void bbuf_free(struct bbuf *b)
{
	free(b->data);
	bbuf_init(b, b->max);
}

int bbuf_append(struct bbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > b->max || b->len > b->max - n)
		return -1;
	if (b->off + b->len + n > b->cap) {
		if (b->off > 0) { /* compact first */
			memmove(b->data, b->data + b->off, b->len);
			b->off = 0;
		}
		if (b->len + n > b->cap) {
			size_t cap = b->cap ? b->cap : 4096;
			while (cap < b->len + n)
				cap *= 2;
			uint8_t *d = realloc(b->data, cap);
			if (d == NULL)
				return -1;
			b->data = d;
			b->cap = cap;
		}
	}
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

void bbuf_consume(struct bbuf *b, size_t n)
{
	if (n >= b->len) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}
