"""What every polling adapter needs from HTTP: a client that never leaks its credentials,
clear errors for each way a call can fail, and a rate-limit budget.

The budget keeps our own use under a share of the plan's per-minute limit (50 % by
default, so other integrations on the account keep theirs), reads what the server says is
left, and stops every call until ``Retry-After`` has passed after a 429.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
import stat
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from supervisor_tui.adapters.base import SourceSetupError
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import Reason
from supervisor_tui.model.reasons import english, reason

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class ApiError(Exception):
    """A call failed. ``retryable`` says whether trying again later can help. ``said``: the
    message as a code (``model.reasons``), so the board says it in its own language; the
    message itself stays English (logs)."""

    retryable = True

    def __init__(
        self, message: str | Reason, *, status: int | None = None, said: Reason | None = None
    ) -> None:
        if isinstance(message, Reason):
            said, message = message, english(message)
        super().__init__(message)
        self.status = status
        self.said = said


class AuthFailed(ApiError):
    """The credentials were refused (401): nothing will work until they are fixed. ``fix``
    says how, when the message does not already say it."""

    retryable = False

    def __init__(
        self,
        message: str | Reason,
        *,
        status: int | None = None,
        fix: str = N_("check the credentials"),
    ) -> None:
        super().__init__(message, status=status)
        self.fix = fix


class RenewalFailed(Exception):
    """An auth flow could not renew its credentials (an OAuth refresh). ``permanent``: only
    the user can fix it, and the message says how; otherwise trying again later may help."""

    def __init__(self, message: str | Reason, *, permanent: bool) -> None:
        said = message if isinstance(message, Reason) else None
        super().__init__(english(message) if isinstance(message, Reason) else message)
        self.permanent = permanent
        self.said = said


class Unavailable(ApiError):
    """This account may not read this endpoint (403), or does not have it (404, 410, an
    absent table): one capability is missing, the credentials are fine."""

    retryable = False


class Forbidden(Unavailable):
    """403: a role, a scope, a plan or an ACL keeps this endpoint from these credentials."""


class NotFound(Unavailable):
    """404 (410 too): the endpoint or the record is not there."""


class RateLimited(ApiError):
    def __init__(
        self,
        message: str | Reason,
        *,
        retry_at: float,
        family: str | None = None,
        paced: bool = False,
    ) -> None:
        super().__init__(message, status=429)
        self.retry_at = retry_at
        self.family = family
        """The endpoint family whose limit was hit; None: the account's shared limit."""
        self.paced = paced
        """Held back by us, not refused: the server said that family's minute was spent
        (a first sync paging as fast as the endpoint allows). Nothing is wrong."""


class ServerError(ApiError):
    """5xx or a timeout: the helpdesk is having trouble; try again with back-off."""


class Unreachable(ApiError):
    """No answer at all: DNS, refused connection, TLS, reset."""


class BadBody(ApiError):
    """The answer is not what the API documents (not JSON, cut short, wrong shape)."""

    def __init__(self, message: str | Reason, *, raw: str, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.raw = raw


class Conflict(ApiError):
    """409: someone changed the record since we read it (``safe_update``)."""


@dataclass(frozen=True, slots=True)
class RateFigures:
    """What a helpdesk said of its rate limit on one answer, in neutral terms: each adapter
    reads its vendor's headers into this, and the budget reads only this."""

    limit_per_minute: int | None = None
    remaining: int | None = None
    """Requests left in the server's current window."""
    reset_s: float | None = None
    """Seconds until that window resets."""
    cost: int | None = None
    """What this call counted as against the limit (Freshdesk's credits), when above 1."""
    family_spent: bool = False
    """The endpoint's own limit (not the account's) is what is spent: a 429 with this holds
    back that endpoint family only, and a 200 with it holds the family's next call until
    ``family_reset_s`` (paced, not refused)."""
    family_reset_s: float | None = None
    """Seconds until the endpoint's own window resets."""


def no_rate_figures(headers: Mapping[str, str]) -> RateFigures:
    return RateFigures()


@dataclass(slots=True)
class RateBudget:
    """Our share of the account's per-minute request limit.

    ``wait_s(hot=...)`` says whether a call may go now: cold calls (ratings, policies, the
    agent list) only while less than ``cold_share`` of our minute is spent, so the hot
    ones (agent state, queue activity, new tickets) always find room. A 429 holds back the
    endpoint family that got it (``family``: an endpoint with a limit of its own, such as
    Zendesk's incremental exports), or every call when it hit the account's shared limit.
    """

    limit_per_minute: int
    share: float = 0.5
    cold_share: float = 0.7
    clock: Clock = time.time
    server_limit: int | None = None
    server_remaining: int | None = None
    server_reset_s: float | None = None
    server_reset_at: float | None = None
    """When the server said its window resets (``server_reset_s`` after it said so)."""
    _held: dict[str | None, float] = field(default_factory=dict)
    """Until when each family (None: the whole account) is held back after a 429."""
    _paced: set[str] = field(default_factory=set)
    """The families held because the server said their minute was spent, not after a 429."""
    _sent: deque[float] = field(default_factory=deque)
    requests: int = 0
    credits: int = 0
    """What the requests counted against the limit (a Freshdesk call with includes counts
    more than one)."""

    @property
    def retry_at(self) -> float:
        """Until when every call is held back (a 429 on the account's shared limit)."""
        return self._held.get(None, 0.0)

    def held_until(self, family: str | None = None) -> float:
        """Until when a call of this family is held back (0: it is not)."""
        own = self._held.get(family, 0.0) if family is not None else 0.0
        return max(self.retry_at, own)

    @property
    def allowed_per_minute(self) -> int:
        limit = self.server_limit or self.limit_per_minute
        return max(1, math.floor(min(limit, self.limit_per_minute) * self.share))

    def used_last_minute(self) -> int:
        now = self.clock()
        while self._sent and self._sent[0] <= now - 60:
            self._sent.popleft()
        return len(self._sent)

    def wait_s(self, *, hot: bool = True, family: str | None = None) -> float:
        """Seconds until a call of this temperature (and family) may go (0: now)."""
        now = self.clock()
        held = self.held_until(family)
        if held > now:
            return held - now
        allowed = (
            self.allowed_per_minute
            if hot
            else max(1, int(self.allowed_per_minute * self.cold_share))
        )
        used = self.used_last_minute()
        if self.server_remaining is not None and self.server_limit:
            # the account as a whole is nearly out (other integrations use it too)
            floor = self.server_limit * (1 - self.share) * (0.2 if hot else 0.5)
            if self.server_remaining < floor and self.server_reset_s:
                # the window resets when the server said; a figure from before that is stale
                left = (
                    self.server_reset_s
                    if self.server_reset_at is None
                    else self.server_reset_at - now
                )
                if left > 0:
                    return max(0.5, left)
        if used < allowed:
            return 0.0
        return max(0.05, self._sent[used - allowed] + 60 - now)

    def spend(self) -> None:
        self._sent.append(self.clock())
        self.requests += 1
        self.credits += 1

    def observe(self, figures: RateFigures) -> None:
        """What the server said of its limit, read by the adapter from its own headers."""
        if figures.cost is not None and figures.cost > 1 and self._sent:
            self._sent.extend([self._sent[-1]] * (figures.cost - 1))
            self.credits += figures.cost - 1
        if figures.limit_per_minute:
            self.server_limit = figures.limit_per_minute
        if figures.remaining is not None:
            self.server_remaining = figures.remaining
        if figures.reset_s is not None:
            self.server_reset_s = float(figures.reset_s)
            self.server_reset_at = self.clock() + float(figures.reset_s)

    def back_off(self, retry_after_s: float, family: str | None = None) -> float:
        """Hold back this family (None: every call) until ``retry_after_s`` from now."""
        until = max(self._held.get(family, 0.0), self.clock() + max(1.0, retry_after_s))
        self._held[family] = until
        if family is not None:
            self._paced.discard(family)
        return until

    def pace(self, family: str, reset_s: float) -> None:
        """The server said this family's minute is spent: its next call waits for the reset
        instead of earning a 429."""
        if self._held.get(family, 0.0) > self.clock() and family not in self._paced:
            return  # already held by a 429: that says more
        self._held[family] = self.clock() + max(1.0, reset_s)
        self._paced.add(family)

    def paced(self, family: str | None) -> bool:
        """Is this family held by pacing only (not by a 429, its own or the account's)?"""
        now = self.clock()
        return family in self._paced and self.retry_at <= now < self._held.get(family, 0.0)

    def fraction_left(self) -> float:
        """Our minute's share still unspent, 0..1 (shown in the freshness bar)."""
        allowed = self.allowed_per_minute
        return max(0.0, min(1.0, (allowed - self.used_last_minute()) / allowed))


def header_int(value: str | None) -> int | None:
    """A number from a header, or None when it is absent or not a number."""
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def iso_seconds_from_now(value: str | None, now: float) -> int | None:
    """An ISO 8601 time in a header ("2026-11-25T17:04Z") as whole seconds from ``now``; a
    time without a zone is refused (it would be read as this machine's local time)."""
    if not value or "T" not in value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return max(0, math.ceil(at.timestamp() - now))


def retry_after_s(headers: Mapping[str, str], default: float = 30.0) -> float:
    value = headers.get("retry-after")
    if value is None:
        return default
    try:
        return max(1.0, float(value.strip()))
    except ValueError:
        return default


class JsonApi:
    """A JSON-over-HTTPS client for one helpdesk account.

    Errors carry the method, the path and the status, never a header or the query
    string's secrets, so they can be logged and shown on the wall as they are.
    """

    def __init__(
        self,
        base_url: str,
        *,
        label: str,
        budget: RateBudget,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_figures: Callable[[Mapping[str, str]], RateFigures] = no_rate_figures,
        family_of: Callable[[str], str | None] = lambda path: None,
        credential: tuple[str, str] = ("credentials", ""),
    ) -> None:
        """``rate_figures`` reads the vendor's rate-limit headers; ``family_of`` names the
        endpoint family of a path whose limit is its own (None: the account's shared limit);
        ``credential`` says which credential a 401 refused: a ``reasons.CREDENTIALS`` code and
        whose it is (``("api_token_of", "a@b.c")``), so the board says it in its language."""
        self.base_url = base_url.rstrip("/")
        self.label = label
        self.budget = budget
        self.rate_figures = rate_figures
        self.family_of = family_of
        self.credential = credential
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=auth,
            headers={
                "Accept": "application/json",
                "User-Agent": "supervisor-tui",
                **(headers or {}),
            },
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            follow_redirects=False,
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> Any:
        """One call: JSON in, JSON out, or one of the ApiError kinds."""
        value, _ = await self.request_with_headers(method, path, params=params, body=body, ok=ok)
        return value

    async def request_with_headers(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> tuple[Any, Mapping[str, str]]:
        """As ``request``, with the answer's headers (pagination is in ``Link``)."""
        where = f"{method} {_path_only(path)}"
        family = self.family_of(_path_only(path))
        now = self.budget.clock()
        held = self.budget.held_until(family)
        if held > now:
            raise RateLimited(
                _rate_limited(self.label, family, math.ceil(held - now)),
                retry_at=held,
                family=family if self.budget.retry_at <= now else None,
                paced=self.budget.paced(family),
            )
        self.budget.spend()
        try:
            response = await self._client.request(method, path, params=params, json=body)
        except httpx.TimeoutException:
            raise ServerError(reason("timed_out", source=self.label, where=where)) from None
        except RenewalFailed as exc:
            if exc.permanent:
                raise AuthFailed(exc.said or f"{self.label}: {exc}", status=401, fix="") from None
            raise ServerError(
                exc.said or reason("renewal_failed", source=self.label, detail=exc)
            ) from None
        except httpx.TransportError as exc:
            raise Unreachable(
                reason("unreachable", source=self.label, error=type(exc).__name__)
            ) from None
        figures = self.rate_figures(response.headers)
        self.budget.observe(figures)
        status = response.status_code
        if status != 429 and family is not None and figures.family_spent:
            self.budget.pace(family, figures.family_reset_s or 60.0)
        if status == 429:
            family = family if figures.family_spent else None
            wait = retry_after_s(response.headers)
            retry_at = self.budget.back_off(wait, family)
            log.warning(
                "%s: 429 on %s; %s held back %d s (Retry-After %s; %d left of the budget's minute)",
                self.label,
                where,
                f"calls on {family}" if family else "every call",
                math.ceil(retry_at - self.budget.clock()),
                response.headers.get("retry-after", "absent")[:20],
                max(0, self.budget.allowed_per_minute - self.budget.used_last_minute()),
            )
            raise RateLimited(
                _rate_limited(self.label, family, math.ceil(wait)),
                retry_at=retry_at,
                family=family,
            )
        if status == 401:
            raise AuthFailed(
                reason(
                    "auth_refused",
                    source=self.label,
                    credential=self.credential[0],
                    who=self.credential[1],
                    where=where,
                ),
                status=status,
            )
        if status == 403:
            raise Forbidden(
                reason(
                    "forbidden", source=self.label, where=where, excerpt=_excerpt(response.text)
                ),
                status=403,
            )
        if status in (404, 410):
            raise NotFound(
                reason("not_found", source=self.label, where=where, status=status), status=status
            )
        if status == 409:
            raise Conflict(reason("conflict", source=self.label, where=where), status=409)
        if status >= 500:
            raise ServerError(
                reason("server_error", source=self.label, where=where, status=status),
                status=status,
            )
        text = response.text
        if status not in ok:
            raise ApiError(
                reason(
                    "answered",
                    source=self.label,
                    where=where,
                    status=status,
                    excerpt=_excerpt(text),
                ),
                status=status,
            )
        try:
            return json.loads(text), response.headers
        except ValueError:
            raise BadBody(
                f"{self.label}: {where} answered {status} with a body that is not JSON",
                raw=text[:4000],
                status=status,
            ) from None

    async def get(
        self, path: str, params: Mapping[str, Any] | list[tuple[str, Any]] | None = None
    ) -> Any:
        return await self.request("GET", path, params=params)


def _rate_limited(label: str, family: str | None, seconds: int) -> Reason:
    if family:
        return reason("rate_limited_on", source=label, family=family, seconds=seconds)
    return reason("rate_limited", source=label, seconds=seconds)


def _path_only(path: str) -> str:
    """The path without its query string (cursors are long, and queries may hold secrets)."""
    return path.split("?", 1)[0]


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def expect(body: Any, key: str, kind: type, *, label: str, where: str) -> Any:
    """``body[key]``, checked to be of ``kind``, or BadBody naming what is missing."""
    if not isinstance(body, dict) or not isinstance(body.get(key), kind):
        raw = json.dumps(body)[:4000] if body is not None else ""
        raise BadBody(f"{label}: {where} answered without a {key!r} {kind.__name__}", raw=raw)
    return body[key]


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer …`` (OAuth tokens); its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


def write_secret_file(path: Path, value: str) -> None:
    """Replace a secret file whole or not at all, readable by its owner only: a temporary
    file beside it created 0600, synced, renamed over it, and the folder synced, so a crash
    leaves the old secret or the new one, never a torn or world-readable one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)  # mkstemp's mode already; said here for the reader
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def read_secret(*, env: str | None = None, file: str | None = None, what: str) -> str | None:
    """A secret from an environment variable or a file only its owner can read. Its errors
    are said in the floor's language (the user reads them when the floor starts)."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise SourceSetupError(
                _("{what}: environment variable {name} is not set").format(what=what, name=env)
            )
        return value.strip()
    if file:
        from supervisor_tui.files import read_small_file

        path = Path(os.path.expanduser(file))
        try:
            # a regular file only: a FIFO here would hang the start for ever
            mode, raw = read_small_file(path, 64 * 1024)
        except OSError as exc:
            raise SourceSetupError(
                _("{what}: cannot read {path} ({why})").format(
                    what=what, path=path, why=exc.strerror
                )
            ) from None
        except ValueError as exc:  # a NUL in the name
            raise SourceSetupError(
                _("{what}: cannot read {path} ({why})").format(what=what, path=repr(file), why=exc)
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SourceSetupError(
                _("{what}: {path} can be read by others (mode {mode}); run: {command}").format(
                    what=what,
                    path=path,
                    mode=f"{stat.S_IMODE(mode):o}",
                    command=f"chmod 600 {shlex.quote(str(path))}",
                )
            )
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SourceSetupError(
                _("{what}: {path} is not UTF-8 text").format(what=what, path=path)
            ) from None
    return None
