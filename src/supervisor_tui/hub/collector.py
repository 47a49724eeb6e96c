"""The collector: runs the adapters, writes their events in batches, runs the rules and
delivers write-backs from the outbox.

One writer task owns appends, so events are stored in the order they are handed over, and
each batch carries every source's cursor in the same transaction. Adapters wait for their
batch to be committed before they move their own cursor on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from supervisor_tui.adapters.base import Adapter, WriteBackError, ticket_page
from supervisor_tui.core.commands import OPERATOR_SOURCE
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import SNAPSHOT_EVERY, newest_floor
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.snapshot import SNAPSHOT_FORMAT, freeze
from supervisor_tui.core.targets import FloorTargets, settings_event
from supervisor_tui.hub.webhooks import WebhookServer
from supervisor_tui.model import (
    Event,
    HealthState,
    Limit,
    NewEvent,
    Reason,
    SourceHealth,
    WriteBackResult,
    reasons,
)
from supervisor_tui.store import SQLiteStore, Store, StoreError
from supervisor_tui.store.base import OUTBOX_CLAIM_S, OutboxItem, WriterLease, holder_name
from supervisor_tui.store.postgres import PostgresStore

log = logging.getLogger(__name__)

BATCH_MAX = 5_000
RULE_TICK_S = 1.0
OUTBOX_TICK_S = 1.0
LEASE_CHECK_S = 1.0


@dataclass(slots=True)
class _Batch:
    events: Sequence[NewEvent]
    source: str | None
    cursor: str | None
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%SZ")


class _SourceSink:
    """What one adapter sees of the collector."""

    def __init__(self, collector: Collector, name: str) -> None:
        self._collector = collector
        self._name = name

    async def emit(self, events: Sequence[NewEvent], cursor: str | None = None) -> None:
        await self._collector.submit(events, self._name, cursor)

    async def health(
        self,
        state: HealthState,
        reason: str = "",
        *,
        retry_at: float | None = None,
        budget_left: float | None = None,
        poll_interval_s: float | None = None,
        limits: Sequence[Limit] = (),
        said: Reason | None = None,
    ) -> None:
        now = self._collector.clock()
        self._collector.log_health(self._name, state, reason, retry_at, limits)
        payload = SourceHealth(
            state=state,
            reason=reason,
            retry_at=retry_at,
            budget_left=budget_left,
            poll_interval_s=poll_interval_s,
            limits=tuple(limits),
            said=said,
            ticket_url=self._collector.ticket_pages.get(self._name, ""),
            at=now,
        )
        event = NewEvent(
            source=self._name,
            key=f"health:{now:.6f}",
            occurred_at=now,
            received_at=now,
            payload=payload,
        )
        await self._collector.submit([event], None, None)

    async def quarantine(self, kind: str, raw: str, reason: str) -> None:
        store = self._collector.store
        try:
            await asyncio.to_thread(
                store.quarantine, self._name, kind, raw, reason, self._collector.clock()
            )
        except StoreError as exc:  # the store is refusing writes: say so, go on polling
            log.error(
                "%s: could not quarantine a bad %s payload (%s): %s", self._name, kind, reason, exc
            )
        said = reasons.reason("quarantined", detail=reason[:120])
        await self.health(HealthState.DEGRADED, reasons.english(said), said=said)


class Collector:
    def __init__(
        self,
        store: Store,
        adapters: Sequence[Adapter],
        rules: RuleEngine,
        targets: FloorTargets,
        clock: Callable[[], float],
        *,
        webhooks: WebhookServer | None = None,
        floor_name: str | None = None,
    ) -> None:
        self.store = store
        self.floor_name = floor_name
        """Written with the targets and rules as a ``floor.settings`` event at start (when
        they differ from the store's latest), so reports and replays use what the board used;
        None: not written."""
        self.webhooks = webhooks
        self.adapters = {adapter.name: adapter for adapter in adapters}
        self.ticket_pages = {name: ticket_page(adapter) for name, adapter in self.adapters.items()}
        """Each source's ticket page for a person, said with its health to every board."""
        self.rules = rules
        self.clock = clock
        self.state = FloorState(targets)
        self.store_trouble: str | None = None
        """Why the store refuses events right now (they are kept and retried), or None."""
        self.events_waiting = 0
        self.holder = holder_name()
        self.claimer = f"{self.holder} #{uuid.uuid4().hex[:8]}"
        """Marks the write-backs this collector has claimed (one per collector object)."""
        self._lease: WriterLease | None = None
        self._said_rules = False
        self._lease_trouble: str | None = None
        self._queue: asyncio.Queue[_Batch] | None = None
        self._queued_events = 0  # in the queue, not yet taken by the writer
        self._tasks: list[asyncio.Task[None]] = []
        self._health_said: dict[str, tuple[HealthState, str, tuple[str, ...]]] = {}
        self._retry_said: dict[str, float | None] = {}
        self._attempts: dict[str, int] = {}

    def log_health(
        self,
        source: str,
        state: HealthState,
        reason: str,
        retry_at: float | None,
        limits: Sequence[Limit],
    ) -> None:
        """One line when a source's state or its reason changes, and one for each further
        failed attempt in trouble (a new retry time: the back-off paces them), so a night
        of retries reads in the log as what it was; not one for each heartbeat."""
        off = tuple(sorted(limit.capability.value for limit in limits))
        said = (state, reason, off)
        again = self._health_said.get(source) == said
        in_trouble = state in (HealthState.DOWN, HealthState.DEGRADED)
        if again and (not in_trouble or retry_at is None):
            return
        if again and self._retry_said.get(source) == retry_at:
            return
        self._health_said[source] = said
        self._retry_said[source] = retry_at
        self._attempts[source] = self._attempts.get(source, 0) + 1 if again else 1
        level = {
            HealthState.DOWN: logging.ERROR,
            HealthState.DEGRADED: logging.WARNING,
        }.get(state, logging.INFO)
        line = f"source {source}: {'still ' if again else ''}{state.value}"
        if reason:
            line += f" ({reason})"
        if again:
            line += f", {self._attempts[source]} failed attempts in a row"
        if retry_at is not None:
            # an adapter's retry time is on the wall clock (the helpdesk's), not the floor's
            wait = max(0, math.ceil(retry_at - time.time()))
            line += f"; retry at {_utc(retry_at)} (in {wait} s)"
        if off:
            line += f"; off: {', '.join(off)}"
        log.log(level, "%s", line)

    def take_lease(self) -> None:
        """Become the collector writing this collector's sources to the store (the whole
        store, for a SQLite file): StoreBusy names who else is. Then take over the
        write-backs to those sources that a collector that died had claimed. Called before
        anything is shown, so a second collector stops with one line."""
        if self._lease is not None:
            return
        self._lease = lease = self.store.writer_lease(self.holder, sorted(self.adapters))
        released = self.store.outbox_release_claims(keep=self.claimer, sources=lease.sources)
        if released:
            log.info("took over %d write-backs claimed by a collector that stopped", released)
        self._said_rules = lease.runs_rules
        if lease.sources is not None:
            log.info(
                "writing sources %s%s",
                ", ".join(sorted(lease.sources)) or "(none)",
                "; running the floor's rules" if lease.runs_rules else "",
            )

    async def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=64)
        await asyncio.to_thread(self.take_lease)
        if self.state.seq == 0:  # a floor under way: from its newest snapshot on
            opened = await asyncio.to_thread(newest_floor, self.store, self.state.targets)
            self.state = opened or self.state
        await self._catch_up()
        if self.floor_name is not None:
            rules = [rule.model_dump(mode="json") for rule in self.rules.rules]
            event = settings_event(
                self.floor_name, self.state.targets, rules, self.clock(), self.state.settings
            )
            if event is not None:
                await asyncio.to_thread(self.store.append, [event], None)
                await self._catch_up()
        self._tasks.append(asyncio.create_task(self._watch_lease(), name="collector-lease"))
        self._tasks.append(asyncio.create_task(self._writer(), name="collector-writer"))
        self._tasks.append(asyncio.create_task(self._rule_ticker(), name="collector-rules"))
        self._tasks.append(asyncio.create_task(self._outbox(), name="collector-outbox"))
        if self.webhooks is not None:
            await self.webhooks.start()
        for name, adapter in self.adapters.items():
            cursor = await asyncio.to_thread(self.store.get_cursor, name)
            self._tasks.append(
                asyncio.create_task(self._run_adapter(adapter, cursor), name=f"adapter-{name}")
            )
        log.info(
            "collector started: %s; floor at event %d (%s)",
            ", ".join(self.adapters) or "no sources",
            self.state.seq,
            self.holder,
        )

    async def stop(self) -> None:
        started = bool(self._tasks)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        if started:
            log.info(
                "collector stopped at event %d; %d events still waiting to be written",
                self.state.seq,
                self.events_waiting,
            )

    async def _watch_lease(self) -> None:
        """Every second: is the lease still ours, and the store file still the one opened?
        If not, ``store_trouble`` says so and nothing more is written or delivered (the
        writer keeps its batch) until it is (the lease is taken again when it can be)."""
        lease = self._lease
        assert lease is not None
        while True:
            try:
                await asyncio.to_thread(lease.verify)
            except StoreError as exc:
                if self._lease_trouble is None:
                    log.error("store trouble: %s", exc)
                self._lease_trouble = self.store_trouble = exc.said
            else:
                if self._lease_trouble is not None:
                    log.info("the writer lease is held again")
                    if self.store_trouble == self._lease_trouble:
                        self.store_trouble = None
                    self._lease_trouble = None
            if lease.runs_rules != self._said_rules:
                self._said_rules = lease.runs_rules
                if lease.runs_rules:
                    log.info("running the floor's rules (no other collector does)")
                else:
                    log.warning("another collector runs the floor's rules now")
            await asyncio.sleep(LEASE_CHECK_S)

    async def submit(
        self, events: Sequence[NewEvent], source: str | None, cursor: str | None
    ) -> None:
        """Hand events over for storing; returns once they (and the cursor) are committed."""
        if self._queue is None:
            raise RuntimeError("collector not started")
        batch = _Batch(events, source, cursor)
        await self._queue.put(batch)
        self._queued_events += len(events)
        await batch.done

    async def _run_adapter(self, adapter: Adapter, cursor: str | None) -> None:
        sink = _SourceSink(self, adapter.name)
        try:
            await adapter.run(sink, cursor)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an adapter bug must not take the floor down
            reason = f"{type(exc).__name__}: {exc}"[:200]
            log.error("adapter %s stopped: %s", adapter.name, reason)
            with contextlib.suppress(Exception):
                said = reasons.reason("adapter_stopped", detail=reason)
                await sink.health(HealthState.DOWN, reasons.english(said), said=said)

    async def _writer(self) -> None:
        assert self._queue is not None
        while True:
            batches = [await self._queue.get()]
            size = len(batches[0].events)
            while not self._queue.empty() and size < BATCH_MAX:
                batch = self._queue.get_nowait()
                batches.append(batch)
                size += len(batch.events)
            self._queued_events -= size
            events = [e for b in batches for e in b.events]
            cursors = {b.source: b.cursor for b in batches if b.source and b.cursor is not None}
            stored = await self._append_until_stored(events, cursors)
            before = self.state.seq
            if stored and stored[0].seq == self.state.seq + 1:
                self.state.apply_all(stored)
            elif stored:
                await self._catch_up_until_read()  # an operator's ack was written in between
            await self._maybe_snapshot(before)
            for b in batches:
                if not b.done.done():
                    b.done.set_result(None)

    async def _append_until_stored(
        self, events: list[NewEvent], cursors: dict[str, str]
    ) -> list[Event]:
        """Store the batch, however long the store refuses (a full disk, a read-only file,
        a database that is down). Meanwhile the batch waits here and the queue behind it
        fills; when it is full the adapters wait to hand over more, so memory stays bounded
        and nothing is dropped: their cursors only move on once their events are stored.
        ``store_trouble`` says why, for the screen, until it clears."""
        delay = 0.25
        while True:
            try:
                if self._lease_trouble is not None:
                    raise StoreError(self._lease_trouble)
                stored = await asyncio.to_thread(self.store.append, events, cursors)
            except StoreError as exc:
                if self.store_trouble is None:
                    log.error("store refuses events (kept, retrying): %s", exc)
                self.store_trouble = exc.said
                self.events_waiting = len(events) + self._queued_events
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
                continue
            if self.store_trouble is not None:
                log.info("store accepts events again")
            self.store_trouble = None
            self.events_waiting = 0
            return stored

    async def _catch_up_until_read(self) -> None:
        """As ``_catch_up``, however long the store refuses to be read: the writer task must
        not die of it (every adapter waits on it)."""
        delay = 0.25
        while True:
            try:
                await self._catch_up()
            except StoreError as exc:
                log.error("store cannot be read (retrying): %s", exc)
                self.store_trouble = exc.said
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
                continue
            self.store_trouble = None
            return

    async def _maybe_snapshot(self, before: int) -> None:
        """Every SNAPSHOT_EVERY events the floor is saved, so replay can seek fast. The floor
        is frozen here and written from a thread: a slow or unreachable store (PostgreSQL
        behind a black hole waits out its deadline) must not stop the event loop."""
        store = self.store
        if self.state.seq // SNAPSHOT_EVERY > before // SNAPSHOT_EVERY and isinstance(
            store, SQLiteStore | PostgresStore
        ):
            seq, at, data = self.state.seq, self.clock(), freeze(self.state)
            try:
                await asyncio.to_thread(store.save_snapshot, seq, at, SNAPSHOT_FORMAT, data)
            except StoreError as exc:
                log.error("snapshot at %s: %s", seq, exc)

    async def _catch_up(self) -> None:
        while True:
            events = await asyncio.to_thread(self.store.read_from, self.state.seq, 10_000)
            if not events:
                return
            self.state.apply_all(events)

    async def evaluate_rules(self) -> list[Event]:
        """Raise and resolve the floor's escalations, if this collector is the one that runs
        the rules (with several collectors on a floor, one does; without a lease, as in a
        test, this one does). The floor is read first: a runner that just took over has
        seen every escalation the one before it stored."""
        lease = self._lease
        if lease is not None and (self._lease_trouble is not None or not lease.runs_rules):
            return []
        await self._catch_up()
        found = self.rules.evaluate(self.state, self.clock())
        if not found:
            return []
        if lease is None:
            stored = await asyncio.to_thread(self.store.append, found, None)
        else:
            stored = await asyncio.to_thread(lease.append_rules, found)
        await self._catch_up()
        return stored

    async def _rule_ticker(self) -> None:
        while True:
            try:
                await self.evaluate_rules()
            except StoreError as exc:
                log.error("rules: %s", exc)
            await asyncio.sleep(RULE_TICK_S)

    async def deliver_outbox(self) -> int:
        if self._lease_trouble is not None:
            return 0  # another collector may be delivering now
        now = self.clock()
        # claimed first: even a second collector on this store (a lease bypassed, a
        # misconfiguration) never gets the same row, so no write-back goes out twice; and
        # only the rows of this collector's sources (another collector delivers its own)
        sources = self._lease.sources if self._lease is not None else None
        items = await asyncio.to_thread(
            self.store.outbox_claim, now, self.claimer, 50, OUTBOX_CLAIM_S, sources
        )
        delivered = 0
        for item in items:
            adapter = self.adapters.get(item.source)
            if adapter is None:
                why = f"no source named {item.source!r}"
                await asyncio.to_thread(self.store.outbox_failed, item.id, why, None)
                await self._outcome(item, "failed", why, None)
                continue
            body = json.loads(item.body)
            # one key per ack, the same on every retry: lets the adapter see it already landed
            body.setdefault("delivery_key", f"{item.event_seq}-{item.id}")
            what = (
                f"write-back #{item.id} ({item.action} of event {item.event_seq} "
                f"to {item.source} ticket {str(body.get('ticket_id'))[:40]}"
                f", by {str(body.get('by'))[:60]})"
            )
            log.info("%s: attempt %d", what, item.attempts + 1)
            try:
                await adapter.write_back(item.action, body)
            except WriteBackError as exc:
                retry_at = (
                    now + min(600.0, exc.retry_after_s * math.pow(2, item.attempts))
                    if exc.retry_after_s is not None and exc.retryable
                    else None
                )
                self._log_failed(what, str(exc), retry_at)
                await asyncio.to_thread(self.store.outbox_failed, item.id, str(exc), retry_at)
                await self._outcome(
                    item, "retrying" if retry_at is not None else "failed", str(exc), retry_at
                )
                continue
            except Exception as exc:  # network or adapter fault: keep it, try again later
                retry_at = now + min(600.0, 15.0 * math.pow(2, item.attempts))
                reason = f"{type(exc).__name__}: {exc}"
                self._log_failed(what, reason, retry_at)
                await asyncio.to_thread(self.store.outbox_failed, item.id, reason, retry_at)
                await self._outcome(item, "retrying", reason, retry_at)
                continue
            await asyncio.to_thread(self.store.outbox_delivered, item.id, self.clock())
            log.info("%s: delivered", what)
            await self._outcome(item, "delivered", "", None)
            delivered += 1
        return delivered

    def _log_failed(self, what: str, reason: str, retry_at: float | None) -> None:
        if retry_at is None:
            log.error("%s: failed for good: %s", what, reason)
        else:
            wait = max(0, math.ceil(retry_at - self.clock()))
            log.warning(
                "%s: failed: %s; kept, retry at %s (in %d s)", what, reason, _utc(retry_at), wait
            )

    async def _outcome(
        self, item: OutboxItem, outcome: str, reason: str, retry_at: float | None
    ) -> None:
        """Every board (and the recording) learns what became of the write-back."""
        try:
            escalation_id = str(json.loads(item.body).get("escalation_id") or "")
        except (ValueError, AttributeError):
            escalation_id = ""
        now = self.clock()
        payload = WriteBackResult.model_validate(
            {
                "escalation_id": escalation_id,
                "request_seq": item.event_seq,
                "action": item.action,
                "outcome": outcome,
                "reason": reason[:500],
                "retry_at": retry_at,
                "at": now,
            }
        )
        event = NewEvent(
            source=OPERATOR_SOURCE,
            key=f"writeback:{item.id}:{item.attempts}:{outcome}",
            occurred_at=now,
            received_at=now,
            payload=payload,
        )
        await asyncio.to_thread(self.store.append, [event], None)

    async def _outbox(self) -> None:
        while True:
            try:
                await self.deliver_outbox()
            except StoreError as exc:
                log.error("outbox: %s", exc)
            await asyncio.sleep(OUTBOX_TICK_S)
