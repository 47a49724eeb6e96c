"""A loopback TCP proxy that breaks the network on purpose, for the fault tests.

It listens on 127.0.0.1 (a free port) and forwards every connection to a target. The test
decides what the network does, for connections already open and for new ones:

- ``heal()``: pass through (the default);
- ``delay(ms)``: each chunk waits ``ms`` before it is forwarded (both ways);
- ``partition("reset")``: every open connection is reset (RST, ``SO_LINGER`` 0) and every
  new one is accepted and reset at once, as a firewall that rejects;
- ``partition("blackhole")``: nothing goes through and nothing comes back; open connections
  stay open and new ones are accepted, but every byte vanishes, as a dead link with no RST
  (only a timeout on the client's side can notice it); ``heal()`` then resets those
  connections (bytes were lost: their streams are not whole any more, as TCP would see a
  connection that timed out);
- ``partition("close")``: new connections are accepted and closed at once (FIN);
- ``drop_answers(after=b"COMMIT")``: what the client sends still reaches the server, the
  answers vanish (from the moment the client sent ``after``, on that connection): a commit
  that happens but whose "OK" never arrives;
- ``reset_all()``: reset every open connection once, leave the mode alone.

The counters (``accepted``, ``resets``, ``vanished_bytes``, ``forwarded_bytes``) let a test
check that the fault really happened. It runs in the test's event loop: clients in threads
(psycopg) or in the loop (websockets, httpx) both go through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["pass", "reset", "blackhole", "close", "drop_answers"]
CHUNK = 65536


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    lost_bytes: bool = False
    muted: bool = False
    """Its answers vanish (``drop_answers``' trigger was seen on it)."""


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with a reset, not a FIN: SO_LINGER on, timeout 0."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode: Mode = "pass"
        self.delay_s = 0.0
        self.accepted = 0
        self.resets = 0
        self.forwarded_bytes = 0
        self.vanished_bytes = 0
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._trigger: bytes | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    # -- what the network does -------------------------------------------------------------

    def heal(self) -> None:
        """Pass everything through again; connections that lost bytes are reset."""
        for link in list(self._links):
            if link.lost_bytes:
                self._reset(link)
        self.mode = "pass"
        self.delay_s = 0.0
        self._trigger = None

    def partition(self, how: Literal["reset", "blackhole", "close"] = "reset") -> None:
        self.mode = how
        if how in ("reset", "close"):
            self.reset_all()

    def drop_answers(self, after: bytes | None = None) -> None:
        self._trigger = after
        self.mode = "drop_answers"

    def delay(self, ms: float) -> None:
        self.delay_s = ms / 1000.0

    def reset_all(self) -> None:
        for link in list(self._links):
            self._reset(link)

    # -- plumbing ---------------------------------------------------------------------------

    def _reset(self, link: _Link) -> None:
        self.resets += 1
        _rst(link.client)
        if link.server is not None:
            _rst(link.server)
        for task in link.tasks:
            task.cancel()
        self._links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "reset":
            self.resets += 1
            _rst(writer)
            return
        if self.mode == "close":
            writer.close()
            return
        link = _Link(writer)
        self._links.add(link)
        if self.mode == "blackhole":
            # accepted, never forwarded: the client waits for an answer that never comes
            link.lost_bytes = True
            await self._swallow(reader, link)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._links.discard(link)
            _rst(writer)
            return
        link.server = up_writer
        link.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, link, answers=False)),
            asyncio.create_task(self._pump(up_reader, writer, link, answers=True)),
        ]
        for task in link.tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _swallow(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(Exception):
            while link in self._links:
                data = await reader.read(CHUNK)
                if not data:
                    break
                self.vanished_bytes += len(data)
        if link in self._links:
            self._links.discard(link)
            link.client.close()

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        link: _Link,
        *,
        answers: bool,
    ) -> None:
        try:
            while True:
                data = await source.read(CHUNK)
                if not data:
                    break
                if self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                trigger = self._trigger
                if self.mode == "drop_answers" and not answers and (not trigger or trigger in data):
                    link.muted = True
                if self.mode == "blackhole" or (
                    self.mode == "drop_answers" and answers and link.muted
                ):
                    self.vanished_bytes += len(data)
                    link.lost_bytes = True
                    continue
                sink.write(data)
                await sink.drain()
                self.forwarded_bytes += len(data)
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            return
        # one side finished: finish the other (a FIN for a FIN), and forget the link
        if link in self._links:
            self._links.discard(link)
            for writer in (link.client, link.server):
                if writer is not None:
                    with contextlib.suppress(Exception):
                        writer.close()
            for task in link.tasks:
                if task is not asyncio.current_task():
                    task.cancel()
