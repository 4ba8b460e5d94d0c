"""`callcenter api`: serve the web app (admin, console, /api/v1, LiveKit webhook) with uvicorn."""

from __future__ import annotations

import logging
import os

import typer

from callcenter.config import Settings, check_secret_key, get_settings
from callcenter.logs import configure_logging

log = logging.getLogger(__name__)

# By import string: callcenter/ never imports admin/, and --workers needs a factory path.
APP_FACTORY = "admin.app:create_app"


def api(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on (0: any free)"),
    workers: int = typer.Option(1, min=1, max=256, help="Worker processes"),
    dev: bool = typer.Option(
        False, "--dev", help="Development: allow the built-in SECRET_KEY [DEV_MODE]"
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        help="Proxies trusted for X-Forwarded-For/-Proto (https there marks cookies Secure)",
    ),
) -> None:
    """Serve the web app. Needs SECRET_KEY set to a long random value unless --dev."""
    if dev:
        # The app factory reads settings in each worker process: pass the flag as the setting.
        os.environ["DEV_MODE"] = "true"
        get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings)
    check_secret_key(settings)  # SettingsError -> one clear line from the CLI entry point
    if settings.secret_key_is_default:
        log.warning(
            "DEV MODE: sessions are signed with the built-in SECRET_KEY; anyone can forge "
            "them. Never expose this server; set SECRET_KEY for real use."
        )
    _check_schema(settings.effective_database_url)
    _console_note(settings)

    import uvicorn

    log.info("serving the web app on http://%s:%d", host, port)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        log_config=None,  # keep configure_logging's handlers (secrets masked)
    )


def _console_note(settings: Settings) -> None:
    """Say at start what the supervisor console will have behind it (it needs the workers'
    Redis for the queue and call control, LiveKit for the call's audio)."""
    if not settings.redis_url:
        log.warning("supervisor console: no escalation backend (set REDIS_URL to the Redis "
                    "the workers use); /console says so to supervisors")
    elif not (settings.livekit_url and settings.livekit_api_key):
        log.warning("supervisor console: queue and offers on Redis, but no call audio "
                    "(set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET)")
    else:
        log.info("supervisor console: Redis queue (key prefix %s), audio through LiveKit",
                 settings.redis_key_prefix)
    if settings.phone_supervisors:  # the count only: the numbers are personal data
        n = len([e for e in settings.phone_supervisors.split(",") if e.strip()])
        if settings.redis_url:
            log.info("phone desk: %d supervisor(s) by phone through trunk %s", n,
                     settings.sip_outbound_trunk_id)
        else:
            log.warning("PHONE_SUPERVISORS: %d supervisor(s) nobody will ring: the phone "
                        "desk needs the workers' escalation broker (set REDIS_URL)", n)


def _check_schema(url: str) -> None:
    import sqlalchemy as sa

    from callcenter.db import check_connection, engine_for

    engine = engine_for(url)
    check_connection(engine)
    # An inspector, not Alembic's context: that one logs its dialect set-up at INFO.
    if not sa.inspect(engine).has_table("users"):
        raise typer.BadParameter(
            "the database has no schema yet: run `callcenter db upgrade` first",
            param_hint="DATABASE_URL",
        )
