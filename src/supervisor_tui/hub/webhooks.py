"""The webhook endpoint: helpdesks push "something changed" here, and the source polls sooner.

``POST /webhooks/<source name>``. Each adapter checks its own deliveries (Zendesk signs
them with HMAC-SHA256); the body is a hint, never data: the poll stays the source of truth.
Bodies over 256 KB are refused before they are read.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from typing import Protocol

from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


class WebhookTarget(Protocol):
    name: str

    def webhook(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]: ...


class WebhookServer:
    def __init__(
        self,
        targets: Mapping[str, WebhookTarget],
        host: str = "127.0.0.1",
        port: int = 8787,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.targets = dict(targets)
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.accepted = 0
        self.refused = 0
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/webhooks/{source}", self._handle)
        return app

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["source"]
        target = self.targets.get(name)
        if target is None:
            self.refused += 1
            return web.json_response({"error": "no such source"}, status=404)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.refused += 1
            return web.json_response({"error": "body too large"}, status=413)
        status, reason = target.webhook(request.headers, body)
        if status == 200:
            self.accepted += 1
        else:
            self.refused += 1
            log.warning("webhook for %s refused: %s", name, reason)
        return web.json_response({"status": reason}, status=status)
