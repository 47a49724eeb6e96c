"""How fresh each source is, and the board's status in one word.

The board's status is the worst of the hub link, the sources, the store and the pause: LIVE
only when every source is fresh. The widgets give each condition a glyph, a word and a
colour; this module decides which condition holds, so the top bar, the freshness bar and the
tiles never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from supervisor_tui.core.feed import LINK_LIVE, hub_state
from supervisor_tui.core.intraday import INTRADAY_SOURCES
from supervisor_tui.core.projection import FloorState, SourceView
from supervisor_tui.i18n import _
from supervisor_tui.model import HealthState

INTERNAL_SOURCES = frozenset({"rules", "operator", "training", "floor"}) | INTRADAY_SOURCES
"""Sources of the board's own events (escalations, acks) and of imports (forecast, schedule,
the demo's history): not helpdesks, never stale."""


class SourceCondition(StrEnum):
    LIVE = "live"
    SYNCING = "first sync"
    """Reported health, but has not finished its first sync yet."""
    LIMITED = "limited"
    """Connected, with some capabilities turned off (their figures are unknown)."""
    DEGRADED = "degraded"
    STALE = "stale"
    DOWN = "down"
    NEVER = "never connected"
    HELD = "held"
    """The board is paused: what it shows of this source is held back."""
    RECORDED = "recorded"
    """A replay: the source as the recording has it."""


TROUBLE_RANK = {
    SourceCondition.LIVE: 0,
    SourceCondition.RECORDED: 0,
    SourceCondition.HELD: 1,
    SourceCondition.SYNCING: 2,
    SourceCondition.LIMITED: 3,
    SourceCondition.DEGRADED: 4,
    SourceCondition.STALE: 5,
    SourceCondition.DOWN: 6,
    SourceCondition.NEVER: 7,
}
"""Worse conditions rank higher; the freshness bar puts them first."""

OUT_OF_DATE = frozenset({SourceCondition.STALE, SourceCondition.DOWN, SourceCondition.NEVER})
"""What a source feeds is not current: its tiles dim and show their age."""


def source_age(source: SourceView, now: float) -> float | None:
    """Seconds since the newest event from the source; None when it sent nothing."""
    return now - source.newest_event_at if source.newest_event_at else None


def source_condition(
    source: SourceView,
    now: float,
    stale_after_s: float,
    *,
    paused: bool = False,
    replay: bool = False,
    cut_off: bool = False,
) -> SourceCondition:
    """``cut_off``: this terminal hears nothing from the hub, so nothing it shows of any
    source is current, however fresh it was when the link went."""
    syncing = source.health_at > 0 and source.synced_at is None
    if source.state in (HealthState.DOWN, HealthState.DEGRADED):
        if syncing and not source.data_at:  # trouble before the first piece of data
            return SourceCondition.NEVER
        return (
            SourceCondition.DOWN if source.state is HealthState.DOWN else SourceCondition.DEGRADED
        )
    if replay:
        return SourceCondition.RECORDED
    if cut_off:
        return SourceCondition.STALE
    if paused:
        return SourceCondition.HELD
    age = source_age(source, now)
    if age is None or age > stale_after_s:
        return SourceCondition.STALE
    if syncing:
        return SourceCondition.SYNCING
    if source.limits:
        return SourceCondition.LIMITED  # live, but some figures are unknown (or partial)
    return SourceCondition.LIVE


def helpdesk_sources(sources: dict[str, SourceView]) -> list[SourceView]:
    return [s for name, s in sorted(sources.items()) if name not in INTERNAL_SOURCES]


def worst(conditions: Iterable[SourceCondition]) -> SourceCondition | None:
    return max(conditions, key=TROUBLE_RANK.__getitem__, default=None)


def queue_condition(
    state: FloorState, queue_id: str, now: float, stale_after_s: float, *, cut_off: bool = False
) -> tuple[SourceCondition, float | None] | None:
    """The worst condition of the sources that feed a queue, and the age of that source's
    newest event; None when the queue's sources are all fresh (or it has none)."""
    queue = state.queues.get(queue_id)
    if queue is None:
        return None
    found: tuple[SourceCondition, float | None] | None = None
    for name in sorted(queue.sources):
        source = state.sources.get(name)
        if source is None or name in INTERNAL_SOURCES:
            continue
        condition = source_condition(source, now, stale_after_s, cut_off=cut_off)
        if condition not in OUT_OF_DATE:
            continue
        if found is None or TROUBLE_RANK[condition] > TROUBLE_RANK[found[0]]:
            found = (condition, source_age(source, now))
    return found


class BoardStatus(StrEnum):
    LIVE = "live"
    SYNCING = "syncing"
    LIMITED = "limited"
    DEGRADED = "degraded"
    STALE = "stale"
    PAUSED = "paused"
    HUB_DOWN = "hub down"
    REPLAY = "replay"


@dataclass(frozen=True, slots=True)
class Status:
    """The board's one word, and what caused it (a source's name, the hub link's reason)."""

    board: BoardStatus
    cause: str = ""


_FROM_SOURCE = {
    SourceCondition.SYNCING: BoardStatus.SYNCING,
    SourceCondition.LIMITED: BoardStatus.LIMITED,
    SourceCondition.DEGRADED: BoardStatus.DEGRADED,
    SourceCondition.STALE: BoardStatus.STALE,
    SourceCondition.DOWN: BoardStatus.STALE,
    SourceCondition.NEVER: BoardStatus.STALE,
}


def board_status(
    sources: dict[str, SourceView],
    now: float,
    stale_after_s: float,
    *,
    hub_link: str | None = None,
    store_trouble: str | None = None,
    paused: bool = False,
    replay: bool = False,
) -> Status:
    """The worst of hub link, sources, store and pause. ``hub_link`` is the hub client's
    link status on a watching terminal (``LINK_LIVE`` when it is up)."""
    if replay:
        return Status(BoardStatus.REPLAY)
    if hub_link is not None and hub_link != LINK_LIVE:
        return Status(BoardStatus.HUB_DOWN, hub_state(hub_link))
    shown = helpdesk_sources(sources)
    if not shown:
        return Status(BoardStatus.PAUSED if paused else BoardStatus.SYNCING, _("no sources yet"))
    conditions = [(source_condition(s, now, stale_after_s, paused=paused), s.name) for s in shown]
    condition, name = max(conditions, key=lambda pair: TROUBLE_RANK[pair[0]])
    board = _FROM_SOURCE.get(condition, BoardStatus.LIVE)
    if store_trouble is not None and board in (
        BoardStatus.LIVE,
        BoardStatus.SYNCING,
        BoardStatus.LIMITED,
    ):
        return Status(BoardStatus.DEGRADED, "store refuses writes")
    if paused and board in (BoardStatus.LIVE, BoardStatus.SYNCING, BoardStatus.LIMITED):
        return Status(BoardStatus.PAUSED)
    if board is BoardStatus.LIVE:
        return Status(BoardStatus.LIVE)
    troubled = [n for c, n in conditions if _FROM_SOURCE.get(c) is board]
    cause = name if len(troubled) == 1 else f"{name} +{len(troubled) - 1}"
    return Status(board, cause)
