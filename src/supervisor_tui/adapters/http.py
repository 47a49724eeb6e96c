"""What every polling adapter needs from HTTP: a client that never leaks its credentials,
clear errors for each way a call can fail, and a rate-limit budget.

The budget keeps our own use under a share of the plan's per-minute limit (50 % by
default, so other integrations on the account keep theirs), reads what the server says is
left, and stops every call until ``Retry-After`` has passed after a 429.
"""

from __future__ import annotations

import json
import math
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from supervisor_tui.adapters.base import SourceSetupError

Clock = Callable[[], float]


class ApiError(Exception):
    """A call failed. ``retryable`` says whether trying again later can help."""

    retryable = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthFailed(ApiError):
    """The credentials were refused (401/403): nothing will work until they are fixed."""

    retryable = False


class RateLimited(ApiError):
    def __init__(self, message: str, *, retry_at: float) -> None:
        super().__init__(message, status=429)
        self.retry_at = retry_at


class ServerError(ApiError):
    """5xx or a timeout: the helpdesk is having trouble; try again with back-off."""


class Unreachable(ApiError):
    """No answer at all: DNS, refused connection, TLS, reset."""


class BadBody(ApiError):
    """The answer is not what the API documents (not JSON, cut short, wrong shape)."""

    def __init__(self, message: str, *, raw: str, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.raw = raw


class Conflict(ApiError):
    """409: someone changed the record since we read it (``safe_update``)."""


class NotFound(ApiError):
    retryable = False


@dataclass(slots=True)
class RateBudget:
    """Our share of the account's per-minute request limit.

    ``take(hot=...)`` says whether a call may go now: cold calls (ratings, policies, the
    agent list) only while less than ``cold_share`` of our minute is spent, so the hot
    ones (agent state, queue activity, new tickets) always find room.
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
    retry_at: float = 0.0
    _sent: deque[float] = field(default_factory=deque)
    requests: int = 0

    @property
    def allowed_per_minute(self) -> int:
        limit = self.server_limit or self.limit_per_minute
        return max(1, math.floor(min(limit, self.limit_per_minute) * self.share))

    def used_last_minute(self) -> int:
        now = self.clock()
        while self._sent and self._sent[0] <= now - 60:
            self._sent.popleft()
        return len(self._sent)

    def wait_s(self, *, hot: bool = True) -> float:
        """Seconds until a call of this temperature may go (0: now)."""
        now = self.clock()
        if self.retry_at > now:
            return self.retry_at - now
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

    def observe(self, headers: Mapping[str, str]) -> None:
        """What the server says: Zendesk's ``X-Rate-Limit`` / ``ratelimit-*``, Freshdesk's
        ``X-RateLimit-Total`` / ``-Remaining`` / ``-Used-CurrentRequest`` (a call that costs
        more than one credit counts as that many here), Jira's ``X-RateLimit-Limit`` /
        ``-Remaining`` / ``-Reset`` (an ISO 8601 time)."""
        limit = _int(
            headers.get("x-rate-limit")
            or headers.get("ratelimit-limit")
            or headers.get("x-ratelimit-total")
            or headers.get("x-ratelimit-limit")
        )
        remaining = _int(
            headers.get("x-rate-limit-remaining")
            or headers.get("ratelimit-remaining")
            or headers.get("x-ratelimit-remaining")
        )
        reset = _int(headers.get("ratelimit-reset"))
        if reset is None:
            reset = self._iso_reset(headers.get("x-ratelimit-reset"))
        if headers.get("x-ratelimit-rule") is not None:
            # ServiceNow's rate limit rules: the limit is an hour's, the reset a UNIX time
            hourly = _int(headers.get("x-ratelimit-limit"))
            limit = max(1, hourly // 60) if hourly else None
            at = _int(headers.get("x-ratelimit-reset"))
            reset = None if at is None else max(0, at - math.floor(self.clock()))
        credits = _int(headers.get("x-ratelimit-used-currentrequest"))
        if credits is not None and credits > 1 and self._sent:
            self._sent.extend([self._sent[-1]] * (credits - 1))
        if limit:
            self.server_limit = limit
        if remaining is not None:
            self.server_remaining = remaining
        if reset is not None:
            self.server_reset_s = float(reset)
            self.server_reset_at = self.clock() + float(reset)

    def _iso_reset(self, value: str | None) -> int | None:
        """Jira's ``X-RateLimit-Reset`` ("2026-11-25T17:04Z", ISO 8601) as seconds from now."""
        if not value or "T" not in value:
            return None
        try:
            at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return max(0, math.ceil(at.timestamp() - self.clock()))

    def back_off(self, retry_after_s: float) -> float:
        self.retry_at = max(self.retry_at, self.clock() + max(1.0, retry_after_s))
        return self.retry_at

    def fraction_left(self) -> float:
        """Our minute's share still unspent, 0..1 (shown in the freshness bar)."""
        allowed = self.allowed_per_minute
        return max(0.0, min(1.0, (allowed - self.used_last_minute()) / allowed))


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


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
    ) -> None:
        self.label = label
        self.budget = budget
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
        now = self.budget.clock()
        if self.budget.retry_at > now:
            raise RateLimited(
                f"{self.label}: 429, retry in {math.ceil(self.budget.retry_at - now)} s",
                retry_at=self.budget.retry_at,
            )
        self.budget.spend()
        try:
            response = await self._client.request(method, path, params=params, json=body)
        except httpx.TimeoutException:
            raise ServerError(f"{self.label}: {where} timed out") from None
        except httpx.TransportError as exc:
            raise Unreachable(
                f"{self.label}: cannot reach the server ({type(exc).__name__})"
            ) from None
        self.budget.observe(response.headers)
        status = response.status_code
        if status == 429:
            wait = retry_after_s(response.headers)
            retry_at = self.budget.back_off(wait)
            raise RateLimited(f"{self.label}: 429, retry in {math.ceil(wait)} s", retry_at=retry_at)
        if status in (401, 403):
            raise AuthFailed(
                f"{self.label}: the server refused the credentials ({status}) on {where}",
                status=status,
            )
        if status == 404:
            raise NotFound(f"{self.label}: {where} not found (404)", status=404)
        if status == 409:
            raise Conflict(f"{self.label}: {where} conflicts with a newer change (409)", status=409)
        if status >= 500:
            raise ServerError(f"{self.label}: {where} answered {status}", status=status)
        text = response.text
        if status not in ok:
            raise ApiError(
                f"{self.label}: {where} answered {status}: {_excerpt(text)}", status=status
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


def read_secret(*, env: str | None = None, file: str | None = None, what: str) -> str | None:
    """A secret from an environment variable or a file only its owner can read."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise SourceSetupError(f"{what}: environment variable {env} is not set")
        return value.strip()
    if file:
        from supervisor_tui.files import read_small_file

        path = Path(os.path.expanduser(file))
        try:
            # a regular file only: a FIFO here would hang the start for ever
            mode, raw = read_small_file(path, 64 * 1024)
        except OSError as exc:
            raise SourceSetupError(f"{what}: cannot read {path} ({exc.strerror})") from None
        except ValueError as exc:  # a NUL in the name
            raise SourceSetupError(f"{what}: cannot read {file!r} ({exc})") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SourceSetupError(
                f"{what}: {path} can be read by others (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {path}"
            )
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SourceSetupError(f"{what}: {path} is not UTF-8 text") from None
    return None
