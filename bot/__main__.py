"""Entry point: `python -m bot` runs the bot; sub-commands run the local tools."""

from __future__ import annotations

import sys

USAGE = """usage: python -m bot [COMMAND]
  (none)                run the Slack bot (configuration from the environment)
  simulator [options]   serve the Email Security API simulator (--help for options)
  local                 start the whole local stack, as `make run` does
  slack-standin [opts]  serve the local stand-in for the Slack Web API (--help)
  console [options]     drive a running bot from the terminal as a Slack user (--help)"""


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "":
        from bot.container import main as bot_main

        return bot_main()
    if command == "simulator":
        from bot.simulator.cli import main as simulator_main

        return simulator_main(rest)
    if command == "slack-standin":
        from bot.local.standin.cli import main as standin_main

        return standin_main(rest)
    if command == "console":
        from bot.local.console import main as console_main

        return console_main(rest)
    if command == "local":
        from bot.local.stack import main as local_main

        return local_main(rest)
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
