"""Local stand-in for the Slack Web API: `python -m bot slack-standin [--help]`.

The code lives in `bot.local.standin`; this module is the entry point the CLI and tests use
(`python -m bot.local.slack_standin` works too).
"""

from __future__ import annotations

import sys

from bot.local.standin.app import create_app
from bot.local.standin.cli import main
from bot.local.standin.state import Config, Standin

__all__ = ["Config", "Standin", "create_app", "main"]

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
