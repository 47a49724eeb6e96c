"""OAuth that lasts a shift: an access token renewed with its refresh token before it runs
out, and again when the helpdesk refuses it, so a source stays live past the token's hour.

ServiceNow (``/oauth_token.do``, a form), Atlassian 3LO (``auth.atlassian.com``, JSON) and
Zendesk (``/oauth/tokens``, JSON) all take the ``refresh_token`` grant. Atlassian and Zendesk
rotate refresh tokens: each renewal answers a new one and the old one stops working, so the
new one is written back to the refresh-token file at once, atomically and 0600, before it is
used; a restart (or a second process, such as ``check``) then starts from a token that works.

No token is ever in a log line, a message, a repr or a local variable a traceback shows: each
is a ``SecretStr`` until the moment it goes into a header or a request body.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import AsyncGenerator, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from supervisor_tui.adapters.base import Clock, SourceSetupError, source_named
from supervisor_tui.adapters.http import RenewalFailed, read_secret, write_secret_file
from supervisor_tui.i18n import _
from supervisor_tui.model.events import Reason
from supervisor_tui.model.reasons import english, reason

log = logging.getLogger(__name__)

Vendor = Literal["servicenow", "atlassian", "zendesk"]
TOKEN_URLS: dict[Vendor, str] = {
    "servicenow": "{base_url}/oauth_token.do",
    "atlassian": "https://auth.atlassian.com/oauth/token",
    "zendesk": "{base_url}/oauth/tokens",
}
JSON_BODY: dict[Vendor, bool] = {"servicenow": False, "atlassian": True, "zendesk": True}
"""ServiceNow's token endpoint takes a form only; Atlassian's and Zendesk's take JSON."""
RENEW_EARLY_S = 300.0
"""A token is renewed this long before it runs out (a fifth of its life, when shorter)."""
RETRY_RENEWAL_S = 30.0
"""After a renewal failed for a passing reason, the old token is used this long first."""
TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class OAuthRefresh:
    """How a source renews its OAuth access token (from the config's ``oauth_*`` keys)."""

    vendor: Vendor
    token_url: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    refresh_token_file: Path
    access_token: SecretStr | None = field(default=None, repr=False)
    """The first access token (``oauth_token_env``); without it, the first request renews."""
    source: str = ""
    """The source's name, for the log."""

    @property
    def credential(self) -> tuple[str, str]:
        """Which credential a 401 refused, without its value (``reasons.CREDENTIALS``)."""
        return ("oauth_renewed", str(self.refresh_token_file))

    def auth(self, clock: Clock = time.time) -> RefreshingAuth:
        return RefreshingAuth(self, clock)


def oauth_refresh_of(
    name: str, settings: Mapping[str, Any], *, vendor: Vendor, base_url: str
) -> OAuthRefresh | None:
    """A source's OAuth renewal from its config, None when it has no refresh-token file. The
    file and the client secret are read now, so a source that cannot renew fails at start."""
    file = settings.get("oauth_refresh_token_file")
    if not file:
        return None
    what = source_named(name)
    client_id = settings.get("oauth_client_id")
    if not client_id:
        raise SourceSetupError(
            _("{what}: {key} needs {other}").format(
                what=what, key="oauth_refresh_token_file", other="oauth_client_id"
            )
        )
    secret = read_secret(
        env=settings.get("oauth_client_secret_env"),
        file=settings.get("oauth_client_secret_file"),
        what=_("{what} OAuth client secret").format(what=what),
    )
    if not secret:
        raise SourceSetupError(
            _("{what}: {key} needs {other}").format(
                what=what,
                key="oauth_refresh_token_file",
                other="oauth_client_secret_env / oauth_client_secret_file",
            )
        )
    path = Path(file).expanduser()
    if not read_secret(file=str(path), what=_("{what} OAuth refresh token").format(what=what)):
        raise SourceSetupError(
            _("{what}: {path} is empty: authorize the app and put its refresh token there").format(
                what=what, path=path
            )
        )
    first = read_secret(env=settings.get("oauth_token_env"), what=what)
    return OAuthRefresh(
        vendor=vendor,
        token_url=settings.get("oauth_token_url") or TOKEN_URLS[vendor].format(base_url=base_url),
        client_id=str(client_id),
        client_secret=SecretStr(secret),
        refresh_token_file=path,
        access_token=SecretStr(first) if first else None,
        source=name,
    )


@dataclass(frozen=True, slots=True)
class _Grant:
    access: SecretStr = field(repr=False)
    refresh: SecretStr | None = field(repr=False)
    expires_in: float | None


class RefreshingAuth(httpx.Auth):
    """A bearer token on every request, renewed with the refresh-token grant shortly before
    ``expires_in`` runs out and when a request is refused (401, then sent once more). One
    lock: requests that find the token due wait for one renewal, not one each."""

    def __init__(self, settings: OAuthRefresh, clock: Clock = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._access = settings.access_token
        self._expires_at: float | None = None
        """None: unknown (a token given by hand), used until refused."""
        self._early_s = RENEW_EARLY_S
        self._retry_at = 0.0
        self._refresh: SecretStr | None = None
        """The refresh token last read from the file or written to it."""
        self._refused: tuple[str, Reason] | None = None
        """The digest of the refresh token the helpdesk refused, and why: not sent again."""
        self._unsaved: tuple[str, SecretStr] | None = None
        """A rotated refresh token the file could not take: the digest of the dead one the
        file still holds, and the live one, saved again at the next renewal."""
        self._lock = asyncio.Lock()
        self.renewals = 0
        self.failure: Reason | None = None
        """Why the last renewal failed (what to do), None once one succeeds."""

    def __repr__(self) -> str:
        return f"RefreshingAuth({self.settings.vendor}, ***)"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, Any, None]:
        raise RuntimeError("OAuth renewal needs an async client")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._lock:
            if self._due():
                await self._renew(spent=self._spent())
            token = self._access
        assert token is not None  # _renew raised otherwise
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            if self._access is token or self._access is None:  # not renewed meanwhile
                await self._renew(spent=True)
            token = self._access
        assert token is not None
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        yield request

    # -- when ---------------------------------------------------------------------------------

    def _spent(self) -> bool:
        if self._access is None:
            return True
        return self._expires_at is not None and self.clock() >= self._expires_at

    def _due(self) -> bool:
        if self._spent():
            return True
        if self._expires_at is None:
            return False
        now = self.clock()
        return now >= self._expires_at - self._early_s and now >= self._retry_at

    # -- renewing -----------------------------------------------------------------------------

    async def _renew(self, *, spent: bool) -> None:
        """A new access token. When the old one still works (``spent`` False), a failure is
        logged and the old one used until it runs out; otherwise it is raised."""
        self._access = None if spent else self._access
        for _attempt in range(2):  # a second time when another process rotated the token meanwhile
            refresh = self._read_refresh_token(spent)
            if refresh is None:
                return
            refused = self._refused
            if refused is not None and refused[0] == _digest(refresh):
                self._fail(refused[1], spent=spent)
                return
            answer = await self._ask(refresh, spent)
            if answer is None:
                return
            status, grant, code = answer
            if grant is not None:
                self._take(grant, refresh)
                return
            if status >= 500 or status == 429 or status < 400:
                self._fail(
                    self._reason("renewal_failed", oauth="answered", status=status), spent=spent
                )
                return
            why = self._refusal(code or f"HTTP {status}")
            self._refused = (_digest(refresh), why)
            if self._file_token() not in (None, refresh.get_secret_value()):
                continue  # the file holds a newer token (``check`` rotated it): try that one
            self._fail(why, spent=spent)
            return

    def _read_refresh_token(self, spent: bool) -> SecretStr | None:
        """The refresh token: the file's, which may have been replaced since we read it (a
        new authorization, another process's rotation)."""
        path = self.settings.refresh_token_file
        try:
            value = read_secret(file=str(path), what="the refresh token file")
        except SourceSetupError as exc:
            # its mode or owner when it exists: the message says the fix
            how = "file_unreadable" if path.exists() else "file_missing"
            self._fail(
                self._reason("renewal_refused", oauth=how, error=exc, path=path),
                spent=spent,
            )
            return None
        if not value:
            self._fail(self._reason("renewal_refused", oauth="file_empty", path=path), spent=spent)
            return None
        if self._unsaved is not None and self._unsaved[0] == _digest(SecretStr(value)):
            # the file still holds the token we rotated away from: ours is the live one
            live = self._unsaved[1]
            self._save(live)
            return live
        if self._refresh is None or self._refresh.get_secret_value() != value:
            self._refresh = SecretStr(value)
        return self._refresh

    def _file_token(self) -> str | None:
        try:
            return read_secret(file=str(self.settings.refresh_token_file), what="refresh token")
        except SourceSetupError:
            return None

    async def _ask(
        self, refresh: SecretStr, spent: bool
    ) -> tuple[int, _Grant | None, str | None] | None:
        """The token endpoint's answer: its status, the grant (when it gave one) and its error
        code (when it refused); None when it could not be asked (said through ``_fail``)."""
        s = self.settings
        body = {
            "grant_type": "refresh_token",
            "client_id": s.client_id,
            "client_secret": s.client_secret.get_secret_value(),
            "refresh_token": refresh.get_secret_value(),
        }
        unreachable = ""
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
                if JSON_BODY[s.vendor]:
                    response = await client.post(s.token_url, json=body)
                else:
                    response = await client.post(s.token_url, data=body)
        except httpx.HTTPError as exc:
            unreachable = type(exc).__name__
        finally:
            body.clear()  # a traceback shows locals: the secrets leave them now
        if unreachable:
            self._fail(
                self._reason("renewal_failed", oauth="unreachable", error=unreachable), spent=spent
            )
            return None
        if response.status_code == 200:
            grant = _grant_of(response.content)
            if grant is None:
                self._fail(self._reason("renewal_failed", oauth="no_access_token"), spent=spent)
                return None
            return 200, grant, None
        return response.status_code, None, _error_code(response.content)

    def _take(self, grant: _Grant, used: SecretStr) -> None:
        now = self.clock()
        new = grant.refresh
        if new is not None and new.get_secret_value() != used.get_secret_value():
            # the old one no longer works: the new one must outlive this process
            self._unsaved = (_digest(used), new)
            self._save(new)
            self._refresh = new
        self._access = grant.access
        if grant.expires_in:
            self._expires_at = now + grant.expires_in
            self._early_s = min(RENEW_EARLY_S, grant.expires_in / 5)
        else:
            self._expires_at = None
        self._retry_at = 0.0
        self._refused = None
        self.failure = None
        self.renewals += 1
        log.info(
            "%s: OAuth access token renewed (valid %s s)",
            self.settings.source,
            "?" if grant.expires_in is None else int(grant.expires_in),
        )

    def _save(self, token: SecretStr) -> None:
        try:
            write_secret_file(self.settings.refresh_token_file, token.get_secret_value())
        except OSError as exc:
            log.error(
                "%s: the new OAuth refresh token could not be saved to %s (%s): it lives "
                "in memory only (tried again at the next renewal); after a restart, "
                "authorize again",
                self.settings.source,
                self.settings.refresh_token_file,
                exc.strerror or type(exc).__name__,
            )
            return
        self._unsaved = None

    def _reason(self, code: str, **values: object) -> Reason:
        return reason(code, source=self.settings.source, **values)

    def _refusal(self, code: str) -> Reason:
        how = "refused_client" if code == "invalid_client" else "refused"
        return self._reason(
            "renewal_refused", oauth=how, error=code, path=self.settings.refresh_token_file
        )

    def _fail(self, why: Reason, *, spent: bool) -> None:
        """``why``'s code says whether only the user can fix it (``renewal_refused``) or
        trying again later may help (``renewal_failed``); its values are said in words
        through ``model.reasons`` (English in the log, the floor's language on the board)."""
        permanent = why.code == "renewal_refused"
        if permanent:
            self.failure = why
        if not spent:
            # the token in hand still works: keep it, try again a little later
            self._retry_at = self.clock() + RETRY_RENEWAL_S
            log.warning("%s (the current token is used meanwhile)", english(why))
            return
        raise RenewalFailed(why, permanent=permanent)


def _digest(token: SecretStr) -> str:
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _grant_of(content: bytes) -> _Grant | None:
    """The tokens of a token endpoint's answer; never raises, so no traceback shows them."""
    body = _json_object(content)
    if body is None:
        return None
    access, refresh, expires = (
        body.get("access_token"),
        body.get("refresh_token"),
        body.get("expires_in"),
    )
    body.clear()
    if not isinstance(access, str) or not access:
        return None
    lifetime: float | None = None
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        lifetime = float(expires) if math.isfinite(expires) and expires > 0 else None
    elif isinstance(expires, str) and expires.strip().isdigit():
        lifetime = float(expires.strip()) or None
    return _Grant(
        SecretStr(access),
        SecretStr(refresh) if isinstance(refresh, str) and refresh else None,
        lifetime,
    )


def _error_code(content: bytes) -> str | None:
    """The OAuth error code of a refusal ("invalid_grant"); ServiceNow says "server_error"
    with the reason ("access_denied") in ``error_description``. Only a short code is kept:
    the rest of a body is not ours to show."""
    body = _json_object(content)
    if body is None:
        return None
    for key in ("error", "error_description"):
        value = body.get(key)
        if (
            isinstance(value, str)
            and value != "server_error"
            and len(value) <= 40
            and value.replace("_", "").isalnum()
        ):
            return value
    return None
