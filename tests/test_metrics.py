"""/metrics over real HTTP after a real job."""

from __future__ import annotations

import re

from pixelmotion.jobs.pricing import estimated_cost_usd
from tests.running import Running
from tests.server import wait_for

REQUEST = {
    "prompt": "a grey cloud raining",
    "width": 16,
    "height": 16,
    "colorCount": 4,
    "fps": 12,
    "resolution": "540p",
}


def value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{name} not in metrics"
    return float(match.group(1))


def test_metrics_describe_jobs_callbacks_provider_and_spend(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        job = client.post("/v1/jobs", json=REQUEST).json()
        done = sqlite_app.wait_for_status(client, job["jobId"], {"completed"})
        assert done["estimatedCostUsd"] == estimated_cost_usd("ray-2", "540p", "1:1", 5)

        def scraped() -> str | None:
            text = client.get("/metrics").text
            return text if "pixelmotion_provider_credit_balance_usd " in text else None

        text = wait_for(scraped, timeout=10, what="a scrape with the credit balance")
    assert value(text, 'pixelmotion_jobs{state="completed"}') == 1
    assert value(text, 'pixelmotion_callbacks_total{outcome="applied"}') >= 1
    assert value(text, "pixelmotion_provider_generations_total") == 1
    assert value(text, 'pixelmotion_provider_request_seconds_count{operation="create",outcome="ok"}') == 1
    assert value(text, "pixelmotion_provider_generations_today") == 1
    assert value(text, "pixelmotion_provider_spend_today_usd") > 0
    assert value(text, "pixelmotion_provider_credit_balance_usd") > 0
    assert value(text, "pixelmotion_queue_depth") == 0
    assert value(text, 'pixelmotion_step_duration_seconds_count{outcome="ok",step="process"}') == 1
    assert value(text, 'pixelmotion_step_duration_seconds_count{outcome="ok",step="submit"}') == 1
    assert "pixelmotion_sse_streams_open" in text
    assert all(
        line.startswith(("pixelmotion_", "#"))
        for line in text.splitlines()
        if line and not line.startswith("# ")
    )
