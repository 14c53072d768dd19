from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.servers import API_EMAIL, API_KEY, API_TOKEN, RedisProcess, SimulatorProcess
from tests.slack import GROUP, GROUP_MEMBER, BotProcess, Slack, StandinProcess


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisProcess]:
    server = RedisProcess()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_simulator() -> Iterator[SimulatorProcess]:
    simulator = SimulatorProcess(
        "--api-token", API_TOKEN, "--api-email", API_EMAIL, "--api-key", API_KEY
    )
    yield simulator
    simulator.stop()


@pytest.fixture
def simulator(shared_simulator: SimulatorProcess) -> SimulatorProcess:
    """The session's simulator, reset to its sample data and no faults before each test."""
    shared_simulator.reset()
    return shared_simulator


@pytest.fixture(scope="session")
def standin() -> Iterator[StandinProcess]:
    process = StandinProcess()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    process = BotProcess(shared_simulator, standin, redis_server.url)
    yield process
    process.stop()


@pytest.fixture
def slack(
    bot: BotProcess,
    standin: StandinProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> Slack:
    """A clean Slack, simulator and Redis for each end-to-end test, with the bot running."""
    standin.hook("POST", "reset")
    standin.hook("POST", "usergroups", {GROUP: [GROUP_MEMBER]})
    redis.Redis.from_url(redis_server.url).flushdb()
    return Slack(bot, standin)
