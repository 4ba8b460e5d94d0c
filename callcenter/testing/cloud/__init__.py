"""Local fake cloud speech/LLM servers speaking the providers' real wire protocols.

Shipped so users can test flows and failure handling without cloud keys: point the real
SDK clients at `server.url` (base URL settings) and script replies and faults.
"""

from callcenter.testing.cloud.caller_audio import scripted_frames
from callcenter.testing.cloud.deepgram_fake import FakeDeepgram
from callcenter.testing.cloud.elevenlabs_fake import FakeElevenLabs
from callcenter.testing.cloud.faults import Fault, FaultKind
from callcenter.testing.cloud.openai_fake import FakeOpenAI, ScriptedReply

__all__ = [
    "FakeDeepgram",
    "FakeElevenLabs",
    "FakeOpenAI",
    "Fault",
    "FaultKind",
    "ScriptedReply",
    "scripted_frames",
]
