"""`/api/v1/flows`: validate, list, versions, drafts, publish, roll back, diff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from admin.deps import DbSession, require_permission
from admin.errors import ApiProblem
from admin.schemas_flows import (
    DiffLinePublic,
    DraftRequest,
    FlowDetail,
    FlowDiff,
    FlowListItem,
    Problem,
    ValidateRequest,
    ValidateResult,
    VersionPublic,
    VersionWithText,
)
from callcenter.accounts import Permission
from callcenter.flow.problems import FlowValidationError
from callcenter.flow.validate import check_flow_text
from callcenter.flowstore import FlowStore, FlowStoreError, diff_versions
from callcenter.models import FlowVersion, User

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
Viewer = Annotated[User, Depends(require_permission(Permission.FLOWS_VIEW))]
Editor = Annotated[User, Depends(require_permission(Permission.FLOWS_EDIT))]
Publisher = Annotated[User, Depends(require_permission(Permission.FLOWS_PUBLISH))]


def _not_found(exc: FlowStoreError) -> ApiProblem:
    return ApiProblem(404, str(exc))


def _invalid(exc: FlowValidationError) -> ApiProblem:
    problems = [Problem.of(p).model_dump() for p in exc.problems]
    return ApiProblem(422, f"{len(problems)} problem(s) in the flow", title="Invalid flow",
                      problems=problems)


@router.post("/validate")
def validate(body: ValidateRequest, user: Editor) -> ValidateResult:
    """Every problem in a flow text, each with line, column, node, message and hint."""
    flow, problems = check_flow_text(body.text, body.file)
    return ValidateResult(ok=not problems, name=flow.name if flow else None,
                          problems=[Problem.of(p) for p in problems])


@router.get("")
def list_flows(db: DbSession, user: Viewer) -> list[FlowListItem]:
    return [FlowListItem.of(f) for f in FlowStore(db).list_flows()]


@router.post("/drafts", status_code=201)
def create_draft(db: DbSession, user: Editor, body: DraftRequest) -> VersionPublic:
    """Save text as the next draft of the flow it names (a new flow if there is none)."""
    return _save(db, user, body, None)


@router.get("/{name}")
def flow_detail(db: DbSession, user: Viewer, name: str) -> FlowDetail:
    store = FlowStore(db)
    try:
        versions = store.versions(name)
    except FlowStoreError as exc:
        raise _not_found(exc) from None
    published = store.published_version(name)
    return FlowDetail(name=name, published=published.version if published else None,
                      versions=[VersionPublic.of(name, v) for v in versions])


@router.get("/{name}/versions/{version}")
def version_text(db: DbSession, user: Viewer, name: str, version: int) -> VersionWithText:
    try:
        row = FlowStore(db).version(name, version)
    except FlowStoreError as exc:
        raise _not_found(exc) from None
    return VersionWithText.with_text(name, row)


@router.post("/{name}/drafts", status_code=201)
def save_draft(db: DbSession, user: Editor, name: str, body: DraftRequest) -> VersionPublic:
    """Save the next draft of flow `name`; text naming another flow is refused (409)."""
    return _save(db, user, body, name)


def _save(db: DbSession, user: User, body: DraftRequest, name: str | None) -> VersionPublic:
    store = FlowStore(db, user)
    try:
        row = store.save_draft(body.text, note=body.note, file=name or "<flow>",
                               expect_name=name)
    except FlowValidationError as exc:
        raise _invalid(exc) from None
    except FlowStoreError as exc:
        raise ApiProblem(409, str(exc)) from None
    db.commit()
    return VersionPublic.of(store.flow_name(row), row)


def _go_live(db: DbSession, user: User, name: str, version: int, *,
             rollback: bool) -> VersionPublic:
    store = FlowStore(db, user)
    try:
        row = store.rollback(name, version) if rollback else store.publish(name, version)
    except FlowValidationError as exc:
        raise _invalid(exc) from None
    except FlowStoreError as exc:
        exists = store.latest_version(name) is not None
        raise (ApiProblem(409, str(exc)) if exists else _not_found(exc)) from None
    db.commit()
    return VersionPublic.of(name, row)


@router.post("/{name}/versions/{version}/publish")
def publish(db: DbSession, user: Publisher, name: str, version: int) -> VersionPublic:
    """Make a version live; the previously live one is archived. Audited."""
    return _go_live(db, user, name, version, rollback=False)


@router.post("/{name}/versions/{version}/rollback")
def rollback(db: DbSession, user: Publisher, name: str, version: int) -> VersionPublic:
    """Make an earlier version live again, exactly as it was stored. Audited."""
    return _go_live(db, user, name, version, rollback=True)


@router.get("/{name}/diff")
def diff(db: DbSession, user: Viewer, name: str, a: int | None = None,
         b: int | None = None) -> FlowDiff:
    """Version `a` (default: the published one) against `b` (default: the newest)."""
    store = FlowStore(db)
    try:
        latest = store.latest_version(name)
        if latest is None:
            raise FlowStoreError(f"no flow named {name!r}")
        old: FlowVersion | None = (store.version(name, a) if a is not None
                                   else store.published_version(name))
        new = store.version(name, b) if b is not None else latest
    except FlowStoreError as exc:
        raise _not_found(exc) from None
    lines = diff_versions(old.yaml_text if old else "", new.yaml_text,
                          f"v{old.version}" if old else "nothing", f"v{new.version}")
    return FlowDiff(flow=name, old=old.version if old else None, new=new.version,
                    lines=[DiffLinePublic.of(d) for d in lines])
