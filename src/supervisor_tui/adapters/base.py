"""The Adapter protocol: how a backend feeds the floor, and how acks go back to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from supervisor_tui.model import HealthState, NewEvent

Clock = Callable[[], float]
ENTRY_POINT_GROUP = "supervisor_tui.adapters"


class Sink(Protocol):
    """Where an adapter puts what it learned. ``emit`` returns once the events are stored."""

    async def emit(self, events: Sequence[NewEvent], cursor: str | None = None) -> None: ...

    async def health(
        self,
        state: HealthState,
        reason: str = "",
        *,
        retry_at: float | None = None,
        budget_left: float | None = None,
        poll_interval_s: float | None = None,
    ) -> None: ...

    async def quarantine(self, kind: str, raw: str, reason: str) -> None: ...


class WriteBackError(Exception):
    """A write-back failed. ``retryable`` says whether the outbox should try again."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after_s: float = 30) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@runtime_checkable
class Adapter(Protocol):
    name: str

    async def run(self, sink: Sink, cursor: str | None) -> None:
        """Feed the sink until cancelled, resuming from ``cursor`` (None: from scratch)."""

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        """Deliver an ack, note or resolve to the backend (an internal note, a tag)."""


class SourceSetupError(ValueError):
    """A source's settings cannot work (no token, an unreadable token file, ...)."""


class UnknownAdapter(LookupError):
    pass


def adapter_kinds() -> dict[str, Any]:
    """Adapters installed as entry points (a site adds one without forking)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_adapter_class(kind: str) -> Any:
    kinds = adapter_kinds()
    if kind not in kinds:
        known = ", ".join(sorted(kinds)) or "none"
        raise UnknownAdapter(f"no adapter of kind {kind!r} is installed (installed: {known})")
    return kinds[kind].load()
