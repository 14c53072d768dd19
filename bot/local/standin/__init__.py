"""A local stand-in for the Slack Web API, response_url, file uploads and Socket Mode.

`python -m bot slack-standin` serves it; tests and the console drive it through the
`/__standin/*` hooks. `bot/local/slack_standin.py` is the entry point.
"""
