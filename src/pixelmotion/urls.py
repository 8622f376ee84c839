"""URLs users give us (imports, webhooks): refused at submit when no fetch could be sane.

The address guard decides where a URL may point when it is fetched; this only catches URLs
that are malformed, or whose host is a number in a form browsers and C libraries read
differently (``0177.0.0.1`` octal, ``0x7f.1``, ``2130706433``), so they fail as a clear
422 rather than deep inside a download.
"""

from __future__ import annotations

import ipaddress
import re

import httpx

_NUMERIC_HOST = re.compile(r"^[0-9a-fA-Fx.]+$")
_HEX_OR_DIGITS_LABEL = re.compile(r"^(?:0x[0-9a-fA-F]*|[0-9]+)$")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched, or None."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return "is not a valid URL"
    if parsed.scheme not in ("http", "https"):
        return "must be an http or https URL"
    host = parsed.host
    if not host:
        return "has no host"
    if _odd_numeric(host):
        return "has a numeric host that is not a plain IP address"
    return None


def _odd_numeric(host: str) -> bool:
    """A host made of numbers that is not a canonical dotted-quad IPv4 address."""
    if ":" in host or not _NUMERIC_HOST.match(host):
        return False
    labels = host.rstrip(".").split(".")
    if not all(_HEX_OR_DIGITS_LABEL.match(label) for label in labels):
        return False  # an ordinary name such as "cafe.be" or "0a.example"
    try:
        return str(ipaddress.IPv4Address(host)) != host
    except ValueError:
        return True
