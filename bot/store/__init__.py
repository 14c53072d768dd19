"""Redis plumbing the services share: leases, once-only marks, saved searches, card histories.

Every call raises `bot.errors.StoreUnavailable` (with a sentence an admin can act on) when Redis
cannot be reached."""

from bot.errors import StoreUnavailable
from bot.store.cards import CardStore
from bot.store.lease import Lease
from bot.store.once import Once
from bot.store.plumbing import redis_errors, run_script
from bot.store.searches import SavedSearch, SearchStore

__all__ = [
    "CardStore",
    "Lease",
    "Once",
    "SavedSearch",
    "SearchStore",
    "StoreUnavailable",
    "redis_errors",
    "run_script",
]
