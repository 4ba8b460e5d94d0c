"""Settings: every environment variable the platform reads lives here, and only here.

Values come from the environment and from `.env` in the working directory. A missing or
malformed value fails at start with `SettingsError`, whose message names the variable.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting is missing or malformed. The message names the environment variable."""


class STTProvider(StrEnum):
    WHISPER = "whisper"
    DEEPGRAM = "deepgram"


class TTSProvider(StrEnum):
    PIPER = "piper"
    ESPEAK = "espeak"
    ELEVENLABS = "elevenlabs"


class LLMProvider(StrEnum):
    # Offline there is no usable chat LLM: agent nodes use the intent classifier over
    # the flow's example phrases instead.
    INTENTS = "intents"
    OPENAI = "openai"


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


# Public, so it signs nothing that matters: only `dev_mode` may run with it.
DEV_SECRET_KEY = "dev-insecure-change-me"
MIN_SECRET_KEY_LENGTH = 32

_SQL_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")
# The first is the one an example suggests.
_URL_SCHEMES = {
    "redis_url": ("redis", "rediss", "unix"),
    "livekit_url": ("wss", "ws", "https", "http"),
    "crm_webhook_url": ("https", "http"),
}


def _shown(value: str) -> str:
    """A URL as it may appear in an error: without a password (a secret)."""
    if "@" not in value or "://" not in value:
        return value
    scheme, rest = value.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


class Settings(BaseSettings):
    """Process-wide configuration (see `.env.example` for every variable)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    data_dir: Path = Field(
        default=Path(".callcenter"), description="Where SQLite and recordings live"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in DATA_DIR"
    )
    redis_url: str | None = Field(default=None, description="Redis for checkpoints and Celery")

    livekit_url: str | None = Field(default=None, description="wss://... of the LiveKit server")
    livekit_api_key: str | None = None
    livekit_api_secret: SecretStr | None = None
    agent_name: str = Field(default="callcenter", description="Agent name LiveKit dispatches")
    worker_max_calls: int = Field(default=20, ge=1, le=2000)
    worker_cpu_threshold: float = Field(default=0.85, gt=0.0, le=256.0, allow_inf_nan=False)
    worker_drain_timeout_s: float = Field(default=300.0, ge=0.0, le=86400.0, allow_inf_nan=False)
    worker_health_port: int = Field(default=8081, ge=0, le=65535)
    redis_key_prefix: str = Field(default="cc:", min_length=1, max_length=64)
    # Supervisors by phone (callcenter/escalation/phone_config.py has the format).
    phone_supervisors: str = Field(
        default="", description="Comma list id=+E164[@skill|skill] the phone desk rings"
    )
    sip_outbound_trunk_id: str = Field(
        default="", max_length=100, description="LiveKit SIP outbound trunk (ST_...) to dial"
    )
    phone_ring_timeout_s: float = Field(
        default=15.0, gt=0, le=120, allow_inf_nan=False,
        description="Seconds a supervisor's phone rings before it counts as no answer",
    )

    stt_provider: STTProvider = STTProvider.WHISPER
    local_stt_model: str = Field(
        default="tiny.en",
        description="Offline Whisper model: tiny.en (default) or base (twice the CPU)",
    )
    local_stt_second_model: str = Field(
        default="base",
        description="Offline Whisper model that hears again a turn the flow did not "
        "understand, before the caller is asked to repeat ('' or 'none': no second hearing)",
    )
    tts_provider: TTSProvider = TTSProvider.PIPER
    llm_provider: LLMProvider = LLMProvider.INTENTS

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    deepgram_api_key: SecretStr | None = None
    deepgram_base_url: str | None = None
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_base_url: str | None = None
    elevenlabs_voice_id: str = "21m00Tcm4TlvDq8ikWAM"

    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET_KEY),
        description="Signs admin/console sessions; set a long random value in production",
    )
    dev_mode: bool = Field(
        default=False,
        description="Development: allow the built-in SECRET_KEY (logged loudly), never in prod",
    )
    # Web app sessions and sign-in (admin/, callcenter/accounts).
    session_max_age_s: int = Field(
        default=43200, ge=60, description="A session cookie is refused after this many seconds"
    )
    session_cookie_secure: bool = Field(
        default=False,
        description="Always mark the session cookie Secure (it is anyway on https requests)",
    )
    login_max_failures: int = Field(
        default=10, ge=1, description="Wrong passwords for one email before it is locked"
    )
    login_lockout_s: int = Field(
        default=900, ge=1, description="How long a locked sign-in stays locked (seconds)"
    )
    login_ip_max_failures: int = Field(
        default=100, ge=1, description="Failed sign-ins from one address before it is locked"
    )
    # Post-call processing (callcenter/postcall).
    crm_webhook_url: str | None = Field(
        default=None, description="POST each processed call here (JSON, HMAC-signed)"
    )
    crm_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key for the X-Callcenter-Signature header"
    )
    keep_raw_transcript: bool = Field(
        default=False, description="Store the unredacted transcript next to the redacted one"
    )
    redaction_rules: str = Field(
        default="card,ssn,email,phone,digits",
        description="Comma list of PII rules: card, ssn, email, phone, digits",
    )
    watch_phrases: str = Field(
        default="cancel my account,lawyer,attorney",
        description="Comma list of phrases that flag a live call on the supervisor console",
    )
    redaction_min_digits: int = Field(
        default=5, ge=3, description="The `digits` rule redacts digit runs at least this long"
    )
    postcall_visibility_timeout_s: int = Field(
        default=600, ge=5, description="Redis redelivers an unacknowledged task after this"
    )
    postcall_sweep_interval_s: float = Field(
        default=15.0, gt=0, le=86400, allow_inf_nan=False,
        description="How often workers re-send stale outbox entries",
    )
    postcall_stale_after_s: float = Field(
        default=60.0,
        gt=0,
        le=7 * 86400,
        allow_inf_nan=False,
        description="An outbox entry not done this long after sending is re-sent",
    )
    log_format: LogFormat = LogFormat.CONSOLE
    log_level: str = "INFO"
    scenarios_dir: Path | None = Field(
        default=None,
        description="Flows' scenario files (<dir>/<flow name>/*.yaml); default: the examples'",
    )

    @field_validator("scenarios_dir", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("local_stt_model")
    @classmethod
    def _check_local_stt_model(cls, value: str) -> str:
        # Imported here: the speech package reads these settings (no import cycle at load).
        from callcenter.speech.offline.whisper_models import check_model_name

        return check_model_name(value.strip())

    @field_validator("local_stt_second_model")
    @classmethod
    def _check_local_stt_second_model(cls, value: str) -> str:
        from callcenter.speech.offline.whisper_models import check_model_name

        value = value.strip()
        return "" if value.lower() in ("", "none") else check_model_name(value)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in _SQL_SCHEMES:
            raise ValueError(
                f"unsupported URL {value.split('@')[-1]!r}: use sqlite:///path/to/file.db or "
                "postgresql://user@host:5432/dbname"
            )
        return value

    @field_validator("redis_url", "livekit_url", "crm_webhook_url")
    @classmethod
    def _check_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value == "":
            return None
        schemes = _URL_SCHEMES[str(info.field_name)]
        if "://" not in value:
            raise ValueError(f"{_shown(value)!r} is not a URL (expected "
                             f"{schemes[0]}://host:port)")
        scheme = value.split("://", 1)[0].lower()
        if scheme not in schemes:
            raise ValueError(f"scheme {scheme}:// is not one of "
                             f"{', '.join(s + '://' for s in schemes)}")
        host = value.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        if scheme != "unix" and not host:
            raise ValueError(f"{_shown(value)!r} has no host (expected {scheme}://host:port)")
        port = host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else ""
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"port {port!r} is not a number from 1 to 65535")
        return value

    @field_validator("data_dir")
    @classmethod
    def _check_data_dir(cls, value: Path) -> Path:
        # Found here, not when the first call writes its recording or SQLite opens its file.
        path = value.expanduser()
        if path.exists() and not path.is_dir():
            raise ValueError(f"{path} is a file, not a folder: point DATA_DIR at a folder")
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(f"{existing} is a file, so {path} cannot be created: point "
                             "DATA_DIR at a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"{existing} is not writable, so {path} cannot be used: point "
                             "DATA_DIR at a folder you can write")
        return path

    @field_validator("redaction_rules")
    @classmethod
    def _check_rules(cls, value: str) -> str:
        known = {"card", "ssn", "email", "phone", "digits"}
        rules = [r.strip().lower() for r in value.split(",") if r.strip()]
        unknown = sorted(set(rules) - known)
        if unknown:
            raise ValueError(
                f"unknown rule(s) {', '.join(unknown)}: "
                f"use a comma list of {', '.join(sorted(known))}"
            )
        return ",".join(rules)

    @field_validator("watch_phrases")
    @classmethod
    def _check_watch_phrases(cls, value: str) -> str:
        from callcenter.escalation.alerts import parse_phrases  # WatchPhraseError says why

        return ",".join(parse_phrases(value))

    @field_validator("phone_supervisors")
    @classmethod
    def _check_phone_supervisors(cls, value: str) -> str:
        from callcenter.escalation.phone_config import parse_phone_supervisors

        parse_phone_supervisors(value)  # PhoneSupervisorsError says which entry and why
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("use one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @model_validator(mode="after")
    def _livekit_complete(self) -> Settings:
        if self.livekit_url and not (self.livekit_api_key and self.livekit_api_secret):
            raise ValueError(
                "LIVEKIT_URL is set but LIVEKIT_API_KEY or LIVEKIT_API_SECRET is missing: "
                "set both (from your LiveKit project) or unset LIVEKIT_URL for local mode"
            )
        if self.phone_supervisors and not (self.livekit_url and self.sip_outbound_trunk_id):
            raise ValueError(
                "PHONE_SUPERVISORS is set but LIVEKIT_URL or SIP_OUTBOUND_TRUNK_ID is missing: "
                "phones are rung through a LiveKit SIP outbound trunk; set both (see "
                "`callcenter livekit setup`) or unset PHONE_SUPERVISORS"
            )
        return self

    @property
    def watch_phrase_list(self) -> tuple[str, ...]:
        """WATCH_PHRASES as phrases (checked and normalised by its validator)."""
        return tuple(p for p in self.watch_phrases.split(",") if p)

    @property
    def secret_key_is_default(self) -> bool:
        """True while SECRET_KEY is the published development value (or empty)."""
        value = self.secret_key.get_secret_value()
        return value in ("", DEV_SECRET_KEY)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # psycopg 3 is the driver we ship; plain postgresql:// would look for psycopg2.
            for prefix in ("postgresql://", "postgres://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{(self.data_dir / 'callcenter.db').resolve()}"


def check_secret_key(settings: Settings) -> None:
    """Refuse to sign sessions with a guessable key unless `dev_mode` allows it."""
    if settings.dev_mode:
        return
    value = settings.secret_key.get_secret_value()
    if settings.secret_key_is_default:
        raise SettingsError(
            "SECRET_KEY: still the built-in development value; set a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`, or pass --dev "
            "(DEV_MODE=true) on a development machine"
        )
    if len(value) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            f"SECRET_KEY: {len(value)} characters is too short to sign sessions; "
            f"use at least {MIN_SECRET_KEY_LENGTH} random characters"
        )


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into one readable line per variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = "_".join(str(p) for p in err["loc"]).upper()
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{loc}: {msg}" if loc else msg)
        raise SettingsError("invalid configuration: " + "; ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, loaded once."""
    return load_settings()
