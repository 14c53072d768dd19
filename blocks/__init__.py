"""Block Kit renderers: pure functions from data to slack-sdk block models, and `safe`, the one
text-safety layer every string from an email or the API passes before it reaches Slack (told
its `Kind`: attacker text is defanged, the tenant's literals are shown as they are)."""

from blocks.card import fallback_text, message_card
from blocks.help import help_blocks, notice
from blocks.limits import problems, text_size, view_problems
from blocks.modals import ModalContext, block_modal, move_modal, reclassify_modal, release_modal
from blocks.safety import Kind, clamp, defang, escape, safe
from blocks.search import chooser, search_results
from blocks.trace import trace_blocks

__all__ = [
    "Kind",
    "ModalContext",
    "block_modal",
    "chooser",
    "clamp",
    "defang",
    "escape",
    "fallback_text",
    "help_blocks",
    "message_card",
    "move_modal",
    "notice",
    "problems",
    "reclassify_modal",
    "release_modal",
    "safe",
    "search_results",
    "text_size",
    "trace_blocks",
    "view_problems",
]
