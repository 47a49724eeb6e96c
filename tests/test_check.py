"""``supervisor-tui check``: one full sync of each source, as one JSON object."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.cli import main
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.logs import PrivateRotatingFile

TOKEN = "check-test-token-value"


@pytest.fixture
async def fake() -> AsyncIterator[FakeZendesk]:
    # check reads the account as it is now: the simulated morning ended two minutes ago
    epoch = time.time() - 3 * 3600 - 120
    server = FakeZendesk(email="bot@example.com", token=TOKEN)
    await server.start()
    sim = FloorSimulation(SimOptions(seed=4, agents=25, speed=None, warmup_s=0), epoch)
    server.feed(sim.advance(3 * 3600))
    yield server
    await server.stop()


def write_config(tmp_path: Path, base_url: str, **extra: str) -> Path:
    lines = [
        "[[sources]]",
        'name = "zendesk"',
        'kind = "zendesk"',
        f'base_url = "{base_url}"',
        'email = "bot@example.com"',
        *(f"{k} = {json.dumps(v)}" for k, v in extra.items()),
    ]
    if "token_file" not in extra:
        lines.append('token_env = "CHECK_TEST_ZENDESK_TOKEN"')
    path = tmp_path / "site.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


async def run_check(
    path: Path, capsys: pytest.CaptureFixture[str], token: str = TOKEN
) -> tuple[int, str, str]:
    os.environ["CHECK_TEST_ZENDESK_TOKEN"] = token
    try:
        code = await asyncio.to_thread(main, ["check", "-c", str(path), "--json"])
    finally:
        del os.environ["CHECK_TEST_ZENDESK_TOKEN"]
    out, err = capsys.readouterr()
    return code, out, err


async def test_check_counts_what_the_account_holds(
    fake: FakeZendesk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run_check(write_config(tmp_path, fake.base_url), capsys)
    assert code == 0
    (source,) = json.loads(out)["sources"]
    live = [t for t in fake.tickets.values() if t["status"] != "deleted"]
    assert source["ok"] is True and source["error"] is None
    assert source["tickets"] == len(live)
    assert source["open_tickets"] == sum(t["status"] not in ("solved", "closed") for t in live)
    assert source["deleted_tickets"] == 0
    assert source["agents"] == 25 and source["queues"] == 5 and source["sla_policies"] == 4
    requests_made = len(fake.requests)
    assert source["requests"] == requests_made > 10
    assert 0 < source["rate_limit_remaining"] < 700


async def test_check_counts_deleted_tickets(
    fake: FakeZendesk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = next(iter(fake.tickets))
    fake.delete_ticket(victim)
    fake.export_lag_s = -120  # the deletion is exported at once
    code, out, _ = await run_check(write_config(tmp_path, fake.base_url), capsys)
    (source,) = json.loads(out)["sources"]
    assert code == 0 and source["deleted_tickets"] == 1


async def test_wrong_token_fails_readably_without_the_token(
    fake: FakeZendesk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_check(
        write_config(tmp_path, fake.base_url), capsys, token="not-the-token-42"
    )
    assert code == 1
    (source,) = json.loads(out)["sources"]
    assert source["ok"] is False
    assert "(401)" in source["error"] and "refused the " in source["error"]
    assert "not-the-token-42" not in out + err and TOKEN not in out + err


async def test_check_writes_its_lines_to_the_log_as_serve_does(
    fake: FakeZendesk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --log-file, where serve's would go (beside the store, here the data
    directory's floor.log), private, each source's outcome at its level, no token; closed
    when check ends."""
    config = write_config(tmp_path, fake.base_url)
    assert (await run_check(config, capsys))[0] == 0
    assert (await run_check(config, capsys, token="not-the-token-42"))[0] == 1
    log = Path(os.environ["XDG_DATA_HOME"]) / "supervisor-tui" / "floor.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    lines = log.read_text(encoding="utf-8").splitlines()
    ok = [
        line for line in lines if " INFO supervisor_tui.check: check: ✔ zendesk (zendesk): " in line
    ]
    failed = [line for line in lines if " ERROR supervisor_tui.check: check: ✖ zendesk " in line]
    assert len(ok) == 1 and "tickets" in ok[0]
    assert len(failed) == 1 and "(401)" in failed[0]
    assert sum(f": check: sources zendesk, from {config}" in line for line in lines) == 2
    text = "\n".join(lines)
    assert TOKEN not in text and "not-the-token-42" not in text
    assert not any(isinstance(h, PrivateRotatingFile) for h in logging.getLogger().handlers)


async def test_unreachable_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    code, out, _ = await run_check(write_config(tmp_path, f"http://127.0.0.1:{port}"), capsys)
    (source,) = json.loads(out)["sources"]
    assert code == 1 and "cannot reach the server" in source["error"]


async def test_unexpected_body(
    fake: FakeZendesk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.inject("/api/v2/groups", "malformed")
    code, out, _ = await run_check(write_config(tmp_path, fake.base_url), capsys)
    (source,) = json.loads(out)["sources"]
    assert code == 1 and "not JSON" in source["error"]


async def test_token_file_readable_by_others_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "zendesk.token"
    token.write_text(TOKEN, encoding="utf-8")
    token.chmod(0o644)
    path = write_config(tmp_path, "http://127.0.0.1:9", token_file=str(token))
    code, out, _ = await run_check(path, capsys)
    (source,) = json.loads(out)["sources"]
    assert (
        code == 1 and "can be read by others" in source["error"] and "chmod 600" in source["error"]
    )


async def test_check_reports_a_freshdesk_source_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from supervisor_tui.fakes.freshdesk import FakeFreshdesk

    epoch = time.time() - 3 * 3600 - 120
    fake = FakeFreshdesk(api_key="fd-check-key")
    await fake.start()
    try:
        sim = FloorSimulation(SimOptions(seed=4, agents=25, speed=None, warmup_s=0), epoch)
        fake.feed(sim.advance(3 * 3600))
        path = tmp_path / "fd.toml"
        path.write_text(
            '[[sources]]\nname = "freshdesk"\nkind = "freshdesk"\n'
            f'base_url = "{fake.base_url}"\napi_key_env = "CHECK_TEST_FD_KEY"\n',
            encoding="utf-8",
        )
        path.chmod(0o600)
        os.environ["CHECK_TEST_FD_KEY"] = "fd-check-key"
        try:
            code = await asyncio.to_thread(main, ["check", "-c", str(path), "--json"])
        finally:
            del os.environ["CHECK_TEST_FD_KEY"]
        out, _ = capsys.readouterr()
    finally:
        await fake.stop()
    (source,) = json.loads(out)["sources"]
    live = [t for t in fake.tickets.values() if not t.get("deleted")]
    assert code == 0 and source["ok"] is True
    assert source["tickets"] == len(live)
    assert source["open_tickets"] == sum(t["status"] not in (4, 5) for t in live)
    assert source["agents"] == 25 and source["queues"] == 5 and source["sla_policies"] == 1
    assert source["requests"] > 5 and source["rate_limit_remaining"] is not None
