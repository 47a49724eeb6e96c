"""What every helpdesk adapter must do, whatever the vendor: one suite, run for each.

Each scenario is tried as a new user tries it, through ``supervisor-tui check`` over real
HTTP on loopback against the vendor's fake, fed the same simulated morning. Vendor quirks
stay in the vendor's own test files; what is here holds for all four.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.cli import main
from supervisor_tui.fakes.common import LoopbackServer
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.fakes.jsm import STATUSES, FakeJsm
from supervisor_tui.fakes.servicenow import FakeServiceNow
from supervisor_tui.fakes.zendesk import FakeZendesk

SECRET = "contract-canary-secret-7731"
ENV = "CONTRACT_TEST_SECRET"


@dataclass(frozen=True)
class Desk:
    kind: str
    make: Callable[[str], LoopbackServer]
    """A fake of this helpdesk whose credential is the given secret."""
    keys: str
    """The source's credential keys in the config file (the secret in ``ENV``)."""
    tickets: str
    """Where its tickets are read (the path a fault is injected on)."""
    optional: str
    """An endpoint of an optional capability: refused, it costs that capability only."""
    capability: str
    open_tickets: Callable[[Any], int]
    credential: str
    """How a refused credential is named (never its value)."""
    refusals: tuple[str, ...] = ("403", "404")
    """The answers that mean "this account has no such thing" on ``optional``."""


DESKS = [
    Desk(
        "zendesk",
        lambda secret: FakeZendesk(email="bot@example.com", token=secret),
        f'email = "bot@example.com"\ntoken_env = "{ENV}"\n',
        "/api/v2/incremental/tickets",
        "/api/v2/slas/policies",
        "sla_policies",
        lambda fake: sum(
            t["status"] in ("new", "open", "pending", "hold") for t in fake.tickets.values()
        ),
        "the API token of bot@example.com",
    ),
    Desk(
        "freshdesk",
        lambda secret: FakeFreshdesk(api_key=secret),
        f'api_key_env = "{ENV}"\n',
        "/api/v2/tickets",
        "/api/v2/surveys/satisfaction_ratings",
        "satisfaction",
        lambda fake: sum(
            t["status"] not in (4, 5) for t in fake.tickets.values() if not t.get("deleted")
        ),
        "the API key",
    ),
    Desk(
        "jsm",
        lambda secret: FakeJsm(email="bot@example.com", token=secret),
        f'email = "bot@example.com"\ntoken_env = "{ENV}"\n',
        "/rest/api/3/search/jql",
        "/rest/servicedeskapi/request/",
        "sla_clocks",
        lambda fake: sum(
            1
            for r in fake._requests.values()
            if not r.deleted and STATUSES.get(r.status, ("", "new"))[1] != "done"
        ),
        "the API token of bot@example.com",
        # a 404 on one request's SLA means that request is gone, not the capability
        refusals=("403",),
    ),
    Desk(
        "servicenow",
        lambda secret: FakeServiceNow(username="integration", password=secret),
        f'username = "integration"\npassword_env = "{ENV}"\n',
        "/api/now/table/incident",
        "/api/now/table/sys_audit_delete",
        "deletions",
        lambda fake: sum(r["state"] in ("1", "2", "3") for r in fake.incidents.values()),
        "the password of integration",
    ),
]


@pytest.fixture(params=DESKS, ids=[d.kind for d in DESKS])
async def desk(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Desk, Any]]:
    spec: Desk = request.param
    fake = spec.make(SECRET)
    await fake.start()
    epoch = time.time() - 3 * 3600 - 120  # the simulated morning ended two minutes ago
    sim = FloorSimulation(SimOptions(seed=4, agents=25, speed=None, warmup_s=0), epoch)
    fake.feed(sim.advance(3 * 3600))  # type: ignore[attr-defined]
    yield spec, fake
    await fake.stop()


async def check(
    spec: Desk, fake: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], secret: str = SECRET
) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "site.toml"
    path.write_text(
        f'[[sources]]\nname = "desk"\nkind = "{spec.kind}"\nbase_url = "{fake.base_url}"\n'
        + spec.keys,
        encoding="utf-8",
    )
    path.chmod(0o600)
    os.environ[ENV] = secret
    try:
        code = await asyncio.to_thread(main, ["check", "-c", str(path), "--json"])
    finally:
        del os.environ[ENV]
    out, err = capsys.readouterr()
    (source,) = json.loads(out)["sources"]
    assert SECRET not in out + err
    return code, source, err


async def test_check_reads_every_open_ticket(
    desk: tuple[Desk, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, fake = desk
    code, source, _ = await check(spec, fake, tmp_path, capsys)
    assert code == 0 and source["ok"] is True and source["error"] is None
    assert source["open_tickets"] == spec.open_tickets(fake) > 0
    # Jira has no list of a desk's agents: its agents are the assignees seen
    assert source["agents"] == (25 if spec.kind != "jsm" else source["agents"]) > 0
    assert source["limits"] == []


@pytest.mark.parametrize("refusal", ["403", "404"])
async def test_a_refused_optional_endpoint_costs_one_capability(
    desk: tuple[Desk, Any], refusal: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, fake = desk
    if refusal not in spec.refusals:
        pytest.skip(f"{spec.kind}: a {refusal} there is about one record, not the account")
    fake.inject(spec.optional, refusal, count=10_000)
    code, source, _ = await check(spec, fake, tmp_path, capsys)
    assert code == 0 and source["ok"] is True, source["error"]
    assert [lim["capability"] for lim in source["limits"]] == [spec.capability]
    (limit,) = source["limits"]
    assert limit["reason"] and limit["fix"]
    assert source["open_tickets"] == spec.open_tickets(fake)  # the rest is all there


async def test_a_refused_credential_is_named_never_shown(
    desk: tuple[Desk, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, fake = desk
    code, source, _ = await check(spec, fake, tmp_path, capsys, secret="not-" + SECRET[4:])
    assert code == 1 and source["ok"] is False
    assert f"refused {spec.credential} (401)" in source["error"]
    assert SECRET[4:] not in json.dumps(source)


async def test_check_waits_out_retry_after(
    desk: tuple[Desk, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, fake = desk
    fake.inject(spec.tickets, "429", retry_after=2)
    code, source, err = await check(spec, fake, tmp_path, capsys)
    assert code == 0 and source["ok"] is True, source["error"]
    assert "429" in err and "waiting 2 s" in err
    assert source["open_tickets"] == spec.open_tickets(fake)


def open_ticket(spec: Desk, fake: Any) -> str:
    """An open ticket as the adapter names it (Zendesk/Freshdesk id, JSM key, SN number)."""
    if spec.kind == "zendesk":
        return str(next(t["id"] for t in fake.tickets.values() if t["status"] == "open"))
    if spec.kind == "freshdesk":
        return str(next(t["id"] for t in fake.tickets.values() if t["status"] == 2))
    if spec.kind == "jsm":
        return str(next(r.key for r in fake._requests.values() if not r.deleted))
    return str(next(r["number"] for r in fake.incidents.values() if r["state"] in ("1", "2")))


def notes_with(spec: Desk, fake: Any, ref: str) -> int:
    """How many internal notes on the helpdesk carry this reference."""
    if spec.kind == "zendesk":
        texts = [str(c.get("body")) for cs in fake.comments.values() for c in cs]
    elif spec.kind == "freshdesk":
        texts = [str(n.get("body_text")) for ns in fake.notes.values() for n in ns]
    elif spec.kind == "jsm":
        texts = [text for _, what, text in fake.write_backs if what == "comment"]
    else:
        texts = [str(n.get("value")) for n in fake.work_notes]
    return sum(ref in text for text in texts)


async def test_an_ack_is_written_back_once_however_often_it_is_retried(
    desk: tuple[Desk, Any], tmp_path: Path
) -> None:
    """The outbox retries a write-back whose answer was lost; the helpdesk must still get
    one note. A retry is the same call with the same delivery key."""
    import tomllib

    from supervisor_tui.adapters.base import load_adapter_class
    from supervisor_tui.config import parse_config

    spec, fake = desk
    text = (
        f'[[sources]]\nname = "desk"\nkind = "{spec.kind}"\nbase_url = "{fake.base_url}"\n'
        f"write_back = true\n{spec.keys}"
    )
    (source,) = parse_config(tomllib.loads(text), "site.toml").sources
    os.environ[ENV] = SECRET
    try:
        cls = load_adapter_class(spec.kind)
        adapter = cls.from_config("desk", source.model_dump(exclude={"name", "kind"}), time.time)
    finally:
        del os.environ[ENV]
    ticket = open_ticket(spec, fake)
    body = {
        "ticket_id": ticket,
        "delivery_key": "contract-ack-1",
        "escalation_id": "esc-1",
        "by": "Dana",
        "title": f"Ticket #{ticket}: complaint",
        "text": "calling the customer back",
    }
    try:
        for _ in range(3):
            await adapter.write_back("ack", body)
    finally:
        await adapter.close()
    assert notes_with(spec, fake, "[supervisor-tui ack contract-ack-1]") == 1
