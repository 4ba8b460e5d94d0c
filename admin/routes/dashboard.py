"""`/dashboard`: calls per hour, containment, outcomes, handle time, the escalation queues
and alerts, over a chosen period (figures from callcenter.records.dashboard), and the
supervisors online now (the escalation broker's presence, read only)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from admin.charts import count_bars
from admin.deps import DbSession, require_permission
from admin.routes.console import console_backend
from admin.templating import render
from callcenter.accounts import Permission
from callcenter.accounts.times import now_utc
from callcenter.models import User
from callcenter.records.dashboard import dashboard

router = APIRouter()
Viewer = Annotated[User, Depends(require_permission(Permission.DASHBOARDS_VIEW))]
PERIODS = {"24h": ("last 24 hours", timedelta(hours=24)), "7d": ("last 7 days", timedelta(days=7)),
           "30d": ("last 30 days", timedelta(days=30))}


async def _supervisors(request: Request) -> Counter[str] | None:
    """Supervisors by status now (the broker's presence, heartbeats expired = away), or
    None when this server has no escalation backend (no REDIS_URL, not `callcenter dev`)."""
    console = console_backend(request)
    if console is None:
        return None
    return Counter(p.status.value for p in await console.desk.broker.supervisors())


@router.get("/dashboard")
async def dashboard_page(request: Request, db: DbSession, user: Viewer,
                         period: str = "24h") -> Response:
    period = period if period in PERIODS else "24h"
    until = now_utc()
    d = await run_in_threadpool(dashboard, db, until - PERIODS[period][1], until)
    bars, top = count_bars([(h.strftime("%m-%d %H:00"), n) for h, n in d.per_hour])
    return render(request, "dashboard.html", {
        "section": "dashboard", "d": d, "bars": bars, "top": top, "period": period,
        "periods": {k: label for k, (label, _) in PERIODS.items()},
        "supervisors": await _supervisors(request)})
