"""Text-to-speech: the interface (`base`), the fallback adapter, the one clause splitter
(`clauses`) and the clause-by-clause stream the offline engines share."""
