"""SSRF guard for every URL we fetch on someone's behalf (clips, imports, webhooks).

Only http(s); the host is resolved once, every address it resolves to must be public, and
the connection goes to the address that was checked (the URL is rewritten to the IP, with
the Host header and TLS server name kept), so a DNS answer that changes between check and
connect (rebinding) cannot reach an internal address. Redirects pass through the same
transport, so each hop is checked again. Hosts listed as allowed skip the address check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints, refused even if a network calls them global.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)


class BlockedAddress(httpx.TransportError):
    """The URL points somewhere we never fetch from (internal, loopback, metadata...)."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast and address not in METADATA_ADDRESSES


@dataclass(frozen=True)
class AddressGuard:
    """``allowed_hosts``: ``host`` or ``host:port`` entries fetched without the address check."""

    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def allowing(cls, hosts: Iterable[str]) -> AddressGuard:
        return cls(frozenset(h.strip().lower() for h in hosts if h.strip()))

    def is_allowed_host(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts

    def resolve(self, url: httpx.URL) -> IPAddress:
        """The one address to connect to for ``url``, or ``BlockedAddress``."""
        if url.scheme not in ("http", "https"):
            raise BlockedAddress(f"only http and https URLs are fetched, not {url.scheme!r}")
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        if not host:
            raise BlockedAddress("the URL has no host")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise BlockedAddress(f"the host {host!r} does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if self.is_allowed_host(host, port):
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
        address = self._guard.resolve(request.url)
        host = request.url.host
        ip_host = f"[{address}]" if address.version == 6 else str(address)
        request.url = request.url.copy_with(host=ip_host.strip("[]"))
        request.headers["Host"] = request.headers.get("Host") or _host_header(host, request.url)
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _host_header(host: str, url: httpx.URL) -> str:
    default = 443 if url.scheme == "https" else 80
    return host if url.port in (None, default) else f"{host}:{url.port}"
