"""The fake Freshdesk speaks the recorded wire format and misbehaves on demand."""

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
from aiohttp import web

from supervisor_tui.adapters.simulator import SLA_TARGET_S, FloorSimulation, SimOptions
from supervisor_tui.fakes.freshdesk import FakeFreshdesk, iso, run_simulated
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

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "freshdesk"
UNTIL_S = 4 * 3600.0
AUTH = ("fake-key", "X")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LINK = re.compile(r'^<(http://127\.0\.0\.1:\d+/api/v2/[^>]+)>; rel="next"$')
GROUPS = [150_000_000_000 + i for i in range(1, 6)]
EVERYTHING = {"updated_since": "2000-01-01T00:00:00Z"}
STATUS = {"new": 2, "open": 2, "pending": 3, "hold": 7, "solved": 4, "closed": 5}
PRIORITY = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
PAGE_300 = {
    "description": "Validation failed",
    "errors": [
        {
            "field": "page",
            "message": "You cannot access tickets beyond the 300th page. "
            "Please provide a smaller page number.",
            "code": "invalid_value",
        }
    ],
}
STATS_KEYS = {
    "agent_responded_at",
    "requester_responded_at",
    "first_responded_at",
    "status_updated_at",
    "reopened_at",
    "resolved_at",
    "closed_at",
    "pending_since",
}


@dataclass
class Floor:
    fake: FakeFreshdesk
    client: httpx.AsyncClient
    clock: FakeClock
    events: list[NewEvent]

    def payloads(self, kind: type[Any]) -> list[Any]:
        return [e.payload for e in self.events if isinstance(e.payload, kind)]

    def contacts(self, channel: Channel) -> set[str]:
        return {p.contact_id for p in self.payloads(ContactOffered) if p.channel is channel}

    def last_tickets(self) -> dict[int, TicketUpserted]:
        return {int(p.ticket_id): p for p in self.payloads(TicketUpserted)}


@pytest.fixture
async def floor() -> AsyncIterator[Floor]:
    sim = FloorSimulation(SimOptions(seed=3, agents=20, queues=5, speed=None), EPOCH)
    events = list(sim.advance(UNTIL_S))
    clock = FakeClock(EPOCH + UNTIL_S + 120)
    fake = FakeFreshdesk(clock=clock, plan="enterprise")
    fake.feed(events)
    base = await fake.start()
    async with httpx.AsyncClient(base_url=base, auth=AUTH) as client:
        yield Floor(fake, client, clock, events)
    await fake.stop()


async def list_all(client: httpx.AsyncClient, params: dict[str, Any]) -> list[httpx.Response]:
    """Follow the Link header from the first page to the last."""
    pages = [await client.get("/api/v2/tickets", params=params)]
    while "Link" in pages[-1].headers:
        assert pages[-1].status_code == 200, pages[-1].text
        match = LINK.match(pages[-1].headers["Link"])
        assert match, pages[-1].headers["Link"]
        pages.append(await client.get(match[1]))
    assert pages[-1].status_code == 200, pages[-1].text
    return pages


async def test_ticket_list_pages_with_link_until_no_next(floor: Floor) -> None:
    params = {**EVERYTHING, "order_by": "updated_at", "order_type": "asc", "per_page": 100}
    pages = await list_all(floor.client, params)
    sizes = [len(p.json()) for p in pages]
    assert len(pages) > 3 and sizes[:-1] == [100] * (len(pages) - 1) and 0 < sizes[-1] <= 100
    next_url = pages[0].headers["Link"]
    assert "page=2" in next_url and "per_page=100" in next_url and "order_by=updated_at" in next_url
    tickets = [t for p in pages for t in p.json()]
    ids = [t["id"] for t in tickets]
    assert len(ids) == len(set(ids)) == len(floor.fake.tickets)
    order = [(t["updated_at"], t["id"]) for t in tickets]
    assert order == sorted(order)

    email = {t["id"]: t for t in tickets if t["source"] == 1}
    expected = floor.last_tickets()
    assert set(email) == set(expected)
    for ticket_id, payload in expected.items():
        ticket = email[ticket_id]
        assert ticket["status"] == STATUS[payload.status.value]
        assert ticket["priority"] == PRIORITY[payload.priority.value]
        assert ticket["updated_at"] >= iso(payload.updated_at)
        assert ticket["group_id"] in GROUPS
        assert ticket["is_escalated"] is payload.escalated
        assert set(payload.tags) <= set(ticket["tags"])
        if payload.status.value == "new":
            assert ticket["responder_id"] is None
        target = SLA_TARGET_S[payload.priority]
        assert ticket["due_by"] == iso(payload.created_at + 3 * target)
    breached = {
        int(p.ticket_id) for p in floor.payloads(SlaChanged) if p.state is SlaState.BREACHED
    }
    assert breached and {i for i, t in email.items() if t["fr_escalated"]} == breached

    default = await floor.client.get("/api/v2/tickets")
    assert len(default.json()) == 30  # per_page defaults to 30, newest created first
    created = [t["created_at"] for t in default.json()]
    assert created == sorted(created, reverse=True)


async def test_page_301_and_bad_parameters_are_refused(floor: Floor) -> None:
    last = await floor.client.get("/api/v2/tickets", params={**EVERYTHING, "page": 300})
    assert last.status_code == 200 and last.json() == [] and "Link" not in last.headers
    beyond = await floor.client.get("/api/v2/tickets", params={**EVERYTHING, "page": 301})
    assert beyond.status_code == 400 and beyond.json() == PAGE_300
    assert (await floor.client.get("/api/v2/groups", params={"page": 301})).status_code == 200

    for params in (
        {"per_page": 101},
        {"per_page": 0},
        {"page": "x"},
        {"order_by": "priority"},
        {"order_type": "up"},
        {"include": "stats,company"},
        {"filter": "mine"},
        {"updated_since": "yesterday"},
    ):
        bad = await floor.client.get("/api/v2/tickets", params=params)
        assert bad.status_code == 400, params
        body = bad.json()
        assert body["description"] == "Validation failed"
        assert body["errors"][0]["field"] == next(iter(params)), params


async def test_updated_since_filters_and_the_default_window_is_30_days(floor: Floor) -> None:
    stamps = sorted(t["updated_at"] for t in floor.fake.tickets.values())
    since = stamps[len(stamps) // 2]
    params = {"updated_since": since, "order_by": "updated_at", "order_type": "asc"}
    tickets = [
        t for p in await list_all(floor.client, {**params, "per_page": 100}) for t in p.json()
    ]
    assert len(tickets) == sum(1 for s in stamps if s >= since) < len(stamps)
    assert all(t["updated_at"] >= since for t in tickets)
    assert [t["updated_at"] for t in tickets] == sorted(t["updated_at"] for t in tickets)
    newest_first = await floor.client.get(
        "/api/v2/tickets", params={**params, "order_type": "desc", "per_page": 5}
    )
    assert [t["updated_at"] for t in newest_first.json()] == stamps[::-1][:5]

    floor.clock.advance(40 * 86_400)  # everything was created more than 30 days ago
    assert (await floor.client.get("/api/v2/tickets")).json() == []
    again = await floor.client.get("/api/v2/tickets", params={**params, "per_page": 100})
    assert len(again.json()) == min(100, len(tickets))


async def test_include_stats_adds_stats_and_costs_more_credits(floor: Floor) -> None:
    plain = await floor.client.get("/api/v2/tickets", params={**EVERYTHING, "per_page": 100})
    with_stats = await floor.client.get(
        "/api/v2/tickets", params={**EVERYTHING, "per_page": 100, "include": "stats"}
    )
    everything = await floor.client.get(
        "/api/v2/tickets",
        params={**EVERYTHING, "per_page": 1, "include": "stats,requester,description"},
    )
    assert plain.headers["X-RateLimit-Used-CurrentRequest"] == "1"
    assert with_stats.headers["X-RateLimit-Used-CurrentRequest"] == "3"
    assert everything.headers["X-RateLimit-Used-CurrentRequest"] == "7"
    assert plain.headers["X-RateLimit-Total"] == "700"
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in (plain, with_stats, everything)]
    assert remaining == [699, 696, 689]
    assert all("stats" not in t and "description" not in t for t in plain.json())
    [full] = everything.json()
    assert {"stats", "requester", "description", "description_text"} <= set(full)
    assert full["requester"]["id"] == full["requester_id"]

    replied = {i for i, p in floor.last_tickets().items() if p.agent_replies}
    for ticket in with_stats.json():
        stats = ticket["stats"]
        assert set(stats) == STATS_KEYS
        assert (stats["pending_since"] is not None) == (ticket["status"] == 3)
        if ticket["status"] in (4, 5):
            assert stats["resolved_at"] is not None
        if ticket["status"] == 5:
            assert stats["closed_at"] is not None
        if ticket["id"] in replied:
            assert stats["first_responded_at"] is not None
            assert stats["first_responded_at"] <= stats["agent_responded_at"]
    one = await floor.client.get(f"/api/v2/tickets/{full['id']}", params={"include": "stats"})
    assert one.headers["X-RateLimit-Used-CurrentRequest"] == "2"
    assert one.json()["stats"] == full["stats"] and "description_text" in one.json()


async def test_the_ticket_list_has_its_own_per_minute_limit() -> None:
    clock = FakeClock(EPOCH + 30)
    fake = FakeFreshdesk(clock=clock)  # growth: 200 credits, ticket list 20 a minute
    base = await fake.start()
    try:
        async with httpx.AsyncClient(base_url=base, auth=AUTH) as client:
            ok = [await client.get("/api/v2/tickets") for _ in range(20)]
            refused = await client.get("/api/v2/tickets")
            wait = 60 - int(clock.now % 60)
            other = await client.get("/api/v2/groups")
            clock.advance(wait)
            after = await client.get("/api/v2/tickets")
    finally:
        await fake.stop()
    assert {r.status_code for r in ok} == {200}
    assert ok[-1].headers["X-RateLimit-Remaining"] == "180"
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(wait)
    assert refused.json() == {"message": "You have exceeded the limit of requests per minute"}
    assert "X-RateLimit-Remaining" not in refused.headers
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "179"
    assert after.status_code == 200 and after.headers["X-RateLimit-Remaining"] == "199"


async def test_the_account_limit_counts_credits() -> None:
    clock = FakeClock(EPOCH)
    fake = FakeFreshdesk(clock=clock, plan="trial")  # 50 credits a minute
    base = await fake.start()
    try:
        async with httpx.AsyncClient(base_url=base, auth=AUTH) as client:
            stats = [await client.get("/api/v2/tickets?include=stats") for _ in range(16)]
            last = [await client.get("/api/v2/roles") for _ in range(2)]
            over = await client.get("/api/v2/roles")
    finally:
        await fake.stop()
    assert [r.headers["X-RateLimit-Remaining"] for r in stats][-2:] == ["5", "2"]
    assert [r.headers["X-RateLimit-Remaining"] for r in last] == ["1", "0"]
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    with pytest.raises(ValueError, match="unknown plan"):
        FakeFreshdesk(plan="free")


async def test_injected_faults_hit_the_next_matching_requests_only(floor: Floor) -> None:
    fake, client = floor.fake, floor.client
    good = await client.get("/api/v2/groups")

    fake.inject("/api/v2/groups", "500")
    assert (await client.get("/api/v2/agents")).status_code == 200  # another prefix
    assert (await client.get("/api/v2/groups")).status_code == 500
    assert (await client.get("/api/v2/groups")).text == good.text

    fake.inject("/api/v2/groups", "malformed")
    malformed = await client.get("/api/v2/groups")
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        malformed.json()

    fake.inject("/api/v2/groups", "truncated")
    cut = await client.get("/api/v2/groups")
    assert cut.status_code == 200 and good.text.startswith(cut.text) and cut.text != good.text
    with pytest.raises(json.JSONDecodeError):
        cut.json()

    fake.inject("/api/v2/groups", "wrong_shape")
    shape = await client.get("/api/v2/groups")
    assert shape.status_code == 200 and shape.json()["results"] == good.json()

    fake.inject("/api/v2/groups", "401")
    denied = await client.get("/api/v2/groups")
    assert denied.status_code == 401 and denied.json()["code"] == "invalid_credentials"

    fake.inject("/api/v2/groups", "429", count=2, retry_after=9)
    limited = [await client.get("/api/v2/groups") for _ in range(3)]
    assert [r.status_code for r in limited] == [429, 429, 200]
    assert limited[0].headers["Retry-After"] == "9"

    fake.inject("/api/v2/groups", "503", retry_after=4)
    unavailable = await client.get("/api/v2/groups")
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "4"

    fake.inject("/api/v2/groups", "slow", delay_s=0)
    assert (await client.get("/api/v2/groups")).text == good.text
    with pytest.raises(ValueError, match="unknown fault"):
        fake.inject("/api/v2/groups", "explode")


async def test_authentication(floor: Floor) -> None:
    async with httpx.AsyncClient(base_url=floor.fake.base_url) as anonymous:
        missing = await anonymous.get("/api/v2/tickets")
        wrong = await anonymous.get("/api/v2/tickets", auth=("not-the-key", "X"))
        garbage = await anonymous.get("/api/v2/tickets", headers={"Authorization": "Basic !!"})
        any_password = await anonymous.get("/api/v2/groups", auth=("fake-key", "whatever"))
    for denied in (missing, wrong, garbage):
        assert denied.status_code == 401
        assert denied.json() == {
            "code": "invalid_credentials",
            "message": "You have to be logged in to perform this action.",
        }
        assert denied.headers["X-RateLimit-Used-CurrentRequest"] == "1"
    assert any_password.status_code == 200
    unknown = await floor.client.get("/api/v2/nothing/here")
    assert unknown.status_code == 404 and unknown.content == b""
    assert (await floor.client.get("/api/v2/tickets/123456789")).status_code == 404
    assert ("GET", "/api/v2/nothing/here") in floor.fake.requests


async def test_put_replaces_the_tag_list(floor: Floor) -> None:
    complaint = next(i for i, p in floor.last_tickets().items() if "complaint" in p.tags)
    url = f"/api/v2/tickets/{complaint}"
    before = (await floor.client.get(url)).json()
    assert "complaint" in before["tags"]
    done = await floor.client.put(url, json={"tags": ["supervisor-ack", "vip"], "priority": 4})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["tags"] == ["supervisor-ack", "vip"] and body["priority"] == 4
    assert body["updated_at"] > before["updated_at"]
    assert floor.fake.tickets[complaint]["tags"] == ["supervisor-ack", "vip"]
    again = await floor.client.put(url, json={"tags": ["vip"]})
    assert again.json()["tags"] == ["vip"] and again.json()["updated_at"] > body["updated_at"]

    # the simulator re-sending the tag it already sent does not undo the replacement
    last = floor.last_tickets()[complaint]
    floor.fake.feed([floor.events[-1].model_copy(update={"payload": last})])
    assert floor.fake.tickets[complaint]["tags"] == ["vip"]

    for change, name in (
        ({"tags": "vip"}, "tags"),
        ({"status": 9}, "status"),
        ({"responder_id": 42}, "responder_id"),
        ({"subject": "x"}, "subject"),
    ):
        bad = await floor.client.put(url, json=change)
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == name
    closed = await floor.client.put(url, json={"status": 5})
    assert closed.json()["status"] == 5
    stats = (await floor.client.get(url, params={"include": "stats"})).json()["stats"]
    assert stats["closed_at"] == stats["status_updated_at"] == closed.json()["updated_at"]


async def test_a_private_note_is_added_and_listed(floor: Floor) -> None:
    ticket_id = next(i for i, p in floor.last_tickets().items() if p.agent_replies)
    url = f"/api/v2/tickets/{ticket_id}"
    before = (await floor.client.get(f"{url}/conversations")).json()
    updated = floor.fake.tickets[ticket_id]["updated_at"]
    made = await floor.client.post(
        f"{url}/notes", json={"body": "<p>Acked by <b>Lena</b>: calling back</p>", "private": True}
    )
    assert made.status_code == 201, made.text
    note = made.json()
    assert note["private"] is True and note["incoming"] is False
    assert note["body_text"] == "Acked by Lena: calling back"
    assert note["body"] == "<p>Acked by <b>Lena</b>: calling back</p>"
    assert note["ticket_id"] == ticket_id and note["source"] == 2 and note["category"] == 2
    after = (await floor.client.get(f"{url}/conversations")).json()
    assert [c["id"] for c in after] == [c["id"] for c in before] + [note["id"]]
    assert after[-1]["private"] is True and not any(c["private"] for c in before)
    assert floor.fake.notes[ticket_id][-1]["id"] == note["id"]
    assert floor.fake.tickets[ticket_id]["updated_at"] > updated

    public = await floor.client.post(f"{url}/notes", json={"body": "FYI", "private": False})
    assert public.status_code == 201 and public.json()["private"] is False
    missing = await floor.client.post(f"{url}/notes", json={"private": True})
    assert missing.status_code == 400 and missing.json()["errors"][0]["code"] == "missing_field"
    not_json = await floor.client.post(f"{url}/notes", content=b"{nope")
    assert not_json.status_code == 400


async def test_deleted_tickets_leave_the_list(floor: Floor) -> None:
    first, second = sorted(floor.last_tickets())[:2]
    floor.fake.delete_ticket(first)
    gone = await floor.client.delete(f"/api/v2/tickets/{second}")
    assert gone.status_code == 204
    listed = [
        t["id"]
        for p in await list_all(floor.client, {**EVERYTHING, "per_page": 100})
        for t in p.json()
    ]
    assert first not in listed and second not in listed
    assert len(listed) == len(floor.fake.tickets) - 2
    shown = (await floor.client.get(f"/api/v2/tickets/{first}")).json()
    assert shown["deleted"] is True and floor.fake.tickets[first]["deleted"] is True
    trash = await floor.client.get("/api/v2/tickets", params={**EVERYTHING, "filter": "deleted"})
    assert sorted(t["id"] for t in trash.json()) == [first, second]
    assert (
        await floor.client.put(f"/api/v2/tickets/{first}", json={"tags": []})
    ).status_code == 404


async def test_chats_and_calls_become_tickets(floor: Floor) -> None:
    tickets = floor.fake.tickets
    chats, calls = floor.contacts(Channel.CHAT), floor.contacts(Channel.VOICE)
    chat_tickets = {i: t for i, t in tickets.items() if t["source"] == 7}
    assert set(chat_tickets) == {900_000 + int(c[1:]) for c in chats}
    ended = {p.contact_id: p for p in floor.payloads(ContactEnded)}
    abandoned = {p.contact_id: p for p in floor.payloads(ContactAbandoned)}
    answered = {p.contact_id: p for p in floor.payloads(ContactAnswered)}
    offered = {p.contact_id: p for p in floor.payloads(ContactOffered)}
    for contact in chats:
        ticket = chat_tickets[900_000 + int(contact[1:])]
        assert ticket["created_at"] == iso(offered[contact].offered_at)
        if contact in ended:
            assert ticket["status"] == 4 and ticket["responder_id"] is not None
        elif contact in abandoned:
            assert ticket["status"] == 5 and "missed_chat" in ticket["tags"]
            assert ticket["responder_id"] is None
        elif contact in answered:
            assert ticket["status"] == 2 and ticket["responder_id"] is not None
        else:
            assert ticket["status"] == 2 and ticket["responder_id"] is None
    phone = {i: t for i, t in tickets.items() if t["source"] == 3}
    finished = {c for c in calls if c in answered or c in abandoned}
    assert set(phone) == {800_000 + int(c[1:]) for c in finished}
    assert any(c in abandoned for c in calls) and any(c in ended for c in calls)
    for contact in finished:
        ticket = phone[800_000 + int(contact[1:])]
        assert ticket["created_at"] == iso(offered[contact].offered_at)
        if contact in abandoned:
            assert ticket["status"] == 5 and ticket["tags"] == ["abandoned_call"]
        elif contact in ended:
            agent = 160_000_000_000 + int(ended[contact].agent_id[1:])
            assert ticket["status"] == 4 and ticket["responder_id"] == agent
        else:
            assert ticket["status"] == 2 and ticket["responder_id"] is not None


async def test_agents_groups_and_ratings_follow_the_floor(floor: Floor) -> None:
    agents: list[Any] = []
    url: str | None = "/api/v2/agents?per_page=7"
    while url:
        response = await floor.client.get(url)
        agents += response.json()
        match = LINK.match(response.headers.get("Link", ""))
        url = match[1] if match else None
    names = [a.name for a in floor.payloads(AgentUpserted)]
    assert [a["id"] for a in agents] == [160_000_000_000 + i for i in range(1, 21)]
    assert [a["contact"]["name"] for a in agents] == names
    last_state = {p.agent_id: p.state for p in floor.payloads(AgentStateChanged)}
    online = (AgentState.AVAILABLE, AgentState.BUSY, AgentState.WRAP_UP)
    for agent in agents:
        state = last_state[f"a{agent['id'] - 160_000_000_000:04d}"]
        assert agent["available"] is (state in online)
        assert (agent["available_since"] is not None) is agent["available"]
    assert {a["available"] for a in agents} == {True, False}

    groups = (await floor.client.get("/api/v2/groups")).json()
    assert [g["id"] for g in groups] == GROUPS
    assert [g["name"] for g in groups] == [q.name for q in floor.payloads(QueueUpserted)]
    queue_group = dict(
        zip([q.queue_id for q in floor.payloads(QueueUpserted)], GROUPS, strict=True)
    )
    one = (await floor.client.get(f"/api/v2/groups/{GROUPS[2]}")).json()
    members = {
        160_000_000_000 + int(a.agent_id[1:])
        for a in floor.payloads(AgentUpserted)
        if GROUPS[2] in [queue_group[q] for q in a.queue_ids]
    }
    assert set(one["agent_ids"]) == members and members
    agent = (await floor.client.get(f"/api/v2/agents/{agents[0]['id']}")).json()
    roles = (await floor.client.get("/api/v2/roles")).json()
    assert set(agent["role_ids"]) <= {r["id"] for r in roles}
    assert "Supervisor" in {r["name"] for r in roles}

    rated = {i: p.satisfaction for i, p in floor.last_tickets().items() if p.satisfaction}
    ratings = (await floor.client.get("/api/v2/surveys/satisfaction_ratings?per_page=100")).json()
    assert rated and {r["ticket_id"]: r["ratings"]["default_question"] for r in ratings} == {
        i: 103 if s == "good" else -103 for i, s in rated.items()
    }
    cut = sorted(r["created_at"] for r in ratings)[len(ratings) // 2]
    later = await floor.client.get(
        "/api/v2/surveys/satisfaction_ratings", params={"created_since": cut}
    )
    assert 0 < len(later.json()) < len(ratings)
    assert all(r["created_at"] >= cut for r in later.json())


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
    ours = (
        await client.get(
            "/api/v2/tickets",
            params={**EVERYTHING, "per_page": 100, "include": "description,requester,stats"},
        )
    ).json()
    assert isinstance(ours, list) and ours
    for name in (
        "GET_api_v2_tickets__include_description_requester_stats__order_by_updated_at_asc.json",
        "GET_api_v2_tickets__include_requester_stats__single_page.json",
    ):
        real = recorded(name)
        assert isinstance(real, list)
        assert keys(real) <= keys(ours), keys(real) - keys(ours)
        assert keys([t["requester"] for t in real]) <= keys([t["requester"] for t in ours])
        assert keys([t["stats"] for t in real]) <= keys([t["stats"] for t in ours])
    for ticket in ours:
        assert isinstance(ticket["id"], int) and isinstance(ticket["requester_id"], int)
        assert ticket["status"] in (2, 3, 4, 5, 6, 7) and ticket["priority"] in (1, 2, 3, 4)
        assert ticket["source"] in (1, 3, 7)
        for name in ("created_at", "updated_at", "due_by", "fr_due_by"):
            assert ISO_Z.match(ticket[name]), (name, ticket[name])
        for value in ticket["stats"].values():
            assert value is None or ISO_Z.match(value)
        assert isinstance(ticket["tags"], list) and isinstance(ticket["custom_fields"], dict)
        for flag in ("fr_escalated", "is_escalated", "nr_escalated", "spam"):
            assert isinstance(ticket[flag], bool)

    pairs = [
        ("GET_api_v2_agents.json", "/api/v2/agents?per_page=100"),
        ("GET_api_v2_groups.json", "/api/v2/groups?per_page=100"),
        ("GET_api_v2_roles.json", "/api/v2/roles"),
        ("GET_api_v2_sla_policies.json", "/api/v2/sla_policies"),
        ("GET_api_v2_surveys.json", "/api/v2/surveys"),
        ("GET_api_v2_surveys_satisfaction_ratings.json", "/api/v2/surveys/satisfaction_ratings"),
        ("GET_api_v2_ticket_fields.json", "/api/v2/ticket_fields"),
    ]
    for name, url in pairs:
        real, mine = recorded(name), (await client.get(url)).json()
        assert isinstance(mine, list) and mine, name
        assert keys(real) <= keys(mine), (name, keys(real) - keys(mine))
        for row in mine:
            for stamp in ("created_at", "updated_at"):
                assert ISO_Z.match(row[stamp]), (name, row[stamp])
    real_agents = recorded("GET_api_v2_agents.json")
    mine_agents = (await client.get("/api/v2/agents?per_page=100")).json()
    assert keys([a["contact"] for a in real_agents]) <= keys([a["contact"] for a in mine_agents])
    [policy] = (await client.get("/api/v2/sla_policies")).json()
    real_policy = recorded("GET_api_v2_sla_policies.json")[0]
    assert set(real_policy["sla_target"]) == set(policy["sla_target"])
    assert set(real_policy["sla_target"]["priority_1"]) == set(policy["sla_target"]["priority_1"])
    fields = {f["name"]: f for f in (await client.get("/api/v2/ticket_fields")).json()}
    real_status = next(
        f for f in recorded("GET_api_v2_ticket_fields.json") if f["name"] == "status"
    )
    assert set(real_status["choices"]) < set(fields["status"]["choices"])
    assert fields["status"]["choices"]["6"] == ["Waiting on Customer", "Awaiting your Reply"]
    assert all(len(labels) == 2 for labels in fields["status"]["choices"].values())
    assert fields["group"]["choices"] == {g["name"]: g["id"] for g in floor.fake.groups.values()}

    ticket_id = next(i for i, n in floor.fake.notes.items() if n)
    await client.post(f"/api/v2/tickets/{ticket_id}/notes", json={"body": "ack", "private": True})
    conversations = (await client.get(f"/api/v2/tickets/{ticket_id}/conversations")).json()
    assert {c["private"] for c in conversations} == {True, False}
    for name in (
        "GET_api_v2_tickets_22_conversations.json",
        "GET_api_v2_tickets_23_conversations.json",
    ):
        assert keys(recorded(name)) <= keys(conversations), name


async def test_webhook_hints_arrive_with_the_shared_secret(floor: Floor) -> None:
    received: asyncio.Queue[tuple[str | None, Any]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await received.put(
            (request.headers.get("X-Supervisor-Webhook-Secret"), await request.json())
        )
        return web.Response(status=200)

    app = web.Application()
    app.add_routes([web.post("/hooks/freshdesk", hook)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/freshdesk"
    fake = FakeFreshdesk(clock=floor.clock, webhook_url=url, webhook_secret="s3cret")
    first = next(e for e in floor.events if isinstance(e.payload, TicketUpserted))
    ticket_id = int(first.payload.ticket_id)
    try:
        await fake.start()
        fake.feed([e for e in floor.events if isinstance(e.payload, QueueUpserted)] + [first])
        fake.agent_edit(ticket_id, add_tag="vip")
        async with httpx.AsyncClient(base_url=fake.base_url, auth=AUTH) as client:
            await client.post(f"/api/v2/tickets/{ticket_id}/notes", json={"body": "ack"})
        hints = [await asyncio.wait_for(received.get(), 10) for _ in range(3)]
    finally:
        await fake.stop()
        await runner.cleanup()
    assert received.empty() and fake.webhooks_failed == 0
    assert all(secret == "s3cret" for secret, _ in hints)
    created, edit, note = (body["freshdesk_webhook"] for _, body in hints)
    assert created["ticket_id"] == edit["ticket_id"] == note["ticket_id"] == ticket_id
    events = [h["triggered_event"] for h in (created, edit, note)]
    assert events == ["ticket_created", "ticket_updated", "note_added"]
    assert created["ticket_updated_at"] == iso(first.payload.updated_at)
    assert edit["ticket_updated_at"] == iso(EPOCH + UNTIL_S + 120)
    assert (
        note["ticket_updated_at"]
        == fake.tickets[ticket_id]["updated_at"]
        > edit["ticket_updated_at"]
    )
    assert "vip" in fake.tickets[ticket_id]["tags"]
    assert fake.webhooks_failed == 0


async def test_webhook_failures_are_dropped_and_never_block_feeding(floor: Floor) -> None:
    fake = FakeFreshdesk(clock=floor.clock, webhook_url="http://127.0.0.1:9/nowhere")
    await fake.start()
    try:
        fake.feed(floor.events)  # thousands of changes: the backlog is bounded
        for _ in range(1000):
            if fake.webhooks_failed:
                break
            await asyncio.sleep(0.01)
    finally:
        await fake.stop()
    assert fake.webhooks_failed >= 1 and fake.webhooks_sent == 0
    assert len(fake.tickets) > 100


async def test_run_simulated_backfills_the_warm_up() -> None:
    clock = FakeClock(EPOCH + 3600)
    fake = FakeFreshdesk(clock=clock)
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
    assert len(fake.agents) == 20
    assert fake.tickets and fake.floor_clock is clock  # speed 1: the floor runs on the wall clock
    assert max(t["updated_at"] for t in fake.tickets.values()) <= iso(EPOCH + 3600)

    fast = FakeFreshdesk(clock=clock)
    task = asyncio.create_task(
        run_simulated(fast, SimOptions(seed=3, agents=20, speed=60.0, warmup_s=600), clock=clock)
    )
    for _ in range(100):
        await asyncio.sleep(0)
        if fast.tickets:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fast.floor_clock is not clock
    assert fast.floor_clock() == pytest.approx(clock(), abs=1.0)
