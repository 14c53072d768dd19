"""The settings collections (`/settings/...`): one generic `Collection` for list, page, get,
create, edit and delete, `batch` where the API has it, and the protected domains' extras
(replace, DNS verification).

Every collection is an attribute of the client: `client.allow_policies.edit(id, changes)`.
The bot's older one-line calls (`block_sender`, `list_trusted_domains`, ...) stay as thin
wrappers in `SettingsApi`.

A batch is atomic at Cloudflare, so it is never split: more than 1000 operations of one kind
(the documented limit) is refused here. The file requires all four arrays of a full batch,
so the empty ones are sent too.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from bot.cloudflare.core import ClientCore, Endpoint, ListPage, check_id, endpoint, marked
from bot.cloudflare.models import ApiModel
from bot.cloudflare.parsing import parse
from bot.cloudflare.queries import ListFilters, filters_of
from bot.cloudflare.settings_models import (
    BatchResult,
    Deleted,
    DomainChanges,
    DomainReplacement,
    DomainVerification,
    InputModel,
    NewProtectedDomain,
    ProtectedDomain,
)
from bot.cloudflare.transport import decode_envelope

Item = TypeVar("Item", bound=ApiModel)
New = TypeVar("New", bound=InputModel)
Changes = TypeVar("Changes", bound=InputModel)
Put = TypeVar("Put", bound=InputModel)
MAX_BATCH = 1000  # per kind of operation in one batch (the file's maxItems)


class Collection(Generic[Item, New, Changes]):
    """One settings collection at `/settings/{path}`."""

    def __init__(
        self, core: ClientCore, path: str, item: type[Item], filters: type[ListFilters]
    ) -> None:
        self._core = core
        self.path = path
        self._item = item
        self._items: TypeAdapter[builtins.list[Item]] = TypeAdapter(builtins.list[item])  # type: ignore[valid-type]
        self._filters = filters
        self._batch: type[BatchResult[Any]] = BatchResult[item]  # type: ignore[valid-type]

    def endpoints(self, name: str) -> dict[str, tuple[Endpoint, ...]]:
        """This collection's methods and what each sends, as `name.method`."""
        return {
            key: tuple(Endpoint(e.method, e.path.replace("{path}", self._base)) for e in found)
            for key, found in marked(self, f"{name}.").items()
        }

    @property
    def _base(self) -> str:
        return f"settings/{self.path}"

    def _parts(self, *more: str) -> builtins.list[str]:
        return ["settings", self.path, *more]

    @endpoint("GET", "{path}")
    async def list(self, per_page: int | None = None, **filters: Any) -> builtins.list[Item]:
        """Every entry matching `filters` (all pages, bounded: see pages.py)."""
        params = filters_of(self._filters, filters, self._base).params(per_page=per_page)
        return await self._core._all_pages(self._items, self._base, params)

    @endpoint("GET", "{path}")
    async def page(self, page: int = 1, per_page: int = 20, **filters: Any) -> ListPage[Item]:
        """One page of the entries matching `filters`, with the reported total."""
        params = filters_of(self._filters, filters, self._base).params(page, per_page)
        return await self._core._one_page(self._items, self._base, params)

    @endpoint("GET", "{path}/{id}")
    async def get(self, entry_id: str) -> Item:
        result: Item = await self._core._result(self._item, "GET", *self._parts(check_id(entry_id)))
        return result

    @endpoint("POST", "{path}")
    async def create(self, new: New) -> Item:
        body = new.model_dump(mode="json", exclude_none=True)
        result: Item = await self._core._result(self._item, "POST", *self._parts(), json=body)
        return result

    @endpoint("PATCH", "{path}/{id}")
    async def edit(self, entry_id: str, changes: Changes) -> Item:
        """Change the fields given in `changes` (and only those)."""
        body = _changes(changes)
        parts = self._parts(check_id(entry_id))
        result: Item = await self._core._result(self._item, "PATCH", *parts, json=body)
        return result

    @endpoint("DELETE", "{path}/{id}")
    async def delete(self, entry_id: str) -> str:
        deleted: Deleted = await self._core._result(
            Deleted, "DELETE", *self._parts(check_id(entry_id))
        )
        return deleted.id


class BatchCollection(Collection[Item, New, Changes], Generic[Item, New, Changes, Put]):
    """A collection whose `/batch` takes deletes, patches, puts and posts in one request.

    `by_id=False`: the file's patch and put items cannot carry the entry's `id` (URL ignore
    patterns: `additionalProperties: false` on the body, `id` required beside it), so no valid
    request can patch or put; such a batch only deletes and posts, and `edit` does the rest.
    """

    def __init__(
        self,
        core: ClientCore,
        path: str,
        item: type[Item],
        filters: type[ListFilters],
        *,
        by_id: bool = True,
    ) -> None:
        super().__init__(core, path, item, filters)
        self._by_id = by_id

    @endpoint("POST", "{path}/batch")
    async def batch(
        self,
        *,
        deletes: Sequence[str] = (),
        patches: Sequence[tuple[str, Changes]] = (),
        puts: Sequence[tuple[str, Put]] = (),
        posts: Sequence[New] = (),
    ) -> BatchResult[Item]:
        """Run the operations atomically, in the order deletes, patches, puts, posts."""
        if not self._by_id and (patches or puts):
            raise ValueError(f"a {self.path} batch only deletes and posts: use edit() to change")
        body = {
            "deletes": [{"id": check_id(i)} for i in _limited(deletes, "deletes")],
            "patches": [
                {**_changes(c), "id": check_id(i)} for i, c in _limited(patches, "patches")
            ],
            "puts": [
                {**p.model_dump(mode="json", exclude_none=True), "id": check_id(i)}
                for i, p in _limited(puts, "puts")
            ],
            "posts": [
                p.model_dump(mode="json", exclude_none=True) for p in _limited(posts, "posts")
            ],
        }
        if not any(body.values()):
            raise ValueError("the batch is empty")
        result: BatchResult[Item] = await self._core._result(
            self._batch, "POST", *self._parts("batch"), json=body
        )
        return result


class DeletesBatchCollection(Collection[Item, New, Changes]):
    """A collection whose `/batch` only deletes (sending domain restrictions)."""

    @endpoint("POST", "{path}/batch")
    async def batch_delete(self, ids: Sequence[str]) -> builtins.list[str]:
        body = {"deletes": [{"id": check_id(i)} for i in _limited(ids, "deletes")]}
        if not body["deletes"]:
            raise ValueError("nothing to delete")
        result: BatchResult[Item] = await self._core._result(
            self._batch, "POST", *self._parts("batch"), json=body
        )
        return [deleted.id for deleted in result.deletes]


class DomainsCollection(
    BatchCollection[ProtectedDomain, NewProtectedDomain, DomainChanges, DomainReplacement]
):
    """The protected domains: also replaced whole (PUT), and their DNS verification record.
    The bulk `DELETE /settings/domains` is past end of life: use `batch(deletes=...)`."""

    @endpoint("PUT", "{path}/{id}")
    async def replace(self, entry_id: str, replacement: DomainReplacement) -> ProtectedDomain:
        body = replacement.model_dump(mode="json", exclude_none=True)
        parts = self._parts(check_id(entry_id))
        result: ProtectedDomain = await self._core._result(
            ProtectedDomain, "PUT", *parts, json=body
        )
        return result

    @endpoint("GET", "{path}/{id}/verification")
    async def verification(self, entry_id: str) -> DomainVerification | None:
        """The TXT record to publish for a domain added through the API; None (204) when the
        domain is verified by other means."""
        parts = self._parts(check_id(entry_id), "verification")
        what = f"GET {'/'.join(parts)}"
        core = self._core
        response = await core._transport.request("GET", core._url(*parts), what=what)
        if response.status_code == 204:
            return None
        found: DomainVerification = parse(
            DomainVerification, decode_envelope(response, what).get("result"), what
        )
        return found


def _limited(items: Sequence[Any], name: str) -> Sequence[Any]:
    if len(items) > MAX_BATCH:
        raise ValueError(f"a batch takes at most {MAX_BATCH} {name}, not {len(items)}")
    return items


def _changes(changes: InputModel) -> dict[str, Any]:
    body = changes.model_dump(mode="json", exclude_unset=True)
    if not body:
        raise ValueError("nothing to change")
    return body


def collection_endpoints(
    collections: Mapping[str, Collection[Any, Any, Any]],
) -> dict[str, tuple[Endpoint, ...]]:
    table: dict[str, tuple[Endpoint, ...]] = {}
    for name, collection in collections.items():
        table.update(collection.endpoints(name))
    return table
