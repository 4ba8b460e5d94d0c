"""The review queue in the admin: list with per-flow counts, detail with evidence and the
change as a diff, edit then accept into a draft (shown on the diff page), reject with a reason."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.flowstore import FlowStore
from callcenter.models import Call, Suggestion
from tests.learning.test_learning_replay import FLOW
from tests.web.conftest import (  # noqa: F401  (fixtures)
    admin_client,
    app,
    engine,
    make_app,
    settings,
    supervisor_client,
)
from tests.web.support import page_csrf


def _seed(db: Engine) -> tuple[int, int]:
    with Session(db) as s:
        FlowStore(s, "test").publish_text(FLOW)
        s.add(Call(id="c-1", room_name="r-1"))
        s.add(Call(id="c-2", room_name="r-2"))
        kb = Suggestion(call_id="c-1", flow="help_line", flow_version=1, kind="knowledge",
                        target="billing_agent.knowledge", text_key="do you charge a late fee",
                        payload={"node": "billing_agent", "q": "do you charge a late fee",
                                 "a": "Yes, five dollars."},
                        evidence=[{"call_id": "c-1", "lines": [
                            {"seq": 3, "speaker": "caller", "text": "do you charge a late fee"},
                            {"seq": 5, "speaker": "supervisor", "text": "yes five dollars"}]}])
        ph = Suggestion(call_id="c-2", flow="help_line", flow_version=1, kind="phrases",
                        target="main_menu.options.0", text_key="my parcel",
                        payload={"node": "main_menu", "phrases": ["my parcel is lost"]},
                        evidence=[{"call_id": "c-2", "lines": []}])
        s.add(kb)
        s.add(ph)
        s.commit()
        assert kb.id is not None and ph.id is not None
        return kb.id, ph.id


def test_edit_then_accept_makes_a_draft_shown_as_a_diff_and_reject_needs_a_reason(
    admin_client: TestClient, engine: Engine  # noqa: F811
) -> None:
    kb, ph = _seed(engine)
    r = admin_client.get("/suggestions")
    assert r.status_code == 200 and 'id="suggestions"' in r.text and "do you charge" in r.text
    r = admin_client.get(f"/suggestions/{kb}")
    assert r.status_code == 200 and 'id="diff"' in r.text and "Yes, five dollars." in r.text
    assert "yes five dollars" in r.text, "evidence lines are shown"
    token = page_csrf(admin_client, f"/suggestions/{kb}")
    r = admin_client.post(f"/suggestions/{kb}/accept", follow_redirects=False,
                          data={"csrf_token": token, "a": "Yes: a five dollar fee after ten days."})
    assert r.status_code == 303 and r.headers["location"] == "/flows/help_line/diff?b=2"
    r = admin_client.get(r.headers["location"])
    assert "a five dollar fee after ten days" in r.text
    with Session(engine) as s:
        store = FlowStore(s)
        assert store.published_version("help_line").version == 1  # type: ignore[union-attr]
        assert store.latest_version("help_line").status == "draft"  # type: ignore[union-attr]
    r = admin_client.post(f"/suggestions/{ph}/reject", data={"csrf_token": token, "reason": ""})
    assert r.status_code == 422 and 'id="suggestion-error"' in r.text
    r = admin_client.post(f"/suggestions/{ph}/reject", follow_redirects=False,
                          data={"csrf_token": token, "reason": "too vague"})
    assert r.status_code == 303
    r = admin_client.get("/suggestions?status=")
    assert 'id="learning-per-flow"' in r.text and "<td>1</td><td>1</td><td>1</td>" in r.text


def test_supervisors_cannot_review(supervisor_client: TestClient,  # noqa: F811
                                   engine: Engine) -> None:  # noqa: F811
    _seed(engine)
    assert supervisor_client.get("/suggestions").status_code == 403


def test_the_new_kinds_show_a_handler_change_and_who_worded_an_answer(
    admin_client: TestClient, engine: Engine  # noqa: F811
) -> None:
    kb, _ = _seed(engine)
    with Session(engine) as s:
        row = s.get(Suggestion, kb)
        assert row is not None
        row.payload = {**row.payload, "a": "Yes, a five dollar fee applies.",
                       "rule_text": "Yes five dollars.", "written_by": "llm"}
        s.add(row)
        s.add(Call(id="c-3", room_name="r-3"))
        handler = Suggestion(
            call_id="c-3", flow="help_line", flow_version=1, kind="handler",
            target="handlers.human_request", text_key="can i get somebody from your team",
            payload={"handler": "human_request", "node": "main_menu",
                     "phrases": ["can I get somebody from your team"]},
            evidence=[{"call_id": "c-3", "lines": [
                {"seq": 2, "speaker": "caller", "text": "can I get somebody from your team"}]}])
        s.add(handler)
        s.commit()
        hid = handler.id
    r = admin_client.get("/suggestions")
    assert "flow-wide handler" in r.text and ">LLM</span>" in r.text
    r = admin_client.get(f"/suggestions/{kb}")
    assert 'id="rule-text"' in r.text and "Yes five dollars." in r.text
    r = admin_client.get(f"/suggestions/{hid}")
    assert r.status_code == 200 and 'id="handler-note"' in r.text
    assert "can I get somebody from your team" in r.text and 'id="diff"' in r.text
    token = page_csrf(admin_client, f"/suggestions/{hid}")
    r = admin_client.post(f"/suggestions/{hid}/accept", follow_redirects=False,
                          data={"csrf_token": token})
    assert r.status_code == 303, r.text
    with Session(engine) as s:
        draft = FlowStore(s).latest_version("help_line")
        assert draft is not None and draft.status == "draft"
        assert "can I get somebody from your team" in draft.yaml_text
