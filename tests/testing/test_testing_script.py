"""Caller scripts: the YAML from the issue parses; mistakes get messages that say the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.testing.script import CallerScript, ScriptError

ISSUE_EXAMPLE = """
voice: piper          # how `say` lines are spoken: piper | espeak; or give `audio: file.wav`
channel: phone        # 8 kHz mu-law, 300-3400 Hz band; or: wideband
turns:
  - wait: agent_done  # or a number of seconds
  - say: "I want to check my order status"
  - dtmf: "482913#"
  - say: "no, put me through to a person"
    barge_in_after: 0.8   # seconds after the agent starts its next utterance
  - hangup: true
"""


def test_the_issue_example_parses_into_turns() -> None:
    s = CallerScript.from_yaml(ISSUE_EXAMPLE)
    assert (s.voice, s.channel) == ("piper", "phone")
    assert [t.kind for t in s.turns] == ["wait", "say", "dtmf", "say", "hangup"]
    assert s.turns[0].agent_done
    assert s.turns[2].digits == "482913#"
    assert s.turns[3].barge_in_after == 0.8
    assert s.turns[3].text == "no, put me through to a person"


def test_audio_file_is_resolved_next_to_the_script(tmp_path: Path) -> None:
    (tmp_path / "hello.wav").write_bytes(b"RIFF")
    script = tmp_path / "c.yaml"
    script.write_text("audio: hello.wav\nturns:\n  - say: hello\n")
    assert CallerScript.from_file(script).audio == tmp_path / "hello.wav"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("turns: []", "non-empty list"),
        ("voice: flite\nturns:\n  - wait: 1", "voice must be piper or espeak"),
        ("channel: hd\nturns:\n  - wait: 1", "channel must be phone or wideband"),
        ("turns:\n  - say: hi\n    dtmf: '1'", "turn 1: give exactly one of"),
        ("turns:\n  - wait: soon", "turn 1: wait is `agent_done` or a number"),
        ("turns:\n  - wait: 1\n  - dtmf: '12x'", "turn 2: dtmf digits are 0-9"),
        ("turns:\n  - say: hi\n    barge_in_after: -1", "barge_in_after is seconds >= 0"),
        ("turns:\n  - hangup: yes please", "write `hangup: true`"),
        ("turns:\n  - say: hi\n    loud: true", "unknown option(s) ['loud']"),
        ("turns:\n  - say: hi\n    audio: missing.wav", "does not exist"),
        ("voice: [", "not valid YAML"),
        ("speed: 2\nturns:\n  - wait: 1", "unknown key(s) ['speed']"),
    ],
)
def test_script_mistakes_are_explained(text: str, message: str) -> None:
    with pytest.raises(ScriptError) as exc:
        CallerScript.from_yaml(text, name="caller.yaml")
    assert message in str(exc.value)
    assert "caller.yaml" in str(exc.value)
