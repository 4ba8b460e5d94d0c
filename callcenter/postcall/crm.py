"""The CRM webhook: one signed JSON POST per processed call, with a dead-letter record.

Signature: `X-Callcenter-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
with `X-Callcenter-Timestamp: <unix seconds>`. Receivers recompute it over the raw body
and reject old timestamps (replays). `Idempotency-Key` is the call id: a receiver may see
a call twice (retries after a lost response) and should keep one.

The payload carries the redacted transcript only, never the raw one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from callcenter.models import Call, CallTranscript, WebhookDelivery, utcnow

SIGNATURE_HEADER = "X-Callcenter-Signature"
TIMESTAMP_HEADER = "X-Callcenter-Timestamp"
TIMEOUT_S = 10.0
# 4xx means the receiver rejects this payload: retrying cannot help (except these).
_RETRYABLE_4XX = {408, 409, 425, 429}


class WebhookRetry(Exception):
    """A delivery failed in a way a later attempt may fix (network, 5xx, 429)."""


@dataclass(slots=True, frozen=True)
class Outcome:
    status: str  # delivered | dead | retry | skipped
    detail: str = ""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Header value for `SIGNATURE_HEADER`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, *, max_age_s: int = 300) -> bool:
    """Receiver side: signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - ts) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), header)


def payload(call: Call, transcript: CallTranscript | None) -> dict[str, Any]:
    """What the CRM receives about one call."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "event": "call.processed",
        "call_id": call.id,
        "caller_number": call.caller_number,
        "dialed_number": call.dialed_number,
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "end_reason": call.end_reason,
        "disposition": call.disposition,
        "summary": call.summary,
        "sentiment": call.sentiment,
        "metrics": call.metrics.get("postcall", {}),
        "transcript": transcript.redacted_data if transcript else [],
    }


def deliver(
    engine: Engine,
    call_id: str,
    url: str,
    secret: str | None,
    *,
    final_attempt: bool,
    client: httpx.Client | None = None,
) -> Outcome:
    """One delivery attempt. Raises WebhookRetry when a later attempt should follow."""
    with Session(engine) as session:
        row = session.exec(
            select(WebhookDelivery).where(
                WebhookDelivery.call_id == call_id, WebhookDelivery.url == url
            )
        ).first()
        call = session.get(Call, call_id)
        if row is None or call is None or row.status != "pending":
            return Outcome("skipped", "no pending delivery")
        body = json.dumps(
            payload(call, session.get(CallTranscript, call_id)), separators=(",", ":")
        ).encode()
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "callcenter-postcall/1",
        TIMESTAMP_HEADER: str(ts),
        "Idempotency-Key": call_id,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, ts, body)
    status_code: int | None = None
    try:
        own = client or httpx.Client(timeout=TIMEOUT_S)
        try:
            response = own.post(url, content=body, headers=headers)
        finally:
            if client is None:
                own.close()
        status_code = response.status_code
        if 200 <= status_code < 300:
            _update(engine, row.id, "delivered", "", status_code)
            return Outcome("delivered")
        error = f"HTTP {status_code}: {response.text[:200]}"
        retryable = status_code >= 500 or status_code in _RETRYABLE_4XX
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
        retryable = True
    if retryable and not final_attempt:
        _update(engine, row.id, "pending", error, status_code)
        raise WebhookRetry(error)
    _update(engine, row.id, "dead", error, status_code)
    return Outcome("dead", error)


def _update(engine: Engine, row_id: int | None, status: str, error: str, code: int | None) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(WebhookDelivery, row_id)
        if row is None:
            return
        row.status = status
        row.attempts += 1
        row.last_error = error[:1000]
        row.response_status = code
        row.updated_at = utcnow()
        session.add(row)
