"""The fake Zendesk speaks the recorded wire format and misbehaves on demand."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.zendesk import FakeZendesk, iso, run_simulated
from supervisor_tui.model import (
    AgentState,
    AgentStateChanged,
    AgentUpserted,
    Channel,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    NewEvent,
    QueueUpserted,
    SlaChanged,
    SlaState,
    TicketUpserted,
)

from .conftest import EPOCH, FakeClock

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "zendesk"
UNTIL_S = 4 * 3600.0
AUTH = ("bot@example.com/token", "fake-token")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
GROUPS = [360_000_000_000 + i for i in range(1, 6)]


@dataclass
class Floor:
    fake: FakeZendesk
    client: httpx.AsyncClient
    clock: FakeClock
    events: list[NewEvent]

    def payloads(self, kind: type[Any]) -> list[Any]:
        return [e.payload for e in self.events if isinstance(e.payload, kind)]

    def chat_contacts(self) -> set[str]:
        return {p.contact_id for p in self.payloads(ContactOffered) if p.channel is Channel.CHAT}

    def last_tickets(self) -> dict[int, TicketUpserted]:
        return {int(p.ticket_id): p for p in self.payloads(TicketUpserted)}


@pytest.fixture
async def floor() -> AsyncIterator[Floor]:
    sim = FloorSimulation(SimOptions(seed=3, agents=20, queues=5, speed=None), EPOCH)
    events = list(sim.advance(UNTIL_S))
    clock = FakeClock(EPOCH + UNTIL_S + 120)  # every change is older than the export lag
    fake = FakeZendesk(clock=clock, oauth_token="oauth-secret")
    fake.feed(events)
    base = await fake.start()
    async with httpx.AsyncClient(base_url=base, auth=AUTH) as client:
        yield Floor(fake, client, clock, events)
    await fake.stop()


async def drain_export(floor: Floor, first: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Page the cursor export to end_of_stream, staying under its 10 requests a minute."""
    tickets: list[Any] = []
    params = first
    while True:
        floor.clock.advance(7)
        r = await floor.client.get("/api/v2/incremental/tickets/cursor.json", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        tickets += body["tickets"]
        if body["end_of_stream"]:
            return tickets, body
        params = {"cursor": body["after_cursor"], "per_page": params.get("per_page", 1000)}


async def test_lists_end_on_has_more_false_while_links_next_stays_a_url(floor: Floor) -> None:
    pages, url = [], "/api/v2/groups.json?page[size]=2"
    while True:
        body = (await floor.client.get(url)).json()
        pages.append(body)
        if not body["meta"]["has_more"]:
            break
        url = body["links"]["next"]
    assert [len(p["groups"]) for p in pages] == [2, 2, 1]
    assert pages[-1]["links"]["next"].startswith(floor.fake.base_url)
    groups = [g for p in pages for g in p["groups"]]
    assert [g["id"] for g in groups] == GROUPS
    assert [g["name"] for g in groups] == [q.name for q in floor.payloads(QueueUpserted)]

    users: list[Any] = []
    params: dict[str, Any] = {"role[]": ["agent", "admin"], "page[size]": 5}
    while True:
        body = (await floor.client.get("/api/v2/users.json", params=params)).json()
        users += body["users"]
        if not body["meta"]["has_more"]:
            assert body["links"]["next"] is not None
            break
        params = {**params, "page[after]": body["meta"]["after_cursor"]}
    agents = floor.payloads(AgentUpserted)
    assert [u["id"] for u in users] == [370_000_000_000 + i for i in range(1, 21)]
    assert [u["name"] for u in users] == [a.name for a in agents]
    assert all(u["role"] == "agent" and u["email"].isascii() for u in users)
    assert len({u["email"] for u in users}) == 20

    body = (await floor.client.get("/api/v2/group_memberships.json?page[size]=100")).json()
    assert body["meta"]["has_more"] is False
    got = {(m["user_id"], m["group_id"]) for m in body["group_memberships"]}
    queue_group = {
        q.queue_id: g for q, g in zip(floor.payloads(QueueUpserted), GROUPS, strict=True)
    }
    want = {
        (370_000_000_000 + int(a.agent_id[1:]), queue_group[q]) for a in agents for q in a.queue_ids
    }
    assert got == want


async def test_offset_pagination_follows_next_page_to_null(floor: Floor) -> None:
    url: str | None = "/api/v2/groups.json?per_page=2"
    seen, counts = [], set()
    while url:
        body = (await floor.client.get(url)).json()
        seen += [g["id"] for g in body["groups"]]
        counts.add(body["count"])
        url = body["next_page"]
    assert seen == GROUPS
    assert counts == {5}
    assert body["previous_page"] is not None


async def test_export_returns_every_email_ticket_once_in_its_newest_state(floor: Floor) -> None:
    tickets, last = await drain_export(floor, {"start_time": 0, "per_page": 20})
    ids = [t["id"] for t in tickets]
    assert len(ids) == len(set(ids)) > 20
    assert last["after_cursor"] and last["before_cursor"] is None
    email = {t["id"]: t for t in tickets if t["via"]["channel"] == "email"}
    expected = floor.last_tickets()
    assert set(email) == set(expected)
    for ticket_id, payload in expected.items():
        ticket = email[ticket_id]
        assert ticket["status"] == payload.status.value
        assert ticket["updated_at"] == iso(payload.updated_at)
        assert ticket["priority"] == (payload.priority.value if payload.priority else None)
        assert ticket["via"]["source"]["from"]["name"] == payload.requester
        assert ticket["group_id"] in GROUPS
        assert set(payload.tags) <= set(ticket["tags"])
    order = [(t["generated_timestamp"], t["id"]) for t in tickets]
    assert order == sorted(order)


async def test_chat_contacts_become_messaging_tickets(floor: Floor) -> None:
    tickets, _ = await drain_export(floor, {"start_time": 0})
    messaging = {t["id"]: t for t in tickets if t["via"]["channel"] == "native_messaging"}
    chats = {p.contact_id for p in floor.payloads(ContactOffered) if p.channel is Channel.CHAT}
    assert set(messaging) == {900_000 + int(c[1:]) for c in chats}
    abandoned = {
        900_000 + int(p.contact_id[1:])
        for p in floor.payloads(ContactAbandoned)
        if p.contact_id in chats
    }
    assert abandoned
    for ticket_id in abandoned:
        assert messaging[ticket_id]["status"] == "closed"
        assert "missed_chat" in messaging[ticket_id]["tags"]
        assert messaging[ticket_id]["assignee_id"] is None
    ended = {
        900_000 + int(p.contact_id[1:])
        for p in floor.payloads(ContactEnded)
        if p.contact_id in chats
    }
    assert ended and all(messaging[i]["status"] == "solved" for i in ended)
    assert all(messaging[i]["assignee_id"] for i in ended)


async def test_export_lags_and_a_changed_ticket_comes_back_at_its_new_place(floor: Floor) -> None:
    _, last = await drain_export(floor, {"start_time": 0})
    cursor = last["after_cursor"]
    edited, deleted = sorted(floor.last_tickets())[:2]
    before = floor.fake.tickets[edited]["updated_at"]
    floor.fake.agent_edit(edited)
    floor.fake.delete_ticket(deleted)
    url = "/api/v2/incremental/tickets/cursor.json"
    fresh = (await floor.client.get(url, params={"cursor": cursor})).json()
    assert fresh["tickets"] == [] and fresh["end_of_stream"] is True  # younger than the lag
    assert fresh["after_cursor"] == cursor
    garbage = await floor.client.get(url, params={"cursor": "not a cursor"})
    assert garbage.status_code == 400
    floor.clock.advance(61)
    later = (await floor.client.get(url, params={"cursor": cursor})).json()
    assert [t["id"] for t in later["tickets"]] == [edited, deleted]
    assert later["tickets"][0]["updated_at"] > before
    assert later["tickets"][1]["status"] == "deleted"
    gone = await floor.client.get(f"/api/v2/tickets/{deleted}.json")
    assert gone.status_code == 404
    assert gone.json() == {"error": "RecordNotFound", "description": "Not found"}


async def test_the_eleventh_export_request_in_a_minute_is_refused(floor: Floor) -> None:
    url = "/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=1"
    for _ in range(10):
        assert (await floor.client.get(url)).status_code == 200
    refused = await floor.client.get(url)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == refused.headers["ratelimit-reset"]
    assert int(refused.headers["Retry-After"]) == 60 - int(floor.clock.now % 60)
    assert refused.json()["error"] == "APIRateLimitExceeded"
    assert (await floor.client.get("/api/v2/groups.json")).status_code == 200
    floor.clock.advance(60)
    assert (await floor.client.get(url)).status_code == 200


async def test_rate_limit_headers_count_down_and_refuse_past_the_limit(floor: Floor) -> None:
    first = await floor.client.get("/api/v2/groups.json")
    second = await floor.client.get("/api/v2/groups.json")
    assert first.headers["X-Rate-Limit"] == first.headers["ratelimit-limit"] == "700"
    assert int(first.headers["X-Rate-Limit-Remaining"]) == 699
    assert int(second.headers["ratelimit-remaining"]) == 698
    assert int(second.headers["ratelimit-reset"]) == 60 - int(floor.clock.now % 60)

    tight = FakeZendesk(clock=floor.clock, rate_limit=3)
    base = await tight.start()
    try:
        async with httpx.AsyncClient(base_url=base, auth=AUTH) as client:
            left = [(await client.get("/api/v2/groups")).headers["X-Rate-Limit-Remaining"]]
            left += [(await client.get("/api/v2/groups")).headers["X-Rate-Limit-Remaining"]]
            left += [(await client.get("/api/v2/groups")).headers["X-Rate-Limit-Remaining"]]
            over = await client.get("/api/v2/groups")
            floor.clock.advance(60)
            after = await client.get("/api/v2/groups")
    finally:
        await tight.stop()
    assert left == ["2", "1", "0"]
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    assert "per minute exceeded" in over.text
    assert after.status_code == 200 and after.headers["X-Rate-Limit-Remaining"] == "2"


async def test_injected_faults_hit_the_next_matching_requests_only(floor: Floor) -> None:
    fake, client = floor.fake, floor.client
    good = await client.get("/api/v2/groups.json")

    fake.inject("/api/v2/groups", "500")
    assert (await client.get("/api/v2/users.json")).status_code == 200  # another prefix
    assert (await client.get("/api/v2/groups.json")).status_code == 500
    assert (await client.get("/api/v2/groups.json")).text == good.text

    fake.inject("/api/v2/groups", "malformed")
    malformed = await client.get("/api/v2/groups.json")
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        malformed.json()

    fake.inject("/api/v2/groups", "truncated")
    cut = await client.get("/api/v2/groups.json")
    assert cut.status_code == 200 and good.text.startswith(cut.text) and cut.text != good.text
    with pytest.raises(json.JSONDecodeError):
        cut.json()

    fake.inject("/api/v2/groups", "wrong_shape")
    shape = await client.get("/api/v2/groups.json")
    assert shape.status_code == 200 and "groups" not in shape.json()

    fake.inject("/api/v2/groups", "401")
    denied = await client.get("/api/v2/groups.json")
    assert denied.status_code == 401 and denied.json() == {"error": "Couldn't authenticate you"}

    fake.inject("/api/v2/groups", "429", count=2, retry_after=9)
    limited = [await client.get("/api/v2/groups.json") for _ in range(3)]
    assert [r.status_code for r in limited] == [429, 429, 200]
    assert limited[0].headers["Retry-After"] == "9"

    fake.inject("/api/v2/groups", "503", retry_after=4)
    unavailable = await client.get("/api/v2/groups.json")
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "4"

    fake.inject("/api/v2/groups", "slow", delay_s=0)
    assert (await client.get("/api/v2/groups.json")).text == good.text
    with pytest.raises(ValueError, match="unknown fault"):
        fake.inject("/api/v2/groups", "explode")


async def test_authentication(floor: Floor) -> None:
    base = floor.fake.base_url
    async with httpx.AsyncClient(base_url=base) as anonymous:
        missing = await anonymous.get("/api/v2/groups.json")
        wrong = await anonymous.get("/api/v2/groups.json", auth=(AUTH[0], "nope"))
        other = await anonymous.get("/api/v2/groups.json", auth=("eve@example.com/token", AUTH[1]))
        bearer = await anonymous.get(
            "/api/v2/groups.json", headers={"Authorization": "Bearer oauth-secret"}
        )
        bad_bearer = await anonymous.get(
            "/api/v2/groups.json", headers={"Authorization": "Bearer guess"}
        )
    for denied in (missing, wrong, other):
        assert denied.status_code == 401
        assert denied.json() == {"error": "Couldn't authenticate you"}
    assert bearer.status_code == 200
    assert bad_bearer.status_code == 401 and bad_bearer.json()["error"] == "invalid_token"
    unknown = await floor.client.get("/api/v2/nothing/here.json")
    assert unknown.status_code == 404 and unknown.json()["error"] == "InvalidEndpoint"
    assert ("GET", "/api/v2/nothing/here.json") in floor.fake.requests


async def test_safe_update_conflicts_when_stale_and_adds_a_private_note(floor: Floor) -> None:
    ticket_id = next(
        i for i, p in sorted(floor.last_tickets().items()) if p.status.value in ("new", "open")
    )
    url = f"/api/v2/tickets/{ticket_id}.json"
    ticket = (await floor.client.get(url)).json()["ticket"]
    comments_before = len(floor.fake.comments[ticket_id])
    stale = {
        "ticket": {
            "comment": {"body": "ack", "public": False},
            "additional_tags": ["supervisor-ack"],
            "safe_update": True,
            "updated_stamp": "2020-01-01T00:00:00Z",
        }
    }
    conflict = await floor.client.put(url, json=stale)
    assert conflict.status_code == 409 and conflict.json()["error"] == "UpdateConflict"
    assert len(floor.fake.comments[ticket_id]) == comments_before

    fresh = json.loads(json.dumps(stale))
    fresh["ticket"]["updated_stamp"] = ticket["updated_at"]
    done = await floor.client.put(url, json=fresh)
    assert done.status_code == 200, done.text
    body = done.json()
    assert "supervisor-ack" in body["ticket"]["tags"]
    assert body["ticket"]["updated_at"] > ticket["updated_at"]
    kinds = {e["type"] for e in body["audit"]["events"]}
    assert kinds == {"Comment", "Change"}
    note = next(e for e in body["audit"]["events"] if e["type"] == "Comment")
    assert note["audit_id"] == body["audit"]["id"] and note["public"] is False
    assert floor.fake.comments[ticket_id][-1]["public"] is False
    assert floor.fake.tickets[ticket_id]["updated_at"] == body["ticket"]["updated_at"]

    newest = (await floor.client.get(f"{url[:-5]}/comments.json?sort_order=desc")).json()
    assert newest["comments"][0]["body"] == "ack" and newest["comments"][0]["public"] is False
    assert newest["count"] == comments_before + 1
    again = await floor.client.put(url, json=fresh)  # the same stamp is stale now
    assert again.status_code == 409

    tags_url = f"{url[:-5]}/tags.json"
    stamp = body["ticket"]["updated_at"]
    stale_tags = {"tags": ["escalated"], "safe_update": True, "updated_stamp": ticket["updated_at"]}
    assert (await floor.client.put(tags_url, json=stale_tags)).status_code == 409
    added = await floor.client.put(tags_url, json={**stale_tags, "updated_stamp": stamp})
    assert added.status_code == 200
    assert {"escalated", "supervisor-ack"} <= set(added.json()["tags"])
    assert floor.fake.tickets[ticket_id]["updated_at"] > stamp

    missing = await floor.client.put("/api/v2/tickets/9223372036854775807.json", json=fresh)
    assert missing.status_code == 404
    recorded = CONFORMANCE / "PUT_api_v2_tickets_TICKETID__404.json"
    if recorded.exists():
        assert missing.json() == json.loads(recorded.read_text())


async def test_talk_calls_legs_queue_and_agents(floor: Floor) -> None:
    voice = {p.contact_id for p in floor.payloads(ContactOffered) if p.channel is Channel.VOICE}
    ended = {p.contact_id for p in floor.payloads(ContactEnded) if p.contact_id in voice}
    abandoned = {p.contact_id for p in floor.payloads(ContactAbandoned) if p.contact_id in voice}
    stats = "/api/v2/channels/voice/stats"
    body = (await floor.client.get(f"{stats}/incremental/calls.json?start_time=0")).json()
    assert set(body) == {"calls", "next_page", "count", "end_time"}
    assert body["count"] == len(body["calls"]) and body["next_page"].startswith("http")
    calls = {c["id"]: c for c in body["calls"]}
    assert set(calls) == {380_000_000_000 + int(c[1:]) for c in ended | abandoned}
    for contact in ended:
        call = calls[380_000_000_000 + int(contact[1:])]
        assert call["completion_status"] == "completed" and call["direction"] == "inbound"
        assert call["agent_id"] in floor.fake.users and call["talk_time"] > 0
        assert call["call_group_id"] in GROUPS[:2]
    for contact in abandoned:
        call = calls[380_000_000_000 + int(contact[1:])]
        assert call["completion_status"] == "abandoned_in_queue" and call["agent_id"] is None
    later = (await floor.client.get(body["next_page"])).json()
    assert later["end_time"] == body["end_time"]  # the last second comes back: stop on count

    legs = (await floor.client.get(f"{stats}/incremental/legs.json?start_time=0")).json()["legs"]
    assert {leg["call_id"] for leg in legs} == set(calls)
    assert sum(leg["type"] == "agent" for leg in legs) == len(ended)

    whole = (await floor.client.get(f"{stats}/current_queue_activity.json")).json()
    activity = whole["current_queue_activity"]
    per_group = [
        (await floor.client.get(f"{stats}/current_queue_activity.json?group_id={g}")).json()
        for g in GROUPS[:2]
    ]
    waiting = [p["current_queue_activity"]["calls_waiting"] for p in per_group]
    assert activity["calls_waiting"] == sum(waiting)
    assert activity["longest_wait_time"] >= activity["average_wait_time"] >= 0

    rows = (await floor.client.get(f"{stats}/agents_activity.json")).json()
    assert rows["count"] == 20 and rows["next_page"] is None
    states = {r["agent_id"]: (r["agent_state"], r["call_status"]) for r in rows["agents_activity"]}
    last_state = {p.agent_id: p for p in floor.payloads(AgentStateChanged)}
    for agent_id, change in last_state.items():
        state, call_status = states[370_000_000_000 + int(agent_id[1:])]
        want = {"available": "online", "busy": "online", "wrap_up": "online"}
        assert state == want.get(change.state.value, change.state.value)
        kind, _, contact = change.work.partition(" ")
        if change.state is AgentState.BUSY and kind == "call":
            assert call_status == "on_call"
        elif change.state is AgentState.WRAP_UP and contact in voice:
            assert call_status == "wrap_up"
        else:
            assert call_status is None
    assert "on_call" in {c for _, c in states.values()}
    billing = (await floor.client.get(f"{stats}/agents_activity?group_ids={GROUPS[3]}")).json()
    assert 0 < billing["count"] < 20


async def test_agent_availabilities_follow_the_floor(floor: Floor) -> None:
    docs: list[Any] = []
    included: list[Any] = []
    params: dict[str, Any] = {"page[size]": 5}
    while True:
        body = (await floor.client.get("/api/v2/agent_availabilities", params=params)).json()
        docs += body["data"]
        included += body["included"]
        if not body["meta"]["has_more"]:
            break
        params = {"page[size]": 5, "page[after]": body["meta"]["after_cursor"]}
    assert len(docs) == 20
    items = {row["id"] for row in included if row["type"] == "work_items"}
    last_state = {p.agent_id: p for p in floor.payloads(AgentStateChanged)}
    for doc in docs:
        change = last_state[f"a{doc['attributes']['agent_id'] - 370_000_000_000:04d}"]
        status = doc["attributes"]["agent_status"]
        want = {AgentState.AWAY: "away", AgentState.OFFLINE: "offline"}.get(change.state, "online")
        if want == "away" and change.reason in ("Break", "Lunch"):
            # a break is a custom unified status: its name says which
            assert (status["name"], status["id"]) == (
                change.reason,
                {"Break": 101, "Lunch": 102}[change.reason],
            )
        else:
            assert status["name"] == want
            assert status["id"] == {"offline": 2, "online": 3, "away": 4}[want]
        mine = [i for i in items if i.startswith(doc["id"] + "|")]
        assert len(mine) == (1 if change.state is AgentState.BUSY else 0)
    assert {row["attributes"]["name"] for row in included if row["type"] == "channels"} == {
        "support",
        "messaging",
        "talk",
    }
    plain = FakeZendesk(clock=floor.clock, omnichannel=False)
    base = await plain.start()
    try:
        async with httpx.AsyncClient(base_url=base, auth=AUTH) as client:
            # no omnichannel routing: refused (the adapter reads 403 and 404 alike, as a
            # capability this account lacks)
            assert (await client.get("/api/v2/agent_availabilities")).status_code == 403
    finally:
        await plain.stop()


async def test_sla_policies_and_metric_events(floor: Floor) -> None:
    policies = (await floor.client.get("/api/v2/slas/policies.json")).json()["sla_policies"]
    assert [p["id"] for p in policies] == [400_000_000_000 + k for k in range(1, 5)]
    url = "/api/v2/incremental/ticket_metric_events.json?start_time=0"
    body = (await floor.client.get(url)).json()
    events = body["ticket_metric_events"]
    assert body["count"] == len(events) and body["end_of_stream"] is True
    by_type: dict[str, list[Any]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
        assert event["metric"] == "reply_time" and event["instance_id"] == 1
    changes = floor.payloads(SlaChanged)
    assert len(by_type["apply_sla"]) == len({c.ticket_id for c in changes})
    sla_tickets = {int(c.ticket_id) for c in changes}
    fulfilled = [e for e in by_type["fulfill"] if e["ticket_id"] in sla_tickets]
    assert len(fulfilled) == sum(c.state is SlaState.FULFILLED for c in changes)
    # a chat's first reply is measured too (no SLA on it): that is when it was answered
    chat_replies = [e for e in by_type["fulfill"] if e["ticket_id"] >= 900_000]
    answered_chats = [
        p for p in floor.payloads(ContactAnswered) if p.contact_id in floor.chat_contacts()
    ]
    assert len(chat_replies) == len(answered_chats) > 0
    assert len(by_type["breach"]) == sum(c.state is SlaState.BREACHED for c in changes) > 0
    applied = {e["ticket_id"]: e for e in by_type["apply_sla"]}
    for event in by_type["apply_sla"]:
        sla = event["sla"]
        assert sla["policy"]["id"] in {p["id"] for p in policies}
        assert sla["target"] * 60 == sla["target_in_seconds"]
    for event in by_type["breach"]:
        assert applied[event["ticket_id"]]["time"] <= event["time"]
    times = [e["time"] for e in events]
    assert times == sorted(times)


async def test_ratings_statuses_and_view_counts(floor: Floor) -> None:
    received = (await floor.client.get("/api/v2/satisfaction_ratings.json?score=received")).json()
    scores = {r["ticket_id"]: r["score"] for r in received["satisfaction_ratings"]}
    rated = {i: p.satisfaction for i, p in floor.last_tickets().items() if p.satisfaction}
    assert scores == rated and rated
    everything = (await floor.client.get("/api/v2/satisfaction_ratings.json")).json()
    assert {r["score"] for r in everything["satisfaction_ratings"]} == {"good", "bad", "offered"}

    fields = (await floor.client.get("/api/v2/ticket_fields.json")).json()["ticket_fields"]
    statuses = next(f for f in fields if f["type"] == "custom_status")["custom_statuses"]
    listed = (await floor.client.get("/api/v2/custom_statuses.json")).json()["custom_statuses"]
    assert statuses == listed
    category = {s["id"]: s["status_category"] for s in statuses}
    for ticket in floor.fake.tickets.values():
        want = "solved" if ticket["status"] == "closed" else ticket["status"]
        assert category[ticket["custom_status_id"]] == want

    first = (await floor.client.get("/api/v2/views/77/count.json")).json()["view_count"]
    second = (await floor.client.get("/api/v2/views/77/count.json")).json()["view_count"]
    assert (first["value"], first["pretty"], first["fresh"]) == (None, "...", False)
    open_email = sum(
        1 for p in floor.last_tickets().values() if p.status.value in ("new", "open", "pending")
    )
    assert second["fresh"] is True and second["value"] == open_email > 0


def recorded(name: str) -> Any:
    path = CONFORMANCE / name
    if not path.exists():
        print(f"skipping {name}: no conformance recordings at {CONFORMANCE}")
        pytest.skip(f"recording {name} not found under {CONFORMANCE}")
    return json.loads(path.read_text())


def keys(rows: list[Any]) -> set[str]:
    return {k for row in rows for k in row}


async def test_recorded_shapes_are_a_subset_of_ours(floor: Floor) -> None:
    client = floor.client
    export = (
        await client.get("/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=3")
    ).json()
    for name in (
        "GET_api_v2_incremental_tickets_cursor__start_time_0__per_page_1.json",
        "GET_api_v2_incremental_tickets_cursor__start_time_0__end_of_stream.json",
        "GET_api_v2_incremental_tickets_cursor__cursor__per_page_1.json",
    ):
        real = recorded(name)
        assert set(real) <= set(export), name
        assert keys(real["tickets"]) <= keys(export["tickets"]), name
    assert keys(recorded("GET_api_v2_incremental_tickets_cursor__records.json")) <= keys(
        export["tickets"]
    )
    time_based = (await client.get("/api/v2/incremental/tickets.json?start_time=0")).json()
    assert set(recorded("GET_api_v2_incremental_tickets__start_time_0__per_page_1.json")) <= set(
        time_based
    )
    for ticket in export["tickets"]:
        assert ISO_Z.match(ticket["created_at"]) and ISO_Z.match(ticket["updated_at"])
        assert isinstance(ticket["id"], int) and isinstance(ticket["generated_timestamp"], int)
        assert type(ticket["via"]["source"]["from"]) is dict

    pairs = [
        ("GET_api_v2_groups__page_size_100.json", "/api/v2/groups.json?page[size]=100"),
        ("GET_api_v2_groups__offset.json", "/api/v2/groups.json"),
        (
            "GET_api_v2_group_memberships__page_size_100.json",
            "/api/v2/group_memberships.json?page[size]=100",
        ),
        ("GET_api_v2_users__page_size_100__staff_subset.json", "/api/v2/users.json?role=agent"),
        ("GET_api_v2_views_VIEWID_count__not_fresh.json", "/api/v2/views/5/count.json"),
        ("GET_api_v2_views_VIEWID_count__fresh.json", "/api/v2/views/5/count.json"),
    ]
    for name, url in pairs:
        real, ours = recorded(name), (await client.get(url)).json()
        assert set(real) <= set(ours), name
        for key, value in real.items():
            if isinstance(value, list):
                assert keys(value) <= keys(ours[key]), name
            elif isinstance(value, dict):
                assert set(value) <= set(ours[key]), name

    ticket_id = next(iter(floor.last_tickets()))
    stamp = floor.fake.tickets[ticket_id]["updated_at"]
    put = (
        await client.put(
            f"/api/v2/tickets/{ticket_id}.json",
            json={
                "ticket": {"comment": {"body": "x"}, "safe_update": True, "updated_stamp": stamp}
            },
        )
    ).json()
    real_put = recorded("PUT_api_v2_tickets_TICKETID.json")
    assert set(real_put["ticket"]) <= set(put["ticket"])
    assert set(real_put["audit"]) - {"metadata"} <= set(put["audit"])
    assert set(real_put["audit"]["metadata"]["system"]) <= set(put["audit"]["metadata"]["system"])

    records = [
        ("GET_api_v2_slas_policies__records.json", "/api/v2/slas/policies", "sla_policies"),
        (
            "GET_api_v2_satisfaction_ratings__records.json",
            "/api/v2/satisfaction_ratings",
            "satisfaction_ratings",
        ),
        (
            "GET_api_v2_ticket_fields__custom_status_field__records.json",
            "/api/v2/ticket_fields",
            "ticket_fields",
        ),
        (
            "GET_api_v2_channels_voice_stats_agents_activity__records.json",
            "/api/v2/channels/voice/stats/agents_activity",
            "agents_activity",
        ),
        (
            "GET_api_v2_channels_voice_stats_incremental_calls__records.json",
            "/api/v2/channels/voice/stats/incremental/calls?start_time=0",
            "calls",
        ),
        (
            "GET_api_v2_channels_voice_stats_incremental_legs__records.json",
            "/api/v2/channels/voice/stats/incremental/legs?start_time=0",
            "legs",
        ),
        (
            "GET_api_v2_incremental_ticket_metric_events__records.json",
            "/api/v2/incremental/ticket_metric_events?start_time=0",
            "ticket_metric_events",
        ),
    ]
    for name, url, key in records:
        real_rows, ours = recorded(name), (await client.get(url)).json()[key]
        assert ours, name
        if key == "ticket_metric_events":  # update_status carries status, the others do not
            for kind in {r["type"] for r in real_rows}:
                want = keys([r for r in real_rows if r["type"] == kind])
                assert want <= keys([r for r in ours if r["type"] == kind]), kind
            continue
        assert keys(real_rows) <= keys(ours), name
        if key == "ticket_fields":
            real_statuses = real_rows[0]["custom_statuses"]
            assert keys(real_statuses) <= keys(ours[0]["custom_statuses"])
        for row in ours:
            for field in ("created_at", "updated_at"):
                if field in row:
                    assert ISO_Z.match(row[field]), (name, row[field])


async def test_run_simulated_backfills_the_warm_up(floor: Floor) -> None:
    clock = FakeClock(EPOCH + 3600)
    fake = FakeZendesk(clock=clock)
    options = SimOptions(seed=3, agents=20, queues=5, speed=1.0, warmup_s=3600)
    task = asyncio.create_task(run_simulated(fake, options, epoch=EPOCH, clock=clock))
    for _ in range(100):
        await asyncio.sleep(0)
        if fake.tickets:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(fake.groups) == GROUPS
    assert len([u for u in fake.users.values() if u["role"] == "agent"]) == 20
    assert fake.tickets
    assert max(t["updated_at"] for t in fake.tickets.values()) <= iso(EPOCH + 3600)


async def test_paged_exports_give_what_one_page_gives_in_order_each_once(floor: Floor) -> None:
    """The exports page from an index kept as the floor is fed (a floor of 10,000 agents has
    hundreds of thousands of tickets): small pages, then a version published after the
    first pages, give every ticket's newest version and every metric event once, in the
    export's order, and never split a second between time-export pages."""

    async def metric_pages(per_page: int) -> list[Any]:
        out: list[Any] = []
        start = 0
        while True:
            floor.clock.advance(1)
            url = "/api/v2/incremental/ticket_metric_events.json"
            params = {"start_time": start, "per_page": per_page}
            body = (await floor.client.get(url, params=params)).json()
            page = body["ticket_metric_events"]
            out += page
            if body["end_of_stream"]:
                return out
            last_second = {e["time"] for e in page if e["time"] == page[-1]["time"]}
            assert len(last_second) == 1
            start = int(iso_seconds(page[-1]["time"])) + 1

    whole = (
        await floor.client.get(
            "/api/v2/incremental/ticket_metric_events.json", params={"start_time": 0}
        )
    ).json()["ticket_metric_events"]
    paged = await metric_pages(7)
    assert [e["id"] for e in paged] == [e["id"] for e in whole]
    assert [(e["time"], e["id"]) for e in whole] == sorted((e["time"], e["id"]) for e in whole)

    first, _body = await drain_export(floor, {"start_time": 0, "per_page": 1000})
    small, end = await drain_export(floor, {"start_time": 0, "per_page": 3})
    assert [t["id"] for t in small] == [t["id"] for t in first]
    assert len({t["id"] for t in small}) == len(small) == len(floor.fake.tickets)
    order = [(t["generated_timestamp"], t["id"]) for t in small]
    assert order == sorted(order)
    assert all(t == floor.fake.tickets[t["id"]] for t in small)  # each one's newest
    edited = small[0]["id"]
    floor.fake.agent_edit(edited)
    floor.clock.advance(61)
    later, _end = await drain_export(floor, {"cursor": end["after_cursor"], "per_page": 3})
    assert [t["id"] for t in later] == [edited]
    assert later[0] == floor.fake.tickets[edited]


def iso_seconds(text: str) -> float:
    from supervisor_tui.fakes.common import parse_iso

    return parse_iso(text)


async def test_the_high_volume_add_on_lets_thirty_export_requests_a_minute(floor: Floor) -> None:
    floor.fake.high_volume = True
    url = "/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=1"
    for _ in range(30):
        answer = await floor.client.get(url)
        assert answer.status_code == 200
    assert "total=30" in answer.headers["Zendesk-RateLimit-incremental-exports"]
    assert (await floor.client.get(url)).status_code == 429
