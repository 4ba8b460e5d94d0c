"""The stored-calls list: filters, server-side pages, one query for the rows and one count.

Used by the admin's calls page, `/api/v1/calls` and `callcenter calls list`, so the three
always agree on what a filter means.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from callcenter.accounts.times import as_utc
from callcenter.models import Call, Escalation, Flow, FlowVersion

MAX_PER_PAGE = 200
# Counting every match costs a scan of all of them (an "escalated: no" filter over a
# million calls is seconds); past this many, the list says "1,000+" instead.
COUNT_CAP = 1_000
_PUNCTUATION = re.compile(r"[\s().\-/]")


@dataclass(frozen=True, slots=True)
class CallFilters:
    """What to show; every field is optional and they combine with AND."""

    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    dialed: str | None = None  # number prefix, punctuation ignored
    caller: str | None = None
    status: str | None = None
    disposition: str | None = None
    escalated: bool | None = None
    flow: str | None = None
    version: int | None = None  # a version of `flow`

    def active(self) -> dict[str, Any]:
        """The filters that are set (for links to other pages and for display)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is not None and value != "":
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class CallRow:
    """One call as the list shows it."""

    id: str
    started_at: datetime
    ended_at: datetime | None
    caller_number: str
    dialed_number: str
    status: str
    disposition: str | None
    escalated: bool
    flow: str | None
    flow_version: int | None
    sentiment: float | None

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return max((self.ended_at - self.started_at).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class CallPage:
    rows: list[CallRow]
    total: int
    page: int
    per_page: int
    filters: CallFilters = field(default_factory=CallFilters)
    # The count stopped at `total` (COUNT_CAP): more calls match; shown as "1,000+".
    more: bool = False

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or self.more


def _number_prefix(value: str) -> str:
    return _PUNCTUATION.sub("", value.strip())


def _escalated() -> Any:
    return sa.exists().where(col(Escalation.call_id) == col(Call.id))


def flow_version_ids(db: Session, flow: str, version: int | None = None) -> list[int]:
    """The ids of `flow`'s versions (or of one version); empty for an unknown flow."""
    query = (select(FlowVersion.id).join(Flow, col(Flow.id) == col(FlowVersion.flow_id))
             .where(col(Flow.name) == flow))
    if version is not None:
        query = query.where(col(FlowVersion.version) == version)
    return [int(i) for i in db.exec(query).all() if i is not None]


def _where(db: Session, filters: CallFilters) -> list[Any]:
    conds: list[Any] = []
    if filters.since is not None:
        conds.append(col(Call.started_at) >= as_utc(filters.since))
    if filters.until is not None:
        conds.append(col(Call.started_at) < as_utc(filters.until))
    if filters.dialed:
        conds.append(col(Call.dialed_number).startswith(_number_prefix(filters.dialed),
                                                        autoescape=True))
    if filters.caller:
        conds.append(col(Call.caller_number).startswith(_number_prefix(filters.caller),
                                                        autoescape=True))
    if filters.status:
        conds.append(col(Call.status) == filters.status)
    if filters.disposition:
        conds.append(col(Call.disposition) == filters.disposition)
    if filters.escalated is True:
        conds.append(_escalated())
    elif filters.escalated is False:
        conds.append(~_escalated())
    if filters.flow:
        # By version id, not by joining names: then the (flow_version_id, started_at) index
        # gives a version's newest calls directly, however long ago it was live.
        ids = flow_version_ids(db, filters.flow, filters.version)
        conds.append(col(Call.flow_version_id).in_(ids) if ids else sa.false())
    return conds


def list_calls(db: Session, filters: CallFilters | None = None, *, page: int = 1,
               per_page: int = 50) -> CallPage:
    """One page of calls, newest first, with the total matching count."""
    filters = filters or CallFilters()
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    page = max(page, 1)
    conds = _where(db, filters)
    query = (
        select(Call, Flow.name, FlowVersion.version)
        .outerjoin(FlowVersion, col(FlowVersion.id) == col(Call.flow_version_id))
        .outerjoin(Flow, col(Flow.id) == col(FlowVersion.flow_id))
        .where(*conds)
        .order_by(col(Call.started_at).desc(), col(Call.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    matching = select(Call.id)
    cap = max(COUNT_CAP, page * per_page)
    counted = matching.where(*conds).limit(cap + 1).subquery()
    total = int(db.exec(select(func.count()).select_from(counted)).one())
    more = total > cap
    found = db.exec(query).all()
    # Which of this page's calls were escalated, in one lookup by id: as a column of the
    # page query PostgreSQL hashes the whole escalations table for every page.
    ids = [call.id for call, _, _ in found]
    escalated = set(db.exec(select(Escalation.call_id)
                            .where(col(Escalation.call_id).in_(ids))).all()) if ids else set()
    rows = [_row(call, name, version, call.id in escalated) for call, name, version in found]
    return CallPage(rows=rows, total=min(total, cap), page=page, per_page=per_page,
                    filters=filters, more=more)


def _row(call: Call, flow: str | None, version: int | None, escalated: bool) -> CallRow:
    return CallRow(
        id=call.id,
        started_at=as_utc(call.started_at),
        ended_at=as_utc(call.ended_at) if call.ended_at else None,
        caller_number=call.caller_number,
        dialed_number=call.dialed_number,
        status=call.status,
        disposition=call.disposition,
        escalated=escalated,
        flow=flow,
        flow_version=version,
        sentiment=call.sentiment,
    )


def call_row(db: Session, call_id: str) -> CallRow | None:
    """The list row of one call (the head of its page), or None."""
    found = db.exec(
        select(Call, Flow.name, FlowVersion.version, _escalated().label("escalated"))
        .outerjoin(FlowVersion, col(FlowVersion.id) == col(Call.flow_version_id))
        .outerjoin(Flow, col(Flow.id) == col(FlowVersion.flow_id))
        .where(col(Call.id) == call_id)
    ).first()
    if found is None:
        return None
    call, name, version, esc = found
    return _row(call, name, version, bool(esc))
