"""A terminal's end of the hub: what ``watch`` gives the dashboard instead of a store.

``HubClient`` looks like a store to the app (``read_from``, ``add_listener``,
``outbox_pending_count``) and holds no helpdesk secret. It keeps the link up: heartbeats
(websocket pings and the hub's ticks) notice a dead link, and it reconnects with back-off,
sending the last seq it has so nothing is missed or repeated. When the hub resends the floor
as a snapshot, ``take_snapshot`` hands it to the app. ``RemoteDesk`` sends acks, notes,
snoozes and resolves to the hub, which writes them with this terminal's name.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from supervisor_tui.core.commands import CommandRefused, refusal_said
from supervisor_tui.core.feed import LINK_LIVE, hub_words
from supervisor_tui.core.projection import Escalation, FloorState
from supervisor_tui.core.snapshot import SnapshotError, thaw
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.hub.protocol import TICK_S, ProtocolError, decode, event_from_wire
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import Event
from supervisor_tui.store import StoreError
from supervisor_tui.store.base import Listener

log = logging.getLogger(__name__)

DEAD_AFTER_S = 3 * TICK_S + 2
"""No tick for this long: the link is dead, whatever TCP says."""
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)
COMMAND_TIMEOUT_S = 15.0
SILENT_AFTER_S = 2 * TICK_S + 1
"""No word for this long (ticks come every TICK_S): the bar says so before the link is
declared dead."""
LINK_STATES = {"connecting": N_("connecting"), "refused": N_("refused"), "live": N_("live")}
"""The link's states as the freshness bar words them (translated where drawn)."""


def _why(exc: BaseException) -> tuple[str, str]:
    """Why the link dropped, in a few words (never a URL or a token): in English for the log
    and in the floor's language for the screen."""

    def worded(template: str, **values: str) -> tuple[str, str]:
        return template.format(**values), _(template).format(**values)

    if isinstance(exc, ConnectionClosed):
        frame = exc.rcvd or exc.sent
        if frame is None:
            return worded(N_("the connection was cut"))
        why = f"{frame.code} {frame.reason[:40]}".strip()
        return worded(
            N_("closed by the hub ({why})") if exc.rcvd else N_("closed ({why})"), why=why
        )
    if isinstance(exc, TimeoutError):
        return (str(exc), str(exc)) if str(exc) else worded(N_("no answer from the hub"))
    if isinstance(exc, ProtocolError):
        return str(exc), _("the hub sent what this version does not read")
    if isinstance(exc, ConnectionRefusedError):
        return worded(N_("the hub refuses connections"))
    if isinstance(exc, ConnectionResetError):
        return worded(N_("the connection was reset"))
    if isinstance(exc, OSError):
        return worded(N_("cannot reach the hub ({error})"), error=type(exc).__name__)
    return type(exc).__name__, type(exc).__name__


class HubRefused(Exception):
    """The hub said no (unknown token): retrying will not help. Its message is what the
    terminal shows, in the floor's language where the hub sent a code this version knows."""

    def __init__(self, message: str, *, said: str | None = None) -> None:
        super().__init__(message)
        self.said = message if said is None else said
        """What a person is shown: the message in the floor's language (the log's is English)."""


class HubClient:
    def __init__(
        self,
        url: str,
        token: str,
        targets: FloorTargets,
        *,
        user: str = "",
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._token = token
        self.targets = targets
        self.user = user
        self.ssl_context = ssl_context
        self.clock = clock
        self.seq = 0
        self.scope = ""
        self.name = ""
        self.floor: dict[str, Any] = {}
        self.state = "connecting"
        self.connects = 0
        self.pending = 0
        self._events: deque[Event] = deque()
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._snapshot: tuple[int, FloorState] | None = None
        self._ws: ClientConnection | None = None
        self._results: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._last_heard = 0.0
        self._dead = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.welcomed = asyncio.Event()
        self.refused: str | None = None
        """Why the hub said no, in the floor's language (``refused_english`` for the log)."""
        self.refused_english = ""
        self.last_error = ""
        """Why the link last dropped, in English (the log); ``last_error_said`` is shown."""
        self.last_error_said = ""
        """Why the link last dropped, for the screen (no secret: types and codes only)."""
        self.retry_at: float | None = None
        """When (``clock``) the next attempt to reconnect starts, while reconnecting."""

    def __repr__(self) -> str:
        return f"HubClient({self.url!r}, state={self.state!r})"  # never the token

    # -- the store face the app reads -----------------------------------------------------

    def read_from(self, after_seq: int, limit: int = 10_000) -> list[Event]:
        with self._lock:
            while self._events and self._events[0].seq <= after_seq:
                self._events.popleft()
            out: list[Event] = []
            while self._events and len(out) < limit:
                out.append(self._events.popleft())
            return out

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def outbox_pending_count(self) -> int:
        return max(0, self.pending)

    def take_snapshot(self) -> tuple[int, FloorState] | None:
        """The floor the hub resent, once (the app replaces its own with it)."""
        with self._lock:
            snapshot, self._snapshot = self._snapshot, None
            return snapshot

    def link_status(self) -> str:
        """The link for the freshness bar: anything but LINK_LIVE shows loudly, with the
        reason and when the next attempt is, so a dead link never looks like a quiet floor.
        The words are the floor's language; the reasons are the hub's or the network's."""
        if self.refused:
            return hub_words(_("refused ({reason})").format(reason=self.refused))
        if self.state == "live":
            silent = self.clock() - self._last_heard
            if self._last_heard and silent > SILENT_AFTER_S:
                return hub_words(
                    _("silent for {seconds} s, checking the link").format(seconds=f"{silent:.0f}")
                )
            return LINK_LIVE
        if self.state == "reconnecting":
            retry_at = self.retry_at
            waiting = retry_at is not None and retry_at > self.clock()
            seconds = f"{retry_at - self.clock():.0f}" if retry_at is not None else ""
            if self.last_error:
                said = (
                    _("reconnecting ({reason}), retry in {seconds} s")
                    if waiting
                    else _("reconnecting ({reason}), trying now")
                )
            else:
                said = (
                    _("reconnecting, retry in {seconds} s")
                    if waiting
                    else _("reconnecting, trying now")
                )
            return hub_words(said.format(reason=self.last_error_said, seconds=seconds))
        return hub_words(_(LINK_STATES.get(self.state, self.state)))

    @property
    def view_only(self) -> bool:
        """The hub said, when it greeted, that this token may watch, not act."""
        return self.scope == "view"

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    # -- the link -------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self.run(), name="hub-client")

    async def run(self) -> None:
        attempt = 0
        while True:
            connects = self.connects
            try:
                await self._session()
            except HubRefused as exc:
                self.refused, self.refused_english = exc.said, str(exc)
                self.state = "refused"
                self._ring()
                return
            except asyncio.CancelledError:
                raise
            except (
                OSError,
                ConnectionClosed,
                InvalidHandshake,
                TimeoutError,
                ProtocolError,
            ) as exc:
                self.last_error, self.last_error_said = _why(exc)
                log.info("hub link: %s", self.last_error)
            except InvalidURI:
                self.refused_english = "not a ws:// or wss:// address"
                self.refused = _("not a ws:// or wss:// address")
                self.state = "refused"
                return
            if self.connects > connects:
                attempt = 0  # it was live: start the back-off again
            self._ws = None
            self.state = "reconnecting"
            self._ring()
            for future in self._results.values():
                if not future.done():
                    future.set_exception(
                        StoreError.worded(N_("the link to the hub dropped; try again"))
                    )
            self._results.clear()
            backoff = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            self.retry_at = self.clock() + backoff
            await asyncio.sleep(backoff)
            self.retry_at = None
            self._ring()
            attempt += 1

    async def _session(self) -> None:
        async with connect(
            self.url,
            ssl=self.ssl_context,
            ping_interval=5,
            ping_timeout=10,
            open_timeout=10,
            close_timeout=2,
            max_size=64 << 20,
            compression=None,
        ) as ws:
            self._ws = ws
            await ws.send(
                json.dumps(
                    {"type": "hello", "token": self._token, "last_seq": self.seq, "user": self.user}
                )
            )
            self._last_heard = self.clock()
            self._dead = False
            watchdog = asyncio.create_task(self._watchdog(ws))
            try:
                async for frame in ws:
                    self._last_heard = self.clock()
                    self._receive(decode(frame))
            finally:
                watchdog.cancel()
            if self._dead:
                raise TimeoutError(f"no heartbeat for {DEAD_AFTER_S:.0f} s")
            rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
            raise ConnectionClosed(rcvd, sent, None if rcvd is None or sent is None else True)

    async def _watchdog(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.clock() - self._last_heard > DEAD_AFTER_S:
                log.info("hub link silent for %.0f s: reconnecting", DEAD_AFTER_S)
                self._dead = True
                await ws.close(1001, "no heartbeat")
                return

    def _receive(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "events":
            events = [event_from_wire(e) for e in message.get("events") or []]
            fresh = [e for e in events if e.seq > self.seq]
            if fresh:
                with self._lock:
                    self._events.extend(fresh)
                self.seq = fresh[-1].seq
                self._ring()
        elif kind == "snapshot":
            data = base64.b64decode(str(message.get("state") or ""))
            try:
                state = thaw(data, self.targets, int(message.get("format") or 0))
            except SnapshotError as exc:
                # a hub of a newer version (a format this one does not read) or a damaged
                # frame: the link drops and is tried again, the board keeps what it shows
                raise ProtocolError(f"the hub's floor: {exc}") from None
            seq = int(message["seq"])
            with self._lock:
                self._snapshot = (seq, state)
                self._events.clear()
            self.seq = seq
            self._ring()
        elif kind == "welcome":
            self.scope = str(message.get("scope") or "")
            self.name = str(message.get("user") or "")
            self.floor = dict(message.get("floor") or {})
            self.state = "live"
            self.connects += 1
            self.welcomed.set()
            self._ring()
        elif kind == "tick":
            self.pending = int(message.get("pending") or 0)
            if self.state != "live":
                self.state = "live"
                self._ring()
        elif kind == "result":
            future = self._results.pop(str(message.get("id")), None)
            if future is not None and not future.done():
                future.set_result(message)
        elif kind == "error":
            text = str(message.get("error") or "refused")
            raise HubRefused(text, said=refusal_said(str(message.get("code") or ""), text))

    def _ring(self) -> None:
        for listener in self._listeners:
            listener(self.seq)

    # -- commands -------------------------------------------------------------------------

    async def command(self, action: str, escalation_id: str, **fields: Any) -> None:
        ws = self._ws
        if ws is None or self.state != "live":
            raise StoreError.worded(N_("not connected to the hub; the command was not sent"))
        ident = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._results[ident] = future
        await ws.send(
            json.dumps(
                {
                    "type": "command",
                    "id": ident,
                    "action": action,
                    "escalation_id": escalation_id,
                    **fields,
                }
            )
        )
        try:
            result = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        except TimeoutError:
            raise StoreError.worded(
                N_("the hub did not answer; the command may not be saved")
            ) from None
        finally:
            self._results.pop(ident, None)
        if not result.get("ok"):
            raise CommandRefused(
                str(result.get("code") or ("" if result.get("error") else "refused")),
                str(result.get("error") or ""),
                error=str(result.get("detail") or ""),
            )

    def command_blocking(self, action: str, escalation_id: str, **fields: Any) -> None:
        """From a worker thread (the app runs commands off its loop)."""
        loop = self._loop
        if loop is None:
            raise StoreError.worded(N_("the hub link is not started"))
        future = asyncio.run_coroutine_threadsafe(
            self.command(action, escalation_id, **fields), loop
        )
        future.result(COMMAND_TIMEOUT_S + 5)


class RemoteDesk:
    """EscalationDesk's face, through the hub: the hub writes with the token's name."""

    def __init__(self, client: HubClient) -> None:
        self.client = client

    def ack(self, esc: Escalation, by: str, note: str = "") -> None:
        self.client.command_blocking("ack", esc.escalation_id, note=note)

    def note(self, esc: Escalation, by: str, note: str) -> None:
        if not note.strip():
            raise CommandRefused("empty_note")
        self.client.command_blocking("note", esc.escalation_id, note=note)

    def snooze(self, esc: Escalation, by: str, minutes: float) -> None:
        # the hub takes whole minutes only (a strict int on the wire, not 15.0)
        if not float(minutes).is_integer():
            raise CommandRefused("snooze_whole")
        self.client.command_blocking("snooze", esc.escalation_id, minutes=int(minutes))

    def resolve(self, esc: Escalation, by: str, reason: str = "") -> None:
        self.client.command_blocking("resolve", esc.escalation_id, note=reason)


async def wait_for_hub(
    client: HubClient,
    say: Callable[[str], None],
    *,
    give_up_after_s: float | None = None,
    poll_s: float = 0.1,
) -> None:
    """Wait until the hub welcomes ``client``, saying each failed attempt as it happens.

    A wall box often boots before the hub's server does: giving up after one try would leave
    a dead screen on the wall. The client's own back-off paces the attempts; ``say`` gets one
    line per attempt (why it failed, when the next one is), never the token. Raises
    ``HubRefused`` at once when the hub says no (retrying will not help), ``TimeoutError``
    after ``give_up_after_s`` if given."""
    start = time.monotonic()
    said_retry: float | None = None
    attempts = 0
    while not client.welcomed.is_set():
        if client.refused:
            raise HubRefused(client.refused_english, said=client.refused)
        retry_at = client.retry_at
        if client.state == "reconnecting" and retry_at is not None and retry_at != said_retry:
            said_retry = retry_at
            attempts += 1
            wait = max(0.0, retry_at - client.clock())
            said = _(
                "cannot reach {url} ({error}), attempt {attempt}; trying again in {seconds} s "
                "(Ctrl-C to stop)"
            )
            say(
                said.format(
                    url=client.url,
                    error=client.last_error_said or _("no reply"),
                    attempt=attempts,
                    seconds=math.ceil(wait),
                )
            )
        if give_up_after_s is not None and time.monotonic() - start > give_up_after_s:
            said = _("no answer from {url} after {seconds} s ({attempts} attempts; last: {error})")
            raise TimeoutError(
                said.format(
                    url=client.url,
                    seconds=f"{give_up_after_s:.0f}",
                    attempts=attempts,
                    error=client.last_error_said or _("no reply"),
                )
            )
        if client._task is not None and client._task.done() and not client.welcomed.is_set():
            if client.refused:
                raise HubRefused(client.refused_english, said=client.refused)
            said = _("the link to {url} ended: {error}")
            raise TimeoutError(said.format(url=client.url, error=client.last_error_said or "?"))
        await asyncio.sleep(poll_s)


async def hello(
    url: str,
    token: str,
    say: Callable[[str], None],
    *,
    ssl_context: ssl.SSLContext | None = None,
    give_up_after_s: float | None = None,
) -> HubClient:
    """Connect, wait for the hub's welcome (as ``wait_for_hub`` does) and hang up: the floor,
    and the token's name and scope, as a terminal or the web board needs them first."""
    probe = HubClient(url, token, FloorTargets(), ssl_context=ssl_context)
    probe.start()
    try:
        await wait_for_hub(probe, say, give_up_after_s=give_up_after_s)
    finally:
        probe.close()
        if probe._task is not None:
            await asyncio.gather(probe._task, return_exceptions=True)
    return probe
