"""Configuration from the environment: the names and defaults of DESIGN.md's table.

`load_settings()` reports every bad setting at once, by name, with what to do about it, and
never echoes a value (some are secrets).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.cloudflare.dispositions import ALERTING_BY_DEFAULT, GUARDED_BY_DEFAULT, Disposition
from bot.integrity import IntegrityKey

# Used when no Cloudflare credentials are set: `make run` then talks to the local simulator,
# on 127.0.0.1 at SIMULATOR_PORT (`Settings.simulator_url`).
SIMULATOR_ACCOUNT_ID = "0" * 32
SIMULATOR_TOKEN = "simulator-token"  # noqa: S105 - the simulator's, not a credential

DISPOSITIONS = frozenset(d.value for d in Disposition)
SLACK_PRINCIPAL = re.compile(r"^[UWS][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")

CommaList = Annotated[tuple[str, ...], NoDecode]


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class ConfigError(Exception):
    """Start-up refused: the message lists every bad setting and how to fix it."""


class Settings(BaseSettings):
    # `NAME=` (an empty line in an .env file) means "not set", as people expect from a template.
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    cloudflare_account_id: str | None = None
    cloudflare_api_token: SecretStr | None = None
    cloudflare_email: str | None = None
    cloudflare_api_key: SecretStr | None = None
    cloudflare_api_url: str = "https://api.cloudflare.com/client/v4"
    cloudflare_rate_limit: str = "1200/300"  # requests/seconds all replicas keep under together
    # The most of that budget approved bulk actions take in any window (bot/store/ratelimit.py).
    cloudflare_executor_share: float = Field(default=0.5, gt=0, le=1)

    redis_url: str = "redis://localhost:6379/0"
    host: str = "0.0.0.0"  # noqa: S104 - a server listens on all interfaces by default
    port: int = Field(default=3000, ge=1, le=65535)
    # Seconds an HTTP connection may wait for a request's headers (bot.listener); behind a
    # proxy that keeps connections open, above the proxy's own idle timeout.
    http_idle_timeout: int = Field(default=5, ge=1, le=3600)
    # The local stack's other listeners (`make run`): the simulator, used when no Cloudflare
    # credentials are set, and the Slack stand-in, used when no SLACK_BOT_TOKEN is set.
    simulator_port: int = Field(default=8787, ge=1, le=65535)
    standin_port: int = Field(default=8790, ge=1, le=65535)

    bot_command: str = "/email"
    bot_viewers: CommaList = ()
    bot_operators: CommaList = ()
    bot_approvers: CommaList = ()
    bot_approval_ttl: int = Field(default=3600, ge=1)
    # How long an executing replica's hold on a request lasts unrenewed (renewed every third of
    # it): a replica that died mid-run is resumed by another this long after.
    bot_approval_lease_seconds: float = Field(default=10, ge=2, le=300)
    bot_bulk_threshold: int = Field(default=2, ge=1)
    bot_required_approvals: int = Field(default=1, ge=1, le=5)
    bot_guarded_dispositions: CommaList = tuple(GUARDED_BY_DEFAULT)
    # Matches of a search "Release/Move all matching" covers; at most what was measured
    # (docs/performance.md).
    bot_bulk_search_limit: int = Field(default=10_000, ge=1, le=10_000)
    # Re-check an approved request made from a search with that search, frozen (about one API
    # call per 1,000 messages); false: one GET per message (bot.services.approvals.eligible).
    bot_recheck_by_search: bool = True
    # Every "Release/Move all matching" approved as a query and run as a server-side bulk job
    # (bot.services.approvals.bulkjob); false: only a search past BOT_BULK_SEARCH_LIMIT.
    bot_bulk_all_as_query: bool = False
    # The ceiling of a "Release/Move all matching" whose search has more matches than
    # BOT_BULK_SEARCH_LIMIT: Cloudflare gives no total, so the bot counts no further and the
    # bulk job is cancelled if it finds more than this (bot.services.querying).
    bot_bulk_job_ceiling: int = Field(default=100_000, ge=1)
    # People's requests in progress per replica (bot.services.gate); past it, "busy".
    bot_max_in_progress: int = Field(default=100, ge=1)
    # Largest raw EML (MB) the bot attaches; it is spooled to a temporary file, never held whole.
    bot_raw_max_mb: int = Field(default=40, ge=1, le=1000)
    # The secret the integrity key (approval digests, the audit chain) is derived from; unset:
    # the Slack signing secret, else the app token (see `integrity_key`).
    bot_integrity_key: SecretStr | None = None

    alert_channel: str | None = None
    alert_dispositions: CommaList = tuple(ALERTING_BY_DEFAULT)
    alert_poll_seconds: int = Field(default=60, ge=1)
    alert_backfill_hours: int = Field(default=0, ge=0)
    alert_campaign_window: int = Field(default=3600, ge=60)  # seconds a campaign stays open
    alert_routes: Path | None = None
    # Lower-severity alerts a channel gets one by one, N per SECONDS; past it they go into one
    # digest card (bot.services.alerts.digests). "off": every alert one by one.
    alert_digest_rate: str = "10/300"
    # Detections looked up per poll so that alerts also group by link domain and attachment
    # (bot.services.alerts.evidence); each is an API call. 0: none.
    alert_evidence_lookups: int = Field(default=20, ge=0, le=500)
    # The alerts lock's lease: another replica polls this long after the polling one died.
    alert_lock_seconds: int = Field(default=10, ge=2, le=300)

    log_level: str = "INFO"
    log_format: str = "json"

    _split_lists = field_validator(
        "bot_viewers",
        "bot_operators",
        "bot_approvers",
        "bot_guarded_dispositions",
        "alert_dispositions",
        mode="before",
    )(_split)

    @field_validator("bot_viewers", "bot_operators", "bot_approvers")
    @classmethod
    def _principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not SLACK_PRINCIPAL.match(v)]
        if bad:
            raise ValueError(
                f"{len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not a Slack user id "
                "(U…/W…) or user-group id (S…); list ids, not names"
            )
        return value

    @field_validator("bot_guarded_dispositions", "alert_dispositions")
    @classmethod
    def _dispositions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        upper = tuple(v.upper() for v in value)
        bad = sorted(set(upper) - DISPOSITIONS)
        if bad:
            raise ValueError(
                f"unknown disposition {', '.join(bad)}; use {', '.join(sorted(DISPOSITIONS))}"
            )
        return upper

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        prefix = "xoxb-" if info.field_name == "slack_bot_token" else "xapp-"
        if value is not None and not value.get_secret_value().startswith(prefix):
            raise ValueError(f"must be a token starting {prefix}")
        return value

    @field_validator("bot_integrity_key")
    @classmethod
    def _integrity(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @property
    def integrity_key(self) -> IntegrityKey:
        """The key of approval digests and audit seals, derived from BOT_INTEGRITY_KEY, else
        SLACK_SIGNING_SECRET, else SLACK_APP_TOKEN: never stored in Redis, the same on every
        replica with the same settings. Changing the secret it comes from makes pending
        requests fail their check (refused as changed) and older audit entries checkable only
        by their links."""
        source = self.bot_integrity_key or self.slack_signing_secret or self.slack_app_token
        if source is None:
            raise ConfigError(
                "The bot cannot start; fix these settings (environment variables):\n"
                "  - BOT_INTEGRITY_KEY: required when neither SLACK_SIGNING_SECRET nor "
                "SLACK_APP_TOKEN is set"
            )
        return IntegrityKey.derive(source.get_secret_value())

    @field_validator("cloudflare_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        count, _, seconds = value.partition("/")
        if not (count.isdigit() and int(count) > 0 and seconds.replace(".", "", 1).isdigit()):
            raise ValueError("must look like N/SECONDS, e.g. 1200/300 (Cloudflare's default)")
        if float(seconds) <= 0:
            raise ValueError("the period must be more than 0 seconds")
        return value

    @field_validator("alert_digest_rate")
    @classmethod
    def _digest_rate(cls, value: str) -> str:
        if value.strip().lower() == "off":
            return "off"
        count, _, seconds = value.partition("/")
        if not (count.isdigit() and int(count) > 0 and seconds.isdigit()):
            raise ValueError("must look like N/SECONDS, e.g. 10/300, or off")
        if not 10 <= int(seconds) <= 86400:
            raise ValueError("the period must be 10 to 86400 seconds")
        return value

    @property
    def digest_rate(self) -> tuple[int, float] | None:
        """ALERT_DIGEST_RATE as (alerts, seconds); None when off."""
        if self.alert_digest_rate == "off":
            return None
        count, _, seconds = self.alert_digest_rate.partition("/")
        return int(count), float(seconds)

    @property
    def rate_limit(self) -> tuple[int, float]:
        count, _, seconds = self.cloudflare_rate_limit.partition("/")
        return int(count), float(seconds)

    @field_validator("cloudflare_account_id")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-f]{32}", value):
            raise ValueError("must be the 32 hex characters shown on the account's dashboard")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// (TLS) or unix://")
        return value

    @field_validator("bot_command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not re.fullmatch(r"/[a-z0-9_-]{1,31}", value):
            raise ValueError("must be a slash command such as /email")
        return value

    @field_validator("alert_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not CHANNEL_ID.match(value):
            raise ValueError("must be a channel id (C…), not a channel name")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in LOG_FORMATS:
            raise ValueError(f"must be {' or '.join(LOG_FORMATS)}")
        return value.lower()

    @field_validator("alert_routes")
    @classmethod
    def _routes(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("names a file that does not exist")
        return value

    @model_validator(mode="after")
    def _cloudflare(self) -> Settings:
        legacy = (self.cloudflare_email, self.cloudflare_api_key)
        if any(legacy) and not all(legacy):
            raise ValueError(
                "CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY go together; set both or neither"
            )
        if self.uses_cloudflare and not self.cloudflare_account_id:
            raise ValueError("CLOUDFLARE_ACCOUNT_ID is required with Cloudflare credentials")
        return self

    @model_validator(mode="after")
    def _job_ceiling(self) -> Settings:
        if self.bot_bulk_job_ceiling < self.bot_bulk_search_limit:
            raise ValueError(
                "BOT_BULK_JOB_CEILING must be at least BOT_BULK_SEARCH_LIMIT: it bounds a bulk "
                "job only when the search has more matches than BOT_BULK_SEARCH_LIMIT"
            )
        return self

    @property
    def simulator_url(self) -> str:
        """The local simulator's API base, talked to when no Cloudflare credentials are set."""
        return f"http://127.0.0.1:{self.simulator_port}/client/v4"

    @property
    def uses_cloudflare(self) -> bool:
        """False when no credentials are set: the bot then talks to the local simulator."""
        return bool(self.cloudflare_api_token or self.cloudflare_api_key)


def load_settings(for_bot: bool = False) -> Settings:
    """Settings from the environment, or one ConfigError that names every bad setting. With
    `for_bot`, the Slack credentials the bot's mode needs are required too."""
    missing = slack_missing(os.environ) if for_bot else []
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(describe(exc, missing)) from None
    if missing:
        raise ConfigError(describe(None, missing))
    return settings


def slack_missing(environ: Mapping[str, str]) -> list[str]:
    """The Slack settings the bot cannot run without: a bot token, and a signing secret
    unless Socket Mode (an app token) is used."""
    present = {k.upper() for k, v in environ.items() if v}
    missing = [] if "SLACK_BOT_TOKEN" in present else ["SLACK_BOT_TOKEN"]
    if not present & {"SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"}:
        missing.append("SLACK_SIGNING_SECRET")
    return missing


def describe(exc: ValidationError | None, missing: list[str]) -> str:
    lines = ["The bot cannot start; fix these settings (environment variables):"]
    for error in exc.errors() if exc else []:
        name = ".".join(str(part) for part in error["loc"]).upper() or "SETTINGS"
        reason = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"  - {name}: {reason}")
    hint = {
        "SLACK_BOT_TOKEN": "required: the app's Bot User OAuth Token (xoxb-…)",
        "SLACK_SIGNING_SECRET": "required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)",
    }
    lines += [f"  - {name}: {hint[name]}" for name in missing]
    return "\n".join(lines)
