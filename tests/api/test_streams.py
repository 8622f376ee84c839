"""Issue 17, finding 4: a large result's frames asked for without gzip used to be inflated
whole inside the event loop (the service stalled; memory grew by the inflated size)."""

from __future__ import annotations

import gzip
import hashlib
import resource
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Running
from tests.api.test_jobs import REQUEST

INFLATED_MB = 128
MB = 1024 * 1024


def write_large_frames(path: Path) -> tuple[str, int]:
    """A ``INFLATED_MB`` MB frames JSON, written gzip straight to the stored file, never whole
    in memory; (its SHA-256, its size)."""
    digest, size = hashlib.sha256(), 0
    row = b'"' + b"#1a2b3c," * (MB // 8 - 1) + b'",'
    with gzip.open(path, "wb", compresslevel=1) as out:
        for part in [b'{"palette":["#1a2b3c"],"frames":['] + [row] * INFLATED_MB + [b'""]}']:
            out.write(part)
            digest.update(part)
            size += len(part)
    return digest.hexdigest(), size


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@pytest.mark.alone  # bounds each /healthz answer
def test_a_large_result_is_streamed_while_the_service_stays_responsive(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        sqlite_app.wait_for_status(client, job_id, {"completed"})
        key = sqlite_app.services.repository.jobs.get(job_id).frame_storage_urls["frames"]  # type: ignore[union-attr,index]
        stored = sqlite_app.services.store.local_path(key)
        assert stored is not None
        expected, size = write_large_frames(stored)

        latencies: list[float] = []
        downloading = threading.Event()

        def probe_health() -> None:
            with httpx.Client(base_url=sqlite_app.url, timeout=30) as health:
                while downloading.is_set():
                    started = time.monotonic()
                    assert health.get("/healthz").status_code == 200
                    latencies.append(time.monotonic() - started)

        peak_before = peak_rss_mb()
        received, digest = 0, hashlib.sha256()
        prober = threading.Thread(target=probe_health)
        headers = {"Accept-Encoding": "identity"}
        with client.stream("GET", f"/v1/jobs/{job_id}/frames", headers=headers) as response:
            downloading.set()
            prober.start()
            assert response.status_code == 200
            assert "content-encoding" not in response.headers
            for chunk in response.iter_raw():
                received += len(chunk)
                digest.update(chunk)
        downloading.clear()
        prober.join()

    assert received == size > (INFLATED_MB - 1) * MB
    assert digest.hexdigest() == expected
    assert len(latencies) >= 3, "health was probed during the download"
    assert max(latencies) < 0.5, f"/healthz took {max(latencies):.3f} s during the download"
    # Inflated a chunk at a time: the process's peak memory grew by far less than the body.
    assert peak_rss_mb() - peak_before < INFLATED_MB / 2
