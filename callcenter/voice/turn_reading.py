"""Ending a caller's turn: endpointing, and reading a turn of several segments as one.

After a VAD speech end the session waits for the segment's FINAL, then for the pause the
endpointing asks for (`endpointing.endpoint_delay`); a new speech start cancels the wait
and the turn goes on. A turn that went on past a pause (`turns.wants_reading`, a number
read in groups) is read again as one utterance by the STT (`STTStream.decode_turn`); that
reading, when there is one, is the turn's text and confidence (`turns.turn_text`,
`turns.turn_confidence`), and its wait is a turn metric.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from callcenter.rooms.clock import Clock
from callcenter.speech import Transcript
from callcenter.voice.endpointing import endpoint_delay
from callcenter.voice.listener import ParticipantListener
from callcenter.voice.settings import VoiceSettings
from callcenter.voice.turns import TurnState, wait_event, wants_reading

# The session's logger: these warnings were the session's before they moved here, and
# whoever filters the voice logs by name keeps seeing them.
log = logging.getLogger("callcenter.voice.session")


class TurnHost(Protocol):
    """What the endpointing reads of its `VoiceSession`, at the moment it needs it (the
    flow may change what it expects while a turn is being ended)."""

    settings: VoiceSettings
    clock: Clock
    stt_timeout: float
    expected_digits: int | None
    expect_yes_no: bool

    def media_now(self) -> float: ...


async def end_of_turn(host: TurnHost, listener: ParticipantListener, turn: TurnState) -> bool:
    """Wait until `turn` is over; True when it is to be committed, False when it was noise
    (no words). A speech start cancels this: the same turn goes on."""
    s = host.settings.endpointing
    while turn.awaiting_finals > 0:
        turn.final_arrived.clear()
        if not await wait_event(host.clock, turn.final_arrived, host.stt_timeout):
            turn.awaiting_finals = 0  # the STT never answered: go on with what we have
    text = turn.text
    if not text:
        return False
    delay = endpoint_delay(text, s, expected_digits=host.expected_digits,
                           yes_no=host.expect_yes_no)
    deadline_ms = turn.speech_end_ms + 1000.0 * delay
    # A turn of several segments is read again as one (`wants_reading`). Where the
    # turn is likely to end here the reading starts now, during the wait; a turn held
    # open for the rest of a number is read only if it does end (one decode a turn).
    reading: asyncio.Task[Transcript | None] | None = None
    if wants_reading(turn.segments) and delay < s.max_delay:
        reading = asyncio.get_running_loop().create_task(listener.stt.decode_turn())
    try:
        wait_ms = deadline_ms - host.media_now()
        if wait_ms > 0:
            await host.clock.sleep(wait_ms / 1000.0)
        # The clock says the pause is long enough, but was it heard? Audio that
        # arrives late (after a loop stall) may hold the caller going on: its speech
        # start cancels this task, as it would have on time.
        await listener.wait_caught_up(deadline_ms, host.clock)
        if wants_reading(turn.segments):
            began = host.clock.now()
            read = await turn_reading(host, listener, reading)
            if read is not None:
                turn.reading, turn.reading_confidence = read.text, read.confidence
            turn.reading_wait_ms = 1000.0 * (host.clock.now() - began)
    finally:
        if reading is not None and not reading.done():
            reading.cancel()  # the caller went on: the turn is read when it ends
    return True


async def turn_reading(
    host: TurnHost, listener: ParticipantListener,
    reading: asyncio.Task[Transcript | None] | None,
) -> Transcript | None:
    """The STT's reading of the whole turn (started now if not yet), at most
    `stt_timeout` away; None when there is none (the segments' texts stand)."""
    if reading is None:
        reading = asyncio.get_running_loop().create_task(listener.stt.decode_turn())
    timer = asyncio.get_running_loop().create_task(host.clock.sleep(host.stt_timeout))
    try:
        await asyncio.wait({reading, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    if not reading.done():
        reading.cancel()
        log.warning("the STT's reading of a turn took over %.1f s: its segments stand",
                    host.stt_timeout)
        return None
    if reading.cancelled():
        return None
    exc = reading.exception()
    if exc is not None:
        log.warning("the STT's reading of a turn failed (%s: %s): its segments stand",
                    type(exc).__name__, exc)
        return None
    return reading.result()
