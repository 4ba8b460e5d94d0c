"""What callers say for the topics every contact center's menus offer (pure data).

A menu option's phrases are the admin's few words for it ("billing, invoice, refund"),
but callers say what happened to them: "I was charged twice", "when will my stuff get
here". So an option whose own words name a common topic also matches by meaning the
topic's examples below: the intent classifier sees them as more phrases of that option.

An option is given a topic only when one of its phrase words (or its value) is among the
topic's `names`, and only when no other option of the same menu names that topic too:
where two options share a topic, its examples would pull callers to the wrong one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.flow import values


@dataclass(frozen=True, slots=True)
class Topic:
    names: frozenset[str]  # words that, in an option's phrases, name this topic
    examples: tuple[str, ...]  # how callers ask for it, in their own words


TOPICS: dict[str, Topic] = {
    "order": Topic(
        frozenset({"order", "orders", "delivery", "deliveries", "tracking", "package",
                   "shipment", "shipping", "parcel"}),
        ("when will my package arrive", "my delivery hasn't come yet",
         "I'm still waiting for the thing I ordered", "has my order shipped",
         "where's my stuff", "track a parcel", "the courier never came",
         "I bought something and it hasn't turned up", "checking on a purchase",
         "my shipment is late", "when is it getting delivered",
         "status of something I ordered last week")),
    "billing": Topic(
        frozenset({"billing", "bill", "bills", "invoice", "invoices", "payment", "payments",
                   "charge", "charges", "refund", "refunds"}),
        ("I was charged twice", "there's a charge I don't recognize",
         "I want my money back", "my bill is too high", "I'd like to pay what I owe",
         "a question about my statement", "how much do I owe you",
         "my card was debited by mistake", "I need a copy of my invoice",
         "the amount on my bill is wrong", "settle my balance",
         "you took too much money from my account")),
    "address": Topic(
        frozenset({"address", "addresses", "moving", "relocating"}),
        ("I moved house", "I have a new address", "update where you send my mail",
         "change my shipping details", "I'm moving next month",
         "my address is out of date", "send my things to a different place",
         "I live somewhere else now")),
    "cancel": Topic(
        frozenset({"cancel", "cancellation", "unsubscribe", "close", "terminate"}),
        ("I want to stop my subscription", "I have no use for it any more",
         "please end my contract", "I'd like to quit", "shut down my account",
         "stop charging me every month", "I no longer want this plan",
         "how do I get out of my membership")),
    "support": Topic(
        frozenset({"support", "technical", "repair", "broken", "fault", "outage"}),
        ("it stopped working", "my device won't turn on", "the internet keeps dropping",
         "something is broken", "I can't get it to work", "there's an error message",
         "it keeps crashing", "the service is down")),
    "appointment": Topic(
        frozenset({"appointment", "appointments", "booking", "book", "schedule",
                   "reschedule"}),
        ("I need to see someone next week", "can I come in on Friday",
         "move my visit to another day", "I'd like to make a booking",
         "is there a slot available tomorrow", "change the time I'm booked for")),
    "returns": Topic(
        frozenset({"return", "returns", "exchange", "exchanges"}),
        ("I want to send something back", "it arrived damaged",
         "the size is wrong and I want a different one", "how do I return an item",
         "swap this for another one", "it's not what I ordered")),
}


def _words(phrases: Sequence[str]) -> set[str]:
    return {w for p in phrases for w in values.words(p)}


def topic_examples(options: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """For each option (its phrases and value), the examples of the topic it names alone.

    An option that names no topic, or a topic another option of the menu names as well,
    gets none."""
    named = [{name for name, t in TOPICS.items() if t.names & _words(p)} for p in options]
    out: list[tuple[str, ...]] = []
    for mine in named:
        own = [n for n in mine if sum(n in other for other in named) == 1]
        out.append(tuple(e for n in sorted(own) for e in TOPICS[n].examples))
    return out
