"""Audio primitives: frames, resampling, G.711, WAV, VAD."""

from callcenter.audio.frame import PCM16, AudioFrame

__all__ = ["PCM16", "AudioFrame"]
