"""The web application (FastAPI): admin pages, supervisor console, `/api/v1`, LiveKit webhook.

`create_app()` is the factory uvicorn and tests use. Security is built in here once, for
every route: the signed session cookie, the default-deny guard (sign-in and CSRF), security
headers and problem-details errors. See admin/security/.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from admin.errors import install_error_handlers
from admin.routes import (
    account,
    api_calls,
    api_flows,
    api_numbers,
    api_tryit,
    api_v1,
    auth,
    calls,
    console,
    dashboard,
    flows,
    home,
    livekit_token,
    livekit_webhook,
    numbers,
    phone,
    placeholders,
    suggestions,
)
from admin.security.guard import guard, mark_public
from admin.security.headers import SecurityHeadersMiddleware, content_security_policy
from admin.security.session import SessionMiddleware
from admin.templating import STATIC_DIR
from callcenter.config import Settings, get_settings
from callcenter.db import engine_for

log = logging.getLogger(__name__)

PostcallEnqueue = Callable[[str], object]


def _default_enqueue(settings: Settings, engine: Engine) -> PostcallEnqueue | None:
    try:
        from callcenter.postcall import enqueue_process_call
    except ImportError:
        return None

    def enqueue(call_id: str) -> object:
        # A short delay lets the worker flush its transcript before processing starts.
        return enqueue_process_call(call_id, countdown_s=5.0, settings=settings, engine=engine)

    return enqueue


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # The production console (made on first use: Redis pools, its routing loop).
    console = getattr(app.state, "console", None)
    if console is not None:
        await console.aclose()
    tryit = getattr(app.state, "tryit", None)  # try-it conversations (admin/tryit.py)
    if tryit is not None:
        await tryit.aclose()


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    enqueue_postcall: PostcallEnqueue | None = None,
) -> FastAPI:
    """Build the app; arguments override what would come from the environment (tests)."""
    settings = settings or get_settings()
    engine = engine or engine_for(settings.effective_database_url)
    if settings.secret_key_is_default:
        # `callcenter api` refuses this outside dev mode; here (tests, dev) it is only loud.
        log.warning("SECRET_KEY is the built-in development value: sessions are forgeable")
    app = FastAPI(
        title="callcenter",
        docs_url=None,
        redoc_url=None,
        # Served behind sign-in at /api/v1/openapi.json instead.
        openapi_url=None,
        dependencies=[Depends(guard)],
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.enqueue_postcall = enqueue_postcall or _default_enqueue(settings, engine)

    # LiveKit signs its webhooks (checked in the route): no session, no CSRF token.
    mark_public(livekit_webhook.router, csrf=False)
    app.include_router(livekit_webhook.router)
    # console before placeholders: its real page replaces the placeholder's /console.
    pages = (auth, home, account, phone, console, placeholders, flows, numbers, calls,
             dashboard, suggestions)
    for module in (*pages, api_v1, api_flows, api_tryit, api_numbers, api_calls,
                   livekit_token):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    install_error_handlers(app)
    # The last added runs first: headers wrap everything, the session wraps the routes.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        max_age_s=settings.session_max_age_s,
        always_secure=settings.session_cookie_secure,
    )
    app.add_middleware(
        SecurityHeadersMiddleware, csp=content_security_policy(settings.livekit_url)
    )
    return app
