"""The in-memory file system the benchmarks keep every server's files on.

A benchmark of FTPS servers should measure the servers, not the storage
under them, and every server should have the same storage.  The
benchmarks therefore mount a private tmpfs for each server's files (the
appliance's data directory, the peers' home directory) and, where the
kernel offers transparent huge pages for tmpfs, mount it with
huge=within_size: on this VM writing a fresh 512 MiB file to a tmpfs of
4 KiB pages ran at 1.5-1.7 GB/s (dd, 1 MiB blocks), and at 6.0-6.4 GB/s
on one of 2 MiB pages, because the kernel allocates, charges and puts on
its LRU lists one page per 4 KiB; reading it back, 4.4 vs 8.9 GB/s.  A
page the VM's balloon has returned to the host costs far more still the
first time it is touched again (0.67-0.82 GB/s for such a write), whatever
the page size, which is one reason figures here move between runs.

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
    unmounts it after (the files go with it).  huge: 2 MiB pages where the
    kernel has them (huge=within_size), else 4 KiB pages.  Yields the page
    size the mount really has, "2 MiB" or "4 KiB"."""
    path = Path(path)
    base = f"size={size_mb}m,mode=0755,uid={uid},gid={gid}"
    pages = "4 KiB"
    r = None
    if huge:
        r = _mount(path, base + ",huge=within_size")
        if r.returncode == 0:
            pages = "2 MiB"
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
