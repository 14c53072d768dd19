"""`EmailSecurityClient`s for tests that run the API client in the test process, against the
simulator: retries fast enough for a test, and no client-side rate limit for the executor."""

from __future__ import annotations

from typing import Any

from bot.cloudflare import EmailSecurityClient, RetryPolicy
from tests.kit.contract import ContractRecorder
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, SimulatorProcess

FAST_RETRY = RetryPolicy(backoff_base=0.01, backoff_cap=0.05, max_retry_after=5)
EXECUTOR_RETRY = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)


def api_client(
    base_url: str, recorder: ContractRecorder | None = None, **kw: Any
) -> EmailSecurityClient:
    options: dict[str, Any] = {
        "api_token": API_TOKEN,
        "base_url": base_url,
        "timeout": 10.0,
        "retry": FAST_RETRY,
        "search_poll_interval": 0.01,
    }
    options.update(kw)
    if recorder is not None:
        options["event_hooks"] = recorder.hooks
    return EmailSecurityClient(ACCOUNT_ID, **options)


def executor_client(
    simulator: SimulatorProcess, cls: type[EmailSecurityClient] = EmailSecurityClient, **kw: Any
) -> Any:
    return cls(
        ACCOUNT_ID,
        api_token=API_TOKEN,
        base_url=simulator.base_url,
        timeout=10.0,
        retry=EXECUTOR_RETRY,
        rate_limit=(1_000_000, 1.0),  # the re-check GETs every message; tests need no limit
        **kw,
    )
