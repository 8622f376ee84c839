"""Prometheus metrics, every name prefixed ``pixelmotion_``.

Counters and histograms are recorded where things happen; the figures the database knows
(jobs by state, queue depth, spend today) and the open event streams are read at scrape time.
Each process exposes its own: the API on ``/metrics``, a worker with ``--metrics-port``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pixelmotion.jobs.pricing import total_cost_usd
from pixelmotion.providers.base import Generation, GenerationRequest, ProviderError, VideoProvider
from pixelmotion.store import Store
from pixelmotion.store.rows import start_of_day

logger = logging.getLogger(__name__)

STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.step_seconds = Histogram(
            "pixelmotion_step_duration_seconds",
            "Time a worker step took",
            ["step", "outcome"],
            registry=self.registry,
            buckets=STEP_BUCKETS,
        )
        self.provider_seconds = Histogram(
            "pixelmotion_provider_request_seconds",
            "Provider API latency",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.callbacks = Counter(
            "pixelmotion_callbacks",
            "Provider callbacks received, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.generations = Counter(
            "pixelmotion_provider_generations",
            "Generations created (each one billed)",
            registry=self.registry,
        )
        self.credit_balance = Gauge(
            "pixelmotion_provider_credit_balance_usd",
            "The provider account's credit balance",
            registry=self.registry,
        )

    def watch(self, repository: Store, open_streams: Callable[[], int]) -> None:
        """Add the figures read at scrape time."""
        self.registry.register(DatabaseFigures(repository, open_streams))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class DatabaseFigures(Collector):
    def __init__(self, repository: Store, open_streams: Callable[[], int]) -> None:
        self._repository = repository
        self._open_streams = open_streams

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("pixelmotion_jobs", "Jobs by state", labels=["state"])
        for state, count in sorted(self._repository.queue.count_by_status().items()):
            jobs.add_metric([state], count)
        yield jobs
        yield GaugeMetricFamily(
            "pixelmotion_queue_depth", "Jobs whose work is due", value=self._repository.queue.due_count()
        )
        yield GaugeMetricFamily(
            "pixelmotion_sse_streams_open", "Open event streams", value=self._open_streams()
        )
        midnight = start_of_day(datetime.now(UTC))
        submitted = self._repository.queue.submitted_since(midnight)
        yield GaugeMetricFamily(
            "pixelmotion_provider_generations_today",
            "Generations submitted since 00:00 UTC",
            value=len(submitted),
        )
        spend = total_cost_usd(submitted)
        yield GaugeMetricFamily(
            "pixelmotion_provider_spend_today_usd", "Estimated provider spend since 00:00 UTC", value=spend
        )


class MeasuredProvider:
    """A provider whose every call is timed (and whose creates are counted)."""

    def __init__(self, inner: VideoProvider, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self.name = inner.name

    async def _timed(self, operation: str, call: Any) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await call
        except ProviderError:
            outcome = "error"
            raise
        finally:
            self._metrics.provider_seconds.labels(operation, outcome).observe(time.perf_counter() - started)

    async def create(self, request: GenerationRequest) -> Generation:
        generation: Generation = await self._timed("create", self._inner.create(request))
        self._metrics.generations.inc()
        return generation

    async def get(self, generation_id: str) -> Generation:
        generation: Generation = await self._timed("get", self._inner.get(generation_id))
        return generation

    async def list_recent(self, limit: int = 100, offset: int = 0) -> list[Generation]:
        listed: list[Generation] = await self._timed("list", self._inner.list_recent(limit, offset))
        return listed

    async def delete(self, generation_id: str) -> None:
        await self._timed("delete", self._inner.delete(generation_id))

    async def credits(self) -> float:
        balance: float = await self._timed("credits", self._inner.credits())
        self._metrics.credit_balance.set(balance / 100)
        return balance

    async def aclose(self) -> None:
        await self._inner.aclose()
