"""Reading back an answer the recognizer was unsure of, before it is stored.

An order number misheard by one digit sends the caller down the wrong path (a lookup of
someone else's order, a "no such order"), and they find out late. When an ask node's
answer was spoken and recognized with a confidence below the node's `confirm_below`, the
agent says it back ("I heard four eight two, nine one three. Is that right?") and listens
for a yes or no before storing it:

- yes (by meaning, `values.yes_no`; keypad 1; or the same answer said again): the slot is
  set and the flow goes on exactly as for an answer taken at once;
- no (keypad 2): "Sorry about that." and the question again, as a retry of the node; a no
  with a new valid answer ("no, it's 4 8 2 9 1 4"), or just the new answer, is taken as
  it is, since the caller has just corrected it;
- unclear or silence: the confirmation once more, then it counts as a no;
- a full keypad answer valid for the node is taken (keys are exact: never read back).

The pending answer lives in `RunnerState.readback`, so a worker that resumes the call
from its checkpoint mid-confirmation knows what a "yes" confirms.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from callcenter.flow import templates, values
from callcenter.flow.actions import Listen, Say
from callcenter.flow.events import DtmfReceived, NoInput, UserSaid
from callcenter.flow.nodes import AskNode, MenuNode
from callcenter.flow.speakable import say_digit_groups, speakable
from callcenter.flow.state import Readback
from callcenter.flow.walk import StepBase

# Spoken digit answers are read back below this recognizer confidence unless the node says
# otherwise. Offline Whisper's confidence is exp(mean token logprob) of the reading. On
# `callcenter bench quality`'s tuning parts every wrong digit value the flow took scored
# 0.21-0.48 (or came from the second hearing, `callsession.second_hearing`, which gives
# 0.3), right ones 0.28-0.79: under 0.5, all wrong ones and half the right ones are read
# back; a few seconds of "yes" against a wrong order number stored.
DIGITS_CONFIRM_BELOW = 0.5
# Dates and times are read back when they were recovered by the second hearing (which
# gives 0.3) or read as unsurely: on the tuning parts, half the dates and times the second
# hearing recovered were wrong (base echoing its prompt, "A quarter past 10 AM."), while
# the first reading's right values scored above this but for a few.
DATE_TIME_CONFIRM_BELOW = 0.31
DEFAULT_READBACK = "I heard {{value}}. Is that right?"
SORRY = "Sorry about that."
# Said before the confirmation when it is asked a second time (unclear answer, silence).
AGAIN = "Please say yes or no."
# An unclear reply or silence asks once more; the next one counts as a no.
MAX_ASKED = 2
# A leading no and the words that introduce the right answer: "no, it's 4 8 2 ...".
_NO_LEAD = re.compile(
    r"^\W*(?:no|nope|nah|wrong|incorrect|not right|that's wrong|that's not right)\b\W*"
    r"(?:(?:it's|it is|that's|i said|the number is|it should be)\b\W*)?", re.IGNORECASE)


def confirm_below(node: AskNode) -> float | None:
    """The confidence under which this node's spoken answer is read back (None: never)."""
    if "confirm_below" in node.model_fields_set:
        return node.confirm_below
    return {"digits": DIGITS_CONFIRM_BELOW, "date": DATE_TIME_CONFIRM_BELOW,
            "time": DATE_TIME_CONFIRM_BELOW}.get(node.expect)


def say_value(node: AskNode, value: Any, today: dt.date | None) -> str:
    """The answer as a person reads it back: digits in groups, dates and times in words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if node.expect == "digits" and text.isdigit():
        return say_digit_groups(text)
    return speakable(text, today)


class ReadbackSteps(StepBase):
    """Read-back and its confirmation (mixed into the runner's `Step`)."""

    def confirming(self, node: AskNode, event: UserSaid | DtmfReceived | NoInput) -> bool:
        """Note the turn's confidence; True when `event` answers a read-back (done here)."""
        if not isinstance(event, NoInput):
            self.st.turn_confidence = event.confidence if isinstance(event, UserSaid) else 1.0
        if self.st.readback is None:
            return False
        if isinstance(event, NoInput):
            self.readback_unclear(node, "no_input")
            return True
        from_dtmf = isinstance(event, DtmfReceived)
        text = event.digits if isinstance(event, DtmfReceived) else event.text
        self.record("caller_input", node=self.st.node, text=text, dtmf=from_dtmf)
        if from_dtmf:
            self.readback_keys(node, text)
        elif not self.wants_human(text, node):
            self.readback_reply(node, text, classified=False)
        return True

    def heard(self, node: AskNode, value: Any, from_dtmf: bool) -> None:
        """A valid answer: stored now, or read back first when it was heard unsurely."""
        below = confirm_below(node)
        confidence = 1.0 if from_dtmf else self.st.turn_confidence
        if below is None or confidence >= below:
            self.accept(node, value)
            return
        self.st.readback = Readback(value=value, confidence=confidence)
        self.record("readback", slot=node.slot, value=value, confidence=confidence)
        self.ask_readback(node)

    def accept(self, node: AskNode, value: Any, how: str | None = None) -> None:
        if how is not None:
            self.record("readback_confirmed", node=self.st.node, slot=node.slot, value=value,
                        how=how)
        self.st.readback = None
        self.set_slot(node.slot, value)
        self.say(node.confirm)
        self.goto(node.next)

    def ask_readback(self, node: AskNode, again: bool = False) -> None:
        pending = self.st.readback
        assert pending is not None
        scope = self.scope()
        today = self.st.now.date() if self.st.now is not None else None
        template = node.readback or DEFAULT_READBACK
        said = templates.render(template, {**scope, "value": say_value(node, pending.value,
                                                                        today)}, spoken=True)
        written = templates.render(template, {**scope, "value": pending.value})
        if again:
            said, written = f"{AGAIN} {said}", f"{AGAIN} {written}"
        self.actions.append(Say(text=said, display=written if written != said else None))
        # 1 = yes, 2 = no end the entry at once; a full answer is keyed as the node's is.
        self.actions.append(Listen(
            slot=node.slot, timeout=node.timeout, dtmf_keys=["1", "2"],
            dtmf_terminator=node.dtmf.terminator, dtmf_max_digits=node.dtmf.max_digits,
            dtmf_inter_digit_timeout=node.dtmf.inter_digit_timeout,
            expect_yes_no=True, expect="yes_no"))
        self.wait("input")

    def readback_keys(self, node: AskNode, keys: str) -> None:
        pending = self.st.readback
        assert pending is not None
        if node.dtmf.terminator:
            keys = keys.split(node.dtmf.terminator)[0]
        if keys == "1":
            self.accept(node, pending.value, "keypad")
            return
        if keys == "2":
            self.readback_rejected(node)
            return
        value = self.parsed(node, keys, from_dtmf=True)
        if value is not None and "dtmf" in node.input:
            self.accept(node, value, "keypad_answer")
        else:
            self.readback_unclear(node, "no_match")

    def classified_answer(self, node: AskNode, text: str) -> None:
        """A spoken answer the classifier found no person request in: the node's answer,
        or the reply to its read-back."""
        if self.st.readback is not None:
            self.readback_reply(node, text, classified=True)
        else:
            self.answer(node, text, False)

    def readback_reply(self, node: AskNode, text: str, *, classified: bool) -> None:
        """A spoken reply to the read-back (`classified`: already checked for a request
        for a person said in other words)."""
        pending = self.st.readback
        assert pending is not None
        verdict = values.yes_no(text)
        if verdict is True:
            self.accept(node, pending.value, "yes")
            return
        # A yes/no node's own answers are yes and no: nothing else can correct them.
        rest = _NO_LEAD.sub("", text) if verdict is False else text
        value = None if node.expect in ("yes_no", "text") or not rest.strip() else (
            self.parsed(node, rest, from_dtmf=False))
        if value is not None:
            self.accept(node, value, "repeated" if value == pending.value else "corrected")
        elif verdict is False:
            self.readback_rejected(node)
        elif not classified and self.flow.handlers.human_request is not None:
            # Not a yes, a no or an answer: it may be "I want a manager" said another way.
            self.classify(node, text, {})
        else:
            self.readback_unclear(node, "no_match")

    def readback_unclear(self, node: AskNode, why: str) -> None:
        pending = self.st.readback
        assert pending is not None
        self.record("readback_unclear", node=self.st.node, slot=node.slot, why=why,
                    asked=pending.asked)
        if pending.asked >= MAX_ASKED:
            self.readback_rejected(node)
            return
        self.st.readback = pending.model_copy(update={"asked": pending.asked + 1})
        self.ask_readback(node, again=True)

    def readback_rejected(self, node: AskNode) -> None:
        """Not what the caller said: the question again, as a retry of the node."""
        pending = self.st.readback
        assert pending is not None
        self.record("readback_rejected", node=self.st.node, slot=node.slot, value=pending.value)
        self.st.readback = None
        self.st.attempts += 1
        if self.st.attempts > node.retries:
            self.failed(node, "no_match")
            return
        self.say(SORRY)
        self.prompt(node)

    def parsed(self, node: AskNode, text: str, *, from_dtmf: bool) -> Any | None:
        today = (self.st.now or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).date()
        return values.parse_answer(node, text, from_dtmf=from_dtmf, today=today)

    # Provided by `turns.Step`.
    def answer(self, node: AskNode, text: str, from_dtmf: bool) -> None:
        raise NotImplementedError

    def set_slot(self, slot: str, value: Any) -> None:
        raise NotImplementedError

    def wants_human(self, text: str, node: AskNode | None = None) -> bool:
        raise NotImplementedError

    def classify(self, node: AskNode | MenuNode, text: str,
                 intents: dict[str, list[str]]) -> None:
        raise NotImplementedError

    def failed(self, node: AskNode, why: str) -> None:
        raise NotImplementedError
