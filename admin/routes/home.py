"""The home page after sign-in, and the anonymous health check."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from admin.deps import CurrentUser
from admin.security.guard import public
from admin.templating import render

router = APIRouter()


@router.get("/")
def home(request: Request, user: CurrentUser) -> Response:
    return render(request, "home.html")


@router.get("/healthz")
@public
def healthz() -> dict[str, str]:
    return {"status": "ok"}
