"""LLM chat: the interface (`base`) and the fallback adapter."""
