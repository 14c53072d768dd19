"""Saved searches: the filters and API cursor behind a "More" button or a "Release all"
modal, kept for an hour so any replica can serve the click, also after a restart."""

from __future__ import annotations

import json
import secrets
from typing import Any

import redis.asyncio as redis
from pydantic import BaseModel

from bot.store.plumbing import redis_errors

TTL_SECONDS = 3600
PREFIX = "search:"


class SavedSearch(BaseModel):
    description: str
    filters: dict[str, Any]
    cursor: str
    shown: int


class SearchStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    async def save(self, search: SavedSearch) -> str:
        key = secrets.token_urlsafe(12)
        with redis_errors():
            await self.redis.set(PREFIX + key, search.model_dump_json(), ex=TTL_SECONDS)
        return key

    async def load(self, key: str) -> SavedSearch | None:
        with redis_errors():
            raw = await self.redis.get(PREFIX + key)
        if raw is None:
            return None
        return SavedSearch.model_validate(json.loads(raw))
