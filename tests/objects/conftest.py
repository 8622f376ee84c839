from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.s3 import moto_server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One moto server on 127.0.0.1 for the session; each test makes its own bucket."""
    with moto_server() as endpoint:
        yield endpoint
