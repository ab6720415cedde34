"""How a long-running server process collects its garbage.

CPython's cyclic collector runs on allocation counts: a young collection after every 700
container objects allocated (net), a middle one every 10 of those, and, when enough has
survived, a full collection that walks every object the process holds, Django's and the
app's modules, templates and URL patterns included. A page that builds thousands of objects
(the figures tab's reports and flags, the claims board's cards) triggered full collections
inside requests, and the request a full collection fell in waited for it: those were the
slowest requests of `make bench` (its p95).

So once a worker has loaded the app (gunicorn.conf.py, `post_worker_init`; bench/pages.py
does the same in its measuring process):

- what is loaded by then is collected once and frozen (`gc.freeze()`): it is the app, never
  garbage, and the collector stops walking it;
- the young generation is collected after YOUNG_THRESHOLD allocations rather than 700, so
  that a request's temporary objects are mostly freed by reference counting, as they go out
  of use, before a collection has to look at them.

Reference cycles are still collected, only less often; the middle and full collections keep
Python's ratios.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def settle_after_startup() -> None:
    """Freeze what the process has loaded and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, full = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, full)
