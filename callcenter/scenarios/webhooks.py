"""Where a scenario's or try-it's webhooks go: the flow's canned answers, or a refusal.

Neither sends a request off the machine: a draft under test must not book real
appointments. Canned answers are `<scenarios folder>/<flow>/webhooks.yaml` in the format
`callcenter chat --webhooks` takes; without that file every webhook fails, and the flow
takes its failure route, with a reply that says where the answers would go.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from callcenter.scenarios.canned import WebhookFixtures
from callcenter.scenarios.files import WEBHOOKS_FILE, webhooks_file


def canned_transport(root: Path, flow_name: str) -> httpx.AsyncBaseTransport:
    """The transport for `flow_name`'s webhooks (a new one per conversation or scenario)."""
    canned = webhooks_file(root, flow_name)
    if canned is not None:
        return WebhookFixtures(canned)
    message = (f"try-it and scenarios send no real webhooks; put canned answers in "
               f"{flow_name}/{WEBHOOKS_FILE} of the scenarios folder")

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, json={"error": message})

    return httpx.MockTransport(refuse)
