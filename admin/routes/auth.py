"""`/login` (form, sign-in) and `/logout`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.deps import DbSession, OptionalUser
from admin.security.csrf import csrf_token
from admin.security.guard import public
from admin.templating import render
from callcenter.accounts import LoginFailed, LoginLocked, LoginPolicy, authenticate

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only paths on this site: `//evil.example` and `https://...` would leave it."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


@router.get("/login")
@public
def login_page(request: Request, user: OptionalUser, next: str = "/") -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "email": ""})


@router.post("/login")
@public
def login(
    request: Request,
    db: DbSession,
    email: Annotated[str, Form(max_length=400)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    policy = LoginPolicy.from_settings(request.app.state.settings)
    client = request.client.host if request.client else None
    context = {"next": safe_next(next), "email": email}
    if not email or not password:
        context["error"] = "Enter your email and password."
        return render(request, "login.html", context, status_code=400)
    try:
        user = authenticate(db, email, password, client_addr=client, policy=policy)
    except LoginLocked as exc:
        context["error"] = str(exc)
        response = render(request, "login.html", context, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except LoginFailed as exc:
        context["error"] = str(exc)
        return render(request, "login.html", context, status_code=400)
    # A new session on sign-in: nothing from the anonymous one (its CSRF token) carries over.
    request.session.clear()
    request.session.update({"uid": user.id, "ep": user.session_epoch})
    csrf_token(request.session)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
