"""Deepgram live streaming speech-to-text as an `STT`, through `deepgram-sdk` (v7 API).

The SDK's async client (`client.listen.v1.connect(...)`) opens the `/v1/listen` websocket;
pointing it at another host is done with a `DeepgramClientEnvironment` whose `production`
(websocket) and `base` (REST) URLs are ours. Mapping to our events:
`Results` with `is_final=false` -> INTERIM, `is_final=true` -> FINAL, `speech_final=true`
(endpointing) or `UtteranceEnd` -> END_OF_UTTERANCE (once per utterance).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from deepgram import AsyncDeepgramClient
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment

from callcenter.audio.frame import AudioFrame
from callcenter.audio.g711 import mulaw_encode
from callcenter.speech.errors import FailureReason, ProviderError, error_for_status, mask_secrets
from callcenter.speech.outbox import Outbox
from callcenter.speech.stt.base import STT, STTStream, Transcript, TranscriptKind
from callcenter.speech.types import Word
from callcenter.speech.usage import STTMetrics, UsageRecorder, report

ENV_VAR = "DEEPGRAM_API_KEY"
Encoding = Literal["linear16", "mulaw"]
_FINALIZE, _CLOSE = "finalize", "close"
_SUPPORTED = (("linear16", 16000), ("linear16", 8000), ("mulaw", 8000))
_KEEPALIVE_S = 5.0  # Deepgram closes an idle stream after ~10 s without audio


class DeepgramSTT(STT):
    """Streaming STT: 16 kHz linear16 or 8 kHz mu-law in, interim/final transcripts out."""

    name = "deepgram"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        model: str = "nova-3",
        encoding: Encoding = "linear16",
        sample_rate: int = 16000,
        endpointing_ms: int = 300,
        utterance_end_ms: int | None = 1000,
        connect_timeout: float = 5.0,
        recorder: UsageRecorder | None = None,
    ) -> None:
        if not api_key:
            raise ProviderError(self.name, f"no API key: set {ENV_VAR}", reason=FailureReason.AUTH)
        if (encoding, sample_rate) not in _SUPPORTED:
            raise ValueError(
                f"Deepgram input {encoding} at {sample_rate} Hz is not supported here: use "
                "linear16 at 16000 Hz (wideband) or mulaw at 8000 Hz (telephone)"
            )
        self._key = api_key
        self.model = model
        self.encoding: Encoding = encoding
        self.sample_rate = sample_rate
        self.endpointing_ms = endpointing_ms
        self.utterance_end_ms = utterance_end_ms
        self.connect_timeout = connect_timeout
        self.recorder = recorder
        http = (base_url or "https://api.deepgram.com").rstrip("/")
        ws = "ws" + http[4:] if http.startswith("http") else http
        env = DeepgramClientEnvironment(base=http, production=ws, agent=ws, agent_rest=http)
        self._client = AsyncDeepgramClient(
            api_key=api_key, environment=env, timeout=connect_timeout + 5.0
        )

    def stream(self, *, language: str = "en", keywords: Sequence[str] = ()) -> DeepgramSTTStream:
        return DeepgramSTTStream(self, language, list(keywords))

    def connect_params(self, language: str, keywords: list[str]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model, "language": language, "encoding": self.encoding,
            "sample_rate": str(self.sample_rate), "channels": "1", "interim_results": "true",
            "punctuate": "true", "smart_format": "true",
            "endpointing": str(self.endpointing_ms),
        }
        if self.utterance_end_ms is not None:
            params["utterance_end_ms"] = str(self.utterance_end_ms)
        if keywords:
            # Nova-3 takes `keyterm` prompts; older models take boosted `keywords`.
            if self.model.startswith("nova-3"):
                params["keyterm"] = keywords
            else:
                params["keywords"] = [f"{k}:2" for k in keywords]
        return params

    async def probe(self) -> None:
        """One cheap authenticated REST call: list projects. No SDK retries: the caller (a
        health probe or `providers check`) decides when to try again."""
        try:
            await self._client.manage.v1.projects.list(request_options={"max_retries": 0})
        except ApiError as exc:
            raise self.map_api_error(exc) from None
        except Exception as exc:  # the SDK's HTTP stack raises its own transport errors
            raise self.connect_error(exc) from None

    def map_api_error(self, exc: ApiError) -> ProviderError:
        # The SDK puts *request* headers (with the key) on ApiError: never read them.
        # Response headers (Retry-After) are on the handshake exception it wraps, if any.
        handshake = exc.__context__
        headers = getattr(handshake, "headers", None) or getattr(
            getattr(handshake, "response", None), "headers", None) or {}
        return error_for_status(
            self.name, ENV_VAR, exc.status_code or 0, str(exc.body),
            headers=dict(headers), secrets=[self._key],
        )

    def connect_error(self, exc: BaseException) -> ProviderError:
        detail = mask_secrets(f"{type(exc).__name__}: {exc}", [self._key])
        return ProviderError(self.name, f"cannot connect: {detail}", reason=FailureReason.CONNECT)


class DeepgramSTTStream(STTStream):
    """One speaker's live stream. `metrics` has audio seconds and final-result latencies."""

    def __init__(self, stt: DeepgramSTT, language: str, keywords: list[str]) -> None:
        self._stt = stt
        self._params = stt.connect_params(language, keywords)
        self.metrics = STTMetrics(provider=stt.name)
        self._audio: asyncio.Queue[bytes | str] = asyncio.Queue()
        self._out: Outbox[Transcript] = Outbox()
        self._offset_ms: float | None = None  # media time of the first frame
        self._sent: deque[tuple[float, float]] = deque()  # (audio end s, wall time pushed)
        self._utterance: list[str] = []  # final texts since the last end of utterance
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    def push_frame(self, frame: AudioFrame) -> None:
        if frame.sample_rate != self._stt.sample_rate:
            raise ValueError(
                f"Deepgram stream expects {self._stt.sample_rate} Hz frames, got "
                f"{frame.sample_rate} Hz: resample first (callcenter.audio.resample)"
            )
        if self._offset_ms is None:
            self._offset_ms = frame.timestamp_ms
        data = mulaw_encode(frame.samples) if self._stt.encoding == "mulaw" else frame.to_bytes()
        self.metrics.audio_s += frame.duration_ms / 1000.0
        self._sent.append((self.metrics.audio_s, time.monotonic()))
        self._audio.put_nowait(data)

    def end_of_speech(self) -> None:
        self._audio.put_nowait(_FINALIZE)

    def __aiter__(self) -> AsyncIterator[Transcript]:
        return self._out.__aiter__()

    async def aclose(self) -> None:
        if not self._task.done():
            self._closing = True
            self._audio.put_nowait(_CLOSE)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), 1.0)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._out.end()

    async def _run(self) -> None:
        stt = self._stt
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    cm = stt._client.listen.v1.connect(**self._params)
                    async with asyncio.timeout(stt.connect_timeout):
                        sock = await stack.enter_async_context(cm)
                except ApiError as exc:
                    self._out.put(stt.map_api_error(exc))
                    return
                except (OSError, TimeoutError) as exc:
                    self._out.put(stt.connect_error(exc))
                    return
                sender = asyncio.get_running_loop().create_task(self._sender(sock))
                stack.push_async_callback(_cancel, sender)
                await self._receiver(sock)
        except ProviderError as exc:
            self._out.put(exc)
        except Exception as exc:  # websockets' ConnectionClosedError and kin
            if self._closing:
                self._out.end()
            else:
                detail = mask_secrets(f"{type(exc).__name__}: {exc}", [stt._key])
                self._out.put(ProviderError(
                    stt.name, f"stream dropped ({detail})", reason=FailureReason.DROPPED))
        finally:
            report(self.metrics, stt.recorder)

    async def _sender(self, sock: Any) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self._audio.get(), _KEEPALIVE_S)
            except TimeoutError:
                await sock.send_keep_alive()
                continue
            if item == _FINALIZE:
                await sock.send_finalize()
            elif item == _CLOSE:
                await sock.send_close_stream()
                return
            else:
                assert isinstance(item, bytes)
                await sock.send_media(item)

    async def _receiver(self, sock: Any) -> None:
        async for msg in sock:
            kind = getattr(msg, "type", None)
            if kind == "Results":
                self._on_results(msg)
            elif kind == "UtteranceEnd":
                self._end_utterance(self._ms(float(msg.last_word_end)))
            elif kind == "Error":
                raise ProviderError(
                    self._stt.name, f"server error: {getattr(msg, 'description', msg)}",
                    reason=FailureReason.SERVER,
                )
        if not self._closing:
            raise ProviderError(self._stt.name, "server closed the stream",
                                reason=FailureReason.DROPPED)
        self._out.end()

    def _ms(self, seconds: float) -> float:
        return (self._offset_ms or 0.0) + seconds * 1000.0

    def _on_results(self, msg: Any) -> None:
        alt = msg.channel.alternatives[0] if msg.channel.alternatives else None
        text = (alt.transcript if alt else "").strip()
        final = bool(msg.is_final)
        if not text and not (final and msg.from_finalize):
            return
        now = time.monotonic()
        words = [
            Word(w.punctuated_word or w.word, self._ms(w.start), self._ms(w.end), w.confidence)
            for w in (alt.words if alt else [])
        ]
        start = float(msg.start)
        event = Transcript(
            TranscriptKind.FINAL if final else TranscriptKind.INTERIM, text,
            self._ms(start), self._ms(start + float(msg.duration)), words,
            float(alt.confidence) if alt else 0.0, now,
        )
        if final and text:
            self.metrics.latencies_s.append(self._latency(start + float(msg.duration), now))
            self._utterance.append(text)
        self._out.put(event)
        if final and msg.speech_final:
            self._end_utterance(event.end_ms)

    def _end_utterance(self, end_ms: float) -> None:
        if not self._utterance:  # speech_final already closed it; UtteranceEnd repeats
            return
        text = " ".join(self._utterance)
        self._utterance = []
        self._out.put(Transcript(
            TranscriptKind.END_OF_UTTERANCE, text, end_ms=end_ms, produced_at=time.monotonic()))

    def _latency(self, audio_end_s: float, now: float) -> float:
        """Wall time from sending the last audio of a result to receiving the result."""
        pushed = now
        while self._sent and self._sent[0][0] < audio_end_s - 1e-6:
            self._sent.popleft()
        if self._sent:
            pushed = self._sent[0][1]
        return max(0.0, now - pushed)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
