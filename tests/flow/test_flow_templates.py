"""Templates: placeholders and optional parts that say only what is known."""

from __future__ import annotations

from callcenter.flow.templates import render, render_value

REASON = "Caller needs a person.[[ Topic: {{topic}}.]][[ Order: {{order_number}}.]]"


def test_optional_parts_with_an_empty_slot_are_left_out() -> None:
    assert render(REASON, {}) == "Caller needs a person."
    assert render(REASON, {"topic": "billing", "order_number": ""}) == (
        "Caller needs a person. Topic: billing.")
    assert render(REASON, {"order_number": "482913"}) == "Caller needs a person. Order: 482913."
    assert render(REASON, {"topic": "order", "order_number": 482913}) == (
        "Caller needs a person. Topic: order. Order: 482913.")


def test_an_optional_part_needs_every_placeholder_in_it_and_reads_webhook_fields() -> None:
    text = "Your order[[ ships {{order.carrier}} on {{order.eta}}]]."
    assert render(text, {"order": {"carrier": "UPS"}}) == "Your order."
    assert render(text, {"order": {"carrier": "UPS", "eta": "Friday"}}) == (
        "Your order ships UPS on Friday.")


def test_false_and_zero_are_known_values_and_plain_optional_text_is_kept() -> None:
    assert render("[[Paid: {{paid}}. ]][[Due: {{due}}.]]", {"paid": False, "due": 0}) == (
        "Paid: no. Due: 0.")
    assert render("Hello[[ there]]!", {}) == "Hello there!"


def test_a_value_that_looks_like_a_template_is_not_filled_in_again() -> None:
    scope = {"topic": "{{secret}} [[x]]", "secret": "hunter2"}
    assert render("[[Topic: {{topic}}]]", scope) == "Topic: {{secret}} [[x]]"
    assert render("Topic: {{topic}}", scope) == "Topic: {{secret}} [[x]]"


def test_spoken_optional_parts_say_values_as_a_person_would() -> None:
    assert render("Thanks.[[ Order {{order_number}}.]]", {"order_number": "123456"},
                  spoken=True) == "Thanks. Order one two three four five six."
    assert render("Thanks.[[ Order {{order_number}}.]]", {}, spoken=True) == "Thanks."


def test_webhook_bodies_render_optional_parts_in_strings() -> None:
    body = {"note": "Call back[[ at {{phone}}]].", "ids": ["[[#{{id}}]]"]}
    assert render_value(body, {"id": 7}) == {"note": "Call back.", "ids": ["#7"]}
