"""The store: one database object, one attribute per aggregate.

``Store(engine)`` acts as the service (workers, callbacks, admin); ``store.as_user(id)`` is
the same store with every transaction run as that user (Row Level Security on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from pixelmotion.store.callbacks import Callbacks
from pixelmotion.store.events import Events
from pixelmotion.store.jobs import Jobs
from pixelmotion.store.queue import Queue
from pixelmotion.store.retention import Retention
from pixelmotion.store.tx import Database, EventListener
from pixelmotion.store.uploads import Uploads
from pixelmotion.store.usage import Usage
from pixelmotion.store.webhooks import Webhooks


class Store:
    def __init__(self, engine: Engine | Database) -> None:
        self.db = engine if isinstance(engine, Database) else Database(engine)
        self.jobs = Jobs(self.db)
        self.events = Events(self.db)
        self.queue = Queue(self.db)
        self.webhooks = Webhooks(self.db)
        self.callbacks = Callbacks(self.db)
        self.usage = Usage(self.db)
        self.retention = Retention(self.db)
        self.uploads = Uploads(self.db)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def user_id(self) -> str | None:
        """The caller this store acts for; None for the service's store."""
        return self.db.user_id

    def as_user(self, user_id: str, claims: dict[str, Any] | None = None) -> Store:
        return Store(self.db.as_user(user_id, claims))

    def on_the_loop(self) -> Store | None:
        """This store for code run in a greenlet on the event loop (an API process on
        PostgreSQL: ``Database.on_the_loop``); None where there is no loop engine."""
        db = self.db.on_the_loop()
        return None if db is None else Store(db)

    def add_listener(self, listener: EventListener) -> None:
        """Called with (job_id, user_id, event_id) after each committed event."""
        self.db.add_listener(listener)
