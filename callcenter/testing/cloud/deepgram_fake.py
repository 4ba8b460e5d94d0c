"""A fake Deepgram live-transcription server (`/v1/listen` websocket) and a REST probe route.

It decodes the audio the client sends (linear16 or mulaw, per the query string), finds speech
by energy in 20 ms windows, and answers with Deepgram's messages: interim `Results` while
someone speaks, a final `Results` with `speech_final` after `endpointing` ms of silence,
`UtteranceEnd` after `utterance_end_ms`, `from_finalize` results for `Finalize`, and
`Metadata` on `CloseStream`. What was "said" comes from `script` (one utterance per speech
segment), with word timings spread over the real speech segment.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from callcenter.audio.g711 import mulaw_decode
from callcenter.testing.cloud.faults import (
    FakeServer,
    FaultKind,
    cut_connection,
    status_response,
)

_WINDOW_S = 0.02
_SPEECH_RMS = 500.0


class FakeDeepgram(FakeServer):
    """`async with FakeDeepgram(key) as srv:` then `DeepgramSTT(base_url=srv.http_url)`."""

    def __init__(self, api_key: str = "dg-test-fake-deepgram-key-0123456789",
                 script: list[str] | None = None, *, reply_delay: float = 0.0) -> None:
        super().__init__(api_key)
        self.script = list(script or [])
        self.reply_delay = reply_delay
        self.queries: list[dict[str, list[str]]] = []
        self.app.router.add_get("/v1/listen", self._listen)
        self.app.router.add_get("/v1/projects", self._projects)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") in (
            f"Token {self.api_key}", f"Bearer {self.api_key}")

    async def _projects(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"err_code": "INVALID_AUTH",
                                      "err_msg": "Invalid credentials."}, status=401)
        return web.json_response({"projects": [{"project_id": "p1", "name": "fake"}]})

    async def _listen(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"err_code": "INVALID_AUTH",
                                      "err_msg": "Invalid credentials."}, status=401)
        fault = self.next_fault()
        if fault is not None and fault.kind is FaultKind.STATUS:
            return status_response(fault, "fake failure")
        query = {k: request.query.getall(k) for k in request.query}
        self.queries.append(query)
        encoding = query.get("encoding", ["linear16"])[0]
        rate = int(query.get("sample_rate", ["16000"])[0])
        if encoding not in ("linear16", "mulaw"):
            return web.json_response({"err_msg": f"bad encoding {encoding}"}, status=400)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = _Session(self, ws, query, encoding, rate)
        if fault is not None and fault.kind is FaultKind.DROP:
            session.drop_after = fault.after
        stalled = fault is not None and fault.kind is FaultKind.STALL
        async for msg in ws:
            if stalled:
                continue  # swallow everything, answer nothing
            if msg.type is WSMsgType.BINARY:
                await session.audio(msg.data)
            elif msg.type is WSMsgType.TEXT:
                kind = json.loads(msg.data).get("type")
                if kind == "Finalize":
                    await session.finalize(from_finalize=True)
                elif kind == "CloseStream":
                    await session.finalize(from_finalize=True)
                    await session.send({"type": "Metadata", "transaction_key": "deprecated",
                                        "request_id": session.request_id, "sha256": "0" * 64,
                                        "created": "2026-01-01T00:00:00.000Z",
                                        "duration": session.t, "channels": 1})
                    await ws.close()
            if session.dropped:
                cut_connection(request)
                return ws
        return ws


class _Session:
    """Per-connection recognizer state, in media time (seconds of audio received)."""

    def __init__(self, server: FakeDeepgram, ws: web.WebSocketResponse,
                 query: dict[str, list[str]], encoding: str, rate: int) -> None:
        self.server, self.ws, self.encoding, self.rate = server, ws, encoding, rate
        self.interim = query.get("interim_results", ["false"])[0] == "true"
        self.endpointing = int(query.get("endpointing", ["10"])[0]) / 1000.0
        ue = query.get("utterance_end_ms")
        self.utterance_end = int(ue[0]) / 1000.0 if ue else None
        self.request_id = str(uuid.uuid4())
        self.t = 0.0  # audio received so far
        self.pending = np.zeros(0, dtype=np.int16)
        self.speech_start: float | None = None
        self.speech_end = 0.0
        self.last_interim = 0.0
        self.awaiting_utterance_end: float | None = None
        self.results_sent = 0
        self.drop_after: int | None = None
        self.dropped = False

    async def send(self, message: dict[str, Any]) -> None:
        if self.drop_after is not None and self.results_sent >= self.drop_after:
            self.dropped = True
            return
        if self.server.reply_delay:
            await asyncio.sleep(self.server.reply_delay)
        await self.ws.send_str(json.dumps(message))
        if message["type"] == "Results":
            self.results_sent += 1

    async def audio(self, data: bytes) -> None:
        samples = mulaw_decode(data) if self.encoding == "mulaw" else np.frombuffer(data, "<i2")
        self.pending = np.concatenate([self.pending, samples])
        n = int(self.rate * _WINDOW_S)
        while len(self.pending) >= n and not self.dropped:
            window, self.pending = self.pending[:n], self.pending[n:]
            rms = float(np.sqrt(np.mean(window.astype(np.float64) ** 2)))
            await self._window(rms > _SPEECH_RMS)
            self.t += _WINDOW_S

    async def _window(self, speech: bool) -> None:
        if speech:
            if self.speech_start is None:
                self.speech_start, self.last_interim = self.t, self.t
            self.speech_end = self.t + _WINDOW_S
            self.awaiting_utterance_end = None
            if self.interim and self.t - self.last_interim >= 0.2:
                self.last_interim = self.t
                await self._results(final=False)
        elif self.speech_start is not None and self.t - self.speech_end >= self.endpointing:
            await self._results(final=True, speech_final=True)
            self.speech_start = None
            self.awaiting_utterance_end = self.speech_end
        elif (self.awaiting_utterance_end is not None and self.utterance_end is not None
              and self.t - self.awaiting_utterance_end >= self.utterance_end):
            await self.send({"type": "UtteranceEnd", "channel": [0, 1],
                             "last_word_end": round(self.awaiting_utterance_end, 3)})
            self.awaiting_utterance_end = None

    async def finalize(self, *, from_finalize: bool) -> None:
        if self.speech_start is not None:
            await self._results(final=True, from_finalize=from_finalize)
            self.speech_start = None
            self.awaiting_utterance_end = self.speech_end
        else:
            await self._results(final=True, from_finalize=from_finalize, empty=True)

    async def _results(self, *, final: bool, speech_final: bool = False,
                       from_finalize: bool = False, empty: bool = False) -> None:
        start = self.speech_start if self.speech_start is not None else self.t
        end = self.speech_end if final else self.t
        words: list[str] = []
        if not empty:
            utterance = self.server.script[0] if self.server.script else "hello"
            words = utterance.split()
            if final:
                if self.server.script:
                    self.server.script.pop(0)
            else:  # interim results reveal the utterance as speech goes on
                words = words[: max(1, int(len(words) * min(1.0, (end - start) / 1.0)))]
        step = (end - start) / max(1, len(words))
        word_items = [{"word": re.sub(r"[^\w']", "", w).lower(), "punctuated_word": w,
                       "start": round(start + i * step, 3), "end": round(start + (i + 1) * step, 3),
                       "confidence": 0.97} for i, w in enumerate(words)]
        await self.send({
            "type": "Results", "channel_index": [0, 1], "start": round(start, 3),
            "duration": round(max(0.0, end - start), 3), "is_final": final,
            "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": " ".join(words), "confidence": 0.97,
                                          "words": word_items}]},
            "metadata": {"request_id": self.request_id, "model_uuid": str(uuid.uuid4()),
                         "model_info": {"name": "general-nova-3", "version": "fake",
                                        "arch": "nova-3"}},
        })
