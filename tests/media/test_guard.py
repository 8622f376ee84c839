"""The SSRF guard: public addresses only, checked per hop, and the checked address is used."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from tests.server import http_server

from pixelmotion.media import MediaError, download_video
from pixelmotion.media.guard import AddressGuard, BlockedAddress, GuardedTransport, IPAddress, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fc00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_are_public() -> None:
    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert is_public(ipaddress.ip_address("2606:4700:4700::1111"))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8000/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "http://0.0.0.0/",
    ],
)
def test_the_guard_refuses_internal_urls(url: str) -> None:
    with pytest.raises(BlockedAddress):
        AddressGuard().resolve(httpx.URL(url))


class Handler(BaseHTTPRequestHandler):
    redirect_to: str = ""

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.end_headers()
            return
        body = f"host={self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    with http_server(Handler) as httpd:
        yield int(httpd.server_address[1])


class PinnedGuard(AddressGuard):
    """Resolves one made-up name to loopback; a second lookup of that name would fail."""

    def resolve(self, url: httpx.URL) -> IPAddress:
        if url.host == "clips.example.invalid":
            return ipaddress.ip_address("127.0.0.1")
        return super().resolve(url)


def test_the_connection_goes_to_the_checked_address(server: int) -> None:
    with httpx.Client(transport=GuardedTransport(PinnedGuard())) as client:
        response = client.get(f"http://clips.example.invalid:{server}/")
    assert response.text == f"host=clips.example.invalid:{server}"


def test_every_redirect_hop_is_checked(server: int, tmp_path: Path) -> None:
    Handler.redirect_to = "http://169.254.169.254/latest/meta-data"
    guard = AddressGuard.allowing([f"127.0.0.1:{server}"])
    with pytest.raises(MediaError) as raised:
        download_video(
            f"http://127.0.0.1:{server}/redirect", tmp_path / "x.mp4", max_bytes=10_000, guard=guard
        )
    assert raised.value.code == "URL_NOT_ALLOWED"


def test_a_download_from_an_internal_address_is_refused_at_once(server: int, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as raised:
        download_video(
            f"http://127.0.0.1:{server}/clip.mp4", tmp_path / "x.mp4", max_bytes=10_000, guard=AddressGuard()
        )
    assert raised.value.code == "URL_NOT_ALLOWED"
    assert not (tmp_path / "x.mp4").exists()
