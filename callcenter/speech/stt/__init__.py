"""Speech-to-text: the interface (`base`), the fallback adapter and the buffer-then-decode
stream the non-streaming offline engines share."""
