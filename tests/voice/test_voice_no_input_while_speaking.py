"""The no-input timer stops while the caller is answering.

Seen in `bench sip` with three calls at once on 2 cores: a caller began the order number
before the six-second no-input timeout, the recognizer (slowed by the other calls) finished
after it, and the agent said "Sorry, I didn't hear anything" over an answer it then took as
the answer to the reprompt. A phone IVR stops the no-input timer at the caller's speech
start; so do we. The timer still fires for a caller who stays silent, and for noise that
never becomes words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from callcenter.voice import UserTurn

MakeCall = Callable[..., Any]


async def test_an_answer_started_before_the_timeout_is_the_answer(make_call: MakeCall) -> None:
    # A slow recognizer: the final comes 2 s after the caller stops, well past the timeout.
    call = make_call(stt_latency=2.0)
    await call.session.start()
    caller = call.caller("""
turns:
  - wait: agent_done
  - wait: 2.0
  - say: "my order number is four eight two nine one three"
  - wait: 6
""")
    task = asyncio.get_running_loop().create_task(caller.run())
    ev = await call.session.ask("Please say your order number.", timeout=3.0)
    assert isinstance(ev, UserTurn), ev
    assert ev.text == "my order number is four eight two nine one three"
    await task


async def test_silence_still_times_out(make_call: MakeCall) -> None:
    call = make_call(stt_latency=2.0)
    await call.session.start()
    caller = call.caller("""
turns:
  - wait: agent_done
  - wait: 5
""")
    task = asyncio.get_running_loop().create_task(caller.run())
    start = call.clock.now()
    assert await call.session.ask("Please say your order number.", timeout=3.0) is None
    assert call.clock.now() - start < 8.0  # the prompt and the 3 s, not a grace on top
    await task
