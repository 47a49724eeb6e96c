"""``supervisor-tui check`` on a ServiceNow source: the same fields as the other helpdesks,
and None ("n/a") for what the instance does not say."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.cli import main
from supervisor_tui.config import Config
from supervisor_tui.fakes.servicenow import FakeServiceNow

PASSWORD = "sn-check-password-31"
ENV = "CHECK_TEST_SN_PASSWORD"


@pytest.fixture
async def fake() -> AsyncIterator[FakeServiceNow]:
    epoch = time.time() - 3 * 3600 - 120  # the simulated morning ended two minutes ago
    server = FakeServiceNow(username="integration", password=PASSWORD)
    await server.start()
    sim = FloorSimulation(SimOptions(seed=4, agents=25, speed=None, warmup_s=0), epoch)
    server.feed(sim.advance(3 * 3600))
    yield server
    await server.stop()


def config_file(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "sn.toml"
    path.write_text(
        '[[sources]]\nname = "servicenow"\nkind = "servicenow"\n'
        f'base_url = "{base_url}"\nusername = "integration"\npassword_env = "{ENV}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


async def run_check(
    path: Path, capsys: pytest.CaptureFixture[str], *args: str, password: str = PASSWORD
) -> tuple[int, str, str]:
    os.environ[ENV] = password
    try:
        code = await asyncio.to_thread(main, ["check", "-c", str(path), *args])
    finally:
        del os.environ[ENV]
    out, err = capsys.readouterr()
    return code, out, err


async def test_check_counts_what_the_instance_holds(
    fake: FakeServiceNow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = next(iter(fake.incidents))
    fake.delete_incident(victim)
    code, out, _ = await run_check(config_file(tmp_path, fake.base_url), capsys, "--json")
    (source,) = json.loads(out)["sources"]
    live = fake.incidents
    assert code == 0 and source["ok"] is True and source["error"] is None
    assert source["tickets"] == len(live)
    assert source["open_tickets"] == sum(r["state"] in ("1", "2", "3") for r in live.values())
    assert source["deleted_tickets"] == 1
    assert source["agents"] == 25 and source["queues"] == 5
    assert source["sla_policies"] == len(fake.tables["contract_sla"]) > 0
    assert source["requests"] == len(fake.requests) > 5
    assert source["rate_limit_remaining"] is None  # ServiceNow sends no "remaining"


async def test_what_it_cannot_know_is_null_and_n_a(
    fake: FakeServiceNow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.forbidden.add("sys_audit_delete")
    path = config_file(tmp_path, fake.base_url)
    code, out, _ = await run_check(path, capsys, "--json")
    (source,) = json.loads(out)["sources"]
    assert code == 0 and source["deleted_tickets"] is None
    code, out, _ = await run_check(path, capsys)
    assert code == 0
    assert "n/a deleted" in out and "n/a left this minute" in out and "None" not in out


async def test_wrong_password_fails_readably_without_the_password(
    fake: FakeServiceNow, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_check(
        config_file(tmp_path, fake.base_url), capsys, "--json", password="not-it-9911"
    )
    (source,) = json.loads(out)["sources"]
    assert code == 1 and source["ok"] is False
    assert "(401)" in source["error"] and "refused the " in source["error"]
    assert "not-it-9911" not in out + err and PASSWORD not in out + err


def test_config_validation() -> None:
    def source(**kw: object) -> dict[str, object]:
        return {"sources": [{"name": "sn", "kind": "servicenow", **kw}]}

    ok = Config.model_validate(source(instance="acme", username="u", password_env="P"))
    (s,) = ok.sources
    assert s.tables == ["incident"] and s.presence == "auto"  # type: ignore[union-attr]
    Config.model_validate(source(base_url="http://127.0.0.1:8080", oauth_token_env="T"))
    for bad in (
        source(username="u", password_env="P"),  # no instance
        source(instance="acme", username="u"),  # no secret
        source(instance="acme", password_env="P"),  # no user
        source(base_url="http://example.com", oauth_token_env="T"),  # plain http off loopback
        source(instance="acme", oauth_token_env="T", tables=["incident; drop"]),
        source(instance="acme", oauth_token_env="T", presence="sometimes"),
        source(instance="acme", oauth_token_env="T", password="in-the-file"),  # unknown key
    ):
        with pytest.raises(ValueError):
            Config.model_validate(bad)
