"""Hear a missed answer again before asking the caller to repeat it.

When a caller's turn does not answer the node (the flow would say "Sorry, I didn't catch
that"), the usual cause on the phone is the recognizer, not the caller: Whisper tiny.en
mishears "I want a refund" as "one for reason." A repeat costs the caller five seconds or
more; a second recognizer's reading of the same audio costs a fraction of one (on
`callcenter bench quality`'s tuning parts, taking a second model's reading where the first
was not understood took 102 to 111 lines right of 147).

So before the interpreter commits a caller turn, it asks the flow, without committing,
whether the turn is understood (`misses`: the runner is pure, so a trial step costs
nothing but the classification it may need). Only a turn that misses is heard again, and
a second reading replaces the first only if the flow understands it. The recognizer may
give more than one (its own reading, then a number read at exactly the asked length,
`speech.offline.exact_digits`): they are tried in order and the first understood is taken.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from callcenter.flow.actions import Action, ClassifyIntent, RecordEvent
from callcenter.flow.events import Event, IntentResult
from callcenter.flow.runner import FlowRunner
from callcenter.flow.state import RunnerState

Classify = Callable[[ClassifyIntent], Awaitable[Event]]
# The confidence a reading the second tier took is given to the flow with: the first
# recognizer could not make sense of the turn, so the answer is a recovered guess, and an
# ask node that reads back unsure answers (`confirm_below`, 0.5 for digits) reads it back.
HEARD_AGAIN_CONFIDENCE = 0.3
# A classification may lead to another (an agent node's intent, then a menu's): a bound.
_MAX_ROUNDS = 3


class HearsAgain(Protocol):
    """A channel whose last caller turn can be heard again by a second recognizer."""

    async def hear_again(self) -> list[str]:
        """The last caller turn as a second recognizer reads it, best reading first (the
        flow takes the first it understands); empty when there is none."""
        ...


def _missed(actions: list[Action]) -> bool:
    return any(isinstance(a, RecordEvent) and a.event == "no_match" for a in actions)


async def misses(runner: FlowRunner, state: RunnerState, event: Event,
                 classify: Classify) -> bool:
    """True if the flow, given `event` in `state`, would not understand it (a no-match).

    Nothing is committed: `state` is left as it was (the runner forks it), and the only
    work done is what the flow asks for to understand the turn (intent classification).
    """
    state, actions = runner.step(state, event)
    for _ in range(_MAX_ROUNDS):
        if _missed(actions):
            return True
        ask = next((a for a in actions if isinstance(a, ClassifyIntent)), None)
        if ask is None:
            return False
        result = await classify(ask)
        if not isinstance(result, IntentResult):
            return False  # the classifier failed: the flow's error route, not a repeat
        state, actions = runner.step(state, result)
    return _missed(actions)
