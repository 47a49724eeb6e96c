"""Fuzz: hostile recording files against every read-only door (``report`` in each format, and
replay's open, seek and fold).

Each example is a real file: a small genuine recording changed the way an attacker could
(any value of any type in any column, a table swapped for a view or dropped, junk, huge or
compressed snapshot blobs, payloads with fields of the wrong shape), or a file cut short,
with bytes flipped, or no SQLite file at all. Opening it must work or fail with the project's
own error (StoreError, exit 2) in one line: never another exception, never a hang, never a
byte written beside the file, never a control character in what is printed.

``make test`` tries a few dozen files (seconds); for a longer run:
``FUZZ_EXAMPLES=2000 .venv/bin/pytest -q -p no:cacheprovider tests/test_fuzz_recordings.py``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import random
import re
import resource
import signal
import sqlite3
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor_tui.cli import main
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.replay import Recording, ReplayPlayer, record_snapshot
from supervisor_tui.store import SQLiteStore, StoreError

from .conftest import record_floor, targets

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
HANG_S = 120  # far beyond any example; only a hang reaches it
MEMORY_MB = 1024  # a snapshot may inflate to 256 MB; no door may need gigabytes
PRINTED_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # newline and tab apart

TABLES = ("meta", "events", "snapshots", "cursors", "quarantine", "outbox")
EVENT_COLUMNS = ("seq", "source", "key", "kind", "occurred_at", "received_at", "payload")


@functools.cache
def genuine() -> bytes:
    """A small real recording (20 minutes of floor, escalations, two snapshots), as bytes
    (made once; not a fixture, so that hypothesis does not print it with a failing file)."""
    with tempfile.TemporaryDirectory(prefix="genuine-") as tmp:
        path = Path(tmp) / "genuine.db"
        store = record_floor(path, until_s=1200)
        events = store.read_from(0, 100_000)
        state = FloorState(targets())
        for part in (events[: len(events) // 2], events[len(events) // 2 :]):
            state.apply_all(part)
            record_snapshot(store, state, part[-1].received_at)
        store.close()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=DELETE")  # the whole recording in one file
        conn.close()
        return path.read_bytes()


# -- what an attacker can put in a file ---------------------------------------------------------

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
controls = st.text(st.sampled_from("\x1b\x07\x00\r\n\t\x9b\x9d\u202e]0;52[31m"), max_size=20)
sql_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.sampled_from([1e300, -1e300, float("inf"), float("-inf"), 0.0, -1.0, 2**53]),
    texts,
    controls,
    st.binary(max_size=64),
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([1e300, -1e300, 1e18, -1.0, 0]),
        texts,
        controls,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=8,
)


def blobs() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=256),
        st.binary(max_size=256).map(zlib.compress),
        json_values.map(lambda v: zlib.compress(json.dumps(v).encode())),
        st.integers(1, 8).map(lambda mb: zlib.compress(b"[" + b" " * (mb << 20) + b"]", 9)),
        st.sampled_from([b"", zlib.compress(b""), zlib.compress(b"{}")[:-3]]),
        st.binary(max_size=256).map(zstd),
        json_values.map(lambda v: zstd(json.dumps(v).encode())),
        st.sampled_from([zstd(b""), zstd(b"{}")[:-3], zstd(b"{}")[:4], zstd(b"[]") + b"junk"]),
    )


def zstd(data: bytes) -> bytes:
    """Compressed as this version writes its snapshots."""
    return zstandard.ZstdCompressor(level=1).compress(data)


@dataclass(frozen=True)
class Change:
    """One change to the file, with what it does (hypothesis prints it for a failing file)."""

    what: str
    apply: Callable[[sqlite3.Connection], None]

    def __repr__(self) -> str:
        return self.what


def loosen_events(conn: sqlite3.Connection) -> None:
    """The events table without constraints or triggers, so any value can go in."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='old_events'").fetchone():
        conn.execute("DROP TRIGGER IF EXISTS events_append_only_update")
        conn.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
        conn.execute("ALTER TABLE events RENAME TO old_events")
        conn.execute(f"CREATE TABLE events ({', '.join(EVENT_COLUMNS)})")
        conn.execute("INSERT INTO events SELECT * FROM old_events")
        conn.execute("DROP TABLE old_events")


@st.composite
def set_event_value(draw: st.DrawFn) -> Change:
    column = draw(st.sampled_from(EVENT_COLUMNS))
    row = draw(st.integers(1, 400))
    value = draw(sql_values)

    def change(conn: sqlite3.Connection) -> None:
        loosen_events(conn)
        conn.execute(f"UPDATE events SET {column} = ? WHERE rowid = ?", (value, row))

    return Change(f"events[{row}].{column} = {value!r:.80}", change)


@st.composite
def reshape_payload(draw: st.DrawFn) -> Change:
    """A payload that is JSON, with one field of any shape (times huge, text with escapes...)."""
    row = draw(st.integers(1, 400))
    field = draw(st.one_of(st.sampled_from(["name", "at", "since", "state", "queue_id"]), texts))
    value = draw(json_values)

    def change(conn: sqlite3.Connection) -> None:
        found = conn.execute("SELECT payload FROM events WHERE rowid = ?", (row,)).fetchone()
        if found is None or not isinstance(found[0], str):
            return
        try:
            payload = json.loads(found[0])
        except ValueError:
            return
        if isinstance(payload, dict):
            payload[field] = value
        loosen_events(conn)
        conn.execute("UPDATE events SET payload = ? WHERE rowid = ?", (json.dumps(payload), row))

    return Change(f"events[{row}].payload[{field!r}] = {value!r:.80}", change)


@st.composite
def set_snapshot(draw: st.DrawFn) -> Change:
    column = draw(st.sampled_from(["seq", "format", "data", "at"]))
    value = draw(st.one_of(sql_values, blobs()) if column == "data" else sql_values)

    def change(conn: sqlite3.Connection) -> None:
        conn.execute("DROP TABLE IF EXISTS old_snapshots")
        conn.execute("ALTER TABLE snapshots RENAME TO old_snapshots")
        conn.execute("CREATE TABLE snapshots (seq, at, format, data)")
        conn.execute("INSERT INTO snapshots SELECT * FROM old_snapshots")
        conn.execute("DROP TABLE old_snapshots")
        conn.execute(f"UPDATE snapshots SET {column} = ?", (value,))

    return Change(f"snapshots.{column} = {value!r:.80}", change)


@st.composite
def swap_table(draw: st.DrawFn) -> Change:
    table = draw(st.sampled_from(TABLES))
    how = draw(st.sampled_from(["drop", "view", "recursive view", "empty", "extra view"]))

    def change(conn: sqlite3.Connection) -> None:
        if how == "extra view":
            conn.execute("CREATE VIEW IF NOT EXISTS spare AS SELECT 1")
            return
        if how == "empty":
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} (x)")
            return
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        if how == "view":
            conn.execute(f"CREATE VIEW {table} AS SELECT 1 AS seq")
        elif how == "recursive view":
            conn.execute(
                f"CREATE VIEW {table} AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL "
                f"SELECT n + 1 FROM r) SELECT n AS seq, n AS key, 'x' AS value FROM r"
            )

    return Change(f"{how} {table}", change)


changes = st.lists(
    st.one_of(set_event_value(), reshape_payload(), set_snapshot(), swap_table()),
    min_size=1,
    max_size=4,
)


@dataclass(frozen=True)
class Damage:
    what: str
    apply: Callable[[bytes], bytes]

    def __repr__(self) -> str:
        return self.what


@st.composite
def damage(draw: st.DrawFn) -> Damage:
    """What happens to a file on the way: cut short, bytes flipped, or not SQLite at all."""
    how = draw(st.sampled_from(["truncate", "flip", "random", "text", "empty", "header only"]))
    seed = draw(st.integers(0, 2**32 - 1))
    cut = draw(st.floats(0, 1))

    def apply(data: bytes) -> bytes:
        rng = random.Random(seed)
        if how == "truncate":
            return data[: int(len(data) * cut)]
        if how == "flip":
            buf = bytearray(data)
            for _ in range(rng.randint(1, 64)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            return bytes(buf)
        if how == "random":
            return rng.randbytes(rng.randint(1, 65536))
        if how == "text":
            return b"supervisor-tui recording\n" * 100
        if how == "empty":
            return b""
        return data[:100]

    return Damage(f"{how} (seed {seed}, cut {cut:.3f})", apply)


# -- the doors ---------------------------------------------------------------------------------


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """A hang fails the example (SIGALRM) instead of stopping the suite, and so does memory:
    the address space may grow by MEMORY_MB at most (a MemoryError is not a clear error)."""

    def hung(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"still running after {HANG_S} s: a hang")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_S)
    limits = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + MEMORY_MB * 1024 * 1024, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, limits)
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def listing(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def through_every_door(path: Path, fmt: str) -> None:
    """Report and replay the file: each works or says why in one line (StoreError)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["report", str(path), "--format", fmt])
    assert code in (0, 2), err.getvalue()
    if code == 2:
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    printed = out.getvalue() + err.getvalue()
    assert not PRINTED_CONTROL.search(printed.replace("\n", "").replace("\t", "")), printed[:300]
    try:
        store = SQLiteStore(path, read_only=True)
    except StoreError:
        return
    try:
        recording = Recording(store, targets())
        player = ReplayPlayer(recording)
        for t in (recording.end, (recording.start + recording.end) / 2, recording.start):
            player.seek(t)
        player.playing = True
        player.advance(3600)
        assert player.state.seq <= recording.last_seq
    except StoreError:
        pass
    finally:
        store.close()


def try_file(data: bytes, fmt: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        path = Path(tmp) / "shift.db"
        path.write_bytes(data)
        path.chmod(0o600)
        before = listing(Path(tmp))
        with bounded():
            through_every_door(path, fmt)
        assert listing(Path(tmp)) == before, "a file was written or changed beside it"


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 30,  # `make test` tries the same files every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(changes=changes, fmt=st.sampled_from(["term", "md", "csv", "json", "html"]))
def test_a_crafted_recording_opens_or_is_one_clear_error(changes: list[Change], fmt: str) -> None:
    with tempfile.TemporaryDirectory(prefix="craft-") as tmp:
        work = Path(tmp) / "w.db"
        work.write_bytes(genuine())
        conn = sqlite3.connect(work, isolation_level=None)
        for change in changes:
            with contextlib.suppress(sqlite3.Error):  # a change an earlier one made impossible
                change.apply(conn)
        conn.close()
        data = work.read_bytes()
    try_file(data, fmt)


@FUZZ
@given(damage=damage(), fmt=st.sampled_from(["term", "md", "json"]))
def test_a_damaged_or_foreign_file_opens_or_is_one_clear_error(damage: Damage, fmt: str) -> None:
    try_file(damage.apply(genuine()), fmt)


def test_the_genuine_recording_goes_through_every_door() -> None:
    """The fuzz's starting point itself opens (so refusals above are the changes' doing)."""
    with tempfile.TemporaryDirectory(prefix="genuine-") as tmp:
        path = Path(tmp) / "shift.db"
        path.write_bytes(genuine())
        path.chmod(0o600)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["report", str(path), "--format", "json"]) == 0
        assert json.loads(out.getvalue())["periods"]
        store = SQLiteStore(path, read_only=True)
        assert Recording(store, targets()).marks
        store.close()
