"""Canary secrets: a helpdesk token goes to its helpdesk and nowhere else.

The real Zendesk and Freshdesk adapters run against their fakes on loopback with canary
tokens, through a good sync, a wrong token, a 401, a 500, a malformed body, an unreachable
host and failed write-backs, with every logger at DEBUG into a file. Then the canary (and the
Basic-auth header it becomes) must be in no log record, no byte of the store and its -wal, no
stored event, quarantine or outbox row, no report, no repr / str / pretty repr of the adapter,
its settings or its API client, no exception (nor its traceback with locals, as a crashing
Textual app prints it), and no screenshot of the dashboard over that store.

Files that hold or point at secrets: a token file, a config and a recording that others can
read are refused.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import sqlite3
import traceback
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.pretty import pretty_repr
from rich.traceback import Traceback

from supervisor_tui.adapters.base import SourceSetupError
from supervisor_tui.adapters.freshdesk.adapter import FreshdeskAdapter, FreshdeskSettings
from supervisor_tui.adapters.http import (
    ApiError,
    AuthFailed,
    BadBody,
    ServerError,
    Unreachable,
    read_secret,
)
from supervisor_tui.adapters.polling import PolledSource
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.adapters.zendesk.adapter import ZendeskAdapter, ZendeskSettings
from supervisor_tui.app import FloorSettings, SupervisorApp
from supervisor_tui.config import ConfigError, load_config
from supervisor_tui.core.commands import EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.rules import RuleEngine, TicketFlagRule
from supervisor_tui.fakes.freshdesk import FakeFreshdesk
from supervisor_tui.fakes.zendesk import FakeZendesk
from supervisor_tui.hub.collector import Collector
from supervisor_tui.logs import PrivateRotatingFile, log_to
from supervisor_tui.model import EscalationRaised, HealthState, NewEvent, Severity, SourceHealth
from supervisor_tui.report.compute import compute
from supervisor_tui.report.render import to_csv, to_html, to_json, to_markdown
from supervisor_tui.store import SQLiteStore, StoreError

from .conftest import EPOCH, FakeClock, targets
from .helpers import StoreSink
from .test_app import wait_for

ZD_CANARY = "CANARY-zd-7f3a9c"
ZD_WRONG = "CANARY-zd-wrong-0d41e8"
FD_CANARY = "CANARY-fd-51b2e0"
FD_WRONG = "CANARY-fd-wrong-93ac17"
EMAIL = "bot@example.com"
COMPLAINTS = RuleEngine([TicketFlagRule(id="complaint", kind="ticket_flag")])


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def needles(*tokens: str, zendesk: bool) -> list[str]:
    """Each canary, and the Authorization header value it travels in."""
    out: list[str] = []
    for token in tokens:
        out.append(token)
        out.append(basic(f"{EMAIL}/token", token) if zendesk else basic(token, "X"))
    return out


@pytest.fixture
def debug_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Path]:
    """Every logger at DEBUG into the log file `run` and `serve` write (``log_to``: its
    handler and format, tracebacks included), and into caplog (each record's arguments)."""
    path = tmp_path / "debug.log"
    root = logging.getLogger()
    before = root.level
    log_to(path, level="debug")
    caplog.set_level(logging.DEBUG)
    try:
        yield path
    finally:
        for handler in list(root.handlers):
            if isinstance(handler, PrivateRotatingFile):
                root.removeHandler(handler)
                handler.close()
        root.setLevel(before)


@dataclass
class Run:
    """What one helpdesk's scenarios left behind."""

    store: SQLiteStore
    clock: FakeClock
    adapters: list[PolledSource] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    async def expect_error(self, kind: type[BaseException], call: Any) -> BaseException:
        with pytest.raises(kind) as info:
            await call
        self.errors.append(info.value)
        return info.value


def leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


def exception_texts(exc: BaseException) -> dict[str, str]:
    """An exception as a log, a crash report and a Textual crash (locals shown) print it."""
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    console.print(Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=True))
    texts = {
        "str": str(exc),
        "repr": repr(exc),
        "args": repr(exc.args),
        "traceback": "".join(traceback.format_exception(exc)),
        "rich traceback with locals": console.export_text(),
    }
    if isinstance(exc, BadBody):
        texts["raw"] = exc.raw
    return texts


def object_texts(adapter: PolledSource) -> dict[str, str]:
    api = adapter.api
    objects: dict[str, object] = {
        "adapter": adapter,
        "settings": getattr(adapter, "settings", None),
        "api": api,
        "http client": api._client,
        "auth": api._client.auth,
        "budget": adapter.budget,
    }
    out: dict[str, str] = {}
    for name, obj in objects.items():
        out[f"repr({name})"] = repr(obj)
        out[f"str({name})"] = str(obj)
        out[f"pretty({name})"] = pretty_repr(obj, max_depth=4)
    out["vars(adapter)"] = pretty_repr(
        {k: v for k, v in vars(adapter).items() if k != "settings"}, max_depth=3
    )
    return out


def store_rows(path: Path) -> dict[str, str]:
    """Every row of every table, as text (read with plain sqlite3, read-only)."""
    out: dict[str, str] = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = "\n".join(repr(row) for row in rows)
    conn.close()
    return out


def file_bytes(path: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
        if p.exists()
    }


async def screenshot(store: SQLiteStore, clock: FakeClock) -> str:
    settings = FloorSettings(
        floor_name="Canary floor", operator="ana", targets=targets(), rules=COMPLAINTS
    )
    app = SupervisorApp(store, settings, clock=clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(
            pilot, lambda: app.board.state.seq == store.last_seq(), "the store on screen"
        )
        await pilot.pause()
        app.board._tick()
        await pilot.pause()
        return app.export_screenshot()


async def assert_canary_nowhere(
    run: Run, secrets: list[str], log_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the run did what it says: failures happened and were recorded
    health = [
        e.payload.state
        for e in run.store.events_of_kind("source.health")
        if isinstance(e.payload, SourceHealth)
    ]
    assert HealthState.DOWN in health and HealthState.DEGRADED in health
    assert run.store.quarantined(), "the malformed body was kept aside"
    failed = store_rows(run.store.path)["outbox"]
    assert "Error" in failed or "answered" in failed or "refused" in failed, failed

    found: dict[str, list[str]] = {}

    def check(where: str, text: str) -> None:
        hit = leaks(text, secrets)
        if hit:
            found[where] = hit

    # the store, while open (events still in the -wal) and after it is closed
    for name, data in file_bytes(run.store.path).items():
        check(f"file {name} (open)", data.decode("latin-1"))
    for table, text in store_rows(run.store.path).items():
        check(f"table {table}", text)
    for event in run.store.read_from(0, 1_000_000):
        check(f"event {event.seq}", event.model_dump_json())
    for item in run.store.quarantined(1000):
        check("quarantine", f"{item.kind} {item.reason} {item.raw}")

    report = compute([(run.store.path.name, run.store.read_from(0, 1_000_000))], targets=targets())
    for name, render in (("md", to_markdown), ("json", to_json), ("html", to_html)):
        check(f"report {name}", render(report))
    check("report csv", to_csv(report))

    for i, exc in enumerate(run.errors):
        for how, text in exception_texts(exc).items():
            check(f"exception {i} {type(exc).__name__} {how}", text)
    for adapter in run.adapters:
        for how, text in object_texts(adapter).items():
            check(f"{adapter.name} {how}", text)

    check("screenshot", await screenshot(run.store, run.clock))

    run.store.close()
    for name, data in file_bytes(run.store.path).items():
        check(f"file {name} (closed)", data.decode("latin-1"))

    logs = log_texts(log_file, caplog)
    assert logs["log file"], "DEBUG logging captured nothing"
    for where, text in logs.items():
        check(where, text)

    assert found == {}, f"secrets found in: {sorted(found)}"


def log_texts(log_file: Path, caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    """The DEBUG log file, and each captured record with its arguments and traceback."""
    out = {"log file": log_file.read_text(encoding="utf-8")}
    for i, record in enumerate(caplog.records):
        text = record.getMessage() + repr(record.args)
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(record.exc_info[1]))
        out[f"log record {i} {record.name}"] = text
    return out


# -- Zendesk ---------------------------------------------------------------------------------


@pytest.fixture
async def zendesk(tmp_path: Path) -> AsyncIterator[tuple[FakeZendesk, Run]]:
    clock = FakeClock(EPOCH)
    fake = FakeZendesk(email=EMAIL, token=ZD_CANARY, clock=clock, rate_limit=700)
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=5, agents=12, speed=None, warmup_s=0), EPOCH)
    clock.advance(2 * 3600)
    fake.feed(sim.advance(2 * 3600))
    store = SQLiteStore(tmp_path / "floor.db")
    try:
        yield fake, Run(store, clock)
    finally:
        store.close()
        await fake.stop()


def zendesk_adapter(fake: FakeZendesk, run: Run, **over: Any) -> ZendeskAdapter:
    settings = ZendeskSettings(
        base_url=fake.base_url,
        email=EMAIL,
        token=ZD_CANARY,
        write_back=True,
        backfill_s=2 * 24 * 3600,
    )
    adapter = ZendeskAdapter("zendesk", replace(settings, **over), clock=run.clock)
    run.adapters.append(adapter)
    return adapter


def last_health(sink: StoreSink) -> HealthState:
    return sink.health_reports[-1].state


async def poll_all(adapter: PolledSource, sink: StoreSink) -> None:
    for task in adapter.tasks:
        task.due_at = 0
    await adapter.poll_due(sink)


async def faults_then_failed_write_backs(
    run: Run,
    sink: StoreSink,
    fake: Any,
    good: PolledSource,
    wrong: PolledSource,
    *,
    probe: str,
    polled: str,
    writes: str,
) -> None:
    """The scenarios every helpdesk goes through with its canaries: 401, 500 and a malformed
    body on a direct call (``probe``) and in a poll (``polled``), an unreachable host, then
    an ack whose write-back fails (5xx on ``writes``) and one refused for a wrong secret."""
    for fault, kind in (("401", AuthFailed), ("500", ServerError), ("malformed", BadBody)):
        fake.inject(probe, fault)
        await run.expect_error(kind, good.api.get(probe))  # type: ignore[attr-defined]
        fake.inject(polled, fault)
        run.clock.advance(400)
        await poll_all(good, sink)
    assert any(h.state is HealthState.DEGRADED for h in sink.health_reports)
    gone = replace(good.settings, base_url="http://127.0.0.1:9")  # type: ignore[attr-defined]
    unreachable = type(good)(good.name, gone, clock=run.clock)  # type: ignore[call-arg]
    run.adapters.append(unreachable)
    await run.expect_error(Unreachable, unreachable.api.get(probe))  # type: ignore[attr-defined]
    collector = await raise_and_ack(run, good)  # type: ignore[arg-type]
    fake.inject(writes, "500", count=5)
    assert await collector.deliver_outbox() == 0
    refused = Collector(run.store, [wrong], COMPLAINTS, targets(), run.clock)
    run.clock.advance(3600)
    assert await refused.deliver_outbox() == 0
    assert run.store.outbox_pending_count() == 1
    await good.api.close()  # type: ignore[attr-defined]


async def raise_and_ack(run: Run, adapter: ZendeskAdapter | FreshdeskAdapter) -> Collector:
    """An escalation on an open synced ticket, acked: one write-back due."""
    state = FloorState(targets())
    state.apply_all(run.store.read_from(0, 1_000_000))
    ticket = next(t for t in state.tickets.values() if t.status.is_open)
    raised = EscalationRaised(
        escalation_id="esc-canary",
        rule_id="complaint",
        subject=f"ticket:{ticket.ref}",
        ticket_source=adapter.name,
        ticket_id=ticket.ticket_id,
        severity=Severity.WARNING,
        title=f"Ticket #{ticket.ticket_id}: complaint",
        raised_at=run.clock(),
    )
    now = run.clock()
    run.store.append(
        [
            NewEvent(
                source="rules",
                key="raise:esc-canary",
                occurred_at=now,
                received_at=now,
                payload=raised,
            )
        ]
    )
    state.apply_all(run.store.read_from(state.seq, 1_000_000))
    desk = EscalationDesk(run.store, run.clock)
    desk.ack(state.escalations["esc-canary"], "Sam Lead", "Calling the customer back")
    assert run.store.outbox_pending_count() == 1
    return Collector(run.store, [adapter], COMPLAINTS, targets(), run.clock)


async def test_zendesk_tokens_go_nowhere_but_zendesk(
    zendesk: tuple[FakeZendesk, Run], debug_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, run = zendesk
    sink = StoreSink(run.store, "zendesk", run.clock)
    good = zendesk_adapter(fake, run)
    await poll_all(good, sink)
    assert last_health(sink) is HealthState.CONNECTED

    # a wrong token: the source is down, and the call raises AuthFailed
    wrong = zendesk_adapter(fake, run, token=ZD_WRONG)
    await poll_all(wrong, sink)
    assert last_health(sink) is HealthState.DOWN
    await run.expect_error(AuthFailed, wrong.api.get("/api/v2/users.json"))
    await run.expect_error(ApiError, wrong.sync_once(sink))

    # the helpdesk answers 401, 500 and a body that is not JSON to the right token
    for fault, kind in (("401", AuthFailed), ("500", ServerError), ("malformed", BadBody)):
        fake.inject("/api/v2/groups", fault)
        await run.expect_error(kind, good.api.get("/api/v2/groups.json"))
        fake.inject("/api/v2/incremental/tickets", fault)
        run.clock.advance(400)
        await poll_all(good, sink)
    assert any(h.state is HealthState.DEGRADED for h in sink.health_reports)

    # nobody answers at all
    gone = zendesk_adapter(fake, run, base_url="http://127.0.0.1:9")
    await run.expect_error(Unreachable, gone.api.get("/api/v2/users.json"))

    # the write-back fails: the helpdesk errs, then the token is refused
    collector = await raise_and_ack(run, good)
    fake.inject("/api/v2/tickets/", "500", count=5)
    assert await collector.deliver_outbox() == 0
    refused = Collector(run.store, [wrong], COMPLAINTS, targets(), run.clock)
    run.clock.advance(3600)
    assert await refused.deliver_outbox() == 0
    assert run.store.outbox_pending_count() == 1
    await good.api.close()

    secrets = needles(ZD_CANARY, ZD_WRONG, zendesk=True)
    await assert_canary_nowhere(run, secrets, debug_log, caplog)


# -- Freshdesk -------------------------------------------------------------------------------


@pytest.fixture
async def freshdesk(tmp_path: Path) -> AsyncIterator[tuple[FakeFreshdesk, Run]]:
    clock = FakeClock(EPOCH)
    fake = FakeFreshdesk(api_key=FD_CANARY, clock=clock, plan="pro")
    await fake.start()
    sim = FloorSimulation(SimOptions(seed=6, agents=12, speed=None, warmup_s=0), EPOCH)
    clock.advance(2 * 3600)
    fake.feed(sim.advance(2 * 3600))
    store = SQLiteStore(tmp_path / "floor.db")
    try:
        yield fake, Run(store, clock)
    finally:
        store.close()
        await fake.stop()


def freshdesk_adapter(fake: FakeFreshdesk, run: Run, **over: Any) -> FreshdeskAdapter:
    settings = FreshdeskSettings(
        base_url=fake.base_url, api_key=FD_CANARY, write_back=True, backfill_s=2 * 86400
    )
    adapter = FreshdeskAdapter("freshdesk", replace(settings, **over), clock=run.clock)
    run.adapters.append(adapter)
    return adapter


async def sync_freshdesk(adapter: FreshdeskAdapter, sink: StoreSink, clock: FakeClock) -> None:
    """Every task until the ticket list is read to its end, minute by minute if need be."""
    for task in adapter.tasks:
        task.due_at = 0
    for _ in range(30):
        await adapter.poll_due(sink)
        if adapter.task("tickets").failures == 0 and adapter._cursor["page"] == 1:
            return
        clock.advance(61)
        for task in adapter.tasks:
            task.due_at = min(task.due_at, clock())
    raise AssertionError("the ticket list never ended")


async def test_freshdesk_keys_go_nowhere_but_freshdesk(
    freshdesk: tuple[FakeFreshdesk, Run], debug_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, run = freshdesk
    sink = StoreSink(run.store, "freshdesk", run.clock)
    good = freshdesk_adapter(fake, run)
    await sync_freshdesk(good, sink, run.clock)
    assert last_health(sink) is HealthState.CONNECTED

    wrong = freshdesk_adapter(fake, run, api_key=FD_WRONG)
    await poll_all(wrong, sink)
    assert last_health(sink) is HealthState.DOWN
    await run.expect_error(AuthFailed, wrong.api.get("/api/v2/agents"))
    await run.expect_error(ApiError, wrong.sync_once(sink))

    for fault, kind in (("401", AuthFailed), ("500", ServerError), ("malformed", BadBody)):
        fake.inject("/api/v2/groups", fault)
        await run.expect_error(kind, good.api.get("/api/v2/groups"))
        fake.inject("/api/v2/tickets", fault)
        run.clock.advance(400)
        await poll_all(good, sink)
    assert any(h.state is HealthState.DEGRADED for h in sink.health_reports)

    gone = freshdesk_adapter(fake, run, base_url="http://127.0.0.1:9")
    await run.expect_error(Unreachable, gone.api.get("/api/v2/agents"))

    collector = await raise_and_ack(run, good)
    fake.inject("/api/v2/tickets/", "500", count=5)
    assert await collector.deliver_outbox() == 0
    refused = Collector(run.store, [wrong], COMPLAINTS, targets(), run.clock)
    run.clock.advance(3600)
    assert await refused.deliver_outbox() == 0
    assert run.store.outbox_pending_count() == 1
    await good.api.close()

    secrets = needles(FD_CANARY, FD_WRONG, zendesk=False)
    await assert_canary_nowhere(run, secrets, debug_log, caplog)


# -- files that hold or point at secrets -----------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_a_token_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "zendesk.token"
    path.write_text(ZD_CANARY + "\n", encoding="utf-8")
    path.chmod(mode)
    with pytest.raises(SourceSetupError) as info:
        read_secret(file=str(path), what="source 'zendesk'")
    assert f"chmod 600 {path}" in str(info.value)
    assert ZD_CANARY not in str(info.value) and ZD_CANARY not in repr(info.value)
    config = {"base_url": "http://127.0.0.1:9", "email": EMAIL, "token_file": str(path)}
    with pytest.raises(SourceSetupError):
        ZendeskAdapter.from_config("zendesk", config, clock=lambda: EPOCH)
    with pytest.raises(SourceSetupError) as fd_info:
        FreshdeskAdapter.from_config(
            "freshdesk",
            {"base_url": "http://127.0.0.1:9", "api_key_file": str(path)},
            clock=lambda: EPOCH,
        )
    assert ZD_CANARY not in str(fd_info.value)
    path.chmod(0o600)
    assert read_secret(file=str(path), what="source 'zendesk'") == ZD_CANARY
    adapter = ZendeskAdapter.from_config("zendesk", config, clock=lambda: EPOCH)
    assert ZD_CANARY not in repr(adapter.settings) + pretty_repr(adapter.settings)


def test_a_token_from_the_environment_is_not_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FD_KEY", FD_CANARY)
    adapter = FreshdeskAdapter.from_config(
        "freshdesk", {"base_url": "http://127.0.0.1:9", "api_key_env": "FD_KEY"}, lambda: EPOCH
    )
    texts = object_texts(adapter)
    assert {k: v for k, v in texts.items() if leaks(v, needles(FD_CANARY, zendesk=False))} == {}


def test_a_recording_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "floor.db"
    store = SQLiteStore(path)
    store.append([])
    wal = Path(f"{path}-wal")
    modes = {p.name: p.stat().st_mode & 0o777 for p in (path, wal) if p.exists()}
    store.close()
    assert modes and all(mode & 0o077 == 0 for mode in modes.values()), modes
    for mode in (0o644, 0o640, 0o604):
        path.chmod(mode)
        with pytest.raises(StoreError, match="chmod 600"):
            SQLiteStore(path)
        with pytest.raises(StoreError, match="chmod 600"):
            SQLiteStore(path, read_only=True)
    path.chmod(0o600)
    SQLiteStore(path, read_only=True).close()


def write_config(path: Path, token_file: Path) -> None:
    path.write_text(
        "[floor]\n"
        'name = "Canary floor"\n\n'
        "[[sources]]\n"
        'name = "zendesk"\n'
        'kind = "zendesk"\n'
        'subdomain = "canary"\n'
        f'email = "{EMAIL}"\n'
        f'token_file = "{token_file}"\n',
        encoding="utf-8",
    )


def test_a_config_is_loaded_only_when_others_cannot_change_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_config(path, tmp_path / "zendesk.token")
    path.chmod(0o600)
    assert load_config(path).floor.name == "Canary floor"
    path.chmod(0o666)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_config(path)


@pytest.mark.parametrize("mode", [0o644, 0o640], ids=oct)
def test_a_config_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "config.toml"
    write_config(path, tmp_path / "zendesk.token")
    path.chmod(mode)
    try:
        load_config(path)
    except ConfigError as exc:
        assert "chmod" in str(exc)
        return
    raise AssertionError(f"a config others can read (mode {mode:o}) was loaded")


def test_the_canary_helpers_find_what_they_look_for() -> None:
    """The checks above can fail: a leak in each place they look is found."""
    secrets = needles(ZD_CANARY, zendesk=True)
    header = "Authorization: Basic " + basic(f"{EMAIL}/token", ZD_CANARY)
    assert leaks(header, secrets) == [secrets[1]]
    assert leaks(json.dumps({"token": ZD_CANARY}), secrets) == [ZD_CANARY]
    try:
        raise AuthFailed(f"refused {ZD_CANARY}")
    except AuthFailed as exc:
        assert all(ZD_CANARY in text for text in exception_texts(exc).values())

    def refuse(token: str) -> None:
        raise AuthFailed("refused")  # the message is clean, a frame's local is not

    try:
        refuse(ZD_CANARY)
    except AuthFailed as exc:
        texts = exception_texts(exc)
        assert ZD_CANARY not in texts["str"] + texts["traceback"]
        assert ZD_CANARY in texts["rich traceback with locals"]
