"""`python -m bot console`: drive the bot from a terminal as a Slack user, without Slack.

Needs the bot serving HTTP (its Request URL, e.g. http://127.0.0.1:3000/slack/events) with
its Web API pointed at the Slack stand-in (`python -m bot slack-standin`), and the bot's
signing secret. Type `help` for the commands.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import threading

import aiohttp

from bot.local.console_session import Console, ConsoleError

HELP = """\
  /command text       run a slash command, e.g. /email lookup <id>
  click N [OPTION]    click button [N]; for menu [N] also an option's number or
                      value: click 5 2; on tick boxes, tick or untick them
  yes | no            answer a confirmation dialog
  modal               show the open modal; its preselected values show as set
  set N VALUE         fill in input {N} of the open modal
  submit | cancel     submit or close the modal
  home                open your Home tab, as the app draws it
  alerts              the latest alerts, newest first, one line each
  alert N             alert N of that list with its thread; its buttons work
  thread TS           a message and its thread (TS: the ts in its title)
  messages            show the channel again (buttons renumbered from 1)
  say TEXT            write a message in the channel
  shortcut ID [TS]    run message shortcut ID on message TS (default: the last)
  wait                look again for late answers
  user U…             act as another user, e.g. user U0APPROVER to approve
  channel C…          act in another channel
  /invite             invite the bot to the channel (it posts only where invited)
  help | quit"""
WATCH_SECONDS = 1.0  # between looks for answers that arrive while nobody types


async def execute(console: Console, line: str) -> bool:
    """Run one typed line; False means quit."""
    word, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    if not word:
        return True
    if word.startswith("/"):
        await console.send_command(line)
    elif word in ("quit", "exit"):
        return False
    elif word == "help":
        console.say(HELP)
    elif word == "click":
        number, _, choice = rest.partition(" ")
        if not number.isdigit():
            raise ConsoleError("usage: click N [OPTION]")
        await console.click(int(number), choice.strip() or None)
    elif word in ("yes", "no"):
        await console.answer_confirm(word == "yes")
    else:
        await _modal_or_view(console, word, rest)
    return True


async def _modal_or_view(console: Console, word: str, rest: str) -> None:
    if word == "set":
        field, _, value = rest.partition(" ")
        if not field:
            raise ConsoleError("usage: set N VALUE")
        console.set_field(field, value.strip())
    elif word == "modal":
        console.show_modal()
    elif word == "submit":
        await console.submit()
    elif word == "cancel":
        await console.cancel()
    elif word == "home":
        await console.open_home()
    elif word == "messages":
        await console.show_messages()
    elif word == "alerts":
        await console.show_alerts()
    elif word == "alert" and rest.isdigit():
        await console.open_alert(int(rest))
    elif word == "thread" and rest:
        await console.show_thread(rest)
    elif word == "wait":
        await console.settle()
    elif word == "user" and rest:
        await console.switch(user=rest)
    elif word == "channel" and rest:
        await console.switch(channel=rest)
    elif word == "say" and rest:
        await console.say_text(rest)
    elif word == "shortcut" and rest:
        callback_id, *ts = shlex.split(rest)
        await console.shortcut(callback_id, ts[0] if ts else None)
    else:
        raise ConsoleError(f"unknown command {word!r}; type help")


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Read stdin in a daemon thread (it cannot block the exit), one line per queue item;
    None at end of input."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


class Terminal:
    """Prints the console's output. What arrives while the prompt waits for a line (an alert,
    a slow answer) goes on lines of its own, and the prompt is shown again below it."""

    def __init__(self) -> None:
        self.waiting = ""  # the prompt on screen, waiting for a line

    def prompt(self, text: str) -> None:
        self.waiting = text
        print(text, end="", flush=True)

    def typed(self) -> None:
        self.waiting = ""

    def out(self, text: str) -> None:
        if self.waiting:
            print(flush=True)
        print(text, flush=True)
        if self.waiting:
            print(self.waiting, end="", flush=True)


async def _watch(console: Console) -> None:
    """Show answers that arrive while nobody types (alerts, slow updates)."""
    while True:
        await asyncio.sleep(WATCH_SECONDS)
        try:
            await console.refresh()
        except (ConsoleError, aiohttp.ClientError, OSError) as error:
            console.say(f"⚠ {error}")


async def repl(console: Console, terminal: Terminal) -> int:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=_stdin_lines, args=(loop, queue), daemon=True).start()
    console.say("Type help for the commands.")
    watcher = asyncio.create_task(_watch(console))
    try:
        while True:
            terminal.prompt(f"{console.user}@#{console.channel}> ")
            line = await queue.get()
            terminal.typed()
            if line is None:
                return 0
            try:
                if not await execute(console, line):
                    return 0
            except (ConsoleError, aiohttp.ClientError, OSError) as error:
                console.say(f"⚠ {error}")
    finally:
        watcher.cancel()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot console",
        description="Act as a Slack user towards the bot, through the Slack stand-in.",
    )
    p.add_argument("--bot-url", default="http://127.0.0.1:3000/slack/events")
    p.add_argument("--standin", default="http://127.0.0.1:8790", help="the Slack stand-in")
    p.add_argument(
        "--signing-secret",
        default=os.environ.get("SLACK_SIGNING_SECRET"),
        help="the bot's signing secret (default: $SLACK_SIGNING_SECRET)",
    )
    p.add_argument("--user", default="U0LOCAL", help="the Slack user id to act as")
    p.add_argument("--channel", default="C0LOCAL", help="the channel to act in")
    p.add_argument(
        "--alert-channel", help="the channel the bot posts alerts in (default: --channel)"
    )
    return p


async def run(args: argparse.Namespace) -> int:
    terminal = Terminal()
    console = Console(
        args.bot_url, args.standin, args.signing_secret, args.user, args.channel,
        alert_channel=args.alert_channel, out=terminal.out,
    )  # fmt: skip
    try:
        async with console:
            return await repl(console, terminal)
    except (ConsoleError, aiohttp.ClientError, OSError) as error:
        print(f"console: {error} (is the stand-in at {args.standin} running?)", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if not args.signing_secret:
        parser().error("set SLACK_SIGNING_SECRET or pass --signing-secret (the bot's)")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
