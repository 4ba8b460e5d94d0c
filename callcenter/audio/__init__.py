"""Audio primitives: frames, resampling, G.711, WAV, VAD."""

from callcenter.audio.frame import PCM16, AudioFrame

__all__ = ["PCM16", "AudioFrame"]

from callcenter.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from callcenter.audio.phone import PHONE_RATE, phone_channel
from callcenter.audio.resample import StreamResampler, resample_frame, resample_pcm
from callcenter.audio.wav import WavAudio, WavFormatError, read_wav, read_wav_frame, write_wav

__all__ += [
    "PHONE_RATE",
    "StreamResampler",
    "WavAudio",
    "WavFormatError",
    "alaw_decode",
    "alaw_encode",
    "mulaw_decode",
    "mulaw_encode",
    "phone_channel",
    "read_wav",
    "read_wav_frame",
    "resample_frame",
    "resample_pcm",
    "write_wav",
]
