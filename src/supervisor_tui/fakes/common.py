"""What the fake helpdesks share: timestamps, ids, injected faults, and the loop that feeds
them from the floor simulation."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.model import NewEvent

Json = dict[str, Any]
Clock = Callable[[], float]
FAULTS = frozenset(
    {
        "429",
        "500",
        "503",
        "401",
        "403",
        "404",
        "410",
        "malformed",
        "truncated",
        "wrong_shape",
        "slow",
    }
)
REFUSALS = frozenset({"403", "404", "410"})
"""Faults answered as the vendor refuses a request this account may not make."""


def iso(t: float) -> str:
    """ISO-8601 in whole seconds with ``Z``, as both helpdesks write their times."""
    return _iso_second(math.floor(round(t, 6)))  # as datetime rounds to microseconds


@functools.lru_cache(maxsize=1 << 16)
def _iso_second(second: int) -> str:
    """A ticket's times are written again with each change (a fake Zendesk's metric set
    holds eight): a busy floor's recent seconds are asked for over and over."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """An ISO date or date-time; naive values are UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def number(ident: str) -> int:
    """The number in a simulator id ("a0007" → 7, "c123" → 123)."""
    digits = re.sub(r"\D", "", ident)
    return int(digits) if digits else 0


def ascii_slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", plain.lower()).strip(".") or "user"


class HttpError(Exception):
    def __init__(self, status: int, body: Json | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass(slots=True)
class Fault:
    prefix: str
    fault: str
    left: int
    retry_after: int
    delay_s: float


class Faults:
    """Faults waiting for the requests whose path starts with their prefix."""

    def __init__(self) -> None:
        self._waiting: list[Fault] = []

    def add(self, prefix: str, fault: str, count: int, retry_after: int, delay_s: float) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {sorted(FAULTS)}")
        self._waiting.append(Fault(prefix, fault, count, retry_after, delay_s))

    def take(self, path: str) -> Fault | None:
        for fault in self._waiting:
            if fault.left > 0 and path.startswith(fault.prefix):
                fault.left -= 1
                if fault.left == 0:
                    self._waiting.remove(fault)
                return fault
        return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SPOILS = frozenset({"truncated", "wrong_shape"})
"""Faults that let the request through and spoil its answer."""


@dataclass
class Account:
    """What kind of account a fake helpdesk plays: the token's role, and what the plan and
    its add-ons leave out. The fake's gates turn these into the vendor's own refusals."""

    role: str = "admin"
    """The role of the token's user; each fake names its vendor's roles."""
    lacks: frozenset[str] = frozenset()
    """Features the plan does not include ("talk", "omnichannel", "surveys", "sla", ...)."""
    groups: frozenset[str] | None = None
    """Group ticket scope: the names of the groups whose tickets the token's user sees
    (None: every ticket, global scope)."""

    def has(self, feature: str) -> bool:
        return feature not in self.lacks


@dataclass(frozen=True, slots=True)
class Gate:
    """Who may call the endpoints whose path matches ``pattern``: the roles allowed (None:
    any), and the feature the plan must include (None: every plan)."""

    pattern: re.Pattern[str]
    roles: frozenset[str] | None = None
    feature: str | None = None
    methods: frozenset[str] | None = None
    query: tuple[str, str] | None = None
    """Only when this query parameter has this value (Freshdesk's ``filter=deleted``)."""

    def applies(self, request: web.Request) -> bool:
        if self.methods is not None and request.method not in self.methods:
            return False
        if self.query is not None and request.query.get(self.query[0]) != self.query[1]:
            return False
        return self.pattern.search(request.path) is not None


def gate(
    pattern: str,
    *,
    roles: Iterable[str] | None = None,
    feature: str | None = None,
    methods: Iterable[str] | None = None,
    query: tuple[str, str] | None = None,
) -> Gate:
    return Gate(
        re.compile(pattern),
        None if roles is None else frozenset(roles),
        feature,
        None if methods is None else frozenset(methods),
        query,
    )


@dataclass
class TokenIssuer:
    """OAuth with tokens that expire, for a fake helpdesk: the ``refresh_token`` grant at the
    vendor's token endpoint (``path``, a form or JSON body), access tokens that expire
    ``lifetime_s`` after they are issued (by ``clock``), refresh tokens that rotate when
    ``rotate`` (the old one refused once used, as Atlassian and Zendesk do), and the vendor's
    refusal for an unknown or revoked one. ``prefix`` starts every token (canary tests)."""

    clock: Clock
    path: str
    json_body: bool = True
    lifetime_s: float = 3600.0
    rotate: bool = False
    refusal: tuple[int, Json] = (400, {"error": "invalid_grant"})
    client_id: str = "fake-client"
    client_secret: str = field(default="fake-client-secret", repr=False)
    prefix: str = "fake-oauth"
    issued: list[str] = field(default_factory=list, repr=False)
    """Every token handed out (access and refresh), for tests that look for them."""
    calls: int = 0
    """Requests to the token endpoint."""
    renewals: int = 0
    """Access tokens it issued for a refresh token."""
    expired_refused: int = 0
    """Requests refused because their access token had expired."""
    _access: dict[str, float] = field(default_factory=dict, repr=False)
    _refresh: set[str] = field(default_factory=set, repr=False)

    def _new(self, kind: str) -> str:
        token = f"{self.prefix}-{kind}-{len(self.issued) + 1}-{secrets.token_hex(6)}"
        self.issued.append(token)
        return token

    def refresh_token(self) -> str:
        """A refresh token, as the user's authorization of the app gives one."""
        token = self._new("refresh")
        self._refresh.add(token)
        return token

    def access_token(self) -> str:
        token = self._new("access")
        self._access[token] = self.clock() + self.lifetime_s
        return token

    def valid(self, access_token: str) -> bool:
        expires_at = self._access.get(access_token)
        if expires_at is None:
            return False
        if expires_at <= self.clock():
            self.expired_refused += 1
            return False
        return True

    def revoke(self) -> None:
        """Every refresh token stops working (the user revoked the app)."""
        self._refresh.clear()

    def expire_access_tokens(self) -> None:
        """Every access token stops working before its time (a key rotation, an admin)."""
        self._access = dict.fromkeys(self._access, -math.inf)

    def serves(self, request: web.Request) -> bool:
        return request.method == "POST" and request.path == self.path

    async def answer(self, request: web.Request) -> web.Response:
        self.calls += 1
        body: Any
        if self.json_body:
            try:
                body = await request.json()
            except ValueError:
                body = None
        else:
            body = dict(await request.post())
        if not isinstance(body, dict) or body.get("grant_type") != "refresh_token":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        client = (body.get("client_id"), body.get("client_secret"))
        if client != (self.client_id, self.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        used = body.get("refresh_token")
        if used not in self._refresh:
            return web.json_response(self.refusal[1], status=self.refusal[0])
        refresh = used
        if self.rotate:
            self._refresh.discard(used)
            refresh = self.refresh_token()
        self.renewals += 1
        return web.json_response(
            {
                "access_token": self.access_token(),
                "refresh_token": refresh,
                "token_type": "Bearer",
                "expires_in": int(self.lifetime_s),
                "scope": "read write",
            }
        )


class LoopbackServer:
    """A fake helpdesk's HTTP side: one aiohttp app on 127.0.0.1 whose every request passes
    through one pipeline: request log → injected fault → authentication → rate budget →
    the account's gates (role, plan) → route → spoiled answer → headers. A vendor's fake
    supplies each step's words (its 401, 429 and 403 bodies, its headers) and its routes."""

    base_url: str = ""
    _runner: web.AppRunner | None = None
    GATES: tuple[Gate, ...] = ()
    SPOILED_BY: frozenset[str] = SPOILS
    """The injected faults this vendor's fake answers by spoiling a real answer."""
    account: Account
    requests: list[tuple[str, str]]
    _faults: Faults
    oauth: TokenIssuer | None = None
    """Expiring OAuth tokens: its token endpoint, and the bearer tokens it issued."""
    OAUTH: dict[str, Any] = {"path": "/oauth/token"}
    """The vendor's token endpoint: TokenIssuer's path, json_body, lifetime_s, rotate and
    refusal as the vendor has them."""
    clock: Clock

    def expiring_tokens(self, **over: Any) -> TokenIssuer:
        """Issue OAuth tokens that expire, as this vendor does (``over``: lifetime_s, rotate,
        prefix, ...); the fixed ``oauth_token``, if any, still works."""
        self.oauth = TokenIssuer(clock=self.clock, **{**self.OAUTH, **over})
        return self.oauth

    def _routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    # -- the pipeline's steps, in the vendor's words ----------------------------------------

    def _before(self, request: web.Request) -> web.StreamResponse | None:
        """An answer before anything else (a hibernating instance), or None."""
        return None

    def _take_fault(self, request: web.Request) -> Fault | None:
        return self._faults.take(request.path)

    def _fault_response(self, fault: Fault) -> web.StreamResponse:
        raise NotImplementedError

    def _authenticate(self, request: web.Request) -> web.StreamResponse | None:
        """The vendor's 401 for a request whose credentials are wrong, or None."""
        raise NotImplementedError

    def _bearer_valid(self, token: str, static: str | None) -> bool:
        """A bearer token is the fake's fixed one, or one its issuer gave that has not expired."""
        if static is not None and token == static:
            return True
        return self.oauth is not None and self.oauth.valid(token)

    def _budget(self, request: web.Request) -> web.StreamResponse | None:
        """The vendor's 429 when a limit is spent (and the request counted), or None."""
        return None

    def _refuse(self, request: web.Request, gate: Gate | None, missing: str) -> web.StreamResponse:
        """The vendor's answer to a request this account may not make: ``missing`` is
        "role" (the token's user may not) or the feature the plan lacks."""
        return web.json_response({"error": "Forbidden"}, status=403)

    def _failed(self, exc: HttpError) -> web.StreamResponse:
        """A route's HttpError as the vendor words it."""
        return web.json_response(exc.body or {}, status=exc.status)

    def _spoil(self, response: web.Response, fault: str) -> web.Response:
        return spoiled(response, fault)

    def _headed(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """The vendor's headers on every answer (rate limits)."""
        return response

    # -- the pipeline -------------------------------------------------------------------------

    def _gated(self, request: web.Request) -> web.StreamResponse | None:
        account = getattr(self, "account", None)
        if account is None:
            return None
        for g in self.GATES:
            if not g.applies(request):
                continue
            if g.feature is not None and not account.has(g.feature):
                return self._refuse(request, g, g.feature)
            if g.roles is not None and account.role not in g.roles:
                return self._refuse(request, g, "role")
        return None

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        early = self._before(request)
        if early is not None:
            return early
        fault = self._take_fault(request)
        spoil = None
        if fault is not None and fault.fault in self.SPOILED_BY:
            spoil = fault.fault
        elif fault is not None and fault.fault == "slow":
            await asyncio.sleep(fault.delay_s)
        elif fault is not None and fault.fault == "403":
            return self._headed(request, self._refuse(request, None, "role"))
        elif fault is not None and fault.fault in REFUSALS:
            return self._headed(request, self._failed(HttpError(int(fault.fault))))
        elif fault is not None:
            return self._headed(request, self._fault_response(fault))
        if self.oauth is not None and self.oauth.serves(request):
            return await self.oauth.answer(request)
        refused = self._authenticate(request) or self._budget(request) or self._gated(request)
        if refused is not None:
            return self._headed(request, refused)
        try:
            response = await handler(request)
        except HttpError as exc:
            response = self._failed(exc)
        if spoil is not None and isinstance(response, web.Response):
            response = self._spoil(response, spoil)
        return self._headed(request, response)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port) and return the base URL."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._serve(request, handler)

        app = web.Application(middlewares=[middleware])
        app.add_routes(self._routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self.base_url = f"http://{host}:{runner.addresses[0][1]}"
        await self._started()
        return self.base_url

    async def stop(self) -> None:
        await self._stopping()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _started(self) -> None:
        """After the server is up (a fake that sends webhooks starts its sender here)."""

    async def _stopping(self) -> None:
        """Before the server goes down."""


def spoiled(response: web.Response, fault: str) -> web.Response:
    """An answer cut in half (``truncated``) or without its main key (``wrong_shape``: the
    envelope's first key, or a bare list's first record), keeping every header but the
    body's own, so the rate-limit headers still arrive as the vendor sends them."""
    body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b""
    if fault == "truncated":
        out_body = body[: len(body) // 2]
    else:
        data = json.loads(body) if body else {}
        if isinstance(data, dict) and data:
            data.pop(next(iter(data)))
        elif isinstance(data, list):  # an envelope where a bare array was promised
            data = {"results": data}
        out_body = json.dumps(data).encode()
    out = web.Response(status=response.status, body=out_body, content_type="application/json")
    for name, value in response.headers.items():
        if name.lower() not in ("content-length", "content-type", "content-encoding"):
            out.headers[name] = value
    return out


class FedFake(Protocol):
    floor_clock: Clock

    def feed(self, events: Iterable[NewEvent]) -> None: ...


BACKFILL_STEP_S = 60.0
"""The simulated time fed at once while a fake catches up with its floor's clock."""


async def run_simulated(
    fake: FedFake,
    options: SimOptions,
    *,
    epoch: float | None = None,
    clock: Clock = time.time,
    fed: asyncio.Event | None = None,
) -> None:
    """Drive a FloorSimulation in real time and feed ``fake`` until cancelled.

    The warm-up is back-filled at once, a simulated minute at a time so the fake answers
    requests meanwhile (an hour of a 10,000-agent floor takes a minute to simulate), and
    ``fed`` is set when it is in; then the floor advances with ``clock`` times
    ``options.speed`` (None: as fast as it can, then it idles, still serving). At speeds other
    than 1 the fake's ``floor_clock`` is set to the simulated floor's time, so waits, edits
    and the export lag agree with the fed timestamps. ``epoch`` (the floor's 08:00) defaults
    to ``options.epoch``, else to the warm-up's end being now.
    """
    wall_start = clock()
    if epoch is None:
        epoch = options.epoch if options.epoch is not None else round(wall_start - options.warmup_s)
    floor_epoch = epoch
    sim = FloorSimulation(options, floor_epoch)
    speed = options.speed
    end = None if options.hours is None else options.hours * 3600

    def sim_time() -> float:
        if speed is None:
            return math.inf
        return options.warmup_s + (clock() - wall_start) * speed

    if speed != 1.0:
        fake.floor_clock = lambda: floor_epoch + (sim.t if speed is None else sim_time())
    while True:
        until = sim_time() if end is None else min(sim_time(), end)
        if math.isinf(until):
            nxt = sim.next_due()
            until = nxt + 60.0 if nxt is not None else sim.t
        while sim.t + BACKFILL_STEP_S < until:
            fake.feed(sim.advance(sim.t + BACKFILL_STEP_S))
            await asyncio.sleep(0)
        fake.feed(sim.advance(until))
        if fed is not None:
            fed.set()
        finished = (end is not None and sim.t >= end) or (speed is None and sim.next_due() is None)
        if finished:
            await asyncio.Event().wait()  # keep serving what was fed until cancelled
        await asyncio.sleep(0 if speed is None else 0.25)
