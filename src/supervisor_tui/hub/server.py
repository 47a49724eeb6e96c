"""The hub: one process holds the store and the helpdesk tokens; terminals watch it.

It follows the store (the commit doorbell, then ``read_from``) into a FloorState of its
own, and sends every new event to every watcher. A watcher that connects says the last seq
it has: it gets the events after it, or the floor as a snapshot when it is too far behind.
Each watcher has a bounded queue; one that cannot keep up (or stalls) is not waited for: its
queue is dropped and it is resent the floor as a snapshot when it drains, so it never grows
the hub's memory and never slows the others.

Commands (ack, note, snooze, resolve) come from ``supervise`` tokens only, are written by the
hub with the token's name, and come back to every terminal as events.

The door is guarded before anyone is known: a peer address may hold ``per_peer`` connections
and the hub ``max_connections`` (more are closed with 1013 "try again later"); until its
hello is accepted a connection may send frames of ``MAX_HELLO`` bytes only and has
``HELLO_TIMEOUT_S`` to send it; then ``MAX_MESSAGE``. A bad frame is answered (an error
result) and logged in one line, never with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from supervisor_tui.core.commands import CommandRefused, EscalationDesk
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import newest_floor
from supervisor_tui.core.snapshot import SNAPSHOT_FORMAT, freeze
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.hub.limits import (
    HUB_MAX_CONNECTIONS,
    HUB_PER_PEER,
    ConnectionLimits,
    Throttled,
    peer_host,
)
from supervisor_tui.hub.protocol import (
    HELLO_TIMEOUT_S,
    MAX_DEPTH,
    MAX_HELLO,
    MAX_MESSAGE,
    TICK_S,
    AckCommand,
    Command,
    NoteCommand,
    ProtocolError,
    ResolveCommand,
    SnoozeCommand,
    TokenEntry,
    decode,
    events_frame,
    find_token,
    parse_command,
    parse_hello,
    snapshot_frame,
)
from supervisor_tui.model import Event
from supervisor_tui.store import Store, StoreError

log = logging.getLogger(__name__)

SEND_QUEUE = 256
"""Frames waiting for one watcher before it is dropped to a snapshot resync."""
CATCH_UP_MAX = 5_000
"""A watcher further behind than this gets a snapshot instead of the events (one frozen
floor, shared by every watcher that needs it at that seq, is cheaper than the events)."""
READ_BATCH = 2_000
PER_PEER = HUB_PER_PEER
MAX_CONNECTIONS = HUB_MAX_CONNECTIONS
INCOMING_QUEUE = 8
"""Frames a terminal may have waiting to be handled: a terminal sends a command at a time."""


@dataclass(eq=False)
class _Watcher:
    ws: ServerConnection
    token: TokenEntry
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(SEND_QUEUE))
    """Frames to send, UTF-8 text encoded once for every watcher (sent as text frames)."""
    resync: bool = False
    sent_seq: int = 0
    dropped: int = 0
    peer: str = ""
    parked: bool = False
    """Its send loop waits on an empty queue, all sent before written to the connection: a
    frame may be written at once, in order, without waking the loop."""

    def writable(self) -> bool:
        """A frame can be written now without passing one queued or the connection's own
        limit (a terminal that reads slowly gets its frames through the queue, and past the
        queue a snapshot)."""
        if not self.parked or self.resync or not self.queue.empty():
            return False
        transport = self.ws.transport
        return transport.get_write_buffer_size() < transport.get_write_buffer_limits()[1]


def write_to_all(connections: list[ServerConnection], frame: bytes) -> None:
    """One text frame to each open connection. Without an extension (the hub negotiates
    none) a server's frame is the same bytes on every connection: serialized once by the
    library and written to each transport, where ``broadcast`` serialized it again for
    each connection (a thousand watchers: a third of the hub's own time). A connection with
    an extension or a fragmented message under way goes through ``broadcast`` as before; a
    connection closing is skipped (its loop ends)."""
    wire = Frame(Opcode.TEXT, frame).serialize(mask=False, extensions=[])
    others: list[ServerConnection] = []
    for ws in connections:
        protocol = ws.protocol
        if protocol.state is not State.OPEN:
            continue
        if protocol.extensions or ws.send_in_progress is not None:
            others.append(ws)
            continue
        with contextlib.suppress(Exception):
            ws.transport.write(wire)
    if others:
        with contextlib.suppress(Exception):
            broadcast(others, frame, raise_exceptions=True, text=True)


class Hub:
    def __init__(
        self,
        store: Store,
        tokens: Sequence[TokenEntry],
        targets: FloorTargets,
        clock: Callable[[], float],
        *,
        floor: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 8765,
        ssl_context: ssl.SSLContext | None = None,
        send_queue: int = SEND_QUEUE,
        per_peer: int = PER_PEER,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.store = store
        self.tokens = list(tokens)
        self.targets = targets
        self.clock = clock
        self.floor = floor or {}
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.send_queue = send_queue
        self.state = FloorState(targets)
        self.desk = EscalationDesk(store, clock)
        self.watchers: set[_Watcher] = set()
        self.resyncs = 0
        self.refused = 0
        self.limits = ConnectionLimits(per_peer, max_connections)
        self._say = Throttled(log)
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._bell = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._snapshot: tuple[int, str] | None = None

    # -- life -----------------------------------------------------------------------------

    async def start(self) -> int:
        self._loop = asyncio.get_running_loop()
        self.store.add_listener(self._ring)
        if self.state.seq == 0:  # a floor under way: from its newest snapshot on
            opened = await asyncio.to_thread(newest_floor, self.store, self.targets)
            self.state = opened or self.state
        await self._read_new()  # the floor so far, before anyone connects
        self._server = await serve(
            self._serve,
            self.host,
            self.port,
            ssl=self.ssl_context,
            max_size=MAX_HELLO,  # raised to MAX_MESSAGE once the hello is accepted
            max_queue=INCOMING_QUEUE,
            open_timeout=HELLO_TIMEOUT_S,
            close_timeout=2,  # a peer that stalls mid-frame never answers the close
            ping_interval=5,
            ping_timeout=10,
            compression=None,
        )
        if self.port == 0:
            self.port = next(iter(self._server.sockets)).getsockname()[1]
        self._tasks.append(asyncio.create_task(self._follow(), name="hub-follow"))
        self._tasks.append(asyncio.create_task(self._ticker(), name="hub-tick"))
        return self.port

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _ring(self, seq: int) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._bell.set)

    # -- following the store --------------------------------------------------------------

    async def _read_new(self) -> list[Event]:
        out: list[Event] = []
        while True:
            events = await asyncio.to_thread(self.store.read_from, self.state.seq, READ_BATCH)
            if not events:
                return out
            self.state.apply_all(events)
            self.state.take_changes()
            out.extend(events)

    async def _follow(self) -> None:
        # this process's own commits ring the bell; other collectors writing to a shared
        # PostgreSQL ring through NOTIFY (waited for in a thread, one wait at a time);
        # either way the store is then read by seq
        wait_for_new = getattr(self.store, "wait_for_new", None)
        notify: asyncio.Task[Any] | None = None
        while True:
            bell = asyncio.create_task(self._bell.wait())
            waits: set[asyncio.Task[Any]] = {bell}
            if callable(wait_for_new):
                if notify is None or notify.done():
                    notify = asyncio.create_task(asyncio.to_thread(wait_for_new, 1.0))
                waits.add(notify)
            await asyncio.wait(waits, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            bell.cancel()
            self._bell.clear()
            try:
                events = await self._read_new()
            except StoreError as exc:
                log.error("hub: %s", exc)
                await asyncio.sleep(1)
                continue
            if events:
                self._broadcast(events)

    def _broadcast(self, events: list[Event]) -> None:
        """To every watcher, the events it was not yet given: written at once where its loop
        waits with nothing queued (a thousand watchers woken for each batch were most of the
        hub's CPU), queued for the others. A watcher that joined while these were being read
        was given them by its catch-up (up to the floor's seq when it joined): not twice."""
        frame, seq = events_frame(events).encode(), events[-1].seq
        now: list[ServerConnection] = []
        for watcher in list(self.watchers):
            if watcher.sent_seq >= seq:
                continue
            if watcher.sent_seq >= events[0].seq:
                after = [e for e in events if e.seq > watcher.sent_seq]
                self._offer(watcher, events_frame(after).encode(), seq)
            elif watcher.writable():
                now.append(watcher.ws)
                watcher.sent_seq = seq
            else:
                self._offer(watcher, frame, seq)
        write_to_all(now, frame)

    def _offer(self, watcher: _Watcher, frame: bytes, seq: int) -> None:
        if watcher.resync:
            return  # it will get the whole floor when it drains
        try:
            watcher.queue.put_nowait(frame)
            watcher.sent_seq = seq
        except asyncio.QueueFull:
            watcher.resync = True
            watcher.dropped += watcher.queue.qsize()
            while not watcher.queue.empty():
                watcher.queue.get_nowait()
            self.resyncs += 1
            log.warning("hub: %s fell behind; it gets a snapshot", watcher.token.name)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                pending = await asyncio.to_thread(self.store.outbox_pending_count)
            except StoreError:
                pending = -1
            frame = json.dumps(
                {"type": "tick", "at": self.clock(), "seq": self.state.seq, "pending": pending}
            ).encode()
            for watcher in list(self.watchers):
                if not watcher.resync:
                    with contextlib.suppress(asyncio.QueueFull):
                        watcher.queue.put_nowait(frame)

    # -- one terminal ---------------------------------------------------------------------

    async def _serve(self, ws: ServerConnection) -> None:
        peer = peer_host(ws.remote_address)
        why = self.limits.admit(peer)
        if why is not None:
            self.refused += 1
            self._say.warning(f"full:{peer}", f"hub: refused a connection from {peer}: {why}")
            with contextlib.suppress(ConnectionClosed):
                await ws.close(1013, "too many connections; try again later")
            return
        try:
            await self._serve_admitted(ws, peer)
        finally:
            self.limits.release(peer)

    async def _serve_admitted(self, ws: ServerConnection, peer: str) -> None:
        try:
            frame = await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT_S)
            hello = parse_hello(decode(frame, MAX_DEPTH))
        except (TimeoutError, ProtocolError, ConnectionClosed) as exc:
            self.refused += 1
            why = _no_hello(ws, exc)
            self._say.warning(f"hello:{peer}", f"hub: {peer} sent no valid hello: {why}")
            with contextlib.suppress(ConnectionClosed):
                await ws.close(1008, "expected a hello")
            return
        entry = find_token(hello.token, self.tokens)
        if entry is None:
            self.refused += 1
            self._say.warning(f"token:{peer}", f"hub: {peer} sent an unknown token")
            with contextlib.suppress(ConnectionClosed):
                refusal = CommandRefused("unknown_token")
                await ws.send(
                    json.dumps({"type": "error", "error": str(refusal), "code": "unknown_token"})
                )
                await ws.close(1008, "unknown token")
            return
        # known now: it may send a command with a long note
        ws.protocol.max_message_size = MAX_MESSAGE
        watcher = _Watcher(ws, entry, asyncio.Queue(self.send_queue), peer=peer)
        welcome = {
            "type": "welcome",
            "scope": entry.scope,
            "user": entry.name,
            "floor": self.floor,
            "seq": self.state.seq,
        }
        try:
            await ws.send(json.dumps(welcome))
        except ConnectionClosed:  # e.g. a big frame right behind its hello, read at 4 KB
            return
        log.info(
            "hub: terminal %s connected with token %r (scope %s), %d open",
            peer,
            entry.name,
            entry.scope,
            len(self.watchers) + 1,
        )
        # join the broadcast first, so nothing committed from here on is missed
        self.watchers.add(watcher)
        watcher.sent_seq = self.state.seq
        sender = asyncio.create_task(self._send_loop(watcher, hello.last_seq))
        try:
            async for frame in ws:
                await self._handle(watcher, frame)
        except ConnectionClosed:
            pass
        finally:
            self.watchers.discard(watcher)
            log.info("hub: terminal %s with token %r left", peer, entry.name)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _send_loop(self, watcher: _Watcher, last_seq: int) -> None:
        ws = watcher.ws
        try:
            upto = watcher.sent_seq
            if last_seq > upto or upto - last_seq > CATCH_UP_MAX:
                await self._send_snapshot(watcher)
            else:
                seq = last_seq
                while seq < upto:
                    events = await asyncio.to_thread(
                        self.store.read_range, seq, min(upto, seq + READ_BATCH)
                    )
                    if not events:
                        break
                    await ws.send(events_frame(events))
                    seq = events[-1].seq
            while True:
                if watcher.resync:
                    await self._send_snapshot(watcher)
                    continue
                watcher.parked = True
                try:
                    frame = await watcher.queue.get()
                finally:
                    watcher.parked = False
                await ws.send(frame, text=True)
        except ConnectionClosed:
            return

    async def _send_snapshot(self, watcher: _Watcher) -> None:
        """The floor as it is now; then only what comes after it."""
        while not watcher.queue.empty():
            watcher.queue.get_nowait()
        seq = self.state.seq
        cached = self._snapshot
        if cached is None or cached[0] != seq:
            cached = self._snapshot = (
                seq,
                snapshot_frame(seq, SNAPSHOT_FORMAT, freeze(self.state)),
            )
        frame = cached[1]
        watcher.sent_seq = seq
        watcher.resync = False
        await watcher.ws.send(frame)

    async def _handle(self, watcher: _Watcher, frame: str | bytes) -> None:
        reply: dict[str, Any] = {"type": "result", "id": None, "ok": False}
        try:
            message = decode(frame, MAX_DEPTH)
            if isinstance(message.get("id"), str):
                reply["id"] = message["id"][:64]
            if message["type"] != "command":
                raise ProtocolError(f"unknown message type {message['type'][:20]!r}")
            command = parse_command(message)
        except ProtocolError as exc:
            self._say.warning(
                f"frame:{watcher.token.name}",
                f"hub: {watcher.token.name} sent a bad frame: {exc}",
            )
            reply["error"] = str(exc)
            await self._reply(watcher, reply)
            return
        name = watcher.token.name
        if watcher.token.scope != "supervise":
            reply.update(error=str(CommandRefused("scope_view")), code="scope_view")
            self._say.warning(
                f"scope:{name}",
                f"hub: refused a command ({command.action}) from {watcher.peer} "
                f"with token {name!r}: scope view may watch, not act",
            )
        else:
            try:
                await self._command(name, command, f"watch {watcher.peer}")
                reply["ok"] = True
            except ProtocolError as exc:
                log.warning("hub: refused a command (%s) from %r: %s", command.action, name, exc)
                reply["error"] = str(exc)
            except CommandRefused as exc:  # the desk has logged it
                reply.update(error=str(exc), code=exc.code, detail=exc.error)
            except StoreError as exc:
                log.error("hub: a %s from %r was not saved: %s", command.action, name, exc)
                refusal = CommandRefused("not_saved", error=str(exc))
                reply.update(error=str(refusal), code=refusal.code, detail=refusal.error)
        await self._reply(watcher, reply)

    async def _reply(self, watcher: _Watcher, reply: dict[str, Any]) -> None:
        """A command's result goes straight to its terminal: the floor's queue is dropped
        when the terminal is resent the floor, and a result must not be dropped with it."""
        with contextlib.suppress(ConnectionClosed):
            await watcher.ws.send(json.dumps(reply))

    async def _command(self, by: str, command: Command, terminal: str) -> None:
        await self._read_new()  # the newest state of that escalation
        esc = self.state.escalations.get(command.escalation_id)
        if esc is None:
            raise ProtocolError(f"no escalation {command.escalation_id[:60]!r}")
        desk = self.desk
        if isinstance(command, AckCommand):
            await asyncio.to_thread(desk.ack, esc, by, command.note, terminal=terminal)
        elif isinstance(command, NoteCommand):
            await asyncio.to_thread(desk.note, esc, by, command.note, terminal=terminal)
        elif isinstance(command, SnoozeCommand):
            minutes = float(command.minutes)
            await asyncio.to_thread(desk.snooze, esc, by, minutes, terminal=terminal)
        elif isinstance(command, ResolveCommand):
            await asyncio.to_thread(desk.resolve, esc, by, command.note, terminal=terminal)


def _no_hello(ws: ServerConnection, exc: Exception) -> str:
    """Why a connection got no further than its hello, in a few words for the log."""
    if isinstance(exc, ProtocolError):
        return str(exc)
    # websockets may have closed it already (a frame over the limit: 1009)
    frame = ws.protocol.close_sent or ws.protocol.close_rcvd
    if frame is not None:
        return f"closed ({frame.code} {frame.reason[:60]})".replace(" )", ")")
    return f"none within {HELLO_TIMEOUT_S:.0f} s"
