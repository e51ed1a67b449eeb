"""Freed memory goes back to the system, in the processes that run for long (glibc malloc).

glibc serves a large block from its own mmap only while the block is above a threshold, and
that threshold rises to the size of every such block freed (up to 32 MB). After the first page
bodies and parse trees of a few hundred KB are freed, the later ones come from the heap, whose
holes are kept: an extraction worker held 35 MB of them after 950 pages. A fixed threshold
keeps large blocks in mmap (unmapped when freed), and a trim threshold of the same size gives
the heap's free top back as it forms. Small objects are unaffected.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 128 * 1024  # glibc's default starting threshold, kept fixed


def return_freed_memory() -> bool:
    """Set the thresholds (True), or change nothing where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded in this process
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK)) and bool(
        mallopt(M_TRIM_THRESHOLD, LARGE_BLOCK)
    )
