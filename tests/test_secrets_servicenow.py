"""Canary secrets for ServiceNow: a password or a bearer token goes to the instance and
nowhere else (the checks of tests/test_secrets.py, over the ServiceNow adapter and fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.pretty import pretty_repr

from supervisor_tui.adapters.base import SourceSetupError
from supervisor_tui.adapters.http import ApiError, AuthFailed
from supervisor_tui.adapters.servicenow.adapter import ServiceNowAdapter, ServiceNowSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.servicenow import FakeServiceNow
from supervisor_tui.model import HealthState
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, FakeClock
from .helpers import StoreSink
from .test_secrets import (
    Run,
    assert_canary_nowhere,
    basic,
    debug_log,  # noqa: F401 - the fixture
    faults_then_failed_write_backs,
    last_health,
    poll_all,
)

USER = "supervisor.integration"
SN_CANARY = "CANARY-sn-6d0e42"
SN_WRONG = "CANARY-sn-wrong-a71f03"
SN_TOKEN = "CANARY-sn-bearer-2c9b58"


@pytest.fixture
async def servicenow(tmp_path: Path) -> AsyncIterator[tuple[FakeServiceNow, Run]]:
    clock = FakeClock(EPOCH)
    fake = FakeServiceNow(username=USER, password=SN_CANARY, token=SN_TOKEN, clock=clock)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=6, agents=12, speed=None, warmup_s=0), EPOCH)
    clock.advance(2 * 3600)
    fake.feed(sim.advance(2 * 3600))
    store = SQLiteStore(tmp_path / "floor.db")
    try:
        yield fake, Run(store, clock)
    finally:
        store.close()
        await fake.stop()


def adapter_of(fake: FakeServiceNow, run: Run, **over: Any) -> ServiceNowAdapter:
    settings = ServiceNowSettings(
        base_url=fake.base_url,
        username=USER,
        password=SN_CANARY,
        write_back=True,
        backfill_s=2 * 86400,
    )
    adapter = ServiceNowAdapter("servicenow", replace(settings, **over), clock=run.clock)
    run.adapters.append(adapter)
    return adapter


async def test_servicenow_secrets_go_nowhere_but_servicenow(
    servicenow: tuple[FakeServiceNow, Run],
    debug_log: Path,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, run = servicenow
    sink = StoreSink(run.store, "servicenow", run.clock)
    good = adapter_of(fake, run)
    await poll_all(good, sink)
    assert last_health(sink) is HealthState.CONNECTED
    bearer = adapter_of(fake, run, username=None, password=None, oauth_token=SN_TOKEN)
    await poll_all(bearer, sink)
    assert last_health(sink) is HealthState.CONNECTED

    wrong = adapter_of(fake, run, password=SN_WRONG)
    await poll_all(wrong, sink)
    assert last_health(sink) is HealthState.DOWN
    await run.expect_error(AuthFailed, wrong.api.get("/api/now/table/incident"))
    await run.expect_error(ApiError, wrong.sync_once(sink))

    await faults_then_failed_write_backs(
        run,
        sink,
        fake,
        good,
        wrong,
        probe="/api/now/table/sys_user_group",
        polled="/api/now/table/incident",
        writes="/api/now/table/",
    )

    secrets = [SN_CANARY, SN_WRONG, SN_TOKEN, basic(USER, SN_CANARY), basic(USER, SN_WRONG)]
    await assert_canary_nowhere(run, secrets, debug_log, caplog)


def test_a_secret_from_config_is_not_in_reprs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SN_PASSWORD", SN_CANARY)
    monkeypatch.setenv("SN_TOKEN", SN_TOKEN)
    base = {"base_url": "http://127.0.0.1:9", "username": USER}
    for settings in (
        {**base, "password_env": "SN_PASSWORD"},
        {"instance": "acme", "oauth_token_env": "SN_TOKEN"},
    ):
        adapter = ServiceNowAdapter.from_config("servicenow", settings, clock=lambda: EPOCH)
        text = (
            repr(adapter.settings) + pretty_repr(adapter.settings) + repr(adapter.api._client.auth)
        )
        assert SN_CANARY not in text and SN_TOKEN not in text
    shared = tmp_path / "sn.pw"
    shared.write_text(SN_CANARY, encoding="utf-8")
    shared.chmod(0o644)
    with pytest.raises(SourceSetupError) as info:
        ServiceNowAdapter.from_config(
            "servicenow", {**base, "password_file": str(shared)}, clock=lambda: EPOCH
        )
    assert "chmod 600" in str(info.value) and SN_CANARY not in str(info.value)
    with pytest.raises(SourceSetupError):
        ServiceNowAdapter.from_config(
            "servicenow", {**base, "password_env": "SN_UNSET_VARIABLE"}, clock=lambda: EPOCH
        )
