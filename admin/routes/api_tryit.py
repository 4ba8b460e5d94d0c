"""`/api/v1/flows/{name}/try` and `.../scenarios`: talk to a flow by text, run its scenarios.

Both play the flow through the one action interpreter (`callsession`), on a draft as well
as on a published version; neither sends a real webhook (see admin/tryit.py). Editing flows
(`flows.edit`) is what they need: supervisors do not edit flows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from admin import tryit
from admin.deps import DbSession, require_permission
from admin.errors import ApiProblem
from admin.schemas_tryit import ScenarioFileOut, SuiteOut, TryReplyOut, TrySay, TryStart
from callcenter.accounts import Permission
from callcenter.accounts.times import now_utc
from callcenter.flowstore import FlowStoreError
from callcenter.models import User
from callcenter.scenarios.files import load_scenarios, scenarios_dir
from callcenter.scenarios.tryit import TryItError

router = APIRouter(prefix="/api/v1/flows", tags=["try it"])
Editor = Annotated[User, Depends(require_permission(Permission.FLOWS_EDIT))]


def _problem(exc: TryItError) -> ApiProblem:
    return ApiProblem(exc.status, exc.detail)


@router.post("/{name}/try", status_code=201)
async def try_start(request: Request, db: DbSession, user: Editor, name: str,
                    body: TryStart) -> TryReplyOut:
    """Start a text conversation with the flow (default: its newest version, draft or not);
    answers with the session id and the agent's first lines."""
    try:
        flow, row = tryit.flow_version(db, name, body.version)
    except FlowStoreError as exc:
        raise ApiProblem(404, str(exc)) from None
    assert user.id is not None
    try:
        reply = await tryit.sessions(request.app).start(
            user.id, flow, version=row.version, escalation=body.escalation,
            transport=tryit.transport(request.app.state.settings, name), at=body.at)
    except TryItError as exc:
        raise _problem(exc) from None
    return TryReplyOut.of(reply, row.version)


@router.post("/{name}/try/{session}/say")
async def try_say(request: Request, user: Editor, name: str, session: str,
                  body: TrySay) -> TryReplyOut:
    """The caller's turn; the agent's lines, the node, the slots, and whether it ended."""
    assert user.id is not None
    registry = tryit.sessions(request.app)
    try:
        version = registry.version_of(user.id, session, name)
        reply = await registry.say(user.id, session, body.text)
    except TryItError as exc:
        raise _problem(exc) from None
    return TryReplyOut.of(reply, version)


@router.delete("/{name}/try/{session}", status_code=204)
async def try_end(request: Request, user: Editor, name: str, session: str) -> Response:
    """Hang up and forget the conversation."""
    assert user.id is not None
    registry = tryit.sessions(request.app)
    try:
        registry.version_of(user.id, session, name)
        await registry.close(user.id, session)
    except TryItError as exc:
        raise _problem(exc) from None
    return Response(status_code=204)


@router.get("/{name}/scenarios")
def scenario_files(request: Request, user: Editor, name: str) -> list[ScenarioFileOut]:
    """The flow's scenario files, each with its problems (line, column, hint) if any."""
    files = load_scenarios(scenarios_dir(request.app.state.settings), name)
    return [ScenarioFileOut.of(f) for f in files]


@router.post("/{name}/versions/{version}/scenarios/run")
async def run_scenarios(request: Request, db: DbSession, user: Editor, name: str,
                        version: int) -> SuiteOut:
    """Play every scenario against this version: pass or fail each, expected vs actual."""
    try:
        flow, row = tryit.flow_version(db, name, version)
    except FlowStoreError as exc:
        raise ApiProblem(404, str(exc)) from None
    try:
        report = await tryit.run_scenarios(request.app, flow)
    except TryItError as exc:
        raise _problem(exc) from None
    return SuiteOut.of(report, row.version, now_utc())
