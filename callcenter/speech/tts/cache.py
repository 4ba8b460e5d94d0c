"""Synthesized audio for text that never changes between calls, replayed at once.

A flow's static prompts ("For billing, press 2.") are the same words on every call, yet
synthesizing them costs 35-260 ms of Piper time before the first audio. `CachingTTS` wraps
any TTS: a whole-text request (pushed, then `end_input()` with no `flush()` in between)
whose text was admitted as static and was synthesized before is replayed from memory (or
disk); anything else streams through the wrapped engine untouched. Only admitted texts are
ever recorded, so slot-filled text (names, balances, order numbers) never lands in the cache:
the flow walker admits prompts without `{{slot}}` templates and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.audio.frame import AudioFrame
from callcenter.speech.tts.base import TTS, TTSAudio, TTSStream
from callcenter.speech.types import Word

log = logging.getLogger(__name__)

# Bump when the on-disk layout or what goes into a key changes: old files are then misses.
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class CacheKey:
    """What makes two syntheses the same audio: engine (and its options), voice, rate, text."""

    engine: str
    voice: str
    sample_rate: int
    text: str

    def digest(self) -> str:
        raw = json.dumps([_FORMAT, self.engine, self.voice, self.sample_rate, self.text])
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedAudio:
    """One utterance as the engine streamed it: chunk by chunk, words on their chunks."""

    chunks: tuple[TTSAudio, ...]

    @property
    def nbytes(self) -> int:
        return sum(c.frame.samples.nbytes for c in self.chunks)


class AudioCache:
    """Bounded store of synthesized utterances: an LRU by bytes in memory, optionally on disk.

    Thread-safe: a worker warms its published prompts in a background thread while calls on
    the event loop read and record. Disk files survive a restart (a worker that loads the
    same flows warms in milliseconds) and are shared by the worker processes on one host;
    each file is written to a temporary name and renamed, so a reader never sees half of one.
    """

    def __init__(self, max_bytes: int = 64 << 20, directory: Path | None = None,
                 max_disk_bytes: int = 512 << 20) -> None:
        self.max_bytes = max_bytes
        self.directory = directory
        self.max_disk_bytes = max_disk_bytes
        self._mem: OrderedDict[CacheKey, CachedAudio] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._mem)

    def get(self, key: CacheKey) -> CachedAudio | None:
        with self._lock:
            audio = self._mem.get(key)
            if audio is not None:
                self._mem.move_to_end(key)
        if audio is None:
            audio = self._load(key)
            if audio is not None:
                self._remember(key, audio)
        if audio is None:
            self.misses += 1
        else:
            self.hits += 1
        return audio

    def put(self, key: CacheKey, audio: CachedAudio) -> None:
        self._remember(key, audio)
        self._save(key, audio)

    def _remember(self, key: CacheKey, audio: CachedAudio) -> None:
        if audio.nbytes > self.max_bytes:
            return  # one utterance bigger than the whole budget would evict everything
        with self._lock:
            old = self._mem.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._mem[key] = audio
            self._bytes += audio.nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._mem.popitem(last=False)
                self._bytes -= evicted.nbytes

    # ------------------------------------------------------------------ disk

    def _path(self, key: CacheKey) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{key.digest()}.npz"

    def _load(self, key: CacheKey) -> CachedAudio | None:
        path = self._path(key)
        if path is None or not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                samples = data["samples"]
            if meta["key"] != [key.engine, key.voice, key.sample_rate, key.text]:
                return None  # a digest collision, or a file from something else
            return _unpack(samples, meta, key.sample_rate)
        except Exception as exc:  # a corrupt file is a miss, never a failed call
            log.warning("tts cache: ignoring unreadable %s: %s", path, exc)
            return None

    def _save(self, key: CacheKey, audio: CachedAudio) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            samples, meta = _pack(audio)
            meta["key"] = [key.engine, key.voice, key.sample_rate, key.text]
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                np.savez(fh, samples=samples,
                         meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
            tmp.replace(path)
            self._trim_disk()
        except OSError as exc:  # a full or read-only disk costs speed, not calls
            log.warning("tts cache: cannot write %s: %s", path, exc)

    def _trim_disk(self) -> None:
        assert self.directory is not None
        files = sorted(self.directory.glob("*.npz"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for p in files:
            if total <= self.max_disk_bytes:
                break
            total -= p.stat().st_size
            with contextlib.suppress(OSError):
                p.unlink()


def _pack(audio: CachedAudio) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
    chunks = [
        {"n": len(c.frame.samples), "ts": c.frame.timestamp_ms, "final": c.is_final,
         "words": [[w.text, w.start_ms, w.end_ms, w.confidence] for w in c.words]}
        for c in audio.chunks
    ]
    parts = [c.frame.samples for c in audio.chunks]
    samples = np.concatenate(parts) if parts else np.zeros(0, np.int16)
    return samples.astype(np.int16), {"chunks": chunks}


def _unpack(samples: np.ndarray[Any, Any], meta: dict[str, Any], rate: int) -> CachedAudio:
    out: list[TTSAudio] = []
    pos = 0
    for c in meta["chunks"]:
        piece = _frozen(samples[pos : pos + int(c["n"])].astype(np.int16))
        pos += int(c["n"])
        words = [Word(str(t), float(a), float(b), float(conf)) for t, a, b, conf in c["words"]]
        out.append(TTSAudio(AudioFrame(piece, rate, float(c["ts"])), words, bool(c["final"])))
    return CachedAudio(tuple(out))


def _frozen(samples: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    # Replayed to many calls at once: nobody may write into the shared buffer.
    samples.setflags(write=False)
    return samples


def _copy(chunk: TTSAudio) -> TTSAudio:
    f = chunk.frame
    frame = AudioFrame(_frozen(np.array(f.samples, dtype=np.int16)), f.sample_rate,
                       f.timestamp_ms)
    return TTSAudio(frame, list(chunk.words), chunk.is_final)


class CachingTTS(TTS):
    """A TTS that replays admitted static text from an `AudioCache` (see the module doc)."""

    def __init__(self, inner: TTS, cache: AudioCache | None = None) -> None:
        self.inner = inner
        # Not `cache or ...`: an empty cache has len() 0 and would be thrown away.
        self.cache = cache if cache is not None else AudioCache()
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self._static: set[str] = set()
        # Options change the audio (Piper's noise, speed): they are part of the engine key.
        options = getattr(inner, "options", None)
        self._engine = inner.name if options is None else f"{inner.name}:{options!r}"

    def key(self, text: str, voice: str | None = None) -> CacheKey:
        return CacheKey(self._engine, voice or "", self.sample_rate, text.strip())

    def admit(self, texts: Iterable[str]) -> None:
        """Mark texts as static (the same on every call): only these are ever cached."""
        self._static.update(t.strip() for t in texts if t.strip())

    def is_static(self, text: str) -> bool:
        return text.strip() in self._static

    async def warm(self, texts: Iterable[str], *, voice: str | None = None) -> int:
        """Admit `texts` and synthesize those not cached yet; returns how many were made."""
        wanted = [t.strip() for t in texts if t.strip()]
        self.admit(wanted)
        made = 0
        for text in dict.fromkeys(wanted):
            if self.cache.get(self.key(text, voice)) is not None:
                continue
            stream = self.stream(voice=voice)
            stream.push_text(text)
            stream.end_input()
            try:
                async for _ in stream:
                    pass
                made += 1
            except Exception as exc:  # warming is best effort: the call path still works
                log.warning("tts cache: could not warm %r: %s", text[:60], exc)
            finally:
                await stream.aclose()
        return made

    def warm_up(self) -> None:
        hook = getattr(self.inner, "warm_up", None)
        if hook is not None:
            hook()

    def stream(self, *, voice: str | None = None) -> TTSStream:
        return CachingTTSStream(self, voice)

    async def aclose(self) -> None:
        await self.inner.aclose()


class CachingTTSStream(TTSStream):
    """Holds pushed text until it knows whether this is one whole static utterance.

    `end_input()` before any `flush()` means the whole text is known: replay it if cached,
    else synthesize and (if static) record. A `flush()` means text is still arriving (an
    LLM reply): stream through from then on, nothing recorded.
    """

    def __init__(self, owner: CachingTTS, voice: str | None) -> None:
        self._owner = owner
        self._voice = voice
        self._text: list[str] = []
        self._inner: TTSStream | None = None
        self._replay: CachedAudio | None = None
        self._record: CacheKey | None = None
        self._decided = asyncio.Event()
        self._closed = False

    def _through(self) -> TTSStream:
        if self._inner is None:
            self._inner = self._owner.inner.stream(voice=self._voice)
            for piece in self._text:
                self._inner.push_text(piece)
            self._decided.set()
        return self._inner

    def push_text(self, text: str) -> None:
        if self._decided.is_set() and self._inner is None:
            raise RuntimeError(f"{self._owner.name}: push_text after end_input")
        if self._inner is not None:
            self._inner.push_text(text)
        else:
            self._text.append(text)

    def flush(self) -> None:
        if not self._decided.is_set() or self._inner is not None:
            self._through().flush()

    def end_input(self) -> None:
        if self._decided.is_set():
            if self._inner is not None:
                self._inner.end_input()
            return
        text = "".join(self._text)
        key = self._owner.key(text, self._voice)
        cached = self._owner.cache.get(key) if self._owner.is_static(text) else None
        if cached is not None:
            self._replay = cached
            self._decided.set()
            return
        if self._owner.is_static(text):
            self._record = key
        self._through().end_input()

    def __aiter__(self) -> AsyncIterator[TTSAudio]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[TTSAudio]:
        await self._decided.wait()
        if self._replay is not None:
            for chunk in self._replay.chunks:
                if self._closed:
                    return
                yield chunk
            return
        if self._inner is None:
            return  # closed before any text came
        recorded: list[TTSAudio] | None = [] if self._record is not None else None
        async for chunk in self._inner:
            if recorded is not None:
                recorded.append(_copy(chunk))
            yield chunk
        # Only a complete, error-free synthesis is kept: an iterator that raised or was
        # cancelled (barge-in) never gets here.
        if recorded is not None and self._record is not None and not self._closed:
            self._owner.cache.put(self._record, CachedAudio(tuple(recorded)))

    async def aclose(self) -> None:
        self._closed = True
        self._decided.set()  # an iterator still waiting for text ends now
        if self._inner is not None:
            await self._inner.aclose()
