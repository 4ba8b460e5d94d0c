"""The real-time voice session: turn-taking, endpointing, barge-in, playout, metrics.

A flow runner (or any caller of this package) needs only this surface::

    session = VoiceSession(room, stt=stt, tts=tts, settings=VoiceSettings())
    await session.start()                      # listen to everyone in the room
    session.on_utterance(store)                # every finished utterance, for the transcript
    handle = session.say("Hello!", interruptible=True)   # queue speech; returns a SpeechHandle
    handle = session.say(llm_deltas())         # or an async stream of text, spoken clause by
                                               # clause as it arrives (handle.llm_ttft_ms)
    await handle.wait()                        # handle.interrupted / .heard_text / .error
    ev = await session.ask("Your order number?", timeout=8.0)  # say, then the answer
    ev = await session.next_event(timeout=5)   # UserTurn | DtmfInput | AgentInterrupted |
                                               # ParticipantGone | CallEnded | None (timeout)
    session.expected_digits = 6                # endpointing waits while digits are incomplete
    await session.set_listen_only(True)        # escalation: stop speaking, keep transcribing
    session.metrics                            # list[TurnMetrics], one per caller turn
    await session.aclose()

The session keeps no conversation history: the flow (through `CallSession`) owns the one
history the LLM sees, and reads what the caller heard from `SpeechHandle.heard_text`.
Caller speech while the agent is still thinking drops the queued reply unheard.

Times in `Utterance`, `UserTurn` and `TurnMetrics` are milliseconds on the room's media
time line (call start = 0). Utterances are recorded (hook called) before `wait()` returns.
A key press stops an interruptible prompt (`InterruptionSettings.dtmf_interrupts`).

A turn that goes on past a pause (a number read in groups) has one FINAL per speech
segment, which the endpointing judges; when it ends the session asks the STT for one
reading of the whole turn (`STTStream.decode_turn`: the offline Whisper stream joins the
segments with the pauses shortened) and that reading is the turn's text.

A worker carrying many calls should call `callcenter.voice.runtime.settle_gc()` after
loading models and after admitting calls (see that module). With `onnxruntime` installed,
sessions on a real clock share one batched Silero VAD per process.

Nothing here imports LiveKit, a web framework, Redis or SQL.
"""

from callcenter.voice.endpointing import endpoint_delay, looks_unfinished
from callcenter.voice.events import (
    AgentInterrupted,
    AgentState,
    CallEnded,
    DtmfInput,
    ParticipantGone,
    SessionEvent,
    TurnMetrics,
    UserTurn,
    Utterance,
)
from callcenter.voice.session import VoiceSession
from callcenter.voice.settings import EndpointingSettings, InterruptionSettings, VoiceSettings
from callcenter.voice.speech import SpeechHandle

__all__ = [
    "AgentInterrupted",
    "AgentState",
    "CallEnded",
    "DtmfInput",
    "EndpointingSettings",
    "InterruptionSettings",
    "ParticipantGone",
    "SessionEvent",
    "SpeechHandle",
    "TurnMetrics",
    "UserTurn",
    "Utterance",
    "VoiceSession",
    "VoiceSettings",
    "endpoint_delay",
    "looks_unfinished",
]
