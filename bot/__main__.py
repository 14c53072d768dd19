"""Entry point: `python -m bot [simulator|...]`."""

from __future__ import annotations

import sys

USAGE = """usage: python -m bot COMMAND
  simulator [options]   serve the Email Security API simulator (--help for options)
  local                 start Redis and the Email Security backend for `make run`"""


def main(argv: list[str]) -> int:
    if argv[:1] == ["simulator"]:
        from bot.simulator.cli import main as simulator_main

        return simulator_main(argv[1:])
    if argv[:1] == ["local"]:
        from bot.local.stack import main as local_main

        return local_main(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
