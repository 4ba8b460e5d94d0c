"""The meaning part of a runner step: what a spoken answer means, beyond its exact words.

A request for a person is heard at every question: a handler phrase or a person word said
outright is taken at once (`wants_human`); an answer that may hide one ("no, I want a
manager") and a spoken menu answer that is not a key or an option phrase said alone go to
the classifier (`ClassifyIntent`) with the person examples, the menu's options with their
topic examples, and out-of-domain examples. Its answer (`meaning_result`) picks the option,
fires the human-request handler, or leaves the answer to the node's parsers.
"""

from __future__ import annotations

import datetime as dt

from callcenter.flow import meaning, topics, values
from callcenter.flow.actions import ClassifyIntent
from callcenter.flow.events import IntentResult
from callcenter.flow.nodes import AgentNode, AskNode, MenuNode, MenuOption
from callcenter.flow.walk import StepBase

# Said around a bare menu choice ("billing please"): still the bare choice.
_POLITE = {"please", "um", "uh", "the", "yeah", "ok", "okay", "i", "want", "like", "to", "just"}


class MeaningSteps(StepBase):
    """Person requests and answers judged by meaning (mixed into the runner's `Step`)."""

    def wants_human(self, text: str, node: AskNode | MenuNode | AgentNode | None = None) -> bool:
        """A handler phrase said word for word, or a word that only asks for a person
        (`meaning.PERSON_WORDS`): no need to ask the classifier."""
        handler = self.flow.handlers.human_request
        if handler is None:
            return False
        heard = values.words(text)
        said = " " + " ".join(heard) + " "
        person = set(heard) & meaning.PERSON_WORDS
        if person and isinstance(node, MenuNode):
            # The menu's own option for a person ("person" -> to_human) is taken instead.
            person -= {w for o in node.options for p in o.phrases for w in values.words(p)}
        speak = meaning.asks_to_speak(heard) and not self._option_says(node, heard)
        if person or speak or any(
                f" {' '.join(values.words(p))} " in said for p in handler.phrases):
            self.fire("human_request", handler)
            return True
        return False

    @staticmethod
    def _option_says(node: AskNode | MenuNode | AgentNode | None, heard: list[str]) -> bool:
        """Does a menu option of `node` use a word of `heard` that asks to speak ("talk to
        sales")? Then that option, not the person handler, is the caller's choice."""
        if not isinstance(node, MenuNode):
            return False
        mine = {w for o in node.options for p in o.phrases for w in values.words(p)}
        return bool(mine & {"speak", "talk"} & set(heard))

    def human_examples(self) -> dict[str, list[str]]:
        handler = self.flow.handlers.human_request
        if handler is None:
            return {}
        return {meaning.HUMAN: [*handler.phrases, *meaning.HUMAN_EXAMPLES]}

    def needs_meaning(self, node: AskNode, text: str) -> bool:
        """Should this answer be checked for a person request before it is parsed?

        An answer that parses and is short is just an answer; a long or unparsable one may
        be "no, I want a manager", which must not be missed.
        """
        if self.flow.handlers.human_request is None:
            return False
        today = (self.st.now or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).date()
        parsed = values.parse_answer(node, text, from_dtmf=False, today=today)
        return parsed is None or node.expect == "text" or (
            len(values.words(text)) >= meaning.LONG_ANSWER_WORDS)

    def menu_by_meaning(self, node: MenuNode, text: str) -> bool:
        """Classify a spoken menu answer unless it is a key or an option phrase said alone."""
        digit = values.keypad_word(text)
        if digit is not None and any(o.key == digit for o in node.options):
            return False
        said = " ".join(w for w in values.words(text) if w not in _POLITE)
        if any(said == " ".join(values.words(p)) for o in node.options for p in o.phrases):
            return False
        own = [[*o.phrases, *([o.value] if o.value else [])] for o in node.options]
        options = {f"{meaning.OPTION}{i}": [*mine, *extra]
                   for i, (mine, extra) in enumerate(zip(own, topics.topic_examples(own),
                                                         strict=True))}
        self.classify(node, text, {k: v for k, v in options.items() if v})
        return True

    def classify(self, node: AskNode | MenuNode, text: str,
                 intents: dict[str, list[str]]) -> None:
        self.st.pending_text = text
        self.actions.append(ClassifyIntent(
            text=text, intents={**intents, **self.human_examples(),
                                meaning.OTHER: list(meaning.OTHER_EXAMPLES)},
            min_confidence=min(meaning.HUMAN_THRESHOLD, meaning.OPTION_THRESHOLD)))
        self.wait("intent")

    def meaning_result(self, node: AskNode | MenuNode | AgentNode, event: IntentResult) -> None:
        """The classifier's answer for the turn held in `pending_text`."""
        handler = self.flow.handlers.human_request
        human = event.intent == meaning.HUMAN and handler is not None and meaning.clearly_human(
            event.confidence, event.other)
        # An answer to a question that only resembles a person request ("Maybe talk of it."
        # for "maybe Saturday": 0.51) is asked again; the same again at this node escalates.
        # A person word or a handler phrase never gets here.
        near = human and isinstance(node, AskNode) and event.confidence < meaning.HUMAN_SURE
        if near:
            human = self.st.near_human_node == self.st.node
            if not human:
                self.record("near_human", node=self.st.node, confidence=event.confidence)
        self.st.near_human_node = self.st.node if near and not human else None
        if human and handler is not None:
            self.st.pending_text = None
            self.record("intent", node=self.st.node, intent="human_request",
                        confidence=event.confidence)
            self.fire("human_request", handler)
            return
        if isinstance(node, AgentNode):
            self.intent_result(node, event)
            return
        text, self.st.pending_text = self.st.pending_text or "", None
        if isinstance(node, AskNode):
            self.classified_answer(node, text)
            return
        intent = event.intent or ""
        if intent.startswith(meaning.OPTION) and event.confidence >= meaning.OPTION_THRESHOLD:
            option = node.options[int(intent.removeprefix(meaning.OPTION))]
            self.record("menu_by_meaning", node=self.st.node, option=option.value or option.goto,
                        confidence=event.confidence)
            self.pick(node, option)
        elif intent in (meaning.OTHER, meaning.HUMAN):
            self.no_match(node)  # out of domain (or a person, with no handler): ask again
        else:
            self.choose(node, text, False)

    # Provided by `turns.Step` (`classified_answer` by `readback.ReadbackSteps`, through
    # `StepBase`: a stub here would hide it, as this class comes first in `Step`).
    def intent_result(self, node: AgentNode, event: IntentResult) -> None:
        raise NotImplementedError

    def choose(self, node: MenuNode, text: str, from_dtmf: bool) -> None:
        raise NotImplementedError

    def pick(self, node: MenuNode, picked: MenuOption) -> None:
        raise NotImplementedError

    def no_match(self, node: AskNode | MenuNode | AgentNode) -> None:
        raise NotImplementedError
