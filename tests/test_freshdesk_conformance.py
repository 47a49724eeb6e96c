"""The Freshdesk parsers against real recorded responses (read in place from ../shared)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from supervisor_tui.adapters.freshdesk import parse
from supervisor_tui.adapters.polling import ts
from supervisor_tui.model import AgentState, Channel, SlaState, TicketStatus

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = Path(
    os.environ.get("SUPERVISOR_TUI_CONFORMANCE", ROOT.parent / "shared" / "conformance")
)
FRESHDESK = CONFORMANCE / "freshdesk"

pytestmark = pytest.mark.skipif(
    not FRESHDESK.is_dir(), reason=f"no recorded Freshdesk responses at {FRESHDESK}"
)
TICKETS = "GET_api_v2_tickets__include_description_requester_stats__order_by_updated_at_asc.json"


def recorded(name: str) -> Any:
    return json.loads((FRESHDESK / name).read_text(encoding="utf-8"))


def ctx() -> parse.Context:
    labels = parse.status_labels(recorded("GET_api_v2_ticket_fields.json"))
    return parse.Context(source="fd", status_labels=labels)


def test_every_recording_is_read_by_some_test() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    names = sorted(p.name for p in FRESHDESK.glob("*.json"))
    assert len(names) >= 10
    assert [n for n in names if n not in source] == []


def test_every_list_is_a_bare_array() -> None:
    for path in FRESHDESK.glob("*.json"):
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), list), path.name


def test_status_labels_from_the_status_field() -> None:
    labels = parse.status_labels(recorded("GET_api_v2_ticket_fields.json"))
    assert labels == {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}


def test_tickets_statuses_channels_and_owners() -> None:
    tickets = {t["id"]: t for t in recorded(TICKETS)}
    got = {tid: parse.ticket_payload(t, ctx()) for tid, t in tickets.items()}
    assert got[18].status is TicketStatus.NEW  # open, nobody on it
    assert got[18].channel is Channel.EMAIL and got[18].queue_id == "fd:67000259997"
    assert got[18].requester == "Matt Rogers" and got[18].escalated is True
    assert got[22].status is TicketStatus.PENDING and got[22].channel is Channel.VOICE
    assert got[22].assignee_id == "fd:67013469919"
    assert got[22].first_response_at == ts("2022-11-16T16:16:58Z")
    closed = got[21]
    assert closed.status is TicketStatus.CLOSED and closed.channel is Channel.EMAIL  # outbound
    assert closed.solved_at == ts("2022-11-16T15:59:28Z")
    (later,) = recorded("GET_api_v2_tickets__include_requester_stats__single_page.json")
    assert parse.ticket_payload(later, ctx()).ticket_id == "21"


def test_custom_status_counts_as_pending_with_its_label() -> None:
    (ticket, *_) = recorded(TICKETS)
    c = ctx()
    c.status_labels[6] = "Waiting on Customer"
    p = parse.ticket_payload({**ticket, "status": 6}, c)
    assert p.status is TicketStatus.PENDING and p.raw_status == "Waiting on Customer"


def test_due_times_and_escalated_flags_become_sla_clocks() -> None:
    tickets = {t["id"]: t for t in recorded(TICKETS)}
    now = ts("2022-05-26T12:00:00Z")
    slas = {(s.metric): s for s in parse.sla_payloads(tickets[18], now)}
    first = slas["first_reply_time"]
    assert first.state is SlaState.BREACHED  # fr_escalated
    assert first.due_at == ts("2022-05-26T05:25:35Z")
    assert first.target_s == ts("2022-05-26T05:25:35Z") - ts("2020-10-22T02:37:13Z")
    assert slas["total_resolution_time"].state is SlaState.BREACHED  # is_escalated
    quiet = {**tickets[18], "fr_escalated": False, "is_escalated": False}
    before = ts("2020-10-22T03:00:00Z")
    assert {s.state for s in parse.sla_payloads(quiet, before)} == {SlaState.ACTIVE}
    pending = {s.metric: s.state for s in parse.sla_payloads(tickets[22], before)}
    assert pending["first_reply_time"] is SlaState.FULFILLED  # it has a first response
    assert pending["total_resolution_time"] is SlaState.PAUSED  # pending stops the clock
    done = parse.sla_payloads(tickets[21], now)
    assert {s.state for s in done} == {SlaState.FULFILLED}


def test_groups_and_agents() -> None:
    c = ctx()
    queues = parse.group_payloads(recorded("GET_api_v2_groups.json"), c)
    assert len(queues) == 9 and all(q.queue_id.startswith("fd:") for q in queues)
    agents_raw = recorded("GET_api_v2_agents.json")
    assert all("group_ids" not in a for a in agents_raw)  # the list does not say: ask the groups
    gid = recorded("GET_api_v2_groups.json")[0]["id"]
    members = {gid: [agents_raw[0]["id"]]}
    agents = parse.agent_payloads(agents_raw, members, c)
    assert len(agents) == 13
    assert agents[0].queue_ids == (f"fd:{gid}",) and agents[0].name == "Customer Service"


def test_available_is_round_robin_not_presence() -> None:
    agents = recorded("GET_api_v2_agents.json")
    never = agents[0]
    assert parse.agent_presence(never, ts("2023-01-01T00:00:00Z"), 1800) == (
        AgentState.OFFLINE,
        "never active",
    )
    active = {**never, "last_active_at": "2023-01-01T00:00:00Z"}
    now = ts("2023-01-01T00:10:00Z")
    assert parse.agent_presence({**active, "available": True}, now, 1800) == (
        AgentState.AVAILABLE,
        "taking assignments",
    )
    assert parse.agent_presence({**active, "available": False}, now, 1800) == (
        AgentState.AWAY,
        "paused",
    )
    assert parse.agent_presence(active, now + 3600, 1800)[0] is AgentState.OFFLINE


def test_satisfaction_ratings_and_surveys() -> None:
    (rating,) = recorded("GET_api_v2_surveys_satisfaction_ratings.json")
    assert parse.rating_score(rating) == "good"  # 103: extremely happy
    assert parse.rating_score({**rating, "ratings": {"default_question": 100}}) is None
    assert parse.rating_score({**rating, "ratings": {"default_question": -102}}) == "bad"
    surveys = recorded("GET_api_v2_surveys.json")
    scale = surveys[0]["questions"][0]["accepted_ratings"]
    assert max(scale) > parse.GOOD_RATING > min(scale)
    # no question of any survey is answered 0–10: Freshdesk's ratings are a happiness
    # scale (103 extremely happy … -103), CSAT, never NPS's likelihood to recommend
    answers = {r for s in surveys for q in s["questions"] for r in q["accepted_ratings"]}
    assert answers and not answers <= set(range(11))
    assert all(abs(v) >= 100 for v in rating["ratings"].values())


def test_sla_policies_roles_and_conversations() -> None:
    policies = recorded("GET_api_v2_sla_policies.json")
    assert parse.sla_policy_count(policies) == sum(1 for p in policies if p["active"])
    assert policies[0]["sla_target"]["priority_4"]["respond_within"] == 900  # seconds
    roles = {r["name"] for r in recorded("GET_api_v2_roles.json")}
    assert {"Agent", "Supervisor"} <= roles
    notes = recorded("GET_api_v2_tickets_22_conversations.json")
    assert [n["private"] for n in notes] == [False, True]
    incoming = recorded("GET_api_v2_tickets_23_conversations.json")
    assert any(n["incoming"] for n in incoming)
