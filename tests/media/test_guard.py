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
        # IPv6 forms that carry an internal IPv4 address (issue 17, finding 9)
        "::7f00:1",  # IPv4-compatible
        "64:ff9b::7f00:1",  # NAT64
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2002:7f00:1::",  # 6to4
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
        "fec0::1",  # deprecated site-local
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_are_public() -> None:
    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert is_public(ipaddress.ip_address("2606:4700:4700::1111"))
    # The same forms carrying a public IPv4 address stay usable.
    assert is_public(ipaddress.ip_address("64:ff9b::808:808"))
    assert is_public(ipaddress.ip_address("2002:808:808::1"))


@pytest.mark.parametrize(
    "url", ["http://[::7f00:1]:8000/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/"]
)
def test_the_guard_refuses_ipv6_urls_embedding_loopback(url: str) -> None:
    with pytest.raises(BlockedAddress):
        AddressGuard().resolve(httpx.URL(url))


def test_refusals_are_generic_and_the_details_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """Users never learn what an internal name resolves to (finding 11)."""
    with caplog.at_level("INFO", logger="pixelmotion.media.guard"), pytest.raises(BlockedAddress) as raised:
        AddressGuard().resolve(httpx.URL("http://localhost:8000/x"))
    assert str(raised.value) == "the URL's host is not allowed"
    assert "127.0.0.1" not in str(raised.value) and "localhost" not in str(raised.value)
    assert "non-public address" in caplog.text


def test_an_allowed_prefix_lets_only_its_own_paths_through() -> None:
    """Our own address is allowed for the emulator's clips only, on its own port only (10)."""
    guard = AddressGuard.allowing([], ["http://127.0.0.1:8000/emulator/luma/assets/"])
    assert guard.resolve(httpx.URL("http://127.0.0.1:8000/emulator/luma/assets/g/t.mp4"))
    for url in [
        "http://127.0.0.1:8000/emulator/luma/dream-machine/v1/_stats",
        "http://127.0.0.1:8000/v1/jobs",
        "http://127.0.0.1:8000/emulator/luma/assets/../dream-machine/v1/_stats",
        "http://127.0.0.1:8000/emulator/luma/assets/%2e%2e/dream-machine/v1/_stats",
        "http://127.0.0.1:8001/emulator/luma/assets/g/t.mp4",
        "https://127.0.0.1:8000/emulator/luma/assets/g/t.mp4",
    ]:
        with pytest.raises(BlockedAddress):
            guard.resolve(httpx.URL(url))


def test_our_own_address_is_allowed_for_the_emulator_clips_only(tmp_path: Path) -> None:
    """A PUBLIC_URL without a port no longer opens every port of its host (finding 10): only
    the embedded emulator's asset path, on the port we serve, is allowed."""
    from pixelmotion.config import load_settings

    settings = load_settings(
        {
            "PIXELMOTION_PUBLIC_URL": "http://localhost",
            "PIXELMOTION_PORT": "8000",
            "PIXELMOTION_DATA_DIR": str(tmp_path),
        }
    )
    guard = AddressGuard(settings.allowed_asset_hosts, settings.allowed_asset_prefixes)
    assert guard.resolve(httpx.URL("http://127.0.0.1:8000/emulator/luma/assets/g/t.mp4"))
    for url in (
        "http://localhost/emulator/luma/assets/g/t.mp4",
        "http://localhost:5432/emulator/luma/assets/g/t.mp4",
        "http://127.0.0.1:5432/emulator/luma/assets/g/t.mp4",
        "http://127.0.0.1:8000/emulator/luma/dream-machine/v1/_stats",
        "http://127.0.0.1:8000/v1/jobs",
    ):
        with pytest.raises(BlockedAddress):
            guard.resolve(httpx.URL(url))


@pytest.mark.parametrize("url", ["http://0177.0.0.1/clip.mp4", "http://[::1/clip.mp4"])
def test_a_malformed_host_is_a_coded_refusal_not_a_crash(url: str, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as raised:
        download_video(url, tmp_path / "x.mp4", max_bytes=10_000, guard=AddressGuard())
    assert raised.value.code == "URL_NOT_ALLOWED"


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
