"""FloorState to bytes and back, so replay can seek without folding from the start.

The format is JSON (compressed), validated on load: a recording from elsewhere is data,
and loading it never runs code (which pickle would), never inflates past a cap (a small blob
can inflate to gigabytes), and its text is made printable like every event's.

Snapshots are compressed with Zstandard (level 1). Those of recordings made before are zlib,
told apart by their first bytes and read as they are: the JSON inside is the same format.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import gc
import json
import operator
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import GenericAlias
from typing import Annotated, Any, get_args, get_type_hints

import zstandard
from pydantic import GetCoreSchemaHandler, TypeAdapter, ValidationError
from pydantic_core import CoreSchema, core_schema

from supervisor_tui.core.intraday import IntradayBook
from supervisor_tui.core.projection import (
    AgentView,
    Escalation,
    FloorState,
    QueueView,
    SlaView,
    SourceView,
    TicketView,
)
from supervisor_tui.core.targets import FloorTargets
from supervisor_tui.model import printable_data

SNAPSHOT_FORMAT = 2
"""The format written. 2: tickets, SLAs and agents as a column per field (``_Columns``), each
agent's presence timeline compact (``core.intraday.PresenceTimeline``); 1: each view a JSON
object, each timeline a list of pairs. Both are read (``READ_FORMATS``)."""

MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024
"""The most a snapshot may inflate to. A floor of 100,000 open tickets is about 60 MB; one
refused costs only time, as the reader then folds the events instead."""


TRIM_FROM_BYTES = 16 * 1024 * 1024
"""A snapshot whose JSON is at least this large gives the parser's freed memory back."""


class SnapshotError(ValueError):
    pass


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(
            ctypes.util.find_library("c") or "libc.so.6"
        ).malloc_trim
        return trim
    except (OSError, AttributeError):
        return None


def give_back_freed_memory() -> None:
    """Return the C heap's free pages to the system. Validating a large snapshot parses its
    JSON into the C heap first (pydantic-core): at 10,000 agents 126 MB of JSON left the
    process at 633 MB after the thaw, 252 MB once trimmed (a fold of the same events, 334 MB),
    since glibc keeps freed memory for reuse."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@dataclass(frozen=True, slots=True)
class _Columns:
    """Marks a dict of views (slots dataclasses) that a snapshot holds as a list per field:
    the views' keys are fields of theirs (a ticket's ``ref``; an SLA's ticket and metric for
    the dict of dicts), so a column of each field is all there is to write. A view as a JSON
    object repeated its 17 field names and was validated name by name: the 1,000-agent
    floor's 18,888 tickets took 7.3 MB and 275-370 ms to validate; as columns, 3.7 MB and
    130-190 ms with the views built (a loaded machine, alternating)."""

    keys: tuple[str, ...]
    """The field keying the dict, then the one keying each inner dict if it is nested."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        view = source
        for _ in self.keys:
            view = get_args(view)[1]
        hints = get_type_hints(view)
        names = tuple(f.name for f in dataclasses.fields(view))
        columns = core_schema.typed_dict_schema(
            {
                name: core_schema.typed_dict_field(
                    handler.generate_schema(GenericAlias(list, (hints[name],)))
                )
                for name in names
            }
        )
        row = operator.attrgetter(*names)
        keys = [operator.attrgetter(key) for key in self.keys]

        def build(lists: dict[str, list[Any]]) -> dict[str, Any]:
            ordered = [lists[name] for name in names]
            if len({len(column) for column in ordered}) > 1:
                raise ValueError("a snapshot's columns differ in length")
            views = map(view, *ordered)
            if len(keys) == 1:
                return {keys[0](v): v for v in views}
            outer, inner = keys
            nested: dict[str, dict[str, Any]] = {}
            for v in views:
                nested.setdefault(outer(v), {})[inner(v)] = v
            return nested

        def write(value: dict[str, Any]) -> dict[str, list[Any]]:
            views: Iterable[Any] = value.values()
            for _ in self.keys[1:]:
                views = (v for level in views for v in level.values())
            rows = [row(v) for v in views]
            return {name: [r[i] for r in rows] for i, name in enumerate(names)}

        return core_schema.no_info_after_validator_function(
            build,
            columns,
            serialization=core_schema.plain_serializer_function_ser_schema(
                write, return_schema=columns
            ),
        )


@dataclass(slots=True)
class _Frozen:
    """Format 2: the views of tickets, SLAs and agents as columns, presence compact."""

    seq: int
    queues: dict[str, QueueView]
    agents: Annotated[dict[str, AgentView], _Columns(("agent_id",))]
    tickets: Annotated[dict[str, TicketView], _Columns(("ref",))]
    slas: Annotated[dict[str, dict[str, SlaView]], _Columns(("ticket_ref", "metric"))]
    escalations: dict[str, Escalation]
    sources: dict[str, SourceView]
    resolved_order: list[str]
    solved_order: list[tuple[float, str]] = field(default_factory=list)
    intraday: IntradayBook = field(default_factory=IntradayBook)


@dataclass(slots=True)
class _FrozenFormat1(_Frozen):
    """Format 1 (older recordings): each view a JSON object."""

    agents: dict[str, AgentView]
    tickets: dict[str, TicketView]
    slas: dict[str, dict[str, SlaView]]


_ADAPTERS: dict[int, TypeAdapter[_Frozen]] = {
    2: TypeAdapter(_Frozen),
    1: TypeAdapter(_FrozenFormat1),
}
_ADAPTER = _ADAPTERS[SNAPSHOT_FORMAT]
READ_FORMATS = frozenset(_ADAPTERS)
"""The formats read: an older recording's snapshots load as they are."""


def freeze(state: FloorState) -> bytes:
    # Zstandard at level 1 against zlib at level 1, the 10,000-agent floor's 126 MB of JSON:
    # 8.8 MB against 11.4, written in 0.11 s against 0.36, read in 0.10 s against 0.25.
    return _ZSTD_WRITER.compress(_ADAPTER.dump_json(_frozen(state)))


def _frozen(state: FloorState, kind: type[_Frozen] = _Frozen) -> _Frozen:
    """What a snapshot of ``state`` holds (``kind``: the format's dataclass)."""
    return kind(
        seq=state.seq,
        queues=state.queues,
        agents=state.agents,
        tickets=state.tickets,
        slas=state.slas,
        escalations=state.escalations,
        sources=state.sources,
        resolved_order=list(state.resolved_order),
        solved_order=list(state.solved_order),
        intraday=state.intraday,
    )


_ZSTD_WRITER = zstandard.ZstdCompressor(level=1)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
"""The first four bytes of a Zstandard frame (a zlib stream starts otherwise: 0x78, ...)."""


def thaw(
    data: bytes, targets: FloorTargets, fmt: int = SNAPSHOT_FORMAT, *, freeze_heap: bool = False
) -> FloorState:
    """The floor ``data`` holds (``collector_paused``: with ``freeze_heap``, what was built
    is frozen rather than collected, for a caller that unfreezes when done)."""
    if fmt not in READ_FORMATS:
        raise SnapshotError(f"snapshot format {fmt} is not one this version reads")
    raw = inflate(data)
    with collector_paused(freeze=freeze_heap):
        return _thawed(raw, targets, _ADAPTERS[fmt])


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """No cyclic garbage collection while a floor is built at once. A thaw makes millions of
    objects (5 million at 10,000 agents) that all live on: each collection the allocations
    set off walked everything made so far, a quarter of the thaw (2.6 s → 1.9 s without).
    What it builds holds no reference cycle, so nothing is left for the collector to find;
    the collector comes back as it was (a caller that had paused it keeps it paused).

    What was built is young. It is then collected once, by the work that made it, rather
    than walked by the collections of whatever comes next (a replay's next seek); or, with
    ``freeze``, moved out of the collector's reach at no cost (``gc.freeze``), for a caller
    that unfreezes when it is done, as the board does when it closes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            if freeze:
                gc.freeze()
            else:
                gc.collect(1)


def _thawed(raw: bytes, targets: FloorTargets, adapter: TypeAdapter[_Frozen]) -> FloorState:
    try:
        if needs_care(raw):
            # some text holds an escape or a character that is not printable: clean it first
            frozen = adapter.validate_python(printable_data(json.loads(raw)))
        else:
            frozen = adapter.validate_json(raw)
    except (ValidationError, ValueError, RecursionError) as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        raise SnapshotError(f"snapshot does not load ({lines[0]})") from None
    finally:
        if len(raw) >= TRIM_FROM_BYTES:
            give_back_freed_memory()
    state = FloorState(targets)
    state.seq = frozen.seq
    state.queues = frozen.queues
    state.agents = frozen.agents
    state.tickets = frozen.tickets
    state.slas = frozen.slas
    state.escalations = frozen.escalations
    state.sources = frozen.sources
    state.resolved_order.extend(frozen.resolved_order)
    state.solved_order.extend(frozen.solved_order)
    state.intraday = frozen.intraday
    for agent in state.agents.values():
        state._staff(agent, +1)  # derived: rebuilt rather than stored
    return state


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_BACKSLASH = 0x5C


def _hides_unprintable(raw: bytes) -> bool:
    """Whether a JSON escape in ``raw`` may stand for a character that is not printable
    (``\\u001b``, ``\\n``): every escape but ``\\"``, ``\\/`` and an escaped backslash.
    Backslashes are found by ``bytes.find`` (a regular expression over the 126 MB of the
    10,000-agent snapshot took 0.9-4 s; a snapshot without any takes 7 ms)."""
    at = raw.find(b"\\")
    while at != -1:
        end = at
        while end < len(raw) and raw[end] == _BACKSLASH:
            end += 1
        # pairs are escaped backslashes; an odd one out escapes the byte after the run
        if (end - at) % 2 and (end == len(raw) or raw[end] not in b'"/'):
            return True
        at = raw.find(b"\\", end)
    return False


def needs_care(raw: bytes) -> bool:
    """Whether a snapshot's JSON may hold text that is not printable, as written or behind
    an escape: then it is parsed and cleaned before it is validated. Any backslash sent
    every real floor that way (a quote in one subject of 200,000), at several times the
    cost of validating the JSON as it is."""
    return _hides_unprintable(raw) or not all_printable(raw)


def all_printable(raw: bytes) -> bool:
    """Whether ``raw.decode("utf-8", "replace").isprintable()``, reading only the bytes that
    are not printable ASCII (a snapshot is mostly ASCII: at 10,000 agents its 126 MB took
    0.32 s to decode and scan whole, 0.04 s this way). Taking ASCII out never splits a UTF-8
    sequence; it can only join two broken ones into a character that is not printable, and
    then the snapshot takes the careful path: never the other way."""
    return raw.translate(None, _PRINTABLE_ASCII).decode("utf-8", "replace").isprintable()


def inflate(data: bytes, limit: int = MAX_SNAPSHOT_BYTES) -> bytes:
    """The snapshot's JSON, or SnapshotError when it is neither Zstandard nor zlib, is cut
    short, or inflates past ``limit``."""
    if data[:4] == _ZSTD_MAGIC:
        return _unzstd(data, limit)
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise SnapshotError(f"snapshot does not load ({exc})") from None
    if inflater.unconsumed_tail:
        raise SnapshotError(f"snapshot refused: it inflates past {limit // (1024 * 1024)} MB")
    if not inflater.eof:
        raise SnapshotError("snapshot does not load (truncated)")
    return raw


def _unzstd(data: bytes, limit: int) -> bytes:
    """A Zstandard frame's content. Every snapshot this program writes says its size in the
    frame's header: a frame that does not, or says more than ``limit``, is refused before
    anything is inflated (the content is then made in one piece of exactly that size)."""
    try:
        size = zstandard.frame_content_size(data)
    except zstandard.ZstdError as exc:
        raise SnapshotError(f"snapshot does not load ({exc})") from None
    if size < 0:
        raise SnapshotError("snapshot does not load (its size is not in its header)")
    if size > limit:
        raise SnapshotError(f"snapshot refused: it inflates past {limit // (1024 * 1024)} MB")
    try:
        raw = zstandard.ZstdDecompressor().decompress(data)
    except zstandard.ZstdError as exc:
        raise SnapshotError(f"snapshot does not load ({exc})") from None
    if len(raw) != size:  # the header and the content disagree: not a frame this program wrote
        raise SnapshotError("snapshot does not load (truncated)")
    return raw
