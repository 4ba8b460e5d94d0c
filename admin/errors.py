"""Errors as people should see them: RFC 9457 problem details for the API, pages otherwise."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from admin.security.csrf import CsrfFailed
from admin.security.guard import API_PREFIX, Forbidden, NotAuthenticated
from admin.templating import render

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An `application/problem+json` response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class ApiProblem(Exception):
    """Raised by API routes: answered as problem details, with `extra` members (RFC 9457 §3.2)."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title or _title(status)
        self.detail = detail
        self.extra = extra


async def _api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    if wants_problem(request):
        return problem(exc.status, exc.title, exc.detail, **exc.extra)
    return error_response(request, exc.status, exc.detail)


def wants_problem(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_response(request: Request, status: int, detail: str) -> Response:
    if wants_problem(request):
        return problem(status, _title(status), detail)
    context = {"status": status, "title": _title(status), "detail": detail}
    return render(request, "error.html", context, status_code=status)


async def _not_authenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAuthenticated)
    if wants_problem(request):
        return problem(401, "Not authenticated", exc.detail, {"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/login?next={quote(target, safe='/')}"
    if request.headers.get("hx-request"):
        # htmx follows HX-Redirect with a full page load instead of swapping in the login form.
        return Response(status_code=401, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return error_response(request, 403, exc.detail)


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    return error_response(request, 403, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
    response = error_response(request, exc.status_code, detail)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
    if wants_problem(request):
        return problem(422, "Invalid request", detail, errors=errors)
    return error_response(request, 422, detail)


async def _redis_unreachable(request: Request, exc: Exception) -> Response:
    # The exception text names host and port only; the URL (which may hold a password) is
    # never put in the answer or the log.
    log.warning("Redis unreachable while serving %s: %s", request.url.path, type(exc).__name__)
    detail = ("Redis (the supervisor queue and call control) is unreachable: check that it is "
              "running and that REDIS_URL points at it, then try again.")
    headers = {"Retry-After": "5"}
    if wants_problem(request) or _sent_json(request):  # the console's fetch() calls
        return problem(503, "Redis unreachable", detail, headers)
    response = error_response(request, 503, detail)
    response.headers.update(headers)
    return response


def _sent_json(request: Request) -> bool:
    kinds = request.headers.get("content-type", "") + request.headers.get("accept", "")
    return "application/json" in kinds


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RedisConnectionError, _redis_unreachable)
    app.add_exception_handler(RedisTimeoutError, _redis_unreachable)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
