"""Process settings for a worker that carries many real-time calls.

Python's cyclic garbage collector stops the event loop while it scans; with 100+ calls a
full (generation 2) scan of every live object takes ~30 ms, which is more than one 20 ms
audio frame for every call at once. `settle_gc()` moves everything alive now (models,
long-lived call objects) out of the collector's view, so later scans only walk young
objects (a few ms). Call it after loading models and after admitting calls; objects
frozen this way are still freed by reference counting when released.
"""

from __future__ import annotations

import gc


def settle_gc() -> None:
    """Collect now, then freeze the survivors so future collections skip them."""
    gc.collect()
    gc.freeze()
