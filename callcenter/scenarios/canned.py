"""Canned answers for a flow's webhooks, so a flow runs without the systems it calls.

Example flows call systems (order lookup, scheduling) that do not exist locally; these
answers let a scripted call (`callcenter call --webhooks`), a chat (`callcenter chat`), the
admin's try-it and scenario runs follow the flow without sending a real request. A product
feature of those text and scripted paths, never used by a worker.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import yaml


class WebhookFixtures(httpx.AsyncBaseTransport):
    """An httpx transport answering from a YAML list of {match, status, json}.

    `match` is a regex searched in "METHOD URL"; unmatched requests get a 502 that says
    no fixture matched.
    """

    def __init__(self, path: Path) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(data, list) or not all(
            isinstance(r, dict) and "match" in r for r in data
        ):
            raise ValueError(
                f"{path}: expected a YAML list of {{match: REGEX, status: 200, json: ...}}"
            )
        try:
            self.rules = [
                (re.compile(str(r["match"])), int(r.get("status", 200)), r.get("json"))
                for r in data
            ]
        except (re.error, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        probe = f"{request.method} {request.url}"
        for pattern, status, body in self.rules:
            if pattern.search(probe):
                return httpx.Response(status, json=body)
        return httpx.Response(502, json={"error": f"no fixture matches {probe!r}"})
