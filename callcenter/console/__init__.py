"""The supervisor console's backends: what the console pages read and do, per deployment.

`DevConsole` is `callcenter dev` (the in-process broker, the dev calls and their feeds,
WebRTC audio); `ProductionConsole` is `callcenter api` with REDIS_URL (the Redis broker
the workers use, call control over Redis, live calls followed from the database, audio
through LiveKit). Both satisfy `ConsoleBackend`, so the console routes are one set.
"""

from callcenter.console.backend import ConsoleBackend, ConsoleCallError, FeedLine

__all__ = ["ConsoleBackend", "ConsoleCallError", "FeedLine"]
