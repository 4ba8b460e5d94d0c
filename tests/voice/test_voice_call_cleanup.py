"""A finished call leaves nothing behind: no pending task, no suspended async generator,
no object of the call still alive.

A worker runs thousands of calls in one process. Whatever one call leaves pending (an STT
transcript task, a generator suspended mid-iteration) holds the whole call graph until the
cyclic GC finds it, and that collection, with the "Task was destroyed but it is pending"
and "aclose(): asynchronous generator is already running" it prints, lands in the middle
of other calls' audio.
"""

from __future__ import annotations

import asyncio
import gc
import types
import weakref

from callcenter.bench.harness import BenchCall, script_for
from callcenter.rooms.clock import VirtualClock
from callcenter.testing.voices import CallerVoice


def _ours(task: asyncio.Task[object]) -> bool:
    """A task of the call's code (not the virtual clock's own runner)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return (code is not None and "/callcenter/" in code.co_filename
            and code.co_qualname != "VirtualClock._run")


def _our_generators() -> list[types.AsyncGeneratorType[object, object]]:
    return [g for g in gc.get_objects() if isinstance(g, types.AsyncGeneratorType)
            and "/callcenter/" in g.ag_code.co_filename]


async def test_calls_that_ended_leave_no_tasks_generators_or_objects(
    vclock: VirtualClock,
) -> None:
    voice = CallerVoice("espeak", "phone")
    # Turns, then a barge-in; the caller hangs up as soon as the script ends, while the
    # agent may still be speaking (the room closes before the caller's audio ends).
    calls = [
        BenchCall(vclock, voice, script_for(3, 1, seed=i, pause=(0.1, 0.3)), batched_vad=False)
        for i in range(6)
    ]
    before = {t for t in asyncio.all_tasks() if _ours(t)}
    gens_before: weakref.WeakSet[types.AsyncGeneratorType[object, object]] = weakref.WeakSet(
        _our_generators())
    results = await asyncio.gather(*(c.run() for c in calls))
    assert all(r.report.said for r in results)  # the calls really talked
    refs = [weakref.ref(o) for c in calls for o in (c.call, c.session, c.room)]
    del calls, results
    await vclock.sleep(0.1)  # the shared ticker notices its rooms are gone and stops

    left = [t for t in asyncio.all_tasks() if _ours(t) and t not in before]
    assert not left, [t.get_coro() for t in left]
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert not alive, [type(o).__name__ for o in alive]
    gens = [g for g in _our_generators() if g not in gens_before]  # not an earlier test's
    assert not gens, [g.ag_code.co_qualname for g in gens]
