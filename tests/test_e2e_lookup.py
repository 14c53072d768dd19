"""End to end: /email lookup and friends over real HTTP (bot, Slack stand-in, simulator, Redis)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.servers import ACCOUNT_ID, API_TOKEN, SimulatorProcess
from tests.slack import OPERATOR, Slack, text_of


def first_message(simulator: SimulatorProcess, **params: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{simulator.base_url}/accounts/{ACCOUNT_ID}/email-security/investigate",
        params={"per_page": "50", **params}, headers={"Authorization": f"Bearer {API_TOKEN}"},
    )  # fmt: skip
    return dict(answer.json()["result"][0])


def test_lookup_posts_a_card(slack: Slack, simulator: SimulatorProcess) -> None:
    message = first_message(simulator, final_disposition="MALICIOUS")
    response = slack.command(f"lookup {message['id']}")
    assert response.status_code == 200
    card = slack.card()
    assert message["postfix_id"] in text_of(card)
    assert card["unfurl_links"] is False and card["unfurl_media"] is False
