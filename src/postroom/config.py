"""Postroom's one configuration class, read from the environment (prefix ``POSTROOM_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from postroom.kit.addresses import ascii_domain
from postroom.transports.urls import check_transport_url

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Every setting Postroom reads. Secrets are ``SecretStr`` and never logged."""

    model_config = SettingsConfigDict(
        env_prefix="POSTROOM_", extra="ignore", hide_input_in_errors=True
    )
    """A refused value is not repeated in the error: it may hold a password (an SMTP URL)."""

    database_url: str = "sqlite:///./data/postroom.db"
    data_dir: Path = Path("./data")
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    sqlite_synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL|EXTRA)$")
    message_id_domain: str | None = None
    log_level: str = "INFO"
    """Level of Postroom's own log (stderr) and of ``postroom serve``'s server log (uvicorn's)."""

    smtp_url: SecretStr = SecretStr("capture://")
    """Organization-wide default sending account; ``capture://`` writes a Maildir, empty = none."""
    max_file_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    """Largest file the Files API accepts (Gmail's limit by default)."""
    event_retention_days: float = Field(default=30.0, gt=0)
    """Events older than this are removed by the dispatcher's housekeeping."""
    webhooks_allow_private: bool = False
    """Allow webhook URLs that resolve to loopback or private addresses (tests, intranets)."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    webhook_concurrency_per_subscription: int = Field(default=2, ge=1, le=256)
    """Deliveries of one subscription in flight at most, across workers: a receiver that never
    answers ties up this many of the ``webhook_concurrency`` slots, not all of them."""
    webhook_retry_first_delay_seconds: float = Field(default=30.0, ge=0)
    webhook_retry_max_delay_seconds: float = Field(default=3600.0, ge=0)
    webhook_give_up_after_seconds: float = Field(default=72 * 3600.0, ge=0)
    max_webhook_subscriptions: int = Field(default=40, ge=1)
    max_request_bytes: int = Field(default=30 * 1024 * 1024, ge=1024)
    """Request bodies over this size get a 413 before they are read in full."""
    max_json_depth: int = Field(default=32, ge=4)
    """JSON bodies nested deeper than this are refused with a 400."""
    max_concurrent_requests: int = Field(default=256, ge=1)
    """Above this many requests in progress, new ones get 503 with Retry-After."""
    rate_limit_requests: int = Field(default=0, ge=0)
    """Requests allowed per API key and endpoint group per window; 0 turns limiting off."""
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)
    track_opens: bool = True
    """Add an open-tracking pixel to sent HTML emails (``POSTROOM_TRACK_OPENS=0`` turns it off)."""
    run_dispatcher: bool = True
    """Run a dispatcher inside ``postroom serve`` (``--no-dispatcher`` turns it off)."""
    dispatch_batch_size: int = Field(default=200, ge=1, le=5000)
    dispatch_lease_seconds: float = Field(default=60.0, gt=0)
    dispatch_poll_seconds: float = Field(default=1.0, gt=0, le=1.0)
    retry_first_delay_seconds: float = Field(default=30.0, ge=0)
    retry_max_delay_seconds: float = Field(default=3600.0, ge=0)
    retry_give_up_after_seconds: float = Field(default=86400.0, ge=0)

    @field_validator("log_level")
    @classmethod
    def _is_a_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"a log level is one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("smtp_url")
    @classmethod
    def _names_a_transport(cls, value: SecretStr) -> SecretStr:
        """A mistyped URL stops the server at start, instead of failing every delivery."""
        check_transport_url(value.get_secret_value())
        return value

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @field_validator("message_id_domain")
    @classmethod
    def _an_ascii_domain(cls, value: str | None) -> str | None:
        """In IDNA A-labels: a Message-ID in UTF-8 would need SMTPUTF8 to be sent (a server
        without it refuses the message). A value that is no domain name stops the server."""
        return ascii_domain(value) if value else None

    @property
    def message_domain(self) -> str:
        """The domain used in generated Message-IDs when the sender gives none: the
        configured one, else the public URL's host (in A-labels), else ``postroom.localhost``."""
        if self.message_id_domain:
            return self.message_id_domain
        host = self.public_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        try:
            return ascii_domain(host) if "." in host else "postroom.localhost"
        except ValueError:
            return "postroom.localhost"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
