"""A fake OpenAI chat-completions server: SSE streaming with tool-call deltas and usage.

Speaks the documented wire format (`POST /v1/chat/completions` with `stream: true` ->
`data: <chat.completion.chunk JSON>` events, `data: [DONE]`), so the real `openai` SDK runs
unmodified against `base_url=server.url`. Replies are scripted (`script`), otherwise the
server echoes the last user message.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from callcenter.testing.cloud.faults import (
    FakeServer,
    FaultKind,
    cut_connection,
    stall_until_disconnect,
    status_response,
)


@dataclass(slots=True)
class ScriptedReply:
    """What the fake model answers: text (streamed word by word) and/or tool calls."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class FakeOpenAI(FakeServer):
    """`async with FakeOpenAI(api_key) as srv:` then `AsyncOpenAI(base_url=srv.url, ...)`."""

    def __init__(self, api_key: str = "sk-test-fake-openai-key-0123456789", *,
                 chunk_delay: float = 0.0) -> None:
        super().__init__(api_key)
        self.script: list[ScriptedReply] = []
        self.chunk_delay = chunk_delay
        self.last_request: dict[str, Any] = {}
        self.app.router.add_post("/v1/chat/completions", self._chat)
        self.app.router.add_get("/v1/models", self._models)
        self.app.router.add_get("/v1/models/{model}", self._model)

    @property
    def url(self) -> str:
        return f"{self.http_url}/v1"

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        got = request.headers.get("Authorization", "")
        if got == f"Bearer {self.api_key}":
            return None
        # Like the real service, the message quotes the key it got: clients must mask it.
        return web.json_response(
            {"error": {"message": f"Incorrect API key provided: {got[7:]}",
                       "type": "invalid_request_error", "code": "invalid_api_key"}},
            status=401,
        )

    async def _models(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        return web.json_response({"object": "list", "data": [
            {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "fake"}]})

    async def _model(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        model = request.match_info["model"]
        if model not in ("gpt-4o-mini", "gpt-4o"):
            return web.json_response({"error": {"message": f"The model '{model}' does not exist",
                                                 "code": "model_not_found"}}, status=404)
        return web.json_response({"id": model, "object": "model", "created": 0, "owned_by": "x"})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        body = await request.json()
        self.last_request = body
        fault = self.next_fault()
        if fault is not None and fault.kind is FaultKind.STATUS:
            return status_response(fault, f"fake failure (key seen: {self.api_key})")
        if fault is not None and fault.kind is FaultKind.STALL:
            await stall_until_disconnect(request)
        if not body.get("stream"):
            return web.json_response({"error": {"message": "this fake only streams"}}, status=400)
        reply = self.script.pop(0) if self.script else _echo(body["messages"])
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        chunks = list(_chunks(body, reply))
        for n, chunk in enumerate(chunks):
            if fault is not None and fault.kind is FaultKind.DROP and n == fault.after:
                cut_connection(request)
                return resp
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _echo(messages: list[dict[str, Any]]) -> ScriptedReply:
    last = next((m.get("content") or "" for m in reversed(messages) if m["role"] == "user"), "")
    return ScriptedReply(text=f"You said: {last}")


def _chunks(body: dict[str, Any], reply: ScriptedReply) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body.get("model", "gpt-4o-mini")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    words = reply.text.split(" ") if reply.text else []
    out += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
    for index, (name, args) in enumerate(reply.tool_calls):
        text = json.dumps(args)
        third = max(1, len(text) // 3)
        out.append(chunk({"tool_calls": [{"index": index, "id": f"call_{index}", "type": "function",
                                          "function": {"name": name, "arguments": ""}}]}))
        for i in range(0, len(text), third):
            out.append(chunk({"tool_calls": [{"index": index,
                                              "function": {"arguments": text[i:i + third]}}]}))
    out.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        prompt = sum(len(str(m.get("content") or "").split()) for m in body["messages"])
        completion = len(words) + sum(len(json.dumps(a).split()) for _, a in reply.tool_calls)
        out.append({**base, "choices": [], "usage": {
            "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}})
    return out
