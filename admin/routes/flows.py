"""`/flows`: the flow list, the editor (drafts, publish, roll back) and version diffs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import tryit
from admin.deps import DbSession, require_permission
from admin.diagram import Diagram, build_diagram
from admin.templating import render
from callcenter.accounts import Permission
from callcenter.accounts.times import now_utc
from callcenter.flow.problems import FlowProblem, FlowValidationError
from callcenter.flow.validate import load_flow
from callcenter.flowstore import FlowStore, FlowStoreError, diff_versions
from callcenter.models import FlowStatus, FlowVersion, User
from callcenter.records.traffic import node_traffic
from callcenter.scenarios.suite import SuiteReport
from callcenter.scenarios.tryit import TryItError

router = APIRouter()
Viewer = Annotated[User, Depends(require_permission(Permission.FLOWS_VIEW))]
Editor = Annotated[User, Depends(require_permission(Permission.FLOWS_EDIT))]
Publisher = Annotated[User, Depends(require_permission(Permission.FLOWS_PUBLISH))]
FlowText = Annotated[str, Form(max_length=200_000)]
Note = Annotated[str, Form(max_length=500)]

# Messages after a redirect come from this table, so no request text is ever echoed back.
DONE = {
    "saved": "Draft saved.",
    "published": "Published: calls to this flow's numbers now get this version.",
    "rolled_back": "Rolled back: the earlier version is live again.",
}
NEW_FLOW = """name: my_flow
description: What this flow is for.
start: greet

nodes:
  greet:
    type: say
    text: Thanks for calling. How can I help?
    next: bye

  bye:
    type: hangup
    text: Goodbye.
"""


# The periods the diagram's traffic can cover (query `period`); the first is the default.
PERIODS = {"7d": ("last 7 days", timedelta(days=7)), "1d": ("last 24 hours", timedelta(days=1)),
           "30d": ("last 30 days", timedelta(days=30)), "90d": ("last 90 days",
                                                         timedelta(days=90))}


def _diagram(db: DbSession, name: str, shown: FlowVersion | None,
             published: FlowVersion | None, problems: list[FlowProblem],
             period: str) -> tuple[Diagram | None, FlowVersion | None]:
    """The diagram of the open version, with the traffic of the version calls got: the
    open one if it was ever live, else the published one (a draft has no calls)."""
    if shown is None:
        return None, None
    live = shown if shown.status != FlowStatus.DRAFT else published
    flow = load_flow(shown.yaml_text, name)  # stored versions validated when saved
    traffic = None
    if live is not None:
        until = now_utc()
        traffic = node_traffic(db, name, until - PERIODS[period][1], until,
                               version=live.version)
    return build_diagram(flow, traffic, problems), live


def _flow_url(name: str, **query: object) -> str:
    qs = "&".join(f"{k}={quote(str(v))}" for k, v in query.items())
    return f"/flows/{quote(name, safe='')}" + (f"?{qs}" if qs else "")


@router.get("/flows")
def flows_page(request: Request, db: DbSession, user: Viewer) -> Response:
    flows = FlowStore(db).list_flows()
    return render(request, "flows.html", {"flows": flows, "section": "flows"})


@router.get("/flows/new")
def new_flow_page(request: Request, user: Editor) -> Response:
    return _editor(request, None, None, text=NEW_FLOW)


def _editor(
    request: Request,
    store: FlowStore | None,
    name: str | None,
    *,
    opened: int | None = None,
    text: str | None = None,
    note: str = "",
    problems: list[FlowProblem] | None = None,
    error: str | None = None,
    status_code: int = 200,
    period: str = "7d",
    scenario_report: SuiteReport | None = None,
) -> Response:
    """The editor page for flow `name` (None: a new flow), at version `opened` or the newest."""
    versions, current, published = [], None, None
    period = period if period in PERIODS else next(iter(PERIODS))
    if store is not None and name is not None:
        versions = store.versions(name)
        published = store.published_version(name)
        by_number = {v.version: v for v in versions}
        current = by_number.get(opened) if opened is not None else (versions[-1] if versions
                                                                     else None)
        if current is None:
            raise FlowStoreError(f"{name!r} has no version {opened}")
    diagram, traffic_version = (_diagram(store.session, name, current, published,
                                         problems or [], period)
                                if store is not None and name is not None else (None, None))
    context = {
        "section": "flows",
        "name": name,
        "versions": list(reversed(versions)),
        "current": current,
        "published": published,
        "text": text if text is not None else (current.yaml_text if current else ""),
        "note": note,
        "problems": problems or [],
        "error": error,
        "done": DONE.get(request.query_params.get("done", "")),
        "draft_status": FlowStatus.DRAFT,
        "diagram": diagram,
        "traffic_version": traffic_version,
        "period": period,
        "periods": {k: label for k, (label, _) in PERIODS.items()},
        "scenario_count": tryit.scenario_count(request.app.state.settings, name) if name else 0,
        "report": scenario_report,
    }
    return render(request, "flow_edit.html", context, status_code=status_code)


@router.get("/flows/{name}")
def flow_page(request: Request, db: DbSession, user: Viewer, name: str,
              v: int | None = None, period: str = "7d") -> Response:
    store = FlowStore(db)
    try:
        return _editor(request, store, name, opened=v, period=period)
    except FlowStoreError as exc:
        return render(request, "error.html", {"status": 404, "title": "Not Found",
                                              "detail": str(exc)}, status_code=404)


def _save(request: Request, db: DbSession, user: User, name: str | None, text: str,
          note: str) -> Response:
    store = FlowStore(db, user)
    try:
        row = store.save_draft(text, note=note, file=name or "<new flow>", expect_name=name)
    except FlowValidationError as exc:
        db.rollback()
        return _editor(request, store if name else None, name, text=text, note=note,
                       problems=exc.problems, status_code=422,
                       error=f"Not saved: {len(exc.problems)} problem(s) to fix first.")
    except FlowStoreError as exc:
        db.rollback()
        return _editor(request, store if name else None, name, text=text, note=note,
                       error=str(exc), status_code=409)
    db.commit()
    return RedirectResponse(_flow_url(store.flow_name(row), v=row.version, done="saved"),
                            status_code=303)


@router.post("/flows")
def create_flow(request: Request, db: DbSession, user: Editor, text: FlowText,
                note: Note = "") -> Response:
    return _save(request, db, user, None, text, note)


@router.post("/flows/{name}/drafts")
def save_draft(request: Request, db: DbSession, user: Editor, name: str, text: FlowText,
               note: Note = "") -> Response:
    return _save(request, db, user, name, text, note)


def _go_live(request: Request, db: DbSession, user: User, name: str, version: int,
             *, rollback: bool) -> Response:
    store = FlowStore(db, user)
    try:
        if rollback:
            store.rollback(name, version)
        else:
            store.publish(name, version)
    except FlowValidationError as exc:
        db.rollback()
        return _editor(request, store, name, opened=version, problems=exc.problems,
                       error="This version no longer validates; fix it in a new draft.",
                       status_code=422)
    except FlowStoreError as exc:
        db.rollback()
        if store.latest_version(name) is None:
            return render(request, "error.html", {"status": 404, "title": "Not Found",
                                                  "detail": str(exc)}, status_code=404)
        return _editor(request, store, name, error=str(exc), status_code=409)
    db.commit()
    done = "rolled_back" if rollback else "published"
    return RedirectResponse(_flow_url(name, v=version, done=done), status_code=303)


@router.post("/flows/{name}/versions/{version}/publish")
def publish(request: Request, db: DbSession, user: Publisher, name: str,
            version: int) -> Response:
    return _go_live(request, db, user, name, version, rollback=False)


@router.post("/flows/{name}/versions/{version}/rollback")
def rollback(request: Request, db: DbSession, user: Publisher, name: str,
             version: int) -> Response:
    return _go_live(request, db, user, name, version, rollback=True)


@router.post("/flows/{name}/versions/{version}/scenarios")
async def run_scenarios(request: Request, db: DbSession, user: Editor, name: str,
                        version: int) -> Response:
    """Play the flow's scenarios against this version: the results panel (htmx), or the
    editor with the results on it (a plain form post)."""
    try:
        flow, _row = tryit.flow_version(db, name, version)
    except FlowStoreError as exc:
        return render(request, "error.html", {"status": 404, "title": "Not Found",
                                              "detail": str(exc)}, status_code=404)
    try:
        report = await tryit.run_scenarios(request.app, flow)
    except TryItError as exc:
        if request.headers.get("hx-request") == "true":  # htmx swaps 200s only: say it there
            return render(request, "_scenario_results.html", {"report": None,
                                                              "busy": exc.detail})
        return render(request, "error.html", {"status": exc.status, "title": "Busy",
                                              "detail": exc.detail}, status_code=exc.status)
    if request.headers.get("hx-request") == "true":
        return render(request, "_scenario_results.html", {"report": report, "name": name,
                                                          "version": version})
    return _editor(request, FlowStore(db), name, opened=version, scenario_report=report)


@router.get("/flows/{name}/diff")
def diff_page(request: Request, db: DbSession, user: Viewer, name: str,
              a: int | None = None, b: int | None = None) -> Response:
    """Version `a` (default: the published one) against `b` (default: the newest)."""
    store = FlowStore(db)
    try:
        published = store.published_version(name)
        latest = store.latest_version(name)
        if latest is None:
            raise FlowStoreError(f"no flow named {name!r}")
        old = store.version(name, a) if a is not None else published
        new = store.version(name, b) if b is not None else latest
    except FlowStoreError as exc:
        return render(request, "error.html", {"status": 404, "title": "Not Found",
                                              "detail": str(exc)}, status_code=404)
    lines = diff_versions(old.yaml_text if old else "", new.yaml_text,
                          f"v{old.version}" if old else "nothing", f"v{new.version}")
    context = {"section": "flows", "name": name, "old": old, "new": new, "lines": lines,
               "published": published,
               "versions": list(reversed(store.versions(name)))}
    return render(request, "flow_diff.html", context)
