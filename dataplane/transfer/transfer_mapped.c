/* Downloads of files in memory (tmpfs, ramfs) sealed straight from the page
 * cache: the AEAD pass reads a read-only shared mapping of the file, so the
 * copy into an I/O buffer (pread) goes away and each byte is touched once.
 *
 * A mapping must never see the file shrink: a page cut off by a truncation
 * would raise SIGBUS in the middle of the cipher.  So a download is mapped
 * only while it holds a read lease (F_SETLEASE F_RDLCK): the kernel grants
 * it only when nobody has the file open for writing, and whoever then opens
 * it for writing or truncates it waits until we let go.  The kernel tells
 * us with a signal; the handler only counts, and the lcore's next poll
 * unmaps the transfer, drops its lease (the writer goes on) and continues
 * it from the same offset with ordinary reads -- which see the file as the
 * writer leaves it, so a shrunk file still fails with 451. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "tcp.h"
#include "transfer_internal.h"

/* Bytes mapped at a time: one mmap and one munmap per window bounds what
 * one download holds mapped.  The pages are not populated at mmap
 * (MAP_POPULATE): that walks the window one 4 KiB page at a time, while the
 * cipher pass's own faults map a whole large folio (or the fault-around
 * span) each.  Measured here (2026-11-29, 1 GiB tmpfs file, huge=within_size,
 * 2 MiB windows, one byte read per page): 64 KiB folios 9.4 GB/s populated,
 * 15.3 GB/s faulted; 1 MiB folios 12.8 and 41.8 GB/s. */
#define TRANSFER_MAP_WINDOW (2u << 20)

static atomic_uint lease_breaks_seen_by_signal;
static atomic_int lease_signal_installed;

static void transfer_lease_signal(int signal, siginfo_t *info, void *context)
{
	(void)signal;
	(void)info;
	(void)context;
	atomic_fetch_add_explicit(&lease_breaks_seen_by_signal, 1, memory_order_relaxed);
}

static int transfer_lease_signal_number(void)
{
	return SIGRTMIN + 4;
}

int transfer_mapped_install_signal(char *error, size_t error_len)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&lease_signal_installed, &expected, 1))
		return 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = transfer_lease_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(transfer_lease_signal_number(), &sa, NULL) != 0) {
		snprintf(error, error_len, "sigaction for the lease-break signal: %s",
		         strerror(errno));
		atomic_store(&lease_signal_installed, 0);
		return -1;
	}
	return 0;
}

static void transfer_unmap_window(struct transfer *t)
{
	if (t->map_window != NULL) {
		munmap(t->map_window, t->map_window_len);
		t->map_window = NULL;
		t->map_window_len = 0;
	}
}

void transfer_mapped_prepare(struct transfer *t)
{
	if (!t->engine->mapped_reads || t->direction != TRANSFER_SEND_FILE || !t->inline_io ||
	    t->expected_end == UINT64_MAX || t->expected_end <= t->offset)
		return;
	/* The lease is the open file description's: ftps-control's own
	 * descriptor (kept until the transfer ends) is the same description,
	 * so it neither conflicts with the lease nor breaks it. */
	if (fcntl(t->fd, F_SETSIG, transfer_lease_signal_number()) != 0 ||
	    fcntl(t->fd, F_SETLEASE, F_RDLCK) != 0) {
		/* EAGAIN: someone has the file open for writing; the download
		 * then reads, and sees a shrinking file as before. */
		transfer_count(t, TRANSFER_COUNTER_mapped_refused, 1);
		return;
	}
	/* The break signal to this lcore's thread alone (the lease set the
	 * whole process as the owner), so no other thread's system call is
	 * interrupted; if that is refused, any thread counts it as well. */
	struct f_owner_ex owner = {.type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid)};
	(void)fcntl(t->fd, F_SETOWN_EX, &owner);
	t->mapped = true;
	transfer_count(t, TRANSFER_COUNTER_mapped_downloads, 1);
}

void transfer_mapped_stop(struct transfer *t)
{
	if (!t->mapped)
		return;
	transfer_unmap_window(t);
	/* A writer may be waiting for this. */
	fcntl(t->fd, F_SETLEASE, F_UNLCK);
	t->mapped = false;
}

void transfer_mapped_check_leases(struct transfer_engine *e)
{
	unsigned int breaks =
	    atomic_load_explicit(&lease_breaks_seen_by_signal, memory_order_relaxed);
	if (breaks == e->lease_breaks_handled)
		return;
	e->lease_breaks_handled = breaks;
	for (struct transfer *t = e->active; t != NULL; t = t->next) {
		/* While a break is pending, F_GETLEASE reports the type the
		 * lease is being broken to. */
		if (t->mapped && fcntl(t->fd, F_GETLEASE) != F_RDLCK) {
			transfer_mapped_stop(t);
			transfer_count(t, TRANSFER_COUNTER_lease_breaks, 1);
		}
	}
}

/* The mapped bytes at offset, at most *len of them (clipped to the window);
 * NULL when the window cannot be mapped. */
static const uint8_t *transfer_mapped_at(struct transfer *t, uint64_t offset, uint32_t *len)
{
	if (t->map_window == NULL || offset < t->map_window_offset ||
	    offset >= t->map_window_offset + t->map_window_len) {
		transfer_unmap_window(t);
		uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
		uint64_t start = offset - offset % page;
		uint64_t end = start + TRANSFER_MAP_WINDOW;
		if (end > t->expected_end)
			end = t->expected_end;
		void *p =
		    mmap(NULL, (size_t)(end - start), PROT_READ, MAP_SHARED, t->fd, (off_t)start);
		if (p == MAP_FAILED)
			return NULL;
		t->map_window = p;
		t->map_window_offset = start;
		t->map_window_len = (size_t)(end - start);
	}
	uint64_t left = t->map_window_offset + t->map_window_len - offset;
	if (*len > left)
		*len = (uint32_t)left;
	return (const uint8_t *)t->map_window + (offset - t->map_window_offset);
}

bool transfer_mapped_send(struct transfer *t)
{
	while (t->mapped && t->offset < t->expected_end && t->state == TRANSFER_RUNNING) {
		uint32_t len = TRANSFER_BUFFER_SIZE;
		if (t->expected_end - t->offset < len)
			len = (uint32_t)(t->expected_end - t->offset);
		/* The engine polls every transfer, so stopping at the
		 * send-ahead needs no wakeup. */
		if (tcp_send_space(t->tcp) < len || tcp_send_ahead_full(t->tcp))
			return false;
		const uint8_t *data = transfer_mapped_at(t, t->offset, &len);
		if (data == NULL) {
			/* Out of address space or mappings: ordinary reads. */
			transfer_count(t, TRANSFER_COUNTER_mapped_refused, 1);
			transfer_mapped_stop(t);
			break;
		}
		if (!transfer_queue_sealed(t, data, len))
			return false;
		t->offset += len;
		transfer_count(t, TRANSFER_COUNTER_mapped_bytes, len);
		if (!transfer_flush_output(t))
			return false;
	}
	if (t->mapped && t->offset >= t->expected_end)
		transfer_mapped_stop(t);
	return t->state == TRANSFER_RUNNING;
}
