"""Console alerts: watched phrases on word boundaries, once a call; a caller's mood drop
over a rolling window, flagged once until it recovers; bad phrases refused with the fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callcenter.config import Settings
from callcenter.escalation.alerts import AlertWatcher, WatchPhraseError, parse_phrases
from callcenter.flow.validate import check_flow_text


def kinds(watch: AlertWatcher, line: str) -> list[tuple[str, str | None]]:
    return [(a.kind, a.phrase) for a in watch.on_caller_line(line)]


def test_a_watched_phrase_matches_whole_words_in_any_case_and_punctuation():
    watch = AlertWatcher(["cancel my account", "lawyer"], min_lines=99)  # phrases only
    assert kinds(watch, "I'd like to CANCEL, my account please") == [
        ("phrase", "cancel my account")]
    assert kinds(watch, "I talked to lawyers about it") == []  # another word
    assert kinds(watch, "my lawyer's number is on file") == [("phrase", "lawyer")]
    assert kinds(watch, "cancel my account, my lawyer said so") == [], "each flags once"


def test_alert_data_says_what_was_heard():
    [alert] = AlertWatcher(["lawyer"], min_lines=99).on_caller_line("  get me a lawyer ")
    assert alert.as_dict() == {"kind": "phrase", "message": "Caller said \u201clawyer\u201d",
                               "said": "get me a lawyer", "phrase": "lawyer"}


def test_the_same_phrase_given_twice_is_watched_once():
    watch = AlertWatcher(["Lawyer", "lawyer ", "  cancel   my account"])
    assert watch.phrases == ["lawyer", "cancel my account"]


def test_a_mood_drop_flags_once_and_again_only_after_the_caller_recovers():
    watch = AlertWatcher([])
    assert kinds(watch, "hi, thanks for picking up") == []
    assert kinds(watch, "four eight two one") == []  # a plain answer carries no mood
    assert kinds(watch, "this is ridiculous, I am so frustrated") == []  # one bad line
    # The window still holds the thanks: the mean is not low enough yet.
    assert kinds(watch, "I am really annoyed now") == []
    [drop] = watch.on_caller_line("this is the worst, unacceptable")
    assert drop.kind == "sentiment" and drop.score is not None and drop.score <= -0.35
    assert kinds(watch, "I am still waiting, this is so annoying") == [], "flagged already"
    for line in ("ok thanks, that is great", "perfect, thank you so much",
                 "wonderful, I appreciate it"):
        assert kinds(watch, line) == []
    found = [k for line in ("no, that is wrong, still broken", "this is terrible, I hate this",
                            "awful, just awful") for k in kinds(watch, line)]
    assert found == [("sentiment", None)], "a second drop after recovering"


def test_a_happy_caller_and_a_calm_one_are_not_flagged():
    watch = AlertWatcher()
    for line in ("hello there", "I need to change my address", "yes that's right",
                 "great, thanks", "okay, goodbye"):
        assert kinds(watch, line) == [], line


def test_phrases_without_words_are_refused_with_the_fix():
    with pytest.raises(WatchPhraseError, match="has no words"):
        AlertWatcher(["?!"])
    assert parse_phrases(" cancel my account , lawyer ,, ") == ("cancel my account", "lawyer")
    with pytest.raises(ValidationError, match=r"watched phrase '\.\.\.' has no words"):
        Settings(watch_phrases="lawyer,...")
    assert Settings(watch_phrases="Lawyer , refund").watch_phrase_list == ("Lawyer", "refund")


def test_a_flows_watch_phrases_are_validated_where_they_are_written():
    text = """name: x
start: a
watch_phrases: ["speak to a manager", "--"]
nodes:
  a: {type: hangup, say: Bye.}
"""
    flow, problems = check_flow_text(text, "x.yaml")
    assert flow is None
    [p] = problems
    assert p.line == 3 and "has no words" in p.message
    flow, problems = check_flow_text(text.replace(', "--"', ""), "x.yaml")
    assert flow is not None and flow.watch_phrases == ["speak to a manager"]


def test_the_production_console_lists_and_follows_a_calls_stored_alerts(sqlite_engine):
    from sqlmodel import Session

    from admin.routes.console import partial
    from callcenter.console.production import ProductionCall
    from callcenter.models import Call, CallEvent
    from callcenter.records.live import FeedCursor, live_calls, read_feed

    alert = AlertWatcher(["lawyer"]).on_caller_line("I will call my lawyer")[0].as_dict()
    with Session(sqlite_engine) as db:
        db.add(Call(id="c-flagged", room_name="call-1", dialed_number="+15550001000"))
        db.add(Call(id="c-calm", room_name="call-2", dialed_number="+15550001000"))
        db.commit()
        db.add(CallEvent(call_id="c-flagged", seq=0, type="alert", data=alert))
        db.add(CallEvent(call_id="c-calm", seq=0, type="node_entered", data={"node": "a"}))
        db.commit()
        rows = {r.call_id: r for r in live_calls(db)}
        feed = read_feed(db, "c-flagged", FeedCursor())
    assert rows["c-flagged"].alerts == (alert,) and rows["c-calm"].alerts == ()
    assert [(i.kind, i.data) for i in feed] == [("alert", alert)]
    listed = partial("_console_calls.html", calls=[ProductionCall(r) for r in rows.values()])
    assert listed.count('class="pill pill-alert"') == 1 and "Caller said" in listed
