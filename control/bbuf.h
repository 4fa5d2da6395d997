/* A bounded growable byte queue: append at the end, consume from the front.
 * Growth stops at a hard cap so a peer can never make us queue without
 * bound. */
#ifndef FTPS_CONTROL_BBUF_H
#define FTPS_CONTROL_BBUF_H

#include <stddef.h>
#include <stdint.h>

struct bbuf {
	uint8_t *data;
	size_t off, len, cap, max;
};

void bbuf_init(struct bbuf *b, size_t max);
void bbuf_free(struct bbuf *b);
/* 0, or -1 if it would exceed max or allocation failed. */
int bbuf_append(struct bbuf *b, const void *p, size_t n);
static inline const uint8_t *bbuf_head(const struct bbuf *b)
{
	return b->data != NULL ? b->data + b->off : (const uint8_t *)"";
}
static inline size_t bbuf_len(const struct bbuf *b)
{
	return b->len;
}
void bbuf_consume(struct bbuf *b, size_t n);

#endif
