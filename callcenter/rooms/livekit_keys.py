"""The LiveKit API secret: one clear line when it is too short to sign tokens safely.

Every LiveKit token (the worker's, a room's, the console's) is an HS256 JWT signed with
LIVEKIT_API_SECRET. PyJWT warns (`InsecureKeyLengthWarning`, a source-location line plus a
message about RFC 7518) whenever the secret is under 32 bytes, which LiveKit's own dev
secret is. That warning tells an operator neither which setting is meant nor whether it
matters; `short_secret_notice` does, without ever repeating the secret.
"""

from __future__ import annotations

import warnings

from jwt.warnings import InsecureKeyLengthWarning

MIN_SECRET_BYTES = 32  # HS256: a key shorter than the SHA-256 output weakens the signature


def short_secret_notice(secret: str) -> str | None:
    """What is wrong and what to do, if `secret` is too short; None when it is fine."""
    n = len(secret.encode())
    if n >= MIN_SECRET_BYTES:
        return None
    return (
        f"LIVEKIT_API_SECRET is {n} bytes, under the {MIN_SECRET_BYTES} that HS256 tokens "
        "need: fine for a local dev server; in production set a long random value (e.g. "
        "`openssl rand -base64 32`) on LiveKit and on every worker"
    )


def quiet_short_key_warnings() -> None:
    """Silence PyJWT's copy of the notice (it would repeat on every token minted)."""
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
