"""An S3-compatible server on loopback for the tests: moto in server mode, in a thread."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pixelmotion.objects.s3 import S3ObjectStore

REGION = "us-east-1"
# moto takes any key; explicit ones keep boto3 from looking for credentials elsewhere.
CREDENTIALS: dict[str, Any] = {"access_key_id": "testing", "secret_access_key": "testing"}


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto on 127.0.0.1 (a free port) and yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def new_bucket_store(endpoint: str, prefix: str = "pm", **options: Any) -> S3ObjectStore:
    """A store on a fresh bucket of its own (created here), so tests never see each other's keys."""
    store = S3ObjectStore(
        f"pm-{uuid.uuid4().hex[:20]}", prefix, endpoint_url=endpoint, region=REGION, **CREDENTIALS, **options
    )
    store.ensure_bucket()
    return store
