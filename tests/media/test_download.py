"""download_video against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from tests.server import http_server

from pixelmotion.media import MediaError, download_video


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    cut_first: dict[str, int] = {}  # path → byte count sent before the first connection drops
    hits: list[tuple[str, str | None]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        range_header = self.headers.get("Range")
        self.hits.append((self.path, range_header))
        if self.path == "/error":
            self.send_error(404)
            return
        if self.path == "/flaky" and len(self.hits) % 2:
            self.send_error(503)
            return
        body = self.files.get(self.path.replace("/flaky", "/clip.mp4"))
        if body is None:
            self.send_error(404)
            return
        start = 0
        if range_header:
            start = int(range_header.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        cut = self.cut_first.pop(self.path, None)
        if cut is not None:
            self.wfile.write(body[start:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture()
def server(clip: Path) -> Iterator[str]:
    data = clip.read_bytes()
    _Handler.files = {"/clip.mp4": data, "/cut.mp4": data, "/text": b"<html>not a video</html>"}
    _Handler.cut_first = {"/cut.mp4": len(data) // 3}
    _Handler.hits = []
    with http_server(_Handler) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"


def test_download(server: str, clip: Path, tmp_path: Path) -> None:
    size = download_video(f"{server}/clip.mp4", tmp_path / "v.mp4", max_bytes=10_000_000)
    assert size == clip.stat().st_size
    assert (tmp_path / "v.mp4").read_bytes() == clip.read_bytes()
    assert not (tmp_path / "v.mp4.part").exists()


def test_resume_after_cut(server: str, clip: Path, tmp_path: Path) -> None:
    download_video(f"{server}/cut.mp4", tmp_path / "v.mp4", max_bytes=10_000_000)
    assert (tmp_path / "v.mp4").read_bytes() == clip.read_bytes()
    ranges = [r for p, r in _Handler.hits if p == "/cut.mp4"]
    assert ranges[0] is None and ranges[1] == f"bytes={clip.stat().st_size // 3}-"


def test_retry_on_server_error(server: str, tmp_path: Path) -> None:
    download_video(f"{server}/flaky", tmp_path / "v.mp4", max_bytes=10_000_000)
    assert (tmp_path / "v.mp4").stat().st_size > 0


def test_too_large(server: str, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        download_video(f"{server}/clip.mp4", tmp_path / "v.mp4", max_bytes=1000)
    assert caught.value.code == "VIDEO_TOO_LARGE"
    assert not (tmp_path / "v.mp4").exists()


def test_not_a_video(server: str, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        download_video(f"{server}/text", tmp_path / "v.mp4", max_bytes=10_000)
    assert caught.value.code == "VIDEO_UNREADABLE"


def test_http_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        download_video(f"{server}/error", tmp_path / "v.mp4", max_bytes=10_000)
    assert caught.value.code == "DOWNLOAD_FAILED"


def test_connection_refused(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MediaError) as caught:
        download_video(f"http://127.0.0.1:{port}/x.mp4", tmp_path / "v.mp4", max_bytes=10)
    assert caught.value.code == "DOWNLOAD_FAILED"


def test_bad_scheme(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        download_video("file:///etc/passwd", tmp_path / "v.mp4", max_bytes=10)
    assert caught.value.code == "DOWNLOAD_FAILED"
