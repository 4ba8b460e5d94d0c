"""The last guard before text becomes a suggestion: everything is redacted again.

Inputs are already the redacted transcript; running every rule once more (with all rules on,
whatever the deployment's `REDACTION_RULES`) means a rule switched off for transcripts, or a
number an admin pastes in an edit, still never reaches a suggestion or a flow.
"""

from __future__ import annotations

from callcenter.postcall.redact import ALL_RULES, RedactionConfig, redact_text

_ALL = RedactionConfig(rules=ALL_RULES, min_digits=5)


def scrub(text: str) -> str:
    """`text` with cards, SSNs, emails, phone numbers and long digit runs replaced by tags."""
    return " ".join(redact_text(text, _ALL).split())
