"""The App Home tab: your roles, approvals waiting for you, your requests, recent outcomes."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock, SectionBlock
from slack_sdk.models.views import View

from blocks.approvals import ListName, ListPage, approvals_list, what
from blocks.help import help_blocks
from blocks.parts import mrkdwn, plain, when
from bot.services.approvals.models import ApprovalRequest

HOME_BLOCKS = 100


def home_view(
    *,
    roles: Sequence[str],
    waiting: Sequence[ApprovalRequest],
    mine: Sequence[ApprovalRequest],
    recent: Sequence[ApprovalRequest],
    command: str,
    page: ListPage | None = None,
) -> View:
    """The Home tab; `page` is the page of one of its lists a "Next page" asked for (the
    other list shows its first page)."""
    role_text = ", ".join(roles) if roles else "none yet (ask an admin)"
    blocks: list[Block] = [
        HeaderBlock(text=plain("Email Security")),
        SectionBlock(text=mrkdwn(f"Your roles: *{role_text}*.")),
        DividerBlock(),
    ]
    if "approver" in roles:
        blocks += approvals_list(waiting, _page(page, "waiting"))
    blocks += approvals_list(mine, _page(page, "mine"))
    blocks.append(SectionBlock(text=mrkdwn(_recent(recent))))
    blocks.append(DividerBlock())
    blocks += help_blocks(command)
    return View(type="home", blocks=blocks[:HOME_BLOCKS])


def _page(asked: ListPage | None, name: ListName) -> ListPage:
    return asked if asked is not None and asked.name == name else ListPage("home", name)


def _recent(recent: Sequence[ApprovalRequest]) -> str:
    if not recent:
        return "*Recent outcomes*: none yet."
    lines = [
        f"• {what(r)}: *{r.state.value}* ({when(r.ended_at or r.created_at)})" for r in recent[:10]
    ]
    return "*Recent outcomes*\n" + "\n".join(lines)
