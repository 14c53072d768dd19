"""Configuration: DESIGN.md's names and defaults, and one error that names every bad setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.integrity import IntegrityKey
from tests.kit.servers import ROOT, VENDOR

ENV_NAMES = [
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
    "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_API_URL", "REDIS_URL", "HOST", "PORT", "BOT_COMMAND", "BOT_VIEWERS",
    "BOT_OPERATORS", "BOT_APPROVERS", "BOT_APPROVAL_TTL", "BOT_BULK_THRESHOLD",
    "BOT_GUARDED_DISPOSITIONS", "ALERT_CHANNEL", "ALERT_DISPOSITIONS", "ALERT_POLL_SECONDS",
    "ALERT_BACKFILL_HOURS", "ALERT_ROUTES", "BOT_INTEGRITY_KEY", "BOT_BULK_SEARCH_LIMIT",
    "BOT_BULK_JOB_CEILING",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_follow_the_design_table() -> None:
    settings = load_settings()
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.cloudflare_api_url == "https://api.cloudflare.com/client/v4"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert (settings.host, settings.port, settings.bot_command) == ("0.0.0.0", 3000, "/email")
    assert settings.bot_viewers == settings.bot_operators == settings.bot_approvers == ()
    assert (settings.bot_approval_ttl, settings.bot_bulk_threshold) == (3600, 2)
    assert settings.bot_guarded_dispositions == ("MALICIOUS", "MALICIOUS-BEC")
    assert settings.alert_channel is None
    assert settings.alert_dispositions == ("MALICIOUS", "MALICIOUS-BEC", "SUSPICIOUS")
    assert (settings.alert_poll_seconds, settings.alert_backfill_hours) == (60, 0)
    assert not settings.uses_cloudflare


def test_lists_and_credentials_parse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    routes = tmp_path / "routes.yml"
    routes.write_text("[]\n")
    monkeypatch.setenv("BOT_OPERATORS", "U012ABC, S0G00D ,")
    monkeypatch.setenv("ALERT_DISPOSITIONS", "malicious,SPOOF")
    monkeypatch.setenv("ALERT_ROUTES", str(routes))
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "023e105f4ecef8ad9ca31a8372d0c353")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "secret-token-value")
    settings = load_settings()
    assert settings.bot_operators == ("U012ABC", "S0G00D")
    assert settings.alert_dispositions == ("MALICIOUS", "SPOOF")
    assert settings.uses_cloudflare
    assert "secret-token-value" not in repr(settings)


def test_every_bad_setting_is_named_once_without_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "not-an-account")
    monkeypatch.setenv("BOT_APPROVERS", "alice,U123")
    monkeypatch.setenv("PORT", "99999")
    monkeypatch.setenv("REDIS_URL", "http://cache:6379")
    monkeypatch.setenv("ALERT_CHANNEL", "#security-alerts")
    monkeypatch.setenv("BOT_GUARDED_DISPOSITIONS", "MALICIOUS,EVIL")
    with pytest.raises(ConfigError) as error:
        load_settings()
    text = str(error.value)
    for name in ("CLOUDFLARE_ACCOUNT_ID", "BOT_APPROVERS", "PORT", "REDIS_URL", "ALERT_CHANNEL",
                 "BOT_GUARDED_DISPOSITIONS"):  # fmt: skip
        assert f"- {name}:" in text
    assert "alice" not in text and "not-an-account" not in text


def test_executor_share_is_a_fraction_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().cloudflare_executor_share == 0.5
    monkeypatch.setenv("CLOUDFLARE_EXECUTOR_SHARE", "0.25")
    assert load_settings().cloudflare_executor_share == 0.25
    for bad in ("0", "1.5", "half"):
        monkeypatch.setenv("CLOUDFLARE_EXECUTOR_SHARE", bad)
        with pytest.raises(ConfigError, match="- CLOUDFLARE_EXECUTOR_SHARE:"):
            load_settings()


def test_the_job_ceiling_is_at_least_the_search_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """BOT_BULK_JOB_CEILING bounds a job only past BOT_BULK_SEARCH_LIMIT matches: below it, a
    search the bot counted could have more matches than the ceiling it would get."""
    assert load_settings().bot_bulk_job_ceiling == 100_000
    monkeypatch.setenv("BOT_BULK_SEARCH_LIMIT", "500")
    monkeypatch.setenv("BOT_BULK_JOB_CEILING", "500")
    assert load_settings().bot_bulk_job_ceiling == 500
    monkeypatch.setenv("BOT_BULK_JOB_CEILING", "499")
    with pytest.raises(ConfigError) as error:
        load_settings()
    text = str(error.value)
    assert "BOT_BULK_JOB_CEILING must be at least BOT_BULK_SEARCH_LIMIT" in text
    assert "499" not in text, "values are never echoed"


def test_integrity_key_comes_from_the_bots_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Derived, never configured in Redis: the same secret gives the same key on every
    replica; BOT_INTEGRITY_KEY wins, else the signing secret, else the app token."""
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-socket-mode")
    socket_mode = load_settings().integrity_key
    assert socket_mode.key_id == IntegrityKey.derive("xapp-1-socket-mode").key_id
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret")
    signed = load_settings().integrity_key
    assert signed.key_id == IntegrityKey.derive("signing-secret").key_id != socket_mode.key_id
    assert signed.seal("x", b"y") == load_settings().integrity_key.seal("x", b"y")
    monkeypatch.setenv("BOT_INTEGRITY_KEY", "k" * 32)
    own = load_settings().integrity_key
    assert own.key_id == IntegrityKey.derive("k" * 32).key_id and "kkkk" not in repr(own)
    monkeypatch.setenv("BOT_INTEGRITY_KEY", "too-short")
    with pytest.raises(ConfigError, match="BOT_INTEGRITY_KEY: must be at least 32") as error:
        load_settings()
    assert "too-short" not in str(error.value)
    for name in ("BOT_INTEGRITY_KEY", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(ConfigError, match="BOT_INTEGRITY_KEY"):
        _ = load_settings().integrity_key


def test_credentials_need_their_partners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_EMAIL", "ops@example.com")
    with pytest.raises(ConfigError, match="CLOUDFLARE_API_KEY"):
        load_settings()
    monkeypatch.setenv("CLOUDFLARE_API_KEY", "k")
    with pytest.raises(ConfigError, match="CLOUDFLARE_ACCOUNT_ID is required"):
        load_settings()


def test_manifest_is_valid_for_slack() -> None:
    validator = VENDOR / "validate_manifest.py"
    result = subprocess.run(
        [sys.executable, str(validator), str(ROOT / "manifest.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_bot_start_names_slack_and_other_problems_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "0")
    with pytest.raises(ConfigError) as error:
        load_settings(for_bot=True)
    text = str(error.value)
    assert "- PORT:" in text and "- SLACK_BOT_TOKEN:" in text and "- SLACK_SIGNING_SECRET:" in text
    monkeypatch.setenv("PORT", "3000")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-socket")
    with pytest.raises(ConfigError) as error:
        load_settings(for_bot=True)
    assert "- SLACK_BOT_TOKEN: must be a token starting xoxb-" in str(error.value)
    assert "SLACK_SIGNING_SECRET" not in str(error.value), "Socket Mode needs no signing secret"


def test_an_empty_setting_counts_as_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """`NAME=` lines of an .env file made from .env.example leave the default in place."""
    for name in ("SLACK_APP_TOKEN", "ALERT_CHANNEL", "ALERT_ROUTES", "PORT", "BOT_VIEWERS"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.slack_app_token is None and settings.alert_channel is None
    assert settings.alert_routes is None and settings.port == 3000
    assert settings.bot_viewers == ()


def test_alert_digest_rate_evidence_and_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALERT_DIGEST_RATE", "ALERT_EVIDENCE_LOOKUPS", "ALERT_LOCK_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.digest_rate == (10, 300.0)
    assert (settings.alert_evidence_lookups, settings.alert_lock_seconds) == (20, 10)
    monkeypatch.setenv("ALERT_DIGEST_RATE", "OFF")
    assert load_settings().digest_rate is None
    for bad in ("ten/300", "10/5", "0/300", "10/"):
        monkeypatch.setenv("ALERT_DIGEST_RATE", bad)
        with pytest.raises(ConfigError, match="ALERT_DIGEST_RATE"):
            load_settings()
