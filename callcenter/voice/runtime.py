"""Process settings for a worker that carries many real-time calls.

Python's cyclic garbage collector stops the event loop while it scans; with 100+ calls a
full (generation 2) scan of every live object takes ~30 ms, which is more than one 20 ms
audio frame for every call at once. `settle_gc()` moves everything alive now (models,
long-lived call objects) out of the collector's view, so later scans only walk young
objects (a few ms). Call it after loading models and after admitting calls; objects
frozen this way are still freed by reference counting when released.

`realtime_process()` also shortens the interpreter's GIL switch interval. The batched VAD's
worker thread needs the GIL three times per trip (to start, after the model ran, to hand
the result back), for microseconds each; with the default 5 ms interval it waited up to
5 ms each time behind a busy event loop: at 200 bench calls the VAD's verdict trailed
the audio by 80-116 ms at p90 and 180-200 ms at p99, which held turns open at the
end-of-turn check. At 1 ms it trailed by 49-69 ms at p90 and 78-129 ms at p99 (two runs
each, on a host that was also running other jobs). The event loop's own CPU did not
change measurably: it gives the GIL up only when another thread asks for it.
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL_S = 0.001


def settle_gc() -> None:
    """Collect now, then freeze the survivors so future collections skip them."""
    gc.collect()
    gc.freeze()


def realtime_process() -> None:
    """What a worker process does once its models are loaded: a short GIL switch
    interval (see module docstring), then `settle_gc()`."""
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    settle_gc()
