"""The webhook endpoint: helpdesks push "something changed" here, and the source polls sooner.

``POST /webhooks/<source name>``. Each adapter checks its own deliveries (Zendesk signs
them with HMAC-SHA256); the body is a hint, never data: the poll stays the source of truth.

The endpoint faces the internet, so it is guarded before a request is read: a peer address
may hold ``PER_PEER`` connections and the endpoint ``MAX_CONNECTIONS`` (more get a 503 and are
closed); the headers must arrive within ``HEADER_TIMEOUT_S`` and the body within
``BODY_TIMEOUT_S`` (else 408 and closed); a body over ``MAX_BODY`` is refused unread (413);
one request per connection. Malformed requests get a 400 and one log line, no traceback.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from supervisor_tui.hub.limits import ConnectionLimits, Throttled, peer_host

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
HEADER_TIMEOUT_S = 5.0
BODY_TIMEOUT_S = 10.0
PER_PEER = 16
"""Connections one address may hold: a helpdesk sends a few deliveries at a time."""
MAX_CONNECTIONS = 128
"""Connections in all, well under the process's file descriptors (the store and the hub's
terminals need theirs)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_SLOW = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class WebhookTarget(Protocol):
    name: str

    def webhook(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]: ...


class _QuietLogger(logging.Logger):
    """aiohttp's server logger, but a malformed request (a peer's fault, not ours) is one
    line without a traceback; anything else keeps its traceback."""

    def __init__(self, say: Throttled) -> None:
        super().__init__("supervisor_tui.hub.webhooks.http")
        self.parent = log
        self.say = say

    def exception(self, msg: object, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            peer = args[0] if args else "?"
            self.say.warning(
                f"bad:{peer}", f"webhook: bad request from {peer}: {type(exc_info).__name__}"
            )
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        # aiohttp logs a request with an unknown method here, with its traceback
        if isinstance(exc_info, HttpProcessingError):
            exc_info = None
        super().debug(msg, *args, exc_info=exc_info, **kwargs)


class _Guard(asyncio.Protocol):
    """One connection, in front of aiohttp's handler: refused over the caps, and closed when
    its headers (or, after them, the whole request) take too long."""

    def __init__(self, door: WebhookServer) -> None:
        self.door = door
        self.inner: asyncio.Protocol | None = None
        self.peer = ""
        self.transport: asyncio.Transport | None = None
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = peer_host(transport.get_extra_info("peername"))
        why = self.door.limits.admit(self.peer)
        if why is not None:
            self.door.refused += 1
            self.door.say.warning(
                f"full:{self.peer}", f"webhook: refused a connection from {self.peer}: {why}"
            )
            # the 503 first; what the peer already sent is read and dropped for a moment, or
            # closing on unread bytes would reset the connection and lose the 503
            transport.write(_BUSY)
            if transport.can_write_eof():
                transport.write_eof()
                self.deadline = asyncio.get_running_loop().call_later(1.0, transport.abort)
            else:
                transport.close()
            return
        self.door.guards[transport] = self
        self.deadline = asyncio.get_running_loop().call_later(HEADER_TIMEOUT_S, self.too_slow)
        self.inner = self.door.handler()
        self.inner.connection_made(transport)

    def headers_read(self) -> None:
        """The request line and headers are in: the body has its own time (and a bit more
        to answer), after which the connection is closed whatever it is doing."""
        if self.deadline is not None:
            self.deadline.cancel()
            loop = asyncio.get_running_loop()
            self.deadline = loop.call_later(BODY_TIMEOUT_S + 2.0, self.too_slow)

    def too_slow(self) -> None:
        self.door.timed_out += 1
        self.door.say.warning(
            f"slow:{self.peer}", f"webhook: closed a connection from {self.peer}: too slow"
        )
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_SLOW)
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        if self.inner is not None:
            if self.transport is not None:
                self.door.guards.pop(self.transport, None)
            self.door.limits.release(self.peer)
            self.inner.connection_lost(exc)


class WebhookServer:
    def __init__(
        self,
        targets: Mapping[str, WebhookTarget],
        host: str = "127.0.0.1",
        port: int = 8787,
        ssl_context: ssl.SSLContext | None = None,
        *,
        per_peer: int = PER_PEER,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.targets = dict(targets)
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.accepted = 0
        self.refused = 0
        self.timed_out = 0
        self.limits = ConnectionLimits(per_peer, max_connections)
        self.say = Throttled(log)
        self.guards: dict[asyncio.Transport, _Guard] = {}
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._one_request])
        app.router.add_post("/webhooks/{source}", self._answer)
        return app

    @web.middleware
    async def _one_request(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every answer (the router's 404 and 405 too) closes the connection: each request is
        timed from its connection's start, and nobody holds a connection by keeping it alive."""
        guard = self.guards.get(request.transport) if request.transport else None
        if guard is not None:
            guard.headers_read()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = web.json_response({"error": exc.reason}, status=exc.status)
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        response.force_close()
        return response

    def handler(self) -> asyncio.Protocol:
        assert self._runner is not None and self._runner.server is not None
        return self._runner.server()

    async def start(self) -> int:
        self._runner = web.AppRunner(
            self.app(),
            access_log=None,
            logger=_QuietLogger(self.say),
            lingering_time=1.0,  # after an early answer (413, 408), do not wait on the rest
        )
        await self._runner.setup()
        # our own listener, not a TCPSite: every connection passes the guard first
        self._listener = await asyncio.get_running_loop().create_server(
            lambda: _Guard(self), self.host, self.port, ssl=self.ssl_context
        )
        if self.port == 0:
            self.port = int(self._listener.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for transport in list(self.guards):
            transport.abort()
        if self._listener is not None:
            await self._listener.wait_closed()
            self._listener = None

    async def _answer(self, request: web.Request) -> web.Response:
        name = request.match_info["source"]
        target = self.targets.get(name)
        if target is None:
            self.refused += 1
            return web.json_response({"error": "no such source"}, status=404)
        if not _utf8(request.headers):
            self.refused += 1
            self.say.warning(f"utf8:{name}", f"webhook for {name} refused: a header is not UTF-8")
            return web.json_response({"error": "headers must be UTF-8"}, status=400)
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.refused += 1
            return web.json_response({"error": "body too large"}, status=413)
        except TimeoutError:
            self.refused += 1
            self.timed_out += 1
            self.say.warning(f"slow:{name}", f"webhook for {name} refused: the body was too slow")
            return web.json_response({"error": "body too slow"}, status=408)
        status, reason = target.webhook(request.headers, body)
        if 200 <= status < 300:
            self.accepted += 1
        else:
            self.refused += 1
            self.say.warning(f"refused:{name}", f"webhook for {name} refused: {reason}")
        return web.json_response({"status": reason}, status=status)


def _utf8(headers: Mapping[str, str]) -> bool:
    """aiohttp keeps bytes that are not UTF-8 as lone surrogates; they cannot be checked
    against a signature (nor encoded), so such a request is refused."""
    try:
        for name, value in headers.items():
            name.encode()
            value.encode()
    except UnicodeEncodeError:
        return False
    return True
