"""One collector, many terminals: the hub and its watchers over real websockets on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from supervisor_tui.config import ConfigError, parse_config
from supervisor_tui.core.projection import FloorState
from supervisor_tui.hub import server as hub_server
from supervisor_tui.hub.client import HubClient, RemoteDesk
from supervisor_tui.hub.protocol import TokenEntry, hash_token
from supervisor_tui.hub.server import Hub
from supervisor_tui.model import EscalationAcked, Event, NewEvent
from supervisor_tui.store import SQLiteStore

from .conftest import EPOCH, record_floor, simulate, targets

SUPERVISE = "supervise-token-for-tests"
VIEW = "view-token-for-tests"
TOKENS = [
    TokenEntry("Sam Lead", "supervise", hash_token(SUPERVISE)),
    TokenEntry("Wall", "view", hash_token(VIEW)),
]


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    store = record_floor(tmp_path / "floor.db", until_s=2 * 3600)
    h = Hub(store, TOKENS, targets(), lambda: EPOCH + 7200, port=0, send_queue=16)
    await h.start()
    yield h
    await h.stop()
    store.close()


def url(h: Hub) -> str:
    return f"ws://127.0.0.1:{h.port}"


async def until(predicate: object, timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


_POOL: list[NewEvent] = []


def more_events(store: SQLiteStore, start_s: float, count: int, tag: str) -> None:
    """Append simulated events (re-keyed so they are new) like a collector would."""
    if not _POOL:
        _POOL.extend(simulate(seed=11, until_s=2 * 3600))
    fresh = _POOL[:count]
    store.append([e.model_copy(update={"key": f"{tag}:{i}"}) for i, e in enumerate(fresh)])


def drained(client: HubClient) -> FloorState:
    state = FloorState(targets())
    snapshot = client.take_snapshot()
    if snapshot is not None:
        state = snapshot[1]
    state.apply_all(client.read_from(state.seq, 10**7))
    return state


async def test_watcher_gets_the_floor_then_every_new_event(hub: Hub) -> None:
    client = HubClient(url(hub), VIEW, targets())
    client.start()
    await until(lambda: client.seq == hub.state.seq and hub.state.seq > 0)
    assert client.scope == "view" and client.name == "Wall"
    more_events(hub.store, 0, 500, "a")  # type: ignore[arg-type]
    await until(lambda: client.seq == hub.store.last_seq())
    state = drained(client)
    live = FloorState(targets())
    live.apply_all(hub.store.read_from(0, 10**7))
    assert state.snapshot() == live.snapshot()  # the terminal's floor is the collector's
    client.close()


async def test_resume_after_a_drop_sends_only_what_was_missed(hub: Hub) -> None:
    client = HubClient(url(hub), VIEW, targets())
    client.start()
    await until(lambda: client.seq == hub.state.seq)
    seen = [e.seq for e in client.read_from(0, 10**7)]
    client.close()
    await asyncio.sleep(0.1)
    more_events(hub.store, 0, 300, "b")  # type: ignore[arg-type]
    resumed = HubClient(url(hub), VIEW, targets())
    resumed.seq = seen[-1]  # it had everything up to here
    resumed.start()
    await until(lambda: resumed.seq == hub.store.last_seq())
    got = [e.seq for e in resumed.read_from(0, 10**7)]
    assert got == list(range(seen[-1] + 1, hub.store.last_seq() + 1))  # no gap, no repeat
    resumed.close()


async def test_a_dead_hub_shows_and_the_link_comes_back(tmp_path: Path) -> None:
    store = record_floor(tmp_path / "f.db", until_s=3600)
    first = Hub(store, TOKENS, targets(), lambda: EPOCH, port=0)
    port = await first.start()
    client = HubClient(f"ws://127.0.0.1:{port}", VIEW, targets())
    client.start()
    await until(lambda: client.link_status() == "hub: live")
    await first.stop()
    await until(lambda: client.link_status().startswith("hub: reconnecting ("))
    more_events(store, 0, 200, "c")
    second = Hub(store, TOKENS, targets(), lambda: EPOCH, port=port)
    await second.start()
    await until(lambda: client.link_status() == "hub: live" and client.seq == store.last_seq())
    assert client.connects == 2
    client.close()
    await second.stop()
    store.close()


async def test_a_stalled_watcher_is_resynced_and_slows_no_one(hub: Hub) -> None:
    healthy = HubClient(url(hub), VIEW, targets())
    healthy.start()
    async with connect(url(hub), max_size=None) as stalled:
        await stalled.send(json.dumps({"type": "hello", "token": VIEW, "last_seq": 0}))
        await until(lambda: len(hub.watchers) == 2)
        # the stalled one never reads again; its socket buffers fill, then its queue
        stalled.transport.pause_reading()  # type: ignore[attr-defined]
        # until the hub resyncs it (a loaded machine reads the store in bigger batches, so
        # fewer frames queue: 150 batches were not always enough)
        for batch in range(400):
            more_events(hub.store, 0, 400, f"s{batch}")  # type: ignore[arg-type]
            await asyncio.sleep(0.005)
            if hub.resyncs:
                break
        await until(lambda: healthy.seq == hub.store.last_seq(), timeout=30)
        assert hub.resyncs >= 1  # dropped to a snapshot instead of growing without bound
        assert all(w.queue.qsize() <= hub.send_queue for w in hub.watchers)
        state = drained(healthy)
        assert state.seq == hub.store.last_seq()
    healthy.close()


async def test_frames_written_at_once_and_queued_reach_each_watcher_in_order(hub: Hub) -> None:
    """The hub writes a batch at once to watchers waiting with nothing queued and queues it for
    the others: a watcher that stops reading for a while (its frames queue, then perhaps a
    snapshot), one that comes back mid-stream (it catches up from the store while batches
    keep coming) and one that reads on all get every event once, each frame taking up where
    the last left off."""
    ends: dict[str, int] = {}

    async def watch(name: str, since: int, pause_after: int | None = None) -> None:
        async with connect(url(hub), max_size=None) as ws:
            await ws.send(json.dumps({"type": "hello", "token": VIEW, "last_seq": since}))
            last, frames = since, 0
            async for frame in ws:
                message = json.loads(frame)
                if message["type"] == "snapshot":
                    last = message["seq"]
                elif message["type"] == "events":
                    seqs = [e["seq"] for e in message["events"]]
                    assert seqs and seqs == list(range(last + 1, last + 1 + len(seqs))), name
                    last = seqs[-1]
                    frames += 1
                    if frames == pause_after:
                        ws.transport.pause_reading()  # type: ignore[attr-defined]
                        await asyncio.sleep(0.6)
                        ws.transport.resume_reading()  # type: ignore[attr-defined]
                ends[name] = last
                if all_in.is_set() and last == hub.store.last_seq():
                    return  # (a tick frame comes every second)

    # a slow store (the hub reads it in threads) widens the windows where frames could pass
    # each other: a catch-up in progress, a batch read but not yet sent
    store = hub.store
    read_from, read_range = store.read_from, store.read_range  # type: ignore[attr-defined]

    def slow_from(after_seq: int, limit: int = 10_000) -> list[Event]:
        time.sleep(0.03)
        return read_from(after_seq, limit)  # type: ignore[no-any-return]

    def slow_range(after_seq: int, upto_seq: int) -> list[Event]:
        time.sleep(0.1)
        return read_range(after_seq, upto_seq)  # type: ignore[no-any-return]

    store.read_from, store.read_range = slow_from, slow_range  # type: ignore[attr-defined]
    all_in = asyncio.Event()
    watchers = [
        asyncio.create_task(watch("reads on", 0)),
        asyncio.create_task(watch("stops a while", 0, pause_after=3)),
    ]
    await until(lambda: len(hub.watchers) == 2)
    for batch in range(60):
        more_events(hub.store, 0, 300, f"o{batch}")  # type: ignore[arg-type]
        if batch == 5:
            since = hub.state.seq - 3_000  # within what the hub holds: caught up by events
            watchers.append(asyncio.create_task(watch("comes back", since)))
        await asyncio.sleep(0.01)
    all_in.set()
    await asyncio.wait_for(asyncio.gather(*watchers), 30)
    assert set(ends.values()) == {hub.store.last_seq()} and len(ends) == 3


async def test_wrong_or_missing_token_is_refused(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    async with connect(url(hub)) as ws:
        await ws.send(json.dumps({"type": "hello", "token": "nope", "last_seq": 0}))
        reply = json.loads(await ws.recv())
        assert reply == {"type": "error", "error": "unknown token", "code": "unknown_token"}
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    monkeypatch.setattr(hub_server, "HELLO_TIMEOUT_S", 0.3)
    async with connect(url(hub)) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()  # no hello: closed
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    client = HubClient(url(hub), "wrong", targets())
    client.start()
    await until(lambda: client.refused is not None)
    assert client.link_status() == "hub: refused (unknown token)"
    assert hub.refused == 3


async def test_acks_go_through_the_hub_with_the_token_name(hub: Hub) -> None:
    sam = HubClient(url(hub), SUPERVISE, targets())
    wall = HubClient(url(hub), VIEW, targets())
    sam.start()
    wall.start()
    await until(lambda: sam.seq == hub.state.seq and wall.seq == hub.state.seq)
    esc = next(e for e in hub.state.escalations.values() if e.is_open)
    await asyncio.to_thread(RemoteDesk(sam).ack, esc, "ignored", "moving two agents")
    acked = [e for e in hub.store.events_of_kind("escalation.acked")]  # type: ignore[attr-defined]
    assert len(acked) == 1 and isinstance(acked[0].payload, EscalationAcked)
    assert acked[0].payload.by == "Sam Lead" and acked[0].payload.note == "moving two agents"
    # it comes back to every terminal
    await until(lambda: sam.seq == acked[0].seq and wall.seq == acked[0].seq)
    for client in (sam, wall):
        state = drained(client)
        assert state.escalations[esc.escalation_id].acked_by == "Sam Lead"
    # a view token cannot act
    other = next(e for e in hub.state.escalations.values() if e.is_open and e.acked_by is None)
    with pytest.raises(Exception, match="scope view"):
        await asyncio.to_thread(RemoteDesk(wall).ack, other, "Wall", "")
    assert len(hub.store.events_of_kind("escalation.acked")) == 1  # type: ignore[attr-defined]
    sam.close()
    wall.close()


async def test_bad_frames_are_dropped_without_harm(hub: Hub) -> None:
    watcher = HubClient(url(hub), VIEW, targets())
    watcher.start()
    async with connect(url(hub), max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "token": SUPERVISE, "last_seq": 0}))
        await ws.send("{not json")
        await ws.send(json.dumps({"type": "command", "id": "1", "action": "explode"}))
        await ws.send(json.dumps({"no": "type"}))
        await ws.send("x" * (2 << 20))  # over the hub's frame limit: it closes this one
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.recv()
    more_events(hub.store, 0, 50, "d")  # type: ignore[arg-type]
    await until(lambda: watcher.seq == hub.store.last_seq())  # the others never noticed
    assert not hub.store.events_of_kind("escalation.acked")  # type: ignore[attr-defined]
    watcher.close()


def test_the_hub_refuses_a_public_address_without_tls() -> None:
    with pytest.raises(ConfigError, match="not a loopback address: set tls_cert and tls_key"):
        parse_config({"hub": {"listen": "0.0.0.0:8765"}}, "site.toml")
    ok = parse_config(
        {"hub": {"listen": "0.0.0.0:8765", "tls_cert": "c.pem", "tls_key": "k.pem"}}, "site.toml"
    )
    assert ok.hub.address() == ("0.0.0.0", 8765)


def test_tokens_are_kept_as_hashes_only() -> None:
    config = parse_config(
        {"hub": {"tokens": [{"name": "A", "scope": "view", "sha256": hash_token("plain-xyz-42")}]}},
        "x",
    )
    assert "plain-xyz-42" not in json.dumps(config.hub.model_dump(mode="json"))
    with pytest.raises(ConfigError):
        parse_config({"hub": {"tokens": [{"name": "A", "scope": "view", "sha256": "t"}]}}, "x")


async def test_watch_dashboard_acks_through_the_hub(hub: Hub) -> None:
    """The real app on a hub link: the floor arrives, an ack made there is written by the hub
    with the token's name, and the link shows in the freshness bar."""
    from supervisor_tui.app import FloorSettings, SupervisorApp
    from supervisor_tui.core.rules import RuleEngine
    from supervisor_tui.model import EscalationStatus
    from supervisor_tui.widgets import EscalationFeed, FreshnessBar, QueueTile

    from .conftest import rules
    from .test_app import wait_for

    client = HubClient(url(hub), SUPERVISE, targets())
    settings = FloorSettings(
        floor_name="Hub floor", operator="ignored", targets=targets(), rules=rules()
    )
    assert isinstance(settings.rules, RuleEngine)
    app = SupervisorApp(client, settings, clock=lambda: EPOCH + 7200, desk=RemoteDesk(client))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: len(app.query(QueueTile)) == 5, "the floor from the hub")
        feed = app.query_one(EscalationFeed)
        await wait_for(pilot, lambda: feed.selected is not None, "an escalation")
        esc = feed.selected
        assert esc is not None
        await pilot.press("a")
        await pilot.press(*"on it")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.board.state.escalations[esc.escalation_id].status is EscalationStatus.ACKED,
            "the ack, back from the hub",
        )
        assert app.board.state.escalations[esc.escalation_id].acked_by == "Sam Lead"
        bar = app.query_one(FreshnessBar)
        assert "hub: live" in str(bar.render())
    client.close()


async def test_two_collectors_one_postgres_one_hub(pg_url: str) -> None:
    """Two collectors (one per helpdesk, say) write to one PostgreSQL floor from their own
    processes' connections; the hub, reading the same floor, sends both to its terminals."""
    from supervisor_tui.store import PostgresStore

    from .pg import new_schema

    schema = new_schema()
    hub_store = PostgresStore(pg_url, schema=schema)
    east = PostgresStore(pg_url, schema=schema)
    west = PostgresStore(pg_url, schema=schema)
    h = Hub(hub_store, TOKENS, targets(), lambda: EPOCH, port=0)
    await h.start()
    client = HubClient(url(h), VIEW, targets())
    client.start()
    await until(lambda: client.link_status() == "hub: live")
    if not _POOL:
        _POOL.extend(simulate(seed=11, until_s=2 * 3600))

    def feed(store: PostgresStore, source: str) -> None:
        for i in range(0, 600, 50):
            store.append(
                [
                    e.model_copy(update={"source": source, "key": f"{source}:{i + j}"})
                    for j, e in enumerate(_POOL[i : i + 50])
                ]
            )

    await asyncio.gather(
        asyncio.to_thread(feed, east, "east"), asyncio.to_thread(feed, west, "west")
    )
    await until(lambda: client.seq == 1200)
    got = client.read_from(0, 10**6)
    assert [e.seq for e in got] == list(range(1, 1201))
    assert {e.source for e in got} == {"east", "west"}
    client.close()
    await h.stop()
    for s in (hub_store, east, west):
        s.close()


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_one_frame_written_to_every_connection_reads_as_the_library_sends_it(
    compression: str | None,
) -> None:
    """``write_to_all`` serializes a frame once and writes the same bytes to each connection
    without an extension; one with an extension (permessage-deflate here) goes through the
    library's broadcast; a connection closing is skipped. Each client reads the text sent,
    large (a 16-bit and a 64-bit length) or small, in order."""
    server_side: list[Any] = []
    gone = asyncio.Event()

    async def handler(ws: Any) -> None:
        server_side.append(ws)
        await gone.wait()

    frames = [
        b'{"type":"tick"}',
        json.dumps({"x": "é" * 300}).encode(),
        b"[" + b"1," * 40_000 + b"1]",
    ]
    async with serve(handler, "127.0.0.1", 0, compression=compression) as server:
        port = server.sockets[0].getsockname()[1]
        clients = [
            await connect(f"ws://127.0.0.1:{port}", compression=compression, max_size=None)
            for _ in range(3)
        ]
        await until(lambda: len(server_side) == 3)
        assert all(bool(ws.protocol.extensions) == (compression is not None) for ws in server_side)
        await clients[2].close()
        await until(lambda: server_side[2].protocol.state is not State.OPEN)
        writes = {id(ws): 0 for ws in server_side}
        for ws in server_side:
            write = ws.transport.write

            def counted(data: bytes, ws: Any = ws, write: Any = write) -> None:
                writes[id(ws)] += 1
                write(data)

            ws.transport.write = counted
            if compression is None:  # the same bytes for every connection: not each made

                def made_again(*args: Any) -> None:
                    raise AssertionError("a frame serialized for one connection")

                ws.protocol.send_text = made_again
        for frame in frames:
            hub_server.write_to_all(server_side, frame)
        for client in clients[:2]:
            for frame in frames:
                assert await asyncio.wait_for(client.recv(), 5) == frame.decode()
        assert writes[id(server_side[2])] == 0  # closed: skipped, nothing raised
        assert writes[id(server_side[0])] == len(frames)
        gone.set()
        for client in clients[:2]:
            await client.close()
