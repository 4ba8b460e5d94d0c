"""Test helpers shipped with the platform, so users can test their own flows.

- `ScriptedCaller` / `CallerScript`: a caller that joins a `LocalRoom` and plays a YAML
  script (say / wait / dtmf / noise / hangup) with real speech audio over a phone channel,
  recording what the agent says and when.
- `FakeSTT` / `FakeLLM` / `FakeTTS` (+ `SpeechBoard`): scripted providers with latencies;
  the real VAD stays in the loop.

- `local_call.run_local_call`: a whole call on a `LocalRoom` (what `callcenter call` runs).
- `demo.scripted_call`: a scripted call handler for dispatch tests and benches.
- `webhook_fixtures.WebhookFixtures`: canned answers for a flow's webhooks.

Sub-packages `cloud/` and `livekit/` hold wire-level fakes of external services. Only tests,
`callcenter call`/`chat` and the benchmarks import this package; worker code never does
(tests/foundation/test_foundation_layering.py checks it).
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
