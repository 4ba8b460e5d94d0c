"""A scripted call handler: the worker's stand-in for `CallSession` in dispatch tests and benches.

It asks a fixed list of questions, "collects" an answer per turn, and checkpoints after every
step, the way the real session does. Resumed on another worker, it says one recovery line and
carries on from the checkpoint without asking anything twice. Its words go out as transcripts
(`lk.transcription`) and as a short tone per utterance on the agent's audio output.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from callcenter.audio.frame import AudioFrame
from callcenter.dispatch.job import JobContext

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("name", "May I have your name?"),
    ("account", "What is your account number?"),
    ("zip", "What is your zip code?"),
    ("reason", "How can I help you today?"),
    ("callback", "What is the best number to call you back?"),
)
RECOVERY_LINE = "Sorry, we had a brief technical problem. I still have everything you told me."
GOODBYE = "Thank you, goodbye."
ANSWER_DELAY_S = 0.4


def _tone(ms: float, rate: int, hz: float = 440.0) -> AudioFrame:
    t = np.arange(int(rate * ms / 1000)) / rate
    return AudioFrame((np.sin(2 * np.pi * hz * t) * 3000).astype(np.int16), rate)


async def _say(ctx: JobContext, text: str, state: dict[str, Any]) -> None:
    room = ctx.room
    started = time.monotonic()
    await room.publish_transcript(room.local_identity, text, final=True)
    out = room.audio_output
    await out.capture_frame(_tone(20.0, out.sample_rate))
    ctx.record_turn_latency(time.monotonic() - started)
    state["conversation"].append({"role": "agent", "text": text})


async def scripted_call(ctx: JobContext) -> None:
    """Run (or resume) the scripted call to its end."""
    state: dict[str, Any] = (
        dict(ctx.resume.data)
        if ctx.resume is not None
        else {"turn": 0, "asked": -1, "slots": {}, "conversation": []}
    )
    if ctx.resuming:
        await _say(ctx, RECOVERY_LINE, state)
        await ctx.save_checkpoint(state)
    delay = float(ctx.job.metadata.get("answer_delay_s", ANSWER_DELAY_S))
    for turn in range(int(state["turn"]), len(QUESTIONS)):
        slot, question = QUESTIONS[turn]
        if state["asked"] != turn:  # asked before the crash: the caller is still answering
            await _say(ctx, question, state)
            state["asked"] = turn
            await ctx.save_checkpoint(state)
        await asyncio.sleep(delay)  # the caller answers
        state["slots"][slot] = f"{slot}-answer"
        state["conversation"].append({"role": "caller", "text": f"{slot}-answer"})
        state["turn"] = turn + 1
        await ctx.save_checkpoint(state)
    await _say(ctx, GOODBYE, state)
    await ctx.save_checkpoint(state)
    await ctx.room.audio_output.wait_for_playout()
