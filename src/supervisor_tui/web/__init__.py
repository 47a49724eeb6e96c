"""``supervisor-tui web``: the board in a browser, for a television or a manager without a
terminal.

Each page opened runs its own ``supervisor-tui watch`` in a child process, drawn in the page
by textual-serve (Textual's web driver and xterm.js). That child watches the hub, so this
process holds no helpdesk secret, only hub tokens: its own ``view`` token for the board
(``/``) and the television's kiosk (``/kiosk``, the wall profile), and, for ``/supervise``, the
token each supervisor pastes in, kept in memory for that browser's session and never sent
back to the page. A token reaches a child in its environment, never on a command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shlex
import signal
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from supervisor_tui import i18n
from supervisor_tui.adapters.base import is_loopback
from supervisor_tui.core.feed import floor_words
from supervisor_tui.hub.client import HubRefused, hello
from supervisor_tui.i18n import _

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(textual_serve.__file__).parent / "static"
SESSION_COOKIE = "supervisor_tui_session"
SUPERVISE_SESSION_S = 12 * 3600.0
"""A supervisor's login lasts a long shift; then the token is asked for again."""
TOKEN_ENV = "SUPERVISOR_TUI_TOKEN"

Page = Literal["board", "kiosk", "supervise"]
PROFILES: dict[Page, str | None] = {"board": None, "kiosk": "wall", "supervise": "desk"}
"""The display profile each page's terminal runs with (None: the hub's)."""


class WebError(Exception):
    """``web`` cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class WebOptions:
    hub_url: str
    token: str
    """This process's own hub token: a ``view`` token (the board and the kiosk)."""
    host: str = "127.0.0.1"
    port: int = 8780
    cafile: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_sessions: int = 16
    """Pages open at once (each is a process of ~90 MB); more are refused with 503."""
    lang: str | None = None
    """The boards' language (``--lang``); None: each ``watch`` finds its own."""

    def __repr__(self) -> str:
        return f"WebOptions({self.hub_url!r}, {self.host}:{self.port})"  # never the token


@dataclass
class _Login:
    token: str
    name: str
    until: float


@dataclass
class _Sessions:
    logins: dict[str, _Login] = field(default_factory=dict)
    open_pages: int = 0

    def login_of(self, request: web.Request) -> _Login | None:
        login = self.logins.get(request.cookies.get(SESSION_COOKIE, ""))
        if login is None or login.until < time.time():
            return None
        return login


def check_listen(options: WebOptions) -> None:
    """Loopback, or TLS: the hub's own rule for a port other machines can reach."""
    if not is_loopback(options.host) and not (options.tls_cert and options.tls_key):
        raise WebError(
            _(
                "--listen {address} is not a loopback address: set --tls-cert and --tls-key, "
                "or listen on 127.0.0.1 behind a TLS proxy"
            ).format(address=f"{options.host}:{options.port}")
        )
    if not options.hub_url.startswith(("ws://", "wss://")):
        raise WebError(
            _("{url} is not a ws:// or wss:// address").format(url=repr(options.hub_url))
        )


def watch_command(options: WebOptions, page: Page) -> str:
    """The shell line textual-serve runs for one page: the token is not on it."""
    argv = [sys.executable, "-m", "supervisor_tui.cli", "watch", options.hub_url]
    profile = PROFILES[page]
    if profile is not None:
        argv += ["--profile", profile]
    if options.cafile is not None:
        argv += ["--cafile", str(options.cafile)]
    if options.lang is not None:
        argv += ["--lang", options.lang]
    return shlex.join(argv)


class _Terminal(AppService):
    """One page's ``watch`` process, given its hub token in its environment."""

    def __init__(
        self,
        command: str,
        token: str,
        *,
        write_bytes: Callable[[bytes], Awaitable[None]],
        write_str: Callable[[str], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        server: Server,
    ) -> None:
        super().__init__(
            command,
            write_bytes=write_bytes,
            write_str=write_str,
            close=close,
            download_manager=server.download_manager,
        )
        self._token = token

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        environment[TOKEN_ENV] = self._token
        return environment


class BoardServer(Server):
    """textual-serve's server with three pages, a login for the one that acts, and limits."""

    def __init__(self, options: WebOptions, floor_name: str) -> None:
        super().__init__(
            "supervisor-tui watch",
            host=options.host,
            port=options.port,
            title=floor_name,
            statics_path=STATIC,
            templates_path=TEMPLATES,
        )
        self.options = options
        self.sessions = _Sessions()
        self.tls: ssl.SSLContext | None = None
        if options.tls_cert and options.tls_key:
            self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.load_cert_chain(options.tls_cert, options.tls_key)
        self.hub_tls: ssl.SSLContext | None = None
        if options.hub_url.startswith("wss://"):
            cafile = str(options.cafile) if options.cafile else None
            self.hub_tls = ssl.create_default_context(cafile=cafile)

    async def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024, middlewares=[_headers])
        env = aiohttp_jinja2.setup(
            app,
            loader=jinja2.FileSystemLoader(self.templates_path),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
        )
        # the pages' words from the same catalogs as the board (make messages extracts them)
        env.install_gettext_callables(  # type: ignore[attr-defined]
            i18n._, i18n.ngettext, newstyle=True
        )
        app.add_routes(
            [
                web.get("/", self._page("board")),
                web.get("/kiosk", self._page("kiosk")),
                web.get("/supervise", self._supervise),
                web.post("/supervise", self._login),
                web.get("/ws/{page}", self._terminal),
                web.static("/static", self.statics_path),
            ]
        )
        return app

    def _page(self, page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return self._board_page(request, page)

        return handler

    def _board_page(self, request: web.Request, page: Page) -> web.Response:
        try:
            font_size = min(max(int(request.query.get("fontsize", "16")), 8), 64)
        except ValueError:
            font_size = 16
        return aiohttp_jinja2.render_template(
            "board.html",
            request,
            {
                "title": self.title,
                "lang": i18n.html_lang(),
                "ws_path": f"/ws/{page}",
                "font_size": font_size,
                "kiosk": page == "kiosk",
            },
        )

    async def _supervise(self, request: web.Request) -> web.StreamResponse:
        if self.sessions.login_of(request) is None:
            return self._login_page(request, "")
        return self._board_page(request, "supervise")

    def _login_page(self, request: web.Request, problem: str, status: int = 200) -> web.Response:
        response = aiohttp_jinja2.render_template(
            "login.html",
            request,
            {"title": self.title, "problem": problem, "lang": i18n.html_lang()},
        )
        response.set_status(status)
        return response

    async def _login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = str(form.get("token") or "").strip()
        if not token:
            return self._login_page(request, _("Paste a token first."), 400)
        try:
            welcome = await hello(
                self.options.hub_url, token, log.info, ssl_context=self.hub_tls, give_up_after_s=10
            )
        except HubRefused:
            return self._login_page(request, _("The hub does not know this token."), 403)
        except TimeoutError:
            return self._login_page(request, _("The hub does not answer; try again shortly."), 503)
        if welcome.scope != "supervise":
            return self._login_page(
                request, _("This token may watch, not act: ask for a supervise token."), 403
            )
        key = secrets.token_urlsafe(32)
        self.sessions.logins[key] = _Login(token, welcome.name, time.time() + SUPERVISE_SESSION_S)
        self._forget_expired()
        response = web.HTTPSeeOther("/supervise")
        response.set_cookie(
            SESSION_COOKIE,
            key,  # a session cookie: closing the browser signs out; the server forgets at 12 h
            httponly=True,
            samesite="Strict",
            secure=self.tls is not None,
            path="/",
        )
        log.info("web: %s signed in to supervise", welcome.name)
        return response

    def _forget_expired(self) -> None:
        now = time.time()
        for key in [k for k, v in self.sessions.logins.items() if v.until < now]:
            del self.sessions.logins[key]

    async def _terminal(self, request: web.Request) -> web.StreamResponse:
        page = request.match_info["page"]
        if page not in PROFILES:
            raise web.HTTPNotFound()
        # a page of another site may not open a board here with this browser's login
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="this board opens from its own pages only")
        token = self.options.token
        if page == "supervise":
            login = self.sessions.login_of(request)
            if login is None:
                raise web.HTTPForbidden(text="sign in at /supervise first")
            token = login.token
        if self.sessions.open_pages >= self.options.max_sessions:
            raise web.HTTPServiceUnavailable(text="too many boards open; close one")
        self.sessions.open_pages += 1
        try:
            return await self._run_terminal(request, page, token)
        finally:
            self.sessions.open_pages -= 1

    async def _run_terminal(
        self, request: web.Request, page: Page, token: str
    ) -> web.StreamResponse:
        def size(name: str, default: int) -> int:
            try:
                return min(max(int(request.query.get(name, default)), 10), 1000)
            except ValueError:
                return default

        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=64 * 1024)
        await websocket.prepare(request)

        async def close() -> None:
            await websocket.close()

        terminal = _Terminal(
            watch_command(self.options, page),
            token,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            server=self,
        )
        await terminal.start(size("width", 80), size("height", 24))
        try:
            await self._relay(websocket, terminal)
        except (ValueError, KeyError, TypeError):
            pass  # a frame not as textual.js sends them: this page ends, nothing else
        finally:
            with contextlib.suppress(Exception):
                await terminal.stop()
            await websocket.close()
        return websocket

    async def _relay(self, websocket: web.WebSocketResponse, terminal: AppService) -> None:
        """The browser's keys, size and focus to the terminal (textual.js's envelopes)."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            envelope = message.json()
            if not isinstance(envelope, list) or not envelope:
                continue
            kind = envelope[0]
            if kind == "stdin" and isinstance(envelope[1], str):
                await terminal.send_bytes(envelope[1].encode("utf-8"))
            elif kind == "resize":
                width, height = int(envelope[1]["width"]), int(envelope[1]["height"])
                await terminal.set_terminal_size(
                    min(max(width, 10), 1000), min(max(height, 5), 1000)
                )
            elif kind == "ping":
                await websocket.send_json(["pong", str(envelope[1])[:64]])
            elif kind == "blur":
                await terminal.blur()
            elif kind == "focus":
                await terminal.focus()


@web.middleware
async def _headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _floor_name(options: WebOptions, tls: ssl.SSLContext | None) -> str:
    """The hub's floor name, checking on the way that this process's token only watches. A
    board box often starts before the hub: it waits, saying each attempt, as ``watch`` does."""

    def say(line: str) -> None:
        print(f"supervisor-tui: web: {line}", file=sys.stderr, flush=True)

    try:
        welcome = await hello(options.hub_url, options.token, say, ssl_context=tls)
    except HubRefused as exc:
        raise WebError(
            _("the hub refused the board's token: {reason}").format(reason=exc.said)
        ) from None
    except TimeoutError as exc:
        raise WebError(str(exc)) from None
    if welcome.scope != "view":
        raise WebError(
            _(
                "the board's token ({name}) is a {scope} token: anyone who opens the page "
                "could act under its name. Give web a view token; supervisors sign in at "
                "/supervise with their own"
            ).format(name=repr(welcome.name), scope=welcome.scope)
        )
    return floor_words(str(welcome.floor.get("name") or "Floor"))


def serve(options: WebOptions, ready: Callable[[str], None]) -> int:
    """Serve until SIGINT or SIGTERM; ``ready`` is told the address once it listens."""
    check_listen(options)

    async def main() -> None:
        probe_tls = None
        if options.hub_url.startswith("wss://"):
            cafile = str(options.cafile) if options.cafile else None
            probe_tls = ssl.create_default_context(cafile=cafile)
        server = BoardServer(options, await _floor_name(options, probe_tls))
        runner = web.AppRunner(await server._make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, options.host, options.port, ssl_context=server.tls)
        await site.start()
        port = runner.addresses[0][1]
        scheme = "https" if server.tls else "http"
        base = f"{scheme}://{options.host}:{port}"
        ready(
            _("serving {floor} on {url}  (kiosk: {kiosk}, supervise: {supervise})").format(
                floor=repr(server.title),
                url=f"{base}/",
                kiosk=f"{base}/kiosk",
                supervise=f"{base}/supervise",
            )
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
    return 0
