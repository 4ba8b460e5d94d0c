"""Test helpers shipped with the platform, so users can test their own flows.

- `ScriptedCaller` / `CallerScript`: a caller that joins a `LocalRoom` and plays a YAML
  script (say / wait / dtmf / noise / hangup) with real speech audio over a phone channel,
  recording what the agent says and when.
- `FakeSTT` / `FakeLLM` / `FakeTTS` (+ `SpeechBoard`): scripted providers with latencies;
  the real VAD stays in the loop.

Sub-packages `cloud/` and `livekit/` hold wire-level fakes of external services.
"""

from callcenter.testing.caller import (
    AgentSegment,
    CallerReport,
    CallerTimeout,
    SaidLine,
    ScriptedCaller,
    run_script,
)
from callcenter.testing.fakes import FakeLLM, FakeSTT, FakeTTS, SpeechBoard, SpokenUtterance
from callcenter.testing.script import CallerScript, CallerTurn, ScriptError

__all__ = [
    "AgentSegment",
    "CallerReport",
    "CallerScript",
    "CallerTimeout",
    "CallerTurn",
    "FakeLLM",
    "FakeSTT",
    "FakeTTS",
    "SaidLine",
    "ScriptError",
    "ScriptedCaller",
    "SpeechBoard",
    "SpokenUtterance",
    "run_script",
]
