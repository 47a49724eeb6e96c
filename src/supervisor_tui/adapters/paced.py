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
from supervisor_tui.adapters.http import JsonApi


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


def paced(run: Run, *, hot: bool) -> Run:
    """``run`` with every request it sends held to the budget at this temperature; when the
    budget runs out it returns early, and what it still has to read waits in its cursor."""

    async def wrapper(sink: Sink) -> None:
        token = _TEMPERATURE.set(hot)
        try:
            await run(sink)
        except OutOfBudget:
            pass
        finally:
            _TEMPERATURE.reset(token)

    return wrapper
