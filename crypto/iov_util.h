/* Small helpers over iovec lists used by the record layer (internal). */
#ifndef FTPS_CRYPTO_IOV_UTIL_H
#define FTPS_CRYPTO_IOV_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The sub-range [off, off+len) of v as a new list in out (at most max
 * entries, empty segments dropped). Returns the entry count, or -1 when the
 * range is outside v or needs more than max entries. */
int iov_sub(const struct iovec *v, unsigned cnt, size_t off, size_t len, struct iovec *out,
            unsigned max);
/* Copy len bytes at offset off of v to buf (gather) or from buf (scatter).
 * Return 0, or -1 when the range is outside v. */
int iov_gather(const struct iovec *v, unsigned cnt, size_t off, void *buf, size_t len);
int iov_scatter(const struct iovec *v, unsigned cnt, size_t off, const void *buf, size_t len);

#endif
