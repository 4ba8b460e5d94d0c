"""Calls: filters and server-side pages over thousands of calls, the call page, redaction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from callcenter.flowstore import FlowStore
from callcenter.records.calls import COUNT_CAP, CallFilters, list_calls
from tests.web.calls_data import CARD, HEARD, NOW, PLANNED, Plain, many_calls, rich_call

SUPPORT = (Path(__file__).resolve().parents[2] / "flows" / "customer_support.yaml").read_text()


@pytest.fixture
def engine(any_engine: Engine) -> Engine:
    return any_engine


def _versions(engine: Engine) -> list[int]:
    with Session(engine) as db:
        store = FlowStore(db, "seed")
        v1 = store.publish_text(SUPPORT)
        v2 = store.publish_text(SUPPORT.replace("Acme", "Acme Co"))
        db.commit()
        assert v1.id is not None and v2.id is not None
        return [v1.id, v2.id]


def test_filters_and_pages_over_thousands_of_calls(engine: Engine) -> None:
    ids = _versions(engine)
    calls = many_calls(engine, 3000, versions=ids)
    since, until = NOW - timedelta(days=3), NOW - timedelta(days=1)
    cases: list[tuple[CallFilters, list[Plain]]] = [
        (CallFilters(), calls),
        (CallFilters(since=since, until=until),
         [c for c in calls if since <= c.started_at < until]),
        (CallFilters(dialed="+1 800 555 0199"), [c for c in calls if c.dialed == "+18005550199"]),
        (CallFilters(caller="+141555500"), [c for c in calls if c.caller.startswith("+141555500")]),
        (CallFilters(status="failed"), [c for c in calls if c.status == "failed"]),
        (CallFilters(disposition="abandoned", escalated=True),
         [c for c in calls if c.disposition == "abandoned" and c.escalated]),
        (CallFilters(escalated=False, dialed="+44"),
         [c for c in calls if not c.escalated and c.dialed.startswith("+44")]),
        (CallFilters(flow="customer_support", version=2),
         [c for c in calls if c.flow_version_id == ids[1]]),
        (CallFilters(flow="customer_support"), [c for c in calls if c.flow_version_id]),
    ]
    with Session(engine) as db:
        for filters, expected in cases:
            want = sorted(expected, key=lambda c: (c.started_at, c.id), reverse=True)
            first = list_calls(db, filters, page=1, per_page=50)
            # Counting stops at COUNT_CAP ("1,000+"); the rows are exact all the same.
            shown = min(len(want), COUNT_CAP)
            assert (first.total, first.more) == (shown, len(want) > COUNT_CAP), filters
            assert [r.id for r in first.rows] == [c.id for c in want[:50]], filters
            assert first.pages == max(1, -(-shown // 50))
        # Walking every page yields each call once, in order.
        seen, page = [], 1
        while True:
            result = list_calls(db, CallFilters(status="ended", escalated=True), page=page,
                                per_page=200)
            seen += [r.id for r in result.rows]
            if not result.has_next:
                break
            page += 1
        want = [c.id for c in sorted(calls, key=lambda c: (c.started_at, c.id), reverse=True)
                if c.status == "ended" and c.escalated]
        assert seen == want and len(seen) > 200


def test_calls_page_and_api_filter_and_paginate(
    admin_client: TestClient, supervisor_client: TestClient, engine: Engine
) -> None:
    calls = many_calls(engine, 400, versions=_versions(engine))
    failed = sorted((c for c in calls if c.status == "failed"),
                    key=lambda c: (c.started_at, c.id), reverse=True)
    html = supervisor_client.get("/calls?status=failed&per_page=10").text
    assert f'<strong id="calls-total">{len(failed)}</strong>' in html
    assert f'href="/calls/{failed[0].id}"' in html and f'href="/calls/{failed[10].id}"' not in html
    assert 'rel="next" href="/calls?status=failed&amp;page=2&amp;per_page=10"' in html
    partial = supervisor_client.get("/calls?status=failed&per_page=10&page=2",
                                    headers={"HX-Request": "true"}).text
    assert "<html" not in partial and f'href="/calls/{failed[10].id}"' in partial
    bad = supervisor_client.get("/calls?since=yesterday&version=x")
    assert bad.status_code == 422 and 'id="since-error"' in bad.text
    api = admin_client.get("/api/v1/calls?status=failed&per_page=10&page=2").json()
    assert api["total"] == len(failed) and api["page"] == 2
    assert [c["id"] for c in api["items"]] == [c.id for c in failed[10:20]]
    problem = admin_client.get("/api/v1/calls?escalated=maybe")
    assert problem.status_code == 422 and problem.json()["errors"] == {"escalated": "yes or no"}


def test_call_page_shows_transcript_heard_keypad_latency_escalation(
    supervisor_client: TestClient, engine: Engine
) -> None:
    call_id = rich_call(engine, flow_version_id=_versions(engine)[0], processed=True)
    html = supervisor_client.get(f"/calls/{call_id}").text
    assert HEARD in html and f"<span class=\"planned-label\">Planned:</span> {PLANNED}" in html
    assert "line line-supervisor" in html and "Dana from billing" in html
    # Keypad lines are their own lines; a long number typed is redacted like a spoken one.
    assert "⌨ pressed <code>2</code>" in html and "⌨ pressed <code>[NUMBER]#</code>" in html
    assert "p50 <strong>820 ms</strong>" in html and "p95 <strong>1710 ms</strong>" in html
    assert html.count('class="bar') == 3 and "bar bar-slow" in html
    assert "<dt>Supervisor</dt><dd>Dana</dd>" in html and "after 23 s" in html
    assert "customer_support v1" in html and "<code>to_human</code>" in html
    assert "<dt>order_number</dt><dd>[NUMBER]</dd>" in html
    assert CARD not in html and "[CARD]" in html
    assert supervisor_client.get(f"/calls/{call_id}?view=raw").status_code == 403
    r = supervisor_client.get(f"/api/v1/calls/{call_id}/transcript?raw=true")
    assert r.status_code == 403 and "transcripts.raw" in r.json()["detail"]
    detail = supervisor_client.get(f"/api/v1/calls/{call_id}").json()
    assert detail["escalations"][0]["supervisor"] == "Dana" and detail["latency_p95_ms"] == 1710.5
    agent = next(x for x in detail["transcript"]["lines"] if x["interrupted"])
    assert (agent["text"], agent["planned"]) == (HEARD, PLANNED)
    assert any(x["kind"] == "keypad" for x in detail["transcript"]["lines"])


def test_raw_transcript_only_with_permission_and_when_kept(
    admin_client: TestClient, engine: Engine
) -> None:
    not_kept = rich_call(engine, processed=True, keep_raw=False)
    kept = rich_call(engine, processed=True, keep_raw=True)
    live = rich_call(engine, processed=False)
    html = admin_client.get(f"/calls/{not_kept}?view=raw").text
    assert CARD not in html and "Raw transcript not kept" in html
    html = admin_client.get(f"/calls/{kept}").text
    assert CARD not in html and f'href="/calls/{kept}?view=raw"' in html
    html = admin_client.get(f"/calls/{kept}?view=raw").text
    assert CARD in html and 'id="transcript-view">raw' in html
    assert "<code>12345#</code>" in html and "<dt>order_number</dt><dd>12345</dd>" in html
    # Not processed yet: the page redacts with the post-call rules rather than show raw text.
    html = admin_client.get(f"/calls/{live}").text
    assert CARD not in html and "[CARD]" in html and "has not stored this call yet" in html
    t = admin_client.get(f"/api/v1/calls/{kept}/transcript?raw=true").json()
    assert t["view"] == "raw" and any(CARD in x["text"] for x in t["lines"])
    assert admin_client.get("/api/v1/calls/nope").status_code == 404
