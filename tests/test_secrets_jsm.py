"""Canary secrets for Jira Service Management: an API token or a bearer token goes to the
site and nowhere else (the checks of tests/test_secrets.py, over the JSM adapter and fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.pretty import pretty_repr

from supervisor_tui.adapters.base import SourceSetupError
from supervisor_tui.adapters.http import ApiError, AuthFailed
from supervisor_tui.adapters.jsm.adapter import JsmAdapter, JsmSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.jsm import FakeJsm
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

EMAIL = "supervisor-bot@example.com"
JSM_CANARY = "CANARY-jsm-4b17c9"
JSM_WRONG = "CANARY-jsm-wrong-e3a502"
JSM_BEARER = "CANARY-jsm-bearer-91d7aa"


@pytest.fixture
async def jsm(tmp_path: Path) -> AsyncIterator[tuple[FakeJsm, Run]]:
    clock = FakeClock(EPOCH)
    fake = FakeJsm(email=EMAIL, token=JSM_CANARY, oauth_token=JSM_BEARER, clock=clock)
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


def adapter_of(fake: FakeJsm, run: Run, **over: Any) -> JsmAdapter:
    settings = JsmSettings(
        base_url=fake.base_url,
        email=EMAIL,
        token=JSM_CANARY,
        write_back=True,
        backfill_s=2 * 86400,
    )
    adapter = JsmAdapter("jsm", replace(settings, **over), clock=run.clock)
    run.adapters.append(adapter)
    return adapter


async def test_jsm_secrets_go_nowhere_but_jsm(
    jsm: tuple[FakeJsm, Run],
    debug_log: Path,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, run = jsm
    sink = StoreSink(run.store, "jsm", run.clock)
    good = adapter_of(fake, run)
    for _ in range(6):  # the first sync is paced over a few minutes
        await poll_all(good, sink)
        run.clock.advance(61)
    assert last_health(sink) is not HealthState.DOWN
    assert run.store.last_seq() > 0
    bearer = adapter_of(fake, run, email=None, token=None, oauth_token=JSM_BEARER)
    await poll_all(bearer, sink)
    assert last_health(sink) is not HealthState.DOWN

    wrong = adapter_of(fake, run, token=JSM_WRONG)
    await poll_all(wrong, sink)
    assert last_health(sink) is HealthState.DOWN
    await run.expect_error(AuthFailed, wrong.api.get("/rest/servicedeskapi/servicedesk"))
    await run.expect_error(ApiError, wrong.sync_once(sink))

    await faults_then_failed_write_backs(
        run,
        sink,
        fake,
        good,
        wrong,
        probe="/rest/servicedeskapi/servicedesk",
        polled="/rest/api/3/search/jql",
        writes="/rest/",
    )

    secrets = [JSM_CANARY, JSM_WRONG, JSM_BEARER, basic(EMAIL, JSM_CANARY), basic(EMAIL, JSM_WRONG)]
    await assert_canary_nowhere(run, secrets, debug_log, caplog)


def test_a_jsm_secret_from_config_is_not_in_reprs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSM_TOKEN", JSM_CANARY)
    monkeypatch.setenv("JSM_BEARER", JSM_BEARER)
    base = {"base_url": "http://127.0.0.1:9", "email": EMAIL}
    for settings in (
        {**base, "token_env": "JSM_TOKEN"},
        {"site": "acme", "oauth_token_env": "JSM_BEARER"},
    ):
        adapter = JsmAdapter.from_config("jsm", settings, clock=lambda: EPOCH)
        text = (
            repr(adapter.settings) + pretty_repr(adapter.settings) + repr(adapter.api._client.auth)
        )
        assert JSM_CANARY not in text and JSM_BEARER not in text
    shared = tmp_path / "jsm.token"
    shared.write_text(JSM_CANARY, encoding="utf-8")
    shared.chmod(0o644)
    with pytest.raises(SourceSetupError) as info:
        JsmAdapter.from_config("jsm", {**base, "token_file": str(shared)}, clock=lambda: EPOCH)
    assert "chmod 600" in str(info.value) and JSM_CANARY not in str(info.value)
