"""A phone caller for `callcenter dev` driven by sipp, and `callcenter dev` as a process.

The caller dials the customer-support example (+15550001000, seeded by `callcenter dev`),
keys 1 for order status (RFC 2833, the captures shipped with sipp), then says its order
number (a Piper voice through the phone channel, played by sipp as PCMU RTP), "yes" to
its read-back, and waits for the agent's BYE. The order system is an example host that
does not resolve, so the flow says so, finds nobody staffed, and ends the call politely: a
path with one spoken answer, one keyed answer, a webhook, an escalation attempt and a
hang-up by the agent.

sipp cannot hear, so its timing is fixed: it keys 1 once the greeting is over, says the
number just after the order-number prompt ends, and once more ~17 s later, as a caller
who was not heard would (after the agent's "didn't hear anything"). Closer repeats hurt:
on a loaded machine a slow first turn is still open when the repeat comes, and the two
are heard as one answer that is not six digits.

Used by `callcenter bench sip` and by the tests that call the real `callcenter dev`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import struct
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from callcenter.audio.frame import PCM16
from callcenter.audio.g711 import mulaw_encode

NUMBER = "+15550001000"  # the first dev number: customer_support
CALLER_ID = "+15550005555"
SPOKEN = "Four eight two nine one three."
# A spoken number the recognizer was unsure of is read back ("I heard four eight two,
# nine one three. Is that right?", `flow.readback`): sipp cannot hear it, so the caller
# says yes CONFIRM_AFTER_MS after the number, when the read-back is over (or, on a loaded
# machine, into it: an answer that barges in counts). A number taken at once leaves the
# yes to fall on the webhook and the goodbye, where nothing listens for it.
CONFIRM = "Yes."
CONFIRM_AFTER_MS = 7000
EXPECTED_SLOTS = {"topic": "order", "order_number": "482913"}
EXPECTED_OUTCOME = "completed"
EXPECTED_PATH = ("main_menu", "ask_order_number", "lookup_failed", "goodbye")
PCAPS = Path("/usr/share/sip-tester")
# When sipp acts, in ms from the 200 OK: the key during the menu prompt (the greeting,
# which cannot be interrupted, is over by then), the number as the order-number prompt
# (~5.5 s) ends, and again SAY_EVERY_MS later.
KEY_AT_MS, SAY_FROM_MS, SAY_EVERY_MS, SAY_TIMES = 13000, 19500, 17500, 2
BYE_WAIT_MS = 90000  # the agent hangs up ~45 s in on an idle machine
DEV_ENV_DROP = ("DATABASE_URL", "REDIS_URL", "LIVEKIT_URL", "LIVEKIT_API_KEY",
                "LIVEKIT_API_SECRET", "OPENAI_API_KEY", "DEEPGRAM_API_KEY",
                "ELEVENLABS_API_KEY", "CRM_WEBHOOK_URL")


class SipBenchError(RuntimeError):
    """A part of the SIP bench or test could not run; the message says what to do."""


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SipBenchError(f"{tool} is not installed: run scripts/setup (it installs "
                            "sip-tester for sipp, baresip-core and chromium)")
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_mulaw_wav(path: Path, samples: PCM16) -> None:
    """An 8 kHz mu-law WAV with the plain 44-byte header sipp's rtp_stream skips."""
    data = mulaw_encode(samples)
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
                     + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
                     + data)


def caller_audio(text: str = SPOKEN, confirm: str | None = CONFIRM) -> PCM16:
    """`text` as it leaves a phone: Piper, 8 kHz, band-limited, with a little silence; then
    `confirm` CONFIRM_AFTER_MS later, the answer to a read-back of it (None: not said)."""
    from callcenter.testing.voices import CallerVoice

    voice = CallerVoice("piper", "phone")
    spoken = voice.speak(text).samples
    pad = np.zeros(1600, dtype=np.int16)
    parts = [pad, spoken]
    if confirm:
        parts += [np.zeros(8 * CONFIRM_AFTER_MS, dtype=np.int16), voice.speak(confirm).samples]
    return np.concatenate([*parts, pad, pad])


def _dtmf(digits: str) -> str:
    names = {"#": "pound", "*": "star"}
    out = []
    for d in digits:
        pcap = PCAPS / f"dtmf_2833_{names.get(d, d)}.pcap"
        out.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                   '  <pause milliseconds="300"/>')
    return "\n".join(out)


def _speech(wav: Path) -> str:
    """Say the number, then wait for the agent's BYE up to SAY_EVERY_MS before saying it
    again (a pause would not do: a BYE that arrives during a sipp pause fails the call)."""
    play = f'  <nop><action><exec rtp_stream="{wav},1,0"/></action></nop>'
    parts = []
    for i in range(1, SAY_TIMES + 1):
        last = i == SAY_TIMES
        wait = BYE_WAIT_MS if last else SAY_EVERY_MS
        again = "" if last else f' ontimeout="{i + 1}"'
        parts.append(f'  <label id="{i}"/>\n{play}\n'
                     f'  <recv request="BYE" timeout="{wait}"{again} next="99"/>')
    return "\n".join(parts) + '\n  <label id="99"/>'


_HEADERS = """\
      From: "Bench Caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
      Call-ID: [call_id]"""


def scenario(wav: Path, *, caller_id: str = CALLER_ID) -> str:
    """The sipp scenario XML: INVITE (PCMU + telephone-event), ACK, key, speech, BYE in."""
    h = _HEADERS.format(caller=caller_id, to_tag="{to_tag}")
    invite, ack = h.format(to_tag=""), h.format(to_tag="[peer_tag_param]")
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="callcenter bench caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{invite}
      CSeq: 1 INVITE
      Contact: <sip:{caller_id}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{ack}
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="{KEY_AT_MS}"/>
{_dtmf("1")}
  <pause milliseconds="{SAY_FROM_MS - KEY_AT_MS - 300}"/>
{_speech(wav)}
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""


def prepare_caller(work: Path) -> Path:
    """Write the caller's WAV and scenario into `work`; returns the scenario's path."""
    work.mkdir(parents=True, exist_ok=True)
    wav = work / "caller.wav"
    write_mulaw_wav(wav, caller_audio())
    path = work / "caller.xml"
    path.write_text(scenario(wav))
    return path


def sipp_argv(scenario_path: Path, sip: str, calls: int, work: Path, *,
              rate_per_s: int = 10) -> list[str]:
    """sipp placing `calls` calls at once (started `rate_per_s` a second) to `sip`."""
    host, port = sip.rsplit(":", 1)
    return [
        need("sipp"), "-sf", str(scenario_path), f"{host}:{port}", "-s", NUMBER,
        "-m", str(calls), "-l", str(calls), "-r", str(rate_per_s), "-rp", "1000",
        "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1",
        "-p", str(free_port()), "-mp", str(free_port()),
        "-timeout", f"{BYE_WAIT_MS // 1000 + 60}s", "-timeout_error",
        "-trace_err", "-error_file", str(work / "sipp-errors.log"),
    ]


@dataclass
class SippResult:
    returncode: int
    successful: int
    failed: int
    output: str


def parse_sipp(returncode: int, output: str) -> SippResult:
    """sipp's own verdict per call, from its final statistics screen."""
    def count(label: str) -> int:
        found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", output)
        return int(found[-1]) if found else 0
    return SippResult(returncode, count("Successful call"), count("Failed call"), output)


async def run_sipp(argv: list[str], cwd: Path, timeout_s: float) -> SippResult:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    return parse_sipp(proc.returncode or 0, out.decode("utf-8", "replace"))


@dataclass
class DevProcess:
    """A running `callcenter dev` (its own data directory, free ports)."""

    proc: asyncio.subprocess.Process
    data_dir: Path
    web: str
    sip: str
    log: list[str] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'callcenter.db').resolve()}"

    async def wait_for_line(self, text: str, timeout_s: float) -> bool:
        """Wait until the server printed a line containing `text` (False: it did not)."""
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.log):
            if self.proc.returncode is not None or time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.5)
        return True

    def cpu_seconds(self) -> float:
        """User + system CPU of the dev process so far (from /proc, Linux)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def dev_process(work: Path, *, max_calls: int = 20, start_timeout_s: float = 300.0
                      ) -> AsyncIterator[DevProcess]:
    """Start `callcenter dev` on the embedded default in `work`; stopped (SIGINT, then
    SIGKILL by its pid) at the end. Cloud and server settings of this shell are dropped,
    so it is the embedded default whatever the environment says."""
    data = work / "data"
    web_port, sip_port = free_port(socket.SOCK_STREAM), free_port()
    env = {k: v for k, v in os.environ.items() if k.upper() not in DEV_ENV_DROP}
    env.update(DATA_DIR=str(data), PYTHONUNBUFFERED="1", COLUMNS="200")
    exe = Path(sys.executable).with_name("callcenter")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "callcenter.cli"]
    proc = await asyncio.create_subprocess_exec(
        *argv, "dev", "--port", str(web_port), "--sip-port", str(sip_port),
        "--max-calls", str(max_calls), cwd=work, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    dev = DevProcess(proc, data, f"http://127.0.0.1:{web_port}", f"127.0.0.1:{sip_port}")
    reader = asyncio.ensure_future(_read_lines(proc, dev.log))
    try:
        deadline = time.monotonic() + start_timeout_s
        while not any("Uvicorn running" in line for line in dev.log):
            if proc.returncode is not None or time.monotonic() > deadline:
                tail = "\n".join(dev.log[-30:])
                raise SipBenchError(f"callcenter dev did not start:\n{tail}")
            await asyncio.sleep(0.2)
        if not any("SIP (UDP)" in line and str(sip_port) in line for line in dev.log):
            raise SipBenchError("callcenter dev started without its SIP endpoint:\n"
                                + "\n".join(dev.log[-30:]))
        yield dev
    finally:
        await _stop(proc)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _read_lines(proc: asyncio.subprocess.Process, into: list[str]) -> None:
    assert proc.stdout is not None
    async for raw in proc.stdout:
        into.append(raw.decode("utf-8", "replace").rstrip())


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(2)  # SIGINT: what Ctrl-C sends; the server hangs up and exits
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
