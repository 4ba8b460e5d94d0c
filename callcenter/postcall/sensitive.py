"""Which slots hold secrets (card, SSN, PIN and the like), and how their values are shown.

Flows do not declare sensitive slots, so the slot's (or node's) name decides. Redaction
already removes card numbers, SSNs and long digit runs by their shape; this catches what
has no telling shape: a four-digit PIN, a CVV, a short passcode typed on the keypad.
"""

from __future__ import annotations

import re

MASK = "[MASKED]"
# Parts of a name that mark a secret wherever they appear ("cardnumber", "social_security").
_ANYWHERE = ("card", "cvv", "cvc", "ssn", "social", "passcode", "password", "passwd", "secret",
             "security", "iban")
# Short parts that must stand alone: "pin" is a secret, "shipping" is not.
_WHOLE = frozenset({"pin", "otp", "cc", "dob", "tin"})
_PARTS = re.compile(r"[a-z0-9]+")


def is_sensitive(name: str | None) -> bool:
    """True for slot or node names like card_number, ssn, account_pin, cvv, passcode."""
    if not name:
        return False
    low = name.lower()
    if any(part in low for part in _ANYWHERE):
        return True
    return any(part in _WHOLE for part in _PARTS.findall(low))
