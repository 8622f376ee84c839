"""CPU per submission in the store, without HTTP (issue 15): how much a checked ``Jobs.submit``
costs this process, and PostgreSQL, on each database, as the submit route makes it.

Run: .venv/bin/python bench/submit_cpu.py [--submissions 3000] [--at-once 8] [--rounds 3]

- SQLite: the store called in-process on the event loop (as ``api/deps.py run_short`` does for
  local calls), a file in a temporary directory;
- PostgreSQL: the store on the loop's asyncio driver, each call in a greenlet
  (``greenlet_spawn``, as ``run_short`` does), ``--at-once`` calls at once; the CPU of every
  PostgreSQL server process is read from /proc before and after.

Each user is the next of 64, limits lifted, every submission to the user's newest endpoint
(none: as the API's default). Rounds alternate the databases; the table gives each round and the
median. Needs PostgreSQL at 127.0.0.1:5432 or ``PIXELMOTION_BENCH_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from sqlalchemy.util import greenlet_spawn

from _common import cpu_of, load, machine, postgres_available, postgres_pids, postgres_schema
from pixelmotion.app.limits import UserLimits, limits_gate
from pixelmotion.jobs.requests import build_spec
from pixelmotion.store import Store, create_engine, migrate
from pixelmotion.store.database import create_loop_engine

USERS = 64
LIFTED = UserLimits(max_active_jobs=10**9, jobs_per_hour=10**9)


@dataclass(frozen=True)
class Figures:
    client_ms: float  # this process's CPU per submission
    postgres_ms: float  # PostgreSQL's CPU per submission (0 on SQLite)


class Submissions:
    """Checked submissions, each for the next of ``USERS`` users."""

    def __init__(self) -> None:
        self._numbers = count()

    def next_user(self) -> str:
        return f"user-{next(self._numbers) % USERS}"

    @staticmethod
    def submit(scoped: Store) -> None:
        """One submission on ``scoped`` (a store acting for its user), as the submit route makes it."""
        spec = build_spec(prompt="a cat", width=64, height=64, color_count=16, fps=24)
        scoped.jobs.submit(
            spec,
            user_id=scoped.db.user_id or "",
            provider="emulator",
            gate=limits_gate(spec, LIFTED),
            newest_endpoint_events="terminal",
        )


async def measured(run: Callable[[int], Awaitable[None]], submissions: int) -> Figures:
    await run(min(200, submissions))  # warm: compiled statements, pooled connections
    postgres = cpu_of(postgres_pids())
    started = time.process_time()
    await run(submissions)
    client = time.process_time() - started
    return Figures(1000 * client / submissions, 1000 * (cpu_of(postgres_pids()) - postgres) / submissions)


async def on_sqlite(directory: Path, submissions: int) -> Figures:
    engine = create_engine(f"sqlite:///{directory / 'submit.db'}")
    migrate(engine, lock_dir=directory)
    store = Store(engine)
    made = Submissions()

    async def run(n: int) -> None:
        for _ in range(n):
            made.submit(store.as_user(made.next_user()))

    try:
        return await measured(run, submissions)
    finally:
        engine.dispose()


async def on_postgres(directory: Path, submissions: int, at_once: int) -> Figures:
    with postgres_schema("pm_bench_submit") as url:
        engine = create_engine(url)
        migrate(engine, lock_dir=directory)
        loop_engine = create_loop_engine(url)
        assert loop_engine is not None
        store = Store(engine)
        store.db.loop_engine = loop_engine.sync_engine
        made = Submissions()

        async def calls(n: int) -> None:
            for _ in range(n):
                on_the_loop = store.as_user(made.next_user()).on_the_loop()
                await greenlet_spawn(made.submit, on_the_loop)

        async def run(n: int) -> None:
            await asyncio.gather(*(calls(n // at_once) for _ in range(at_once)))

        try:
            return await measured(run, submissions - submissions % at_once)
        finally:
            await loop_engine.dispose()
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=3000)
    parser.add_argument("--at-once", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not postgres_available():
        raise SystemExit("PostgreSQL is not reachable (PIXELMOTION_BENCH_POSTGRES_URL)")
    print(f"pixelmotion submission CPU (no HTTP) on {machine()}; {load()}")
    print(f"{args.submissions} submissions per round, {USERS} users, PostgreSQL {args.at_once} at once\n")
    sqlite: list[Figures] = []
    postgres: list[Figures] = []
    for round_number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            sqlite.append(asyncio.run(on_sqlite(Path(tmp), args.submissions)))
            postgres.append(asyncio.run(on_postgres(Path(tmp), args.submissions, args.at_once)))
        print(
            f"round {round_number}: SQLite {sqlite[-1].client_ms:.3f} ms · PostgreSQL client "
            f"{postgres[-1].client_ms:.3f} ms + server {postgres[-1].postgres_ms:.3f} ms"
        )
    sqlite_ms = statistics.median(f.client_ms for f in sqlite)
    client_ms = statistics.median(f.client_ms for f in postgres)
    server_ms = statistics.median(f.postgres_ms for f in postgres)
    print("\nmedian CPU per submission:")
    print(f"  SQLite      {sqlite_ms:.3f} ms (in-process: the database's work included)")
    print(f"  PostgreSQL  {client_ms:.3f} ms in this process ({client_ms / sqlite_ms:.2f} × SQLite)")
    both = (client_ms + server_ms) / sqlite_ms
    print(f"              + {server_ms:.3f} ms in PostgreSQL = {both:.2f} × SQLite")
    print(load())


if __name__ == "__main__":
    main()
