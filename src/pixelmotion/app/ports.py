"""What a use case works with: a store bound to the caller, the object store, the rules it
applies (plain values from the settings) and a clock. The API builds one ``UserScope`` per
request (``api/deps.py``); nothing a user route reaches can read another user's rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from pixelmotion.app.limits import UserLimits
from pixelmotion.objects import ObjectStore
from pixelmotion.store import Store, utcnow

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SubmitRules:
    provider: str  # "luma" or "emulator": who makes a prompt's clip
    prompt_template: str = "{prompt}"
    limits: UserLimits = field(default_factory=UserLimits)


@dataclass(frozen=True)
class UserScope:
    """One caller's view of the service. ``store`` runs every query as the caller (on
    PostgreSQL: the Row Level Security role and the caller's claims)."""

    store: Store
    objects: ObjectStore
    estimate: Callable[[], int]  # expected seconds from request to result
    rules: SubmitRules
    clock: Clock = utcnow

    @property
    def user_id(self) -> str:
        assert self.store.user_id is not None, "a user scope's store is bound to its user"
        return self.store.user_id

    @property
    def local(self) -> bool:
        """Whether the database is a local file (SQLite in WAL mode: a reader never waits, a
        writer only for another writer's few rows) and objects a local directory."""
        return not self.store.db.on_postgres and self.objects.local

    def on_the_loop(self) -> UserScope | None:
        """This scope with its store on the event loop's database driver (an API process on
        PostgreSQL), when objects are local too (a bucket's calls would hold the loop);
        otherwise None."""
        store = self.store.on_the_loop() if self.objects.local else None
        return None if store is None else replace(self, store=store)
