"""Forecast against actual, adherence and conformance, and the what-if: every expected
figure is worked by hand here or computed again from its definition, never read back from
the code under test."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from supervisor_tui.core.erlang import erlang_c_figures
from supervisor_tui.core.forecast import (
    forecast_interval,
    past_slots,
    queue_forecast,
    same_slot_weeks_back,
)
from supervisor_tui.core.intraday import IntradayBook, PresenceTimelines, floor_day
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.schedule import AgentPlan, agent_adherence, agent_plan, floor_adherence
from supervisor_tui.core.snapshot import SnapshotError, freeze, thaw
from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.core.whatif import Scenario, what_if
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Channel,
    ContactEnded,
    ContactOffered,
    ForecastImported,
    ForecastInterval,
    QueueUpserted,
    ScheduledActivity,
    ScheduleImported,
)
from tests.doors import fuzz_examples
from tests.helpers import Feed

WEEK = 7 * 86_400
# Monday 30 November 2026, 00:00 UTC: the floor's "today" in these examples (UTC floor)
TODAY = datetime(2026, 11, 30, tzinfo=UTC).timestamp()


def at(hh: int, mm: int = 0, *, weeks_ago: int = 0, days: int = 0) -> float:
    return TODAY - weeks_ago * WEEK + days * 86_400 + hh * 3600 + mm * 60


class History:
    """Contacts placed by hand: offered in a half hour, each with a handle time."""

    def __init__(self, feed: Feed, queue: str = "voice") -> None:
        self.feed = feed
        self.queue = queue
        self.n = 0

    def contacts(self, start: float, handle_times: list[float], offered_only: int = 0) -> None:
        for k, handle in enumerate(handle_times):
            self.n += 1
            cid = f"c{self.n}"
            offered = start + 10 + k
            self.feed(
                ContactOffered(
                    contact_id=cid, queue_id=self.queue, channel=Channel.VOICE, offered_at=offered
                ),
                offered,
            )
            self.feed(
                ContactEnded(
                    contact_id=cid,
                    queue_id=self.queue,
                    agent_id="x",
                    ended_at=offered + 60,
                    talk_s=handle,
                ),
                offered + 60,
            )
        for k in range(offered_only):
            self.n += 1
            offered = start + 100 + k
            self.feed(
                ContactOffered(
                    contact_id=f"c{self.n}",
                    queue_id=self.queue,
                    channel=Channel.VOICE,
                    offered_at=offered,
                ),
                offered,
            )


def _floor() -> tuple[FloorState, Feed]:
    state = FloorState(FloorTargets())
    feed = Feed(state)
    feed(QueueUpserted(queue_id="voice", name="Voice", channel=Channel.VOICE), at(0, weeks_ago=6))
    return state, feed


def test_forecast_is_the_mean_of_the_same_weekday_half_hour_over_four_weeks() -> None:
    state, feed = _floor()
    history = History(feed)
    # 09:00 on the four Mondays before: 10, 14, 12 and 8 offered; handle times by hand
    history.contacts(at(9, weeks_ago=5), [999.0] * 3, offered_only=97)  # five weeks back: out
    history.contacts(at(9, weeks_ago=4), [200.0, 220.0], offered_only=8)  # 10 offered
    history.contacts(at(9, weeks_ago=3), [300.0], offered_only=13)  # 14 offered
    history.contacts(at(9, weeks_ago=2), [100.0, 140.0, 180.0], offered_only=9)  # 12
    history.contacts(at(9, weeks_ago=1), [], offered_only=8)  # 8, none handled then
    history.contacts(at(9, weeks_ago=1, days=1), [50.0] * 5, offered_only=40)  # a Tuesday: out
    history.contacts(at(9, 30, weeks_ago=1), [400.0], offered_only=0)  # 09:30: another slot
    fc = forecast_interval(state.intraday, "voice", int(at(9)), 4, state.targets)
    assert fc is not None
    assert fc.offered == pytest.approx((10 + 14 + 12 + 8) / 4)  # 11
    assert (fc.low, fc.high, fc.weeks) == (8.0, 14.0, 4)
    handled = [200.0, 220.0, 300.0, 100.0, 140.0, 180.0]
    assert fc.aht_s == pytest.approx(sum(handled) / len(handled))
    assert not fc.imported


def test_a_week_the_store_does_not_hold_is_left_out_not_taken_as_zero() -> None:
    state, feed = _floor()
    history = History(feed)
    history.contacts(at(9, weeks_ago=4), [], offered_only=10)
    history.contacts(at(9, weeks_ago=2), [], offered_only=20)
    # three weeks back the queue took calls, only not at 09:00: that 0 is a real 0
    history.contacts(at(14, weeks_ago=3), [], offered_only=5)
    fc = forecast_interval(state.intraday, "voice", int(at(9)), 4, state.targets)
    assert fc is not None
    assert fc.weeks == 3  # one week back holds nothing at all for the queue
    assert fc.offered == pytest.approx((10 + 0 + 20) / 3)
    assert forecast_interval(state.intraday, "other", int(at(9)), 4, state.targets) is None


def test_an_imported_forecast_replaces_history_and_actual_is_compared_with_it() -> None:
    state, feed = _floor()
    history = History(feed)
    for w in (1, 2, 3, 4):
        history.contacts(at(9, weeks_ago=w), [], offered_only=10)
        history.contacts(at(9, 30, weeks_ago=w), [], offered_only=10)
    feed(
        ForecastImported(
            intervals=(ForecastInterval(queue_id="voice", start=at(9, 30), offered=40, aht_s=250),),
            at=at(7),
        ),
        at(7),
    )
    fc = forecast_interval(state.intraday, "voice", int(at(9, 30)), 4, state.targets)
    assert fc is not None and fc.imported and (fc.offered, fc.aht_s) == (40, 250)
    # today: 09:00–09:30 took 22 against a forecast of 10; now is 09:45, 30 so far since 09:30
    history.contacts(at(9), [], offered_only=22)
    history.contacts(at(9, 30), [], offered_only=30)
    now = at(9, 45)
    f = queue_forecast(state, "voice", now, weeks=4, margin=0.15, min_over=5)
    assert f.actual_today == 52 and f.actual_now == 30
    # 10 for 09:00 and half of the imported 40 for 09:30 so far
    assert f.forecast_today == pytest.approx(10 + 40 * 0.5)
    assert f.mape == pytest.approx(abs(22 - 10) / 22)  # only 09:00 is over
    assert f.over  # 52 > 30 × 1.15 and by 22 ≥ 5
    calm = queue_forecast(state, "voice", now, weeks=4, margin=0.8, min_over=5)
    assert not calm.over  # 52 < 30 × 1.8


# -- adherence and conformance --------------------------------------------------------------


def _scheduled_agent(feed: Feed | None = None) -> tuple[FloorState, Feed]:
    """Ana, scheduled open 09–11, break 11–11:15, open 11:15–12; her presence by hand."""
    if feed is None:
        feed = Feed(FloorState(FloorTargets()))
    state = feed.state
    feed(AgentUpserted(agent_id="a1", name="Ana B.", queue_ids=("voice",)), at(8))
    feed(
        ScheduleImported(
            activities=(
                ScheduledActivity(agent_id="a1", start=at(9), end=at(11), activity="open"),
                ScheduledActivity(agent_id="a1", start=at(11), end=at(11, 15), activity="break"),
                ScheduledActivity(agent_id="a1", start=at(11, 15), end=at(12), activity="open"),
            ),
            at=at(7),
        ),
        at(7),
    )
    for hh, mm, state_ in (
        (8, 55, AgentState.AVAILABLE),
        (10, 0, AgentState.AWAY),  # twenty minutes off the phone in open time
        (10, 20, AgentState.BUSY),
        (11, 10, AgentState.AWAY),  # ten minutes late for the break
        (11, 20, AgentState.AVAILABLE),  # five minutes late back
    ):
        feed(AgentStateChanged(agent_id="a1", state=state_, since=at(hh, mm)), at(hh, mm))
    return state, feed


def test_adherence_and_conformance_of_a_hand_made_day() -> None:
    state, _ = _scheduled_agent()
    got = agent_adherence(state.intraday, "a1", TODAY, at(11, 40))
    # scheduled up to 11:40: open 120 + break 15 + open 25 = 160 minutes; in the scheduled
    # state: 60 (09–10) + 40 (10:20–11) + 5 (11:10–11:15) + 20 (11:20–11:40) = 125
    assert got.adherence == pytest.approx(125 / 160)
    # worked 65 (08:55–10) + 50 (10:20–11:10) + 20 (11:20–11:40) = 135 of 145 open minutes
    assert got.conformance == pytest.approx(135 / 145)
    assert floor_adherence(state, TODAY, at(11, 40)).adherence == pytest.approx(125 / 160)


def test_scheduled_time_before_the_first_presence_report_counts_in_neither() -> None:
    state, feed = _scheduled_agent()
    feed(AgentUpserted(agent_id="a2", name="Ben C.", queue_ids=("voice",)), at(8))
    feed(
        ScheduleImported(
            activities=(
                ScheduledActivity(agent_id="a2", start=at(8), end=at(12), activity="open"),
            ),
            at=at(7),
        ),
        at(7),
    )
    # the helpdesk first tells Ben's presence at 11:00 (the board started then)
    feed(AgentStateChanged(agent_id="a2", state=AgentState.BUSY, since=at(11)), at(11))
    got = agent_adherence(state.intraday, "a2", TODAY, at(11, 40))
    assert (got.adherence, got.conformance) == (1.0, 1.0)  # 40 of 40 known minutes


def test_time_without_presence_is_left_out_of_adherence_and_conformance() -> None:
    state, feed = _scheduled_agent()
    feed(AgentStateChanged(agent_id="a1", state=AgentState.UNKNOWN, since=at(11, 30)), at(11, 30))
    got = agent_adherence(state.intraday, "a1", TODAY, at(11, 40))
    assert got.adherence == pytest.approx((125 - 10) / (160 - 10))
    # and of conformance: 10 of the open minutes, and 10 of the worked ones, are unknown
    assert got.conformance == pytest.approx((135 - 10) / (145 - 10))


_STATES = st.sampled_from(list(AgentState))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("presence"), st.integers(1, 40), _STATES),
            st.tuples(st.just("ask"), st.integers(0, 40), st.booleans()),
            st.tuples(st.just("import"), st.integers(0, 20), st.sampled_from(["open", "break"])),
        ),
        max_size=40,
    )
)
def test_adherence_asked_again_later_equals_the_day_figured_afresh(
    steps: list[tuple[str, int, object]],
) -> None:
    """The board asks every agent's adherence every minute and only the presence changes
    since its last ask are walked: whatever came in between (presence, a late ask about an
    earlier time, a new schedule), the answer is the one a book that never asked gives."""
    state, feed = _scheduled_agent()
    book = state.intraday
    clock = at(11, 20)
    for kind, minutes, what in steps:
        if kind == "presence":
            assert isinstance(what, AgentState)
            clock += minutes * 60
            feed(AgentStateChanged(agent_id="a1", state=what, since=clock), clock)
        elif kind == "import":
            assert isinstance(what, str)
            start = clock + minutes * 60
            feed(
                ScheduleImported(
                    activities=(
                        ScheduledActivity(
                            agent_id="a1", start=start, end=start + 1800, activity=what
                        ),
                    ),
                    at=clock,
                ),
                clock,
            )
        else:
            end = clock + minutes * 60 if what else clock - minutes * 60
            got = agent_adherence(book, "a1", TODAY, end)
            remembered = dict(book.adherence_memo)
            book.adherence_memo.clear()
            assert got == agent_adherence(book, "a1", TODAY, end)
            book.adherence_memo.update(remembered)


def test_out_of_adherence_is_flagged_only_beyond_the_grace_time() -> None:
    state, _ = _scheduled_agent()
    late = agent_plan(state.intraday, "a1", at(11, 8), grace_s=300)
    assert late.activity == "break" and late.out_since == at(11)  # busy since 10:20, break 11:00
    assert agent_plan(state.intraday, "a1", at(11, 8), grace_s=600).out_since is None
    assert agent_plan(state.intraday, "a1", at(11, 40), grace_s=300).out_since is None
    assert agent_plan(state.intraday, "a1", at(13), grace_s=300).activity is None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 40), st.integers(1, 6), st.sampled_from(["open", "break", "lunch"])
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.tuples(st.integers(0, 60), _STATES), min_size=1, max_size=8),
    st.integers(0, 60),
)
def test_out_of_adherence_since_equals_a_walk_back_through_the_plan(
    plan: list[tuple[int, int, str]], presence: list[tuple[int, AgentState]], ask: int
) -> None:
    """Out since the later of the state's start and the start of the run of planned
    activities of the same kind, each touching the next (kept per schedule): the same as
    walking back through the plan at every ask, before and after the day is imported anew."""
    from supervisor_tui.core.schedule import activity_at, is_open, keeps, state_at

    feed = Feed(FloorState(FloorTargets()))
    state = feed.state
    feed(AgentUpserted(agent_id="a1", name="Ana", queue_ids=("voice",)), at(6))

    def walked(now: float) -> float | None:
        activity = activity_at(state.intraday, "a1", now)
        found = state_at(state.intraday, "a1", now)
        if activity is None or found is None or keeps(activity.activity, found[1]) is not False:
            return None
        planned = state.intraday.schedule["a1"]
        began = activity.start
        for before in reversed(planned[: planned.index(activity)]):
            if before.end < began or is_open(before.activity) != is_open(activity.activity):
                break
            began = before.start
        out = max(found[0], began)
        return out if now - out > 60 else None

    def imported(shift: int) -> None:
        feed(
            ScheduleImported(
                activities=tuple(
                    ScheduledActivity(
                        agent_id="a1",
                        start=at(8) + (start + shift) * 900,
                        end=at(8) + (start + shift + length) * 900,
                        activity=kind,
                    )
                    for start, length, kind in plan
                ),
                at=at(7),
            ),
            at(7),
        )

    for minutes, state_ in sorted(presence, key=lambda p: p[0]):
        since = at(8) + minutes * 300
        feed(AgentStateChanged(agent_id="a1", state=state_, since=since), since)
    for shift in (0, 0, 3):
        imported(shift)
        for now in (at(8) + ask * 300, at(8) + ask * 300 + 450):
            assert agent_plan(state.intraday, "a1", now, grace_s=60).out_since == walked(now)


def test_schedules_of_days_gone_are_forgotten_and_old_contacts_forget_nothing() -> None:
    """Once a floor day the book forgets schedules that ended more than two days back; a
    contact of an older day (a history being read) forgets nothing, and what the board
    remembered of an agent's plan is figured again once it was forgotten."""
    state, feed = _scheduled_agent()
    book = state.intraday
    history = History(feed)
    history.contacts(at(10, days=-6), [120.0])  # a week-old call read at start
    assert [a.activity for a in book.schedule["a1"]] == ["open", "break", "open"]
    assert agent_plan(book, "a1", at(11, 8), grace_s=300).out_since == at(11)
    history.contacts(at(10, days=1), [120.0])  # tomorrow: today's plan is kept (two days)
    assert "a1" in book.schedule
    history.contacts(at(10, days=3), [120.0])
    assert "a1" not in book.schedule
    assert agent_plan(book, "a1", at(11, 8), grace_s=300) == AgentPlan(None, None)
    assert agent_adherence(book, "a1", TODAY, at(11, 40)).scheduled_s == 0


def test_what_the_board_remembers_of_adherence_is_not_kept_in_a_snapshot() -> None:
    """The figures remembered between the board's asks are not the floor's state: a snapshot
    leaves them out (a thawed book figures them again, the same) and still loads."""
    state, _ = _scheduled_agent()
    before = agent_adherence(state.intraday, "a1", TODAY, at(11, 40))
    plan = agent_plan(state.intraday, "a1", at(11, 8), grace_s=300)
    assert state.intraday.adherence_memo and state.intraday.run_starts
    again = thaw(freeze(state), state.targets)
    assert again.intraday.adherence_memo == {} and again.intraday.run_starts == {}
    assert agent_adherence(again.intraday, "a1", TODAY, at(11, 40)) == before
    assert agent_plan(again.intraday, "a1", at(11, 8), grace_s=300) == plan


def test_a_new_import_replaces_the_agent_s_planned_span_and_survives_a_snapshot() -> None:
    state, feed = _scheduled_agent()
    feed(
        ScheduleImported(
            activities=(
                ScheduledActivity(agent_id="a1", start=at(9), end=at(12), activity="training"),
            ),
            at=at(8),
        ),
        at(8),
    )
    assert [a.activity for a in state.intraday.schedule["a1"]] == ["training"]
    again = thaw(freeze(state), state.targets)
    assert again.snapshot() == state.snapshot()
    # away at 10:05 keeps a training; busy from 10:20 does not
    assert agent_plan(again.intraday, "a1", at(10, 5), grace_s=60).out_since is None
    assert agent_plan(again.intraday, "a1", at(10, 25), grace_s=60).out_since == at(10, 20)


# -- presence timelines ------------------------------------------------------------------

presences = st.lists(
    st.tuples(
        st.sampled_from(["a1", "a2"]),
        # instants that repeat and go back (late reports), close enough for cuts to bite
        st.integers(0, 40).map(lambda n: 1_790_000_000.0 + 300.0 * n),
        st.sampled_from(list(AgentState)),
    ),
    max_size=60,
)


def _presence_as_a_list(
    timelines: dict[str, list[tuple[float, AgentState]]],
    agent_id: str,
    since: float,
    state: AgentState,
    kept_s: float,
) -> None:
    """The book's presence as it was kept before timelines were compact: a list of pairs."""
    timeline = timelines.setdefault(agent_id, [])
    if timeline and since < timeline[-1][0]:
        return
    if timeline and since == timeline[-1][0]:
        timeline[-1] = (since, state)
    else:
        timeline.append((since, state))
    cut = since - kept_s
    while len(timeline) > 2 and timeline[1][0] <= cut:
        del timeline[0]


@settings(max_examples=fuzz_examples(100), deadline=None)
@given(presences, st.sampled_from([900.0, 3_600.0, 2 * 86_400.0]))
def test_a_compact_presence_timeline_keeps_what_a_list_of_changes_kept(
    reports: list[tuple[str, float, AgentState]], kept_s: float
) -> None:
    """Late, repeated and old reports: the compact timeline holds, reads and bisects as the
    list of pairs did, and a snapshot of the book's (compact, format 2) or of the lists
    (format 1) gives them back, agents in their order."""
    book = IntradayBook(kept_s=kept_s)
    plain: dict[str, list[tuple[float, AgentState]]] = {}
    for agent_id, since, state in reports:
        book.presence(agent_id, since, state)
        _presence_as_a_list(plain, agent_id, since, state, kept_s)
    assert list(book.states) == list(plain)
    for agent_id, timeline in book.states.items():
        expected = plain[agent_id]
        assert list(timeline) == expected and timeline == expected
        assert len(timeline) == len(expected)
        assert [timeline[i] for i in range(-len(expected), len(expected))] == expected * 2
        assert list(timeline.since) == [since for since, _ in expected]
    again = PresenceTimelines.from_compact(book.states.compact())
    assert again == book.states and list(again) == list(plain)
    assert {agent_id: list(timeline) for agent_id, timeline in again.items()} == plain
    state = FloorState(FloorTargets())
    state.intraday = book
    assert thaw(freeze(state), state.targets).intraday.states == book.states
    # format 1 wrote each timeline as its list of pairs
    pairs = TypeAdapter(dict[str, list[tuple[float, AgentState]]]).dump_json(plain)
    assert TypeAdapter(PresenceTimelines).validate_json(pairs) == book.states


def _snapshot_with_presence(compact: dict[str, object]) -> bytes:
    """A snapshot of a floor whose book's presence timelines are ``compact``."""
    state = FloorState(FloorTargets())
    state.intraday.presence("a1", 1.0, AgentState.AVAILABLE)
    raw = json.loads(zstandard.ZstdDecompressor().decompress(freeze(state)))
    raw["intraday"]["states"] = compact
    return zstandard.ZstdCompressor().compress(json.dumps(raw).encode())


ONE = {
    "agents": ["a1"],
    "counts": [1],
    "since": "AAAAAAAA8D8=",
    "states": "AA==",
    "of": ["available"],
}
"""Agent a1 available from 1.0 (the double's eight bytes, shuffled as one is itself)."""


@pytest.mark.parametrize(
    "damage",
    [
        {"states": "AAE="},  # one instant, two states
        {"counts": [2], "states": "AAE="},  # counts two changes, holds one instant
        {"agents": ["a1", "a2"]},  # two agents, one count
        {"agents": ["a1", "a2"], "counts": [2, -1]},  # a count below nothing
        {"states": "AQ=="},  # code 1 of a vocabulary of one
        {"since": "AAAAAAAA8D8"},  # base64 cut short
        {"of": ["sleeping"]},  # not a state
        {"of": "available"},  # not a list
    ],
)
def test_damaged_compact_presence_timelines_are_a_clear_snapshot_error(
    damage: dict[str, object],
) -> None:
    intact = thaw(_snapshot_with_presence(ONE), FloorTargets())
    assert list(intact.intraday.states["a1"]) == [(1.0, AgentState.AVAILABLE)]
    with pytest.raises(SnapshotError, match=r"^snapshot does not load \("):
        thaw(_snapshot_with_presence({**ONE, **damage}), FloorTargets())


# -- Erlang C and the what-if -------------------------------------------------------------


def erlang_c_by_definition(servers: int, traffic: float) -> float:
    """P(wait) from the textbook formula, with the sums written out (no recursion)."""
    top = traffic**servers / math.factorial(servers) * servers / (servers - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom


def test_erlang_c_textbook_example() -> None:
    # 10 erlangs on 12 servers: P(wait) = 0.4493 (published tables give 0.449)
    assert erlang_c_by_definition(12, 10.0) == pytest.approx(0.4493, abs=1e-4)
    got = erlang_c_figures(12, 100 / 1800, 180.0, 20.0)
    assert got.wait_probability == pytest.approx(erlang_c_by_definition(12, 10.0))
    assert got.service_level == pytest.approx(1 - 0.44933 * math.exp(-2 * 20 / 180), abs=1e-4)


def test_moving_two_agents_from_email_to_chat_gives_chat_its_erlang_c_service_level() -> None:
    chat = QueueTargets(sl_threshold_s=20, sl_target=0.8, max_concurrent=2)
    state = FloorState(FloorTargets(queues={"chat": chat}))
    feed = Feed(state)
    feed(QueueUpserted(queue_id="chat", name="Chat", channel=Channel.CHAT), at(8))
    feed(QueueUpserted(queue_id="email", name="E-mail", channel=Channel.EMAIL), at(8))
    for i in range(4):
        feed(AgentUpserted(agent_id=f"c{i}", name=f"C{i}", queue_ids=("chat",)), at(8))
        feed(AgentStateChanged(agent_id=f"c{i}", state=AgentState.AVAILABLE, since=at(8)), at(8))
    for i in range(5):
        feed(AgentUpserted(agent_id=f"e{i}", name=f"E{i}", queue_ids=("email",)), at(8))
        feed(AgentStateChanged(agent_id=f"e{i}", state=AgentState.BUSY, since=at(8)), at(8))
    # 100 chats a half hour at 180 s: 10 erlangs. Four agents × 2 chats = 8 servers: unstable.
    feed(
        ForecastImported(
            intervals=tuple(
                ForecastInterval(queue_id="chat", start=at(10, 30 * k), offered=100, aht_s=180)
                for k in range(4)
            ),
            at=at(8),
        ),
        at(8),
    )
    result = {
        q.queue_id: q
        for q in what_if(state, Scenario.move(2, "email", "chat"), at(10, 5), weeks=4, intervals=2)
    }
    rows = [r for r in result["chat"].rows if r.start is not None]
    assert [r.start for r in rows] == [at(10), at(10, 30), at(11)]
    expected_sl = 1 - erlang_c_by_definition(12, 10.0) * math.exp(-(12 - 10) * 20 / 180)
    expected_asa = erlang_c_by_definition(12, 10.0) * 180 / (12 - 10)
    for row in rows:
        assert (row.agents_before, row.agents_after) == (4, 6)
        assert row.sl_before == 0.0 and math.isinf(row.asa_before_s)
        assert row.sl_after == pytest.approx(expected_sl)
        assert row.asa_after_s == pytest.approx(expected_asa)
    email = result["email"]
    assert not email.realtime and email.rows == ()
    assert Scenario.move(2, "email", "chat").describe({"chat": "Chat", "email": "E-mail"}) == (
        "move 2 agents from E-mail to Chat"
    )


ZONES = [
    ("", 0),
    ("", 19_800),
    ("Europe/London", 0),
    ("America/New_York", -18_000),
    ("Australia/Lord_Howe", 37_800),
    ("Asia/Kathmandu", 20_700),
]


@settings(max_examples=fuzz_examples(150), deadline=None)
@given(
    st.lists(
        st.tuples(
            # any instant of 2026-2027, summer-time changes included, a half hour or not
            st.integers(int(TODAY) - 300 * 86_400, int(TODAY) + 120 * 86_400),
            st.integers(0, 6),
        ),
        min_size=1,
        max_size=10,
    ),
    st.permutations(ZONES),
)
def test_remembered_past_half_hours_are_those_worked_out_again(
    asks: list[tuple[int, int]], zones: list[tuple[str, int]]
) -> None:
    """The forecast remembers each half hour's same slot weeks back, and their floor days,
    by the floor's zone and offset: asked again (or by other targets of the same zone), in
    another zone, whatever was asked in between, the answer is the one worked out afresh."""
    for start, weeks in asks + asks[::-1]:
        for zone, offset in zones:
            targets = FloorTargets(timezone=zone, utc_offset_s=offset)
            other = FloorTargets(
                timezone=zone, utc_offset_s=offset, queues={"voice": QueueTargets(sl_target=0.5)}
            )
            fresh = tuple(
                (past, floor_day(past, targets))
                for past in same_slot_weeks_back(start, weeks, targets)
            )
            assert past_slots(start, weeks, targets) == fresh, (start, weeks, zone)
            assert past_slots(start, weeks, other) == fresh
            assert len(fresh) == weeks


@settings(max_examples=fuzz_examples(60), deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a1", "a2", "a3", "a4", "a5"]),
            st.lists(st.sampled_from(["voice", "chat", "mail"]), max_size=3),
            st.integers(8, 17),
            st.integers(1, 6),
            st.sampled_from(["open", "break", "lunch", "meeting"]),
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.tuples(st.integers(8, 18), st.sampled_from([0, 15, 30, 45])), max_size=6),
)
def test_scheduled_agents_per_queue_equal_a_walk_of_every_schedule(
    rows: list[tuple[str, list[str], int, int, str]], instants: list[tuple[int, int]]
) -> None:
    """The count the forecasts use (one pass over the schedules per instant, kept while the
    floor stands still) equals a walk of every agent's schedule for that queue, whatever was
    imported, and again after an agent moves to other queues and its day is imported anew."""
    from supervisor_tui.core.schedule import activity_at, is_open, scheduled_open_agents

    feed = Feed(FloorState(FloorTargets()))
    state = feed.state

    def walked(queue_id: str, when: float) -> int:
        count = 0
        for agent_id in state.intraday.schedule:
            agent = state.agents.get(agent_id)
            if agent is None or queue_id not in agent.queue_ids:
                continue
            activity = activity_at(state.intraday, agent_id, when)
            count += activity is not None and is_open(activity.activity)
        return count

    for agent_id, queues, *_ in rows:
        feed(AgentUpserted(agent_id=agent_id, name=agent_id, queue_ids=tuple(queues)), at(7))
    feed(
        ScheduleImported(
            activities=tuple(
                ScheduledActivity(
                    agent_id=agent_id, start=at(hour), end=at(hour) + length * 1800, activity=kind
                )
                for agent_id, _q, hour, length, kind in rows
            ),
            at=at(7),
        ),
        at(7),
    )
    moved = rows[0][0]
    for round_ in range(3):
        for hour, minute in [*instants, (9, 0)]:
            when = at(hour, minute)
            for queue_id in ("voice", "chat", "mail", "none"):
                assert scheduled_open_agents(state, queue_id, when) == walked(queue_id, when)
        if round_ == 0:
            feed(AgentUpserted(agent_id=moved, name=moved, queue_ids=("mail", "voice")), at(7, 30))
        else:  # presence moves nothing here; a new import of the agent's day does
            feed(
                AgentStateChanged(agent_id=moved, state=AgentState.BUSY, since=at(7, 40)), at(7, 40)
            )
            feed(
                ScheduleImported(
                    activities=(
                        ScheduledActivity(agent_id=moved, start=at(8), end=at(19), activity="open"),
                    ),
                    at=at(7, 45),
                ),
                at(7, 45),
            )
