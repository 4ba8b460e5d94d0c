"""ElevenLabs streaming text-to-speech as a `TTS` (websocket input streaming).

Why a plain websocket client here: the `elevenlabs` SDK's only input-streaming API
(`convert_realtime`) is synchronous, takes a blocking iterator of text and drops the
alignment messages, so it can neither run on our event loop nor tell the voice session which
words the caller heard. We therefore speak the documented `/v1/text-to-speech/{voice}/
stream-input` protocol with `websockets` (JSON messages: an init message, text pieces,
`flush`, `""` to end; the server answers with base64 `audio` + `alignment` and `isFinal`)
and keep the SDK for what it does well: the REST API (`probe`/`providers check`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import numpy as np
import websockets
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError

from callcenter.audio.frame import AudioFrame
from callcenter.audio.g711 import mulaw_decode
from callcenter.speech.errors import (
    FailureReason,
    MaskingLogger,
    ProviderError,
    auth_error,
    error_for_status,
    mask_secrets,
)
from callcenter.speech.outbox import Outbox
from callcenter.speech.tts.base import TTS, TTSAudio, TTSStream
from callcenter.speech.usage import TTSMetrics, UsageRecorder, report
from callcenter.speech.vendors.elevenlabs_align import WordAligner

ENV_VAR = "ELEVENLABS_API_KEY"
_ws_log = logging.getLogger("websockets.client")
OutputFormat = Literal["pcm_16000", "ulaw_8000"]
_RATES = {"pcm_16000": 16000, "ulaw_8000": 8000}


class ElevenLabsTTS(TTS):
    """Streams audio while text is still arriving; `output_format` pcm_16000 or ulaw_8000."""

    name = "elevenlabs"

    def __init__(
        self,
        *,
        api_key: str | None,
        voice_id: str,
        base_url: str | None = None,
        model_id: str = "eleven_flash_v2_5",
        output_format: OutputFormat = "pcm_16000",
        connect_timeout: float = 5.0,
        chunk_length_schedule: Sequence[int] = (50, 90, 120, 150),
        recorder: UsageRecorder | None = None,
    ) -> None:
        if not api_key:
            raise ProviderError(self.name, f"no API key: set {ENV_VAR}", reason=FailureReason.AUTH)
        if output_format not in _RATES:
            raise ValueError(
                f"ElevenLabs output_format {output_format!r} is not supported here: "
                f"use one of {sorted(_RATES)} (telephone-friendly raw audio)"
            )
        self._key = api_key
        self.voice_id = voice_id
        self.base_url = (base_url or "https://api.elevenlabs.io").rstrip("/")
        self.model_id = model_id
        self.output_format = output_format
        self.sample_rate = _RATES[output_format]
        self.connect_timeout = connect_timeout
        self.chunk_length_schedule = list(chunk_length_schedule)
        self.recorder = recorder
        self._rest = AsyncElevenLabs(api_key=api_key, base_url=self.base_url,
                                     timeout=connect_timeout + 5.0)

    def stream(self, *, voice: str | None = None) -> ElevenLabsTTSStream:
        return ElevenLabsTTSStream(self, voice or self.voice_id)

    def ws_url(self, voice_id: str) -> str:
        parsed = urllib.parse.urlparse(self.base_url)
        scheme = {"https": "wss", "http": "ws"}.get(parsed.scheme, parsed.scheme)
        query = urllib.parse.urlencode(
            {"model_id": self.model_id, "output_format": self.output_format}
        )
        path = f"{parsed.path}/v1/text-to-speech/{urllib.parse.quote(voice_id, safe='')}"
        return f"{scheme}://{parsed.netloc}{path}/stream-input?{query}"

    async def probe(self, voice_id: str | None = None) -> None:
        """One cheap REST call through the SDK: fetch the voice (checks key and voice id)."""
        try:
            await self._rest.voices.get(
                voice_id or self.voice_id, request_options={"max_retries": 0}
            )
        except ApiError as exc:
            raise error_for_status(
                self.name, ENV_VAR, exc.status_code or 0, str(exc.body),
                headers=dict(exc.headers or {}), secrets=[self._key],
            ) from None
        except Exception as exc:  # the SDK's HTTP stack raises its own transport errors
            raise self.connect_error(exc) from None

    def connect_error(self, exc: BaseException) -> ProviderError:
        detail = mask_secrets(f"{type(exc).__name__}: {exc}", [self._key])
        return ProviderError(
            self.name, f"cannot reach {self.base_url}: {detail}", reason=FailureReason.CONNECT
        )


class ElevenLabsTTSStream(TTSStream):
    """One utterance over one websocket. `metrics` has TTFB and characters."""

    def __init__(self, tts: ElevenLabsTTS, voice_id: str) -> None:
        self._tts = tts
        self.voice_id = voice_id
        self.metrics = TTSMetrics(provider=tts.name, voice=voice_id)
        self._send: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._out: Outbox[TTSAudio] = Outbox()
        self._asked_at: float | None = None  # first flush/end_input: when audio became due
        self._input_done = False
        self._aligner = WordAligner()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def push_text(self, text: str) -> None:
        if self._input_done:
            raise RuntimeError("push_text() after end_input(): open a new TTS stream")
        if not text:
            return
        # The protocol wants every piece to end with a space; callers push whole clauses.
        piece = text if text[-1].isspace() else text + " "
        self.metrics.characters += len(text)
        self._send.put_nowait({"text": piece})

    def flush(self) -> None:
        self._asked_at = self._asked_at or time.monotonic()
        self._send.put_nowait({"text": " ", "flush": True})

    def end_input(self) -> None:
        if self._input_done:
            return
        self._input_done = True
        self._asked_at = self._asked_at or time.monotonic()
        self._send.put_nowait({"text": ""})

    def __aiter__(self) -> AsyncIterator[TTSAudio]:
        return self._out.__aiter__()

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        tts = self._tts
        try:
            async with asyncio.timeout(tts.connect_timeout):
                ws = await websockets.connect(
                    tts.ws_url(self.voice_id),
                    additional_headers={"xi-api-key": tts._key},
                    open_timeout=None, close_timeout=1.0, max_size=2**24,
                    logger=MaskingLogger(_ws_log, [tts._key]),
                )
        except websockets.InvalidStatus as exc:
            resp = exc.response
            body = resp.body.decode(errors="replace") if resp.body else ""
            self._fail(error_for_status(tts.name, ENV_VAR, resp.status_code, body,
                                        headers=dict(resp.headers), secrets=[tts._key]))
            return
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            self._fail(tts.connect_error(exc))
            return
        sender = asyncio.get_running_loop().create_task(self._sender(ws))
        try:
            await self._receiver(ws)
        except websockets.ConnectionClosed as exc:
            self._fail(self._closed_error(exc.rcvd.code if exc.rcvd else 1006,
                                          exc.rcvd.reason if exc.rcvd else ""))
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await sender
            await ws.close()
            self.metrics.audio_s = self._aligner.audio_ms / 1000.0
            report(self.metrics, tts.recorder)

    async def _sender(self, ws: websockets.ClientConnection) -> None:
        init: dict[str, Any] = {"text": " "}
        if self._tts.chunk_length_schedule:
            init["generation_config"] = {"chunk_length_schedule": self._tts.chunk_length_schedule}
        await ws.send(json.dumps(init))
        while True:
            await ws.send(json.dumps(await self._send.get()))

    async def _receiver(self, ws: websockets.ClientConnection) -> None:
        rate = self._tts.sample_rate
        aligner = self._aligner
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("audio"):
                frame = self._decode(base64.b64decode(msg["audio"]), rate, aligner.audio_ms)
                if self.metrics.ttfb_s is None:
                    self.metrics.ttfb_s = time.monotonic() - (self._asked_at or time.monotonic())
                words = aligner.add(msg.get("alignment"), frame.duration_ms)
                self._out.put(TTSAudio(frame=frame, words=words))
            elif msg.get("isFinal"):
                words = aligner.finish()
                self._out.put(TTSAudio(AudioFrame.silence(0, rate, aligner.audio_ms),
                                              words=words, is_final=True))
                self._out.end()
                return
            elif msg.get("error") or msg.get("message"):
                self._fail(self._message_error(msg))
                return
        # The server closed cleanly but never said isFinal: the utterance is incomplete.
        self._fail(self._closed_error(ws.close_code or 1006, ws.close_reason or ""))

    def _decode(self, data: bytes, rate: int, at_ms: float) -> AudioFrame:
        if self._tts.output_format == "ulaw_8000":
            return AudioFrame(mulaw_decode(data), rate, at_ms)
        if len(data) % 2:  # a chunk may split a sample; keep the stream aligned
            data = data[:-1]
        return AudioFrame(np.frombuffer(data, dtype="<i2").astype(np.int16), rate, at_ms)

    def _message_error(self, msg: dict[str, Any]) -> ProviderError:
        text = mask_secrets(f"{msg.get('error', '')} {msg.get('message', '')}".strip(),
                            [self._tts._key])
        if "api_key" in text.lower().replace(" ", "_") or "unauthor" in text.lower():
            return auth_error(self._tts.name, ENV_VAR, 401)
        if "quota" in text.lower() or "rate" in text.lower():
            return ProviderError(self._tts.name, text, reason=FailureReason.RATE_LIMITED)
        return ProviderError(self._tts.name, f"server error: {text}", reason=FailureReason.SERVER)

    def _closed_error(self, code: int, reason: str) -> ProviderError:
        if code == 1008 and ("key" in reason.lower() or "auth" in reason.lower()):
            return auth_error(self._tts.name, ENV_VAR, 401)
        reason = mask_secrets(reason, [self._tts._key])
        return ProviderError(
            self._tts.name,
            f"websocket closed mid-utterance (code {code}{', ' + reason if reason else ''})",
            reason=FailureReason.DROPPED,
        )

    def _fail(self, error: ProviderError) -> None:
        self._out.put(error)

