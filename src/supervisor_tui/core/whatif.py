"""What-if: the service level and ASA the floor would get with agents moved, added or
removed, or with another target. Nothing here touches a helpdesk or the store.

"Now" is sized on the live arrival rate and AHT (the same window as the board's "need");
the coming half hours on the forecast and the schedule (see core.forecast). Agents who
serve several queues count in each, as on the board, so a move is optimistic for the queue
that gains them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from supervisor_tui.core import fmt
from supervisor_tui.core.forecast import coming_intervals, project_interval
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.targets import QueueTargets
from supervisor_tui.i18n import _, ngettext


@dataclass(frozen=True, slots=True)
class Scenario:
    agent_delta: dict[str, int] = field(default_factory=dict)
    """queue -> agents added (negative: taken away)."""
    sl_target: dict[str, float] = field(default_factory=dict)
    sl_threshold_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def move(cls, agents: int, from_queue: str, to_queue: str) -> Scenario:
        return cls(agent_delta={from_queue: -agents, to_queue: agents})

    def queues(self) -> list[str]:
        return sorted(set(self.agent_delta) | set(self.sl_target) | set(self.sl_threshold_s))

    def describe(self, names: dict[str, str]) -> str:
        """The scenario in the floor's language, one clause per change."""
        parts = []
        losing = [q for q, d in self.agent_delta.items() if d < 0]
        gaining = [q for q, d in self.agent_delta.items() if d > 0]
        if len(losing) == 1 and len(gaining) == 1:
            n = self.agent_delta[gaining[0]]
            if -self.agent_delta[losing[0]] == n:
                parts.append(
                    ngettext(
                        "move {count} agent from {source} to {target}",
                        "move {count} agents from {source} to {target}",
                        n,
                    ).format(
                        count=n,
                        source=names.get(losing[0], losing[0]),
                        target=names.get(gaining[0], gaining[0]),
                    )
                )
                losing = gaining = []
        for q in gaining + losing:
            d = self.agent_delta[q]
            said = _("add {count} on {queue}") if d > 0 else _("remove {count} on {queue}")
            parts.append(said.format(count=abs(d), queue=names.get(q, q)))
        for q, t in self.sl_target.items():
            parts.append(
                _("SL target {share} on {queue}").format(
                    share=fmt.percent(t), queue=names.get(q, q)
                )
            )
        for q, s in self.sl_threshold_s.items():
            parts.append(
                _("T = {seconds} s on {queue}").format(seconds=f"{s:g}", queue=names.get(q, q))
            )
        return "; ".join(parts) or _("no change")


@dataclass(frozen=True, slots=True)
class Projected:
    label: str
    """"now" or the half hour's start as HH:MM."""
    start: float | None
    offered_per_30m: float
    aht_s: float
    agents_before: int
    agents_after: int
    sl_before: float
    sl_after: float
    asa_before_s: float
    asa_after_s: float


@dataclass(frozen=True, slots=True)
class QueueWhatIf:
    queue_id: str
    name: str
    realtime: bool
    target_before: float
    target_after: float
    rows: tuple[Projected, ...]


def what_if(
    state: FloorState,
    scenario: Scenario,
    now: float,
    *,
    weeks: int,
    intervals: int,
    clock_label: Callable[[float], str] = str,
) -> list[QueueWhatIf]:
    """Each queue the scenario touches: SL and ASA now and for the coming ``intervals``
    half hours, before and after."""
    out: list[QueueWhatIf] = []
    for queue_id in scenario.queues():
        queue = state.queues.get(queue_id)
        if queue is None:
            continue
        before = state.targets.for_queue(queue_id)
        after = replace(
            before,
            sl_target=scenario.sl_target.get(queue_id, before.sl_target),
            sl_threshold_s=scenario.sl_threshold_s.get(queue_id, before.sl_threshold_s),
        )
        delta = scenario.agent_delta.get(queue_id, 0)
        rows: list[Projected] = []
        if queue.channel.is_realtime:
            rows.append(_now(state, queue_id, now, before, after, delta))
            base = coming_intervals(state, queue_id, now, weeks=weeks, count=intervals)
            moved = coming_intervals(
                state,
                queue_id,
                now,
                weeks=weeks,
                count=intervals,
                agent_delta=delta,
                targets_override=after,
            )
            for b, a in zip(base, moved, strict=True):
                rows.append(
                    Projected(
                        label=clock_label(b.start),
                        start=b.start,
                        offered_per_30m=b.offered,
                        aht_s=b.aht_s,
                        agents_before=b.agents,
                        agents_after=a.agents,
                        sl_before=b.service_level,
                        sl_after=a.service_level,
                        asa_before_s=b.asa_s,
                        asa_after_s=a.asa_s,
                    )
                )
        out.append(
            QueueWhatIf(
                queue_id,
                queue.name,
                queue.channel.is_realtime,
                before.sl_target,
                after.sl_target,
                tuple(rows),
            )
        )
    return out


def _now(
    state: FloorState,
    queue_id: str,
    now: float,
    before: QueueTargets,
    after: QueueTargets,
    delta: int,
) -> Projected:
    """The live figures: arrivals and AHT over the board's Erlang window, agents staffing."""
    queue = state.queues[queue_id]
    window = before.erlang_window_s
    arrivals = sum(1 for t in queue.recent_offers if now - window <= t <= now)
    recent = [h for t, h in queue.recent_handle if t >= now - window]
    aht = sum(recent) / len(recent) if recent else before.aht_default_s
    per_30m = arrivals * 1800 / window
    have = state.staffed.get(queue_id, 0)
    sl_b, asa_b = project_interval(per_30m, aht, have, before)
    sl_a, asa_a = project_interval(per_30m, aht, max(0, have + delta), after)
    return Projected(
        "now", None, per_30m, aht, have, max(0, have + delta), sl_b, sl_a, asa_b, asa_a
    )
