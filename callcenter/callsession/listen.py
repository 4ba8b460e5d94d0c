"""Waiting for the caller's answer: speech, keypad digits, or silence."""

from __future__ import annotations

from collections.abc import Callable

from callcenter.flow.actions import Listen
from callcenter.flow.events import DtmfReceived, Event, NoInput, UserSaid
from callcenter.voice import (
    AgentInterrupted,
    CallEnded,
    DtmfInput,
    ParticipantGone,
    UserTurn,
    VoiceSession,
)


async def listen(
    voice: VoiceSession,
    action: Listen,
    is_caller: Callable[[str], bool],
    swallow: str | None = None,
) -> tuple[Event | None, str | None]:
    """Collect one answer for `action`, once its prompt has finished. None: the caller is gone.

    Returns the event and a key to swallow at the start of the next listen: a caller who
    filled `dtmf_max_digits` often presses the terminator anyway, and that `#` must not
    become the answer to the next question.

    The no-input timeout counts from the end of the prompt; an answer that barged into the
    prompt is already queued on the voice session and counts. Digits are gathered until the
    terminator, `dtmf_max_digits`, a single-key choice, or a gap of `dtmf_inter_digit_timeout`.
    """
    digits = ""
    timeout = action.timeout
    while True:
        ev = await voice.next_event(timeout)
        match ev:
            case None:
                return (DtmfReceived(digits=digits) if digits else NoInput()), None
            case UserTurn() if is_caller(ev.identity) and "speech" in action.modes and not digits:
                # The recognizer's confidence goes with it: an unsure digit answer is read back.
                return UserSaid(text=ev.text, confidence=ev.confidence), None
            case DtmfInput() if swallow is not None and not digits and ev.digit == swallow:
                swallow = None
            case DtmfInput() if "dtmf" in action.modes:
                swallow = None
                if action.dtmf_terminator and ev.digit == action.dtmf_terminator:
                    if digits:
                        return DtmfReceived(digits=digits), None
                    continue
                digits += ev.digit
                if len(digits) == 1 and ev.digit in action.dtmf_keys:
                    return DtmfReceived(digits=digits), None
                if len(digits) >= action.dtmf_max_digits:
                    return DtmfReceived(digits=digits), action.dtmf_terminator
                timeout = action.dtmf_inter_digit_timeout
            case ParticipantGone() if is_caller(ev.identity):
                return None, None
            case CallEnded():
                return None, None
            case AgentInterrupted() | UserTurn() | DtmfInput() | ParticipantGone():
                continue
