"""`/calls`: stored calls with filters and server-side pages, and one call's page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from admin.call_params import parse_call_query
from admin.charts import latency_bars
from admin.deps import DbSession, require_permission
from admin.security.guard import Forbidden
from admin.templating import render
from callcenter.accounts import Permission, can
from callcenter.config import Settings
from callcenter.flowstore import FlowStore
from callcenter.models import CallStatus, Disposition, User
from callcenter.postcall.redact import RedactionConfig
from callcenter.records.call_detail import call_detail
from callcenter.records.calls import CallFilters, list_calls

router = APIRouter()
Viewer = Annotated[User, Depends(require_permission(Permission.CALLS_VIEW))]


def page_link(filters: CallFilters, page: int, per_page: int) -> str:
    query = {k: ("yes" if v is True else "no" if v is False else v.isoformat()
                 if hasattr(v, "isoformat") else v) for k, v in filters.active().items()}
    return "/calls?" + urlencode({**query, "page": page, "per_page": per_page})


@router.get("/calls")
def calls_page(request: Request, db: DbSession, user: Viewer) -> Response:
    query = parse_call_query(request.query_params)
    result = list_calls(db, query.filters, page=query.page, per_page=query.per_page)
    context = {
        "section": "calls",
        "result": result,
        "values": query.values,
        "errors": query.errors,
        "statuses": list(CallStatus),
        "dispositions": list(Disposition),
        "flows": [f.name for f in FlowStore(db).list_flows()],
        "prev_link": page_link(result.filters, result.page - 1, result.per_page),
        "next_link": page_link(result.filters, result.page + 1, result.per_page),
    }
    status = 422 if query.errors else 200
    # htmx asks for the results only (filters changed, next page): the same partial.
    partial = request.headers.get("hx-request") and not request.headers.get(
        "hx-history-restore-request")
    name = "_calls_results.html" if partial else "calls.html"
    return render(request, name, context, status_code=status)


@router.get("/calls/{call_id}")
def call_page(request: Request, db: DbSession, user: Viewer, call_id: str,
              view: str = "redacted") -> Response:
    raw = view == "raw"
    if raw and not can(user, Permission.TRANSCRIPTS_RAW):
        raise Forbidden(f"your role ({user.role}) does not allow transcripts.raw")
    settings: Settings = request.app.state.settings
    detail = call_detail(db, call_id, raw=raw, redaction=RedactionConfig.from_settings(settings),
                         keep_raw=settings.keep_raw_transcript)
    if detail is None:
        return render(request, "error.html", {"status": 404, "title": "Not Found",
                                              "detail": f"no call with id {call_id}"},
                      status_code=404)
    context = {"section": "calls", "d": detail, "bars": latency_bars(detail.turns)}
    return render(request, "call.html", context)
