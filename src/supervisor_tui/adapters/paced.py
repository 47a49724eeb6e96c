"""Every request of a polling task within the budget, not only the task's first.

``PolledSource.poll_due`` asks the budget before it starts a task; a task that reads many
pages (a long search, member lists, one SLA call per request) would then send them all at
once, however many that is. A ``PacedApi`` asks the budget before each request a task sends,
at the task's temperature, and raises ``OutOfBudget`` when our share of the minute is spent;
``paced`` ends the task quietly there. What was read is kept (each page is stored with the
cursor that follows it) and the rest is read when the budget allows, at the task's next turn.
Calls made outside a task (write-backs, ``check``) are not held back: the temperature is
a context variable, so a write-back running in another asyncio task while a poll waits for
its answer is not taken for part of the poll.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from supervisor_tui.adapters.base import Sink
from supervisor_tui.adapters.http import JsonApi, RateBudget
from supervisor_tui.adapters.polling import Task


class OutOfBudget(Exception):
    """Our share of this minute is spent; the task stops here and resumes later."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"out of budget for {wait_s:.1f} s")
        self.wait_s = wait_s


_TEMPERATURE: ContextVar[bool | None] = ContextVar("paced_temperature", default=None)
"""The running task's temperature (hot: True); None: no task is running here."""


class PacedApi(JsonApi):
    """A ``JsonApi`` that, while a task runs, sends a request only when the budget allows."""

    holding: bool = True
    """False during a sync on demand (``check``), which reads everything at once."""

    async def request_with_headers(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> tuple[Any, Mapping[str, str]]:
        hot = _TEMPERATURE.get()
        if hot is not None and self.holding:
            wait = self.budget.wait_s(hot=hot)
            if wait > 0 and self.budget.retry_at <= self.budget.clock():
                raise OutOfBudget(wait)
        return await super().request_with_headers(method, path, params=params, body=body, ok=ok)


Run = Callable[[Sink], Awaitable[None]]


def paced(run: Run, *, hot: bool, cut: Callable[[bool], None] | None = None) -> Run:
    """``run`` with every request it sends held to the budget at this temperature; when the
    budget runs out it returns early, and what it still has to read waits in its cursor.
    ``cut`` is told after each run whether the budget cut it short."""

    async def wrapper(sink: Sink) -> None:
        token = _TEMPERATURE.set(hot)
        short = False
        try:
            await run(sink)
        except OutOfBudget:
            short = True
        finally:
            _TEMPERATURE.reset(token)
        if cut is not None:
            cut(short)

    return wrapper


class Pacer:
    """Paces a source's tasks and learns what each costs, so their intervals can be
    stretched by the requests a run really takes (its pages, its fan-out), not one each."""

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget
        self.cost: dict[str, int] = {}
        """Requests the task's last complete run took (all its parts, if it was cut)."""
        self.cut: set[str] = set()
        """Tasks the budget cut short on their last run."""
        self._spent: dict[str, int] = {}  # requests of a run cut short, so far

    def pace(self, tasks: list[Task]) -> None:
        for task in tasks:
            task.run = self._paced(task)

    def _paced(self, task: Task) -> Run:
        name = task.name
        inner = paced(task.run, hot=task.hot, cut=lambda short: self._mark(name, short))

        async def counted(sink: Sink) -> None:
            before = self.budget.requests
            try:
                await inner(sink)
            except BaseException:
                self._spent.pop(name, None)
                raise
            spent = self._spent.pop(name, 0) + self.budget.requests - before
            if name in self.cut:
                self._spent[name] = spent
            else:
                self.cost[name] = spent

        return counted

    def _mark(self, name: str, short: bool) -> None:
        if short:
            self.cut.add(name)
        else:
            self.cut.discard(name)

    def stretch(self, task: Task, tasks: list[Task]) -> float:
        """As ``PolledSource.stretch``, with each task planned at what it costs a run; a task
        the budget cut short goes on as soon as the budget allows."""
        if task.name in self.cut:
            return min(task.interval_s, max(1.0, self.budget.wait_s(hot=task.hot)))
        planned = sum(
            max(1, self.cost.get(t.name, 1)) * 60.0 / t.interval_s for t in tasks if t.enabled
        )
        allowed = self.budget.allowed_per_minute
        factor = max(1.0, planned / allowed) if task.hot else max(1.0, 1.5 * planned / allowed)
        return task.interval_s * factor
