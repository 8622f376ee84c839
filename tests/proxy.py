"""A TCP proxy on loopback that can make a service go away: refuse connections ("down"),
answer every request with an HTTP 503 ("error"), or hold each connection for a while before
passing it on ("slow"). Tests use it in a thread; the chaos bench runs it as a process:

    python tests/proxy.py LISTEN_PORT TARGET_PORT    # SIGUSR1: down, SIGUSR2: up again
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from typing import Literal

Mode = Literal["up", "down", "error", "slow"]
HOST = "127.0.0.1"
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: 93\r\n"
    b"Connection: close\r\n\r\n"
    b"<Error><Code>ServiceUnavailable</Code><Message>Please reduce your rate.</Message></Error>\n\n\n\n"
)


class Proxy:
    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target_port = target_port
        self.port = port
        self.mode: Mode = "up"
        self.delay = 0.0
        self.connections = 0  # accepted so far, in any mode
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)

    # --- control, from any thread ---------------------------------------------------------

    def start(self) -> Proxy:
        self._thread.start()
        self._run(self._listen())
        return self

    def set_mode(self, mode: Mode, delay: float = 0.0) -> None:
        self._run(self._set_mode(mode, delay))

    def close(self) -> None:
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _run(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)  # type: ignore[arg-type]

    # --- on the proxy's loop ----------------------------------------------------------------

    async def _set_mode(self, mode: Mode, delay: float) -> None:
        self.mode, self.delay = mode, delay
        if mode == "down":
            await self._stop_listening()
            for writer in list(self._writers):  # what was connected is cut, as a crash would
                writer.transport.abort()
        elif self._server is None:
            await self._listen()

    async def _shutdown(self) -> None:
        await self._stop_listening()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            if self.mode == "error":
                with contextlib.suppress(Exception):
                    await reader.readuntil(b"\r\n\r\n")
                    writer.write(UNAVAILABLE)
                    await writer.drain()
                return
            if self.mode == "slow":
                await asyncio.sleep(self.delay)
            target_reader, target_writer = await asyncio.open_connection(HOST, self.target_port)
            self._writers.add(target_writer)
            try:
                await asyncio.gather(_pipe(reader, target_writer), _pipe(target_reader, writer))
            finally:
                self._writers.discard(target_writer)
                target_writer.close()
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.write_eof()


def main() -> None:
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    proxy = Proxy(target_port, listen_port).start()
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: proxy.set_mode("down"))
    signal.signal(signal.SIGUSR2, lambda *_: proxy.set_mode("up"))
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"proxy {HOST}:{proxy.port} -> {target_port}", flush=True)
    while not stop.wait(0.5):
        pass
    proxy.close()


if __name__ == "__main__":
    main()
