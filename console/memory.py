"""Keeping a long-running console's resident memory flat (glibc only; elsewhere a no-op).

The watch threads parse large JSON answers; glibc gives each thread its own malloc
arena (up to 8 per core), and memory freed in them is rarely handed back, so the
console's RSS kept rising for tens of minutes under churn while the Python objects
it holds stayed bounded. Two arenas and a periodic trim keep RSS at what is used.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache

#: mallopt's parameter number for the arena limit (glibc's malloc.h).
_M_ARENA_MAX = -8
#: Arenas for the whole process: the UI thread and the watch threads share two.
ARENAS = 2


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 - glibc has both; musl and macOS do not
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas() -> bool:
    """Call before threads start. Returns whether the limit was set."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, ARENAS))


def trim() -> bool:
    """Give freed heap memory back to the system (a few ms). Returns whether any was."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))


#: Collector thresholds once the cluster is listed: a young generation of 10,000
#: objects (CPython's 700 ran a collection every few watch events), and a full
#: collection only after 2,000 young ones.
GC_THRESHOLDS = (10_000, 20, 100)


def settle_heap() -> None:
    """Call once, after the first full list.

    The store then holds hundreds of thousands of JSON dicts and lists that live
    for minutes. Every full collection walked them all: 0.3-0.6 s with the UI
    thread stopped, several times a minute under churn, which was most of the
    filter box's slow keys in the soak. Frozen objects are skipped by the
    collector (still freed by reference counting when replaced); what the watch
    brings later is collected as usual, rarely.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


#: Seconds between full collections once the heap is settled.
FULL_COLLECTION_S = 300.0


def collect_settled() -> None:
    """A full collection of everything, the settled heap included, then settle again.

    Garbage cycles are freed only by a collection, and what was alive at the last
    freeze is skipped by all of them: footer keys and boxes removed since, for
    instance. One pause of a few hundred milliseconds every FULL_COLLECTION_S keeps
    that bounded, where CPython's own schedule paused several times a minute.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
