"""Parsers of setting values: (the variable's text, its name) -> the value.

Each raises ``SettingsError`` naming the variable, so a bad value says which one to fix.
"""

from __future__ import annotations

from pathlib import Path


class SettingsError(ValueError):
    """A setting has a value pixelmotion cannot use."""


def integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None


def number(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number") from None


def positive(value: str, name: str) -> float:
    parsed = number(value, name)
    if parsed <= 0:
        raise SettingsError(f"{name} must be greater than 0")
    return parsed


def non_negative(value: str, name: str) -> float:
    parsed = number(value, name)
    if parsed < 0:
        raise SettingsError(f"{name} must be 0 or more")
    return parsed


def optional_non_negative(value: str, name: str) -> float | None:
    return non_negative(value, name) if value else None


def optional_float(value: str, name: str) -> float | None:
    return number(value, name) if value else None


def cap(value: str, name: str) -> int | None:
    """A limit: "off" (or 0, or nothing) turns it off, else a positive integer."""
    if not value or value.lower() in ("off", "0"):
        return None
    number = integer(value, name)
    if number < 0:
        raise SettingsError(f"{name} must be a positive integer or 'off'")
    return number


def flag(value: str, name: str) -> bool:
    if value.lower() in ("", "0", "false", "no", "off"):
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be 1 or 0")


MIN_SECRET_BYTES = 32
PLACEHOLDER_PREFIXES = ("change-me", "changeme", "replace-me")


def secret(value: str, name: str) -> str:
    """A secret: refused when it is a placeholder (as in deploy/pixelmotion.env.example) or
    too short to resist guessing. Unset, one is generated and kept in the data directory."""
    if not value:
        return value
    if value.lower().startswith(PLACEHOLDER_PREFIXES):
        raise SettingsError(f"{name} is a placeholder; set a random value (openssl rand -base64 32)")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"{name} must be at least {MIN_SECRET_BYTES} bytes long (openssl rand -base64 32); "
            "unset, one is generated and kept in the data directory"
        )
    return value


def directory(value: str, name: str) -> Path:
    return Path(value).expanduser().resolve()


def path(value: str, name: str) -> Path:
    return Path(value).resolve()


def url(value: str, name: str) -> str:
    return value.rstrip("/")


def hosts(value: str, name: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in value.split(",") if h.strip())


def origins(value: str, name: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())


def database_url(value: str, name: str) -> str:
    return normalize_database_url(value)


def provider(value: str, name: str) -> str:
    return choice(value, ("luma", "emulator"), name, "must be 'luma' or 'emulator'")


def log_format(value: str, name: str) -> str:
    return choice(value, ("json", "text"), name, "must be one of: json, text")


def choice(value: str, choices: tuple[str, ...], name: str, message: str) -> str:
    if value not in choices:
        raise SettingsError(f"{name} {message}")
    return value


def template(value: str, name: str) -> str:
    if "{prompt}" not in value:
        raise SettingsError(f"{name} must contain {{prompt}}")
    return value


def storage_url(value: str, name: str) -> str:
    if not value.startswith(("file://", "s3://")):
        raise SettingsError(f"{name} must start with file:// or s3://")
    if value.startswith("s3://") and not value[len("s3://") :].split("/", 1)[0]:
        raise SettingsError(f"{name} needs a bucket: s3://BUCKET[/PREFIX]")
    return value


def normalize_database_url(url: str) -> str:
    """Map ``postgresql://`` to the pinned psycopg 3 driver; keep SQLite paths as given."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite:///", "postgresql+psycopg://")):
        return url
    raise SettingsError("PIXELMOTION_DATABASE_URL must start with sqlite:/// or postgresql://")
