"""Records every exchange an `EmailSecurityClient` makes, to check it against the OpenAPI file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.kit.openapi_check import check_exchange, operation_of


@dataclass
class ContractRecorder:
    exchanges: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)

    async def _on_response(self, response: httpx.Response) -> None:
        await response.aread()
        self.exchanges.append((response.request, response))

    @property
    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self._on_response]}

    def violations(self) -> list[str]:
        found = []
        for request, response in self.exchanges:
            try:
                check_exchange(request, response)
            except Exception as exc:  # every kind of violation is reported, not raised
                found.append(
                    f"{request.method} {request.url.path} -> {response.status_code}: {exc}"
                )
        return found

    def operations(self) -> set[str]:
        return {operation_of(request) for request, _ in self.exchanges}
