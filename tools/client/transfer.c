/* Single-file transfers; see transfer.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "transfer.h"

#define XFER_BUF (256 * 1024)

int xfer_sha256_file(const char *path, char hex[65])
{
	int rc = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = malloc(XFER_BUF);
	if (fd < 0 || md == NULL || buf == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf, XFER_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(md, buf, (size_t)n))
			goto out;
	}
	unsigned char out[32];
	unsigned int len = 0;
	if (!EVP_DigestFinal_ex(md, out, &len) || len != 32)
		goto out;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", out[i]);
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(md);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int remote_size(struct ftp_session *s, const char *remote, uint64_t *size)
{
	int code = ftp_cmd(s, "SIZE %s", remote);
	if (code < 0)
		return EXIT_NETWORK;
	if (code != 213 || ftp_parse_size(s->reply, size) != 0)
		*size = SIZE_UNKNOWN;
	return EXIT_OK;
}

/* Compare the whole file with the server: HASH when offered, else size. */
static int verify(struct ftp_session *s, const char *remote, const char *local, const char **how,
                  char *err, size_t err_len)
{
	struct stat st;
	if (stat(local, &st) != 0) {
		snprintf(err, err_len, "cannot stat %s: %s", local, strerror(errno));
		return EXIT_LOCAL;
	}
	if (s->hash_ready) {
		int code = ftp_cmd(s, "HASH %s", remote);
		uint64_t start, end;
		char theirs[65], ours[65];
		if (code < 0)
			return EXIT_NETWORK;
		if (code == 213 && ftp_parse_hash(s->reply, &start, &end, theirs) == 0) {
			if (start != 0 || end != (uint64_t)st.st_size) {
				snprintf(err, err_len, "HASH covered bytes %llu-%llu of %llu",
				         (unsigned long long)start, (unsigned long long)end,
				         (unsigned long long)st.st_size);
				return EXIT_VERIFY;
			}
			if (xfer_sha256_file(local, ours) != 0) {
				snprintf(err, err_len, "cannot read %s to hash it", local);
				return EXIT_LOCAL;
			}
			if (strcmp(ours, theirs) != 0) {
				snprintf(err, err_len, "SHA-256 mismatch: server %s, local %s",
				         theirs, ours);
				return EXIT_VERIFY;
			}
			*how = "sha256";
			return EXIT_OK;
		}
		/* A server may refuse HASH for one file (busy, too large); fall back. */
	}
	uint64_t size;
	int rc = remote_size(s, remote, &size);
	if (rc != EXIT_OK)
		return rc;
	if (size == SIZE_UNKNOWN) {
		*how = "none";
		return EXIT_OK;
	}
	if (size != (uint64_t)st.st_size) {
		snprintf(err, err_len, "size mismatch: server %llu bytes, local %llu bytes",
		         (unsigned long long)size, (unsigned long long)st.st_size);
		return EXIT_VERIFY;
	}
	*how = "size";
	return EXIT_OK;
}

/* Transfer command with an optional REST; returns with the 1xx reply read
 * and TLS up on the data connection. */
static int open_transfer(struct ftp_session *s, struct ftp_data *d, uint64_t offset,
                         const char *verb, const char *path, char *err, size_t err_len)
{
	int rc = ftp_data_connect(s, d);
	if (rc != EXIT_OK)
		goto fail;
	if (offset > 0) {
		int code = ftp_cmd(s, "REST %llu", (unsigned long long)offset);
		if (code != 350) {
			rc = code < 0 ? EXIT_NETWORK : EXIT_REMOTE;
			if (code >= 0)
				snprintf(s->err, sizeof(s->err), "server refused REST: %.400s",
				         s->reply);
			goto fail;
		}
	}
	int code = ftp_cmd(s, "%s %s", verb, path);
	if (code / 100 != 1) {
		rc = code < 0 ? EXIT_NETWORK : EXIT_REMOTE;
		if (code >= 0)
			snprintf(s->err, sizeof(s->err), "%.400s", s->reply);
		goto fail;
	}
	rc = ftp_data_start(s, d);
	if (rc != EXIT_OK)
		goto fail;
	return EXIT_OK;
fail:
	ftp_data_close(d, false);
	snprintf(err, err_len, "%s", s->err);
	return rc;
}

/* Final reply after the data connection closed. */
static int finish_transfer(struct ftp_session *s, int rc, char *err, size_t err_len)
{
	int code = ftp_read_reply(s);
	if (code < 0)
		return rc != EXIT_OK ? rc : (snprintf(err, err_len, "%s", s->err), EXIT_NETWORK);
	if (code / 100 != 2 && rc == EXIT_OK) {
		snprintf(err, err_len, "server reports failure: %.400s", s->reply);
		return EXIT_REMOTE;
	}
	return rc;
}

int xfer_get(struct ftp_session *s, const char *remote, const char *local, uint64_t rsize,
             bool resume, struct progress *p)
{
	const uint64_t listed = rsize; /* size from a listing, or SIZE_UNKNOWN */
	struct file_report r = {.op = "get", .remote = remote, .local = local};
	char err[600] = "";
	double t0 = progress_now();
	int fd = -1, rc;
	unsigned char *buf = NULL;
	uint64_t offset = 0;
	if (rsize == SIZE_UNKNOWN && (rc = remote_size(s, remote, &rsize)) != EXIT_OK) {
		snprintf(err, sizeof(err), "%s", s->err);
		goto done;
	}
	struct stat st;
	if (resume && stat(local, &st) == 0 && S_ISREG(st.st_mode)) {
		offset = (uint64_t)st.st_size;
		if (rsize != SIZE_UNKNOWN && offset == rsize) {
			r.verify = "skipped-complete";
			r.size = rsize;
			progress_plan(p, listed, 0);
			rc = EXIT_OK;
			goto done;
		}
		/* Larger than the remote file: it is not a prefix, start over. */
		if (rsize != SIZE_UNKNOWN && offset > rsize)
			offset = 0;
	}
	/* Open (and create) before asking the server, so a local error costs no
	 * transfer; truncate only once the server has agreed to send, so a
	 * refused RETR leaves an existing file as it was and no new empty one. */
	bool existed = stat(local, &st) == 0;
	fd = open(local, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	buf = fd >= 0 ? malloc(XFER_BUF) : NULL;
	if (fd < 0 || buf == NULL) {
		snprintf(err, sizeof(err), "cannot write %s: %s", local,
		         fd < 0 ? strerror(errno) : "out of memory");
		rc = EXIT_LOCAL;
		goto done;
	}
	struct ftp_data d;
	rc = open_transfer(s, &d, offset, "RETR", remote, err, sizeof(err));
	if (rc != EXIT_OK) {
		if (!existed)
			unlink(local);
		goto done;
	}
	if (ftruncate(fd, (off_t)offset) != 0 || lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		snprintf(err, sizeof(err), "cannot write %s: %s", local, strerror(errno));
		ftp_data_close(&d, false);
		rc = finish_transfer(s, EXIT_LOCAL, err, sizeof(err));
		goto done;
	}
	r.resumed_from = offset;
	progress_plan(p, listed, rsize == SIZE_UNKNOWN ? 0 : rsize - offset);
	for (;;) {
		long n = ftp_data_read(s, &d, buf, XFER_BUF);
		if (n < 0) {
			snprintf(err, sizeof(err), "%s", s->err);
			rc = EXIT_NETWORK;
			break;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				snprintf(err, sizeof(err), "cannot write %s: %s", local,
				         strerror(errno));
				rc = EXIT_LOCAL;
				break;
			}
			off += w;
		}
		if (rc != EXIT_OK)
			break;
		r.bytes += (uint64_t)n;
		progress_add(p, (uint64_t)n);
	}
	bool clean = d.clean_close;
	ftp_data_close(&d, rc == EXIT_OK && clean);
	rc = finish_transfer(s, rc, err, sizeof(err));
	if (rc == EXIT_OK && close(fd) != 0) {
		snprintf(err, sizeof(err), "cannot write %s: %s", local, strerror(errno));
		rc = EXIT_LOCAL;
	}
	fd = -1;
	if (rc == EXIT_OK) {
		rc = verify(s, remote, local, &r.verify, err, sizeof(err));
		/* Without close_notify only a verified length makes the data whole. */
		if (rc == EXIT_OK && !clean && strcmp(r.verify, "none") == 0) {
			snprintf(err, sizeof(err),
			         "data connection ended without TLS "
			         "close_notify and the size cannot be checked");
			rc = EXIT_VERIFY;
		}
	}
	r.size = offset + r.bytes;
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	r.status = rc;
	r.error = rc == EXIT_OK ? NULL : err;
	progress_file(p, &r, progress_now() - t0);
	return rc;
}

int xfer_put(struct ftp_session *s, const char *local, const char *remote, bool resume,
             struct progress *p)
{
	struct file_report r = {.op = "put", .remote = remote, .local = local};
	char err[600] = "";
	double t0 = progress_now();
	int rc = EXIT_OK;
	unsigned char *buf = NULL;
	uint64_t offset = 0;
	struct stat st;
	int fd = open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, sizeof(err), "cannot read %s: %s", local,
		         fd < 0 ? strerror(errno) : "not a regular file");
		rc = EXIT_LOCAL;
		goto done;
	}
	r.size = (uint64_t)st.st_size;
	if (resume) {
		uint64_t rsize;
		rc = remote_size(s, remote, &rsize);
		if (rc != EXIT_OK) {
			snprintf(err, sizeof(err), "%s", s->err);
			goto done;
		}
		if (rsize == (uint64_t)st.st_size) {
			r.verify = "skipped-complete";
			progress_plan(p, (uint64_t)st.st_size, 0);
			goto done;
		}
		if (rsize != SIZE_UNKNOWN && rsize < (uint64_t)st.st_size)
			offset = rsize;
	}
	if (offset && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		snprintf(err, sizeof(err), "cannot seek %s: %s", local, strerror(errno));
		rc = EXIT_LOCAL;
		goto done;
	}
	buf = malloc(XFER_BUF);
	if (buf == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		rc = EXIT_LOCAL;
		goto done;
	}
	struct ftp_data d;
	rc = open_transfer(s, &d, offset, "STOR", remote, err, sizeof(err));
	if (rc != EXIT_OK)
		goto done;
	r.resumed_from = offset;
	progress_plan(p, (uint64_t)st.st_size, (uint64_t)st.st_size - offset);
	for (;;) {
		ssize_t n = read(fd, buf, XFER_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, sizeof(err), "cannot read %s: %s", local, strerror(errno));
			rc = EXIT_LOCAL;
			break;
		}
		if (n == 0)
			break;
		if (ftp_data_write(s, &d, buf, (size_t)n) != EXIT_OK) {
			snprintf(err, sizeof(err), "%s", s->err);
			rc = EXIT_NETWORK;
			break;
		}
		r.bytes += (uint64_t)n;
		progress_add(p, (uint64_t)n);
	}
	/* close_notify only after every byte: it tells the server the upload is whole. */
	ftp_data_close(&d, rc == EXIT_OK);
	rc = finish_transfer(s, rc, err, sizeof(err));
	if (rc == EXIT_OK)
		rc = verify(s, remote, local, &r.verify, err, sizeof(err));
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	r.status = rc;
	r.error = rc == EXIT_OK ? NULL : err;
	progress_file(p, &r, progress_now() - t0);
	return rc;
}
