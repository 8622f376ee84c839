"""Logging set-up: one format, and secrets (callback tokens, access tokens) never written."""

from __future__ import annotations

import logging

from pixelmotion.security import redact


class RedactSecrets(logging.Filter):
    """Redacts message and arguments in place, keeping their shape (uvicorn's access
    formatter unpacks ``record.args``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        return True


def _redact_value(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


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
