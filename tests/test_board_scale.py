"""A board of many queues and agents costs what is on screen (issue #20).

The compact queue table figures only the rows on screen and keeps every queue's level for
the order; the agents board moves an agent to its new place instead of sorting them all.
These tests check that the shortcuts never show something else than the long way would.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.core import kpis as kpis_module
from supervisor_tui.core.kpis import QueueKpis, backlog_severity, queue_kpis, sla_level
from supervisor_tui.core.projection import AgentView, FloorState
from supervisor_tui.model import (
    AgentState,
    Channel,
    ContactOffered,
    EscalationRaised,
    Event,
    NewEvent,
    Payload,
    QueueUpserted,
    Severity,
    SlaChanged,
    SlaState,
    TicketDeleted,
    TicketStatus,
    TicketUpserted,
)
from supervisor_tui.screens import board as board_module
from supervisor_tui.store import SQLiteStore
from supervisor_tui.widgets.agents import AgentBoard, board_order
from supervisor_tui.widgets.queuetable import QueueRow, QueueTable

from .conftest import EPOCH, FakeClock, rules, simulate, targets
from .doors import fuzz_examples
from .test_look import many_queues

QUEUES = 40
"""At 80×24 the compact table has room for a few of them: the rest are off screen."""


def event(payload: Payload, at: float) -> NewEvent:
    return NewEvent(
        source="sim",
        key=f"{payload.KIND}:{random.random()}",
        occurred_at=at,
        received_at=at,
        payload=payload,
    )


def floor_settings() -> FloorSettings:
    return FloorSettings(floor_name="Scale", operator="ana", targets=targets(), rules=rules())


def raised(queue_id: str, at: float) -> NewEvent:
    return event(
        EscalationRaised(
            escalation_id=f"e-{queue_id}",
            rule_id="sl",
            subject=f"queue:{queue_id}",
            queue_id=queue_id,
            severity=Severity.CRITICAL,
            title=f"{queue_id} below target",
            raised_at=at,
        ),
        at,
    )


async def caught_up(pilot: Pilot[None], app: SupervisorApp) -> None:
    store = app.store
    assert isinstance(store, SQLiteStore)
    for _ in range(400):
        if app.board.state.seq == store.last_seq() and app.board.state.queues:
            break
        await pilot.pause(0.05)
    assert app.board.state.seq == store.last_seq(), "the board did not catch up"
    await pilot.pause()


async def test_a_queue_off_screen_climbs_the_table_at_once_when_it_turns_critical(
    tmp_path: Path,
) -> None:
    store = many_queues(tmp_path / "f.db", QUEUES)
    clock = FakeClock(EPOCH + 60)
    app = SupervisorApp(store, floor_settings(), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await caught_up(pilot, app)
        table = app.board.queue_table
        assert app.board.tiles.compact
        assert "q39" not in table.shown_ids and len(table.shown_ids) < QUEUES
        store.append([raised("q39", clock())])
        await caught_up(pilot, app)
        # no clock tick in between: the escalation alone moves it
        assert table.rows[0].kpis.queue_id == "q39"
        assert table.rows[0].severity is Severity.CRITICAL
        assert table.shown_ids[0] == "q39"
        assert str(table.render()).splitlines()[0].startswith("▲ ALERT")
        assert "Queue 39" in str(table.render()).splitlines()[0]
    store.close()


async def test_a_ticket_queue_off_screen_climbs_when_its_sla_breaches_by_the_clock(
    tmp_path: Path,
) -> None:
    store = many_queues(tmp_path / "f.db", QUEUES)
    clock = FakeClock(EPOCH + 60)
    at = clock()
    store.append(
        [
            event(QueueUpserted(queue_id="zmail", name="Mail", channel=Channel.EMAIL), at),
            event(
                TicketUpserted(
                    ticket_id="t1",
                    status=TicketStatus.OPEN,
                    channel=Channel.EMAIL,
                    queue_id="zmail",
                    subject="late",
                    created_at=at,
                    updated_at=at,
                ),
                at,
            ),
            event(
                SlaChanged(
                    ticket_id="t1",
                    metric="first_reply_time",
                    target_s=3600,
                    due_at=at + 3600,
                    state=SlaState.ACTIVE,
                ),
                at,
            ),
        ]
    )
    app = SupervisorApp(store, floor_settings(), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await caught_up(pilot, app)
        app.board.tick()
        await pilot.pause()
        table = app.board.queue_table
        assert "zmail" not in table.shown_ids
        clock.advance(3700)  # past due: breached by the clock, no event says so
        app.board.tick()
        await pilot.pause()
        assert table.shown_ids[0] == "zmail"
        top = table.rows[0]
        assert top.severity is Severity.CRITICAL and top.kpis.sla_breached == 1
        assert str(table.render()).splitlines()[0].startswith("▲ ALERT")
    store.close()


async def test_tickets_of_queues_off_screen_are_counted_after_the_first_paint_and_put_in_order(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Only what is visible may cost: a floor just opened (200,000 open tickets at 10,000
    agents, most of a second to count) paints the queues on screen first; the others are
    counted a slice at a time between frames, and one whose SLA clock has breached climbs
    to the top once counted, as if it had been counted before."""
    store = many_queues(tmp_path / "f.db", 0)
    clock = FakeClock(EPOCH + 7200)
    at = EPOCH + 60
    events: list[NewEvent] = []
    for i in range(QUEUES):
        queue_id = f"m{i:02}" if i < QUEUES - 1 else "zz-late"  # arrives last: off screen
        events.append(
            event(QueueUpserted(queue_id=queue_id, name=queue_id, channel=Channel.EMAIL), at)
        )
        for n in range(3):
            ticket_id = f"{queue_id}-{n}"
            events.append(
                event(
                    TicketUpserted(
                        ticket_id=ticket_id,
                        status=TicketStatus.OPEN,
                        channel=Channel.EMAIL,
                        queue_id=queue_id,
                        subject="help",
                        created_at=at,
                        updated_at=at,
                    ),
                    at,
                )
            )
            due = at + (60 if queue_id == "zz-late" else 86_400)  # breached an hour ago
            events.append(
                event(
                    SlaChanged(
                        ticket_id=ticket_id,
                        metric="first_reply_time",
                        target_s=due - at,
                        due_at=due,
                        state=SlaState.ACTIVE,
                    ),
                    at,
                )
            )
    store.append(events)
    first_slice: list[tuple[set[str], set[str]]] = []
    real = board_module.BoardScreen._count_some

    def counting(board: Any) -> None:
        if not first_slice:
            tally = board.state.ticket_tally
            counted = set() if tally is None else set(tally.built)
            first_slice.append((counted, set(board.queue_table.shown_ids)))
        real(board)

    monkeypatch.setattr(board_module.BoardScreen, "_count_some", counting)
    app = SupervisorApp(store, floor_settings(), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await caught_up(pilot, app)
        board, table = app.board, app.board.queue_table
        for _ in range(100):
            if not board._to_count and table.shown_ids and table.shown_ids[0] == "zz-late":
                break
            await pilot.pause(0.05)
        assert first_slice, "nothing was left to count after the first paint"
        counted_first, shown_first = first_slice[0]
        assert counted_first <= shown_first and "zz-late" not in counted_first
        tally = board.state.ticket_tally
        assert tally is not None and set(board.state.queues) <= tally.built
        assert table.shown_ids[0] == "zz-late"
        top = table.rows[0]
        assert top.severity is Severity.CRITICAL and top.kpis.sla_breached == 3
        assert str(table.render()).splitlines()[0].startswith("▲ ALERT")
        # the order is the one a count of every queue at once gives
        for row in table.rows:
            queue = board.state.queues[row.kpis.queue_id]
            assert row.severity is sla_level(board.state, queue, clock()), row.kpis.queue_id
    store.close()


async def test_events_for_a_queue_off_screen_do_not_figure_it_until_it_shows(
    tmp_path: Path, monkeypatch: Any
) -> None:
    store = many_queues(tmp_path / "f.db", QUEUES)
    clock = FakeClock(EPOCH + 60)
    figured: list[str] = []
    real = board_module.queue_kpis

    def counting(state: FloorState, queue: Any, now: float, **how: Any) -> Any:
        figured.append(queue.queue_id)
        return real(state, queue, now, **how)

    monkeypatch.setattr(board_module, "queue_kpis", counting)
    app = SupervisorApp(store, floor_settings(), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await caught_up(pilot, app)
        table = app.board.queue_table
        off = [queue_id for queue_id in app.board.state.queues if queue_id not in table.shown_ids]
        assert off
        figured.clear()
        store.append(
            [
                event(
                    QueueUpserted(
                        queue_id=queue_id, name=f"{queue_id} renamed", channel=Channel.CHAT
                    ),
                    clock(),
                )
                for queue_id in off
            ]
        )
        await caught_up(pilot, app)
        assert not set(figured) & set(off), "queues off screen were figured"
        # once on screen (an alert brings it to the top), it is figured, with what changed
        store.append([raised(off[-1], clock())])
        await caught_up(pilot, app)
        assert off[-1] in figured
        assert table.rows[0].kpis.name == f"{off[-1]} renamed"
        assert f"{off[-1]} renamed" in str(table.render()).splitlines()[0]
    store.close()


def test_sla_level_is_the_level_of_the_queue_figures() -> None:
    """The board orders queues by ``sla_level``: it must say what the figures say."""
    state = FloorState(targets())
    events = simulate(seed=11, until_s=3.5 * 3600)
    for seq, new in enumerate(events, start=1):
        state.apply(Event(seq=seq, **new.model_dump(exclude={"payload"}), payload=new.payload))
    seen: set[Severity | None] = set()
    for later in (0.0, 3600.0, 86_400.0, 3 * 86_400.0):
        now = EPOCH + 3.5 * 3600 + later
        for queue in state.queues.values():
            state.ticket_tally = None  # each counted afresh, both ways
            expected = backlog_severity(queue_kpis(state, queue, now))
            state.ticket_tally = None
            assert sla_level(state, queue, now) is expected, (queue.queue_id, later)
            seen.add(expected)
    assert Severity.CRITICAL in seen and None in seen  # the floor exercised both ends
    assert kpis_module.sla_level is sla_level


# -- the backlog counts ------------------------------------------------------------------

TICKET_QUEUES = ("mail", "web", "chat", None)

ticket_step = st.one_of(
    st.tuples(
        st.just("ticket"),
        st.integers(0, 7),  # which ticket
        st.sampled_from(list(TicketStatus)),
        st.sampled_from(TICKET_QUEUES),
        st.integers(-50, 4),  # created, in hours from the start: up to two days old
        st.integers(0, 3),  # updated, in quarter hours after the last one (ties happen)
    ),
    st.tuples(
        st.just("sla"),
        st.integers(0, 9),  # some tickets never seen
        st.sampled_from(["first_reply_time", "resolution_time"]),
        st.sampled_from(list(SlaState)),
        st.sampled_from([900, 3600, 8 * 3600]),  # target
        st.integers(-8, 40),  # due, in quarter hours from the start
    ),
    st.tuples(st.just("deleted"), st.integers(0, 7)),
    # look at the figures: a few quarter hours on (clocks cross into risk and breach on
    # the quarter hour), a day on (age buckets), or back (a replay seeking backwards)
    st.tuples(st.just("look"), st.sampled_from([0, 1, 4, 96, -4])),
    # ...or at the very instant the next count changes by the clock alone
    st.tuples(st.just("next"), st.sampled_from(TICKET_QUEUES[:3])),
)


@settings(max_examples=fuzz_examples(200), deadline=None)
@given(st.lists(ticket_step, min_size=1, max_size=60))
@example(  # a day old at the very instant looked at; an SLA clock due at that instant
    [
        ("ticket", 0, TicketStatus.OPEN, "mail", -23, 0),
        ("sla", 0, "first_reply_time", SlaState.ACTIVE, 3600, 4),
        ("look", 0),
        ("look", 1),
        ("next", "mail"),
        ("next", "mail"),
    ]
)
def test_kept_backlog_counts_equal_a_fresh_count_after_any_events(
    steps: list[tuple[Any, ...]],
) -> None:
    """The board orders and shows ticket queues by counts kept ticket by ticket
    (``ticket_figures``): after any tickets opened, moved, solved, closed, deleted, any SLA
    clock set, paused, fulfilled or breached, at any instant, they are the counts of every
    open ticket again (``count_ticket_figures``)."""
    state = FloorState(targets())
    start = EPOCH + 3 * 86_400
    now = updated = start
    seq = 0

    def fold(payload: Payload, at: float) -> None:
        nonlocal seq
        seq += 1
        state.apply(
            Event(
                seq=seq,
                source="sim",
                key=f"k{seq}",
                occurred_at=at,
                received_at=at,
                payload=payload,
            )
        )

    for step in steps:
        kind = step[0]
        if kind == "ticket":
            _, n, status, queue_id, created_h, later = step
            updated += later * 900
            fold(
                TicketUpserted(
                    ticket_id=f"t{n}",
                    status=status,
                    queue_id=queue_id,
                    created_at=start + created_h * 3600,
                    updated_at=updated,
                ),
                updated,
            )
        elif kind == "sla":
            _, n, metric, sla_state, target_s, due_q = step
            fold(
                SlaChanged(
                    ticket_id=f"t{n}",
                    metric=metric,
                    target_s=target_s,
                    due_at=start + due_q * 900,
                    state=sla_state,
                ),
                updated,
            )
        elif kind == "deleted":
            fold(TicketDeleted(ticket_id=f"t{step[1]}"), updated)
        else:
            if kind == "look":
                now += step[1] * 900
            elif (queue := state.queues.get(step[1])) is not None:
                now = min(
                    now + 4 * 86_400,
                    kpis_module.count_ticket_figures(state, queue, now).valid_until,
                )
            for queue in state.queues.values():
                kept = kpis_module.ticket_figures(state, queue, now)
                fresh = kpis_module.count_ticket_figures(state, queue, now)
                assert (kept.aging, kept.at_risk, kept.breached) == (
                    fresh.aging,
                    fresh.at_risk,
                    fresh.breached,
                ), (queue.queue_id, now - start)
                assert sla_level(state, queue, now) is backlog_severity(
                    queue_kpis(state, queue, now)
                )


# -- the agents board ----------------------------------------------------------------------

STATES = list(AgentState)
QUEUE_IDS = ("q1", "q2", "q3")

change = st.tuples(
    st.integers(0, 29),  # which agent (some of them do not exist yet)
    st.sampled_from(["state", "queues", "name", "gone"]),
    st.sampled_from(STATES),
    st.integers(0, 5),  # since, coarse so that ties happen
    st.sampled_from(["ana", "Ben", "ana", "Çelik", "dee"]),
    st.sets(st.sampled_from(QUEUE_IDS), max_size=2),
)


@settings(max_examples=fuzz_examples(60), deadline=None)
@given(
    st.lists(change, min_size=1, max_size=60),
    st.sampled_from([None, "q1"]),
    st.integers(1, 8),
)
def test_the_agents_board_keeps_the_order_a_full_sort_would_give(
    changes: list[tuple[int, str, AgentState, int, str, set[str]]],
    queue_filter: str | None,
    per_call: int,
) -> None:
    agents: dict[str, AgentView] = {
        f"a{i}": AgentView(f"a{i}", f"agent {i % 7}", ("q1",) if i % 2 else ("q2",))
        for i in range(20)
    }
    board = AgentBoard()
    board.set_queue_filter(queue_filter)
    board.set_agents(agents, 100.0)
    touched: set[str] = set()
    for n, (who, what, state, since, name, queues) in enumerate(changes):
        agent_id = f"a{who}"
        agent = agents.get(agent_id) or AgentView(agent_id, name)
        if what == "gone":
            agents.pop(agent_id, None)
        elif what == "state":
            agent.state, agent.since = state, float(since)
            agents[agent_id] = agent
        elif what == "queues":
            agent.queue_ids = tuple(sorted(queues))
            agents[agent_id] = agent
        else:
            agent.name = name
            agents[agent_id] = agent
        touched.add(agent_id)
        if (n + 1) % per_call == 0 or n == len(changes) - 1:
            board.agents_changed(touched)  # several changes in one batch, as events come
            touched = set()
            chosen = [
                a for a in agents.values() if queue_filter is None or queue_filter in a.queue_ids
            ]
            # the counts at once; the places at the next tick
            counts = dict.fromkeys(AgentState, 0)
            for a in chosen:
                counts[a.state] += 1
            assert board.summary() == counts
            assert board.agent_count == len(chosen)
            board.tick(100.0 + n)
            assert board._order == [a.agent_id for a in sorted(chosen, key=board_order)]


async def test_a_steady_stream_on_a_big_floor_leaves_the_forecasts_to_the_clock(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A forecast is figured per queue: on a floor of 300 queues, 1,500 events (a few
    seconds of such a floor) are no burst to figure them all again; ten seconds are."""
    queues = 300
    store = SQLiteStore(tmp_path / "f.db")
    store.append(
        [
            event(QueueUpserted(queue_id=f"c{i}", name=f"Chat {i}", channel=Channel.CHAT), EPOCH)
            for i in range(queues)
        ]
    )
    clock = FakeClock(EPOCH + 60)
    figured: list[str] = []
    real = board_module.queue_forecast

    def counting(state: FloorState, queue_id: str, now: float, **options: Any) -> Any:
        figured.append(queue_id)
        return real(state, queue_id, now, **options)

    monkeypatch.setattr(board_module, "queue_forecast", counting)
    app = SupervisorApp(store, floor_settings(), clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await caught_up(pilot, app)
        app.board.tick()
        await pilot.pause()
        figured.clear()
        store.append(
            [
                event(
                    ContactOffered(
                        contact_id=f"x{k}",
                        queue_id=f"c{k % queues}",
                        channel=Channel.CHAT,
                        offered_at=clock() - k / 100,
                    ),
                    clock(),
                )
                for k in range(1500)
            ]
        )
        await caught_up(pilot, app)
        app.board.tick()
        await pilot.pause()
        assert figured == []
        clock.advance(10)
        app.board.tick()
        await pilot.pause()
        assert sorted(figured) == sorted(f"c{i}" for i in range(queues))
    store.close()


async def test_no_forecast_is_figured_while_the_board_reads_a_long_store_in_batches(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A store read in batches brings a burst each time: the forecasts wait for the last
    batch instead of being figured on every tick of a long catch-up.

    The store's reader is held after the first batch of the burst, so the board is caught
    in the middle of its catch-up for as long as the test looks: its own clock ticks too."""
    batch = 1000
    monkeypatch.setattr(board_module, "READ_BATCH", batch)
    store = many_queues(tmp_path / "f.db", QUEUES)
    clock = FakeClock(EPOCH + 60)
    figured: list[int] = []
    real = board_module.queue_forecast

    def counting(state: FloorState, queue_id: str, now: float, **options: Any) -> Any:
        figured.append(state.seq)
        return real(state, queue_id, now, **options)

    monkeypatch.setattr(board_module, "queue_forecast", counting)
    held_from = store.last_seq() + batch
    released = threading.Event()
    read_from = store.read_from

    def held_read(after_seq: int, limit: int = 10_000) -> list[Event]:
        if after_seq >= held_from:  # runs in the board's reading thread
            released.wait(30)
        return read_from(after_seq, limit)

    monkeypatch.setattr(store, "read_from", held_read)
    app = SupervisorApp(store, floor_settings(), clock=clock)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await caught_up(pilot, app)
            board = app.board
            store.append(
                [
                    event(
                        ContactOffered(
                            contact_id=f"x{k}",
                            queue_id="q01",
                            channel=Channel.CHAT,
                            offered_at=clock(),
                        ),
                        clock(),
                    )
                    for k in range(3 * batch)
                ]
            )
            for _ in range(400):
                if board.state.seq == held_from:
                    break
                await pilot.pause(0.05)
            assert board.state.seq == held_from, "the first batch never reached the board"
            figured.clear()
            board.tick()
            await pilot.pause(1.5)  # and the board's own clock, once at least
            assert figured == []
            released.set()
            await caught_up(pilot, app)
            board.tick()
            await pilot.pause()
            assert len(figured) == QUEUES and set(figured) == {board.state.seq}
    finally:
        released.set()
        store.close()


async def test_the_clock_repaints_only_the_agent_lines_whose_time_in_state_changed() -> None:
    """Hours in a state read "3h41m" for a minute: a tick leaves those lines alone and
    repaints the line of the agent whose "0:42" moved (the lines changed, as one region)."""
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    now = 1_000_000.0
    agents = {
        f"a{i}": AgentView(f"a{i}", f"agent {i:02}", state=AgentState.BUSY, since=now - 4 * 3600)
        for i in range(12)
    }
    agents["a99"] = AgentView("a99", "fresh", state=AgentState.AVAILABLE, since=now - 42)

    class Board(App[None]):
        def compose(self) -> ComposeResult:
            yield AgentBoard(id="agents")

    app = Board()
    async with app.run_test(size=(100, 20)) as pilot:
        board = app.query_one(AgentBoard)
        board.set_agents(agents, now)
        await pilot.pause()
        assert board.columns == 2
        painted: list[tuple[Region, ...]] = []
        real = board.refresh

        def refresh(*regions: Region, **options: Any) -> Any:
            painted.append(regions)
            return real(*regions, **options)

        board.refresh = refresh  # type: ignore[method-assign]
        board.tick(now + 1)
        # the available agent comes first: line 0 only ("0:42" → "0:43")
        assert painted == [(Region(0, 0, board.line_width, 1),)]
        await pilot.pause()
        assert "0:43" in board.render_line(0).text
        painted.clear()
        board.tick(now + 60)  # a minute: every "4h00m" is "4h01m" now
        # one region from the first line changed to the last (cheaper to composite than a
        # region a line)
        assert painted == [(Region(0, 0, board.line_width, -(-len(agents) // 2)),)]


async def test_the_floor_folded_at_start_is_frozen_out_of_the_collector_until_the_board_closes(
    tmp_path: Path,
) -> None:
    """A full collection no longer walks the floor folded at start (a 0.2 s pause at a
    tenth of the issue's floor): frozen once the board has caught up, given back when the
    board closes, and the board goes on folding and painting what comes after."""
    import gc

    store = many_queues(tmp_path / "f.db", QUEUES)
    clock = FakeClock(EPOCH + 60)
    assert gc.get_freeze_count() == 0
    app = SupervisorApp(store, floor_settings(), clock=clock)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await caught_up(pilot, app)
            for _ in range(40):
                if gc.get_freeze_count():
                    break
                await pilot.pause(0.05)
            frozen = gc.get_freeze_count()
            assert frozen > 0
            board = app.board
            store.append([raised("q39", clock())])
            await caught_up(pilot, app)
            assert board.queue_table.shown_ids[0] == "q39"
            # frozen once: what came after stays in the collector's sight (some of what was
            # frozen is freed by its count as the floor moves on)
            assert gc.get_freeze_count() <= frozen
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        store.close()


async def test_agent_cells_kept_around_the_clock_are_the_cells_drawn_afresh() -> None:
    """The agents board keeps each cell's parts that the clock leaves alone (label, name,
    plan, work, handled) and rewrites only the time in state, and its tick repaints only
    the lines whose text changed: after any changes of state, reason, work, name, plan,
    width and any clock, what the board shows is the whole board drawn again, and every
    line is, segment for segment and cell for cell, the line built from ``_cell`` (the
    long way)."""
    from rich.segment import Segment
    from textual.app import App, ComposeResult
    from textual.geometry import Region
    from textual.strip import Strip

    from supervisor_tui.core.schedule import AgentPlan

    rng = random.Random(20)
    now = 1_000_000.0
    names = ["ana", "Nguyễn Thị Thanh", "王秀英", "Олена Коваленко", "Ben", "佐藤 美咲"]
    agents = {
        f"a{i}": AgentView(
            f"a{i}",
            rng.choice(names) + f" {i}",
            state=rng.choice(STATES),
            since=now - rng.uniform(0, 20_000),
            work=rng.choice(["", "support", "billing dispute #4411"]),
            handled_today=rng.randint(0, 1200),
        )
        for i in range(60)
    }

    class Board(App[None]):
        def compose(self) -> ComposeResult:
            yield AgentBoard(id="agents", long_break_s=600)

    app = Board()
    async with app.run_test(size=(140, 30)) as pilot:
        board = app.query_one(AgentBoard)
        board.set_agents(agents, now)
        await pilot.pause()
        compared = 0
        for step in range(120):
            now += rng.choice([1.0, 1.0, 59.0, 3600.0])
            touched = set(rng.sample(sorted(agents), 4))
            for agent_id in touched:
                agent = agents[agent_id]
                what = rng.choice(["state", "reason", "work", "name", "handled"])
                if what == "state":
                    agent.state, agent.since = rng.choice(STATES), now - rng.uniform(0, 900)
                elif what == "reason":
                    agent.reason = rng.choice(["", "lunch", "コーチング"])
                elif what == "work":
                    agent.work = rng.choice(["", "support", "ticket 12"])
                elif what == "name":
                    agent.name = rng.choice(names)
                else:
                    agent.handled_today += 1
            board.agents_changed(touched)
            if step % 10 == 3:
                plans = {
                    agent_id: AgentPlan(rng.choice([None, "lunch", "open"]), None)
                    for agent_id in rng.sample(sorted(agents), 10)
                }
                board.set_plans(plans if step % 20 == 3 else {})
            if step == 60:
                await pilot.resize_terminal(100, 30)
            board.tick(now)
            await pilot.pause()
            # what the screen holds (lines the tick did not refresh are drawn from before)
            # is what the whole board drawn again shows
            whole = Region(0, 0, *board.size)
            shown = [strip.text for strip in board.render_lines(whole)]
            board._cache.clear()
            board._styles_cache.clear()
            assert shown == [strip.text for strip in board.render_lines(whole)], step
            width, columns = board.line_width, board.columns
            for y in range(board.size.height):
                ids = board._order[y * columns : (y + 1) * columns]
                if not ids:
                    continue
                kept = board.render_line(y)
                fresh: list[Segment] = []
                for agent_id in ids:
                    fresh.extend(board._cell(agents[agent_id], width // columns))
                again = Strip(fresh).adjust_cell_length(width, board._style("none"))
                assert list(kept) == list(again), (step, y)
                assert kept.cell_length == again.cell_length == width
                compared += 1
        assert compared > 1000


async def test_the_feed_clock_repaints_only_lines_that_read_otherwise_and_shows_them_all() -> None:
    """The feed's tick repaints the lines whose age, overdue mark or snooze countdown reads
    otherwise (an age past the hour reads "3h41m" for a minute), not the whole feed: after
    any clock steps, acks and snoozes, what it shows is the whole feed drawn again."""
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    from supervisor_tui.core.projection import Escalation
    from supervisor_tui.model import EscalationStatus
    from supervisor_tui.widgets.escalations import EscalationFeed

    rng = random.Random(7)
    now = 2_000_000.0
    escalations = {
        f"e{i}": Escalation(
            f"e{i}",
            rng.choice(["sl", "wait"]),
            f"queue:q{i % 5}",
            f"q{i % 5}",
            None,
            None,
            rng.choice(list(Severity)),
            f"queue {i} below target",
            "",
            now - rng.choice([30.0, 290.0, 3000.0, 3590.0, 7300.0]),
            i,
        )
        for i in range(30)
    }

    class Feed(App[None]):
        def compose(self) -> ComposeResult:
            yield EscalationFeed(id="feed")

    app = Feed()
    async with app.run_test(size=(90, 20)) as pilot:
        feed = app.query_one(EscalationFeed)
        feed.set_realert({"sl": 300.0, "wait": 600.0})
        feed.update(escalations, now, None)
        await pilot.pause()
        painted: list[tuple[Region, ...]] = []
        real = feed.refresh

        def refresh(*regions: Region, **options: Any) -> Any:
            painted.append(regions)
            return real(*regions, **options)

        feed.refresh = refresh  # type: ignore[method-assign]
        whole_feed = 0
        for step in range(80):
            now += rng.choice([1.0, 1.0, 10.0, 60.0, 0.5])
            esc = escalations[rng.choice(sorted(escalations))]
            if step % 7 == 0:
                esc.status, esc.acked_by = EscalationStatus.ACKED, "ana"
                feed.update(escalations, now, {esc.escalation_id})
            elif step % 11 == 0:
                esc.snoozed_until = now + rng.choice([5.0, 65.0])
                feed.update(escalations, now, {esc.escalation_id})
            painted.clear()
            feed.tick(now)
            whole_feed += any(regions == () for regions in painted)
            await pilot.pause()
            whole = Region(0, 0, *feed.size)
            shown = [strip.text for strip in feed.render_lines(whole)]
            feed._cache.clear()
            feed._styles_cache.clear()
            assert shown == [strip.text for strip in feed.render_lines(whole)], step
        # the title moves now and then (another escalation needs an ack): not every second
        assert whole_feed < 40


async def test_an_agent_with_a_longer_name_joining_lays_every_cell_out_anew() -> None:
    """The name column widens for a longer name (up to 16 cells): when such an agent
    joins (``set_agents``), the cells already drawn are laid out again to the new width,
    not kept at the old one."""
    from textual.app import App, ComposeResult

    now = 1_000_000.0
    agents = {
        f"a{i}": AgentView(
            f"a{i}", f"ana {i}", state=AgentState.BUSY, since=now - 60 * i, work="billing north"
        )
        for i in range(8)
    }

    class Board(App[None]):
        def compose(self) -> ComposeResult:
            yield AgentBoard(id="agents")

    app = Board()
    async with app.run_test(size=(100, 12)) as pilot:
        board = app.query_one(AgentBoard)
        board.set_agents(agents, now)
        await pilot.pause()
        before = board.render_line(0).text
        agents["z"] = AgentView("z", "Wolfeschlegelstein", state=AgentState.OFFLINE)
        board.set_agents(agents, now)
        await pilot.pause()
        width = board.line_width // board.columns
        first = board._order[: board.columns]
        expected = "".join(
            segment.text for agent_id in first for segment in board._cell(agents[agent_id], width)
        )
        assert board.render_line(0).text.startswith(expected)
        assert board.render_line(0).text != before  # the name column is wider now


async def test_a_floor_of_thousands_of_agents_refigures_its_half_hours_less_often(
    tmp_path: Path,
) -> None:
    """Adherence and forecasts every ten seconds up to 2,000 agents; a bigger floor waits in
    proportion (they walk every agent's day and every queue's half hours)."""
    store = many_queues(tmp_path / "f.db", 3)
    app = SupervisorApp(store, floor_settings(), clock=FakeClock(EPOCH + 60))
    async with app.run_test(size=(160, 50)) as pilot:
        await caught_up(pilot, app)
        board = app.board
        assert board._intraday_every_s() == board.INTRADAY_EVERY_S
        for k in range(10_000):
            board.state.agents[f"x{k}"] = AgentView(f"x{k}", f"x{k}")
        assert board._intraday_every_s() == board.INTRADAY_EVERY_S * 5
    store.close()


async def test_a_queue_is_picked_from_many_by_typing_part_of_its_name(tmp_path: Path) -> None:
    """Forty queues (a thousand on a big floor) do not fit the filter's list: words typed
    narrow it (each anywhere in the name, case ignored), ↓ moves, Enter picks; the board then
    shows that queue alone. Esc from a narrowed list picks nothing."""
    store = many_queues(tmp_path / "f.db", QUEUES)
    app = SupervisorApp(store, floor_settings(), clock=FakeClock(EPOCH + 60))
    async with app.run_test(size=(120, 40)) as pilot:
        await caught_up(pilot, app)
        await pilot.press("slash")
        await pilot.pause()
        listed = app.screen.query_one(OptionList)
        assert listed.option_count == QUEUES + 1  # and "All queues"
        await pilot.press(*"queue 3")
        await pilot.pause()
        shown = [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]
        assert shown == ["Queue 03", "Queue 13", "Queue 23"] + [f"Queue {i}" for i in range(30, 40)]
        await pilot.press(*" 2")  # another word: both anywhere in the name
        await pilot.pause()
        assert listed.option_count == 2  # Queue 23, Queue 32
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.board.queue_filter == "q32"
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"QUEUE 07", "escape")
        await pilot.pause()
        assert app.board.queue_filter == "q32"
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"nothing like it", "enter")  # no option left: Enter picks nothing
        await pilot.pause()
        assert app.board.queue_filter == "q32" and isinstance(app.screen.query_one(Input), Input)
    store.close()


def _row(queue_id: str, name: str, severity: Severity | None, order: int) -> QueueRow:
    figures = QueueKpis(
        queue_id, name, "voice", True, 0, None, None, 20.0, None, None, None, None, 0, 0,
        0, (0, 0, 0), 0, 0, None, None, None,
    )  # fmt: skip
    return QueueRow(figures, severity, None, order)


_LEVELS = st.sampled_from([None, Severity.WARNING, Severity.CRITICAL])


@settings(max_examples=60, deadline=None)
@given(
    first=st.lists(st.tuples(_LEVELS, st.text(min_size=1, max_size=30)), min_size=1, max_size=40),
    steps=st.lists(
        st.lists(st.tuples(st.integers(0, 39), _LEVELS, st.booleans()), max_size=6), max_size=12
    ),
)
def test_the_queue_table_moves_changed_rows_where_sorting_every_row_puts_them(
    first: list[tuple[Severity | None, str]],
    steps: list[list[tuple[int, Severity | None, bool]]],
) -> None:
    table = QueueTable()
    current = {f"q{i}": _row(f"q{i}", name, level, i) for i, (level, name) in enumerate(first)}
    table.show(list(current.values()), EPOCH)
    for step in steps:
        changed: dict[str, QueueRow] = {}
        for index, level, renamed in step:
            queue_id = f"q{index % len(first)}"
            row = current[queue_id]
            name = row.kpis.name + "ーー" if renamed else row.kpis.name
            current[queue_id] = changed[queue_id] = _row(queue_id, name, level, row.order)
        table.update(changed, EPOCH)
        whole = QueueTable()
        whole.show(list(current.values()), EPOCH)
        assert table.rows == whole.rows
        assert table._name_cells == whole._name_cells
