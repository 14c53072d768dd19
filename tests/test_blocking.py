"""Blocking's pure rules: the pattern comes from the envelope sender, the header From is shown
apart when it differs, and the confirm modal says the count and the approval rule."""

from __future__ import annotations

from blocks.modals import ModalContext, block_modal
from bot.cloudflare import EmailSecurityClient
from bot.services.blocking import PUBLIC_PROVIDERS, BlockRules, block_pattern, forged_from
from bot.services.outcomes import BlockChoice, BlockPreview
from tests.kit.factories import make_message
from tests.kit.slack import text_of


def test_the_pattern_is_the_envelope_sender_not_the_header_from() -> None:
    spoofed = make_message(**{"from": "CEO@Partner.example"}, envelope_from="<bounce@evil.example>")
    assert block_pattern(spoofed, "EMAIL") == "bounce@evil.example"
    assert block_pattern(spoofed, "DOMAIN") == "evil.example"
    assert forged_from(spoofed) == "ceo@partner.example"
    plain = make_message(**{"from": "a@b.example"}, envelope_from="A@B.example")
    assert forged_from(plain) is None and block_pattern(plain, "DOMAIN") == "b.example"
    header_only = make_message(**{"from": "a@b.example"}, envelope_from=None)
    assert block_pattern(header_only, "EMAIL") == "a@b.example"


async def test_providers_and_public_suffixes_are_risky_without_asking_the_api() -> None:
    assert {"gmail.com", "outlook.com", "yahoo.com"} <= PUBLIC_PROVIDERS
    # Nothing listens here: these rules must decide without an API call.
    async with EmailSecurityClient("0" * 32, api_token="t", base_url="http://127.0.0.1:9") as api:
        rules = BlockRules(api)
        for suffix in ("co.uk", "com", "github.io", "com.au"):
            assert "public suffix" in (await rules.risk(suffix, "DOMAIN") or ""), suffix
        assert "public email provider" in (await rules.risk("gmail.com", "DOMAIN") or "")
        assert await rules.risk("someone@gmail.com", "EMAIL") is None, "one address is one sender"


def test_the_confirm_modal_counts_and_names_the_rule() -> None:
    preview = BlockPreview(
        [
            BlockChoice("EMAIL", "x@gmail.com", 1, False, None),
            BlockChoice("DOMAIN", "gmail.com", 1000, True, "it blocks a public email provider"),
        ],
        header_from="boss@corp.example",
    )
    view = block_modal(ModalContext(message_id="m1"), "", preview).to_dict()
    text = text_of(view)
    assert "1 message in the last 30 days" in text
    assert "more than 1,000 messages in the last 30 days" in text
    assert "needs a second person's approval: it blocks a public email provider" in text
    assert "Header From (can be forged): `boss@corp[.]example`" in text
    command = block_modal(
        ModalContext(pattern="gmail.com", pattern_type="DOMAIN"),
        "",
        BlockPreview([BlockChoice("DOMAIN", "gmail.com", 0, False, "public email provider")]),
    ).to_dict()
    assert command["submit"]["text"] == "Ask for approval"
