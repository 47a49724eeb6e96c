"""The baseline for the render benchmark: the same floor on DataTables, updated the naive way.

Every event updates its agent's or queue's cells with ``update_cell(update_width=True)``,
and every second every agent's time in state is rewritten, as a first version of the board
would do. It follows the store exactly as the real app does, so only the widgets differ.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from supervisor_tui.core import fmt
from supervisor_tui.core.kpis import queue_kpis
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.store import SQLiteStore

AGENT_COLUMNS = ("name", "state", "in state", "work", "handled")
QUEUE_COLUMNS = ("queue", "waiting", "longest", "SL", "ASA", "abandon", "backlog", "need", "have")


class NaiveBoard(App[None]):
    CSS = "DataTable { height: 1fr; }"

    def __init__(self, store: SQLiteStore, clock: Callable[[], float]) -> None:
        super().__init__()
        self.store = store
        self.clock = clock
        self.state = FloorState(FloorTargets())
        self.agents_table: DataTable[str] = DataTable(id="agents")
        self.queues_table: DataTable[str] = DataTable(id="queues")
        self.painted: list[float] = []

    def compose(self) -> ComposeResult:
        yield self.queues_table
        yield self.agents_table

    async def on_mount(self) -> None:
        for column in QUEUE_COLUMNS:
            self.queues_table.add_column(column, key=column)
        for column in AGENT_COLUMNS:
            self.agents_table.add_column(column, key=column)
        self.set_interval(1.0, self._tick)
        self.run_worker(self._follow(), exclusive=True)

    async def _follow(self) -> None:
        while True:
            events = await asyncio.to_thread(self.store.read_from, self.state.seq, 5_000)
            if events:
                self.state.apply_all(events)
                self._paint()
            else:
                await asyncio.sleep(0.1)

    def _agent_row(self, agent_id: str) -> list[str]:
        a = self.state.agents[agent_id]
        return [
            a.name,
            a.state.label,
            fmt.duration(self.clock() - a.since),
            a.work,
            str(a.handled_today),
        ]

    def _queue_row(self, queue_id: str) -> list[str]:
        k = queue_kpis(self.state, self.state.queues[queue_id], self.clock())
        return [
            k.name,
            str(k.waiting),
            fmt.duration(k.longest_wait_s),
            fmt.percent(k.service_level),
            fmt.duration(k.asa_s),
            fmt.percent(k.abandon_rate),
            str(k.backlog),
            str(k.need),
            str(k.have),
        ]

    def _set_row(
        self, table: DataTable[str], key: str, values: list[str], columns: tuple[str, ...]
    ) -> None:
        if key not in table.rows:
            table.add_row(*values, key=key)
            return
        for column, value in zip(columns, values, strict=True):
            table.update_cell(key, column, value, update_width=True)

    def _paint(self) -> None:
        changes = self.state.take_changes()
        for agent_id in changes.agents:
            self._set_row(self.agents_table, agent_id, self._agent_row(agent_id), AGENT_COLUMNS)
        for queue_id in changes.queues:
            self._set_row(self.queues_table, queue_id, self._queue_row(queue_id), QUEUE_COLUMNS)

    def _tick(self) -> None:
        for agent_id in self.state.agents:
            with contextlib.suppress(Exception):
                self.agents_table.update_cell(
                    agent_id, "in state", self._agent_row(agent_id)[2], update_width=True
                )
        for queue_id in self.state.queues:
            self._set_row(self.queues_table, queue_id, self._queue_row(queue_id), QUEUE_COLUMNS)
