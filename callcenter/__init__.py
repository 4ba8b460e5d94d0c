"""callcenter: an open-source contact-center platform for AI voice agents on LiveKit."""
