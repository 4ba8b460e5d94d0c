"""A fake ElevenLabs server: websocket input streaming with audio + alignment, and REST voices.

Speaks `/v1/text-to-speech/{voice_id}/stream-input`: the client's init message, text pieces,
`flush`, and `{"text": ""}` to end; the server answers one JSON message per word with base64
audio (in the requested `output_format`), the word's character alignment (times relative to
the chunk) and finally `{"isFinal": true}`. Audio is a tone whose length follows the text, so
tests can check timing and which words were produced. `GET /v1/voices/{voice_id}` answers
the SDK's REST call used for probes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from callcenter.audio.g711 import mulaw_encode
from callcenter.testing.cloud.faults import (
    FakeServer,
    Fault,
    FaultKind,
    cut_connection,
    stall_until_disconnect,
    status_response,
)

_RATES = {"pcm_16000": 16000, "ulaw_8000": 8000, "pcm_22050": 22050, "pcm_24000": 24000}


class FakeElevenLabs(FakeServer):
    """`async with FakeElevenLabs(key) as srv:` then `ElevenLabsTTS(base_url=srv.http_url)`."""

    def __init__(self, api_key: str = "el-test-fake-elevenlabs-key-0123456789", *,
                 ms_per_char: float = 30.0, chunk_delay: float = 0.0,
                 accept_delay: float = 0.0, first_audio_delay: float = 0.0,
                 voices: tuple[str, ...] = ("voice-a", "voice-b")) -> None:
        super().__init__(api_key)
        self.accept_delay = accept_delay  # network + TLS + handshake time of a real service
        self.first_audio_delay = first_audio_delay  # model time before the first chunk
        self.ms_per_char = ms_per_char
        self.chunk_delay = chunk_delay
        self.voices = voices
        self.received: list[str] = []  # text received per connection (joined)
        self.words_sent: list[list[str]] = []  # words synthesized per connection
        self.app.router.add_get("/v1/text-to-speech/{voice_id}/stream-input", self._ws)
        self.app.router.add_get("/v1/voices/{voice_id}", self._voice)

    async def _voice(self, request: web.Request) -> web.Response:
        if request.headers.get("xi-api-key") != self.api_key:
            return web.json_response({"detail": {"status": "invalid_api_key",
                                                 "message": "Invalid API key"}}, status=401)
        voice_id = request.match_info["voice_id"]
        if voice_id not in self.voices:
            return web.json_response({"detail": {"status": "voice_not_found",
                                                 "message": f"voice {voice_id} not found"}},
                                     status=404)
        return web.json_response({"voice_id": voice_id, "name": voice_id, "category": "premade"})

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        fault = self.next_fault()
        if fault is not None and fault.kind is FaultKind.STATUS:
            return status_response(fault, "fake failure")
        fmt = request.query.get("output_format", "mp3_44100_128")
        if self.accept_delay:
            await asyncio.sleep(self.accept_delay)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if request.headers.get("xi-api-key") != self.api_key:
            await ws.send_json({"message": "Invalid API key", "error": "invalid_api_key",
                                "code": 1008})
            await ws.close(code=1008, message=b"Invalid API key")
            return ws
        if fmt not in _RATES:
            await ws.send_json({"message": f"output_format {fmt} unsupported by this fake",
                                "error": "invalid_request", "code": 1008})
            await ws.close(code=1008)
            return ws
        if fault is not None and fault.kind is FaultKind.STALL:
            await stall_until_disconnect(request)
            return ws
        # The client may go away mid-reply: normal in failover tests.
        with contextlib.suppress(ConnectionResetError):
            await self._session(request, ws, fmt, fault)
        return ws

    async def _session(self, request: web.Request, ws: web.WebSocketResponse, fmt: str,
                       fault: Fault | None) -> None:
        drop_after = fault.after if fault is not None and fault.kind is FaultKind.DROP else None
        text, buffer = "", ""
        sent: list[str] = []
        self.received.append("")
        self.words_sent.append(sent)
        conn = len(self.received) - 1
        initialized = False
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            data: dict[str, Any] = json.loads(msg.data)
            piece = data.get("text", "")
            if not initialized:  # the first message only carries settings (text " ")
                initialized = True
                continue
            if data.get("flush"):
                piece = piece.strip()
            if piece == "" and not data.get("flush"):  # end of input: the rest, isFinal, close
                buffer += " "
            elif piece:
                text += piece
                self.received[conn] = text
                buffer += piece
                # Generate on flush, or once a few words are buffered (like chunk schedules).
                if not data.get("flush") and len(buffer.split()) < 3:
                    continue
            for word in buffer.split():
                if not sent and self.first_audio_delay:
                    await asyncio.sleep(self.first_audio_delay)
                if drop_after is not None and len(sent) >= drop_after:
                    cut_connection(request)
                    return
                await ws.send_str(json.dumps(self._chunk(word, fmt)))
                sent.append(word)
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
            buffer = ""
            if piece == "" and not data.get("flush"):
                await ws.send_json({"isFinal": True})
                await ws.close()
                break

    def _chunk(self, word: str, fmt: str) -> dict[str, Any]:
        chars = [*word, " "]
        rate = _RATES[fmt]
        ms = self.ms_per_char * len(chars)
        n = int(rate * ms / 1000)
        t = np.arange(n) / rate
        samples = (8000 * np.sin(2 * np.pi * (300 + 20 * len(word)) * t)).astype(np.int16)
        audio = mulaw_encode(samples) if fmt == "ulaw_8000" else samples.astype("<i2").tobytes()
        starts = [round(i * self.ms_per_char) for i in range(len(chars))]
        alignment = {"chars": chars, "charStartTimesMs": starts,
                     "charDurationsMs": [round(self.ms_per_char)] * len(chars)}
        return {"audio": base64.b64encode(audio).decode(), "isFinal": None,
                "alignment": alignment, "normalizedAlignment": alignment}
