"""The fake ServiceNow speaks the Table API's wire format and misbehaves on demand."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.fakes.servicenow import FakeServiceNow, run_simulated, sys_id_of
from supervisor_tui.model import NewEvent, TicketStatus, TicketUpserted

from .conftest import EPOCH, FakeClock

AUTH = ("integration", "fake-password")
SN_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
SYS_ID = re.compile(r"^[0-9a-f]{32}$")
LINK_PART = re.compile(r'^<(http://127\.0\.0\.1:\d+/api/now/table/[^>]+)>;rel="(\w+)"$')
TABLE = "/api/now/table"


@pytest.fixture
async def fake() -> AsyncIterator[FakeServiceNow]:
    clock = FakeClock(EPOCH + 3 * 3600)
    server = FakeServiceNow(clock=clock, token="bearer-1")
    await server.start()
    sim = FloorSimulation(SimOptions(seed=5, agents=20, speed=None, warmup_s=0), EPOCH)
    server.feed(sim.advance(3 * 3600))
    yield server
    await server.stop()


def client(fake: FakeServiceNow, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=fake.base_url, **kwargs)  # type: ignore[arg-type]


def links(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(","):
        match = LINK_PART.match(part)
        assert match, part
        out[match[2]] = match[1]
    return out


async def test_records_are_strings_and_references_are_sys_ids(fake: FakeServiceNow) -> None:
    async with client(fake, auth=AUTH) as c:
        r = await c.get(f"{TABLE}/incident", params={"sysparm_exclude_reference_link": "true"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        rows = r.json()["result"]
        assert len(rows) == len(fake.incidents) == int(r.headers["X-Total-Count"])
        for row in rows:
            assert all(isinstance(v, str) for v in row.values())
            assert SYS_ID.match(row["sys_id"]) and re.match(r"^INC\d{7}$", row["number"])
            assert row["state"] in ("1", "2", "3", "6", "7", "8")
            assert SN_TIME.match(row["sys_updated_on"]) and SN_TIME.match(row["opened_at"])
            assert row["assignment_group"] == "" or SYS_ID.match(row["assignment_group"])
        # without exclude_reference_link a reference is a link and a value
        r = await c.get(f"{TABLE}/incident", params={"sysparm_fields": "assignment_group"})
        ref = next(x["assignment_group"] for x in r.json()["result"] if x["assignment_group"])
        assert set(ref) == {"link", "value"} and ref["link"].endswith(ref["value"])


async def test_fields_dot_walks_and_unknown_fields(fake: FakeServiceNow) -> None:
    async with client(fake, auth=AUTH) as c:
        r = await c.get(
            f"{TABLE}/sys_user_grmember",
            params={
                "sysparm_fields": "group,user,user.name,no_such_field",
                "sysparm_exclude_reference_link": "true",
            },
        )
        rows = r.json()["result"]
        assert rows and all(set(x) == {"group", "user", "user.name"} for x in rows)
        users = fake.tables["sys_user"]
        assert all(x["user.name"] == users[x["user"]]["name"] for x in rows)


async def test_encoded_query_order_and_paging_by_link(fake: FakeServiceNow) -> None:
    since = sorted(r["sys_updated_on"] for r in fake.incidents.values())[40]
    want = sorted(
        (r for r in fake.incidents.values() if r["sys_updated_on"] >= since),
        key=lambda r: (r["sys_updated_on"], r["sys_id"]),
    )
    params = {
        "sysparm_query": f"sys_updated_on>={since}^ORDERBYsys_updated_on^ORDERBYsys_id",
        "sysparm_fields": "number,sys_updated_on",
        "sysparm_limit": "10",
    }
    got: list[str] = []
    url: str | None = f"{TABLE}/incident"
    pages = 0
    async with client(fake, auth=AUTH) as c:
        while url is not None:
            r = await c.get(url, params=params if pages == 0 else None)
            pages += 1
            assert int(r.headers["X-Total-Count"]) == len(want)
            got.extend(x["number"] for x in r.json()["result"])
            found = links(r.headers["Link"])
            assert "first" in found and "last" in found
            assert ("prev" in found) is (pages > 1)
            url = found.get("next")
            if url is not None:
                assert parse_qs(urlsplit(url).query)["sysparm_offset"] == [str(10 * pages)]
    assert got == [r["number"] for r in want]  # in order, each once, and the paging ended
    assert pages == -(-len(want) // 10)


async def test_single_page_has_no_link(fake: FakeServiceNow) -> None:
    async with client(fake, auth=AUTH) as c:
        r = await c.get(f"{TABLE}/sys_user_group")
        assert len(r.json()["result"]) == 5 and "Link" not in r.headers


@pytest.mark.parametrize(
    "query",
    ["sys_updated_on>=2026-01-01 00:00:00^NQstate=1", "stateLIKE1", "no_such_field=1", "ORDER"],
)
async def test_queries_it_does_not_know_are_refused(fake: FakeServiceNow, query: str) -> None:
    async with client(fake, auth=AUTH) as c:
        r = await c.get(f"{TABLE}/incident", params={"sysparm_query": query})
        assert r.status_code == 400
        body = r.json()
        assert body["status"] == "failure" and body["error"]["message"] == "Invalid query"


async def test_auth_basic_bearer_and_the_401_body(fake: FakeServiceNow) -> None:
    async with client(fake) as c:
        for headers in ({}, {"Authorization": "Bearer nope"}):
            r = await c.get(f"{TABLE}/incident", headers=headers)
            assert r.status_code == 401
            assert r.json() == {
                "error": {
                    "message": "User Not Authenticated",
                    "detail": "Required to provide Auth information",
                },
                "status": "failure",
            }
        r = await c.get(f"{TABLE}/incident", auth=("integration", "wrong"))
        assert r.status_code == 401
        r = await c.get(f"{TABLE}/incident", headers={"Authorization": "Bearer bearer-1"})
        assert r.status_code == 200


async def test_an_instance_without_awa_says_invalid_table(fake: FakeServiceNow) -> None:
    async with client(fake, auth=AUTH) as c:
        r = await c.get(f"{TABLE}/awa_agent_presence")
        assert r.status_code == 200 and r.json()["result"]
        fake.awa = False
        for table in ("awa_agent_presence", "awa_presence_state", "no_such_table"):
            r = await c.get(f"{TABLE}/{table}")
            assert r.status_code == 400
            assert r.json() == {
                "error": {"message": f"Invalid table {table}", "detail": None},
                "status": "failure",
            }


async def test_patch_work_notes_are_journal_entries(fake: FakeServiceNow) -> None:
    number, row = next(iter(fake.incidents.items()))
    before = row["sys_updated_on"]
    async with client(fake, auth=AUTH) as c:
        r = await c.patch(f"{TABLE}/incident/{row['sys_id']}", json={"work_notes": "Seen. [ref-1]"})
        assert r.status_code == 200 and r.json()["result"]["number"] == number
        assert r.json()["result"]["sys_updated_on"] > before
        journal = await c.get(
            f"{TABLE}/sys_journal_field",
            params={"sysparm_query": f"element_id={row['sys_id']}^element=work_notes"},
        )
        (entry,) = journal.json()["result"]
        assert entry["value"] == "Seen. [ref-1]" and entry["name"] == "incident"
        shown = await c.get(
            f"{TABLE}/incident/{row['sys_id']}",
            params={"sysparm_fields": "work_notes", "sysparm_display_value": "true"},
        )
        assert "Seen. [ref-1]" in shown.json()["result"]["work_notes"]
        missing = await c.patch(f"{TABLE}/incident/{'0' * 32}", json={"work_notes": "x"})
        assert (
            missing.status_code == 404 and missing.json()["error"]["message"] == "No Record found"
        )
    assert [n["value"] for n in fake.work_notes] == ["Seen. [ref-1]"]


async def test_rate_limit_rule_counts_per_hour(fake: FakeServiceNow) -> None:
    fake.rate_limit_per_hour = 3
    async with client(fake, auth=AUTH) as c:
        for _ in range(3):
            r = await c.get(f"{TABLE}/sys_user_group")
            assert r.status_code == 200
            assert r.headers["X-RateLimit-Limit"] == "3"
            assert r.headers["X-RateLimit-Rule"] == fake.rule_id
            reset = int(r.headers["X-RateLimit-Reset"])
            assert reset % 3600 == 0 and 0 < reset - fake.clock() <= 3600
        r = await c.get(f"{TABLE}/sys_user_group")
        assert r.status_code == 429 and r.json()["status"] == "failure"
        assert int(r.headers["Retry-After"]) == reset - int(fake.clock())
        fake.clock.advance(reset - fake.clock())  # type: ignore[attr-defined]
        r = await c.get(f"{TABLE}/sys_user_group")
        assert r.status_code == 200


async def test_faults_and_hibernation(fake: FakeServiceNow) -> None:
    async with client(fake, auth=AUTH) as c:
        fake.inject(f"{TABLE}/incident", "429", retry_after=9)
        r = await c.get(f"{TABLE}/incident")
        assert r.status_code == 429 and r.headers["Retry-After"] == "9"
        fake.inject(f"{TABLE}/incident", "500")
        assert (await c.get(f"{TABLE}/incident")).json()["status"] == "failure"
        fake.inject(f"{TABLE}/incident", "wrong_shape")
        r = await c.get(f"{TABLE}/incident")
        assert r.status_code == 200 and "result" not in r.json() and "error" in r.json()
        fake.inject(f"{TABLE}/incident", "truncated")
        r = await c.get(f"{TABLE}/incident")
        with pytest.raises(ValueError):
            r.json()
        fake.hibernate()
        r = await c.get(f"{TABLE}/incident")
        assert r.status_code == 200 and "hibernating" in r.text.lower()
        fake.hibernate(False)
        assert (await c.get(f"{TABLE}/incident")).status_code == 200


async def test_feed_maps_the_floor() -> None:
    clock = FakeClock(EPOCH)
    server = FakeServiceNow(clock=clock)
    created = EPOCH - 600
    ticket = TicketUpserted(
        ticket_id="10042",
        status=TicketStatus.SOLVED,
        subject="Printer on fire",
        created_at=created,
        updated_at=EPOCH,
        solved_at=EPOCH,
        escalated=True,
    )
    server.feed(
        [NewEvent(source="sim", key="k", occurred_at=EPOCH, received_at=EPOCH, payload=ticket)]
    )
    row = server.incidents["INC0010042"]
    assert row["sys_id"] == sys_id_of("incident", "INC0010042")
    assert row["state"] == "6" and row["active"] == "false" and row["escalation"] == "2"
    assert row["opened_at"] < row["resolved_at"] == row["sys_updated_on"]
    server.delete_incident("INC0010042")
    (audit,) = server.tables["sys_audit_delete"].values()
    assert (
        audit["documentkey"] == row["sys_id"] and "<number>INC0010042</number>" in audit["payload"]
    )


async def test_run_simulated_feeds_it() -> None:
    clock = FakeClock(EPOCH + 3600)
    fake = FakeServiceNow(clock=clock)
    options = SimOptions(seed=3, agents=20, queues=5, speed=1.0, warmup_s=3600)
    task = asyncio.create_task(run_simulated(fake, options, epoch=EPOCH, clock=clock))
    for _ in range(100):
        await asyncio.sleep(0)
        if fake.incidents:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(fake.tables["sys_user_group"]) == 5
    assert len(fake.tables["awa_agent_presence"]) == 20
    assert fake.incidents and fake.tables["task_sla"]


async def test_acl_hidden_rows_leave_the_page_but_stay_counted(fake: FakeServiceNow) -> None:
    """As ServiceNow does: rows a row-level ACL hides are dropped after the query, while
    X-Total-Count and Link still count them; a table can answer 200 [] with rows in it."""
    ordered = sorted(fake.tables["incident"])
    fake.hidden |= set(ordered[:5])  # the whole first page
    fake.hidden.add(ordered[7])
    async with client(fake, auth=AUTH) as c:
        params = {"sysparm_query": "ORDERBYsys_id", "sysparm_limit": "5"}
        r = await c.get(f"{TABLE}/incident", params=params)
        assert r.status_code == 200 and r.json() == {"result": []}
        assert int(r.headers["X-Total-Count"]) == len(ordered)
        assert "next" in links(r.headers["Link"])
        r = await c.get(f"{TABLE}/incident", params={**params, "sysparm_offset": "5"})
        got = [row["sys_id"] for row in r.json()["result"]]
        assert got == [ordered[5], ordered[6], ordered[8], ordered[9]]  # short, more to come
        fake.hidden_tables.add("awa_agent_presence")
        r = await c.get(f"{TABLE}/awa_agent_presence")
        assert r.status_code == 200 and r.json() == {"result": []}
        assert int(r.headers["X-Total-Count"]) == len(fake.tables["awa_agent_presence"]) > 0


async def test_an_absent_plugin_table_and_display_values(fake: FakeServiceNow) -> None:
    """A table without its plugin answers 400 Invalid table; ``sysparm_display_value=all``
    gives {display_value, value} pairs as recorded (labels, null for an empty field), a
    site's own state with its label."""
    number = next(n for n, r in fake.incidents.items() if r["state"] == "2")
    fake.site_state(number, "5", "Awaiting Evidence", active=True)
    fake.absent.add("contract_sla")
    async with client(fake, auth=AUTH) as c:
        r = await c.get(f"{TABLE}/contract_sla")
        assert r.status_code == 400
        assert r.json()["error"]["message"] == "Invalid table contract_sla"
        r = await c.get(
            f"{TABLE}/incident",
            params={
                "sysparm_query": f"number={number}",
                "sysparm_fields": "state,active,priority,resolved_at,assignment_group",
                "sysparm_display_value": "all",
                "sysparm_exclude_reference_link": "true",
            },
        )
        (row,) = r.json()["result"]
        assert row["state"] == {"display_value": "Awaiting Evidence", "value": "5"}
        assert row["active"] == {"display_value": "true", "value": "true"}
        assert row["resolved_at"] == {"display_value": None, "value": ""}
        group = fake.tables["sys_user_group"][row["assignment_group"]["value"]]
        assert row["assignment_group"]["display_value"] == group["name"]
        assert "link" not in row["assignment_group"]
