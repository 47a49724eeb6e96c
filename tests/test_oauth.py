"""OAuth that lasts a shift: each adapter keeps its OAuth token alive against its fake, over
real HTTP on loopback, into a real SQLite store.

The fakes issue tokens that expire (``expiring_tokens``) on the fake's clock, which the
adapters share: a run through several expiries must store exactly what a run with a token that
never expires stores, with no DOWN or DEGRADED health on the way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from supervisor_tui.adapters import http
from supervisor_tui.adapters.base import SourceSetupError
from supervisor_tui.adapters.http import AuthFailed, ServerError
from supervisor_tui.adapters.jsm.adapter import JsmAdapter, JsmSettings
from supervisor_tui.adapters.oauth import OAuthRefresh, RefreshingAuth, Vendor, oauth_refresh_of
from supervisor_tui.adapters.polling import AUTH_RETRY_S, PolledSource
from supervisor_tui.adapters.servicenow.adapter import ServiceNowAdapter, ServiceNowSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.config import ConfigError, parse_config
from supervisor_tui.fakes.common import LoopbackServer, TokenIssuer
from supervisor_tui.fakes.jsm import FakeJsm
from supervisor_tui.fakes.servicenow import FakeServiceNow
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.model import HealthState, SourceHealth
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock
from .helpers import StoreSink
from .test_secrets import (
    debug_log,  # noqa: F401 - the fixture
    exception_texts,
    file_bytes,
    leaks,
    log_texts,
    object_texts,
    store_rows,
)

VENDORS = ("zendesk", "jsm", "servicenow")
EMAIL, USER = "bot@example.com", "integration"
STATIC = "static-token-not-a-secret"
CLIENT_ID = "supervisor-tui"
CLIENT_SECRET = "CANARY-client-secret-4e1d9b"
PROBE = {  # a request any token may make
    "zendesk": "/api/v2/groups.json",
    "jsm": "/rest/servicedeskapi/servicedesk",
    "servicenow": "/api/now/table/sys_user_group",
}
LIFETIME_S = 600.0
STEP_S = 60.0


@dataclass
class Desk:
    """One helpdesk's fake fed by the floor simulation, a store, and where secrets live."""

    vendor: str
    fake: Any
    sim: FloorSimulation
    clock: FakeClock
    store: SQLiteStore
    sink: StoreSink
    folder: Path

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.fake.feed(self.sim.advance(self.clock() - EPOCH))

    def expiring(self, **over: Any) -> TokenIssuer:
        issuer: TokenIssuer = self.fake.expiring_tokens(
            lifetime_s=LIFETIME_S,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            prefix=f"CANARY-{self.vendor}",
            **over,
        )
        return issuer

    def refresh_settings(self, refresh_token: str | None = None) -> OAuthRefresh:
        """The source's OAuth keys as the config gives them: the refresh token in a 0600 file."""
        secret = self.folder / "client.secret"
        secret.write_text(CLIENT_SECRET)
        secret.chmod(0o600)
        path = self.folder / "refresh.token"
        if refresh_token is not None:
            write_token(path, refresh_token)
        config: dict[str, Any] = {
            "oauth_refresh_token_file": str(path),
            "oauth_client_id": CLIENT_ID,
            "oauth_client_secret_file": str(secret),
        }
        if self.vendor == "jsm":  # auth.atlassian.com, played by the fake on its own port
            config["oauth_token_url"] = f"{self.fake.base_url}/oauth/token"
        vendor: dict[str, Vendor] = {
            "zendesk": "zendesk",
            "jsm": "atlassian",
            "servicenow": "servicenow",
        }
        refresh = oauth_refresh_of(
            self.vendor, config, vendor=vendor[self.vendor], base_url=self.fake.base_url
        )
        assert refresh is not None
        return refresh

    def adapter(
        self, *, oauth_token: str | None = None, refresh: OAuthRefresh | None = None
    ) -> PolledSource:
        base = self.fake.base_url
        adapter: PolledSource
        if self.vendor == "zendesk":
            adapter = ZendeskAdapter(
                "zendesk",
                ZendeskSettings(
                    base_url=base,
                    oauth_token=oauth_token,
                    oauth_refresh=refresh,
                    rate_limit_per_minute=5000,
                    backfill_s=2 * 86400,
                ),
                clock=self.clock,
            )
        elif self.vendor == "jsm":
            adapter = JsmAdapter(
                "jsm",
                JsmSettings(
                    base_url=base,
                    oauth_token=oauth_token,
                    oauth_refresh=refresh,
                    rate_limit_per_minute=5000,
                    backfill_s=2 * 86400,
                ),
                clock=self.clock,
            )
            adapter.sla_per_round = 10_000  # one round reads every SLA
        else:
            adapter = ServiceNowAdapter(
                "servicenow",
                ServiceNowSettings(
                    base_url=base,
                    oauth_token=oauth_token,
                    oauth_refresh=refresh,
                    rate_limit_per_minute=5000,
                    backfill_s=2 * 86400,
                ),
                clock=self.clock,
            )
        return adapter


def write_token(path: Path, token: str) -> None:
    path.write_text(token + "\n")
    path.chmod(0o600)


def fake_of(vendor: str, clock: FakeClock) -> LoopbackServer:
    if vendor == "zendesk":
        return FakeZendesk(email=EMAIL, token=STATIC, oauth_token=STATIC, clock=clock)
    if vendor == "jsm":
        return FakeJsm(email=EMAIL, token=STATIC, oauth_token=STATIC, clock=clock, rate_limit=5000)
    return FakeServiceNow(username=USER, password=STATIC, token=STATIC, clock=clock)


async def open_desk(vendor: str, folder: Path) -> Desk:
    folder.mkdir(parents=True, exist_ok=True)
    clock = FakeClock(EPOCH)
    fake = fake_of(vendor, clock)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=9, agents=16, speed=None, warmup_s=0), EPOCH)
    store = SQLiteStore(folder / "floor.db")
    desk = Desk(vendor, fake, sim, clock, store, StoreSink(store, vendor, clock), folder)
    desk.advance(3 * 3600)
    return desk


async def close_desk(desk: Desk) -> None:
    desk.store.close()
    await desk.fake.stop()


@pytest.fixture(params=VENDORS)
async def desk(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Desk]:
    d = await open_desk(request.param, tmp_path / request.param)
    try:
        yield d
    finally:
        await close_desk(d)


async def poll(desk: Desk, adapter: PolledSource) -> None:
    """Every task, now."""
    for task in adapter.tasks:
        task.due_at = 0
    await adapter.poll_due(desk.sink)


async def shift(desk: Desk, adapter: PolledSource, steps: int, *, at: Any = None) -> None:
    """The floor moves on a minute at a time and the adapter polls every task each minute;
    ``at(step)`` runs before each step's poll."""
    await poll(desk, adapter)
    for step in range(steps):
        desk.advance(STEP_S)
        if at is not None:
            at(step)
        await poll(desk, adapter)


def stored(store: SQLiteStore) -> list[tuple[str, str]]:
    """What the run stored, but its health reports: each event's kind and key."""
    return sorted(
        (e.kind, e.key) for e in store.read_from(0, 1_000_000) if e.kind != "source.health"
    )


def healths(store: SQLiteStore) -> list[SourceHealth]:
    return [
        e.payload
        for e in store.events_of_kind("source.health")
        if isinstance(e.payload, SourceHealth)
    ]


def auth_of(adapter: PolledSource) -> RefreshingAuth:
    auth = adapter.api._client.auth
    assert isinstance(auth, RefreshingAuth)
    return auth


# -- a token that expires mid-run ---------------------------------------------------------------


async def test_a_token_that_expires_mid_run_is_renewed_with_no_gap(
    desk: Desk, tmp_path: Path
) -> None:
    steps = 4 * int(LIFETIME_S / STEP_S)  # four lifetimes of the token
    # the same floor, read with a token that never expires
    twin = await open_desk(desk.vendor, tmp_path / "twin")
    try:
        await shift(twin, twin.adapter(oauth_token=STATIC), steps)
        expected = stored(twin.store)
        assert {h.state for h in healths(twin.store)} == {HealthState.CONNECTED}
    finally:
        await close_desk(twin)

    issuer = desk.expiring()
    adapter = desk.adapter(refresh=desk.refresh_settings(issuer.refresh_token()))

    def midway(step: int) -> None:
        if step == steps // 2 + 1:  # between two renewals (every 8 minutes)
            issuer.expire_access_tokens()  # refused before its time: renewed on the 401

    await shift(desk, adapter, steps, at=midway)

    assert {h.state for h in healths(desk.store)} == {HealthState.CONNECTED}, [
        h.reason for h in healths(desk.store) if h.state is not HealthState.CONNECTED
    ]
    got = stored(desk.store)
    assert len(expected) > 100
    assert sorted(set(expected) - set(got)) == [], "events missing after a renewal"
    assert got == expected
    # it did go through expiries: the first renewal, one before each expiry, one on the 401
    assert issuer.renewals >= 5 and auth_of(adapter).renewals == issuer.renewals
    assert issuer.calls == issuer.renewals, "no renewal was refused"
    assert issuer.expired_refused >= 1, "the early expiry was met with a 401"
    assert issuer.expired_refused <= 3, "only the requests that met the early expiry"
    assert auth_of(adapter).failure is None


async def test_the_fake_refuses_an_access_token_past_its_lifetime(desk: Desk) -> None:
    """The premise of the test above: without renewal, the source would go down."""
    issuer = desk.expiring()
    access = issuer.access_token()
    adapter = desk.adapter(oauth_token=access)  # a bearer token, never renewed
    await poll(desk, adapter)
    assert healths(desk.store)[-1].state is HealthState.CONNECTED
    desk.advance(LIFETIME_S + 1)
    await poll(desk, adapter)
    assert healths(desk.store)[-1].state is HealthState.DOWN
    assert issuer.expired_refused >= 1


# -- rotation ---------------------------------------------------------------------------------


@pytest.fixture
async def jsm(tmp_path: Path) -> AsyncIterator[Desk]:
    d = await open_desk("jsm", tmp_path / "jsm")
    try:
        yield d
    finally:
        await close_desk(d)


async def test_a_rotated_refresh_token_is_written_back_atomically_0600(
    jsm: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = jsm.expiring(rotate=True)
    first = issuer.refresh_token()
    settings = jsm.refresh_settings(first)
    path = settings.refresh_token_file
    renames: list[tuple[Path, int, str]] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        # what is renamed over the token file: a whole file, 0600, in the same folder
        if Path(dst) == path:
            renames.append((Path(src), stat.S_IMODE(os.stat(src).st_mode), Path(src).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    a = jsm.adapter(refresh=settings)
    await poll(jsm, a)
    assert healths(jsm.store)[-1].state is HealthState.CONNECTED

    second = path.read_text().strip()
    assert second != first and second in issuer.issued
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(renames) == 1
    src, mode, text = renames[0]
    assert src.parent == path.parent and src != path and mode == 0o600
    assert text == second + "\n"
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []

    # the old one no longer works at the helpdesk
    assert first not in issuer._refresh and second in issuer._refresh

    # a second adapter (a restart, or ``check``) starts from the file and rotates it again
    b = jsm.adapter(refresh=jsm.refresh_settings())
    await poll(jsm, b)
    assert healths(jsm.store)[-1].state is HealthState.CONNECTED
    third = path.read_text().strip()
    assert third not in (first, second)
    # ... so the first adapter's token in memory is dead; it renews from the file
    jsm.advance(LIFETIME_S)
    await poll(jsm, a)
    assert healths(jsm.store)[-1].state is HealthState.CONNECTED
    assert auth_of(a).failure is None
    assert path.read_text().strip() not in (first, second, third)
    assert issuer.calls == issuer.renewals, "a read b's token from the file: none refused"


async def test_a_token_file_that_cannot_be_replaced_keeps_the_old_one_whole(
    jsm: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = jsm.expiring(rotate=True)
    first = issuer.refresh_token()
    settings = jsm.refresh_settings(first)
    path = settings.refresh_token_file

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    adapter = jsm.adapter(refresh=settings)
    with caplog.at_level(logging.ERROR):
        await poll(jsm, adapter)
    # the source goes on with the new token in memory and says the file is behind
    assert healths(jsm.store)[-1].state is HealthState.CONNECTED
    assert any("could not be saved" in r.getMessage() for r in caplog.records)
    assert path.read_text() == first + "\n"
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    assert not leaks(caplog.text, issuer.issued)
    # the disk has room again: the next renewal uses the live token and saves both
    monkeypatch.undo()
    jsm.advance(LIFETIME_S)
    await poll(jsm, adapter)
    assert healths(jsm.store)[-1].state is HealthState.CONNECTED
    assert issuer.calls == issuer.renewals == 2, "the dead token in the file was not sent"
    assert path.read_text().strip() in issuer._refresh
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- one renewal for many requests ------------------------------------------------------------


async def test_concurrent_requests_renew_once(desk: Desk) -> None:
    issuer = desk.expiring()
    adapter = desk.adapter(refresh=desk.refresh_settings(issuer.refresh_token()))
    path = PROBE[desk.vendor]

    async def together() -> None:
        await asyncio.gather(*(adapter.api.get(path) for _ in range(12)))

    await together()  # no token yet: the first request renews, the others wait for it
    assert issuer.calls == 1
    await together()
    assert issuer.calls == 1
    desk.clock.advance(LIFETIME_S - 30)  # due soon: renewed once, before it runs out
    await together()
    assert issuer.calls == 2
    issuer.expire_access_tokens()  # all twelve are refused: one renewal, each sent again
    await together()
    assert issuer.calls == 3 and issuer.renewals == 3
    assert issuer.expired_refused == 12
    await adapter.close()


# -- a token that cannot be renewed ---------------------------------------------------------------


async def refused(call: Any) -> AuthFailed:
    """The error a call raises, caught here: the test's own frame (holding the tokens it
    looks for) is then not part of the traceback whose locals are searched."""
    with pytest.raises(AuthFailed) as info:
        await call
    return info.value


def down_reasons(desk: Desk) -> list[str]:
    return [h.reason for h in healths(desk.store) if h.state is HealthState.DOWN]


async def test_a_revoked_refresh_token_is_down_saying_what_to_do_and_no_token_anywhere(
    desk: Desk,
    debug_log: Path,  # noqa: F811 - the fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    issuer = desk.expiring()
    settings = desk.refresh_settings(issuer.refresh_token())
    path = settings.refresh_token_file
    adapter = desk.adapter(refresh=settings)
    await shift(desk, adapter, 3)
    assert healths(desk.store)[-1].state is HealthState.CONNECTED

    issuer.revoke()  # the user took the app's access away
    desk.advance(LIFETIME_S)
    await poll(desk, adapter)
    reason = down_reasons(desk)[-1]
    code = "access_denied" if desk.vendor == "servicenow" else "invalid_grant"
    assert reason == (
        f"{desk.vendor}: OAuth token expired and could not be refreshed ({code}): "
        f"authorize again and put the new refresh token in {path}"
    )
    errors: list[BaseException] = [await refused(adapter.api.get("/anything"))]
    assert "authorize again" in str(errors[0])
    # the refused token is not sent again, however often the source is tried
    calls = issuer.calls
    for _ in range(2):
        desk.advance(AUTH_RETRY_S + 1)
        await poll(desk, adapter)
    assert issuer.calls == calls
    assert healths(desk.store)[-1].state is HealthState.DOWN

    # the file goes: said the same way
    path.unlink()
    desk.advance(AUTH_RETRY_S + 1)
    await poll(desk, adapter)
    assert "cannot read" in down_reasons(desk)[-1]
    assert f"put the new refresh token in {path}" in down_reasons(desk)[-1]
    errors.append(await refused(adapter.api.get("/anything")))

    # put back readable by others: refused, saying the chmod (not a new authorization)
    write_token(path, issuer.refresh_token())
    path.chmod(0o644)
    desk.advance(AUTH_RETRY_S + 1)
    await poll(desk, adapter)
    assert f"run: chmod 600 {path}" in down_reasons(desk)[-1]
    assert "authorize again" not in down_reasons(desk)[-1]

    # authorized again: the new token in the file brings the source back, no restart
    path.chmod(0o600)
    desk.advance(AUTH_RETRY_S + 1)
    await poll(desk, adapter)
    assert healths(desk.store)[-1].state is HealthState.CONNECTED
    await adapter.close()

    secrets = [*issuer.issued, CLIENT_SECRET]
    found: dict[str, list[str]] = {}

    def check(where: str, text: str) -> None:
        if hit := leaks(text, secrets):
            found[where] = hit

    for h in healths(desk.store):
        check("health reason", h.reason)
    for name, data in file_bytes(desk.store.path).items():
        check(f"store file {name}", data.decode("latin-1"))
    for table, text in store_rows(desk.store.path).items():
        check(f"table {table}", text)
    for i, exc in enumerate(errors):
        for how, text in exception_texts(exc).items():
            check(f"exception {i} {how}", text)
    for how, text in object_texts(adapter).items():
        check(how, text)
    logs = log_texts(debug_log, caplog)
    assert "renewed" in logs["log file"], "DEBUG logging saw the renewals"
    for where, text in logs.items():
        check(where, text)
    assert found == {}, f"tokens found in: {sorted(found)}"


async def test_a_token_endpoint_in_trouble_is_degraded_then_renewed(desk: Desk) -> None:
    issuer = desk.expiring()
    adapter = desk.adapter(refresh=desk.refresh_settings(issuer.refresh_token()))
    await poll(desk, adapter)
    token_path = issuer.path
    # due soon, the endpoint fails: the token in hand is used meanwhile, the source is fine
    desk.advance(LIFETIME_S - 60)
    desk.fake.inject(token_path, "503")
    await poll(desk, adapter)
    assert healths(desk.store)[-1].state is HealthState.CONNECTED
    assert issuer.renewals == 1
    # spent, and the endpoint still fails: degraded (tried again), never down
    desk.advance(120)
    desk.fake.inject(token_path, "500")
    await poll(desk, adapter)
    states = {h.state for h in healths(desk.store)}
    assert HealthState.DOWN not in states and HealthState.DEGRADED in states
    assert issuer.renewals == 2, "the next request renewed it"
    desk.advance(LIFETIME_S)
    desk.fake.inject(token_path, "500")
    with pytest.raises(ServerError) as info:
        await adapter.api.get(PROBE[desk.vendor])
    assert "token endpoint answered 500" in str(info.value)
    desk.advance(60)
    await poll(desk, adapter)
    assert healths(desk.store)[-1].state is HealthState.CONNECTED
    assert issuer.renewals == 3


# -- settings -----------------------------------------------------------------------------------


def source(kind: str, **keys: Any) -> dict[str, Any]:
    where = {"zendesk": "subdomain", "jsm": "site", "servicenow": "instance"}[kind]
    return {"sources": [{"name": "s", "kind": kind, where: "acme", **keys}]}


@pytest.mark.parametrize("kind", VENDORS)
def test_the_oauth_keys_are_checked_and_errors_name_the_key(kind: str) -> None:
    ok = source(
        kind,
        oauth_refresh_token_file="~/.config/supervisor-tui/refresh.token",
        oauth_client_id="abc",
        oauth_client_secret_env="OAUTH_SECRET",
    )
    config = parse_config(ok, "floor.toml")  # no oauth_token_env needed
    assert config.sources[0].oauth_refresh_token_file  # type: ignore[union-attr]
    for keys, words in (
        ({"oauth_refresh_token_file": "f", "oauth_client_secret_env": "S"}, "oauth_client_id"),
        ({"oauth_refresh_token_file": "f", "oauth_client_id": "c"}, "oauth_client_secret_env"),
        ({"oauth_client_id": "c", "oauth_token_env": "T"}, "need oauth_refresh_token_file"),
        (
            {
                "oauth_refresh_token_file": "f",
                "oauth_client_id": "c",
                "oauth_client_secret_env": "S",
                "oauth_token_url": "http://auth.example.com/token",
            },
            "oauth_token_url: plain http",
        ),
        ({"oauth_refresh_tokn_file": "f"}, "oauth_refresh_token_file"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config(source(kind, **keys), "floor.toml")
        assert "floor.toml: sources[0]" in str(info.value)
        assert words in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("cls", "kind", "url"),
    [
        (ZendeskAdapter, "zendesk", "https://acme.zendesk.com/oauth/tokens"),
        (JsmAdapter, "jsm", "https://auth.atlassian.com/oauth/token"),
        (ServiceNowAdapter, "servicenow", "https://acme.service-now.com/oauth_token.do"),
    ],
)
def test_an_adapter_from_config_renews_at_its_vendors_token_url(
    cls: Any, kind: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "refresh.token"
    write_token(token, "CANARY-refresh-from-config")
    monkeypatch.setenv("OAUTH_SECRET", CLIENT_SECRET)
    keys = source(
        kind,
        oauth_refresh_token_file=str(token),
        oauth_client_id="abc",
        oauth_client_secret_env="OAUTH_SECRET",
    )
    settings = parse_config(keys, "floor.toml").sources[0].model_dump()
    adapter = cls.from_config("s", settings, clock=lambda: EPOCH)
    auth = auth_of(adapter)
    assert auth.settings.token_url == url and auth.settings.client_id == "abc"
    for text in object_texts(adapter).values():
        assert CLIENT_SECRET not in text and "CANARY-refresh" not in text
    token.chmod(0o644)
    with pytest.raises(SourceSetupError) as info:
        cls.from_config("s", settings, clock=lambda: EPOCH)
    assert "chmod 600" in str(info.value) and "CANARY" not in str(info.value)
    token.write_text("")
    token.chmod(0o600)
    with pytest.raises(SourceSetupError) as info:
        cls.from_config("s", settings, clock=lambda: EPOCH)
    assert "authorize the app" in str(info.value)


def test_write_secret_file_replaces_whole_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "refresh.token"
    path.write_text("old\n")
    path.chmod(0o644)
    os.umask(0o022)
    http.write_secret_file(path, "new")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["refresh.token"]
