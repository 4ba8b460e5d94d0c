"""`callcenter call`: one whole voice call, offline, with a scripted caller.

It runs the test kit (`callcenter.testing`): a scripted caller, fake or
offline speech and canned webhook answers on a local room. Worker code never imports it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from callcenter.cli.common import iso_time
from callcenter.cli.flows import print_problems

console = Console(highlight=False)


def call(
    flow: Annotated[Path, typer.Option("--flow", help="Flow YAML file", exists=True,
                                       dir_okay=False)],
    caller: Annotated[Path, typer.Option("--caller", help="Caller script YAML", exists=True,
                                         dir_okay=False)],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result here")] = None,
    speech: Annotated[str, typer.Option(help="offline (Whisper, Piper, real time) or fake "
                                              "(scripted fakes, virtual clock)")] = "offline",
    webhooks: Annotated[Path | None, typer.Option(help="Webhook fixtures YAML",
                                                  exists=True, dir_okay=False)] = None,
    at: Annotated[str | None, typer.Option(help="Pretend the call starts at this ISO time "
                                                "(business hours), e.g. 2026-11-24T15:00Z")] = None,
    record: Annotated[bool, typer.Option(help="Store the call in the database")] = True,
    postcall: Annotated[bool, typer.Option(help="Then run post-call processing (transcript, "
                                                "summary, disposition) and show the record")
                        ] = False,
    tts_cache: Annotated[bool, typer.Option(help="Replay the flow's static prompts from a "
                                                 "cache warmed before the call, as a worker "
                                                 "does (offline speech)")] = True,
) -> None:
    """Run a whole voice call on a local room: a flow, a scripted caller, the offline stack."""
    from callcenter.flow.validate import check_flow_text
    from callcenter.testing.local_call import run_local_call

    if speech not in ("offline", "fake"):
        raise typer.BadParameter("--speech must be offline or fake")
    iso_time(at, "--at")  # a bad time is refused before the flow is even read
    flow_obj, problems = check_flow_text(flow.read_text(encoding="utf-8"), str(flow))
    if flow_obj is None:
        print_problems(problems)
        raise typer.Exit(1)
    # The test kit loads only for this command, never in a worker (see the layering test).
    from callcenter.scenarios.canned import WebhookFixtures
    from callcenter.testing.script import CallerScript, ScriptError

    try:
        script = CallerScript.from_file(caller)
    except ScriptError as exc:
        # YAML errors span several lines (a caret under the column): one line is enough.
        raise typer.BadParameter(f"{caller}: {' '.join(str(exc).split())}",
                                 param_hint="--caller") from None
    _check_audio(script, caller)  # a bad WAV is refused now, not half-way through the call
    started = iso_time(at, "--at")
    engine = _engine() if record else None
    try:
        http = httpx.AsyncClient(transport=WebhookFixtures(webhooks)) if webhooks else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--webhooks") from None

    async def go() -> Any:
        try:
            return await run_local_call(
                flow_obj, script, speech=speech,  # type: ignore[arg-type]
                engine=engine, started_at=started, http=http, tts_cache=tts_cache,
            )
        finally:
            if http is not None:
                await http.aclose()

    with console.status(f"calling {flow_obj.name} ({speech} speech)..."):
        result = asyncio.run(go())
    _print(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_json(), indent=2, default=str))
        console.print(f"wrote {json_out}")
    if result.caller_error:
        console.print(f"[yellow]caller script stopped early: {result.caller_error}[/yellow]")
    if postcall and engine is not None:
        _postcall(result.call_id)


def _check_audio(script: Any, caller: Path) -> None:
    """Read every WAV the script plays, so a bad one is one line before the call starts."""
    from callcenter.audio.wav import read_wav_frame

    paths = {t.audio for t in script.turns if t.audio is not None}
    if script.audio is not None:
        paths.add(script.audio)
    for path in sorted(paths):
        try:
            read_wav_frame(path)
        except (OSError, ValueError) as exc:  # WavFormatError is a ValueError
            raise typer.BadParameter(f"{caller}: audio {' '.join(str(exc).split())}",
                                     param_hint="--caller") from None


def _postcall(call_id: str, timeout_s: float = 60.0) -> None:
    """Enqueue post-call processing (embedded Celery worker without REDIS_URL) and wait."""
    import time

    from callcenter.db import session_scope
    from callcenter.models import Call
    from callcenter.postcall import enqueue_process_call

    enqueue_process_call(call_id)
    deadline = time.monotonic() + timeout_s
    with console.status("post-call processing..."):
        while time.monotonic() < deadline:
            with session_scope() as s:
                call = s.get(Call, call_id)
                if call is not None and call.processed_at is not None:
                    console.print(f"disposition: {call.disposition}   sentiment: "
                                  f"{call.sentiment if call.sentiment is not None else '-'}")
                    console.print(f"summary: {call.summary}")
                    _stop_embedded()
                    return
            time.sleep(0.2)
    _stop_embedded()
    console.print(
        "[yellow]post-call record not ready yet: see `callcenter postcall status`[/yellow]"
    )


def _stop_embedded() -> None:
    from callcenter.postcall.inprocess import stop_embedded

    stop_embedded()


def _engine() -> Any:
    from callcenter import migrate
    from callcenter.config import get_settings
    from callcenter.db import engine_for

    url = get_settings().effective_database_url
    migrate.upgrade(url)  # idempotent: a first run on a laptop just works
    return engine_for(url)


def _print(result: Any) -> None:
    table = Table(title=f"call {result.call_id[:12]}: {result.outcome}", show_lines=False)
    for col in ("at", "who", "said"):
        table.add_column(col)
    for u in result.transcript:
        text = u["text"]
        if u["interrupted"]:
            text = f"{u['heard']} [dim](interrupted; meant: {u['text']})[/dim]"
        table.add_row(f"{u['start_ms'] / 1000:6.1f}s", u["speaker"], text)
    console.print(table)
    console.print(f"nodes: {' -> '.join(result.nodes)}")
    console.print(f"slots: {json.dumps(result.slots, default=str)}")
    lat = [t for t in result.turns if t.get("e2e_ms") is not None]
    if lat:
        console.print(
            "turn latency (caller stops -> agent audio, ms): "
            + ", ".join(f"{t['e2e_ms']:.0f}" for t in lat)
        )
        # Where each turn's time went (the same fields are in --json's "turns").
        for t in lat:
            console.print("  " + "  ".join(
                f"{label} {_ms(t.get(key))}" for label, key in _STAGES))


_STAGES = (("endpointing", "end_of_utterance_delay_ms"), ("stt", "stt_final_latency_ms"),
           ("flow", "flow_ms"), ("first audio", "first_audio_ms"), ("e2e", "e2e_ms"))


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.0f}"
