"""Keep the proxy's memory at what it is using: large buffers go back to the OS when freed.

glibc serves a block of 128 KB or more with its own mmap and unmaps it on free, but each
time such a block is freed it raises that threshold to the block's size (up to 32 MB). After
the first few-MB body, every body of that size comes from the heap instead, which rarely
shrinks: under load with 5 MB bodies the RSS ratchets up to the largest burst ever seen and
stays there (`scripts/soak load`: +82 MB after warm-up with 50 clients). Setting the
threshold explicitly turns the adjustment off, and the growth was -19 MB in the same run.

1 MB, not glibc's 128 KB: an mmap and its page faults per buffer cost more than a heap
allocation, and most bodies are smaller; the ones that ratchet the heap are the large ones.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger("ghost")

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
LARGE_BUFFER_BYTES = 1 << 20


def return_large_buffers_to_the_os(threshold: int = LARGE_BUFFER_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes; False where there is no glibc
    (another libc, another OS), which then keeps its own policy."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError) as e:  # musl has no libc.so.6 / no mallopt
        log.debug("large buffers keep the C library's allocation policy: %s", e)
        return False
