"""FloorState to bytes and back, so replay can seek without folding from the start.

The format is JSON (compressed), validated on load: a recording from elsewhere is data,
and loading it never runs code (which pickle would).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from pydantic import TypeAdapter, ValidationError

from supervisor_tui.core.projection import (
    AgentView,
    Escalation,
    FloorState,
    QueueView,
    SlaView,
    SourceView,
    TicketView,
)
from supervisor_tui.core.targets import FloorTargets

SNAPSHOT_FORMAT = 1


class SnapshotError(ValueError):
    pass


@dataclass(slots=True)
class _Frozen:
    seq: int
    queues: dict[str, QueueView]
    agents: dict[str, AgentView]
    tickets: dict[str, TicketView]
    slas: dict[str, dict[str, SlaView]]
    escalations: dict[str, Escalation]
    sources: dict[str, SourceView]
    resolved_order: list[str]
    solved_order: list[tuple[float, str]] = field(default_factory=list)


_ADAPTER = TypeAdapter(_Frozen)


def freeze(state: FloorState) -> bytes:
    frozen = _Frozen(
        seq=state.seq,
        queues=state.queues,
        agents=state.agents,
        tickets=state.tickets,
        slas=state.slas,
        escalations=state.escalations,
        sources=state.sources,
        resolved_order=list(state.resolved_order),
        solved_order=list(state.solved_order),
    )
    return zlib.compress(_ADAPTER.dump_json(frozen), 1)


def thaw(data: bytes, targets: FloorTargets, fmt: int = SNAPSHOT_FORMAT) -> FloorState:
    if fmt != SNAPSHOT_FORMAT:
        raise SnapshotError(f"snapshot format {fmt} is not one this version reads")
    try:
        frozen = _ADAPTER.validate_json(zlib.decompress(data))
    except (zlib.error, ValidationError) as exc:
        raise SnapshotError(f"snapshot does not load ({str(exc).splitlines()[0]})") from None
    state = FloorState(targets)
    state.seq = frozen.seq
    state.queues = frozen.queues
    state.agents = frozen.agents
    state.tickets = frozen.tickets
    state.slas = frozen.slas
    state.escalations = frozen.escalations
    state.sources = frozen.sources
    state.resolved_order.extend(frozen.resolved_order)
    state.solved_order.extend(frozen.solved_order)
    for agent in state.agents.values():
        state._staff(agent, +1)  # derived: rebuilt rather than stored
    return state
