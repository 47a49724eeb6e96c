"""The fake Jira Service Management speaks the wire format Atlassian documents: servicedeskapi
pages, the enhanced JQL search with page tokens, JQL dates in the user's time zone, SLA cycles,
internal comments, label edits, 401s and 429s with their headers. Real HTTP on loopback."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.jsm import FakeJsm

from .conftest import EPOCH, FakeClock

EMAIL, TOKEN = "bot@example.com", "jsm-fake-token"
JIRA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
SD = "/rest/servicedeskapi"


def jql(since: str) -> str:
    return f'project in ("SUP") AND updated >= "{since}" ORDER BY updated ASC'


@pytest.fixture
async def fake() -> AsyncIterator[FakeJsm]:
    clock = FakeClock(EPOCH + 3 * 3600)
    server = FakeJsm(email=EMAIL, token=TOKEN, oauth_token="oauth-xyz", clock=clock)
    await server.start()
    sim = FloorSimulation(SimOptions(seed=3, agents=20, speed=None, warmup_s=0), EPOCH)
    server.feed(sim.advance(3 * 3600))
    yield server
    await server.stop()


def client(fake: FakeJsm, **kw: object) -> httpx.AsyncClient:
    auth = kw.pop("auth", (EMAIL, TOKEN))
    return httpx.AsyncClient(base_url=fake.base_url, auth=auth, **kw)  # type: ignore[arg-type]


async def test_servicedesk_pages_end_with_is_last_page(fake: FakeJsm) -> None:
    async with client(fake) as c:
        seen, start, pages = [], 0, 0
        while True:
            r = await c.get(
                f"{SD}/servicedesk/1/queue",
                params={"includeCount": "true", "start": start, "limit": 2},
            )
            assert r.status_code == 200
            page = r.json()
            assert set(page) >= {"size", "start", "limit", "isLastPage", "_links", "values"}
            assert page["start"] == start and page["size"] == len(page["values"]) <= 2
            pages += 1
            seen.extend(page["values"])
            if page["isLastPage"]:
                assert "next" not in page["_links"]
                break
            assert page["_links"]["next"].startswith(fake.base_url)
            start += page["size"]
    assert pages == 3 and len(seen) == 6  # five simulated queues and "All open requests"
    assert all(isinstance(q["id"], str) and isinstance(q["issueCount"], int) for q in seen)
    assert {q["name"]: q["issueCount"] for q in seen} == fake.queue_counts()
    assert seen[-1]["issueCount"] == sum(q["issueCount"] for q in seen[:-1]) > 0
    async with client(fake) as c:
        r = await c.get(f"{SD}/servicedesk/1/queue")
    assert "issueCount" not in r.json()["values"][0]  # only with includeCount=true


async def test_search_pages_by_token_in_updated_order_to_the_end(fake: FakeJsm) -> None:
    query = jql("2000-01-01 00:00")
    got: list[dict] = []
    tokens = []
    async with client(fake) as c:
        params = {"jql": query, "fields": "updated,status", "maxResults": "25"}
        while True:
            r = await c.get("/rest/api/3/search/jql", params=params)
            assert r.status_code == 200
            body = r.json()
            got.extend(body["issues"])
            if body["isLast"]:
                assert "nextPageToken" not in body
                break
            tokens.append(body["nextPageToken"])
            params["nextPageToken"] = body["nextPageToken"]
        assert len(tokens) == (len(fake.issues) - 1) // 25
        keys = [i["key"] for i in got]
        assert sorted(keys) == sorted(fake.issues) and len(set(keys)) == len(keys)
        stamps = [i["fields"]["updated"] for i in got]
        assert stamps == sorted(stamps) and all(JIRA_TIME.match(s) for s in stamps)
        assert set(got[0]["fields"]) == {"updated", "status"}  # only the fields asked for
        assert isinstance(got[0]["id"], str) and re.match(r"^SUP-\d+$", got[0]["key"])
        # a token belongs to its query; a forged one is refused as Jira does
        other = {"jql": jql("2001-01-01 00:00"), "nextPageToken": tokens[0]}
        assert (await c.get("/rest/api/3/search/jql", params=other)).status_code == 400
        bad = {"jql": query, "nextPageToken": "bm9wZQ"}
        r = await c.get("/rest/api/3/search/jql", params=bad)
        assert r.status_code == 400 and r.json()["errorMessages"]
        r = await c.get("/rest/api/3/search/jql", params={"jql": "project = SUP"})
        assert r.status_code == 400 and "Error in the JQL Query" in r.json()["errorMessages"][0]


async def test_jql_dates_are_read_in_the_users_time_zone(fake: FakeJsm) -> None:
    async with client(fake) as c:
        me = (await c.get("/rest/api/3/myself")).json()
        assert me["timeZone"] == "America/Los_Angeles"
        newest = max(fake.issues.values(), key=lambda i: i["fields"]["updated"])
        at = datetime.fromisoformat(newest["fields"]["updated"]).timestamp()
        local = datetime.fromtimestamp(at, ZoneInfo(me["timeZone"])).strftime("%Y-%m-%d %H:%M")
        utc = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")
        params = {"jql": jql(local), "fields": "updated"}
        found = (await c.get("/rest/api/3/search/jql", params=params)).json()["issues"]
        assert newest["key"] in {i["key"] for i in found}
        params = {"jql": jql(utc), "fields": "updated"}
        found = (await c.get("/rest/api/3/search/jql", params=params)).json()["issues"]
        assert found == []  # UTC wall time read as Los Angeles time is 8 h later: a gap


async def test_sla_cycles_have_atlassians_shape(fake: FakeJsm) -> None:
    paused = running = completed = 0
    async with client(fake) as c:
        for key in sorted(fake.issues):
            page = (await c.get(f"{SD}/request/{key}/sla")).json()
            assert page["isLastPage"] is True
            for sla in page["values"]:
                assert sla["name"] in ("Time to first response", "Time to resolution")
                ongoing = sla.get("ongoingCycle")
                if ongoing is None:
                    cycle = sla["completedCycles"][-1]
                    assert {"stopTime", "breached", "goalDuration"} <= set(cycle)
                    completed += 1
                    continue
                assert isinstance(ongoing["goalDuration"]["millis"], int)
                assert isinstance(ongoing["remainingTime"]["millis"], int)
                if ongoing["paused"]:
                    assert "breachTime" not in ongoing
                    paused += 1
                else:
                    assert isinstance(ongoing["breachTime"]["epochMillis"], int)
                    running += 1
    assert paused and running and completed


async def test_auth_basic_or_bearer_else_401(fake: FakeJsm) -> None:
    async with client(fake, auth=(EMAIL, "wrong")) as c:
        r = await c.get("/rest/api/3/myself")
        assert r.status_code == 401 and "authenticated" in r.text
    async with client(fake, auth=None) as c:
        assert (await c.get(f"{SD}/servicedesk")).status_code == 401
        ok = await c.get("/rest/api/3/myself", headers={"Authorization": "Bearer oauth-xyz"})
        assert ok.status_code == 200
        bad = await c.get("/rest/api/3/myself", headers={"Authorization": "Bearer oauth-xy"})
        assert bad.status_code == 401


async def test_429_carries_retry_after_and_rate_limit_headers(fake: FakeJsm) -> None:
    fake.rate_limit = 5
    async with client(fake) as c:
        answers = [await c.get("/rest/api/3/myself") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["X-RateLimit-Limit"] == "5"
    assert answers[3].headers["X-RateLimit-Remaining"] == "1"
    assert answers[4].headers["X-RateLimit-NearLimit"] == "true"
    assert "X-RateLimit-NearLimit" not in answers[0].headers
    limited = answers[5].headers
    assert 1 <= int(limited["Retry-After"]) <= 60 and limited["X-RateLimit-Remaining"] == "0"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\dZ$", limited["X-RateLimit-Reset"])
    assert limited["RateLimit-Reason"] == "jira-burst-based"


async def test_internal_comments_and_label_edits(fake: FakeJsm) -> None:
    key = sorted(fake.issues)[0]
    fake.agent_edit(key, add_label="vip")
    async with client(fake) as c:
        r = await c.post(f"{SD}/request/{key}/comment", json={"body": "seen", "public": False})
        assert r.status_code == 201 and r.json()["public"] is False
        assert isinstance(r.json()["created"]["epochMillis"], int)
        both = (await c.get(f"{SD}/request/{key}/comment")).json()["values"]
        public_only = await c.get(f"{SD}/request/{key}/comment", params={"internal": "false"})
        assert [x["body"] for x in both] == ["seen"] and public_only.json()["values"] == []
        edit = {"update": {"labels": [{"add": "acked"}]}}
        r = await c.put(f"/rest/api/3/issue/{key}", json=edit)
        assert r.status_code == 204 and r.content == b""
        r = await c.put(f"/rest/api/3/issue/{key}", params={"returnIssue": "true"}, json=edit)
        assert r.status_code == 200 and r.json()["fields"]["labels"].count("acked") == 1
        assert "vip" in r.json()["fields"]["labels"]  # "add" keeps the others
        r = await c.put(f"/rest/api/3/issue/{key}", json={"fields": {"summary": "x"}})
        assert r.status_code == 400
        r = await c.get(f"{SD}/request/SUP-99999/sla")
        assert r.status_code == 404


async def test_a_customer_only_desk_and_a_forbidden_sla(fake: FakeJsm) -> None:
    """Discovery lists a desk where the bot is only a customer: its queues answer 403 and
    its project is not in the bot's JQL (400); one request's SLA can answer 403."""
    fake.customer_desks = [("2", "HR", "Human Resources")]
    key = sorted(fake.issues)[0]
    fake.sla_forbidden.add(key)
    async with client(fake) as c:
        desks = (await c.get(f"{SD}/servicedesk")).json()["values"]
        assert [(d["id"], d["projectKey"]) for d in desks] == [("1", "SUP"), ("2", "HR")]
        assert (await c.get(f"{SD}/servicedesk/2")).status_code == 200
        r = await c.get(f"{SD}/servicedesk/2/queue")
        assert r.status_code == 403 and set(r.json()) == {"errorMessage", "i18nErrorMessage"}
        assert (await c.get(f"{SD}/servicedesk/1/queue")).status_code == 200
        r = await c.get(
            "/rest/api/3/search/jql",
            params={"jql": jql("2026-01-01 00:00").replace('"SUP"', '"SUP", "HR"')},
        )
        assert r.status_code == 400
        assert r.json()["errorMessages"] == [
            "The value 'HR' does not exist for the field 'project'."
        ]
        assert (await c.get(f"{SD}/request/{key}/sla")).status_code == 403
        other = sorted(fake.issues)[1]
        assert (await c.get(f"{SD}/request/{other}/sla")).status_code == 200


async def test_a_site_s_own_statuses_and_priority_names(fake: FakeJsm) -> None:
    key = sorted(fake.issues)[0]
    fake.set_status(key, "Escalated to vendor", "undefined")
    fake.priority_names = {
        p: f"P{i} - {p.value.title()}" for i, p in enumerate(fake.priority_names, 1)
    }
    async with client(fake) as c:
        issue = (await c.get(f"/rest/api/3/issue/{key}")).json()
    status = issue["fields"]["status"]
    assert status["name"] == "Escalated to vendor"
    assert status["statusCategory"]["key"] == "undefined"
    assert status["statusCategory"]["name"] == "No Category"
    assert issue["fields"]["priority"]["name"].startswith("P")
