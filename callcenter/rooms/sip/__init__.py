"""The dev phone edge: a small SIP endpoint (UDP, no registrar) whose calls are `Room`s.

DEV ONLY. Production calls come through LiveKit SIP (`rooms.livekit`); this exists so
`callcenter dev` can be dialled by a softphone, sipp or baresip with no LiveKit server.
It speaks just enough SIP (RFC 3261 UAS over UDP: INVITE, ACK, BYE both ways, CANCEL,
OPTIONS, re-INVITE, retransmissions), SDP (PCMU, PCMA, telephone-event), RTP G.711 with
a small jitter buffer and 20 ms pacing, and RFC 4733 DTMF. No TLS, SRTP, auth, TCP,
proxies or Record-Route: do not expose it to a network you do not trust.

    endpoint = SipEndpoint("127.0.0.1", 5060, on_call=lambda room: dispatcher.dispatch(room))
    await endpoint.start()      # ... calls arrive as SipRoom ...
    await endpoint.aclose()     # BYE to every live call
"""

from callcenter.rooms.sip.dialog import SipTimers
from callcenter.rooms.sip.endpoint import OnCall, SipEndpoint
from callcenter.rooms.sip.room import SipRoom

__all__ = ["OnCall", "SipEndpoint", "SipRoom", "SipTimers"]
