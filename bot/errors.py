"""Why something was not done: one hierarchy for every refusal and failure a person is told of.

A service raises a `BotError` whose `str()` is the sentence a person should read: short, safe to
show (ids and our own words only), saying what was wrong and what to do instead. Any surface
(Slack, a CLI, an HTTP API) shows that sentence as it is; no surface composes policy wording.
`outcome` is the label the request metrics count it under.

    BotError
    ├── Refused          a role or a rule says no (who may, instead, is in the sentence)
    ├── NotFound         no message (or request) with that id
    ├── NeedsChoice      a bare postfix id names several copies: the person picks one
    ├── InvalidInput     the input cannot be acted on (no sender to block, a folder missing…)
    ├── InProgress       the same action on the same messages is already running
    ├── Gone             what a button or page pointed at has expired
    └── StoreUnavailable the bot's Redis cannot be reached; nothing that needs a record ran
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class BotError(Exception):
    """A refusal or failure with the sentence a person reads (`str(exc)`)."""

    outcome = "failed"

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class Refused(BotError):
    """A role or a rule refused the request."""

    outcome = "denied"


class NotFound(BotError):
    outcome = "not_found"

    def __init__(self, what: str, text: str | None = None) -> None:
        self.what = what
        super().__init__(
            text
            or f"Not found: no message with id `{what}`. Check the id (postfix ids look like "
            "`4Njp3P0STMz2c02Q`), or search for it."
        )


class NeedsChoice(BotError):
    """A bare postfix id matched several messages (one per recipient); `matches` are the
    messages to choose from."""

    outcome = "chooser"

    def __init__(self, postfix_id: str, matches: Sequence[Any]) -> None:
        self.postfix_id = postfix_id
        self.matches = list(matches)
        super().__init__(f"{len(self.matches)} messages share postfix id {postfix_id}: pick one")


class InvalidInput(BotError):
    outcome = "bad_input"


class InProgress(BotError):
    outcome = "refused"


class Gone(BotError):
    outcome = "refused"


class StoreUnavailable(BotError):
    """Redis could not be reached; the message says what to do."""


# Said when an answer needs a card and the place it was asked from holds none (a group DM).
NO_CHANNEL = "I can only post cards in a channel or a DM; try again from one."
