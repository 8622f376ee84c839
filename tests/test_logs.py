import logging
from collections.abc import Iterator

import pytest

from pixelmotion.logs import RedactSecrets
from pixelmotion.security import callback_token, redact, verify_callback_token
from tests.running import Running


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
    assert verify_callback_token(["key"], "job-1", token)
    assert not verify_callback_token(["key"], "job-2", token)
    assert not verify_callback_token(["other"], "job-1", token)
    assert not verify_callback_token(["key"], "job-1", None)
    assert verify_callback_token(["new", "key"], "job-1", token)  # the previous key, rotating
    assert not verify_callback_token(["new", ""], "job-1", token)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """``configure_logging`` binds its handler to this test's captured stderr, which closes
    after the test: put the loggers back, so later tests' logs do not meet a closed stream."""
    loggers = [
        logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx")
    ]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("restored_logging")
def test_json_lines_carry_the_request_and_job(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from pixelmotion.logs import configure_logging, job_id, request_id

    configure_logging("json")
    request_token, job_token = request_id.set("req-1"), job_id.set("job-1")
    try:
        logging.getLogger("pixelmotion.test").info("callback at %s", "/cb?token=s3cret")
    finally:
        request_id.reset(request_token)
        job_id.reset(job_token)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["request_id"] == "req-1" and line["job_id"] == "job-1"
    assert line["message"] == "callback at /cb?token=REDACTED"


def test_request_ids_are_echoed(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        assert (
            client.get("/v1/jobs", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
        )
        assert len(client.get("/v1/jobs").headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    "line",
    [
        "GET /v1/events?t%6Fken=eyJ.secret.jwt HTTP/1.1",
        "GET /v1/events?access_tok%65n=eyJ.secret.jwt HTTP/1.1",
        "GET /v1/events?%74%6F%6B%65%6E=eyJ.secret.jwt HTTP/1.1",
        "GET /v1/events?t%256Fken=eyJ.secret.jwt HTTP/1.1",
        "GET /v1/events?x=1&TOKEN=eyJ.secret.jwt HTTP/1.1",
        "GET /v1/keyframes/u?owner=a&expires=1&s%69g=eyJ.secret.jwt HTTP/1.1",
    ],
)
def test_redaction_judges_names_after_percent_decoding(line: str) -> None:
    """Issue 17, finding 12: a server reads ``t%6Fken`` as ``token``; so does the redactor."""
    assert "eyJ.secret.jwt" not in redact(line)
    assert "=REDACTED" in redact(line)


def test_redaction_keeps_other_parameters() -> None:
    assert redact("GET /v1/jobs?limit=5&status=done") == "GET /v1/jobs?limit=5&status=done"


def test_redaction_reaches_into_values_holding_urls() -> None:
    line = "url=http://127.0.0.1:8000/v1/callbacks/luma/j?token=s3cret next=/x?access_t%6Fken=eyJ.a.b"
    redacted = redact(line)
    assert "s3cret" not in redacted and "eyJ.a.b" not in redacted
    assert redacted.startswith("url=http://127.0.0.1:8000/v1/callbacks/luma/j?token=REDACTED")
