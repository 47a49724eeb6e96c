"""The embedded store: one SQLite file per floor, append-only, in WAL mode.

One connection writes the adapters' batches (``synchronous=NORMAL``: WAL keeps the file
consistent, a power cut may lose the last batch, which the sync cursor re-fetches because it
is committed with it). A second connection writes operator events such as acks with
``synchronous=FULL``, so an ack is on disk before anyone is shown it. Reads use a third.
"""

from __future__ import annotations

import fcntl
import functools
import itertools
import math
import operator
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from supervisor_tui.i18n import N_
from supervisor_tui.model import FURTHEST_AHEAD_S, LONGEST_AGO_S, Event, NewEvent
from supervisor_tui.store.base import (
    OUTBOX_CLAIM_S,
    SCHEMA_VERSION,
    EventRow,
    Listener,
    LocalFeed,
    OutboxItem,
    OutboxRequest,
    QuarantinedPayload,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
    WriteBackOutcome,
    event_from_row,
    holder_text,
    numbered,
    sql_type,
    stored_rows,
)

TIMELINE_EVERY = 1_000
"""Every this many events the store notes the latest time received so far (``timeline``)."""
_received_at = operator.attrgetter("received_at")


def _note_timeline(
    conn: sqlite3.Connection, seqs: Sequence[int], events: Sequence[NewEvent]
) -> None:
    """In the transaction that stored ``events`` as ``seqs``: a row of the timeline for each
    ``TIMELINE_EVERY``-th seq among them, the latest time received up to it. A store that
    held events before it noted any (an older file) notes none."""
    if not seqs or seqs[-1] // TIMELINE_EVERY == (seqs[0] - 1) // TIMELINE_EVERY:
        return  # no row falls in this batch (the usual case: a few hundred events a batch)
    row = conn.execute("SELECT seq, latest FROM timeline ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None and seqs[0] > TIMELINE_EVERY:
        return
    noted, latest = row if row is not None else (0, -math.inf)
    between = conn.execute(
        "SELECT MAX(received_at) FROM events WHERE seq > ? AND seq < ?", (noted, seqs[0])
    ).fetchone()[0]
    if isinstance(between, int | float):
        latest = max(latest, between)
    every = TIMELINE_EVERY
    if seqs[-1] - seqs[0] == len(seqs) - 1:  # seqs in a row, as a batch usually takes
        rows_at: Iterable[int] = range(-seqs[0] % every, len(seqs), every)
    else:
        rows_at = [i for i, seq in enumerate(seqs) if seq % every == 0]
    rows = []
    start = 0
    for i in rows_at:
        # max over the events up to the row, first to last: the fold ``latest =
        # max(latest, e.received_at)`` event by event, the same with a NaN anywhere; the
        # events after the last row are not read
        latest = max(itertools.chain((latest,), map(_received_at, events[start : i + 1])))
        rows.append((seqs[i], latest))
        start = i + 1
    conn.executemany("INSERT OR REPLACE INTO timeline (seq, latest) VALUES (?, ?)", rows)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    occurred_at REAL NOT NULL,
    received_at REAL NOT NULL,
    payload     TEXT NOT NULL,
    UNIQUE (source, key)
);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, seq);
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE IF NOT EXISTS timeline (
    seq    INTEGER PRIMARY KEY,
    latest REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq       INTEGER NOT NULL REFERENCES events (seq),
    source          TEXT NOT NULL,
    action          TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    delivered_at    REAL,
    claimed_by      TEXT,
    claimed_until   REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS snapshots (
    seq        INTEGER PRIMARY KEY,
    at         REAL NOT NULL,
    format     INTEGER NOT NULL,
    data       BLOB NOT NULL
);
"""

# The tables replay and reports read, with the columns read from each. A recording opened
# read-only comes from anywhere: each must be a plain table, not a view (which can run any
# query, an endless recursive one included) nor a virtual table, with no generated column;
# and no view at all is accepted.
_READ_TABLES: dict[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "events": ("seq", "source", "key", "kind", "occurred_at", "received_at", "payload"),
    "snapshots": ("seq", "at", "format", "data"),
}
_REQUIRED_TABLES = ("meta", "events")
_NOT_A_STORE = "not a supervisor-tui store"

QUERY_DEADLINE_S = 60.0
"""No query on a recording opened read-only may run longer: a legitimate one over real
tables takes well under a second per 100,000 events."""

MAX_VALUE_BYTES = 128 * 1024 * 1024
"""The largest text or blob read from a recording (SQLite's own limit is 1 GB)."""

_ROWS_A_STATEMENT: Final = 128
"""The most events ``_insert_rows`` inserts with one statement (see there)."""


@functools.cache
def _insert_rows_sql(rows: int) -> str:
    """The INSERT of ``rows`` events, six parameters each (``stored_rows``'s columns)."""
    return (
        "INSERT INTO events (source, key, kind, occurred_at, received_at, payload) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    )


_CAREFUL_BATCHES: Final = 20
"""Batches of a source appended the careful way (stored keys asked first) after one of its
batches held an event already stored, or a key twice: a batch tried whole that meets one is
undone and done again, which costs more than asking."""

_SELECT_EVENTS = (
    "SELECT seq, source, key, kind, occurred_at, received_at, payload FROM events "
    "WHERE seq > ? ORDER BY seq LIMIT ?"
)


class SQLiteStore(LocalFeed):
    """Append-only event log in one SQLite file; safe to share between threads."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        query_deadline_s: float = QUERY_DEADLINE_S,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._listeners: list[Listener] = []
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._has_snapshots = True
        self._query_deadline_s = query_deadline_s
        self._query_started = math.inf  # the deadline counts inside _read only
        self._query_timed_out = False
        self._careful: dict[str, int] = {}
        """source: its batches still to append the careful way (``append``)"""
        if read_only:
            if not self.path.is_file():
                raise StoreError.worded(N_("{path}: no such file"), path=self.path)
            _refuse_shared(self.path)
            self._reader = self._connect(uri=_read_only_uri(self.path))
            try:
                self._bound(self._reader)
                self._check_tables()
                self._check_schema(self._reader)
            except BaseException:
                self._reader.close()
                raise
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # A recording holds names and notes: only its owner may read it.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        else:
            _refuse_shared(self.path)
        self._writer = self._connect()
        # a power of two (see _insert_rows), within the parameters a statement may have
        most = min(
            _ROWS_A_STATEMENT, self._writer.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 6
        )
        self._rows_a_statement = 1 << (most.bit_length() - 1)
        self._ident = self._file_ident()
        self._init_schema()
        self._acks = self._connect()
        self._acks.execute("PRAGMA synchronous=FULL")
        self._reader = self._connect()

    def _connect(self, uri: str | None = None) -> sqlite3.Connection:
        try:
            if uri is not None:
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            if uri is None:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode != "wal":
                    raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise _not_a_store(self.path, exc) from None
        return conn

    def _bound(self, conn: sqlite3.Connection) -> None:
        """Limits for a file from anywhere: no value over MAX_VALUE_BYTES, no query over the
        deadline, and Ctrl-C stops a running query (Python runs its SIGINT handler inside the
        progress handler; the exception it raises there aborts the statement)."""
        try:
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            # functions named by the schema (views, triggers, defaults) run with no side effect
            conn.execute("PRAGMA trusted_schema=OFF")
            conn.execute("PRAGMA query_only=ON")
        except sqlite3.DatabaseError as exc:
            raise _not_a_store(self.path, exc) from None
        conn.set_progress_handler(self._over_deadline, 1_000)

    def _over_deadline(self) -> bool:
        if time.monotonic() - self._query_started > self._query_deadline_s:
            self._query_timed_out = True
            return True
        return False

    def _read(
        self, sql: str, parameters: Sequence[Any] = (), *, failing: str = "cannot read"
    ) -> list[Any]:
        """One query on the reading connection, whole, with its failure in one line."""
        with self._read_lock:
            self._query_started = time.monotonic()
            self._query_timed_out = False
            try:
                return self._reader.execute(sql, parameters).fetchall()
            except sqlite3.OperationalError as exc:
                if str(exc) == "interrupted":
                    why = (
                        f"a query took longer than {self._query_deadline_s:g} s"
                        if self._query_timed_out
                        else "interrupted"
                    )
                    raise StoreError(f"{self.path}: stopped reading ({why})") from None
                # a lock or an I/O error is trouble of the moment, not a damaged file
                if failing == _NOT_A_STORE:
                    raise _not_a_store(self.path, exc) from None
                raise StoreError(f"{self.path}: {failing} ({exc})") from None
            except sqlite3.DatabaseError as exc:
                if failing == _NOT_A_STORE:
                    raise _not_a_store(self.path, exc) from None
                raise StoreCorrupt(f"{self.path}: {failing} ({exc})") from None
            except UnicodeDecodeError:
                if failing == _NOT_A_STORE:
                    raise _not_a_store(self.path, "text that is not UTF-8") from None
                raise StoreCorrupt(f"{self.path}: {failing} (text that is not UTF-8)") from None
            finally:
                self._query_started = math.inf

    def _check_tables(self) -> None:
        """Refuse a recording whose tables are not what this version wrote (see _READ_TABLES)."""
        objects = {
            str(name): (str(kind), str(sql or ""))
            for kind, name, sql in self._read(
                "SELECT type, name, sql FROM sqlite_master", failing=_NOT_A_STORE
            )
        }
        views = sorted(name for name, (kind, _) in objects.items() if kind == "view")
        if views:
            raise _not_a_store(
                self.path, f"it holds a view: {views[0]!r}; a recording holds tables only"
            )
        for table, columns in _READ_TABLES.items():
            if table not in objects:
                if table in _REQUIRED_TABLES:
                    raise _not_a_store(self.path, f"no table {table!r}")
                if table == "snapshots":
                    self._has_snapshots = False  # recorded before snapshots existed
                continue
            kind, sql = objects[table]
            if kind != "table" or sql.upper().startswith("CREATE VIRTUAL"):
                raise _not_a_store(self.path, f"{table!r} is not a plain table")
            info = self._read(f"PRAGMA table_xinfo({table})", failing=_NOT_A_STORE)
            found = {str(row[1]) for row in info}
            generated = sorted(str(row[1]) for row in info if row[6] != 0)
            missing = [c for c in columns if c not in found]
            if missing or generated:
                what = (
                    f"no column {missing[0]!r}"
                    if missing
                    else f"column {generated[0]!r} is computed"
                )
                raise _not_a_store(self.path, f"table {table!r}: {what}")

    def _init_schema(self) -> None:
        try:
            with self._write_lock:
                self._writer.executescript(_SCHEMA)
                self._writer.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                columns = {r[1] for r in self._writer.execute("PRAGMA table_info(outbox)")}
                for column, kind in (("claimed_by", "TEXT"), ("claimed_until", "REAL")):
                    if column not in columns:  # a store made before write-backs were claimed
                        self._writer.execute(f"ALTER TABLE outbox ADD COLUMN {column} {kind}")
        except sqlite3.DatabaseError as exc:
            raise _not_a_store(self.path, exc) from None
        self._check_schema(self._writer)

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        if self.read_only:
            rows = self._read(
                "SELECT value FROM meta WHERE key='schema_version'", failing=_NOT_A_STORE
            )
            row = rows[0] if rows else None
        else:
            try:
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            except sqlite3.DatabaseError as exc:
                raise _not_a_store(self.path, exc) from None
        if row is None:
            raise _not_a_store(self.path, "no schema version")
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise _not_a_store(self.path, f"schema version {str(row[0])[:20]!r}") from None
        if version > SCHEMA_VERSION:
            raise StoreTooNew.worded(
                N_(
                    "{path}: written by a newer supervisor-tui (store schema {version}, "
                    "this version reads up to {known})"
                ),
                path=self.path,
                version=version,
                known=SCHEMA_VERSION,
            )

    # -- the file itself -------------------------------------------------------------------

    def _file_ident(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def check_file(self) -> None:
        """Raise StoreError if the file at the path is no longer the one this store opened.

        SQLite goes on writing to a file that was deleted or replaced (its descriptors stay
        open): every event and ack would go where no one will ever read it. A stat is cheap,
        so it is done around every commit."""
        if self.read_only:
            return
        try:
            now = self._file_ident()
        except FileNotFoundError:
            raise StoreError(
                f"{self.path}: the store file was deleted while in use; nothing more is "
                "written (restart to open the store again)"
            ) from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot check the store file ({exc.strerror})") from None
        if now != self._ident:
            raise StoreError(
                f"{self.path}: the store file was replaced by another file while in use; "
                "nothing more is written (restart to open the store again)"
            )

    def _commit(self, conn: sqlite3.Connection) -> None:
        """COMMIT, only into the file at the path (a failed check rolls back)."""
        self.check_file()
        conn.execute("COMMIT")

    def _write(self, conn: sqlite3.Connection, query: str, params: Sequence[object]) -> None:
        """One statement in its own transaction, committed as ``_commit`` does."""
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(query, params)
                self._commit(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self.check_file()

    def writer_lease(self, holder: str, sources: Collection[str] = ()) -> _FileLease:
        """The whole file, whatever ``sources`` says: a SQLite floor is one machine's, and
        its one collector reads every helpdesk of it."""
        return _FileLease(self, holder)

    # -- writing ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _notify(self, seq: int) -> None:
        for listener in self._listeners:
            listener(seq)

    def append(
        self, events: Sequence[NewEvent], cursors: Mapping[str, str] | None = None
    ) -> list[Event]:
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        # A batch is tried whole, as if none of it were stored yet and no key came twice in
        # it, unless one of its sources sent events already stored, or one twice, in one of
        # its last batches (a collector re-reading overlapping pages sends them in runs):
        # see ``_inserted``.
        conn = self._writer
        with self._write_lock:
            careful = bool(self._careful) and not self._careful.keys().isdisjoint(
                {e.source for e in events}
            )
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    placed = None if careful else self._inserted(conn, events)
                    if placed is None:
                        placed = self._inserted_carefully(conn, events)
                    seqs, order = placed
                    _note_timeline(conn, seqs, order)
                    if cursors:
                        conn.executemany(
                            "INSERT INTO cursors (source, cursor, updated_at) VALUES (?, ?, "
                            "unixepoch('now')) ON CONFLICT (source) DO UPDATE SET "
                            "cursor = excluded.cursor, updated_at = excluded.updated_at",
                            list(cursors.items()),
                        )
                    self._commit(conn)
                except BaseException:
                    if conn.in_transaction:  # not if BEGIN again after undoing a try failed
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise _cannot(self.path, N_("{path}: cannot append ({error})"), exc) from None
        self.check_file()  # deleted in the instant of the commit: not stored where it counts
        stored = numbered(seqs, order)
        if stored:
            self._notify(stored[-1].seq)
        return stored

    def _inserted(
        self, conn: sqlite3.Connection, events: Sequence[NewEvent]
    ) -> tuple[list[int], Sequence[NewEvent]] | None:
        """The whole batch inserted, its seqs and events in their order; None, with the
        transaction rolled back and begun again, if one of them was already stored or its
        key came twice in the batch.

        Asking first which keys are stored (``_known``, three queries of 900 keys for a
        batch of 2,000) costs every batch, and so does finding the repeats; plain INSERTs
        refuse the first stored or repeated key instead (``UNIQUE (source, key)``). The
        refused INSERT has used up an AUTOINCREMENT seq (so would ``INSERT OR IGNORE``), and
        seqs without gaps make "event N" mean the same everywhere: the ROLLBACK gives it back
        with the rows inserted before it (``sqlite_sequence`` is a table like the others)."""
        before = self._newest_seq(conn)
        try:
            self._insert_rows(conn, events)
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            conn.execute("BEGIN IMMEDIATE")
            return None
        return self._placed(conn, before, events)

    def _inserted_carefully(
        self, conn: sqlite3.Connection, events: Sequence[NewEvent]
    ) -> tuple[list[int], Sequence[NewEvent]]:
        """The batch's events not stored yet, the first of each key, inserted: their seqs
        and events in order. A source that sent a stored event, or one twice, is appended
        this way for its next batches."""
        by_key: dict[tuple[str, str], NewEvent] = {}
        repeated: set[str] = set()
        for e in events:
            if by_key.setdefault((e.source, e.key), e) is not e:
                repeated.add(e.source)
        known = self._known(conn, by_key)
        fresh = [e for k, e in by_key.items() if k not in known]
        repeated.update(source for source, _ in known)
        for source in {source for source, _ in by_key}:
            if source in repeated:
                self._careful[source] = _CAREFUL_BATCHES
            elif (left := self._careful.pop(source, 0) - 1) > 0:
                self._careful[source] = left
        before = self._newest_seq(conn)
        self._insert_rows(conn, fresh)
        return self._placed(conn, before, fresh)

    def _insert_rows(self, conn: sqlite3.Connection, events: Sequence[NewEvent]) -> None:
        """The events inserted in their order, several rows a statement: SQLite inserts
        300,000 events of the floor 20-35 % faster in statements of 128 rows than one row a
        statement (``executemany``), each statement paying its own way in (and its update of
        ``sqlite_sequence``) once; statements of 512 rows or more were no faster than 128.
        The statements are of 128 rows, then of a power of two each for what is left (2,000:
        fifteen of 128, one of 64, one of 16), so the few texts there are stay prepared in
        the connection's statement cache. A refused row stops its statement, undone whole,
        and ``IntegrityError`` says so as ``executemany``'s did."""
        values = list(itertools.chain.from_iterable(stored_rows(events)))
        done, count, size = 0, len(events), self._rows_a_statement
        while done < count:
            while size > count - done:
                size >>= 1
            conn.execute(_insert_rows_sql(size), values[done * 6 : (done + size) * 6])
            done += size

    @staticmethod
    def _newest_seq(conn: sqlite3.Connection) -> int:
        seq: int = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        return seq

    def _placed(
        self, conn: sqlite3.Connection, before: int, fresh: Sequence[NewEvent]
    ) -> tuple[list[int], Sequence[NewEvent]]:
        """The seqs the batch just inserted took, and its events in the same order."""
        after = self._newest_seq(conn)
        if after - before == len(fresh):
            # One writer at a time (BEGIN IMMEDIATE) and no row refused: the batch took the
            # seqs after ``before`` in its own order, without reading back.
            return list(range(before + 1, after + 1)), fresh
        # seqs not contiguous (the counter was ahead of the rows): ask the file which is which
        added = conn.execute(
            "SELECT seq, source, key FROM events WHERE seq > ? ORDER BY seq", (before,)
        ).fetchall()
        by_key = {(e.source, e.key): e for e in fresh}
        return [seq for seq, _, _ in added], [by_key[(source, key)] for _, source, key in added]

    @staticmethod
    def _known(
        conn: sqlite3.Connection, wanted: Mapping[tuple[str, str], NewEvent]
    ) -> set[tuple[str, str]]:
        known: set[tuple[str, str]] = set()
        by_source: dict[str, list[str]] = {}
        for source, key in wanted:
            by_source.setdefault(source, []).append(key)
        for source, keys in by_source.items():
            for i in range(0, len(keys), 900):
                chunk = keys[i : i + 900]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key FROM events WHERE source = ? AND key IN ({marks})",
                    (source, *chunk),
                ).fetchall()
                known.update((source, row[0]) for row in rows)
        return known

    def append_durable(self, event: NewEvent, outbox: OutboxRequest | None = None) -> Event | None:
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        conn = self._acks
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    known = conn.execute(
                        "SELECT 1 FROM events WHERE source = ? AND key = ?",
                        (event.source, event.key),
                    ).fetchone()
                    # a repeat is not even tried: a refused INSERT would still use up a seq
                    row = (
                        None
                        if known
                        else conn.execute(
                            "INSERT INTO events "
                            "(source, key, kind, occurred_at, received_at, payload) "
                            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, key) DO NOTHING "
                            "RETURNING seq",
                            (
                                event.source,
                                event.key,
                                event.payload.KIND,
                                event.occurred_at,
                                event.received_at,
                                event.payload.model_dump_json(),
                            ),
                        ).fetchone()
                    )
                    if row is not None:
                        _note_timeline(conn, [row[0]], [event])
                    if row is not None and outbox is not None:
                        conn.execute(
                            "INSERT INTO outbox (event_seq, source, action, body, next_attempt_at) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (row[0], outbox.source, outbox.action, outbox.body, event.received_at),
                        )
                    self._commit(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise _cannot(
                    self.path, N_("{path}: cannot record {kind} ({error})"), exc, kind=event.kind
                ) from None
        # an ack is shown only once it is in the file at the path
        self.check_file()
        if row is None:
            return None
        stored = Event(seq=row[0], **event.model_dump(exclude={"payload"}), payload=event.payload)
        self._notify(stored.seq)
        return stored

    def quarantine(self, source: str, kind: str, raw: str, reason: str, at: float) -> None:
        try:
            self._write(
                self._writer,
                "INSERT INTO quarantine (source, kind, reason, raw, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (source, kind, reason, raw, at),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot quarantine a payload ({exc})") from None

    # -- reading ---------------------------------------------------------------------------

    def read_from(self, after_seq: int, limit: int = 10_000) -> list[Event]:
        rows = self._read(_SELECT_EVENTS, (after_seq, limit))
        self.check_file()  # what a deleted file holds is not shown as stored
        return [self._event(row) for row in rows]

    def _event(self, row: EventRow) -> Event:
        return event_from_row(row, str(self.path))

    def read_rows_from(self, after_seq: int, limit: int = 10_000) -> list[EventRow]:
        """``read_from``'s rows, not yet events (``event_of`` makes each): a reader that
        folds one event at a time keeps a chunk of small rows, not a chunk of events."""
        rows: list[EventRow] = self._read(_SELECT_EVENTS, (after_seq, limit))
        self.check_file()
        return rows

    def event_of(self, row: EventRow) -> Event:
        return self._event(row)

    def read_range(self, after_seq: int, upto_seq: int) -> list[Event]:
        """Events with after_seq < seq <= upto_seq, in order."""
        if upto_seq <= after_seq:
            return []
        rows = self._read(
            "SELECT seq, source, key, kind, occurred_at, received_at, payload FROM events "
            "WHERE seq > ? AND seq <= ? ORDER BY seq",
            (after_seq, upto_seq),
        )
        self.check_file()
        return [self._event(row) for row in rows]

    def timeline(
        self, after_seq: int = 0, upto_seq: int | None = None
    ) -> tuple[list[int], list[float]]:
        """Every event's seq and the time it was received, in seq order (for replay); or
        those with ``after_seq < seq <= upto_seq``.

        SQLite checks each row as it reads it (a time a datetime holds, an integer seq) and
        gives NULL for one that is not: checked in Python row by row, a recording of
        1,000,000 events took 1.3 s more to open."""
        # the whole timeline reads every row, whatever its seq holds (a seq that is not an
        # integer compares past any number, and is then named below)
        whole = after_seq == 0 and upto_seq is None
        part = "" if whole else "WHERE seq > ? AND seq <= ? "
        bounds = () if whole else (after_seq, 2**63 - 1 if upto_seq is None else upto_seq)
        rows = self._read(
            "SELECT seq, CASE WHEN typeof(seq) = 'integer' "
            "AND typeof(received_at) IN ('integer', 'real') AND received_at BETWEEN ? AND ? "
            f"THEN CAST(received_at AS REAL) END FROM events {part}ORDER BY seq",
            (LONGEST_AGO_S, FURTHEST_AHEAD_S, *bounds),
        )
        seqs = [row[0] for row in rows]
        times = [row[1] for row in rows]
        if None in times:
            # the first row that is not as written: what it holds, in words
            at = times.index(None)
            seq, received_at = self._read(
                f"SELECT seq, received_at FROM events {part}ORDER BY seq LIMIT 1 OFFSET ?",
                (*bounds, at),
            )[0]
            if type(seq) is not int:
                raise StoreCorrupt(
                    f"{self.path}: an event's seq is {sql_type(seq)}, not an integer"
                )
            raise StoreCorrupt(
                f"{self.path}: event {seq}: its received_at is {sql_type(received_at)}, not a time"
            )
        return seqs, times

    def coarse_timeline(self) -> tuple[list[int], list[float]] | None:
        """The latest time received by every ``TIMELINE_EVERY``-th event, as ``append`` notes
        it: replay opens a recording of 10,000,000 events on 10,000 rows and reads the rest
        a thousand events at a time when a seek needs them. None for a store that does not
        hold it whole and in order (written before it was noted, or made elsewhere): replay
        then reads every event's time, as it did."""
        try:
            rows = self._read(
                "SELECT seq, CASE WHEN typeof(seq) = 'integer' "
                "AND typeof(latest) IN ('integer', 'real') AND latest BETWEEN ? AND ? "
                "THEN CAST(latest AS REAL) END FROM timeline ORDER BY seq",
                (LONGEST_AGO_S, FURTHEST_AHEAD_S),
            )
            # two queries: SQLite answers MIN or MAX alone from the key, both at once by
            # reading every row (1.4 s at 10,000,000 events)
            ((first,),) = self._read("SELECT MIN(seq) FROM events")
            ((last,),) = self._read("SELECT MAX(seq) FROM events")
        except StoreError:
            return None  # no such table (an older file), or not one that reads: every event
        seqs = [row[0] for row in rows]
        latests = [row[1] for row in rows]
        if type(first) is not int or type(last) is not int:
            return None  # not seqs: the full read says what they are
        whole = (
            first == 1
            and seqs == list(range(TIMELINE_EVERY, last + 1, TIMELINE_EVERY))
            and None not in latests
            and all(a <= b for a, b in itertools.pairwise(latests))
        )
        return (seqs, latests) if whole else None

    def events_of_kind(self, kind: str) -> list[Event]:
        rows = self._read(
            "SELECT seq, source, key, kind, occurred_at, received_at, payload FROM events "
            "WHERE kind = ? ORDER BY seq",
            (kind,),
        )
        return [self._event(row) for row in rows]

    def snapshot_index(self) -> list[int]:
        """Seqs at which a FloorState snapshot is stored (a row that is not one is left out:
        snapshots only save time, the events hold everything)."""
        if not self._has_snapshots:
            return []  # a recording made before snapshots existed
        rows = self._read("SELECT seq FROM snapshots ORDER BY seq")
        return [r[0] for r in rows if type(r[0]) is int]

    def snapshot_formats(self) -> set[int]:
        """The formats of the stored snapshots; -1 for a format that is not even a number."""
        if not self._has_snapshots:
            return set()
        rows = self._read("SELECT DISTINCT format FROM snapshots")
        return {r[0] if type(r[0]) is int else -1 for r in rows}

    def load_snapshot(self, seq: int) -> tuple[int, bytes] | None:
        if not self._has_snapshots:
            return None
        rows = self._read("SELECT format, data FROM snapshots WHERE seq = ?", (seq,))
        if not rows:
            return None
        fmt, data = rows[0]
        if type(fmt) is not int or not isinstance(data, bytes):
            return (-1, b"")  # not a snapshot this version wrote: the reader folds events
        return fmt, data

    def save_snapshot(self, seq: int, at: float, fmt: int, data: bytes) -> None:
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        try:
            self._write(
                self._writer,
                "INSERT OR REPLACE INTO snapshots (seq, at, format, data) VALUES (?, ?, ?, ?)",
                (seq, at, fmt, data),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot save a snapshot ({exc})") from None

    def last_seq(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def get_cursor(self, source: str) -> str | None:
        rows = self._read("SELECT cursor FROM cursors WHERE source = ?", (source,))
        return None if not rows else str(rows[0][0])

    def quarantined(self, limit: int = 100) -> list[QuarantinedPayload]:
        rows = self._read(
            "SELECT id, source, kind, reason, raw, received_at FROM quarantine "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [QuarantinedPayload(*row) for row in rows]

    # -- outbox ----------------------------------------------------------------------------

    def outbox_due(self, now: float, limit: int = 50) -> list[OutboxItem]:
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT id, event_seq, source, action, body, attempts, next_attempt_at, last_error "
                "FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [OutboxItem(*row) for row in rows]

    def write_back_outcomes(self) -> list[WriteBackOutcome]:
        """Every write-back the outbox holds, in the order the commands were made."""
        rows = self._read(
            "SELECT event_seq, source, action, state, attempts, last_error, delivered_at, "
            "next_attempt_at FROM outbox ORDER BY id"
        )
        return [WriteBackOutcome(*row) for row in rows]

    def outbox_pending_count(self) -> int:
        with self._read_lock:
            row = self._reader.execute("SELECT COUNT(*) FROM outbox WHERE state='pending'")
            return int(row.fetchone()[0])

    def outbox_claim(
        self,
        now: float,
        claimer: str,
        limit: int = 50,
        claim_s: float = OUTBOX_CLAIM_S,
        sources: Collection[str] | None = None,
    ) -> list[OutboxItem]:
        conn = self._acks
        only, named = _of_sources(sources)
        with self._write_lock:
            try:
                # BEGIN IMMEDIATE: one claimer at a time, so two never take the same row
                conn.execute("BEGIN IMMEDIATE")
                try:
                    rows = conn.execute(
                        "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN ("
                        "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? "
                        "AND (claimed_until IS NULL OR claimed_until < ? OR claimed_by = ?) "
                        f"{only} ORDER BY id LIMIT ?) RETURNING "
                        "id, event_seq, source, action, body, attempts, next_attempt_at, "
                        "last_error",
                        (claimer, now + claim_s, now, now, claimer, *named, limit),
                    ).fetchall()
                    self._commit(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot claim write-backs ({exc})") from None
        self.check_file()
        return sorted((OutboxItem(*row) for row in rows), key=lambda item: item.id)

    def outbox_release_claims(self, keep: str, sources: Collection[str] | None = None) -> int:
        conn = self._acks
        only, named = _of_sources(sources)
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    released = conn.execute(
                        "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
                        "WHERE state = 'pending' AND claimed_by IS NOT NULL AND claimed_by != ? "
                        + only,
                        (keep, *named),
                    ).rowcount
                    self._commit(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot release claims ({exc})") from None
        return int(released)

    def outbox_delivered(self, item_id: int, at: float) -> None:
        try:
            self._write(
                self._acks,
                "UPDATE outbox SET state = 'delivered', delivered_at = ?, attempts = attempts + 1, "
                "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                (at, item_id),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot update the outbox ({exc})") from None

    def outbox_failed(self, item_id: int, error: str, retry_at: float | None) -> None:
        """Record a failed delivery: try again at ``retry_at``, or never when it is None."""
        try:
            if retry_at is None:
                self._write(
                    self._acks,
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, state = 'failed', "
                    "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                    (error, item_id),
                )
            else:
                self._write(
                    self._acks,
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, "
                    "next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                    (error, retry_at, item_id),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot update the outbox ({exc})") from None

    def close(self) -> None:
        """Each connection closed under the lock its users hold: a statement still running in
        a worker thread (an append whose awaiting task was cancelled goes on in its thread)
        finishes first. Closing a connection under a running statement crashes the process."""
        for name, lock in (
            ("_writer", self._write_lock),
            ("_acks", self._write_lock),
            ("_reader", self._read_lock),
        ):
            with lock:
                conn = getattr(self, name, None)
                if conn is not None:
                    conn.close()


def _of_sources(sources: Collection[str] | None) -> tuple[str, list[str]]:
    """The outbox rows of these sources only (None: all): a condition and its parameters."""
    if sources is None:
        return "", []
    named = sorted(sources)
    return f"AND source IN ({', '.join('?' * len(named)) or 'NULL'})", named


def _read_only_uri(path: Path) -> str:
    """The file: URI of a recording opened read-only. The path is percent-escaped, so a name
    holding '#', '?' or '%' opens that file and no other. ``immutable`` keeps SQLite from
    creating -wal and -shm files beside a finished recording; with a -wal present (a store
    being written, or one left by a crash) the events in it are read through it."""
    wal = path.with_name(path.name + "-wal")
    params = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    return f"{path.absolute().as_uri()}?{params}"


_NOT_A_STORE_WHY = N_("{path}: not a supervisor-tui store ({why})")


def _not_a_store(path: Path, why: object) -> StoreCorrupt:
    """A file that is not a recording; ``why`` in SQLite's or this file's own words."""
    return StoreCorrupt.worded(_NOT_A_STORE_WHY, path=path, why=why)


FULL: Final = N_("{path}: the disk is full; nothing more is written until there is space")


def _cannot(path: Path, template: str, exc: sqlite3.Error, **values: object) -> StoreError:
    """A write the file refused: a full disk said as such (the most common), else SQLite's
    own words inside ``template``."""
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
        return StoreError(
            f"{FULL.format(path=path)} ({exc})", said=StoreError.worded(FULL, path=path).said
        )
    return StoreError.worded(template, path=path, error=exc, **values)


def _refuse_shared(path: Path) -> None:
    """A recording holds customers' names, subjects and supervisors' notes: one that others
    can read or write is refused, with the fix."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreError.worded(
            N_(
                "{path}: can be read or written by others (mode {mode}); "
                "a recording holds names and notes: chmod 600 {path}"
            ),
            path=path,
            mode=f"{stat.S_IMODE(mode):o}",
        )


class _FileLease:
    """The writer lease of a SQLite store: an exclusive ``flock`` on ``FILE.lock`` beside it,
    held for the collector's life and dropped by the kernel when the process dies (a SIGKILL
    leaves nothing to clean up). Readers (watch, replay, report) never look at it. The file
    says who holds it, for the message a second collector gets."""

    def __init__(self, store: SQLiteStore, holder: str) -> None:
        self.store = store
        self.path = store.path.with_name(store.path.name + ".lock")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open the writer lock ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = holder_text(os.pread(fd, 400, 0).decode("utf-8", "replace")) or "unknown"
            os.close(fd)
            raise StoreBusy(
                f"{store.path}: another collector is writing to this store ({who}); "
                "stop it first, or give this one a store of its own"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"{self.path}: cannot lock ({exc.strerror})") from None
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder}, since {stamp}\n".encode(), 0)
        st = os.fstat(fd)
        self._fd: int | None = fd
        self._ident = (st.st_dev, st.st_ino)
        self.sources: frozenset[str] | None = None  # the whole file: every source

    @property
    def runs_rules(self) -> bool:
        return self._fd is not None

    def append_rules(self, events: Sequence[NewEvent]) -> list[Event]:
        self.verify()
        return self.store.append(events)

    def verify(self) -> None:
        if self._fd is None:
            raise StoreError(f"{self.store.path}: the writer lease was released")
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._ident
        except OSError:
            same = False
        if not same:
            # another collector could now lock a new file of that name and write too
            raise StoreError(
                f"{self.path}: the writer lock file was removed or replaced while in use; "
                "restart the collector"
            )
        self.store.check_file()

    def release(self) -> None:
        # not unlinked: a second collector may be opening it this instant
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
