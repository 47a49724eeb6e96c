"""The simulated floor is reproducible from its seed and looks like a contact-center day."""

from __future__ import annotations

from collections import Counter

from supervisor_tui.adapters.simulator import OPEN_S, FloorSimulation, SimOptions
from supervisor_tui.core.kpis import floor_kpis
from supervisor_tui.core.projection import FloorState
from supervisor_tui.model import AgentState, Channel, Event

from .conftest import EPOCH, simulate, targets


def fold(events: list) -> FloorState:
    state = FloorState(targets())
    state.apply_all(
        Event(seq=i + 1, **e.model_dump(exclude={"payload"}), payload=e.payload)
        for i, e in enumerate(events)
    )
    return state


def test_same_seed_same_day_other_seed_other_day() -> None:
    a, b = simulate(seed=11, until_s=3600), simulate(seed=11, until_s=3600)
    assert [(e.key, e.payload) for e in a] == [(e.key, e.payload) for e in b]
    c = simulate(seed=12, until_s=3600)
    assert [e.payload for e in a] != [e.payload for e in c]


def test_chunked_advance_gives_the_same_events() -> None:
    whole = simulate(seed=5, until_s=5400)
    sim = FloorSimulation(SimOptions(seed=5), EPOCH)
    chunks = [e for t in [*range(0, 5400, 7), 5400] for e in sim.advance(t)]
    assert [(e.key, e.payload) for e in chunks] == [(e.key, e.payload) for e in whole]


def test_the_day_has_channels_peaks_abandons_breaks_and_complaints() -> None:
    events = simulate(seed=7, until_s=12 * 3600)
    kinds = Counter(e.kind for e in events)
    assert kinds["contact.abandoned"] > 0 and kinds["sla.changed"] > 0
    offers_by_hour = Counter(
        int((e.occurred_at - EPOCH) // 3600) for e in events if e.kind == "contact.offered"
    )
    assert offers_by_hour[4] > offers_by_hour[0] * 1.5  # 12:00 busier than 08:00
    reasons = {e.payload.reason for e in events if e.kind == "agent.state"}  # type: ignore[attr-defined]
    assert {"Break", "Lunch"} <= reasons
    assert any(
        e.kind == "ticket.upserted" and "complaint" in e.payload.tags  # type: ignore[attr-defined]
        for e in events
    )
    assert any(
        e.kind == "sla.changed" and e.payload.state == "breached"  # type: ignore[attr-defined]
        for e in events
    )
    state = fold(events[: len(events) // 2])
    channels = {q.channel for q in state.queues.values()}
    assert {Channel.VOICE, Channel.CHAT, Channel.EMAIL} <= channels
    assert len(state.agents) == 40 and len(state.queues) == 5


def test_midmorning_floor_is_plausible() -> None:
    state = fold(simulate(seed=7, until_s=3 * 3600))
    now = EPOCH + 3 * 3600
    states = Counter(a.state for a in state.agents.values())
    assert states[AgentState.BUSY] >= 10 and states[AgentState.OFFLINE] < 40
    for kpis in floor_kpis(state, now).values():
        if kpis.realtime:
            assert kpis.service_level is not None and 0.3 < kpis.service_level <= 1.0
            assert kpis.answered > 50
        else:
            assert kpis.backlog > 0


def test_size_options_scale_the_floor() -> None:
    sim = FloorSimulation(SimOptions(seed=1, agents=1000, queues=100), EPOCH)
    events = list(sim.advance(600))
    state = fold(events)
    assert len(state.agents) == 1000 and len(state.queues) == 100
    assert len({q.queue_id for q in state.queues.values()}) == 100
    assert OPEN_S == 8 * 3600
