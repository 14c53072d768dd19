"""Who is in which conversation: what Slack decides a post by membership.

Slack refuses a post to a public channel the bot is not a member of with `not_in_channel`, and
to a private channel or a DM it cannot see with `channel_not_found`; an ephemeral message to a
person who is not in the channel gets `user_not_in_channel`. A response_url answers wherever its
interaction happened, whoever is in it (that is what it is for), so `app.py` never asks here.

The conversations the stand-in knows:

- the channels it starts with (`--bot-in`, default the console's C0LOCAL), restored on reset:
  public, with the bot and every person of the workspace in them (like #general);
- channels a test or the console declares (`POST /__standin/conversations`);
- channels someone acted in (wrote, ran a command, clicked): they exist, and that person is in
  them; one never heard of before does not have the bot (nobody invited it);
- the bot's DM with a person (`D` + the user id without its first letter), once opened by
  `conversations.open` or a post to the user id, or used by the person. Any other `D…` is a DM
  between people, which the bot cannot see.

Inviting the bot (`POST /__standin/invite`) adds it, and answers the `member_joined_channel`
event Slack sends the apps that subscribe to it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from bot.local.standin.model import APP_ID, BOT_USER_ID, TEAM_ID, JsonObject, SlackError, dm_channel

KINDS = ("public", "private", "im", "mpim")


def kind_of(channel: str) -> str:
    """What an id looks like: C… public channel, G… private one, D… a DM."""
    return {"G": "private", "D": "im"}.get(channel[:1], "public")


@dataclass
class Conversation:
    id: str
    kind: str = "public"
    bot: bool = True  # the bot is a member
    users: set[str] | None = None  # the people in it; None: every person of the workspace

    def has(self, user: str) -> bool:
        return self.users is None or user in self.users

    def to_json(self) -> JsonObject:
        users = None if self.users is None else sorted(self.users)
        return {"id": self.id, "kind": self.kind, "bot": self.bot, "users": users}


class Members:
    def __init__(self, bot_in: Iterable[str] = ()) -> None:
        self.conversations: dict[str, Conversation] = {}
        for channel in bot_in:
            self.conversations[channel] = Conversation(channel, kind_of(channel))

    # --- what the Web API methods ask -------------------------------------------------------

    def postable(self, channel: str) -> Conversation:
        """The conversation the bot may post in; refused as Slack refuses it otherwise."""
        found = self.conversations.get(channel)
        if found is None:
            raise SlackError("channel_not_found")
        if not found.bot:
            # A public channel is visible to the bot, just not open to its posts; anything
            # else it is not in, it cannot even see.
            raise SlackError("not_in_channel" if found.kind == "public" else "channel_not_found")
        return found

    def ephemeral(self, channel: str, user: str) -> None:
        """An ephemeral message to `user` in `channel` needs both the bot and `user` there."""
        if not self.postable(channel).has(user):
            raise SlackError("user_not_in_channel")

    def visible(self, channel: str) -> Conversation:
        """A conversation the bot can see (e.g. for chat.getPermalink)."""
        found = self.conversations.get(channel)
        if found is None or (not found.bot and found.kind != "public"):
            raise SlackError("channel_not_found")
        return found

    def open_im(self, user: str) -> Conversation:
        """The bot's DM with `user`, opened (conversations.open, or a post to the user id)."""
        channel = dm_channel(user)
        found = self.conversations.get(channel)
        if found is None:
            found = self.conversations[channel] = Conversation(channel, "im", True, {user})
        return found

    # --- what people do ---------------------------------------------------------------------

    def seen(self, channel: str, user: str | None) -> Conversation:
        """Someone acted in `channel`: it exists and they are in it. One never heard of is
        a channel nobody invited the bot to, or a DM between people, unless it is the bot's
        own DM with that person."""
        found = self.conversations.get(channel)
        if found is None:
            own = user is not None and channel == dm_channel(user)
            found = Conversation(channel, kind_of(channel), own, set())
            self.conversations[channel] = found
        if user is not None and found.users is not None:
            found.users.add(user)
        return found

    def declare(self, body: JsonObject) -> Conversation:
        """`{"channel", "kind"?, "bot"?, "users"?}` from the hook: replaces what was known."""
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            raise ValueError("channel must be a conversation id like C0SOC")
        kind = body.get("kind", kind_of(channel))
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        bot = body.get("bot", True)
        if not isinstance(bot, bool):
            raise ValueError("bot must be true or false")
        users = body.get("users")
        if users is not None and not (
            isinstance(users, list) and all(isinstance(u, str) for u in users)
        ):
            raise ValueError("users must be a list of user ids, or null for everybody")
        found = Conversation(channel, str(kind), bot, None if users is None else set(users))
        self.conversations[channel] = found
        return found

    def invite(self, channel: str, inviter: str | None) -> JsonObject:
        """The bot added to `channel` (known or not); the member_joined_channel event Slack
        sends about it, with `joined` False when the bot was in it already."""
        found = self.seen(channel, inviter)
        joined = not found.bot
        found.bot = True
        return {"joined": joined, "event": member_joined_channel(found, inviter)}


def member_joined_channel(conversation: Conversation, inviter: str | None) -> JsonObject:
    """The Events API callback of the bot joining `conversation`."""
    now = time.time()
    event: JsonObject = {
        "type": "member_joined_channel",
        "user": BOT_USER_ID,
        "channel": conversation.id,
        "channel_type": "G" if conversation.kind == "private" else "C",
        "team": TEAM_ID,
        "event_ts": f"{now:.6f}",
    }
    if inviter:
        event["inviter"] = inviter
    return {
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(now),
        "event": event,
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True, "enterprise_id": None}
        ],
    }
