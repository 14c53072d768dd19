"""`/email` text -> typed commands, and the usage errors people see for bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.cloudflare.ids import find_message_ids, parse_message_id
from bot.commands import (
    MAX_IDS,
    BlockCommand,
    BlocklistCommand,
    MessageCommand,
    MoveCommand,
    ReclassifyCommand,
    ReleaseCommand,
    SearchCommand,
    SimpleCommand,
    UsageError,
    parse,
)

INV = "4Njp3P0STMz2c02Q-2024-01-05T10:00:00-12345678"


@pytest.mark.parametrize("verb", ["lookup", "preview", "raw", "trace"])
def test_message_verbs_take_either_id_form(verb: str) -> None:
    assert parse(f"{verb} {INV}") == MessageCommand(verb, INV)  # type: ignore[arg-type]
    assert parse(f"{verb.upper()} 4Njp3P0STMz2c02Q") == MessageCommand(verb, "4Njp3P0STMz2c02Q")  # type: ignore[arg-type]


def test_empty_and_help_give_help() -> None:
    assert parse("") == SimpleCommand("help")
    assert parse("help") == SimpleCommand("help")


def test_release_and_move_dedupe_ids_and_resolve_folder_aliases() -> None:
    assert parse(f"release {INV} {INV} abcd1234ef") == ReleaseCommand((INV, "abcd1234ef"))
    assert parse(f"move {INV} junk") == MoveCommand((INV,), "JunkEmail")
    assert parse(f"move {INV} RecoverableItemsPurges") == MoveCommand(
        (INV,), "RecoverableItemsPurges"
    )


def test_release_and_move_take_a_quoted_reason_anywhere() -> None:
    assert parse(f'release {INV} reason:"user checked the headers"') == ReleaseCommand(
        (INV,), "user checked the headers"
    )
    assert parse(f'move reason:"misfiled" {INV} junk') == MoveCommand(
        (INV,), "JunkEmail", "misfiled"
    )
    for bad, problem in (
        (f"release {INV} reason:", "needs a text"),
        (f'release {INV} reason:"a" reason:"b"', "one reason"),
        (f'release {INV} reason:"{"x" * 501}"', "at most 500"),
    ):
        with pytest.raises(UsageError, match=problem):
            parse(bad)


def test_reclassify_and_block() -> None:
    assert parse(f"reclassify {INV} spam") == ReclassifyCommand(INV, "SPAM")
    assert parse("block Phisher@Evil.Example") == BlockCommand("phisher@evil.example", "EMAIL")
    assert parse("block evil.example") == BlockCommand("evil.example", "DOMAIN")


def test_search_filters() -> None:
    command = parse(
        "search invoice urgent from:billing@x.example to:ceo@example.com "
        'subject:"wire transfer" disposition:malicious since:7d'
    )
    assert isinstance(command, SearchCommand)
    now = datetime(2026, 11, 21, tzinfo=UTC)
    assert command.filters(now) == {
        "detections_only": False,
        "query": "invoice urgent",
        "sender": "billing@x.example",
        "recipient": "ceo@example.com",
        "subject": "wire transfer",
        "final_disposition": "MALICIOUS",
        "start": now - timedelta(days=7),
    }


@pytest.mark.parametrize(
    ("text", "problem", "verb"),
    [
        ("frobnicate x", "is not a command", None),
        ("lookup", "exactly one message id", "lookup"),
        ("lookup <!channel>", "is not a message id", "lookup"),
        ("lookup a b", "exactly one", "lookup"),
        ("release", "at least one", "release"),
        (f"move {INV} spamfolder", "is not a folder", "move"),
        (f"reclassify {INV} MALICIOUS-BEC", "is not a disposition", "reclassify"),
        ("block not an address", "one sender", "block"),
        ("block <@U123>", "neither", "block"),
        ("search", "needs terms", "search"),
        ("search disposition:malicious-bec", "no MALICIOUS-BEC", "search"),
        ("search since:yesterday", "duration", "search"),
        ('search subject:"open', "quote", None),
        ("audit <!channel>", "neither a message id nor an approval request id", "audit"),
        ("audit q07qad8FV_oK x", "at most one id", "audit"),
        ("unblock", "one pattern or blocked-sender id", "unblock"),
        ("unblock a b", "one pattern or blocked-sender id", "unblock"),
        ("domains example.com", "nothing after it", "domains"),
        ("blocked " + "x" * 201, "at most 200", "blocked"),
    ],
)
def test_bad_input_says_what_and_which_usage(text: str, problem: str, verb: str | None) -> None:
    with pytest.raises(UsageError) as error:
        parse(text)
    assert problem in error.value.problem
    assert error.value.verb == verb


def test_block_list_verbs() -> None:
    assert parse("blocked") == BlocklistCommand("blocked", "")
    assert parse("blocked evil[.]example spam") == BlocklistCommand("blocked", "evil.example spam")
    assert parse("unblock winner@prize-center[.]test") == BlocklistCommand(
        "unblock", "winner@prize-center.test"
    ), "a defanged pattern pasted back is read as what it stands for"
    assert parse("DOMAINS") == BlocklistCommand("domains")


def test_audit_takes_message_ids_request_ids_and_verify() -> None:
    assert parse("audit") == SimpleCommand("audit")
    assert parse("audit verify") == parse("audit VERIFY") == SimpleCommand("audit", ("verify",))
    assert parse(f"audit {INV}") == SimpleCommand("audit", (INV,))
    for request_id in ("q07qad8FV_oK", "-abc_DEF-123", "AbCdEfGhIjKl"):
        assert parse(f"audit {request_id}") == SimpleCommand("audit", (request_id,))


def test_too_many_ids_points_to_search() -> None:
    ids = " ".join(f"abcdef{i:06d}" for i in range(MAX_IDS + 1))
    with pytest.raises(UsageError, match="too many ids"):
        parse(f"release {ids}")


def test_ids_are_parsed_and_found_in_free_text() -> None:
    assert parse_message_id(INV) == ("4Njp3P0STMz2c02Q", INV)
    assert parse_message_id("4Njp3P0STMz2c02Q") == ("4Njp3P0STMz2c02Q", None)
    assert parse_message_id("no/slashes") is None
    text = f"Hello team, please check {INV} and 9XyZ12ab34Cd; also 2024 and Reports."
    assert find_message_ids(text) == [INV, "9XyZ12ab34Cd"]
