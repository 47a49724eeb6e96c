"""Several collectors on one PostgreSQL floor (issue #24): a writer lease per source, one
rules runner, each collector delivering its own sources' write-backs.

Real parts: the embedded PostgreSQL (tests/pg.py), a real process killed with SIGKILL.
The helpdesks are sources that read nothing and keep what is written back to them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.hub.collector import Collector
from supervisor_tui.model import EscalationRaised, NewEvent, Severity
from supervisor_tui.store import PostgresStore, SQLiteStore, StoreError
from supervisor_tui.store.base import StoreBusy
from supervisor_tui.store.postgres import _lock_key

from .conftest import EPOCH, rules, simulate, targets
from .helpers import QuietHelpdesk
from .pg import new_schema


def collector(store: PostgresStore, *names: str, at: float = EPOCH) -> Collector:
    return Collector(store, [QuietHelpdesk(n) for n in names], rules(), targets(), lambda: at)


def sessions_holding(pg_url: str, key: int) -> list[int]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        ).fetchall()
    return [int(r[0]) for r in rows]


def end_sessions(pg_url: str, key: int) -> None:
    """The sessions holding ``key`` end, as when their machine or network dies."""
    pids = sessions_holding(pg_url, key)
    assert pids
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    for _ in range(200):
        if not sessions_holding(pg_url, key):
            return
        time.sleep(0.05)
    raise AssertionError("the sessions did not end")


def test_disjoint_sources_share_a_floor_and_a_claimed_source_is_refused_by_name(
    pg_url: str,
) -> None:
    schema = new_schema()
    stores = [PostgresStore(pg_url, schema=schema) for _ in range(3)]
    east = collector(stores[0], "zendesk")
    west = collector(stores[1], "servicenow", "simulator")
    third = collector(stores[2], "freshdesk", "servicenow")
    try:
        east.take_lease()
        west.take_lease()  # other sources, the same floor: both write
        with pytest.raises(StoreBusy) as refused:
            third.take_lease()
        message = str(refused.value)
        assert "source 'servicenow'" in message
        assert f"pid {os.getpid()} on " in message and ", since " in message
        assert "take 'servicenow' out of one config" in message
        # refused as a whole: the source it could have had is not held either
        assert sessions_holding(pg_url, _lock_key("source:freshdesk", schema)) == []
        assert collector(stores[2], "freshdesk")._lease is None
        fresh = collector(stores[2], "freshdesk")
        fresh.take_lease()
        assert fresh._lease is not None
        fresh._lease.release()
    finally:
        for c in (east, west):
            if c._lease is not None:
                c._lease.release()
        for s in stores:
            s.close()


HOLD = """
import sys, time
from supervisor_tui.store import PostgresStore
store = PostgresStore(sys.argv[1], schema=sys.argv[2])
lease = store.writer_lease("pid crashed-collector", ["zendesk"])
print("held", flush=True)
time.sleep(600)
"""


def test_a_crashed_collectors_sources_are_taken_over(pg_url: str) -> None:
    schema = new_schema()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, pg_url, schema], stdout=subprocess.PIPE, text=True
    )
    store = PostgresStore(pg_url, schema=schema)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        taker = collector(store, "zendesk")
        with pytest.raises(StoreBusy, match=r"source 'zendesk' \(pid crashed-collector, since"):
            taker.take_lease()
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        for _ in range(200):  # the server ends the dead process's session, and its locks
            try:
                taker.take_lease()
                break
            except StoreBusy:
                time.sleep(0.05)
        assert taker._lease is not None and taker._lease.sources == frozenset({"zendesk"})
        taker._lease.verify()
        taker._lease.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
        store.close()


def raised(store: PostgresStore) -> list[EscalationRaised]:
    out = []
    for event in store.events_of_kind("escalation.raised"):
        assert isinstance(event.payload, EscalationRaised)
        out.append(event.payload)
    return out


async def test_one_collector_runs_the_rules_and_another_takes_over_without_raising_twice(
    pg_url: str,
) -> None:
    schema = new_schema()
    first, second = PostgresStore(pg_url, schema=schema), PostgresStore(pg_url, schema=schema)
    until = 3.5 * 3600
    at = EPOCH + until
    first.append(simulate(7, until), {"simulator": "test"})
    expected = FloorState(targets())
    expected.apply_all(first.read_from(0, 10**6))
    once = [e for e in rules().evaluate(expected, at) if e.kind == "escalation.raised"]
    assert once  # the morning raises escalations
    a = collector(first, "simulator", at=at)
    b = collector(second, "zendesk", at=at + 1)  # a second apart: escalations of their own
    try:
        a.take_lease()
        b.take_lease()
        assert a._lease is not None and b._lease is not None
        assert a._lease.runs_rules and not b._lease.runs_rules  # the first one to come
        for _ in range(3):  # both tick at the same moments
            await asyncio.gather(a.evaluate_rules(), b.evaluate_rules())
        assert len(raised(first)) == len(once)
        assert len({r.escalation_id for r in raised(first)}) == len(once)

        # the runner's session ends (its machine died): the other takes the rules over ...
        end_sessions(pg_url, _lock_key("rules", schema))
        b._lease.verify()
        assert b._lease.runs_rules
        # ... and the old runner cannot store one more escalation, whatever it still thinks
        late = NewEvent(
            source="rules",
            key="raise:late",
            occurred_at=at,
            received_at=at,
            payload=EscalationRaised(
                escalation_id="late",
                rule_id="complaint",
                subject="ticket:late",
                severity=Severity.CRITICAL,
                title="Raised by a runner that lost the rules",
                raised_at=at,
            ),
        )
        for _ in range(2):  # the cut session, then a new one that cannot take the lock
            with pytest.raises(StoreError):
                a._lease.append_rules([late])
        a._lease.verify()
        assert not a._lease.runs_rules
        for _ in range(3):
            await asyncio.gather(a.evaluate_rules(), b.evaluate_rules())
        # the new runner has read every escalation the old one raised: none raised again
        assert len(raised(first)) == len(once)
        assert "late" not in {r.escalation_id for r in raised(first)}
    finally:
        for c in (a, b):
            if c._lease is not None:
                c._lease.release()
        first.close()
        second.close()


def escalation_on(source: str, ticket: str, at: float) -> NewEvent:
    return NewEvent(
        source="rules",
        key=f"esc-{source}-{ticket}",
        occurred_at=at,
        received_at=at,
        payload=EscalationRaised(
            escalation_id=f"esc-{source}-{ticket}",
            rule_id="complaint",
            subject=f"ticket:{source}:{ticket}",
            ticket_source=source,
            ticket_id=ticket,
            severity=Severity.CRITICAL,
            title=f"Complaint on #{ticket}",
            raised_at=at,
        ),
    )


async def test_each_collector_delivers_its_own_sources_acks_only(pg_url: str) -> None:
    schema = new_schema()
    first, second = PostgresStore(pg_url, schema=schema), PostgresStore(pg_url, schema=schema)
    at = EPOCH
    tickets = [("zendesk", "11"), ("servicenow", "INC7"), ("zendesk", "12"), ("jsm", "IT-3")]
    first.append([escalation_on(s, t, at) for s, t in tickets])
    state = FloorState(targets())
    state.apply_all(first.read_from(0))
    desk = EscalationDesk(first, lambda: at)
    for s, t in tickets:
        desk.ack(state.escalations[f"esc-{s}-{t}"], "Sam Lead", f"on {t}")
    east, west = collector(first, "zendesk"), collector(second, "servicenow")
    try:
        east.take_lease()
        west.take_lease()
        for _ in range(3):
            await asyncio.gather(east.deliver_outbox(), west.deliver_outbox())
        zendesk, servicenow = east.adapters["zendesk"], west.adapters["servicenow"]
        assert isinstance(zendesk, QuietHelpdesk) and isinstance(servicenow, QuietHelpdesk)
        assert sorted(b["ticket_id"] for _, b in zendesk.written) == ["11", "12"]
        assert [b["ticket_id"] for _, b in servicenow.written] == ["INC7"]
        # a source no collector reads yet keeps its write-back until one does: not failed
        outcomes = {o.source: o.state for o in first.write_back_outcomes()}
        assert outcomes == {"zendesk": "delivered", "servicenow": "delivered", "jsm": "pending"}
    finally:
        for c in (east, west):
            if c._lease is not None:
                c._lease.release()
        first.close()
        second.close()


def test_claims_by_source_in_a_sqlite_file_too(tmp_path: Path) -> None:
    """The store's side of it, for both backends: only the named sources' rows are claimed
    or released (a SQLite floor's one collector names none: every row)."""
    store = SQLiteStore(tmp_path / "floor.db")
    try:
        at = EPOCH
        tickets = [("zendesk", "1"), ("servicenow", "INC2")]
        store.append([escalation_on(s, t, at) for s, t in tickets])
        state = FloorState(targets())
        state.apply_all(store.read_from(0))
        desk = EscalationDesk(store, lambda: at)
        for s, t in tickets:
            desk.ack(state.escalations[f"esc-{s}-{t}"], "Sam Lead", "on it")
        assert store.outbox_claim(at, "a", sources=[]) == []
        assert store.outbox_claim(at, "a", sources=["freshdesk"]) == []
        mine = store.outbox_claim(at, "a", sources=["zendesk"])
        assert [i.source for i in mine] == ["zendesk"]
        assert [i.source for i in store.outbox_claim(at, "b")] == ["servicenow"]
        assert store.outbox_release_claims(keep="c", sources=["servicenow"]) == 1
        assert store.outbox_release_claims(keep="c", sources=["jsm"]) == 0
        assert [i.source for i in store.outbox_claim(at, "c", sources=["servicenow"])] == [
            "servicenow"
        ]
        assert store.outbox_claim(at, "c", sources=["zendesk"]) == []  # still a's
    finally:
        store.close()
