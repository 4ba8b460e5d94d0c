"""`POST /livekit/webhook`: LiveKit's signed room/participant events -> call records.

The signature (a JWT whose `sha256` claim is the hash of the raw body) is checked on the raw
bytes before anything is parsed. Bad or missing signatures get 401 with problem details.
The body is refused (413) past `MAX_BODY_BYTES`, by its Content-Length before reading and
while reading otherwise: the signature cannot be checked before the whole body is in memory.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from livekit import api
from livekit.protocol.webhook import WebhookEvent

from callcenter.config import Settings
from callcenter.records.livekit_webhooks import BadWebhookEvent, record_event

log = logging.getLogger(__name__)
router = APIRouter()

# LiveKit's events are a few KB (a room with many participants' attributes: tens of KB).
MAX_BODY_BYTES = 1 << 20


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    """The body, or _TooLarge as soon as it passes MAX_BODY_BYTES (never more in memory)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def problem(status: int, title: str, detail: str) -> JSONResponse:
    """An RFC 9457 problem-details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@router.post("/livekit/webhook")
async def livekit_webhook(request: Request) -> Any:
    settings: Settings = request.app.state.settings
    if not (settings.livekit_api_key and settings.livekit_api_secret):
        return problem(
            503,
            "LiveKit webhooks not configured",
            "set LIVEKIT_API_KEY and LIVEKIT_API_SECRET (the keys LiveKit signs webhooks with)",
        )
    auth = request.headers.get("Authorization", "").strip()
    if not auth:
        return problem(401, "Missing webhook signature", "the Authorization header is required")
    try:
        raw = await _read_body(request)
    except _TooLarge:
        return problem(413, "Webhook body too large",
                       f"LiveKit webhook bodies are a few KB; the limit is {MAX_BODY_BYTES} bytes")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return problem(400, "Malformed webhook body", "the body is not UTF-8 JSON")
    receiver = api.WebhookReceiver(
        api.TokenVerifier(settings.livekit_api_key, settings.livekit_api_secret.get_secret_value())
    )
    try:
        event: WebhookEvent = receiver.receive(body, auth.removeprefix("Bearer "))
    except Exception as exc:  # expired, wrong key, tampered body, no sha256 claim, bad JSON
        # The reason is safe to return (no secret in it) and tells the operator what to fix.
        log.warning("rejected LiveKit webhook: %s", exc)
        return problem(401, "Invalid webhook signature", _reason(exc))
    try:
        recorded = await run_in_threadpool(record_event, request.app.state.engine, event)
    except BadWebhookEvent as exc:
        log.warning("refused LiveKit webhook %s: %s", event.id or "(no id)", exc)
        return problem(422, "Unusable webhook event", str(exc))
    enqueue = request.app.state.enqueue_postcall
    if recorded.room_finished and recorded.call_id and enqueue is not None:
        # Idempotent on the post-call side too, so a duplicate room_finished is harmless.
        await run_in_threadpool(enqueue, recorded.call_id)
    return {"status": recorded.status, "call_id": recorded.call_id}


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "ExpiredSignatureError":
        return "the webhook token has expired (LiveKit tokens are valid 5 minutes)"
    if str(exc) == "hash mismatch":
        return "the body does not match the signed sha256: it was altered in transit"
    if name in ("InvalidSignatureError", "InvalidIssuerError"):
        return "the token was not signed with this server's LIVEKIT_API_KEY/SECRET"
    return f"{name}: {exc}"
