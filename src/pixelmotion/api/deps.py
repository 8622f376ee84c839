"""What a request gets: the wired services, and the caller's scope.

A user route takes ``Scope``: a store bound to the caller (on PostgreSQL every transaction
runs as the Row Level Security role with the caller's claims), so no user route can read
another user's rows by any path. Admin routes take ``AdminScope``: the service's store, asked
for by name, behind a ``service_role`` token."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.util import greenlet_spawn

from pixelmotion.api.auth import CurrentCaller, ServiceCaller, StreamCaller
from pixelmotion.app.admin import ServiceScope
from pixelmotion.app.limits import UserLimits
from pixelmotion.app.ports import SubmitRules, UserScope
from pixelmotion.security import Caller
from pixelmotion.store.sqlite_writes import WriteBusy, writes_at_once

R = TypeVar("R")

if TYPE_CHECKING:
    from pixelmotion.bootstrap import Services


async def services(request: Request) -> Services:
    # async: a plain function would cost a hop through the thread pool on every request.
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated["Services", Depends(services)]


def scope_of(services: Services, caller: Caller) -> UserScope:
    settings = services.settings
    rules = SubmitRules(
        provider=settings.provider,
        prompt_template=settings.prompt_template,
        limits=UserLimits(
            settings.user_max_active_jobs, settings.user_jobs_per_hour, settings.user_daily_budget_usd
        ),
    )
    store = services.repository.as_user(caller.user_id)
    return UserScope(store, services.store, services.estimator.seconds, rules)


async def user_scope(caller: CurrentCaller, services: ServicesDep) -> UserScope:
    return scope_of(services, caller)


async def stream_scope(caller: StreamCaller, services: ServicesDep) -> UserScope:
    return scope_of(services, caller)


async def admin_scope(_: ServiceCaller, services: ServicesDep) -> ServiceScope:
    return ServiceScope(services.repository)


async def run_short(use_case: Callable[..., R], scope: UserScope, *args: Any) -> R:
    """``use_case(scope, *args)``, a short use case of a route that clients hit often: a read by
    key, a submission. Never a network round trip holding the event loop, and no hand-off to a
    worker thread and back where it can be helped (on a busy host, the in-process worker's
    threads contending for the interpreter, a hand-off costs the request tens of
    milliseconds, and on PostgreSQL a fifth of its CPU):

    - all local (``scope.local``: SQLite, objects in a directory): on the event loop; a read
      by key takes a fraction of a millisecond, a submission's insert about one. Unless the
      write lock is held elsewhere (another process, this one's worker): then the use case,
      having written nothing, runs on a worker thread, which waits for the lock (a wait in
      SQLite's busy handler on the loop would stop every request of the process);
    - PostgreSQL with objects in a directory: in a greenlet on the event loop, its store on
      the asyncio driver (``scope.on_the_loop``), so each round trip awaits;
    - otherwise (a bucket's calls are blocking): on a worker thread."""
    if scope.local:
        try:
            with writes_at_once():
                return use_case(scope, *args)
        except WriteBusy:
            return await run_in_threadpool(use_case, scope, *args)
    on_the_loop = scope.on_the_loop()
    if on_the_loop is not None:
        return await greenlet_spawn(use_case, on_the_loop, *args)  # type: ignore[no-any-return]
    return await run_in_threadpool(use_case, scope, *args)


Scope = Annotated[UserScope, Depends(user_scope)]
StreamScope = Annotated[UserScope, Depends(stream_scope)]
AdminScope = Annotated[ServiceScope, Depends(admin_scope)]
