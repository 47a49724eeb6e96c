"""``make demo-all``: four fake helpdesks on loopback, each read by its real adapter."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from supervisor_tui.adapters.simulator import SimOptions
from supervisor_tui.cli import (
    DEMO_FRESHDESK_KEY_ENV,
    DEMO_SN_PASSWORD_ENV,
    DEMO_TOKEN_ENV,
    demo_config,
)
from supervisor_tui.hub.check import check_all
from supervisor_tui.hub.demo import DemoHelpdesks


@pytest.fixture
def helpdesks(monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoHelpdesks]:
    desks = DemoHelpdesks(SimOptions(seed=3, agents=16, queues=5, speed=1.0), it_desks=True)
    desks.start()
    monkeypatch.setenv(DEMO_TOKEN_ENV, desks.token)
    monkeypatch.setenv(DEMO_FRESHDESK_KEY_ENV, desks.api_key)
    monkeypatch.setenv(DEMO_SN_PASSWORD_ENV, desks.sn_password)
    try:
        yield desks
    finally:
        desks.stop()


async def test_four_helpdesks_on_one_board(helpdesks: DemoHelpdesks) -> None:
    assert helpdesks.jsm is not None and helpdesks.servicenow is not None
    assert helpdesks.freshdesk is not None and helpdesks.zendesk is not None
    args = argparse.Namespace(seed=3, agents=16, queues=5, speed=1.0, profile="desk")
    config = demo_config(
        args,
        helpdesks.zendesk.base_url,
        helpdesks.freshdesk.base_url,
        helpdesks.jsm.base_url,
        helpdesks.servicenow.base_url,
    )
    assert [s.kind for s in config.sources] == ["zendesk", "freshdesk", "jsm", "servicenow"]
    result = await check_all(config)
    by_kind = {s["kind"]: s for s in result["sources"]}
    for kind, found in by_kind.items():
        assert found["ok"], (kind, found.get("error"))
        assert found["tickets"] > 0 and found["open_tickets"] > 0, kind
        assert found["queues"] >= 2, kind
    # the IT and operations desks are e-mail desks of their own, with their own agents
    assert by_kind["jsm"]["agents"] > 0 and by_kind["servicenow"]["agents"] > 0
    # no secret of the fakes is in what check reports
    text = repr(result)
    for secret in (helpdesks.token, helpdesks.api_key, helpdesks.sn_password):
        assert secret not in text


async def test_the_quit_summary_keeps_the_whole_note(helpdesks: DemoHelpdesks) -> None:
    """An ack's note written back through the real adapters shows in the demo's quit summary
    in full, not only its first line (which made acks look as if their notes were lost)."""
    from supervisor_tui.adapters.base import load_adapter_class

    assert helpdesks.zendesk is not None and helpdesks.freshdesk is not None
    args = argparse.Namespace(seed=3, agents=16, queues=5, speed=1.0, profile="desk")
    config = demo_config(args, helpdesks.zendesk.base_url, helpdesks.freshdesk.base_url)
    tickets = {
        "zendesk": min(helpdesks.zendesk.tickets),
        "freshdesk": min(helpdesks.freshdesk.tickets),
    }
    note = "Calling the customer back\nthen moving two agents to chat"
    for source in config.sources:
        adapter = load_adapter_class(source.kind).from_config(
            source.name, source.model_dump(exclude={"name", "kind"}), helpdesks.clock
        )
        body = {
            "ticket_id": str(tickets[source.kind]),
            "escalation_id": f"esc-{source.kind}",
            "by": "Kim Supervisor",
            "text": note,
            "title": "Ticket waits too long",
        }
        try:
            await adapter.write_back("ack", body)
        finally:
            await adapter.close()
    summary = "\n".join(helpdesks.write_backs())
    for kind, ticket in tickets.items():
        assert f"{kind} #{ticket}" in summary
    assert summary.count("Calling the customer back") == 2
    assert summary.count("then moving two agents to chat") == 2
    assert "Acknowledged on the supervision floor by Kim Supervisor" in summary


@pytest.mark.parametrize("agents", [16, 10_000])
def test_a_big_demo_floor_starts_an_hour_into_its_day_whichever_helpdesk_serves_it(
    agents: int,
) -> None:
    """At 10,000 agents the simulator alone (``--helpdesk none``) wrote 3 h 40 min of the
    morning after the board opened (STALE for minutes); the fake helpdesks started an hour in."""
    from supervisor_tui import cli
    from supervisor_tui.adapters.simulator import SimOptions

    args = argparse.Namespace(seed=3, agents=agents, queues=5, speed=1.0, profile="wall")
    [source] = demo_config(args).sources
    expected = cli.DEMO_BIG_MORNING_S if agents > cli.DEMO_APART_AGENTS else SimOptions().warmup_s
    assert source.model_dump()["warmup_s"] == expected == cli.demo_warmup_s(agents)
