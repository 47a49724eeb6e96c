"""The hub's door against hostile peers, over real websockets on loopback: big or half frames
before the hello, floods of connections, deep JSON, loosely typed commands, and a fuzz of
random frames. Each time the hub stays up, logs one line (no traceback), and still serves a
well-behaved terminal."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection as SyncConnection
from websockets.sync.client import connect as sync_connect

from supervisor_tui.hub.client import HubClient
from supervisor_tui.hub.protocol import MAX_HELLO, MAX_MESSAGE
from supervisor_tui.hub.server import Hub
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, record_floor, targets
from .doors import LoopThread, fuzz_examples, tracebacks
from .test_hub import SUPERVISE, TOKENS, VIEW, until, url


async def hub_with(tmp_path: Path, **caps: int) -> Hub:
    store = record_floor(tmp_path / "floor.db", until_s=3600)
    h = Hub(store, TOKENS, targets(), lambda: EPOCH + 3600, port=0, **caps)
    await h.start()
    return h


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    h = await hub_with(tmp_path, per_peer=8, max_connections=64)
    yield h
    await h.stop()
    h.store.close()


async def close_code(ws: ClientConnection, bound_s: float = 15.0) -> int | None:
    """The code the hub closed this connection with (frames before it are skipped)."""

    async def wait() -> int | None:
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else None

    return await asyncio.wait_for(wait(), bound_s)


def half_frame(declared: int, sent: int) -> bytes:
    """A masked text frame's header announcing ``declared`` bytes, and ``sent`` of them."""
    return b"\x81" + bytes([0x80 | 127]) + declared.to_bytes(8, "big") + b"\0\0\0\0" + b"x" * sent


async def served(h: Hub) -> None:
    """A well-behaved terminal connects, says hello and gets the whole floor."""
    client = HubClient(url(h), VIEW, targets())
    client.start()
    try:
        await until(lambda: client.state == "live" and client.seq == h.state.seq)
    finally:
        client.close()


async def test_a_big_hello_is_refused_before_it_is_read(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: a 1 MB frame was read whole from anyone, before any hello."""
    hello = {"type": "hello", "token": SUPERVISE, "last_seq": 0, "user": "x" * 100_000}
    async with connect(url(hub), max_size=None) as ws:
        await ws.send(json.dumps(hello))
        assert await close_code(ws) == 1009  # message too big
    assert not hub.watchers
    # a big frame right behind a good hello (before the welcome) is read at the hello's limit
    async with connect(url(hub), max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "token": SUPERVISE, "last_seq": 0}))
        await ws.send("[" * 50_000)
        assert await close_code(ws) == 1009
    await served(hub)
    assert not tracebacks(caplog.records)


async def test_half_frames_and_a_flood_are_refused_and_let_go(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: 1,000 half-sent 1 MB frames were each held open; the hub took 1.1 GB."""
    caplog.set_level(logging.WARNING)
    # the address's 8 connections, silent for now
    held = [await connect(url(hub)) for _ in range(8)]
    await until(lambda: hub.limits.count() == 8)
    # more from the same address are closed at once, politely: 1013 "try again later"
    extra = [await connect(url(hub)) for _ in range(5)]
    assert [await close_code(ws) for ws in extra] == [1013] * 5
    assert hub.limits.refused == 5
    refusals = [r for r in caplog.records if "refused a connection from 127.0.0.1" in r.message]
    assert len(refusals) == 1  # one line for the flood, not one per connection
    # each held one starts a 1 MB frame and stalls: closed at the header, nothing buffered
    for ws in held:
        ws.transport.write(half_frame(1 << 20, 3000))
    assert [await close_code(ws) for ws in held] == [1009] * 8
    await until(lambda: hub.limits.count() == 0)
    await served(hub)
    await until(lambda: not hub.watchers and hub.limits.count() == 0)  # all let go afterwards
    assert not tracebacks(caplog.records)


async def test_the_total_cap_and_the_hello_time_limit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from supervisor_tui.hub import server as hub_server

    monkeypatch.setattr(hub_server, "HELLO_TIMEOUT_S", 0.5)
    h = await hub_with(tmp_path, per_peer=100, max_connections=4)
    try:
        held = [await connect(url(h)) for _ in range(4)]
        await until(lambda: h.limits.count() == 4)
        over = await connect(url(h))
        assert await close_code(over) == 1013
        # the silent ones get no more than the hello's time, then 1008
        for ws in held:
            ws.transport.write(half_frame(MAX_HELLO - 100, 10))  # within the size, never ended
        assert [await close_code(ws) for ws in held] == [1008] * 4
        await until(lambda: h.limits.count() == 0)
        await served(h)
    finally:
        await h.stop()
        h.store.close()
    assert not tracebacks(caplog.records)


async def hello(ws: ClientConnection, token: str = SUPERVISE) -> None:
    await ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 10**9}))
    while json.loads(await ws.recv())["type"] != "welcome":
        pass


async def result(ws: ClientConnection) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == "result":
                return message

    return await asyncio.wait_for(wait(), 15)


async def test_deep_json_is_refused_in_one_line_without_a_traceback(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: each deep frame logged a RecursionError traceback and cut the terminal off."""
    caplog.set_level(logging.WARNING)
    async with connect(url(hub)) as ws:
        await hello(ws)
        for deep in ("[" * 50_000, '{"a":' * 10_000 + "1" + "}" * 10_000, "[" * 9 + "]" * 9):
            await ws.send(deep)
            answer = await result(ws)
            assert answer["ok"] is False and "nested deeper than 8" in answer["error"]
        # the same terminal still acts
        esc = next(e for e in hub.state.escalations.values() if e.is_open)
        command = {
            "type": "command",
            "id": "ok",
            "action": "ack",
            "escalation_id": esc.escalation_id,
        }
        await ws.send(json.dumps(command))
        assert (await result(ws))["ok"] is True
    bad = [r for r in caplog.records if "sent a bad frame" in r.message]
    assert len(bad) == 1  # three frames, one line (the rest are counted on the next)
    assert not tracebacks(caplog.records)
    # before the hello too: refused, closed, no traceback
    async with connect(url(hub)) as ws:
        await ws.send("[" * 3000)
        assert await close_code(ws) == 1008
    assert not tracebacks(caplog.records)


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"action": "note", "note": {"text": "an object"}}, "note: Input should be a valid string"),
        ({"action": "ack", "note": ["a", "list"]}, "note: Input should be a valid string"),
        ({"action": "snooze", "minutes": True}, "minutes: Input should be a valid integer"),
        ({"action": "snooze", "minutes": "15"}, "minutes: Input should be a valid integer"),
        ({"action": "snooze", "minutes": 15.5}, "minutes: Input should be a valid integer"),
        ({"action": "snooze", "minutes": 0}, "minutes: Input should be greater than or equal"),
        ({"action": "snooze", "minutes": 10**9}, "minutes: Input should be less than or equal"),
        ({"action": "note", "note": "x" * 2001}, "note: String should have at most 2000"),
        ({"action": "note", "note": ""}, "note: String should have at least 1"),
        ({"action": "ack", "escalation_id": 7}, "escalation_id: Input should be a valid string"),
        ({"action": "ack", "by": "someone else"}, "by: Extra inputs are not permitted"),
        ({"action": "explode"}, "does not match any of the expected tags"),
        ({"action": None}, "action"),
    ],
)
async def test_loosely_typed_commands_are_refused_and_nothing_is_stored(
    hub: Hub, fields: dict[str, Any], complaint: str
) -> None:
    """Before: a note given as an object was stored as its text, ``minutes: true`` snoozed
    for a minute."""
    esc = next(e for e in hub.state.escalations.values() if e.is_open)
    command = {"type": "command", "id": "c1", "escalation_id": esc.escalation_id, **fields}
    store: SQLiteStore = hub.store  # type: ignore[assignment]
    before = store.last_seq()
    async with connect(url(hub)) as ws:
        await hello(ws)
        await ws.send(json.dumps(command))
        answer = await result(ws)
    assert answer["id"] == "c1" and answer["ok"] is False
    assert answer["error"].startswith("bad command") and complaint in answer["error"]
    assert "an object" not in answer["error"]  # the input is not echoed back
    assert store.last_seq() == before  # nothing stored


async def test_a_whole_minute_snooze_through_the_remote_desk_is_taken(hub: Hub) -> None:
    from supervisor_tui.hub.client import RemoteDesk

    sam = HubClient(url(hub), SUPERVISE, targets())
    sam.start()
    await until(lambda: sam.state == "live")
    esc = next(e for e in hub.state.escalations.values() if e.is_open)
    await asyncio.to_thread(RemoteDesk(sam).snooze, esc, "ignored", 15.0)  # the app's float
    snoozed = hub.store.events_of_kind("escalation.snoozed")  # type: ignore[attr-defined]
    assert len(snoozed) == 1 and snoozed[0].payload.by == "Sam Lead"
    sam.close()


# -- fuzz: random and hostile frames from a real websocket client --------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_commands = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["command", "hello", "tick", "bogus"]) | _json,
        "action": st.sampled_from(["ack", "note", "snooze", "resolve", "explode"]) | _json,
    },
    optional={
        "id": st.text(max_size=80) | _json,
        "escalation_id": st.text(max_size=300) | _json,
        "note": st.text(max_size=2500) | _json,
        "minutes": st.integers(-10, 2000) | _json,
        "token": st.text(max_size=30),
    },
).map(json.dumps)
_deep = st.builds(
    lambda n, opener, closer: opener * n + closer * n,
    st.integers(1, 20_000),
    st.sampled_from(["[", '{"a":[', '["{', "[["]),
    st.sampled_from(["]", "]}", "", "}]"]),
)
_huge = st.integers(MAX_MESSAGE - 200, 2 * MAX_MESSAGE).map(
    lambda n: json.dumps({"type": "command", "action": "note", "note": "é" * (n // 2)})
)
FRAMES = st.one_of(
    _commands, _json.map(json.dumps), _deep, _huge, st.text(max_size=300), st.binary(max_size=300)
)


@pytest.fixture(scope="module")
def hub_thread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, LoopThread]]:
    loop = LoopThread()
    h = loop.run(hub_with(tmp_path_factory.mktemp("fuzz")))
    yield h, loop
    loop.run(h.stop())
    h.store.close()
    loop.close()


class _Terminal:
    """One supervise connection, reopened when the hub closes it."""

    def __init__(self, address: str, eager: bool) -> None:
        self.address = address
        self.eager = eager  # sends its first frame right behind the hello, not after the welcome
        self.ws: SyncConnection | None = None
        self.welcomed = False
        self.opened = ExitStack()

    def open(self) -> SyncConnection:
        if self.ws is None:
            self.opened.close()
            self.ws = self.opened.enter_context(
                sync_connect(self.address, max_size=None, open_timeout=10)
            )
            self.ws.send(json.dumps({"type": "hello", "token": SUPERVISE, "last_seq": 10**9}))
            self.welcomed = not self.eager
            if self.welcomed:
                while json.loads(self.ws.recv(10))["type"] != "welcome":
                    pass
        return self.ws

    def limit(self) -> int:
        """The frame size the hub holds this connection to now."""
        return MAX_MESSAGE if self.welcomed else MAX_HELLO

    def exchange(self, frame: str | bytes) -> dict[str, Any] | int | None:
        """The hub's answer to one frame: its result, or the code it closed with."""
        ws = self.open()
        try:
            ws.send(frame)
            for _ in range(50):  # skip ticks, events and a snapshot; bounded
                message: dict[str, Any] = json.loads(ws.recv(10))
                self.welcomed = self.welcomed or message["type"] == "welcome"
                if message["type"] == "result":
                    return message
            raise AssertionError("no result among 50 frames")
        except ConnectionClosed as exc:
            self.ws = None
            return exc.rcvd.code if exc.rcvd is not None else None


@settings(
    max_examples=fuzz_examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(FRAMES, min_size=1, max_size=4), eager=st.booleans())
def test_fuzz_hub_frames_never_crash_or_trace(
    hub_thread: tuple[Hub, LoopThread],
    caplog: pytest.LogCaptureFixture,
    frames: list[Any],
    eager: bool,
) -> None:
    caplog.clear()  # one example's records (the fixture spans them all)
    caplog.set_level(logging.DEBUG)  # a traceback logged at any level counts
    h, _ = hub_thread
    terminal = _Terminal(url(h), eager)
    stored = h.store.last_seq()
    try:
        for frame in frames:
            size = len(frame.encode() if isinstance(frame, str) else frame)
            terminal.open()
            limit = terminal.limit()
            answer = terminal.exchange(frame)
            if isinstance(answer, dict):
                assert answer.get("ok") is False and isinstance(answer.get("error"), str)
            else:  # only a frame over the limit closes the connection: 1009, message too big
                assert answer == 1009 and size > limit, (answer, size, limit)
    finally:
        terminal.opened.close()
    assert h.store.last_seq() == stored  # no hostile frame wrote anything
    assert not tracebacks(caplog.records)


def test_after_the_fuzz_a_terminal_is_still_served(hub_thread: tuple[Hub, LoopThread]) -> None:
    h, loop = hub_thread
    loop.call(lambda: served(h))
    with sync_connect(url(h)) as ws:
        ws.send(json.dumps({"type": "hello", "token": SUPERVISE, "last_seq": 10**9}))
        while json.loads(ws.recv(10))["type"] != "welcome":
            pass
        esc = next(e for e in h.state.escalations.values() if e.is_open)
        ws.send(
            json.dumps(
                {
                    "type": "command",
                    "id": "n",
                    "action": "note",
                    "escalation_id": esc.escalation_id,
                    "note": "still here",
                }
            )
        )
        for _ in range(1000):
            message = json.loads(ws.recv(10))
            if message["type"] == "result":
                assert message["ok"] is True
                break
    assert [e.payload.note for e in h.store.events_of_kind("escalation.noted")] == ["still here"]  # type: ignore[attr-defined]


async def test_serve_takes_its_caps_from_the_config(tmp_path: Path) -> None:
    """``[hub] max_connections`` and ``per_address`` reach the hub a real ``serve`` runs: a
    floor of many walls raises them, a small one may lower them (issue #20's 1,000 terminals
    are more than the default 512)."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "floor.toml"
    config.write_text(
        f'[store]\npath = "{tmp_path / "floor.db"}"\n'
        f'[hub]\nlisten = "127.0.0.1:{port}"\nmax_connections = 3\nper_address = 2\n'
        '[[hub.tokens]]\nname = "Wall"\nscope = "view"\nsha256 = "' + "0" * 64 + '"\n'
        '[[sources]]\nname = "simulator"\nkind = "simulator"\nagents = 6\nqueues = 2\n'
    )
    config.chmod(0o600)
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "supervisor-tui"), "serve", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
    )
    try:
        assert serve.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(serve.stdout.readline), 60)
        assert b"serving" in line, line
        held = [await connect(f"ws://127.0.0.1:{port}") for _ in range(2)]
        third = await connect(f"ws://127.0.0.1:{port}")
        assert await close_code(third) == 1013  # the address's 2 are taken
        for ws in held:
            await ws.close()
    finally:
        serve.terminate()
        serve.wait(timeout=30)


@pytest.mark.parametrize("format_", [99, 2])
async def test_a_floor_from_the_hub_that_does_not_load_drops_the_link_not_the_terminal(
    format_: int,
) -> None:
    """A hub of a newer version sends its floor in a snapshot format this one does not read
    (99), or a damaged one (2): the terminal's link says so and tries again; before, the
    client's task died of the SnapshotError and the board froze on what it had."""
    hellos = 0

    async def newer_hub(ws: ServerConnection) -> None:
        nonlocal hellos
        await ws.recv()
        hellos += 1
        await ws.send(json.dumps({"type": "welcome", "scope": "view", "user": "v", "floor": {}}))
        state = base64.b64encode(b"\x28\xb5\x2f\xfd not a floor").decode("ascii")
        await ws.send(json.dumps({"type": "snapshot", "seq": 5, "format": format_, "state": state}))
        await ws.wait_closed()

    async with serve(newer_hub, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = HubClient(f"ws://127.0.0.1:{port}", VIEW, targets())
        client.start()
        try:
            await until(lambda: hellos >= 1 and client.state == "reconnecting")
            assert client._task is not None and not client._task.done()
            assert "snapshot" in client.last_error and client.take_snapshot() is None
            assert client.last_error_said == "the hub sent what this version does not read"
        finally:
            client.close()
