"""`callcenter dev`: the embedded default composed in one process (see server.py)."""

from callcenter.dev.calls import CallFeed, DevCall, FeedEvent
from callcenter.dev.desk import OfferView, QueueRow, SupervisorDesk
from callcenter.dev.seed import DEV_NUMBERS, SeededLogin
from callcenter.dev.server import DevCallError, DevOptions, DevServer, DevStatus

__all__ = [
    "DEV_NUMBERS",
    "CallFeed",
    "DevCall",
    "DevCallError",
    "DevOptions",
    "DevServer",
    "DevStatus",
    "FeedEvent",
    "OfferView",
    "QueueRow",
    "SeededLogin",
    "SupervisorDesk",
]
