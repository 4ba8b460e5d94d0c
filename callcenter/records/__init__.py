"""Call records: what is stored about calls, kept true and read back.

`livekit_webhooks` applies LiveKit's room and participant events to call records (so a
record ends even when no worker saw the call end). Queries over stored calls for the admin,
the API and the `calls` CLI go here too.
"""
