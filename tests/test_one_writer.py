"""One writer per store (issue #19): a second collector on the same SQLite file or PostgreSQL
schema is refused with a line naming the first; write-backs are claimed before they are sent,
so even two collectors that bypass the lease never post an ack twice; and a store file that
is deleted or replaced under a running collector is store trouble, not a silent sink.

Real parts: real SQLite files, the embedded PostgreSQL (tests/pg.py), the fake Freshdesk over
loopback HTTP, `supervisor-tui serve` as real processes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest

from supervisor_tui.adapters.freshdesk.adapter import FreshdeskAdapter, FreshdeskSettings
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import EscalationRaised, NewEvent, Severity
from supervisor_tui.store import PostgresStore, SQLiteStore, Store, StoreError
from supervisor_tui.store.base import StoreBusy

from .conftest import EPOCH, FakeClock, rules, targets
from .helpers import QuietHelpdesk
from .pg import free_port, new_schema

FD_KEY = "freshdesk-test-key"
ACKS = 6


@pytest.fixture
async def freshdesk() -> AsyncIterator[FakeFreshdesk]:
    clock = FakeClock(EPOCH)
    fake = FakeFreshdesk(api_key=FD_KEY, clock=clock, plan="pro")
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=6, agents=30, speed=None, warmup_s=0), EPOCH)
    clock.advance(3 * 3600)
    fake.feed(sim.advance(3 * 3600))
    yield fake
    await fake.stop()


def escalation(tid: int | str, at: float, source: str = "freshdesk") -> NewEvent:
    return NewEvent(
        source="rules",
        key=f"esc-{tid}",
        occurred_at=at,
        received_at=at,
        payload=EscalationRaised(
            escalation_id=f"esc-{tid}",
            rule_id="complaint",
            subject=f"ticket:{tid}",
            ticket_source=source,
            ticket_id=str(tid),
            severity=Severity.CRITICAL,
            title=f"Complaint on #{tid}",
            raised_at=at,
        ),
    )


def ack_tickets(store: Store, fake: FakeFreshdesk, count: int) -> list[int]:
    """Raise and ack an escalation on ``count`` open tickets: that many write-backs due."""
    open_ids = [tid for tid, t in sorted(fake.tickets.items()) if t["status"] == 2][:count]
    assert len(open_ids) == count
    at = EPOCH + 3 * 3600
    store.append([escalation(tid, at) for tid in open_ids])
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 10**6))
    desk = EscalationDesk(store, lambda: at)
    for tid in open_ids:
        desk.ack(state.escalations[f"esc-{tid}"], "Sam Lead", f"moving agents for {tid}")
    return open_ids


def freshdesk_collector(store: Store, fake: FakeFreshdesk) -> Collector:
    settings = FreshdeskSettings(base_url=fake.base_url, api_key=FD_KEY, write_back=True)
    adapter = FreshdeskAdapter("freshdesk", settings, clock=time.time)
    return Collector(store, [adapter], rules(), targets(), time.time)


async def deliver_side_by_side(a: Collector, b: Collector, store: Store) -> None:
    """Both collectors deliver at the same moments until nothing is pending (bounded)."""
    for _ in range(20):
        await asyncio.gather(a.deliver_outbox(), b.deliver_outbox())
        if store.outbox_pending_count() == 0:
            return
    raise AssertionError(f"{store.outbox_pending_count()} write-backs still pending")


def notes_per_ack(fake: FakeFreshdesk, tickets: list[int]) -> dict[int, int]:
    return {
        tid: len([n for n in fake.notes.get(tid, []) if "[supervisor-tui ack" in n["body"]])
        for tid in tickets
    }


async def close_adapters(*collectors: Collector) -> None:
    for c in collectors:
        for adapter in c.adapters.values():
            await adapter.api.close()  # type: ignore[attr-defined]


# -- two collectors that bypass the lease: the claim alone keeps each ack to one note ------


async def test_two_collectors_on_one_sqlite_file_post_each_ack_once(
    freshdesk: FakeFreshdesk, tmp_path: Path
) -> None:
    db = tmp_path / "floor.db"
    first, second = SQLiteStore(db), SQLiteStore(db)  # two connections to one file
    try:
        tickets = ack_tickets(first, freshdesk, ACKS)
        a, b = freshdesk_collector(first, freshdesk), freshdesk_collector(second, freshdesk)
        await deliver_side_by_side(a, b, first)
        assert notes_per_ack(freshdesk, tickets) == {tid: 1 for tid in tickets}
        await close_adapters(a, b)
    finally:
        first.close()
        second.close()


async def test_two_collectors_on_one_postgres_floor_post_each_ack_once(
    freshdesk: FakeFreshdesk, pg_url: str
) -> None:
    schema = new_schema()
    first = PostgresStore(pg_url, schema=schema)
    second = PostgresStore(pg_url, schema=schema)
    try:
        tickets = ack_tickets(first, freshdesk, ACKS)
        a, b = freshdesk_collector(first, freshdesk), freshdesk_collector(second, freshdesk)
        await deliver_side_by_side(a, b, first)
        assert notes_per_ack(freshdesk, tickets) == {tid: 1 for tid in tickets}
        await close_adapters(a, b)
    finally:
        first.close()
        second.close()


def test_a_claimed_write_back_is_not_handed_to_another_claimer(tmp_path: Path) -> None:
    """The claim itself: held rows go to no one else until the claim runs out; a collector
    that takes the writer lease takes over the claims of the one that died."""
    store = SQLiteStore(tmp_path / "floor.db")
    try:
        at = EPOCH
        store.append([escalation(t, at, "zendesk") for t in (1, 2)])
        state = FloorState(targets())
        state.apply_all(store.read_from(0))
        desk = EscalationDesk(store, lambda: at)
        for t in (1, 2):
            desk.ack(state.escalations[f"esc-{t}"], "Sam Lead", "on it")
        mine = store.outbox_claim(at + 1, "a", claim_s=60)
        assert [i.event_seq for i in mine] == [3, 4]
        assert store.outbox_claim(at + 2, "b", claim_s=60) == []  # held by a
        assert [i.id for i in store.outbox_claim(at + 3, "a", claim_s=60)] == [i.id for i in mine]
        assert len(store.outbox_claim(at + 64, "b", claim_s=60)) == 2  # a's claim ran out
        assert store.outbox_release_claims(keep="c") == 2
        assert len(store.outbox_claim(at + 65, "c", claim_s=60)) == 2
    finally:
        store.close()


# -- the writer lease -----------------------------------------------------------------------


def test_a_second_collector_on_one_sqlite_file_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    db = tmp_path / "floor.db"
    first, second = SQLiteStore(db), SQLiteStore(db)
    try:
        a = Collector(first, [], rules(), targets(), time.time)
        b = Collector(second, [], rules(), targets(), time.time)
        a.take_lease()
        with pytest.raises(StoreBusy, match=rf"another collector .*\(pid {os.getpid()} on "):
            b.take_lease()
        # readers are not writers: a read-only open (replay, report) is not refused
        reader = SQLiteStore(db, read_only=True)
        assert reader.last_seq() == 0
        reader.close()
    finally:
        first.close()
        second.close()


def sim(name: str) -> QuietHelpdesk:
    return QuietHelpdesk(name)


def test_a_second_collector_of_a_postgres_source_is_refused_and_a_lost_lease_is_trouble(
    pg_url: str,
) -> None:
    schema = new_schema()
    first = PostgresStore(pg_url, schema=schema)
    second = PostgresStore(pg_url, schema=schema)
    other_floor = PostgresStore(pg_url, schema=new_schema())
    try:
        a = Collector(first, [sim("zendesk")], rules(), targets(), time.time)
        b = Collector(second, [sim("zendesk")], rules(), targets(), time.time)
        a.take_lease()
        with pytest.raises(
            StoreBusy,
            match=rf"another collector .* source 'zendesk' \(pid {os.getpid()} on .*, since ",
        ):
            b.take_lease()
        other = Collector(other_floor, [sim("zendesk")], rules(), targets(), time.time)
        other.take_lease()  # per floor
        lease = a._lease
        assert lease is not None
        lease.verify()  # held
        # the lease's session dies (a server restart, a cut network): taken again
        kill_lease_sessions(pg_url, schema)
        lease.verify()
        # it dies and another collector takes it first: a's lease is lost and it says so
        kill_lease_sessions(pg_url, schema)
        b.take_lease()
        with pytest.raises(StoreError, match=r"lost the writer lease: .*another collector"):
            lease.verify()
        assert other._lease is not None
        other._lease.release()
        assert b._lease is not None
        b._lease.release()
    finally:
        first.close()
        second.close()
        other_floor.close()


def kill_lease_sessions(pg_url: str, schema: str) -> None:
    from supervisor_tui.store.postgres import _lock_key

    key = _lock_key("writer", schema)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        ).fetchall()
        assert killed and all(ok for (ok,) in killed)
        for _ in range(200):  # the backend is gone once its lock is
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s::bigint::oid AND objid = %s::bigint::oid",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.05)
        raise AssertionError("the lease session did not end")


async def test_a_running_collector_whose_lease_is_taken_stops_writing_and_says_so(
    pg_url: str,
) -> None:
    schema = new_schema()
    first = PostgresStore(pg_url, schema=schema)
    second = PostgresStore(pg_url, schema=schema)
    a = Collector(first, [sim("zendesk")], rules(), targets(), time.time)
    try:
        await a.start()
        kill_lease_sessions(pg_url, schema)
        b = Collector(second, [sim("zendesk")], rules(), targets(), time.time)
        b.take_lease()  # kept: a lease let go of is released
        for _ in range(200):
            if a.store_trouble is not None:
                break
            await asyncio.sleep(0.05)
        assert a.store_trouble is not None and "lost the writer lease" in a.store_trouble
        # a batch handed over now is kept, not written beside the other collector's
        task = asyncio.create_task(a.submit([escalation(1, EPOCH)], None, None))
        await asyncio.sleep(0.5)
        assert not task.done() and second.last_seq() == 0
        task.cancel()
    finally:
        await a.stop()
        first.close()
        second.close()


SERVE_CONFIG = """
[floor]
name = "Lease test"

[store]
path = "{db}"

[[sources]]
name = "simulator"
kind = "simulator"
speed = 1

[hub]
listen = "127.0.0.1:{port}"

[[hub.tokens]]
name = "wall"
scope = "view"
sha256 = "{sha}"
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_serve_processes_on_one_store_the_second_exits_with_one_line(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    db = tmp_path / "floor.db"
    config = tmp_path / "floor.toml"
    text = SERVE_CONFIG.format(db=db, sha="0" * 64, port=free_port())
    # the log goes beside the store, or (PostgreSQL) to a data directory not made yet
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    where = str(db)
    if backend == "postgres":
        schema = new_schema()
        text = text.replace(f'path = "{db}"', f'url_env = "FLOOR_PG"\nschema_name = "{schema}"')
        env["FLOOR_PG"] = request.getfixturevalue("pg_url")
        where = "postgresql://postgres@127.0.0.1:"
    config.write_text(text)
    config.chmod(0o600)
    command = [sys.executable, "-m", "supervisor_tui.cli", "serve", "-c", str(config)]
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert first.stdout is not None
        line = first.stdout.readline()  # "serving ...": it holds the lease
        assert line.startswith("serving"), line + (first.stderr.read() if first.stderr else "")
        second = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        assert second.returncode == 2
        assert "Traceback" not in second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith(f"supervisor-tui: {where}")
        assert "another collector is writing to this" in lines[0]
        assert f"pid {first.pid} on " in lines[0]
        if backend == "postgres":  # the URL is shown without its password
            assert env["FLOOR_PG"].split(":")[2].split("@")[0] not in second.stderr
            # on a shared floor the lease is the source's: it is named, and since when
            assert "source 'simulator'" in lines[0] and ", since " in lines[0]
    finally:
        first.terminate()
        first.wait(30)


# -- a store file deleted or replaced under a running collector ----------------------------


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_store_file_deleted_or_replaced_is_trouble_and_no_ack_is_lost_quietly(
    tmp_path: Path, how: str
) -> None:
    db = tmp_path / "floor.db"
    store = SQLiteStore(db)
    clock: Callable[[], float] = lambda: EPOCH  # noqa: E731
    collector = Collector(store, [], rules(), targets(), clock)
    await collector.start()
    try:
        store.append([escalation(t, EPOCH, "zendesk") for t in range(1, 5)])
        state = FloorState(targets())
        state.apply_all(store.read_from(0))
        desk = EscalationDesk(store, clock)
        assert desk.ack(state.escalations["esc-1"], "Sam Lead", "before") is not None
        if how == "deleted":
            db.unlink()
        else:
            other = SQLiteStore(tmp_path / "other.db")
            other.close()
            os.replace(tmp_path / "other.db", db)
        reported: list[int] = []
        for t in (2, 3, 4):
            try:
                stored = desk.ack(state.escalations[f"esc-{t}"], "Sam Lead", "after")
            except StoreError as exc:
                assert how in str(exc)
                continue
            if stored is not None:
                reported.append(stored.seq)
        with pytest.raises(StoreError, match=how):
            store.read_from(0)  # what only the lost file holds is not shown as stored
        for _ in range(100):  # the collector says so, with nothing coming in
            if collector.store_trouble is not None:
                break
            await asyncio.sleep(0.05)
        assert collector.store_trouble is not None and how in collector.store_trouble
        # events handed over now wait, counted, instead of going to the lost file
        task = asyncio.create_task(collector.submit([escalation(9, EPOCH)], None, None))
        for _ in range(100):
            if collector.events_waiting:
                break
            await asyncio.sleep(0.05)
        assert collector.events_waiting >= 1 and not task.done()
        task.cancel()
    finally:
        await collector.stop()
        store.close()
    # every ack reported stored after the swap is in the file at the path: none was
    at_path = SQLiteStore(db) if db.exists() else None
    in_file = {e.seq for e in at_path.read_from(0)} if at_path else set()
    if at_path is not None:
        at_path.close()
    assert [seq for seq in reported if seq not in in_file] == []
    assert reported == []
