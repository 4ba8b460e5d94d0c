"""Appointment booking and after-hours examples walked by events; checkpoint round trips."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.flow.actions import CallWebhook, Escalate, Listen, Transfer
from callcenter.flow.events import (
    DtmfReceived,
    EscalationResult,
    UserSaid,
    WebhookResult,
    parse_event,
)
from callcenter.flow.state import RunnerState
from tests.flow.flowcall import Call, kinds, spoken


def test_appointment_is_booked_with_spoken_date_choice_and_keyed_phone() -> None:
    call = Call("appointment_booking")
    first = call.start()
    assert spoken(first) == ["Welcome to Riverside Dental. I can book an appointment for you.",
                             "May I have your full name, please?"]
    assert isinstance(first[-1], Listen) and first[-1].modes == ["speech"]
    call.send(UserSaid(text="Dana Scully."))
    call.send(UserSaid(text="next friday"))
    call.send(UserSaid(text="the afternoon at 4 pm please"))
    confirm = call.send(DtmfReceived(digits="5551234567#"))
    assert spoken(confirm) == [
        "I have Dana Scully on Friday, November twenty seventh at 4 PM, and we'll call "
            "five five five, one two three, four five six seven if anything "
        "changes. Shall I book it? Say yes or no, or press 1 for yes and 2 for no."]
    hook = call.send(DtmfReceived(digits="1"))
    assert isinstance(hook[0], CallWebhook)
    assert hook[0].body == {"name": "Dana Scully", "date": "2026-11-27", "time": "16:00",
                            "phone": "5551234567", "caller_id": "+15550001111"}
    done = call.send(WebhookResult(request_id=hook[0].request_id, ok=True, data={"id": "B-77"}))
    assert spoken(done) == ["You're booked. Your confirmation number is B-77.",
                            "Thank you for calling Riverside Dental. Goodbye!"]
    assert call.state.outcome == "completed"
    assert call.state.slots == {"patient_name": "Dana Scully", "appointment_date": "2026-11-27",
                                "appointment_time": "16:00", "callback_number": "5551234567",
                                "confirmed": True}


def test_declining_twice_counts_with_set_and_transfers_to_the_front_desk() -> None:
    call = Call("appointment_booking")
    call.start()
    call.send(UserSaid(text="Fox Mulder"))
    for _ in range(2):
        call.send(UserSaid(text="December 3rd"))
        call.send(DtmfReceived(digits="1"))
        call.send(UserSaid(text="five five five one two three four five six seven"))
        out = call.send(UserSaid(text="no"))
    assert call.state.variables["declined"] == 2
    assert isinstance(out[-1], Transfer) and out[-1].target == "+15555550100"
    assert call.state.outcome == "transferred"
    assert call.state.slots["appointment_date"] == "2026-12-03"
    assert call.state.slots["appointment_time"] == "09:00"


def test_after_hours_transfers_during_opening_hours() -> None:
    call = Call("after_hours")
    out = call.start()
    assert spoken(out) == ["Connecting you to our office."]
    assert isinstance(out[-1], Transfer) and out[-1].target == "sip:frontdesk@pbx.example.com"
    assert call.records("hours")[0]["open"] is True


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 11, 29, 15, 0, tzinfo=dt.UTC),  # Sunday
        dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC),  # Tuesday 18:30 in New York
        dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC),  # Thanksgiving (holiday)
    ],
)
def test_after_hours_callback_request_is_saved(now: dt.datetime) -> None:
    call = Call("after_hours", now=now)
    menu = call.start()
    assert spoken(menu)[0].startswith("You've reached us outside our opening hours")
    call.send(UserSaid(text="call me back please"))
    call.send(DtmfReceived(digits="6175550123#"))
    hook = call.send(UserSaid(text="Our server is making a strange noise"))
    assert isinstance(hook[0], CallWebhook)
    assert hook[0].body == {"number": "6175550123",
                            "reason": "Our server is making a strange noise",
                            "caller_id": "+15550001111", "requested": now.date().isoformat()}
    done = call.send(WebhookResult(request_id=hook[0].request_id, ok=True,
                                   data={"ticket_id": 912}))
    assert spoken(done)[0].endswith("Your ticket is 912.")
    assert call.state.outcome == "completed"
    assert call.state.slots["choice"] == "callback"


def test_after_hours_outage_escalates_urgently_and_falls_back_to_callback() -> None:
    call = Call("after_hours", now=dt.datetime(2026, 11, 29, 15, 0, tzinfo=dt.UTC))
    call.start()
    out = call.send(DtmfReceived(digits="1"))
    assert isinstance(out[-1], Escalate)
    assert out[-1].priority == "urgent" and out[-1].queue == "on_call"
    assert out[-1].reason == "After-hours call from +15550001111 (outage)."
    back = call.send(EscalationResult(outcome="timeout"))
    assert isinstance(back[-1], Listen) and back[-1].slot == "callback_number"


def test_checkpoint_round_trip_mid_flow_continues_identically() -> None:
    call = Call("appointment_booking")
    call.start()
    call.send(UserSaid(text="Dana Scully"))
    call.send(UserSaid(text="tomorrow"))
    saved = call.state.model_dump_json()
    restored = RunnerState.model_validate_json(saved)
    assert restored == call.state
    event = parse_event({"kind": "user_said", "text": "nine am"})
    a_state, a_actions = call.runner.step(call.state, event)
    b_state, b_actions = call.runner.step(restored, event)
    assert a_actions == b_actions and a_state == b_state
    assert b_state.slots["appointment_time"] == "09:00"
    assert kinds(b_actions)[-1] == "listen"


def test_step_does_not_mutate_the_given_state() -> None:
    call = Call("customer_support")
    call.start()
    before = call.state.model_dump()
    call.runner.step(call.state, UserSaid(text="billing"))
    assert call.state.model_dump() == before
