"""The escalation detail (issue #17, item 5): a terminal link to the helpdesk's own ticket
page, built by the adapter that owns the source, and each write-back's state (pending,
retrying, done, failed with the helpdesk's reason) per ack, note and resolve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.table import Table
from rich.text import Text
from textual.pilot import Pilot

from supervisor_tui.adapters.base import WriteBackError, load_adapter_class, ticket_page
from supervisor_tui.adapters.simulator import SimOptions, SimulatorAdapter
from supervisor_tui.app import SupervisorApp
from supervisor_tui.config import parse_config
from supervisor_tui.core.projection import Escalation
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import HealthState, NewEvent, SourceHealth
from supervisor_tui.screens.detail import EscalationDetail
from supervisor_tui.store import SQLiteStore
from supervisor_tui.widgets import EscalationFeed

from .conftest import EPOCH, FakeClock, record_floor, rules, targets
from .test_app import settings, wait_for

NOW = EPOCH + 3.5 * 3600


@pytest.mark.parametrize(
    ("source", "page"),
    [
        (
            {"kind": "zendesk", "subdomain": "acme", "email": "a@b.c", "token_env": "T_TOKEN"},
            "https://acme.zendesk.com/agent/tickets/{id}",
        ),
        (
            {"kind": "freshdesk", "domain": "acme", "api_key_env": "T_TOKEN"},
            "https://acme.freshdesk.com/a/tickets/{id}",
        ),
        (
            {"kind": "jsm", "site": "acme", "email": "a@b.c", "token_env": "T_TOKEN"},
            "https://acme.atlassian.net/browse/{id}",
        ),
        (
            {"kind": "servicenow", "instance": "acme", "username": "u", "password_env": "T_TOKEN"},
            "https://acme.service-now.com/nav_to.do?uri=task.do%3Fsysparm_query%3Dnumber%3D{id}",
        ),
        ({"kind": "simulator"}, ""),
    ],
)
def test_each_adapter_says_where_its_tickets_are_read(
    source: dict[str, str], page: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("T_TOKEN", "not-a-real-token")
    (parsed,) = parse_config({"sources": [{"name": "desk", **source}]}, "test").sources
    adapter_class = load_adapter_class(source["kind"])
    adapter = adapter_class.from_config(
        "desk", parsed.model_dump(exclude={"name", "kind"}), FakeClock(EPOCH)
    )
    assert ticket_page(adapter) == page
    collector = Collector(
        SQLiteStore(tmp_path / "f.db"), [adapter], rules(), targets(), FakeClock(EPOCH)
    )
    assert collector.ticket_pages == {"desk": page}  # said with the source's health
    collector.store.close()


def texts(blocks: list[Text | Table]) -> list[Text]:
    """Every piece of text in the detail, table cells included."""
    found: list[Text] = []
    for block in blocks:
        if isinstance(block, Text):
            found.append(block)
        else:
            for column in block.columns:
                found += [cell for cell in column.cells if isinstance(cell, Text)]
                found += [
                    c for cell in column.cells if isinstance(cell, Table) for c in texts([cell])
                ]
    return found


def links(blocks: list[Text | Table]) -> set[str]:
    out: set[str] = set()
    for text in texts(blocks):
        for style in [text.style, *(span.style for span in text.spans)]:
            if not isinstance(style, str) and style.link:
                out.add(style.link)
    return out


def plain(blocks: list[Text | Table]) -> str:
    return "\n".join(t.plain for t in texts(blocks))


async def open_detail(pilot: Pilot[None], app: SupervisorApp, esc_id: str) -> list[Text | Table]:
    app.query_one(EscalationFeed).select(esc_id)
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, EscalationDetail)
    blocks = screen.blocks
    await pilot.press("escape")
    await pilot.pause()
    return blocks


def health_with_page(page: str, at: float) -> NewEvent:
    """What the collector writes for a source whose adapter has a ticket page."""
    return NewEvent(
        source="simulator",
        key=f"health:{at}",
        occurred_at=at,
        received_at=at,
        payload=SourceHealth(state=HealthState.CONNECTED, ticket_url=page, at=at),
    )


def first_ticket_escalation(app: SupervisorApp) -> Escalation:
    return next(e for e in app.board.state.escalations.values() if e.ticket_id and e.is_open)


async def test_the_detail_links_the_ticket_to_its_helpdesk_page(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db")
    app = SupervisorApp(store, settings(), clock=FakeClock(NOW))
    async with app.run_test(size=(200, 50)) as pilot:
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: feed.selected is not None, "an escalation")
        esc = first_ticket_escalation(app)
        assert esc.ticket_id is not None
        blocks = await open_detail(pilot, app, esc.escalation_id)
        assert links(blocks) == set()  # the simulator has no ticket page, and says so
        assert "simulator has no ticket page" in plain(blocks)

        store.append([health_with_page("https://acme.zendesk.com/agent/tickets/{id}", NOW)])
        await wait_for(
            pilot, lambda: app.board.state.sources["simulator"].ticket_url != "", "health"
        )
        blocks = await open_detail(pilot, app, esc.escalation_id)
        url = f"https://acme.zendesk.com/agent/tickets/{esc.ticket_id}"
        assert links(blocks) == {url} and url in plain(blocks)

        # a recording from elsewhere is data: no link that is not a web page
        store.append([health_with_page("file:///etc/passwd?{id}", NOW + 1)])
        await wait_for(
            pilot,
            lambda: app.board.state.sources["simulator"].ticket_url.startswith("file"),
            "health",
        )
        blocks = await open_detail(pilot, app, esc.escalation_id)
        assert links(blocks) == set() and "no ticket page" in plain(blocks)
    store.close()


class FlakyDesk(SimulatorAdapter):
    """The simulator as a helpdesk whose write-backs answer as told: 503 once, then fine;
    a note refused for good."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.busy_once = True

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        if action == "note":
            raise WriteBackError("403 the agent may not add internal notes", retryable=False)
        if self.busy_once:
            self.busy_once = False
            raise WriteBackError("helpdesk said 503", retry_after_s=5)
        await super().write_back(action, body)


async def test_the_detail_shows_each_write_back_as_it_goes(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    store = record_floor(tmp_path / "f.db")
    adapter = FlakyDesk(
        "simulator", SimOptions(seed=7, speed=None, hours=1, epoch=EPOCH), clock=clock
    )
    collector = Collector(store, [adapter], rules(), targets(), clock)  # delivers when told
    app = SupervisorApp(store, settings(), clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: feed.selected is not None, "an escalation")
        esc = first_ticket_escalation(app)
        feed.select(esc.escalation_id)
        await pilot.pause()
        await pilot.press("a", *"calling the customer", "enter")
        await wait_for(pilot, lambda: len(esc.write_backs) == 1, "the ack's write-back")
        shown = plain(await open_detail(pilot, app, esc.escalation_id))
        assert "ack" in shown and "… pending" in shown

        await collector.deliver_outbox()  # 503: kept, tried again later
        await wait_for(pilot, lambda: esc.write_backs[0].state == "retrying", "retrying")
        shown = plain(await open_detail(pilot, app, esc.escalation_id))
        assert "↻ retrying" in shown and "helpdesk said 503" in shown and "next try" in shown

        clock.advance(60)
        await collector.deliver_outbox()
        await wait_for(pilot, lambda: esc.write_backs[0].state == "delivered", "delivered")
        assert adapter.write_backs and adapter.write_backs[0][0] == "ack"

        feed.select(esc.escalation_id)
        await pilot.pause()
        await pilot.press("n", *"customer called back", "enter")
        await wait_for(pilot, lambda: len(esc.write_backs) == 2, "the note's write-back")
        await collector.deliver_outbox()
        await wait_for(pilot, lambda: esc.write_backs[1].state == "failed", "failed")
        blocks = await open_detail(pilot, app, esc.escalation_id)
        shown = plain(blocks)
        assert "✔ delivered" in shown and "✖ failed" in shown
        assert "403 the agent may not add internal notes" in shown
        assert "a snooze stays" not in shown  # there are write-backs to list
    store.close()
