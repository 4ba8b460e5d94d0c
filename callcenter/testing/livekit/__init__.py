"""Wire-level fakes of a LiveKit server's control plane, for tests of our LiveKit edge.

They speak the real protocols (Twirp protobuf, the `/agent` websocket, signed webhooks) so
the real `livekit-api` SDK and our real worker are exercised. Media is not faked here.
"""

from callcenter.testing.livekit.agent_server import ConnectedWorker, FakeAgentDispatcher, FakeJob
from callcenter.testing.livekit.server import DEFAULT_KEY, DEFAULT_SECRET, FakeLiveKitServer
from callcenter.testing.livekit.twirp import FakeTwirpApi, RecordedCall, TwirpFault
from callcenter.testing.livekit.webhooks import sign_webhook

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_SECRET",
    "ConnectedWorker",
    "FakeAgentDispatcher",
    "FakeJob",
    "FakeLiveKitServer",
    "FakeTwirpApi",
    "RecordedCall",
    "TwirpFault",
    "sign_webhook",
]
