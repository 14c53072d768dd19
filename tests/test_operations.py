"""Every operation of the OpenAPI file has a client method and a simulator route, every list's
filters are the documented ones, and docs/client.md lists each operation once.

All of it is derived from tests/kit/vendor/email-security-openapi.json, so an operation added to
the file fails here until the client, the simulator and the docs have it. Operations the file
marks deprecated (past end of life) must have no client method: nothing past end of life is sent.
That the methods and routes also work, against each other and the file, is
tests/test_contract.py's part.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.cloudflare import EmailSecurityClient
from bot.cloudflare.filters import SearchFilters
from bot.cloudflare.queries import ListFilters
from bot.simulator.app import create_app
from bot.simulator.faults import FaultSettings
from bot.simulator.runtime import Credentials, Simulator
from bot.simulator.state import Dataset
from tests.kit.openapi_check import PREFIX, normal, operations, spec
from tests.kit.servers import ACCOUNT_ID

DOCS = Path(__file__).resolve().parents[1] / "docs" / "client.md"


def current() -> dict[tuple[str, str], dict[str, Any]]:
    return {key: op for key, op in operations().items() if not op.get("deprecated")}


def client_table() -> dict[tuple[str, str], list[str]]:
    """(METHOD, normal path) -> the client methods that send it."""
    client = EmailSecurityClient(ACCOUNT_ID, api_token="t")
    table: dict[tuple[str, str], list[str]] = {}
    for name, sent in client.endpoints().items():
        for found in sent:
            table.setdefault((found.method, normal(found.path)), []).append(name)
    return table


def test_the_file_has_the_operations_counted_in_the_docs() -> None:
    assert len(operations()) == 63
    assert len(current()) == 62


def test_every_operation_has_a_client_method() -> None:
    table = client_table()
    assert sorted(set(current()) - set(table)) == []
    # Nothing past end of life, nothing the file does not have.
    assert sorted(set(table) - set(current())) == []


@pytest.fixture(scope="module")
def app() -> web.Application:
    started = datetime.now(UTC)
    dataset = Dataset.build(seed=7, count=30, started=started, data=None)
    return create_app(Simulator.create(dataset, 7, FaultSettings(), Credentials()))


async def test_every_operation_has_a_simulator_route(app: web.Application) -> None:
    """The route that answers each operation's path is that operation's (not, say, the message
    route answering `GET investigate/bulk`), and takes its method."""
    missing = []
    for method, path in operations():
        base = f"/client/v4{PREFIX.replace('{account_id}', ACCOUNT_ID)}"
        url = base + path.replace("{}", "PLACEHOLDER")
        match = await app.router.resolve(make_mocked_request(method, url, app=app))
        if match.http_exception is not None:
            missing.append(f"{method} {path}: {match.http_exception.status}")
            continue
        route = match.route.resource.canonical if match.route.resource else ""
        for name, value in match.items():
            route = route.replace(f"{{{name}}}", "{}" if value == "PLACEHOLDER" else value)
        served = normal(route.removeprefix(base))
        if served != path:
            missing.append(f"{method} {path}: answered by the route of {served}")
    assert missing == []


def _documented_filters(method: str, path: str) -> set[str]:
    """The current query parameters of an operation, less paging and the cursor."""
    op = current()[(method, path)]
    names = set()
    for parameter in op.get("parameters", []):
        if "$ref" in parameter:
            parameter = spec()["components"]["parameters"][parameter["$ref"].split("/")[-1]]
        if parameter["in"] == "query" and not parameter.get("deprecated"):
            names.add(parameter["name"])
    return names - {"page", "per_page", "cursor"}


LISTS = {
    "settings/block_senders": "block_senders",
    "settings/allow_policies": "allow_policies",
    "settings/trusted_domains": "trusted_domains",
    "settings/domains": "protected_domains",
    "settings/impersonation_registry": "impersonation_registry",
    "settings/sending_domain_restrictions": "sending_domain_restrictions",
    "settings/url_ignore_patterns": "url_ignore_patterns",
}


@pytest.mark.parametrize("path", sorted(LISTS))
def test_each_settings_list_takes_every_documented_filter(path: str) -> None:
    client = EmailSecurityClient(ACCOUNT_ID, api_token="t")
    filters: type[ListFilters] = getattr(client, LISTS[path])._filters
    assert set(filters.model_fields) == _documented_filters("GET", path)


def test_submissions_and_bulk_lists_take_every_documented_filter() -> None:
    from bot.cloudflare.queries import BulkJobFilters, BulkJobMessageFilters, SubmissionFilters

    assert set(SubmissionFilters.model_fields) == _documented_filters("GET", "submissions")
    assert set(BulkJobFilters.model_fields) == _documented_filters("GET", "investigate/bulk")
    messages = _documented_filters("GET", "investigate/bulk/{}/messages")
    assert set(BulkJobMessageFilters.model_fields) == messages


def test_search_takes_every_documented_filter_and_not_page() -> None:
    documented = _documented_filters("GET", "investigate") | {"per_page"}
    assert documented <= set(SearchFilters.model_fields)
    assert "page" not in SearchFilters.model_fields


def test_docs_list_every_operation_with_its_client_method_and_route() -> None:
    """docs/client.md's operations table: one row per operation of the file, naming the
    operationId, the client method(s) and the simulator route."""
    rows = [
        line for line in DOCS.read_text().splitlines() if re.match(r"\| `email_security_", line)
    ]
    listed = {re.match(r"\| `(\w+)`", row)[1]: row for row in rows}  # type: ignore[index]
    by_id = {op["operationId"]: key for key, op in operations().items()}
    assert sorted(listed) == sorted(by_id)
    assert len(rows) == len(by_id), "an operation is listed twice"
    table = client_table()
    for operation_id, (method, path) in by_id.items():
        row = listed[operation_id]
        assert f"{method} " in row, operation_id
        for name in table.get((method, path), []):
            assert f"`{name}`" in row, f"{operation_id}: {name} is not in its row"
    assert f"{len(by_id)} operations" in DOCS.read_text()
