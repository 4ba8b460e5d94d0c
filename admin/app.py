"""The admin web application (FastAPI). `create_app()` is the factory uvicorn and tests use."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from admin.routes import livekit_webhook
from callcenter.config import Settings, get_settings
from callcenter.db import engine_for

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


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    enqueue_postcall: PostcallEnqueue | None = None,
) -> FastAPI:
    """Build the app; arguments override what would come from the environment (tests)."""
    settings = settings or get_settings()
    engine = engine or engine_for(settings.effective_database_url)
    app = FastAPI(title="callcenter admin", docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.enqueue_postcall = enqueue_postcall or _default_enqueue(settings, engine)
    app.include_router(livekit_webhook.router)
    return app
