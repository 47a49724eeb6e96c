"""``supervisor-tui check`` on a Jira Service Management source: the same fields as the other
helpdesks (requests as tickets, JSM queues as queues), and None ("n/a") for what JSM cannot
tell (deleted requests, SLA policies)."""

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
from supervisor_tui.config import ConfigError, parse_config
from supervisor_tui.fakes.jsm import FakeJsm

TOKEN = "jsm-check-token-52"
ENV = "CHECK_TEST_JSM_TOKEN"


@pytest.fixture
async def fake() -> AsyncIterator[FakeJsm]:
    epoch = time.time() - 3 * 3600 - 120  # the simulated morning ended two minutes ago
    server = FakeJsm(email="bot@example.com", token=TOKEN)
    await server.start()
    sim = FloorSimulation(SimOptions(seed=4, agents=25, speed=None, warmup_s=0), epoch)
    server.feed(sim.advance(3 * 3600))
    yield server
    await server.stop()


def config_file(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    path = tmp_path / "jsm.toml"
    path.write_text(
        '[[sources]]\nname = "jsm"\nkind = "jsm"\n'
        f'base_url = "{base_url}"\nemail = "bot@example.com"\ntoken_env = "{ENV}"\n{extra}',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


async def run_check(
    path: Path, capsys: pytest.CaptureFixture[str], *args: str, token: str = TOKEN
) -> tuple[int, str, str]:
    os.environ[ENV] = token
    try:
        code = await asyncio.to_thread(main, ["check", "-c", str(path), *args])
    finally:
        del os.environ[ENV]
    out, err = capsys.readouterr()
    return code, out, err


async def test_check_counts_what_the_site_holds(
    fake: FakeJsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run_check(config_file(tmp_path, fake.base_url), capsys, "--json")
    assert code == 0
    (source,) = json.loads(out)["sources"]
    issues = fake.issues
    assert source["ok"] is True and source["error"] is None and source["kind"] == "jsm"
    assert source["tickets"] == len(issues) > 50
    assert source["open_tickets"] == sum(
        i["fields"]["status"]["statusCategory"]["key"] != "done" for i in issues.values()
    )
    assignees = {
        i["fields"]["assignee"]["accountId"] for i in issues.values() if i["fields"]["assignee"]
    }
    assert source["agents"] == len(assignees) > 0
    assert source["queues"] == len(fake.queue_counts()) == 6
    assert source["deleted_tickets"] is None and source["sla_policies"] is None  # cannot know
    assert source["requests"] == len(fake.requests)
    assert source["rate_limit_remaining"] == fake.rate_limit - len(fake.requests)


async def test_summary_says_n_a_for_what_jsm_cannot_know(
    fake: FakeJsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run_check(config_file(tmp_path, fake.base_url), capsys)
    assert code == 0
    assert "(jsm)" in out and "n/a deleted" in out and "n/a SLA policies" in out


async def test_wrong_token_fails_readably_without_the_token(
    fake: FakeJsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, fake.base_url)
    code, out, err = await run_check(path, capsys, "--json", token="not-the-token-99")
    (source,) = json.loads(out)["sources"]
    assert code == 1 and source["ok"] is False
    assert "(401)" in source["error"] and "refused the " in source["error"]
    assert "not-the-token-99" not in out + err and TOKEN not in out + err


def test_config_needs_site_or_base_url_and_a_credential() -> None:
    base = {"name": "jsm", "kind": "jsm", "email": "bot@example.com", "token_env": "T"}
    ok = parse_config({"sources": [{**base, "site": "acme"}]}, "t.toml")
    assert ok.sources[0].kind == "jsm"
    for bad, words in (
        (base, "needs site"),
        ({**base, "site": "acme", "token_env": None}, "needs email with token_env"),
        ({**base, "base_url": "http://jira.example.com"}, "only allowed to a loopback"),
        ({**base, "site": "Acme Corp"}, "site"),
    ):
        cleaned = {k: v for k, v in bad.items() if v is not None}
        with pytest.raises(ConfigError, match=words):
            parse_config({"sources": [cleaned]}, "t.toml")
    oauth = {"name": "j", "kind": "jsm", "site": "acme", "oauth_token_env": "O"}
    assert parse_config({"sources": [oauth]}, "t.toml").sources[0].kind == "jsm"


def test_commented_jsm_example_is_a_valid_source() -> None:
    import tomllib

    root = Path(__file__).resolve().parent.parent
    text = (root / "config.example.toml").read_text(encoding="utf-8")
    lines = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    start = lines.index('name = "jsm"')
    source = tomllib.loads("\n".join(lines[start : start + 11]))
    (jsm,) = parse_config({"sources": [source]}, "example").sources
    assert jsm.kind == "jsm" and jsm.write_back is True
    assert jsm.queue_channels == {"Phones": "voice"}
