"""Posts that hold several cards (an alert thread post, a campaign root under its headline):
finding one card in a post as Slack returns it, and redrawing that card alone.

A card's blocks all carry a block_id naming its message (`blocks.ids.card_block`), so the run
of blocks of one message is found without looking at what they say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from blocks.ids import card_of

JsonBlock = dict[str, Any]


def _span(post: Sequence[JsonBlock], message_id: str) -> tuple[int, int] | None:
    """First and last index of `message_id`'s card in `post`."""
    found = [i for i, block in enumerate(post) if card_of(block.get("block_id")) == message_id]
    return (found[0], found[-1]) if found else None


def is_compact(post: Sequence[JsonBlock], message_id: str) -> bool:
    """Whether the post shows that message's card in its compact form (alerts)."""
    span = _span(post, message_id)
    if span is None:
        return False
    first = str(post[span[0]].get("block_id") or "")
    return first.startswith("card-c")


def replace_card(
    post: Sequence[JsonBlock], message_id: str, card: Sequence[Block]
) -> list[JsonBlock] | None:
    """`post` with `message_id`'s card replaced by `card`, everything else as it was; None
    when the post has no card of that message."""
    span = _span(post, message_id)
    if span is None:
        return None
    first, last = span
    return [*post[:first], *(b.to_dict() for b in card), *post[last + 1 :]]
