"""A stateful simulator of the Cloudflare Email Security API (`python -m bot simulator`).

It serves every path the bot uses under `/client/v4`, with the OpenAPI file's shapes, generated
sample mail, state that actions change, cursor pagination, 202 polling and fault injection, plus
test hooks under `/__simulator/`. Entry point: `bot.simulator.cli.main`.
"""
