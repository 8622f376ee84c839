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

from pixelmotion.api.auth import CurrentCaller, ServiceCaller, StreamCaller
from pixelmotion.app.admin import ServiceScope
from pixelmotion.app.limits import UserLimits
from pixelmotion.app.ports import SubmitRules, UserScope
from pixelmotion.security import Caller

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


async def run_short(scope: UserScope, use_case: Callable[..., R], *args: Any) -> R:
    """A short use case of a route that clients hit often: a read by key, a submission. When
    all it touches is local (``scope.local``) it runs on the event loop: a read by key takes a
    fraction of a millisecond, a submission's insert about one, less than the hand-off to a
    worker thread and back, which on a busy host (the worker's renders and threads contending
    for the interpreter) costs the request tens of milliseconds. Elsewhere on a worker thread:
    a network round trip must not hold the loop."""
    if scope.local:
        return use_case(*args)
    return await run_in_threadpool(use_case, *args)


Scope = Annotated[UserScope, Depends(user_scope)]
StreamScope = Annotated[UserScope, Depends(stream_scope)]
AdminScope = Annotated[ServiceScope, Depends(admin_scope)]
