from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from tests.kit import logcheck
from tests.kit.ordering import long_ones_first
from tests.kit.servers import (
    API_EMAIL,
    API_KEY,
    API_TOKEN,
    AnyRedis,
    RedisClusterProcess,
    RedisProcess,
    SimulatorProcess,
)
from tests.kit.slack import (
    BOT_TOKEN,
    STARTED_BOTS,
    BotProcess,
    Slack,
    StandinProcess,
    clean_slate,
)
from tests.kit.store import service_db


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `starts_first(seconds)` go to the heads of the workers' first shares."""
    seconds = {
        index: float(marker.args[0])
        for index, item in enumerate(items)
        if (marker := item.get_closest_marker("starts_first"))
    }
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    items[:] = long_ones_first(items, seconds, workers)


@pytest.fixture(scope="session", autouse=True)
def bot_logs_are_clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the session (set up first, so torn down last, once every bot has stopped): no
    bot's log holds a secret it was given or a message body, and its JSON lines parse. The
    child processes' logs go under pytest's temporary directory, which keeps the last three
    runs' (a run leaves about 20 MB of DEBUG logs)."""
    os.environ["E2E_LOG_DIR"] = str(tmp_path_factory.mktemp("logs"))
    yield
    found = logcheck.problems(
        (f"bot log {bot._log.name}", bot.log(), bot.secrets) for bot in STARTED_BOTS
    )
    assert not found, "\n".join(found)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisProcess]:
    server = RedisProcess()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterProcess]:
    """A three-primary Redis Cluster, started by the first test of this worker that needs it."""
    cluster = RedisClusterProcess()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["server", "cluster"])
def store(request: pytest.FixtureRequest) -> AnyRedis:
    """The Redis of a test that must hold on both: the session's redis-server, then a Redis
    Cluster (the same bot, which finds which one REDIS_URL leads to)."""
    found: AnyRedis = request.getfixturevalue(f"redis_{request.param}")
    return found


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
    process = StandinProcess("--bot-token", BOT_TOKEN)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    with BotProcess(shared_simulator, standin, redis_server.url) as process:
        yield process


@pytest.fixture(scope="session")
def cluster_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_cluster: RedisClusterProcess
) -> Iterator[BotProcess]:
    """The session's bot, on the Redis Cluster."""
    with BotProcess(shared_simulator, standin, redis_cluster.url) as process:
        yield process


@pytest.fixture
def second_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    """Another replica: its own process, the same simulator, stand-in and Redis."""
    with BotProcess(shared_simulator, standin, redis_server.url) as process:
        yield process


@pytest.fixture
def slack(
    bot: BotProcess,
    standin: StandinProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> Slack:
    """A clean Slack, simulator and Redis for each end-to-end test, with the bot running."""
    clean_slate(standin, redis_server.url)
    return Slack(bot, standin)


@pytest.fixture
def store_slack(
    request: pytest.FixtureRequest, store: AnyRedis, standin: StandinProcess,
    simulator: SimulatorProcess,
) -> Slack:  # fmt: skip
    """`slack` on `store`: the session's bot on its redis-server, or the one on the cluster."""
    on_cluster = isinstance(store, RedisClusterProcess)
    bot = request.getfixturevalue("cluster_bot" if on_cluster else "bot")
    clean_slate(standin, store.url)
    return Slack(bot, standin)


@pytest.fixture
def store_second_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, store: AnyRedis
) -> Iterator[BotProcess]:
    """Another replica on `store`."""
    with BotProcess(shared_simulator, standin, store.url) as process:
        yield process


@pytest.fixture
async def rdb(redis_server: RedisProcess) -> AsyncIterator[aioredis.Redis]:
    """A connection to the session's Redis (database 1), emptied for this test."""
    client = aioredis.Redis.from_url(service_db(redis_server))
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def other_rdb(redis_server: RedisProcess) -> AsyncIterator[aioredis.Redis]:
    """A second, separate connection pool to the same Redis: another replica's."""
    client = aioredis.Redis.from_url(service_db(redis_server))
    yield client
    await client.aclose()
