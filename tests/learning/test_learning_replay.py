"""The replay test: calls that escalate today teach the flow, an admin accepts and publishes,
and the same needs in other words are then handled by the AI without a person.

Speech is fake (the words said are the words heard) so the test is about the learning, not
recognition; intents are the real offline MiniLM matcher.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.flowstore import FlowStore
from callcenter.learning import review
from callcenter.models import CallLearning, Suggestion, User
from tests.learning.replay import Caller, place_call, postcall_and_learn

FLOW = """\
# A help line that knows orders and billing, and little else yet.
name: help_line
start: main_menu
handlers:
  human_request: {goto: to_human}
  no_match: {after: 1, goto: to_human}
nodes:
  main_menu:
    type: menu
    prompt: Say orders or billing.
    options:
      # Words that name no topic of `flow.topics` (order, delivery, ...): with the order
      # topic's examples the menu would know the lost parcel below without any learning.
      - key: 1
        phrases: [status of my purchase, where is my purchase]
        goto: order_desk
      - key: 2
        phrases: [billing, invoice]
        goto: billing_agent
    on_failure: to_human
  order_desk:
    type: say
    text: I have checked and your order is on its way.
    next: goodbye
  billing_agent:
    type: agent
    greeting: What is your billing question?
    instructions: Answer billing questions in one short sentence.
    use_llm: false
    intents:
      - name: done
        examples: [that's all, goodbye, nothing else]
        goto: goodbye
    on_max_turns: to_human
  to_human:
    type: escalate
    queue: support
    hold_prompt: Please hold.
    position_every: 600
    timeout: 3600
    next: goodbye
    on_timeout: goodbye
  goodbye:
    type: hangup
    say: Thanks for calling. Goodbye.
"""

RETURN_ANSWER = "you can return any item within thirty days with the free label on our website"
LATE_FEE = "yes there is a five dollar late fee once a bill is ten days overdue"
# Calls that escalate today: a phrasing the menu misses (the supervisor sends the caller to
# the order desk), a billing question the agent cannot answer, and a need the menu lacks.
TODAY = [
    Caller(("the parcel still has not turned up",),
           "hello this is ada let me check that order for you", hand_back_to="order_desk"),
    Caller(("billing", "do you charge a late payment fee"), f"hi this is ada {LATE_FEE}"),
    Caller(("I want to return a jacket",), f"hello this is ada {RETURN_ANSWER}"),
    Caller(("can I send these shoes back",), f"hi this is ada {RETURN_ANSWER}"),
]
# The same needs, new callers, other words.
NEXT_TIME = [
    Caller(("the box never showed up",)),
    Caller(("my package still has not turned up",)),
    Caller(("billing", "is there a penalty if I pay my bill late", "that's all")),
    Caller(("I'd like to return my boots",)),
    Caller(("can I send this dress back",)),
]
# What the flow did before learning and must still do.
SCENARIOS = [
    (Caller(("where is my order",)), ["main_menu", "order_desk", "goodbye"]),
    (Caller(("billing", "that's all")), ["main_menu", "billing_agent", "goodbye"]),
]


def _containment(results: Sequence[bool]) -> float:
    return sum(not escalated for escalated in results) / len(results)


async def test_accepted_suggestions_let_the_ai_handle_what_supervisors_took_before(
    sqlite_engine: Engine,
) -> None:
    with Session(sqlite_engine) as s:
        FlowStore(s, "test").publish_text(FLOW, note="v1")
        s.add(User(email="admin@example.com", role="admin", password_hash="x"))
        s.commit()

    before = []
    for i, caller in enumerate(TODAY):
        result = await place_call(sqlite_engine, "help_line", f"today-{i}", caller,
                                  expect_escalation=True)
        assert result.escalated, (caller, result.agent_said, result.path)
        postcall_and_learn(sqlite_engine, result.call_id)
        before.append(result.escalated)
    # The new phrasings escalate on today's flow too: the improvement is the learning's.
    old_flow = [await place_call(sqlite_engine, "help_line", f"old-{i}", caller,
                                 expect_escalation=True) for i, caller in enumerate(NEXT_TIME)]
    assert all(r.escalated for r in old_flow), [r.path for r in old_flow]
    with Session(sqlite_engine) as s:
        # Only the calls that were learned from count (the old-* calls had no post-call).
        assert len(s.exec(select(CallLearning)).all()) == len(TODAY)

    with Session(sqlite_engine) as s:
        lessons = {row.call_id: row for row in s.exec(select(CallLearning)).all()}
        pending = review.suggestions(s, flow="help_line", status="pending")
        kinds = sorted(p.kind for p in pending)
        assert kinds == ["knowledge", "phrases", "route"], [
            (p.kind, p.target, p.payload) for p in pending]
        assert lessons["today-0"].action == "routed" and lessons["today-0"].reason == "no_match"
        assert lessons["today-1"].need == "do you charge a late payment fee"
        assert "late fee" in lessons["today-1"].answer and lessons["today-1"].action == "answered"
        admin = s.exec(select(User)).one()
        for suggestion in pending:
            assert suggestion.id is not None
            review.accept(s, suggestion.id, admin)
        s.commit()
        store = FlowStore(s, admin)
        latest = store.latest_version("help_line")
        assert latest is not None and latest.status == "draft"
        published = store.published_version("help_line")
        assert published is not None and published.version == 1, "accepting publishes nothing"
        avoided = {f.flow: f.avoidable for f in review.per_flow(s)}
        assert avoided == {"help_line": 4}
        store.publish("help_line", latest.version)
        s.commit()

    after = []
    for i, caller in enumerate(NEXT_TIME):
        result = await place_call(sqlite_engine, "help_line", f"next-{i}", caller,
                                  expect_escalation=False)
        assert not result.escalated, (caller, result.agent_said, result.path)
        after.append(result.escalated)
    late = await place_call(sqlite_engine, "help_line", "next-kb", NEXT_TIME[2],
                            expect_escalation=False)
    assert any("five dollar late fee" in t for t in late.agent_said), late.agent_said
    for i, (caller, path) in enumerate(SCENARIOS):
        result = await place_call(sqlite_engine, "help_line", f"scenario-{i}", caller,
                                  expect_escalation=False)
        assert result.path == path and not result.escalated, result.path

    same_before = [r.escalated for r in old_flow]
    print(f"\ncontainment: calls learned from {_containment(before):.0%} of {len(before)}; "
          f"new phrasings on v1 {_containment(same_before):.0%} of {len(same_before)}, "
          f"on the published draft {_containment(after):.0%} of {len(after)}")
    assert _containment(before) == _containment(same_before) == 0.0
    assert _containment(after) == 1.0
    with Session(sqlite_engine) as s:
        assert len(s.exec(select(Suggestion)).all()) == 3
