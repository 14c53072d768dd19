"""Ids shared by the renderers (which put them on buttons, menus and modals) and the handlers
(which listen for them). A value on a message button is the message's investigate id; approval
buttons (issue #4) carry only an opaque request id."""

from __future__ import annotations

# Buttons and menus on a message card.
PREVIEW = "msg_preview"
RAW = "msg_raw"
TRACE = "msg_trace"
RELEASE = "msg_release"
MOVE = "msg_move"  # static_select of folders; option value = folder name
RECLASSIFY = "msg_reclassify"  # static_select of dispositions; option value = disposition
BLOCK = "msg_block"
OPEN = "msg_open"  # "Open" on a search hit or chooser entry: the full lookup card

# Search result paging: value = opaque key of the stored search (query + cursor) in Redis.
SEARCH_MORE = "search_more"

# Modals: callback ids; private_metadata is JSON made by blocks.modals.ModalContext.
MOVE_MODAL = "move_modal"
RECLASSIFY_MODAL = "reclassify_modal"
BLOCK_MODAL = "block_modal"

# Input block/action ids inside the modals.
FOLDER_INPUT = "folder"
DISPOSITION_INPUT = "disposition"
REASON_INPUT = "reason"
PATTERN_TYPE_INPUT = "pattern_type"
COMMENT_INPUT = "comment"

# Approval cards: value = the approval request id (opaque; the record lives in Redis).
APPROVE = "approval_approve"
REJECT = "approval_reject"
CANCEL = "approval_cancel"
REJECT_MODAL = "approval_reject_modal"  # private_metadata = the request id

# Search results: act on every match (value = the saved search key), through a modal.
RELEASE_ALL = "search_release_all"
MOVE_ALL = "search_move_all"
BULK_MODAL = "search_bulk_modal"  # private_metadata = JSON {key, action, channel}

# Message shortcut "Investigate email".
INVESTIGATE_SHORTCUT = "investigate_email"

# block_id prefix of the outcome lines a card accumulates ("Released by … at …").
OUTCOME_BLOCK = "outcome"
