"""SSRF guard for every URL we fetch on someone's behalf (clips, imports, webhooks).

Only http(s); the host is resolved once, every address it resolves to must be public, and
the connection goes to the address that was checked (the URL is rewritten to the IP, with
the Host header and TLS server name kept), so a DNS answer that changes between check and
connect (rebinding) cannot reach an internal address. Redirects pass through the same
transport, so each hop is checked again. Hosts listed as allowed skip the address check;
an allowed URL prefix lets only the paths under it through (our own address serves the
emulator's clips, never its API or ours). Users see a generic refusal; the details (which
address a name resolved to) go to the log only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints, refused even if a network calls them global.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)


# IPv6 ranges that carry an IPv4 address in their low (or, for 6to4, high) bits: the
# embedded IPv4 address must be public too.
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, still routed inside some networks
NOT_ALLOWED = "the URL's host is not allowed"


class BlockedAddress(httpx.TransportError):
    """The URL points somewhere we never fetch from (internal, loopback, metadata...).

    ``str()`` is the generic message users may see; ``detail`` is for the log only."""

    def __init__(self, detail: str) -> None:
        super().__init__(NOT_ALLOWED)
        self.detail = detail


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address (the server's is public by design)
    if any(address in prefix for prefix in NAT64_PREFIXES) or (
        address in IPV4_COMPATIBLE and int(address) > 1  # :: and ::1 are themselves
    ):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in SITE_LOCAL:
            return False
        embedded = embedded_ipv4(address)
        if embedded is not None:
            if address.teredo is not None or address.sixtofour is not None:
                # The range itself is not global; what decides is the address it carries.
                return _public_v4(embedded)
            address = embedded
    if isinstance(address, ipaddress.IPv4Address):
        return _public_v4(address)
    return address.is_global and not address.is_multicast and address not in METADATA_ADDRESSES


def _public_v4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not address.is_multicast and address not in METADATA_ADDRESSES


_SAFE_TAIL = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$")


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def url_prefix(url: str) -> str:
    """``scheme://host:port/path/`` with the port always written: a prefix matches its port only."""
    parsed = httpx.URL(url)
    port = parsed.port or default_port(parsed.scheme)
    path = parsed.raw_path.decode("ascii").split("?", 1)[0]
    return f"{parsed.scheme}://{parsed.host.lower()}:{port}{path.rstrip('/')}/"


def _under_prefix(url: httpx.URL, prefixes: frozenset[str]) -> bool:
    """True if ``url`` names a plain path below one of ``prefixes`` (no dot segments, no
    percent-escapes: nothing that a server could resolve to a path outside it)."""
    if not prefixes:
        return False
    port = url.port or default_port(url.scheme)
    path = url.raw_path.decode("ascii", "replace").split("?", 1)[0]
    here = f"{url.scheme}://{url.host.lower()}:{port}{path}"
    return any(here.startswith(prefix) and _SAFE_TAIL.match(here[len(prefix) :]) for prefix in prefixes)


@dataclass(frozen=True)
class AddressGuard:
    """``allowed_hosts``: ``host`` or ``host:port`` entries fetched without the address check;
    ``allowed_prefixes``: ``scheme://host:port/path/`` (see ``url_prefix``), only the paths
    below them fetched without it."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_prefixes: frozenset[str] = frozenset()

    @classmethod
    def allowing(cls, hosts: Iterable[str], prefixes: Iterable[str] = ()) -> AddressGuard:
        return cls(
            frozenset(h.strip().lower() for h in hosts if h.strip()),
            frozenset(url_prefix(p) for p in prefixes),
        )

    def is_allowed_host(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts

    def resolve(self, url: httpx.URL) -> IPAddress:
        """The one address to connect to for ``url``, or ``BlockedAddress``."""
        try:
            return self._resolve(url)
        except BlockedAddress as blocked:
            logger.info("address guard: refused %s://%s: %s", url.scheme, url.host, blocked.detail)
            raise

    def _resolve(self, url: httpx.URL) -> IPAddress:
        if url.scheme not in ("http", "https"):
            raise BlockedAddress(f"only http and https URLs are fetched, not {url.scheme!r}")
        host = url.host
        port = url.port or default_port(url.scheme)
        if not host:
            raise BlockedAddress("the URL has no host")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise BlockedAddress(f"the host {host!r} does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if self.is_allowed_host(host, port) or _under_prefix(url, self.allowed_prefixes):
            return addresses[0]
        blocked = [a for a in addresses if not is_public(a)]
        if blocked:
            raise BlockedAddress(f"the host {host!r} resolves to a non-public address ({blocked[0]})")
        return addresses[0]


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that connects only to addresses the guard approved."""

    def __init__(self, guard: AddressGuard, inner: httpx.BaseTransport | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _pin(request, self._guard.resolve(request.url))
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncGuardedTransport(httpx.AsyncBaseTransport):
    """``GuardedTransport`` for async clients (the emulator's keyframe fetches and callbacks);
    the lookup runs in a thread, off the event loop."""

    def __init__(self, guard: AddressGuard, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await asyncio.to_thread(self._guard.resolve, request.url)
        _pin(request, address)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _pin(request: httpx.Request, address: IPAddress) -> None:
    """Point ``request`` at the checked address, keeping its Host header and TLS name."""
    host = request.url.host
    request.url = request.url.copy_with(host=str(address))
    request.headers["Host"] = request.headers.get("Host") or _host_header(host, request.url)
    if request.url.scheme == "https":
        request.extensions = {**request.extensions, "sni_hostname": host}


def _host_header(host: str, url: httpx.URL) -> str:
    return host if url.port in (None, default_port(url.scheme)) else f"{host}:{url.port}"
