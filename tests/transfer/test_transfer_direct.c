/* The upload write path of the transfer engine against a real io_uring and
 * a real file in the build directory: O_DIRECT whole granules, tails carried
 * to the next buffer, an unaligned start that goes direct at a boundary, the
 * fallback to buffered when the pool has no buffer for a tail, the last tail
 * written buffered, how disk errors map to replies, and the uploads to a
 * memory file system made on the lcore, several buffers per pwritev.  No
 * TCP: fill buffers are filled here as opened records would fill them. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include "check.h"
#include "transfer_internal.h"

static uint8_t pattern_byte(uint64_t offset)
{
	return (uint8_t)(offset * 131 + (offset >> 12) * 7 + 1);
}

/* Appends n pattern bytes (continuing at file position *next) to the
 * transfer's fill buffer, taking a buffer when it has none. */
static void fill_more(struct transfer *t, uint32_t n, uint64_t *next)
{
	if (t->fill == NULL) {
		t->fill = transfer_buffer_get(t);
		t->fill_len = 0;
	}
	CHECK(t->fill != NULL);
	if (t->fill == NULL)
		return;
	CHECK(t->fill_len + n <= TRANSFER_BUFFER_STRIDE);
	for (uint32_t i = 0; i < n; i++)
		t->fill->data[t->fill_len + i] = pattern_byte((*next)++);
	t->fill_len += n;
}

/* Submits what is queued and completes every write of t. */
static void reap(struct transfer *t)
{
	struct transfer_engine *e = t->engine;
	CHECK(io_uring_submit(&e->ring) >= 0);
	e->pending_sqes = 0;
	while (t->inflight > 0) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe(&e->ring, &cqe);
		CHECK_EQ(rc, 0);
		if (rc != 0)
			return;
		struct transfer_io *io = io_uring_cqe_get_data(cqe);
		io->result = cqe->res;
		io->done = true;
		t->inflight--;
		io_uring_cqe_seen(&e->ring, cqe);
		transfer_io_complete(t, io);
	}
}

static uint64_t counter(const struct transfer *t, enum transfer_counter c)
{
	return t->engine->counters[c];
}

static bool file_matches(int fd, uint64_t from, uint64_t to)
{
	static uint8_t buf[1 << 16];
	for (uint64_t off = from; off < to;) {
		size_t n = to - off < sizeof(buf) ? (size_t)(to - off) : sizeof(buf);
		if (pread(fd, buf, n, (off_t)off) != (ssize_t)n)
			return false;
		for (size_t i = 0; i < n; i++)
			if (buf[i] != pattern_byte(off + i))
				return false;
		off += n;
	}
	return true;
}

static struct transfer *new_upload(struct transfer_engine *e, const char *path, uint64_t offset)
{
	struct transfer *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->engine = e;
	t->direction = TRANSFER_RECEIVE_FILE;
	t->state = TRANSFER_RUNNING;
	t->fd = open(path, O_WRONLY | O_CREAT | (offset == 0 ? O_TRUNC : 0), 0644);
	CHECK(t->fd >= 0);
	t->offset = t->start_offset = offset;
	t->limit_end = UINT64_MAX;
	transfer_receive_prepare(t);
	return t;
}

static void end_upload(struct transfer *t)
{
	if (t->fill != NULL)
		transfer_buffer_put(t->engine, t->fill);
	close(t->fd);
	free(t);
}

/* A stream from offset 0 with every case of the O_DIRECT rules. */
static void test_stream(struct transfer_engine *e, const char *path, bool direct_possible)
{
	struct transfer *t = new_upload(e, path, 0);
	if (t == NULL)
		return;
	CHECK_EQ(t->direct_on, direct_possible);
	uint64_t next = 0;

	/* 1. A buffer of 65000 bytes while the pool is empty: no buffer to
	 * carry the 3560-byte tail, nothing in flight, so the whole buffer
	 * goes buffered (a fallback). */
	fill_more(t, 65000, &next);
	struct transfer_buffer *held[TRANSFER_BUFFERS];
	unsigned int nheld = 0;
	while ((held[nheld] = transfer_buffer_get(t)) != NULL)
		nheld++;
	CHECK_EQ(e->free_count, 0);
	CHECK(transfer_submit_fill(t));
	CHECK(t->fill == NULL);
	if (direct_possible) {
		CHECK(!t->direct_on);
		CHECK_EQ(counter(t, TRANSFER_COUNTER_direct_fallbacks), 1);
	}
	reap(t);
	while (nheld > 0)
		transfer_buffer_put(e, held[--nheld]);
	CHECK_EQ(counter(t, TRANSFER_COUNTER_buffered_writes), 1);

	/* 2. Now at 65000 (unaligned): the buffered write stops at the last
	 * boundary in the buffer, the rest is carried. */
	fill_more(t, 69000, &next);
	CHECK(transfer_submit_fill(t));
	if (direct_possible) {
		CHECK_EQ(t->offset, 131072);
		CHECK_EQ(t->fill_len, 65000 + 69000 - 131072);
		CHECK_EQ(counter(t, TRANSFER_COUNTER_tail_carries), 1);
	}
	/* While that write is in flight the switch back to O_DIRECT waits. */
	fill_more(t, 65536, &next);
	if (direct_possible)
		CHECK(!transfer_submit_fill(t));
	reap(t);

	/* 3. On the boundary with nothing in flight: direct again, 64 KiB
	 * written, the 2928-byte tail carried. */
	CHECK(transfer_submit_fill(t));
	if (direct_possible) {
		CHECK(t->direct_on);
		CHECK_EQ(t->fill_len, 2928);
		CHECK_EQ(t->offset % 4096, 0);
	}
	reap(t);
	if (direct_possible) {
		CHECK_EQ(counter(t, TRANSFER_COUNTER_direct_writes), 1);
		CHECK_EQ(counter(t, TRANSFER_COUNTER_direct_bytes), 65536);
	}

	/* 4. Whole granules with nothing to carry: direct, fill emptied. */
	fill_more(t, 16384 * 4 - 2928, &next);
	CHECK(transfer_submit_fill(t));
	CHECK(t->fill == NULL);
	reap(t);

	/* 5. The last tail alone: O_DIRECT cleared, written buffered. */
	fill_more(t, 1234, &next);
	CHECK(transfer_submit_fill(t));
	CHECK(!t->direct_on);
	reap(t);

	CHECK_EQ(t->offset, next);
	CHECK_EQ(counter(t, TRANSFER_COUNTER_bytes_received), next);
	if (direct_possible) {
		CHECK_EQ(counter(t, TRANSFER_COUNTER_direct_writes), 2);
		CHECK_EQ(counter(t, TRANSFER_COUNTER_direct_bytes), 2 * 65536);
		CHECK_EQ(counter(t, TRANSFER_COUNTER_buffered_writes), 3);
		CHECK_EQ(counter(t, TRANSFER_COUNTER_direct_uploads), 1);
	}
	CHECK(t->state == TRANSFER_RUNNING);
	struct stat st;
	CHECK(fstat(t->fd, &st) == 0 && (uint64_t)st.st_size == next);
	int check_fd = open(path, O_RDONLY);
	CHECK(check_fd >= 0 && file_matches(check_fd, 0, next));
	close(check_fd);
	CHECK_EQ(e->free_count, TRANSFER_BUFFERS);
	end_upload(t);
}

/* A start at an odd offset is counted and keeps the flag off. */
static void test_unaligned_start(struct transfer_engine *e, const char *path, bool direct_possible)
{
	uint64_t before = e->counters[TRANSFER_COUNTER_direct_unaligned_start];
	struct transfer *t = new_upload(e, path, 12345);
	if (t == NULL)
		return;
	CHECK(!t->direct_on);
	if (direct_possible)
		CHECK_EQ(e->counters[TRANSFER_COUNTER_direct_unaligned_start], before + 1);
	end_upload(t);
}

/* Disk errors: full file system and quota 452, too large 552, anything
 * else a local I/O error (451), never a "connection lost". */
static void test_error_mapping(struct transfer_engine *e, const char *path)
{
	static const int in[] = {ENOSPC, EDQUOT, EFBIG, EIO, EINVAL, EBADF};
	static const int out[] = {ENOSPC, EDQUOT, EFBIG, EIO, EIO, EIO};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct transfer *t = new_upload(e, path, 0);
		if (t == NULL)
			return;
		transfer_fail_disk(t, in[i]);
		CHECK(t->state == TRANSFER_FINISHED);
		CHECK_EQ(t->status, out[i]);
		end_upload(t);
	}
	CHECK_EQ(e->counters[TRANSFER_COUNTER_disk_full], 2);
	CHECK_EQ(e->counters[TRANSFER_COUNTER_io_errors], 4);
}

/* A file on tmpfs: full buffers wait in the batch, and one pwritev writes
 * all of them; then a file-size limit cuts a batch midway, and the writes
 * from there on fail with its errno (552) while the ones before it count. */
static void test_inline_batch(struct transfer_engine *e, const char *path)
{
	struct transfer *t = new_upload(e, path, 0);
	if (t == NULL)
		return;
	t->inline_io = transfer_file_in_memory(t->fd);
	CHECK(t->inline_io);
	uint64_t next = 0;
	uint64_t calls = counter(t, TRANSFER_COUNTER_inline_write_calls);
	uint64_t received = counter(t, TRANSFER_COUNTER_bytes_received);
	for (unsigned int i = 0; i < t->max_writes; i++) {
		fill_more(t, TRANSFER_BUFFER_SIZE, &next);
		CHECK(transfer_submit_fill(t));
	}
	CHECK_EQ(t->batch_count, t->max_writes);
	struct stat st;
	CHECK(fstat(t->fd, &st) == 0 && st.st_size == 0); /* nothing written yet */
	transfer_write_batch(t);
	CHECK_EQ(t->batch_count, 0);
	CHECK_EQ(counter(t, TRANSFER_COUNTER_inline_write_calls), calls + 1);
	CHECK_EQ(transfer_complete_inline(e), t->max_writes);
	CHECK_EQ(counter(t, TRANSFER_COUNTER_bytes_received), received + next);
	CHECK(fstat(t->fd, &st) == 0 && (uint64_t)st.st_size == next);
	int check_fd = open(path, O_RDONLY);
	CHECK(check_fd >= 0 && file_matches(check_fd, 0, next));
	close(check_fd);

	/* The limit falls inside the third buffer of the next batch. */
	uint64_t limit = next + 2 * TRANSFER_BUFFER_SIZE + 1000;
	struct rlimit old_limit;
	CHECK(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
	struct rlimit new_limit = {.rlim_cur = limit, .rlim_max = old_limit.rlim_max};
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &new_limit) == 0);
	uint64_t before = counter(t, TRANSFER_COUNTER_bytes_received);
	for (unsigned int i = 0; i < 4; i++) {
		fill_more(t, TRANSFER_BUFFER_SIZE, &next);
		CHECK(transfer_submit_fill(t));
	}
	transfer_write_batch(t);
	CHECK_EQ(transfer_complete_inline(e), 4);
	CHECK(setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
	signal(SIGXFSZ, old_handler);
	CHECK(t->state == TRANSFER_FINISHED);
	CHECK_EQ(t->status, EFBIG);
	CHECK_EQ(counter(t, TRANSFER_COUNTER_bytes_received), before + 2 * TRANSFER_BUFFER_SIZE);
	CHECK_EQ(t->inflight, 0);
	CHECK_EQ(e->free_count, TRANSFER_BUFFERS);
	end_upload(t);
	unlink(path);
}

/* Without hugepages EAL leaves its config and memory maps (a few MiB of
 * tmpfs) in the process's own runtime directory: remove them. */
static void remove_runtime_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *entry;
	while ((entry = readdir(d)) != NULL)
		if (entry->d_name[0] != '.')
			unlinkat(dirfd(d), entry->d_name, 0);
	closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	(void)argc;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "xfer-unit-%d", (int)getpid());
	char *eal[] = {argv[0], "--no-pci", "--no-huge", "-m",          "256",   "--file-prefix",
	               prefix,  "-l",       "0",         "--log-level", "error", "--no-telemetry"};
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	char error[256] = "";
	struct transfer_engine *e =
	    transfer_engine_create(0, (int)rte_socket_id(), error, sizeof(error));
	CHECK(e != NULL);
	if (e == NULL) {
		fprintf(stderr, "engine: %s\n", error);
		rte_eal_cleanup();
		return check_finish("transfer-direct");
	}
	const char *dir = getenv("FTPS_BUILD_DIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/test-transfer-direct.%d.bin", dir ? dir : ".",
	         (int)getpid());
	/* Does this file system do direct I/O at all?  The rules are checked
	 * in full only where it does; elsewhere the bytes must still be right. */
	int probe = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	bool direct_possible = probe >= 0;
	if (probe >= 0)
		close(probe);
	printf("direct I/O in %s: %s\n", dir ? dir : ".", direct_possible ? "yes" : "no");

	test_stream(e, path, direct_possible);
	test_unaligned_start(e, path, direct_possible);
	test_error_mapping(e, path);
	char memory_path[128];
	snprintf(memory_path, sizeof(memory_path), "/dev/shm/test-transfer-inline.%d.bin",
	         (int)getpid());
	test_inline_batch(e, memory_path);

	unlink(path);
	transfer_engine_destroy(e);
	char runtime_dir[PATH_MAX];
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	remove_runtime_dir(runtime_dir);
	return check_finish("transfer-direct");
}
