"""The in-memory file system the benchmarks keep every server's files on.

A benchmark of FTPS servers should measure the servers, not the storage
under them, and every server should have the same storage.  The
benchmarks therefore mount a private tmpfs for each server's files (the
appliance's data directory, the peers' home directory) with
huge=within_size where the kernel has it.  On this VM's kernel (6.18) a
tmpfs so mounted backs a file with folios as large as the writes that
fill it, while /dev/shm (huge=never) uses one 4 KiB page at a time, each
allocated, charged and put on an LRU list on its own.  Measured here
(2026-11-29, a 512 MiB file in 64 KiB pwrites, then read back in 1 MiB
reads, three rounds interleaved): huge=within_size 5.6-6.3 GB/s writing
and 10.2-10.6 GB/s reading, /dev/shm 1.7-2.1 and 3.9-5.5 GB/s.  Small
files are unaffected (a 4 KiB file rewritten: 19.6 us vs 18.3 us), where
huge=always gave each one a 2 MiB page (284 us).  Memory that the VM's
balloon has handed back to the host (free page reporting) is slow the
first time it is touched again (0.7-1.3 GB/s writing), whatever the
mount, which is one reason figures here move between runs.

storage_rates() measures what that file system itself does on one core,
so that a STOR or RETR figure can be read against it."""

import contextlib
import os
import subprocess
import time
from pathlib import Path


def _mount(path, options):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True)


@contextlib.contextmanager
def memory_filesystem(path, size_mb=8192, huge=True, uid=0, gid=0):
    """Mounts a tmpfs on the existing directory path for the with-block and
    unmounts it after (the files go with it).  huge: large folios where the
    kernel has them (huge=within_size), else 4 KiB pages.  Yields what the
    mount really has: "huge=within_size" or "4 KiB pages"."""
    path = Path(path)
    base = f"size={size_mb}m,mode=0755,uid={uid},gid={gid}"
    pages = "4 KiB pages"
    r = None
    if huge:
        r = _mount(path, base + ",huge=within_size")
        if r.returncode == 0:
            pages = "huge=within_size"
    if r is None or r.returncode != 0:
        r = _mount(path, base)
        if r.returncode != 0:
            raise RuntimeError(f"cannot mount a tmpfs on {path}: {r.stderr.strip()}")
    try:
        yield pages
    finally:
        # Lazy: a server that has not quite exited must not leave the
        # mount behind; its memory is freed once the last file closes.
        subprocess.run(["umount", "--lazy", str(path)], capture_output=True)


def files_on(path, data_on, huge=True, uid=0, gid=0):
    """Where a benchmarked server keeps its files, as a context manager:
    a memory_filesystem on path when data_on is "tmpfs" (yields its pages),
    else path as it is, on disk (yields None)."""
    if data_on == "tmpfs":
        return memory_filesystem(path, huge=huge, uid=uid, gid=gid)
    return contextlib.nullcontext()


def storage_rates(directory, size_mb, repeat=3, cpu=None):
    """Writes a fresh size_mb file in 1 MiB blocks and reads it back, on one
    CPU (cpu, if given), repeat times; returns the best write and read
    rates in GB/s (10^9 bytes/s).  The file is removed after each round,
    as a STOR's O_TRUNC frees the pages of the file it replaces."""
    block = os.urandom(1 << 20)
    path = Path(directory) / ".storage-rate.bin"
    before = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {int(cpu)})
    best_write = best_read = 0.0
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for _ in range(size_mb):
                    os.write(fd, block)
            finally:
                os.close(fd)
            write = (size_mb << 20) / (time.perf_counter() - t0) / 1e9
            buffer = bytearray(1 << 20)
            t0 = time.perf_counter()
            fd = os.open(path, os.O_RDONLY)
            try:
                while os.readv(fd, [buffer]) > 0:
                    pass
            finally:
                os.close(fd)
            read = (size_mb << 20) / (time.perf_counter() - t0) / 1e9
            path.unlink()
            best_write, best_read = max(best_write, write), max(best_read, read)
    finally:
        path.unlink(missing_ok=True)
        os.sched_setaffinity(0, before)
    return round(best_write, 3), round(best_read, 3)
