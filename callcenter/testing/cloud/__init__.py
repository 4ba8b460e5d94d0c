"""Local fake cloud speech/LLM servers speaking the providers' real wire protocols."""
