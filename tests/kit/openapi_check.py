"""Validate captured httpx exchanges against the Email Security OpenAPI file.

- `check_request(request)`: the request (path, query, headers, body) as the spec defines it;
- `check_response(request, response)`: the response to it;
- `check_exchange(request, response)`: both; each raises on any violation;
- `operation_of(request)`: the spec's operationId for a request.

Paths are matched under the spec's server, `https://api.cloudflare.com/client/v4`, so a local
simulator URL is mapped to that host with the same path. Statuses the spec defines (2xx, 4XX)
go through openapi-core; a 5xx body is checked against the failure envelope schema, since the
spec has no 5xx responses.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.kit.servers import VENDOR

SPEC_PATH = VENDOR / "email-security-openapi.json"
SPEC_HOST = "https://api.cloudflare.com"
FAILURE_SCHEMA = "email-security_api-response-common-failure"


@functools.cache
def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC_PATH.read_text()))


@functools.cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(_checkable(spec()))


def _checkable(document: dict[str, Any]) -> dict[str, Any]:
    """The file as openapi-core can check it: a `discriminator` over inline `oneOf` members
    (the bulk jobs' action params) is dropped. OpenAPI 3.0 maps a discriminator's values to
    schema *names*, so inline members cannot be chosen by it ("MOVE" is no schema) and every
    answer would fail; `oneOf` alone still picks the member by its `type` enum."""
    copied = json.loads(json.dumps(document))
    for schema in copied["components"]["schemas"].values():
        members = schema.get("oneOf") or []
        if "discriminator" in schema and not any("$ref" in member for member in members):
            del schema["discriminator"]
    return dict(copied)


class OpenAPIRequest:
    """openapi-core's Request protocol over an httpx.Request, re-hosted on the spec's server."""

    def __init__(self, request: httpx.Request) -> None:
        query = httpx.QueryParams(request.url.query.decode())
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(query.multi_items())),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )
        self.host_url = SPEC_HOST
        self.path = request.url.path
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "application/json")


class OpenAPIResponse:
    """openapi-core's Response protocol over an httpx.Response."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "")
        self.data: bytes | None = response.content


def check_failure_body(body: Any) -> None:
    """The v4 failure envelope (success false, errors with codes >= 1000, result null)."""
    schema = {**spec()["components"]["schemas"][FAILURE_SCHEMA], "components": spec()["components"]}
    OAS30Validator(schema).validate(body)


def check_request(request: httpx.Request) -> None:
    """Raise if `request` is not what the spec allows for its operation."""
    openapi().validate_request(OpenAPIRequest(request))


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    """Raise if `response` does not conform to the spec for `request`'s operation.

    An async client's response must have been read (`await response.aread()`) first.
    """
    if not response.is_stream_consumed:
        response.read()
    if response.status_code >= 500:
        check_failure_body(response.json())
        return
    openapi().validate_response(OpenAPIRequest(request), OpenAPIResponse(response))


def check_exchange(request: httpx.Request, response: httpx.Response) -> None:
    """Raise if the request or the response violates the spec."""
    check_request(request)
    check_response(request, response)


def operation_of(request: httpx.Request) -> str:
    """The operationId the spec gives `request`'s method and path (LookupError if none)."""
    path = request.url.path.removeprefix("/client/v4")
    method = request.method.lower()
    # Literal segments win over parameters: /investigate/move before /investigate/{id}.
    for template in sorted(spec()["paths"], key=lambda t: (t.count("{"), t)):
        pattern = "/".join(
            "[^/]+" if part.startswith("{") else re.escape(part) for part in template.split("/")
        )
        operation = spec()["paths"][template].get(method)
        if operation and re.fullmatch(pattern, path):
            return str(operation["operationId"])
    raise LookupError(f"no operation in the spec for {request.method} {request.url.path}")


PREFIX = "/accounts/{account_id}/email-security/"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of the file by (METHOD, path under /email-security/ with each
    parameter written `{}`): `("GET", "investigate/{}/raw")`."""
    found = {}
    for template, item in spec()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                found[(method.upper(), normal(template.removeprefix(PREFIX)))] = item[method]
    return found


def normal(path: str) -> str:
    """`investigate/{investigate_id}/raw` -> `investigate/{}/raw`."""
    return re.sub(r"\{[^}]*\}", "{}", path)
