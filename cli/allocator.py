"""glibc's allocator, set for a process that streams large buffers.

A download or a render moves megabytes through buffers of 64 KiB to 1 MiB (database rows, gRPC
messages, socket writes), each allocated and freed within a few microseconds. With glibc's defaults
those buffers keep going back to the kernel: a freed buffer at the top of a heap beyond twice the
last mmapped size is trimmed, larger ones are mmapped and unmapped each time, and the next buffer of
the same size faults its pages in again, zeroed. A profile of a cached 10 MB download had page faults
and zeroing at 12-15 % of both the exports service and the gateway; with the settings below a
download takes about a third less CPU in each (per 10 MB: exports 12-13 -> 8-9 ms, gateway 11-13 ->
8-9 ms), and the cached figure of `bench exports` went from 442 to 572-610 MB/s.

The cost is memory kept for reuse: each heap holds at most TRIM_THRESHOLD_BYTES free above what it
uses before returning it. glibc keeps a heap for each thread that allocated while the others' were
busy (up to eight per core); capping their number (M_ARENA_MAX 4) was tried and dropped: it made the
threads of gRPC's event engine share heaps and locks, for no measured gain.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger("depot")

# mallopt's parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Buffers up to this size come from the heaps and are reused (setting it also stops glibc from moving
# the threshold by itself); a stream's buffers (stored chunks and messages of 1 MiB at most) are well
# under it.
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
# Free memory at the top of a heap goes back to the kernel only beyond this.
TRIM_THRESHOLD_BYTES = 16 * 1024 * 1024


def reuse_large_buffers() -> bool:
    """Sets the thresholds; False where the C library is not glibc (it has no mallopt)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    done = all([mallopt(parameter, value) == 1 for parameter, value in settings])  # a list: each one is set
    if not done:
        log.warning("allocator_not_set")
    return done
