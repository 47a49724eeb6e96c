"""Network faults between the parts, through a loopback TCP proxy (tests/proxy.py) that
resets, black-holes, delays and partitions real connections: the hub and its terminals, the
collector and PostgreSQL. Each fault must show, and nothing may be lost or stored twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor_tui.core.projection import FloorState
from supervisor_tui.hub.client import HubClient
from supervisor_tui.hub.server import Hub
from supervisor_tui.model import Event

from .conftest import EPOCH, record_floor, targets
from .proxy import Proxy
from .test_hub import TOKENS, VIEW, more_events, until

# -- the proxy itself ------------------------------------------------------------------------


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest.fixture
async def echo_proxy() -> AsyncIterator[Proxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    proxy = Proxy("127.0.0.1", server.sockets[0].getsockname()[1])
    await proxy.start()
    yield proxy
    await proxy.stop()
    server.close()


async def _ask(proxy: Proxy, text: bytes = b"ping") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(text)
        await writer.drain()
        return await asyncio.wait_for(reader.read(1024), 2)
    finally:
        writer.close()


async def test_the_proxy_passes_delays_resets_blackholes_and_heals(echo_proxy: Proxy) -> None:
    proxy = echo_proxy
    assert await _ask(proxy) == b"ping"
    proxy.delay(50)
    assert await _ask(proxy, b"slow") == b"slow"
    proxy.heal()
    # an established connection is reset (RST, not FIN) by a partition
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"a")
    await writer.drain()
    assert await reader.read(10) == b"a"
    proxy.partition("reset")
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(10), 2)
        writer.write(b"b")  # pragma: no cover - only if the reset did not come through
        await writer.drain()
    writer.close()
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await _ask(proxy)  # new ones too
    # a black hole: accepted, nothing ever comes back, no error either
    proxy.partition("blackhole")
    with pytest.raises(TimeoutError):
        await _ask(proxy)
    assert proxy.vanished_bytes >= 4
    proxy.partition("close")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    assert await asyncio.wait_for(reader.read(10), 2) == b""  # accepted and closed: EOF
    writer.close()
    proxy.heal()
    assert await _ask(proxy, b"back") == b"back"
    assert proxy.resets >= 2 and proxy.accepted >= 7


# -- the hub and its terminals ---------------------------------------------------------------


@pytest.fixture
async def hub_behind_proxy(tmp_path: Path) -> AsyncIterator[tuple[Hub, Proxy]]:
    store = record_floor(tmp_path / "floor.db", until_s=2 * 3600)
    hub = Hub(store, TOKENS, targets(), lambda: EPOCH + 7200, port=0)
    await hub.start()
    proxy = Proxy("127.0.0.1", hub.port)
    await proxy.start()
    yield hub, proxy
    await proxy.stop()
    await hub.stop()
    store.close()


class Terminal:
    """A watcher that keeps every event it is sent, to check them one by one."""

    def __init__(self, url: str) -> None:
        self.client = HubClient(url, VIEW, targets())
        self.state = FloorState(targets())
        self.seqs: list[int] = []
        self.snapshots = 0

    def drain(self) -> None:
        snapshot = self.client.take_snapshot()
        if snapshot is not None:
            self.snapshots += 1
            self.state = snapshot[1]
        events: list[Event] = self.client.read_from(self.state.seq, 10**7)
        self.seqs.extend(e.seq for e in events)
        self.state.apply_all(events)


def collectors_floor(hub: Hub) -> FloorState:
    live = FloorState(targets())
    live.apply_all(hub.store.read_from(0, 10**7))
    return live


@pytest.mark.parametrize("how", ["reset", "blackhole"])
async def test_a_partitioned_terminal_says_so_and_catches_up_exactly(
    hub_behind_proxy: tuple[Hub, Proxy], how: str
) -> None:
    """During a partition the terminal's link reads "reconnecting" with the reason and the
    next try, the collector goes on writing, and after the heal the terminal's floor is the
    collector's, every seq received once. A black hole (no RST, nothing comes back) must be
    noticed by the terminal's own heartbeat, not wait for TCP forever."""
    hub, proxy = hub_behind_proxy
    term = Terminal(f"ws://{proxy.address}")
    term.client.start()
    await until(lambda: term.client.seq == hub.store.last_seq() > 0)
    term.drain()
    assert term.client.link_status() == "hub: live"
    proxy.partition(how)  # type: ignore[arg-type]
    seen: list[str] = []

    def shows_trouble() -> bool:
        status = term.client.link_status()
        seen.append(status)
        return status.startswith("hub: reconnecting (")

    await until(shows_trouble, timeout=40)
    # the collector goes on writing while the terminal is cut off
    for n in range(5):
        more_events(hub.store, 0, 120, f"{how}{n}")  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
    await until(lambda: "retry in" in term.client.link_status(), timeout=20)
    status = term.client.link_status()
    assert status != "hub: live" and term.client.last_error
    if how == "blackhole":
        # noticed by silence (the bar said so first), not by an error from the network
        assert any(s.startswith("hub: silent for") for s in seen)
        assert "no heartbeat" in term.client.last_error or "1011" in term.client.last_error
        assert proxy.vanished_bytes > 0
    else:
        assert proxy.resets >= 1
    assert term.client.seq < hub.store.last_seq()  # it really missed what came meanwhile
    proxy.heal()
    await until(
        lambda: (
            term.client.link_status() == "hub: live" and term.client.seq == hub.store.last_seq()
        ),
        timeout=30,
    )
    term.drain()
    assert term.client.connects >= 2
    assert term.snapshots == 0  # caught up with the events themselves
    assert term.seqs == list(range(1, hub.store.last_seq() + 1))  # no gap, nothing twice
    assert term.state.snapshot() == collectors_floor(hub).snapshot()
    term.client.close()


async def test_a_slow_link_delays_but_loses_nothing(hub_behind_proxy: tuple[Hub, Proxy]) -> None:
    hub, proxy = hub_behind_proxy
    term = Terminal(f"ws://{proxy.address}")
    proxy.delay(30)
    term.client.start()
    await until(lambda: term.client.seq == hub.store.last_seq() > 0, timeout=30)
    for n in range(3):
        more_events(hub.store, 0, 200, f"slow{n}")  # type: ignore[arg-type]
    proxy.reset_all()  # and one reset in the middle of it
    await until(lambda: term.client.seq == hub.store.last_seq(), timeout=30)
    term.drain()
    assert term.seqs == list(range(1, hub.store.last_seq() + 1))
    assert term.state.snapshot() == collectors_floor(hub).snapshot()
    term.client.close()


# -- the collector and PostgreSQL ------------------------------------------------------------

IO_TIMEOUT_S = 2.0


def _through(url: str, proxy: Proxy) -> str:
    """The same database, reached through the proxy (with a short connect timeout)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    params.update(host="127.0.0.1", port=str(proxy.port), connect_timeout="2")
    return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.mark.parametrize("how", ["reset", "blackhole", "drop_answers"])
async def test_the_database_cut_off_mid_append_keeps_every_event_once(
    pg_url: str, how: str
) -> None:
    """The collector writes to PostgreSQL through the proxy; in the middle of its appends the
    link is reset, black-holed (no answer, no error: only the store's deadline notices), or
    loses the answers only (the commit happens, its OK never comes: the retry must not store
    the batch twice). The events wait in the collector's bounded buffer, the trouble shows,
    and after the heal every event is stored once, seqs 1..N, the cursor last."""
    from psycopg.conninfo import conninfo_to_dict

    from supervisor_tui.hub.collector import Collector
    from supervisor_tui.store import PostgresStore

    from .conftest import rules, simulate
    from .pg import new_schema

    params = conninfo_to_dict(pg_url)
    proxy = Proxy(str(params["host"]), int(str(params["port"])))
    await proxy.start()
    schema = new_schema()
    # (in a thread: the proxy runs in this loop)
    store = await asyncio.to_thread(
        PostgresStore, _through(pg_url, proxy), schema=schema, io_timeout_s=IO_TIMEOUT_S
    )
    truth = PostgresStore(pg_url, schema=schema, read_only=True)  # straight, for the checks
    collector = Collector(store, [], rules(), targets(), lambda: EPOCH)
    await collector.start()
    events = simulate(seed=4, until_s=3600)[:2000]
    batches = [events[i : i + 50] for i in range(0, len(events), 50)]
    handed: list[int] = []

    async def adapter() -> None:  # as an adapter would: one batch after the other
        for n, batch in enumerate(batches):
            await collector.submit(batch, "simulator", f"page-{n}")
            handed.append(n)

    feeding = asyncio.create_task(adapter())
    await until(lambda: len(handed) >= 10, timeout=60)
    stored_before = truth.last_seq()
    if how == "drop_answers":
        proxy.drop_answers(after=b"COMMIT")
    else:
        proxy.partition(how)  # type: ignore[arg-type]
    if how == "reset":
        proxy.reset_all()
    await until(lambda: collector.store_trouble is not None, timeout=60)
    trouble = collector.store_trouble or ""
    assert trouble and "***" not in trouble and str(params.get("password")) not in trouble
    if how != "reset":
        assert "no answer from the server" in trouble or "cannot connect" in trouble
    await until(lambda: collector.events_waiting > 0, timeout=30)
    stuck_at = len(handed)
    await asyncio.sleep(IO_TIMEOUT_S * 2)
    assert not feeding.done() and len(handed) <= stuck_at + 1  # the adapter waits, bounded
    if how == "drop_answers":
        # commits did happen whose answers were lost: the retries must find them stored
        assert truth.last_seq() > stored_before
    proxy.heal()
    await asyncio.wait_for(feeding, 120)
    assert collector.store_trouble is None and collector.events_waiting == 0
    stored = truth.read_from(0, 10**6)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))  # no gap
    # (the rules raise escalations of their own meanwhile: those are the others)
    keys = [(e.source, e.key) for e in stored if e.source == "simulator"]
    assert keys == [(e.source, e.key) for e in events]  # each once, none lost, in order
    assert truth.get_cursor("simulator") == f"page-{len(batches) - 1}"
    await collector.stop()
    await asyncio.to_thread(store.close)
    truth.close()
    await proxy.stop()


async def test_the_dashboard_shows_a_partition_and_catches_up(
    hub_behind_proxy: tuple[Hub, Proxy],
) -> None:
    """The real dashboard (Pilot) watching through the proxy: while the hub is cut off, its
    freshness bar says so loudly with the reason and the next try; after the heal the bar is
    quiet again and the board's floor is the collector's."""
    from supervisor_tui.app import FloorSettings, SupervisorApp
    from supervisor_tui.hub.client import RemoteDesk
    from supervisor_tui.widgets import FreshnessBar

    from .conftest import rules
    from .test_app import wait_for

    hub, proxy = hub_behind_proxy
    client = HubClient(f"ws://{proxy.address}", VIEW, targets())
    settings = FloorSettings(
        floor_name="Hub floor", operator="ignored", targets=targets(), rules=rules()
    )
    app = SupervisorApp(client, settings, clock=lambda: EPOCH + 7200, desk=RemoteDesk(client))
    async with app.run_test(size=(160, 44)) as pilot:
        bar = app.query_one(FreshnessBar)
        await wait_for(pilot, lambda: app.board.state.seq == hub.store.last_seq(), "the floor")
        assert "hub: live" in str(bar.render())
        proxy.partition("reset")
        await wait_for(
            pilot, lambda: "HUB: RECONNECTING (" in str(bar.render()), "the partition", 30
        )
        shown = str(bar.render())
        assert "RETRY IN" in shown or "TRYING NOW" in shown
        for n in range(3):
            more_events(hub.store, 0, 150, f"pilot{n}")  # type: ignore[arg-type]
        proxy.heal()
        await wait_for(
            pilot,
            lambda: (
                app.board.state.seq == hub.store.last_seq() and "hub: live" in str(bar.render())
            ),
            "the heal",
            30,
        )
        assert app.board.state.snapshot() == collectors_floor(hub).snapshot()
    client.close()


async def test_a_slow_snapshot_save_does_not_stop_the_collectors_loop(tmp_path: Path) -> None:
    """Every 5,000 events the collector saves the floor. Against a store that takes its time
    (PostgreSQL behind a black hole waits out its deadline) the save must not hold the event
    loop, where the adapters, the hub and the board run: while it is blocked, a task on the
    loop must still run."""
    import time

    from supervisor_tui.core.replay import SNAPSHOT_EVERY
    from supervisor_tui.hub.collector import Collector
    from supervisor_tui.store import SQLiteStore

    from .conftest import rules, simulate

    store = SQLiteStore(tmp_path / "floor.db")
    collector = Collector(store, [], rules(), targets(), lambda: EPOCH)
    await collector.start()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    real_save = store.save_snapshot
    loop_was_free: list[bool] = []

    def slow_save(seq: int, at: float, fmt: int, data: bytes) -> None:
        start = ticks
        give_up = time.monotonic() + 10  # only a bound: a blocked loop never ticks
        while ticks < start + 5 and time.monotonic() < give_up:
            time.sleep(0.01)
        loop_was_free.append(ticks >= start + 5)
        real_save(seq, at, fmt, data)

    store.save_snapshot = slow_save  # type: ignore[method-assign]
    events = simulate(seed=4, until_s=5 * 3600)[: SNAPSHOT_EVERY + 200]
    assert len(events) == SNAPSHOT_EVERY + 200
    await collector.submit(events, "simulator", "c")
    assert loop_was_free == [True]
    assert store.snapshot_index() and store.snapshot_index()[0] >= SNAPSHOT_EVERY
    running.cancel()
    await collector.stop()
    store.close()
