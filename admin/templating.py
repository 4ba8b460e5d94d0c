"""Jinja2 templates (autoescaped) with what every page needs: user, CSRF token, permissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from admin.security.csrf import CSRF_FIELD, CSRF_HEADER, csrf_token
from callcenter.accounts import can

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals.update(can=can, csrf_field=CSRF_FIELD, csrf_header=CSRF_HEADER)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    """Render a page; `user` and `csrf_token` are always in the context."""
    full: dict[str, Any] = {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request.session),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, full, status_code=status_code)
