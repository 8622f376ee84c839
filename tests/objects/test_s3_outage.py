"""The S3-compatible store through an outage, on the real moto server on loopback: stopped
and started again in the middle of an upload, answering 503, and slow. A write is retried
with backoff and lands whole, or raises StorageUnavailable once the budget is spent."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixelmotion.objects import ObjectNotFound, RetryPolicy, StorageUnavailable
from pixelmotion.objects.s3 import S3ObjectStore
from tests.proxy import Proxy
from tests.s3 import CREDENTIALS, REGION, new_bucket_store
from tests.server import free_port


class StoppableMoto:
    """moto on a fixed loopback port that can be stopped and started again; its buckets live
    in this process, so they outlast a restart as a real server's disk would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: object | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()  # type: ignore[attr-defined]
            self.server = None


@pytest.fixture
def moto() -> Iterator[StoppableMoto]:
    server = StoppableMoto()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Tries:
    """A real sleep that counts, and calls ``on_sleep`` with the number of retries so far."""

    def __init__(self, on_sleep: object = None) -> None:
        self.count = 0
        self.on_sleep = on_sleep
        self.started = threading.Event()

    def sleep(self, seconds: float) -> None:
        import time

        self.count += 1
        self.started.set()
        if callable(self.on_sleep):
            self.on_sleep(self.count)
        time.sleep(seconds)


def store_at(endpoint: str, bucket: str, tries: Tries, budget: float, **options: float) -> S3ObjectStore:
    store = S3ObjectStore(bucket, "pm", endpoint_url=endpoint, region=REGION, **CREDENTIALS, **options)  # type: ignore[arg-type]
    store.retry = RetryPolicy(budget, base=0.05, cap=0.2, sleep=tries.sleep)
    return store


def test_an_upload_started_while_the_server_is_down_lands_once_it_is_back(
    moto: StoppableMoto, tmp_path: Path
) -> None:
    bucket = new_bucket_store(moto.endpoint).bucket
    tries = Tries()
    store = store_at(moto.endpoint, bucket, tries, budget=30.0)
    clip = tmp_path / "sheet.png"
    clip.write_bytes(b"\x89PNG" + bytes(range(256)) * 64)
    moto.stop()
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            store.put_file("jobs/j1/sheet.png", clip, "image/png")
        except BaseException as error:
            errors.append(error)

    uploader = threading.Thread(target=upload)
    uploader.start()
    assert tries.started.wait(10), "the upload did not meet the outage"
    moto.start()
    uploader.join(timeout=30)
    assert not uploader.is_alive() and errors == []
    assert tries.count >= 1
    assert store.get_bytes("jobs/j1/sheet.png") == clip.read_bytes()


def test_a_server_down_past_the_budget_raises_storage_unavailable_and_stores_nothing(
    moto: StoppableMoto,
) -> None:
    bucket = new_bucket_store(moto.endpoint).bucket
    tries = Tries()
    store = store_at(moto.endpoint, bucket, tries, budget=0.5)
    moto.stop()
    with pytest.raises(StorageUnavailable) as raised:
        store.put_bytes("jobs/j2/sheet.json", b"{}", "application/json")
    assert tries.count >= 2
    assert "put jobs/j2/sheet.json" in raised.value.message
    with pytest.raises(StorageUnavailable):
        store.get_bytes("jobs/j2/sheet.json")  # reads too: an outage, not a missing object
    moto.start()
    with pytest.raises(ObjectNotFound):
        store.get_bytes("jobs/j2/sheet.json")


@pytest.mark.parametrize("method", ["put_file", "put_bytes"])
def test_503_answers_are_retried_until_the_server_recovers(
    s3_endpoint: str, tmp_path: Path, method: str
) -> None:
    bucket = new_bucket_store(s3_endpoint).bucket
    proxy = Proxy(int(s3_endpoint.rsplit(":", 1)[1])).start()
    try:
        proxy.set_mode("error")

        def back_up_after_two(n: int) -> None:
            if n == 2:
                proxy.set_mode("up")

        tries = Tries(on_sleep=back_up_after_two)
        store = store_at(proxy.url, bucket, tries, budget=30.0)
        data = uuid.uuid4().bytes * 100
        if method == "put_file":
            path = tmp_path / "out.gif"
            path.write_bytes(data)
            store.put_file("jobs/j3/out.gif", path, "image/gif")
        else:
            store.put_bytes("jobs/j3/out.gif", data, "image/gif")
        assert tries.count == 2  # two 503s, then through
        assert proxy.connections >= 3
        assert store.get_bytes("jobs/j3/out.gif") == data
    finally:
        proxy.close()


def test_a_slow_server_times_out_and_the_write_is_tried_again(s3_endpoint: str) -> None:
    bucket = new_bucket_store(s3_endpoint).bucket
    proxy = Proxy(int(s3_endpoint.rsplit(":", 1)[1])).start()
    try:
        proxy.set_mode("slow", delay=3.0)
        tries = Tries(on_sleep=lambda n: proxy.set_mode("up"))
        store = store_at(proxy.url, bucket, tries, budget=30.0, read_timeout=0.3)
        store.put_bytes("jobs/j4/a.png", b"png", "image/png")
        assert tries.count == 1  # one read timeout, then through
        assert store.get_bytes("jobs/j4/a.png") == b"png"
    finally:
        proxy.close()


def test_a_slow_server_past_the_budget_is_unavailable_in_bounded_time(s3_endpoint: str) -> None:
    import time

    bucket = new_bucket_store(s3_endpoint).bucket
    proxy = Proxy(int(s3_endpoint.rsplit(":", 1)[1])).start()
    try:
        proxy.set_mode("slow", delay=10.0)
        store = store_at(proxy.url, bucket, Tries(), budget=0.5, read_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as raised:
            store.exists("jobs/j5/a.png")
        # The budget, plus at most one try's read timeout, plus slack for a busy machine.
        assert time.monotonic() - started < 0.5 + 0.3 + 1.5
        assert "ReadTimeout" in raised.value.message
    finally:
        proxy.close()
