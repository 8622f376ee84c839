"""Logging set-up: one format, and secrets (callback tokens, access tokens) never written."""

from __future__ import annotations

import logging

from pixelmotion.security import redact


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = redact(record.getMessage())
            record.args = None
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction()
    # httpx logs every request URL at INFO; callback URLs carry tokens.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def install_redaction() -> None:
    secret_filter = RedactSecrets()
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "pixelmotion"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(secret_filter)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                handler.addFilter(secret_filter)
