"""The Zendesk parsers against real recorded responses (read in place from ../shared).

The recordings are not ours to copy, so they stay where they are; these tests skip, with
the reason printed, only on a machine where that folder is absent.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from supervisor_tui.adapters.zendesk import parse
from supervisor_tui.adapters.zendesk.adapter import verify_signature
from supervisor_tui.model import AgentState, Channel, TicketDeleted, TicketStatus, TicketUpserted

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = Path(
    os.environ.get("SUPERVISOR_TUI_CONFORMANCE", ROOT.parent / "shared" / "conformance")
)
ZENDESK = CONFORMANCE / "zendesk"

pytestmark = pytest.mark.skipif(
    not ZENDESK.is_dir(), reason=f"no recorded Zendesk responses at {ZENDESK}"
)


def recorded(name: str) -> Any:
    return json.loads((ZENDESK / name).read_text(encoding="utf-8"))


def ctx() -> parse.Context:
    field = recorded("GET_api_v2_ticket_fields__custom_status_field__records.json")[0]
    return parse.Context(source="zd", custom_statuses=parse.custom_statuses(field))


def test_every_recording_is_read_by_some_test() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    names = sorted(p.name for p in ZENDESK.glob("*.json"))
    assert len(names) >= 20
    unread = [n for n in names if n not in source]
    assert unread == [], f"recordings no test reads: {unread}"


def test_cursor_export_to_end_of_stream() -> None:
    body = recorded("GET_api_v2_incremental_tickets_cursor__start_time_0__end_of_stream.json")
    assert body["end_of_stream"] is True and body["after_cursor"]  # resume point kept
    payloads = [parse.ticket_payload(t, ctx()) for t in body["tickets"]]
    assert len(payloads) == 87
    deleted = [p for p in payloads if isinstance(p, TicketDeleted)]
    assert [p.ticket_id for p in deleted] == ["4034"]
    statuses = Counter(p.status for p in payloads if isinstance(p, TicketUpserted))
    assert statuses == {TicketStatus.NEW: 77, TicketStatus.PENDING: 8, TicketStatus.OPEN: 1}
    first = payloads[0]
    assert isinstance(first, TicketUpserted)
    assert (
        first.created_at == pytest.approx(parse.ts(body["tickets"][0]["created_at"]))
        and first.created_at > 1.6e9
    )


@pytest.mark.parametrize(
    "name",
    [
        "GET_api_v2_incremental_tickets_cursor__start_time_0__per_page_1.json",
        "GET_api_v2_incremental_tickets_cursor__cursor__per_page_1.json",
    ],
)
def test_cursor_export_pages(name: str) -> None:
    body = recorded(name)
    assert set(body) >= {"tickets", "after_cursor", "after_url", "end_of_stream"}
    assert body["end_of_stream"] is False and body["after_cursor"]
    (ticket,) = [parse.ticket_payload(t, ctx()) for t in body["tickets"]]
    assert isinstance(ticket, TicketUpserted) and ticket.channel is Channel.OTHER  # via api


def test_time_based_export_is_read_too() -> None:
    body = recorded("GET_api_v2_incremental_tickets__start_time_0__per_page_1.json")
    payloads = [parse.ticket_payload(t, ctx()) for t in body["tickets"]]
    assert len(payloads) == 7 and body["end_time"] == 1695052664


def test_airbyte_tickets_channels_ratings_and_custom_status_labels() -> None:
    records = recorded("GET_api_v2_incremental_tickets_cursor__records.json")
    by_id = {p.ticket_id: p for p in (parse.ticket_payload(t, ctx()) for t in records)}
    voicemail = by_id["145"]
    assert isinstance(voicemail, TicketUpserted)
    assert voicemail.channel is Channel.VOICE
    assert voicemail.requester == "Caller +1 (555) 010-0145"
    assert voicemail.raw_status == "New"  # the agents' label of custom status 4044356
    assert voicemail.satisfaction is None  # "offered" is not a rating
    closed = by_id["1"]
    assert isinstance(closed, TicketUpserted) and closed.status is TicketStatus.CLOSED
    assert closed.queue_id == "zd:360003074836" and closed.assignee_id == "zd:360786799676"
    assert closed.solved_at is not None
    web = by_id["146"]
    assert isinstance(web, TicketUpserted) and web.channel is Channel.WEB
    assert web.priority is not None and web.priority.value == "low"


def test_custom_status_field() -> None:
    field = recorded("GET_api_v2_ticket_fields__custom_status_field__records.json")[0]
    statuses = parse.custom_statuses(field)
    assert statuses[4044356] == (TicketStatus.NEW, "New")
    assert {category for category, _ in statuses.values()} >= {
        TicketStatus.NEW,
        TicketStatus.OPEN,
        TicketStatus.PENDING,
        TicketStatus.SOLVED,
    }


def test_groups_memberships_and_staff() -> None:
    page = recorded("GET_api_v2_groups__page_size_100.json")
    # the recorded last page says has_more false and still links a next page
    assert page["meta"]["has_more"] is False and page["links"]["next"]
    c = ctx()
    queues = parse.group_payloads(page["groups"], c)
    assert len(queues) == 8
    assert all(q.queue_id.startswith("zd:") for q in queues)
    offset = recorded("GET_api_v2_groups__offset.json")
    assert {g["id"] for g in offset["groups"]} <= {g["id"] for g in page["groups"]}
    assert "next_page" in offset and "count" in offset
    users = recorded("GET_api_v2_users__page_size_100__staff_subset.json")["users"]
    members = recorded("GET_api_v2_group_memberships__page_size_100.json")["group_memberships"]
    agents = parse.agent_payloads(users, members, c)
    assert len(agents) == 3
    admin = next(a for a in agents if a.name == "Admin One")
    assert admin.queue_ids and all(q.startswith("zd:") for q in admin.queue_ids)


def test_group_channel_inference_and_config_override() -> None:
    assert parse.group_channel("Voice · Sales") is Channel.VOICE
    assert parse.group_channel("Live chat") is Channel.CHAT
    assert parse.group_channel("Billing") is Channel.EMAIL
    assert parse.group_channel("Tier 1", {"Tier 1": "voice"}) is Channel.VOICE


def test_talk_agents_activity_row() -> None:
    (row,) = recorded("GET_api_v2_channels_voice_stats_agents_activity__records.json")
    assert parse.talk_state(row) == (AgentState.OFFLINE, "offline")
    assert parse.talk_state({**row, "agent_state": "online", "call_status": "on_call"}) == (
        AgentState.BUSY,
        "online/on_call",
    )
    assert parse.talk_state({**row, "agent_state": "online", "call_status": "wrap_up"})[0] is (
        AgentState.WRAP_UP
    )
    assert parse.talk_state({**row, "agent_state": "transfers_only"})[0] is AgentState.AWAY


def test_talk_calls_and_legs() -> None:
    calls = recorded("GET_api_v2_channels_voice_stats_incremental_calls__records.json")
    # both recorded calls are outbound: not queue contacts
    assert [parse.call_payloads(c, ctx()) for c in calls] == [[], []]
    inbound = {**calls[1], "direction": "inbound", "call_group_id": 5, "agent_id": 9}
    inbound.update(wait_time=12, talk_time=100, wrap_up_time=20)
    kinds = [p.KIND for p in parse.call_payloads(inbound, ctx())]
    assert kinds == ["contact.offered", "contact.answered", "contact.ended"]
    abandoned = {**inbound, "completion_status": "abandoned_in_queue", "wait_time": 40}
    kinds = [p.KIND for p in parse.call_payloads(abandoned, ctx())]
    assert kinds == ["contact.offered", "contact.abandoned"]
    legs = recorded("GET_api_v2_channels_voice_stats_incremental_legs__records.json")
    by_type = {leg["type"]: leg for leg in legs}
    assert set(by_type) == {"agent", "customer"}
    ended = parse.leg_ended(by_type["agent"], ctx(), "zd:5")
    assert ended is not None and ended.agent_id == "zd:360786799676"
    assert ended.contact_id == f"zd:call:{by_type['agent']['call_id']}"
    assert parse.leg_ended(by_type["customer"], ctx(), "zd:5") is None


def test_metric_events_need_a_target_before_they_count() -> None:
    events = recorded("GET_api_v2_incremental_ticket_metric_events__records.json")
    clocks: dict[tuple[str, str, int], parse.SlaClock] = {}
    assert [parse.sla_payload(e, clocks) for e in events] == [None, None, None]
    # the documented apply_sla shape (target in minutes), then a breach at its due time
    base = {k: events[0][k] for k in ("ticket_id", "instance_id")}
    applied = parse.sla_payload(
        {
            **base,
            "id": 1,
            "metric": "reply_time",
            "type": "apply_sla",
            "time": "2023-05-06T20:00:00Z",
            "sla": {"target": 60, "business_hours": False, "policy": {"id": 3, "title": "VIP"}},
        },
        clocks,
    )
    assert applied is not None and applied.metric == "first_reply_time"
    assert applied.target_s == 3600 and applied.policy == "VIP"
    assert applied.due_at == parse.ts("2023-05-06T21:00:00Z")
    breach = parse.sla_payload(
        {**base, "id": 2, "metric": "reply_time", "type": "breach", "time": "2023-05-06T21:00:00Z"},
        clocks,
    )
    assert breach is not None and breach.state.value == "breached"


def test_satisfaction_ratings_offered_are_not_ratings() -> None:
    ratings = recorded("GET_api_v2_satisfaction_ratings__records.json")
    assert parse.rating_scores(ratings) == {}
    assert parse.rating_scores([{**ratings[0], "score": "bad"}]) == {"146": "bad"}
    # a rating's score is a word (offered, unoffered, good, bad): CSAT, never a 0–10 NPS
    assert all(isinstance(r["score"], str) for r in ratings)


def test_sla_policies() -> None:
    policies = recorded("GET_api_v2_slas_policies__records.json")
    assert parse.sla_policy_count(policies) == 2
    metric = policies[0]["policy_metrics"][0]
    assert metric["target"] * 60 == metric["target_in_seconds"]  # minutes, as documented


def test_view_count_not_fresh_is_unknown_not_zero() -> None:
    assert parse.view_count(recorded("GET_api_v2_views_VIEWID_count__not_fresh.json")) is None
    assert parse.view_count(recorded("GET_api_v2_views_VIEWID_count__fresh.json")) == 1182


def test_rest_ticket_audit_and_update_shapes() -> None:
    (ticket,) = recorded("GET_api_v2_tickets__page_size_1.json")["tickets"]
    assert isinstance(parse.ticket_payload(ticket, ctx()), TicketUpserted)
    audit = recorded("GET_api_v2_ticket_audits__page_size_1.json")["audits"][0]
    assert {e["type"] for e in audit["events"]} >= {"Comment", "Create"}
    update = recorded("PUT_api_v2_tickets_TICKETID.json")
    assert parse.ts(update["ticket"]["updated_at"]) > 0  # the new stamp for the next write
    assert recorded("PUT_api_v2_tickets_TICKETID__404.json")["error"] == "RecordNotFound"


def test_webhook_headers_are_the_ones_we_check() -> None:
    attempts = recorded("GET_api_v2_webhooks_WEBHOOKID_invocations_INVOCATIONID_attempts.json")
    request = attempts["attempts"][0]["request"]
    headers = {h["key"].lower(): h["value"] for h in request["headers"]}
    stamp = headers["x-zendesk-webhook-signature-timestamp"]
    assert parse.ts(stamp) > 0
    assert headers["x-zendesk-webhook-signature"]
    body = (
        request["payload"]
        if isinstance(request["payload"], str)
        else json.dumps(request["payload"])
    )
    # the secret was not recorded: a guessed one must fail, as must an empty signature
    assert not verify_signature(
        "not-the-secret", stamp, body.encode(), headers["x-zendesk-webhook-signature"]
    )
    assert not verify_signature("x", stamp, body.encode(), "")
    invocations = recorded("GET_api_v2_webhooks_WEBHOOKID_invocations.json")
    assert "invocations" in invocations and "meta" in invocations


def test_ticket_metrics_unmeasured_times_stay_unknown() -> None:
    records = recorded("GET_api_v2_ticket_metrics__records.json")
    times = [parse.ticket_times(r) for r in records]
    unmeasured = next(t for t in times if t.ticket_id == "161")
    assert unmeasured.first_reply_s is None and unmeasured.full_resolution_s is None
    assert (
        parse.ticket_times(
            {**records[0], "reply_time_in_minutes": {"calendar": 3, "business": 1}}
        ).first_reply_s
        == 180
    )


def test_metric_sets_carry_replies_and_reopens_for_fcr() -> None:
    """The export's ``include=metric_sets`` sideload holds the same records as
    ``/ticket_metrics``: ticket 160 took two replies and was reopened once, so it was not
    solved at first contact; 161 has none yet."""
    records = recorded("GET_api_v2_ticket_metrics__records.json")
    metrics = parse.metric_sets({"tickets": [], "metric_sets": records})
    assert (metrics["160"].replies, metrics["160"].reopens) == (2, 1)
    (ticket,) = recorded("GET_api_v2_tickets__page_size_1.json")["tickets"]
    payload = parse.ticket_payload({**ticket, "id": 160}, ctx())
    assert isinstance(payload, TicketUpserted) and payload.agent_replies == 0
    told = parse.with_replies(payload, metrics["160"])
    assert (told.agent_replies, told.reopened) == (2, True)
    assert parse.with_replies(payload, metrics.get("999")) is payload  # not said: unknown
    assert parse.metric_sets({"metric_sets": [{"replies": 3}]}) == {}  # no ticket: left out


def test_the_fakes_metric_sets_have_the_recorded_shape() -> None:
    from supervisor_tui.fakes.zendesk import FakeZendesk, _Ticket

    fake = FakeZendesk(email="bot@example.com", token="t")
    state = _Ticket(
        id=7, channel="email", subject="s", requester_id=1, requester_name="r",
        created_at=1.7e9, updated_at=1.7e9 + 60, replies=1, reopens=0,
    )  # fmt: skip
    record = recorded("GET_api_v2_ticket_metrics__records.json")[1]
    made = fake._metric_set(state)
    assert set(record) <= set(made) | {"assignee_updated_at", "initially_assigned_at",
                                       "assigned_at", "solved_at"}  # fmt: skip
    for key, value in record.items():
        if key in made:
            assert type(made[key]) is type(value) or made[key] is None or value is None, key
    times = parse.ticket_times(made)
    assert (times.ticket_id, times.replies, times.reopens) == ("7", 1, 0)
