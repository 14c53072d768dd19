"""Every id the renderers put on elements and the handlers listen for, in one place.

Each interactive element carries its own target, never found by looking at its neighbours: a
message button's value is the message's investigate id; a card's menus sit in an actions block
whose `block_id` names the message (`card_block`); approval buttons carry the request id; a
modal carries a `blocks.modals.ModalContext` in its private metadata.
"""

from __future__ import annotations

import re
from enum import StrEnum


class ActionId(StrEnum):
    # On a message card; value = the investigate id (menus: the option is the choice).
    PREVIEW = "msg_preview"
    RAW = "msg_raw"
    TRACE = "msg_trace"
    RELEASE = "msg_release"
    MOVE = "msg_move"
    RECLASSIFY = "msg_reclassify"
    BLOCK = "msg_block"
    OPEN = "msg_open"  # a chooser entry: the full card, posted in the channel
    SHARE = "msg_share"  # on a card only its viewer sees: post it in the channel
    # A search hit: its card privately (value = the investigate id); its tick box (the option's
    # value is the investigate id; what is ticked is read from the page's state on a click).
    HIT_OPEN = "search_open"
    HIT_PICK = "search_pick"
    # Search results; value = the saved search's opaque key.
    SEARCH_MORE = "search_more"
    RELEASE_ALL = "search_release_all"
    MOVE_ALL = "search_move_all"
    # The ticked hits of a search page (the value says nothing: the page's state names them).
    RELEASE_SELECTED = "search_release_selected"
    MOVE_SELECTED = "search_move_selected"
    # Approval cards, lists and the App Home; value = the request id.
    APPROVE = "approval_approve"
    REJECT = "approval_reject"
    CANCEL = "approval_cancel"
    JOB_CANCEL = "approval_job_cancel"  # a running bulk job of a request approved as a query
    # A page of an approvals list (command answer or App Home); value = a `ListPage`.
    APPROVALS_PAGE = "approvals_page"
    # The blocked senders list (and a card's "Sender blocked" line): value = the entry's id;
    # its next page: value = `bot.services.paging.page_key`.
    UNBLOCK = "blocklist_unblock"
    BLOCKED_MORE = "blocklist_more"
    # The VIP list: Remove (value = the entry's id), its next page (value =
    # `bot.services.paging.page_key`), and Add on the confirmation of `vip add` (value = JSON of
    # the email and the name).
    VIP_REMOVE = "vip_remove"
    VIP_MORE = "vip_more"
    VIP_ADD = "vip_add"
    # The submissions list's next page: value = `bot.services.submissions.page_key`.
    SUBMISSIONS_MORE = "submissions_more"
    # The PhishGuard reports' next page: value = `bot.services.phishguard.page_key`.
    PHISHGUARD_MORE = "phishguard_more"
    # A card's "Allow sender…" and "False positive…" (value = the investigate id); the allow
    # policies and trusted domains lists: Remove (value = "<entry id> <page key>", the page it
    # redraws), More (value = the page key, `bot.services.paging.page_key`).
    ALLOW = "msg_allow"
    FALSE_POSITIVE = "msg_false_positive"
    DISALLOW = "allowlist_remove"
    ALLOWED_MORE = "allowlist_more"
    UNTRUST = "trusted_remove"
    TRUSTED_MORE = "trusted_more"
    # An alert digest's list ("List them", "Next page"); value = a `blocks.alerts.DigestPage`.
    DIGEST_LIST = "alerts_digest_list"


class CallbackId(StrEnum):
    MOVE_MODAL = "move_modal"
    RELEASE_MODAL = "release_modal"  # the reason for a release that needs approval
    RECLASSIFY_MODAL = "reclassify_modal"
    BLOCK_MODAL = "block_modal"
    REJECT_MODAL = "approval_reject_modal"
    BULK_MODAL = "search_bulk_modal"
    ALLOW_MODAL = "allow_modal"
    FALSE_POSITIVE_MODAL = "false_positive_modal"
    INVESTIGATE_SHORTCUT = "investigate_email"  # the message shortcut


class InputId(StrEnum):
    """Inputs in modals: the same id is the block_id and the action_id."""

    FOLDER = "folder"
    DISPOSITION = "disposition"
    REASON = "reason"
    PATTERN_TYPE = "pattern_type"
    COMMENT = "comment"
    ALLOW_KIND = "allow_kind"
    VERIFY_SENDER = "verify_sender"
    ASK_ALLOW = "ask_allow"  # "False positive…": also ask for an allow policy (a kind, or no)


class BlockPrefix(StrEnum):
    OUTCOME = "outcome"  # an outcome line a card gathered ("Released by … at …")
    APPROVAL = "approval"  # an approval request's buttons
    CARD = "card"  # any other block of a message card


_CARD_BLOCK = re.compile(r"^(?P<prefix>[a-z]+)-(?P<part>[a-z0-9]+)\|(?P<message>.+)$")
MAX_BLOCK_ID = 255


def card_block(prefix: BlockPrefix, part: str, message_id: str) -> str:
    """The block_id of one block of a message's card: unique within a post that holds several
    cards, and naming the message it belongs to."""
    return f"{prefix.value}-{part}|{message_id}"[:MAX_BLOCK_ID]


def card_of(block_id: str | None) -> str | None:
    """The message id a card block belongs to (None for any other block)."""
    match = _CARD_BLOCK.match(block_id or "")
    return match["message"] if match else None
