"""PostgreSQL LISTEN/NOTIFY: a change committed by any process wakes the streams and
workers of this one within milliseconds. The table stays the truth, so after a lost
connection we re-open it and re-read the table; nothing is missed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from pixelmotion.store.tx import EVENTS_CHANNEL

logger = logging.getLogger(__name__)

Wake = Callable[[str, str, int], None]


def libpq_dsn(database_url: str) -> str:
    """The SQLAlchemy URL as a libpq connection string (search_path options kept)."""
    url = make_url(database_url)
    parts = {
        "host": url.host or "127.0.0.1",
        "port": str(url.port or 5432),
        "dbname": url.database or "",
        "user": url.username or "",
        "password": url.password or "",
    }
    options = url.query.get("options")
    if options:
        parts["options"] = options if isinstance(options, str) else options[0]
    return " ".join(f"{key}='{value}'" for key, value in parts.items() if value)


async def listen_for_events(
    database_url: str, wake: Wake, on_reconnect: Callable[[], None] | None = None
) -> None:
    """Call ``wake(job_id, user_id, event_id)`` for every NOTIFY; reconnect forever."""
    delay = 0.5
    while True:
        try:
            connection = await psycopg.AsyncConnection.connect(libpq_dsn(database_url), autocommit=True)
            async with connection:
                await connection.execute(f"LISTEN {EVENTS_CHANNEL}")
                delay = 0.5
                if on_reconnect is not None:
                    on_reconnect()  # events committed while we were away: re-read the table
                async for notify in connection.notifies():
                    try:
                        payload = json.loads(notify.payload)
                        # An array of events (store/tx.py Announcer), or one event alone.
                        for event in payload if isinstance(payload, list) else [payload]:
                            wake(event["job_id"], event["user_id"], int(event["event_id"]))
                    except (ValueError, KeyError, TypeError):
                        logger.warning("ignored a malformed event notification")
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("event listener lost its connection (%s); reconnecting", type(error).__name__)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)
