"""`/api/v1/calls`: the list (same filters as the page), one call, its transcript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from admin.call_params import parse_call_query
from admin.deps import DbSession, require_permission
from admin.errors import ApiProblem
from admin.schemas_calls import CallDetailPublic, CallList, Transcript, transcript_of
from callcenter.accounts import Permission, can
from callcenter.config import Settings
from callcenter.models import User
from callcenter.postcall.redact import RedactionConfig
from callcenter.records.call_detail import CallDetail, call_detail
from callcenter.records.calls import list_calls

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])
Viewer = Annotated[User, Depends(require_permission(Permission.CALLS_VIEW))]


@router.get("")
def calls(
    request: Request,
    db: DbSession,
    user: Viewer,
    since: Annotated[str, Query(description="Started at or after (ISO 8601, UTC default)")] = "",
    until: Annotated[str, Query(description="Started before")] = "",
    dialed: Annotated[str, Query(description="Dialed number prefix")] = "",
    caller: Annotated[str, Query(description="Caller number prefix")] = "",
    status: str = "",
    disposition: str = "",
    escalated: Annotated[str, Query(description="yes or no")] = "",
    flow: str = "",
    version: Annotated[str, Query(description="A version of `flow`")] = "",
    page: int = 1,
    per_page: Annotated[int, Query(le=200)] = 50,
) -> CallList:
    """Stored calls, newest first, one page at a time, with the total that match."""
    query = parse_call_query(request.query_params)
    if query.errors:
        detail = "; ".join(f"{k}: {v}" for k, v in query.errors.items())
        raise ApiProblem(422, detail, title="Invalid filter", errors=query.errors)
    return CallList.of(list_calls(db, query.filters, page=query.page, per_page=query.per_page))


def _detail(request: Request, db: DbSession, user: User, call_id: str, raw: bool) -> CallDetail:
    if raw and not can(user, Permission.TRANSCRIPTS_RAW):
        raise ApiProblem(403, f"your role ({user.role}) does not allow transcripts.raw")
    settings: Settings = request.app.state.settings
    found = call_detail(db, call_id, raw=raw, redaction=RedactionConfig.from_settings(settings),
                        keep_raw=settings.keep_raw_transcript)
    if found is None:
        raise ApiProblem(404, f"no call with id {call_id}")
    return found


@router.get("/{call_id}")
def call(request: Request, db: DbSession, user: Viewer, call_id: str,
         raw: bool = False) -> CallDetailPublic:
    """One call: transcript (redacted unless `raw`), path, slots, events, latency, escalations."""
    return CallDetailPublic.of_detail(_detail(request, db, user, call_id, raw))


@router.get("/{call_id}/transcript")
def transcript(request: Request, db: DbSession, user: Viewer, call_id: str,
               raw: bool = False) -> Transcript:
    """The transcript: redacted by default; `raw=true` needs transcripts.raw and a kept copy."""
    return transcript_of(_detail(request, db, user, call_id, raw))
