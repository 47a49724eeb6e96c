"""Pages that move or disappear while an adapter reads them, and a helpdesk reached through a
network that resets, black-holes and delays (tests/proxy.py). Each time the source says it is
degraded with the reason and the next try, and then holds every ticket version the helpdesk
shows, once: checked against the fake's own records."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from supervisor_tui.adapters.polling import PolledSource
from supervisor_tui.model import HealthState, NewEvent, SourceHealth, TicketUpserted
from supervisor_tui.store import SQLiteStore

from .conftest import FakeClock
from .helpers import StoreSink
from .proxy import Proxy
from .test_freshdesk_adapter import Floor as FdFloor
from .test_freshdesk_adapter import floor as fd_floor  # noqa: F401
from .test_zendesk_adapter import Floor, drain, ticket_versions
from .test_zendesk_adapter import floor as floor  # the fixture

# -- Freshdesk: records that move between pages while they are read -----------------------


def _stored_versions(store: SQLiteStore) -> list[tuple[str, float]]:
    return [
        (e.payload.ticket_id, e.payload.updated_at)
        for e in store.events_of_kind("ticket.upserted")
        if isinstance(e.payload, TicketUpserted)
    ]


async def _read_list_to_the_end(
    fd: FdFloor, adapter: object, ended: Callable[[], bool], rounds: int = 60
) -> None:
    """The ticket list, round after round (a minute apart, for its budget), until a page
    comes without a next link."""
    from supervisor_tui.adapters.freshdesk.adapter import FreshdeskAdapter

    assert isinstance(adapter, FreshdeskAdapter)
    for _ in range(rounds):
        await adapter._poll_tickets(fd.sink)
        if ended():
            return
        fd.clock.advance(61)
    raise AssertionError("the ticket list never ended")


async def test_freshdesk_tickets_that_move_pages_while_paging_are_not_skipped(
    fd_floor: FdFloor,  # noqa: F811
) -> None:
    """Ordered by updated_at, a ticket on page 1 that an agent edits while we are on page 2
    moves to the last page, and a ticket deleted meanwhile leaves the list: every ticket
    after them moves one place up, and a reader that just asks for page 3 skips those that
    crossed the page boundary. None may be skipped."""
    fd = fd_floor
    fd.clock.advance(120)
    adapter = fd.adapter()
    real_list = adapter._get_list
    pages: list[int] = []
    last_link: list[str | None] = [None]

    async def small_pages(path: str, params: list) -> tuple:  # type: ignore[type-arg]
        params = [(k, 5 if k == "per_page" else v) for k, v in params]
        answer = await real_list(path, params)
        if path == "/api/v2/tickets" and "filter" not in dict(params):
            pages.append(int(dict(params)["page"]))
            last_link[0] = answer[1].get("link")
        return answer

    adapter._get_list = small_pages  # type: ignore[method-assign]
    real_emit = fd.sink.emit
    emitted = 0
    moved: list[int] = []

    async def emit_and_move(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        nonlocal emitted
        await real_emit(events, cursor)
        emitted += 1
        ids = [e.payload.ticket_id for e in events if isinstance(e.payload, TicketUpserted)]
        if emitted in (1, 4) and len(ids) >= 2:
            fd.fake.agent_edit(int(ids[0]))  # to the end of the list
            fd.fake.delete_ticket(int(ids[1]))  # out of the list
            moved.extend(int(i) for i in ids[:2])

    fd.sink.emit = emit_and_move  # type: ignore[method-assign]
    await _read_list_to_the_end(fd, adapter, lambda: bool(pages) and not last_link[0])
    assert len(moved) == 4 and len(pages) > 8
    stored = _stored_versions(fd.store)
    assert len(stored) == len(set(stored))  # nothing twice
    from supervisor_tui.adapters.polling import ts

    truth = {
        (str(t["id"]), ts(t["updated_at"]))
        for t in fd.fake.tickets.values()
        if not t.get("deleted")
    }
    missing = truth - set(stored)
    assert not missing, f"skipped while the pages moved: {sorted(missing)[:5]}"


# -- Zendesk: the export's cursor refused mid-way ------------------------------------------


async def test_zendesk_export_cursor_refused_mid_export_restarts_with_overlap(
    floor: Floor,
    tmp_path: Path,
) -> None:
    """Zendesk answers 400 InvalidPaginationParameter for a cursor it no longer honours. The
    adapter must not retry that cursor for ever: it reads again from the newest change it has
    stored (with an overlap) and ends with every ticket version once."""
    floor.clock.advance(120)
    clean_store = SQLiteStore(tmp_path / "clean.db")
    clean = floor.adapter()
    clean.export_per_page = 25
    await drain(clean, StoreSink(clean_store, "zendesk", floor.clock), floor.clock)
    expected = sorted(ticket_versions(clean_store))
    clean_store.close()
    assert len(expected) > 100

    adapter = floor.adapter()
    adapter.export_per_page = 25
    real_emit = floor.sink.emit
    pages = 0

    async def emit_then_expire(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        nonlocal pages
        await real_emit(events, cursor)
        pages += 1
        if pages in (3, 6):
            floor.fake.expire_cursors()  # every cursor handed out so far is now refused

    floor.sink.emit = emit_then_expire  # type: ignore[method-assign]
    await drain(adapter, floor.sink, floor.clock)
    assert floor.fake.cursors_refused >= 2  # the fault really happened
    got = ticket_versions(floor.store)
    assert len(got) == len(set(got))  # the overlap was read again and stored once
    assert sorted(got) == expected  # nothing missing


async def test_zendesk_export_cursor_refused_after_a_restart(
    floor: Floor,
    tmp_path: Path,
) -> None:
    """The stored cursor is refused when the collector comes back (it was down for longer
    than Zendesk keeps cursors): the source reads again from the newest change it stored."""
    floor.clock.advance(120)
    first = floor.adapter()
    first.export_per_page = 25
    real_emit = floor.sink.emit
    pages = 0

    async def emit_then_stop(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        nonlocal pages
        pages += 1
        if pages == 4:
            raise KeyboardInterrupt("the collector stops")
        await real_emit(events, cursor)

    floor.sink.emit = emit_then_stop  # type: ignore[method-assign]
    with contextlib.suppress(KeyboardInterrupt):
        await drain(first, floor.sink, floor.clock)
    floor.sink.emit = real_emit  # type: ignore[method-assign]
    floor.fake.expire_cursors()
    later = floor.adapter()
    later.export_per_page = 25
    later.load_cursor(floor.store.get_cursor("zendesk"))
    await drain(later, floor.sink, floor.clock)
    assert floor.fake.cursors_refused >= 1
    clean_store = SQLiteStore(tmp_path / "clean.db")
    clean = floor.adapter()
    clean.export_per_page = 25
    await drain(clean, StoreSink(clean_store, "zendesk", floor.clock), floor.clock)
    got = ticket_versions(floor.store)
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(ticket_versions(clean_store))
    clean_store.close()


# -- through a bad network ------------------------------------------------------------------

FAULTS = {2: "reset", 4: "blackhole", 6: "slow", 8: "reset_all", 10: "close"}


async def read_through_faults(
    adapter: PolledSource,
    sink: StoreSink,
    clock: FakeClock,
    proxy: Proxy,
    ended: Callable[[], bool],
) -> list[SourceHealth]:
    """Poll the ticket task until it has read to the end after the last fault; between its
    pages the network breaks (FAULTS, by page). Each DEGRADED report must carry a reason and
    a retry time; the network heals before that time comes."""
    real_emit = sink.emit
    pages = 0

    async def emit_then_break(events: Sequence[NewEvent], cursor: str | None = None) -> None:
        nonlocal pages
        await real_emit(events, cursor)
        pages += 1
        fault = FAULTS.get(pages)
        if fault in ("reset", "blackhole", "close"):
            proxy.partition(fault)  # type: ignore[arg-type]
        elif fault == "slow":
            proxy.delay(20)
        elif fault == "reset_all":
            proxy.reset_all()  # the kept-alive connection dies between two requests

    sink.emit = emit_then_break  # type: ignore[method-assign]
    for task in adapter.tasks:
        task.enabled = task.name == "tickets"
    degraded = []
    for _ in range(400):
        seen = len(sink.health_reports)
        await adapter.poll_due(sink)
        fresh = sink.health_reports[seen:]
        bad = [h for h in fresh if h.state is not HealthState.CONNECTED]
        if bad:
            report = bad[-1]
            degraded.append(report)
            assert report.state is HealthState.DEGRADED and report.reason
            assert report.retry_at is not None and report.retry_at > clock()
            if "429" not in report.reason:
                proxy.heal()  # the network comes back before the retry
            clock.now = report.retry_at + 0.5
            continue
        if ended() and pages > max(FAULTS):
            sink.emit = real_emit  # type: ignore[method-assign]
            return degraded
        task = adapter.task("tickets")
        clock.now = max(clock(), task.due_at, clock() + adapter.budget.wait_s()) + 1
        task.due_at = min(task.due_at, clock())
    raise AssertionError("the source never caught up")


async def test_zendesk_through_resets_black_holes_and_delays_catches_up_exactly(
    floor: Floor,
    tmp_path: Path,
) -> None:
    """The export is read through the proxy; between its pages the link is partitioned
    (reset), black-holed (the request times out), slowed, and its kept-alive connection
    reset. Each fault shows as DEGRADED with the reason and the next try; the source then
    catches up with every ticket version once, as a clean read of the same account."""
    floor.clock.advance(120)
    clean_store = SQLiteStore(tmp_path / "clean.db")
    clean = floor.adapter()
    clean.export_per_page = 25
    await drain(clean, StoreSink(clean_store, "zendesk", floor.clock), floor.clock)
    expected = sorted(ticket_versions(clean_store))
    clean_store.close()

    port = int(floor.fake.base_url.rsplit(":", 1)[1])
    proxy = Proxy("127.0.0.1", port)
    await proxy.start()
    adapter = floor.adapter(base_url=f"http://{proxy.address}")
    adapter.export_per_page = 25
    adapter.api._client.timeout = httpx.Timeout(1.0)  # a black hole is noticed in a second
    for task in adapter.tasks:
        task.enabled = task.name == "tickets"
    degraded = await read_through_faults(
        adapter, floor.sink, floor.clock, proxy, lambda: adapter.last_export_ended
    )
    reasons = " | ".join(h.reason for h in degraded)
    assert "cannot reach the server" in reasons  # the reset
    assert "timed out" in reasons  # the black hole
    assert proxy.resets >= 2 and proxy.vanished_bytes > 0
    got = ticket_versions(floor.store)
    assert len(got) == len(set(got))
    assert sorted(got) == expected  # no gap, no duplicate
    await adapter.api.close()
    await proxy.stop()


async def test_freshdesk_through_resets_black_holes_and_delays_catches_up_exactly(
    fd_floor: FdFloor,  # noqa: F811
) -> None:
    """The same faults between the pages of Freshdesk's ticket list: every live ticket, in
    its current version, stored once."""
    from supervisor_tui.adapters.polling import ts

    fd = fd_floor
    fd.clock.advance(120)
    port = int(fd.fake.base_url.rsplit(":", 1)[1])
    proxy = Proxy("127.0.0.1", port)
    await proxy.start()
    adapter = fd.adapter(base_url=f"http://{proxy.address}")
    adapter.api._client.timeout = httpx.Timeout(1.0)
    real_list = adapter._get_list
    last_link: list[str | None] = ["?"]

    async def pages_of_25(path: str, params: list) -> tuple:  # type: ignore[type-arg]
        params = [(k, 25 if k == "per_page" else v) for k, v in params]
        answer = await real_list(path, params)
        if path == "/api/v2/tickets" and "filter" not in dict(params):
            last_link[0] = answer[1].get("link")
        return answer

    adapter._get_list = pages_of_25  # type: ignore[method-assign]
    degraded = await read_through_faults(
        adapter, fd.sink, fd.clock, proxy, lambda: last_link[0] is None
    )
    reasons = " | ".join(h.reason for h in degraded)
    assert "cannot reach the server" in reasons and "timed out" in reasons
    assert proxy.resets >= 2 and proxy.vanished_bytes > 0
    stored = _stored_versions(fd.store)
    assert len(stored) == len(set(stored))
    truth = {
        (str(t["id"]), ts(t["updated_at"]))
        for t in fd.fake.tickets.values()
        if not t.get("deleted")
    }
    assert set(stored) == truth  # no gap, nothing extra
    await adapter.api.close()
    await proxy.stop()
