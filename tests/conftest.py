from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import API_EMAIL, API_KEY, API_TOKEN, RedisProcess, SimulatorProcess


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
