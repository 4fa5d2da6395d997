/* iovec list helpers: sub-ranges, gather and scatter copies. */
#include "iov_util.h"

#include <string.h>

int iov_sub(const struct iovec *v, unsigned cnt, size_t off, size_t len, struct iovec *out,
            unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cnt && len > 0; i++) {
		size_t seg = v[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t take = seg - off < len ? seg - off : len;

		if (n == max)
			return -1;
		out[n].iov_base = (uint8_t *)v[i].iov_base + off;
		out[n].iov_len = take;
		n++;
		len -= take;
		off = 0;
	}
	return len == 0 ? (int)n : -1;
}

static int copy_range(const struct iovec *v, unsigned cnt, size_t off, uint8_t *buf, size_t len,
                      int to_list)
{
	for (unsigned i = 0; i < cnt && len > 0; i++) {
		size_t seg = v[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t take = seg - off < len ? seg - off : len;
		uint8_t *p = (uint8_t *)v[i].iov_base + off;

		if (to_list)
			memcpy(p, buf, take);
		else
			memcpy(buf, p, take);
		buf += take;
		len -= take;
		off = 0;
	}
	return len == 0 ? 0 : -1;
}

int iov_gather(const struct iovec *v, unsigned cnt, size_t off, void *buf, size_t len)
{
	return copy_range(v, cnt, off, buf, len, 0);
}

int iov_scatter(const struct iovec *v, unsigned cnt, size_t off, const void *buf, size_t len)
{
	return copy_range(v, cnt, off, (uint8_t *)buf, len, 1);
}
