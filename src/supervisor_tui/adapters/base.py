"""The Adapter protocol: how a backend feeds the floor, and how acks go back to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from supervisor_tui.model import Capability, HealthState, Limit, NewEvent

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
        limits: Sequence[Limit] = (),
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


@dataclass(frozen=True, slots=True)
class Need:
    """A capability an adapter can supply, and what the account must give for it: the
    README's table of figures and ``check``'s list of limits are made from these."""

    capability: Capability
    endpoint: str
    """What is read ("GET /api/v2/agent_availabilities")."""
    requires: str
    """The role, scope, plan or add-on it takes ("omnichannel routing; any agent")."""
    without: str
    """What the board shows without it ("agents show no status")."""
    fix: str = ""
    """What gives it back, when the account lacks it."""
    optional: bool = True
    """False: without it the source cannot feed the board at all (its tickets)."""


@dataclass(slots=True)
class SyncReport:
    """What one full sync found (``supervisor-tui check``). None: the helpdesk cannot know
    (Jira Service Management has no feed of deletions), or this account may not read it."""

    tickets: dict[str, bool] = field(default_factory=dict)  # ticket id → open
    deleted: set[str] | None = field(default_factory=set)
    agents: int | None = 0
    queues: int | None = 0
    sla_policies: int | None = 0


Wait = Callable[[float, str], Any]
"""Told before ``check`` waits out a 429: the seconds, and what the helpdesk said."""


@runtime_checkable
class Checkable(Protocol):
    """An adapter that can do one full sync on demand (``supervisor-tui check``)."""

    name: str

    async def sync_once(self, sink: Sink, *, wait: Wait | None = None) -> SyncReport:
        """Read everything once; a missing capability is a limit, not an error."""

    def sync_limits(self) -> Sequence[Limit]:
        """The capabilities the sync found this account without."""

    def rate_figures_now(self) -> tuple[int, int | None]:
        """Requests sent so far, and what the helpdesk said is left of its limit."""

    async def close(self) -> None: ...


class Limited(Exception):
    """A capability this account does not give: raised (or recorded) by an adapter, it turns
    that capability off with a reason and a fix, and the rest of the source goes on."""

    def __init__(self, capability: Capability, reason: str, fix: str = "") -> None:
        super().__init__(reason)
        self.capability = capability
        self.reason = reason
        self.fix = fix


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
