"""`callcenter providers check`: one tiny real request per configured cloud provider.

Prints one line per provider: OK, which environment variable is wrong, or that the service is
unreachable. Exit status 1 if any configured provider fails, so scripts and CI can gate on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import typer
from rich.console import Console

from callcenter.cli.common import seconds_check
from callcenter.config import Settings, get_settings
from callcenter.speech.errors import FailureReason, ProviderError
from callcenter.speech.factory import deepgram_stt, elevenlabs_tts, openai_llm

app = typer.Typer(help="Cloud speech and LLM providers (OpenAI, Deepgram, ElevenLabs).",
                  no_args_is_help=True)


class CheckStatus(StrEnum):
    OK = "ok"
    NOT_CONFIGURED = "not configured"
    BAD_KEY = "bad key"
    UNREACHABLE = "unreachable"
    FAILED = "failed"


@dataclass(slots=True)
class CheckResult:
    provider: str
    status: CheckStatus
    detail: str


async def _run(provider: str, env_var: str, base_url: str | None, timeout: float,
               request: Callable[[], Awaitable[None]], what_else: str) -> CheckResult:
    where = base_url or "the default endpoint"
    try:
        async with asyncio.timeout(timeout):
            await request()
    except TimeoutError:
        return CheckResult(provider, CheckStatus.UNREACHABLE,
                           f"no answer from {where} within {timeout:g} s")
    except ProviderError as exc:
        if exc.reason is FailureReason.AUTH:
            return CheckResult(provider, CheckStatus.BAD_KEY,
                               f"{env_var} was rejected by {where}: set a valid key")
        if exc.reason in (FailureReason.CONNECT, FailureReason.STALL):
            return CheckResult(provider, CheckStatus.UNREACHABLE, f"{exc}")
        if exc.status == 404:
            return CheckResult(provider, CheckStatus.FAILED, f"{exc} (check {what_else})")
        return CheckResult(provider, CheckStatus.FAILED, str(exc))
    return CheckResult(provider, CheckStatus.OK, f"key accepted by {where}")


async def check_providers(settings: Settings, *, timeout: float = 10.0) -> list[CheckResult]:
    """Validate each configured provider's key (and model/voice) with one small request."""
    results: list[CheckResult] = []
    llm = openai_llm(settings, connect_timeout=timeout)
    if llm is not None:
        results.append(await _run("openai", "OPENAI_API_KEY", settings.openai_base_url, timeout,
                                  llm.check_model, "OPENAI_MODEL"))
        await llm.aclose()
    else:
        results.append(CheckResult("openai", CheckStatus.NOT_CONFIGURED, "OPENAI_API_KEY unset"))
    stt = deepgram_stt(settings, connect_timeout=timeout)
    if stt is not None:
        results.append(await _run("deepgram", "DEEPGRAM_API_KEY", settings.deepgram_base_url,
                                  timeout, stt.probe, "DEEPGRAM_BASE_URL"))
    else:
        results.append(CheckResult("deepgram", CheckStatus.NOT_CONFIGURED,
                                   "DEEPGRAM_API_KEY unset"))
    tts = elevenlabs_tts(settings, connect_timeout=timeout)
    if tts is not None:
        results.append(await _run("elevenlabs", "ELEVENLABS_API_KEY",
                                  settings.elevenlabs_base_url, timeout, tts.probe,
                                  "ELEVENLABS_VOICE_ID"))
    else:
        results.append(CheckResult("elevenlabs", CheckStatus.NOT_CONFIGURED,
                                   "ELEVENLABS_API_KEY unset"))
    return results


_STYLE = {CheckStatus.OK: "green", CheckStatus.NOT_CONFIGURED: "dim",
          CheckStatus.BAD_KEY: "red", CheckStatus.UNREACHABLE: "yellow",
          CheckStatus.FAILED: "red"}


@app.command("check")
def check(
    timeout: float = typer.Option(10.0, callback=seconds_check(high=600.0),
                                  help="Seconds to wait for each provider."),
) -> None:
    """Send one tiny request to each configured provider and say what is wrong, if anything."""
    results = asyncio.run(check_providers(get_settings(), timeout=timeout))
    console = Console(highlight=False, soft_wrap=True)
    for r in results:
        label = "OK" if r.status is CheckStatus.OK else r.status.value.upper()
        console.print(f"{r.provider:<11} [{_STYLE[r.status]}]{label}[/] {r.detail}")
    if all(r.status is CheckStatus.NOT_CONFIGURED for r in results):
        console.print("no cloud provider configured: the offline speech stack is used")
    if any(r.status not in (CheckStatus.OK, CheckStatus.NOT_CONFIGURED) for r in results):
        raise typer.Exit(1)
