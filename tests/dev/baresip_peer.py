"""baresip as a scripted phone caller: a WAV for its microphone, keys over ctrl_tcp.

baresip 1.0 (Debian `baresip-core`) keys RFC 4733 telephone-events with `call_send_digit`;
its `ctrl_tcp` module takes the same commands as the menu as netstring-framed JSON
(`{"command": "sndcode", "params": "1"}` keys 1 on the current call) and sends the UA's
events (CALL_ESTABLISHED, CALL_CLOSED) back on the same connection. The microphone is the
`aufile` source: 8 kHz 16-bit PCM, played from the moment the call is established; baresip
hangs up when the file ends, so the file carries the caller's whole timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.audio.frame import PCM16

MODULES = ("g711", "aufile", "aubridge", "sndfile", "account", "menu", "ctrl_tcp")


def write_config(home: Path, *, mic: Path, caller_id: str, ctrl_port: int) -> None:
    """A headless baresip in `home`: no sound card, no registration, decoded audio dumped."""
    (home / "snd").mkdir(parents=True, exist_ok=True)
    # net_interface takes the address: with `lo` baresip finds no usable one.
    lines = [
        "poll_method epoll", "sip_listen 127.0.0.1:0", "net_interface 127.0.0.1",
        f"audio_source aufile,{mic}", "audio_player aubridge,nil", "audio_alert aubridge,nil",
        "module_path /usr/lib/baresip/modules", *(f"module {m}.so" for m in MODULES),
        f"snd_path {home / 'snd'}", f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}", "",
    ]
    (home / "config").write_text("\n".join(lines))
    (home / "accounts").write_text(f"<sip:{caller_id}@127.0.0.1>;regint=0\n")


def write_mic(path: Path, samples: PCM16) -> None:
    with wave.open(str(path), "wb") as w:  # what aufile reads: 8 kHz mono 16-bit PCM
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())


def netstring(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return str(len(body)).encode() + b":" + body + b","


@dataclass
class BaresipControl:
    """One ctrl_tcp connection: commands out, events and responses in (kept in order)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    messages: list[dict[str, Any]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def pump(self) -> None:
        while True:
            head = await self.reader.readuntil(b":")
            body = await self.reader.readexactly(int(head[:-1]))
            await self.reader.readexactly(1)  # the netstring's trailing comma
            self.messages.append(json.loads(body))
            self._changed.set()

    async def command(self, command: str, params: str = "") -> None:
        self.writer.write(netstring({"command": command, "params": params, "token": command}))
        await self.writer.drain()

    def events(self) -> list[str]:
        return [str(m.get("type")) for m in self.messages if m.get("event")]

    async def wait_event(self, kind: str, timeout_s: float) -> bool:
        """True once baresip sent event `kind` (CALL_ESTABLISHED, CALL_CLOSED, ...)."""
        async def seen() -> None:
            while kind not in self.events():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(seen(), timeout_s)
        except TimeoutError:
            return False
        return True


@contextlib.asynccontextmanager
async def control(port: int, timeout_s: float = 10.0) -> AsyncIterator[BaresipControl]:
    """Connect to baresip's ctrl_tcp (retrying while it starts)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)
    ctl = BaresipControl(reader, writer)
    task = asyncio.ensure_future(ctl.pump())
    try:
        yield ctl
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, asyncio.IncompleteReadError,
                                 ConnectionError):
            await task
        writer.close()
