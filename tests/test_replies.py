"""The one translation of failures into sentences people can act on."""

from __future__ import annotations

from bot.cloudflare import UnavailableError
from handlers.replies import explain


def test_an_unavailable_api_is_named_once_and_says_what_to_do() -> None:
    late = UnavailableError(
        "the Email Security API gave no answer within 30 s (release), so the request may or "
        "may not have been carried out: check the message's current state before trying again"
    )
    text = explain(late)
    assert text.startswith("The Email Security API gave no answer within 30 s")
    assert text.count("Email Security API") == 1 and "current state" in text
    other = explain(UnavailableError("search still running after 60s; narrow the search"))
    assert (
        other == "The Email Security API failed: search still running after 60s; narrow the search"
    )
