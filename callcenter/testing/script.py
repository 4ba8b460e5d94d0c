"""Caller scripts: the YAML a scripted caller plays, parsed and checked.

```yaml
voice: piper          # how `say` lines are spoken: piper | espeak; or give `audio: file.wav`
channel: phone        # 8 kHz mu-law, 300-3400 Hz band; or: wideband
turns:
  - wait: agent_done  # or a number of seconds
  - say: "I want to check my order status"
  - dtmf: "482913#"
  - say: "no, put me through to a person"
    barge_in_after: 0.8   # seconds after the agent starts its next utterance
  - noise: 0.6            # a cough: speech-like sound with no words (barge_in_after works
                          # for noise and dtmf too)
  - hangup: true
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

TurnKind = Literal["wait", "say", "dtmf", "noise", "hangup"]
_KINDS: tuple[TurnKind, ...] = ("wait", "say", "dtmf", "noise", "hangup")
_TURN_OPTIONS = {"barge_in_after", "audio", "timeout"}


class ScriptError(ValueError):
    """A caller script is malformed; the message names the turn and the fix."""


@dataclass(frozen=True, slots=True)
class CallerTurn:
    kind: TurnKind
    text: str = ""  # say
    seconds: float = 0.0  # wait (number), noise
    agent_done: bool = False  # wait: agent_done
    digits: str = ""  # dtmf
    barge_in_after: float | None = None  # say
    audio: Path | None = None  # say: play this file instead of synthesizing
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class CallerScript:
    turns: list[CallerTurn]
    voice: Literal["piper", "espeak"] = "espeak"
    channel: Literal["phone", "wideband"] = "phone"
    audio: Path | None = None
    timeout: float = 30.0
    identity: str = "caller"
    attributes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, text: str, *, base_dir: Path | None = None, name: str = "<script>") -> (
        CallerScript
    ):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScriptError(f"{name}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, base_dir=base_dir, name=name)

    @classmethod
    def from_file(cls, path: str | Path) -> CallerScript:
        p = Path(path)
        return cls.from_yaml(p.read_text(), base_dir=p.parent, name=str(p))

    @classmethod
    def from_dict(
        cls, data: Any, *, base_dir: Path | None = None, name: str = "<script>"
    ) -> CallerScript:
        if not isinstance(data, dict):
            raise ScriptError(f"{name}: a caller script is a mapping with `turns:`")
        unknown = set(data) - {"voice", "channel", "audio", "turns", "timeout", "identity",
                               "attributes"}
        if unknown:
            raise ScriptError(f"{name}: unknown key(s) {sorted(unknown)}; allowed: voice, "
                              "channel, audio, turns, timeout, identity, attributes")
        voice = data.get("voice", "espeak")
        if voice not in ("piper", "espeak"):
            raise ScriptError(f"{name}: voice must be piper or espeak, got {voice!r}")
        channel = data.get("channel", "phone")
        if channel not in ("phone", "wideband"):
            raise ScriptError(f"{name}: channel must be phone or wideband, got {channel!r}")
        audio = _path(data.get("audio"), base_dir, f"{name}: audio")
        turns_raw = data.get("turns")
        if not isinstance(turns_raw, list) or not turns_raw:
            raise ScriptError(f"{name}: `turns:` must be a non-empty list")
        turns = [_turn(t, i, base_dir, name) for i, t in enumerate(turns_raw, 1)]
        timeout = _seconds(data.get("timeout", 30.0), name, "timeout")
        if not timeout:
            raise ScriptError(f"{name}: timeout must be more than 0 seconds")
        attributes = data.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise ScriptError(f"{name}: attributes is a mapping of names to values")
        return cls(
            turns, voice, channel, audio, timeout, str(data.get("identity", "caller")),
            {str(k): str(v) for k, v in attributes.items()},
        )


def _seconds(value: Any, where: str, what: str) -> float | None:
    """A duration from the script: None if absent, else a finite number >= 0 (or ScriptError).

    `float()` alone let `timeout: soon` escape as a ValueError traceback and `.inf` wait
    forever; booleans are numbers to Python but never meant as seconds.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ScriptError(f"{where}: {what} is a number of seconds, got {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ScriptError(f"{where}: {what} is a number of seconds, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or number > 86400:
        raise ScriptError(f"{where}: {what} is seconds >= 0 (at most 86400), got {value!r}")
    return number


def _path(value: Any, base_dir: Path | None, where: str) -> Path | None:
    if value is None:
        return None
    p = Path(str(value))
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    if not p.exists():
        raise ScriptError(f"{where}: file {p} does not exist")
    return p


def _turn(raw: Any, i: int, base_dir: Path | None, name: str) -> CallerTurn:
    where = f"{name}: turn {i}"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: each turn is a mapping like `- say: \"hello\"`")
    kinds = [k for k in raw if k in _KINDS]
    if len(kinds) != 1:
        raise ScriptError(f"{where}: give exactly one of {', '.join(_KINDS)}; got {sorted(raw)}")
    extra = set(raw) - set(kinds) - _TURN_OPTIONS
    if extra:
        raise ScriptError(f"{where}: unknown option(s) {sorted(extra)}")
    kind: TurnKind = kinds[0]
    value = raw[kind]
    timeout = _seconds(raw.get("timeout"), where, "timeout")
    if kind == "wait":
        if value == "agent_done":
            return CallerTurn("wait", agent_done=True, timeout=timeout)
        if isinstance(value, int | float) and not isinstance(value, bool) and \
                math.isfinite(value) and 0 <= value <= 86400:
            return CallerTurn("wait", seconds=float(value))
        raise ScriptError(f"{where}: wait is `agent_done` or a number of seconds, got {value!r}")
    if kind == "say":
        if not isinstance(value, str):
            raise ScriptError(f"{where}: say needs the words as a string, got {value!r}")
        bia = _seconds(raw.get("barge_in_after"), where, "barge_in_after")
        return CallerTurn(
            "say", text=value, barge_in_after=bia,
            audio=_path(raw.get("audio"), base_dir, where), timeout=timeout,
        )
    if kind == "dtmf":
        digits = str(value)
        bad = [d for d in digits if d not in "0123456789*#ABCD"]
        if not digits or bad:
            raise ScriptError(f"{where}: dtmf digits are 0-9 * # A-D, got {digits!r}")
        return CallerTurn("dtmf", digits=digits, barge_in_after=_seconds(
            raw.get("barge_in_after"), where, "barge_in_after"))
    if kind == "noise":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 5:
            raise ScriptError(f"{where}: noise is a duration in seconds (0-5], got {value!r}")
        return CallerTurn("noise", seconds=float(value), barge_in_after=_seconds(
            raw.get("barge_in_after"), where, "barge_in_after"))
    if value is not True:
        raise ScriptError(f"{where}: write `hangup: true`")
    return CallerTurn("hangup")
