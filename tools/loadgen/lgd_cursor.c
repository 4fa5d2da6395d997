/* Positions inside mbuf chains, for framing and opening TLS records where
 * they lie (scatter-gather) in the received chain. */
#include "lgd.h"

#include <string.h>

void lgd_cursor_skip_empty(struct lgd_cursor *cur)
{
	while (cur->m != NULL && cur->off >= cur->m->data_len) {
		cur->off -= cur->m->data_len;
		cur->m = cur->m->next;
	}
}

/* Copies len bytes from the cursor (not moving it); false if the chain is
 * shorter. */
bool lgd_cursor_copy(struct lgd_cursor cur, uint8_t *out, uint32_t len)
{
	lgd_cursor_skip_empty(&cur);
	while (len > 0) {
		if (cur.m == NULL)
			return false;
		uint32_t piece = cur.m->data_len - cur.off;
		if (piece > len)
			piece = len;
		memcpy(out, rte_pktmbuf_mtod_offset(cur.m, uint8_t *, cur.off), piece);
		out += piece;
		len -= piece;
		cur.off += piece;
		lgd_cursor_skip_empty(&cur);
	}
	return true;
}

/* Describes len bytes at the cursor as segments and moves past them;
 * returns how many, 0 when more than max would be needed (cursor kept). */
unsigned int lgd_cursor_iov(struct lgd_cursor *cur, uint32_t len, struct iovec *iov,
                            unsigned int max)
{
	struct lgd_cursor c = *cur;
	unsigned int n = 0;
	lgd_cursor_skip_empty(&c);
	while (len > 0) {
		if (c.m == NULL || n == max)
			return 0;
		uint32_t piece = c.m->data_len - c.off;
		if (piece > len)
			piece = len;
		iov[n++] = (struct iovec){rte_pktmbuf_mtod_offset(c.m, void *, c.off), piece};
		len -= piece;
		c.off += piece;
		lgd_cursor_skip_empty(&c);
	}
	*cur = c;
	return n;
}

void lgd_cursor_advance(struct lgd_cursor *cur, uint32_t len)
{
	lgd_cursor_skip_empty(cur);
	while (len > 0 && cur->m != NULL) {
		uint32_t piece = cur->m->data_len - cur->off;
		if (piece > len)
			piece = len;
		cur->off += piece;
		len -= piece;
		lgd_cursor_skip_empty(cur);
	}
}
