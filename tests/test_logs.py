import logging

import pytest

from pixelmotion.logs import RedactSecrets
from pixelmotion.security import callback_token, redact, verify_callback_token


def test_redact_hides_tokens_in_urls() -> None:
    line = "POST /v1/callbacks/luma/x?token=abc123&x=1 and /events?access_token=eyJ.j.w"
    assert redact(line) == "POST /v1/callbacks/luma/x?token=REDACTED&x=1 and /events?access_token=REDACTED"


def test_the_filter_keeps_access_log_arguments_as_a_tuple(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "POST", "/v1/callbacks/luma/j?token=s3cret", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert isinstance(record.args, tuple)
    assert "s3cret" not in record.getMessage() and "token=REDACTED" in record.getMessage()


def test_callback_tokens_are_per_job_and_checked_in_constant_time() -> None:
    token = callback_token("key", "job-1")
    assert verify_callback_token("key", "job-1", token)
    assert not verify_callback_token("key", "job-2", token)
    assert not verify_callback_token("other", "job-1", token)
    assert not verify_callback_token("key", "job-1", None)
