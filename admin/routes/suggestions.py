"""`/suggestions`: the review queue for what escalated calls taught (accept, edit, reject).

Accepting writes a new draft version of the flow and shows its diff; publishing stays on the
flow's page, so nothing a call taught goes live without an admin publishing it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.deps import DbSession, require_permission
from admin.templating import render
from callcenter.accounts import Permission
from callcenter.flow.problems import FlowProblem, FlowValidationError
from callcenter.flowstore import FlowStore, diff_versions
from callcenter.learning import review
from callcenter.learning.store import lines_of
from callcenter.learning.yamledit import YamlEditError
from callcenter.models import Suggestion, SuggestionStatus, User

router = APIRouter()
Reviewer = Annotated[User, Depends(require_permission(Permission.FLOWS_EDIT))]
Short = Annotated[str, Form(max_length=2000)]
DONE = {"rejected": "Rejected: it will not be suggested to this flow again."}
# How the pages name each kind of suggestion.
KINDS = {"phrases": "phrases", "knowledge": "knowledge", "route": "new route",
         "handler": "flow-wide handler"}


@router.get("/suggestions")
def suggestions_page(request: Request, db: DbSession, user: Reviewer, flow: str = "",
                     status: str = SuggestionStatus.PENDING) -> Response:
    wanted = status if status in {s.value for s in SuggestionStatus} else None
    rows = review.suggestions(db, flow=flow or None, status=wanted)
    context = {"section": "suggestions", "rows": rows, "flows": review.per_flow(db),
               "flow": flow, "status": wanted or "", "statuses": [s.value for s in
                                                                   SuggestionStatus],
               "done": DONE.get(request.query_params.get("done", "")), "kinds": KINDS}
    return render(request, "suggestions.html", context)


def _detail(request: Request, db: DbSession, row: Suggestion, *,
            payload: dict[str, Any] | None = None, problems: list[FlowProblem] | None = None,
            error: str | None = None, status_code: int = 200) -> Response:
    lines, preview_error = [], None
    latest = FlowStore(db).latest_version(row.flow)
    if row.status == SuggestionStatus.PENDING and latest is not None and not problems:
        try:
            text = review.preview(db, row, payload)
            lines = diff_versions(latest.yaml_text, text, f"v{latest.version}", "with this")
        except FlowValidationError as exc:
            problems = exc.problems
        except (YamlEditError, review.ReviewError) as exc:
            preview_error = str(exc)
    context = {"section": "suggestions", "row": row, "payload": payload or row.payload,
               "evidence": lines_of(row.evidence), "calls": [e.get("call_id") for e in
                                                              row.evidence],
               "lines": lines, "latest": latest, "problems": problems or [],
               "error": error or preview_error,
               "editable": review.EDITABLE.get(row.kind, ()), "kinds": KINDS}
    return render(request, "suggestion.html", context, status_code=status_code)


def _not_found(request: Request, detail: str) -> Response:
    return render(request, "error.html", {"status": 404, "title": "Not Found", "detail": detail},
                  status_code=404)


@router.get("/suggestions/{suggestion_id}")
def suggestion_page(request: Request, db: DbSession, user: Reviewer,
                    suggestion_id: int) -> Response:
    try:
        return _detail(request, db, review.get(db, suggestion_id))
    except review.ReviewError as exc:
        return _not_found(request, str(exc))


@router.post("/suggestions/{suggestion_id}/accept")
def accept(request: Request, db: DbSession, user: Reviewer, suggestion_id: int,
           phrases: Short = "", q: Short = "", a: Short = "", name: Short = "",
           say: Short = "", next: Short = "", goto: Short = "") -> Response:
    try:
        row = review.get(db, suggestion_id)
    except review.ReviewError as exc:
        return _not_found(request, str(exc))
    form = {"phrases": [p.strip() for p in phrases.splitlines() if p.strip()], "q": q, "a": a,
            "name": name, "say": say, "next": next, "goto": goto}
    # Only fields the form carried for this kind; an empty form accepts as suggested.
    editable = review.EDITABLE.get(row.kind, ())
    changes = {k: v for k, v in form.items() if k in editable and v not in ("", [])}
    try:
        version = review.accept(db, suggestion_id, user, changes)
    except FlowValidationError as exc:
        db.rollback()
        return _detail(request, db, review.get(db, suggestion_id),
                       payload=review.edited(row, changes), problems=exc.problems,
                       error="Not accepted: the flow would not validate.", status_code=422)
    except (YamlEditError, review.ReviewError) as exc:
        db.rollback()
        return _detail(request, db, review.get(db, suggestion_id), error=str(exc),
                       status_code=409)
    db.commit()
    return RedirectResponse(f"/flows/{quote(row.flow, safe='')}/diff?b={version}",
                            status_code=303)


@router.post("/suggestions/{suggestion_id}/reject")
def reject(request: Request, db: DbSession, user: Reviewer, suggestion_id: int,
           reason: Short = "") -> Response:
    try:
        review.reject(db, suggestion_id, user, reason)
    except review.ReviewError as exc:
        db.rollback()
        try:
            row = review.get(db, suggestion_id)
        except review.ReviewError:
            return _not_found(request, str(exc))
        return _detail(request, db, row, error=str(exc), status_code=422)
    db.commit()
    return RedirectResponse("/suggestions?done=rejected", status_code=303)
