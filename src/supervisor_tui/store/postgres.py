"""The shared store: the same append-only log as SQLiteStore, in a PostgreSQL schema.

For a site that outgrows one machine: the floor's collectors write to a database, many
terminals, reports and replays read from it. Several collectors may feed one floor (one
machine polls Zendesk, another ServiceNow), each holding the writer lease of the sources it
reads (session-level advisory locks, see :class:`_SourceLeases`); one of them runs the
floor's rules (:class:`_RulesWriter`), and each delivers its own sources' write-backs. The
store itself is safe for several writing processes.
Every table lives in one schema (``supervisor`` by default), so one database can hold several
floors.

Seq allocation
--------------
Readers follow the log with ``WHERE seq > cursor ORDER BY seq`` and then move their cursor to
the last seq they saw. That is only correct if, whenever a reader can see seq N, it can also
see every seq below N that will ever exist. A PostgreSQL sequence (``BIGSERIAL``) breaks this:
transaction A draws seq 5, transaction B draws seq 6 and commits first, a reader sees 6 and
moves its cursor past 5; when A commits, seq 5 is never read by that reader.

So every transaction that adds events first takes a transaction-scoped advisory lock
(``pg_advisory_xact_lock``, one key per schema), then looks up which (source, key) pairs are
already stored, reads ``MAX(seq)`` and inserts its events as ``MAX(seq) + 1, + 2, ...``. The
lock is held until COMMIT or ROLLBACK, and PostgreSQL makes a commit visible before it releases
the transaction's locks, so:

- seqs are allocated and committed strictly one transaction after the other: the committed
  events are always exactly seqs 1..M, for any snapshot, and a reader never skips one;
- a transaction that rolls back allocated nothing, so there are no gaps ("event N" means the
  same everywhere), as in the SQLite store;
- two writers racing to store the same (source, key) are serialised too: the second one sees
  the first one's row and drops it, instead of failing on the UNIQUE constraint.

Writers hold the lock only for the few statements of one batch; readers never take it.
The writing connections use ``synchronous_commit = on`` whatever the server's default is: an
event that a reader has seen must not be lost by a crash and its seq reused for another one,
and an ack must be on disk before anyone is shown it.

LISTEN/NOTIFY
-------------
A commit that added events also runs ``pg_notify(channel, newest_seq)``, which PostgreSQL
delivers only if and when the transaction commits. The notification is a doorbell, nothing
more: its payload is one number (far below the 8,000-byte limit), notifications can be merged
or lost across a reconnect, and a reader always reads the events themselves with
:meth:`PostgresStore.read_from`. :meth:`PostgresStore.wait_for_new` waits on a connection of
its own. Listeners added with :meth:`PostgresStore.add_listener` are called in this process,
from the committing thread, as with SQLiteStore.

Connections
-----------
One connection per role, each behind its own lock so the store can be shared between threads
(callers use ``asyncio.to_thread``): a writer for the adapters' batches, quarantine and
snapshots; one for operator events (acks) and the outbox; a reader; and, once
:meth:`PostgresStore.wait_for_new` is called, a listener. A broken connection is replaced on
its next use (a read is then retried once on the new connection; a write fails with
StoreError and the next one reconnects). Error messages show the URL without its password.

A network that loses packets without a reset (a black hole: a dead switch, a firewall that
drops) would leave a call waiting for an answer forever, holding its lock, and the collector
with it. So every call has a deadline (``io_timeout_s``): when it passes, the connection's
socket is shut down, the call fails with a StoreError that says so, and the next call
reconnects. TCP keepalives and ``tcp_user_timeout`` do the same for what the kernel can see,
and ``idle_in_transaction_session_timeout`` makes the server drop a session that went silent
in the middle of a transaction, so the seq lock it holds is not held for ever. A commit
whose answer was lost is harmless to repeat: the events are found by (source, key) and are
not stored twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

from supervisor_tui.model import Event, NewEvent
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
    stored_rows,
)

try:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.rows import TupleRow
except ImportError:  # pragma: no cover - psycopg is a dependency; this keeps the message clear
    _HAVE_PSYCOPG = False
else:
    _HAVE_PSYCOPG = True

Connection: TypeAlias = "psycopg.Connection[TupleRow]"
Row: TypeAlias = tuple[Any, ...]

_CONNECT_TIMEOUT_S = 10
IO_TIMEOUT_S = 30.0
"""No answer from the server for this long: the connection is cut (see the module notes)."""

# `{schema}` is filled in with a quoted identifier; everything else is unqualified and found
# through the connection's search_path, which is set to the schema alone.
_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq         BIGINT PRIMARY KEY CHECK (seq > 0),
    source      TEXT NOT NULL,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    occurred_at DOUBLE PRECISION NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    payload     TEXT NOT NULL,
    UNIQUE (source, key)
);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, seq);
CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END
$$;
CREATE OR REPLACE TRIGGER events_append_only_row BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE OR REPLACE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
CREATE TABLE IF NOT EXISTS cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id              BIGSERIAL PRIMARY KEY,
    event_seq       BIGINT NOT NULL REFERENCES events (seq),
    source          TEXT NOT NULL,
    action          TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_error      TEXT,
    delivered_at    DOUBLE PRECISION,
    claimed_by      TEXT,
    claimed_until   DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS snapshots (
    seq    BIGINT PRIMARY KEY,
    at     DOUBLE PRECISION NOT NULL,
    format INTEGER NOT NULL,
    data   BYTEA NOT NULL
);
"""

_TABLES = {"meta", "events", "cursors", "quarantine", "outbox", "snapshots"}
_EVENT_COLUMNS = "seq, source, key, kind, occurred_at, received_at, payload"

# A batch is copied into this session's own table before the seq lock is taken, so the lock
# is held only for the server's work (the batch's rows move within the server), not while
# this process turns events into rows and sends them.
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS append_batch (n INTEGER NOT NULL, source TEXT NOT NULL, "
    "key TEXT NOT NULL, kind TEXT NOT NULL, occurred_at DOUBLE PRECISION NOT NULL, "
    "received_at DOUBLE PRECISION NOT NULL, payload TEXT NOT NULL) ON COMMIT DELETE ROWS"
)
_STAGING_TYPES = ("int4", "text", "text", "text", "float8", "float8", "text")
_COPY_BATCH = (
    "COPY append_batch (n, source, key, kind, occurred_at, received_at, payload) "
    "FROM STDIN (FORMAT BINARY)"
)
_SAVE_CURSOR = (
    "INSERT INTO cursors (source, cursor, updated_at) "
    "VALUES (%s, %s, extract(epoch FROM now())) "
    "ON CONFLICT (source) DO UPDATE SET "
    "cursor = excluded.cursor, updated_at = excluded.updated_at"
)
# Under the seq lock, in one statement: the batch's rows not stored before (by source and
# key) take the seqs after the newest in their batch order; the doorbell rings with the
# newest; the answer is each stored row's place in the batch, in seq order. The statement's
# snapshot is taken after the lock (the statement before it), so it sees every committed seq.
_INSERT_BATCH = f"""
WITH fresh AS (
    SELECT b.*, row_number() OVER (ORDER BY b.n) AS i FROM append_batch b
    WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.source = b.source AND e.key = b.key)
), newest AS (
    SELECT COALESCE(MAX(seq), 0) AS seq FROM events
), added AS (
    INSERT INTO events ({_EVENT_COLUMNS})
    SELECT newest.seq + f.i, f.source, f.key, f.kind, f.occurred_at, f.received_at, f.payload
    FROM fresh f CROSS JOIN newest
    RETURNING seq
), rung AS (
    SELECT pg_notify(%s, MAX(seq)::text) FROM added HAVING COUNT(*) > 0
)
SELECT f.n, newest.seq + f.i FROM fresh f CROSS JOIN newest LEFT JOIN rung ON true ORDER BY f.i
"""


def _lock_key(purpose: str, schema: str) -> int:
    """A stable signed 64-bit advisory-lock key for one purpose in one schema."""
    digest = hashlib.blake2b(f"supervisor-tui:{purpose}:{schema}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _channel(schema: str) -> str:
    """The NOTIFY channel of a schema (an identifier: at most 63 bytes)."""
    name = f"{schema}.events"
    if len(name.encode()) <= 63:
        return name
    return "supervisor_tui." + hashlib.blake2b(schema.encode(), digest_size=16).hexdigest()


def safe_url(url: str) -> str:
    """The connection URL as it may be shown: user, host, port and database, no password."""
    try:
        params = conninfo_to_dict(url) if _HAVE_PSYCOPG else {}
    except psycopg.Error:
        params = {}
    if not params:
        # Unparseable (or no psycopg): hide anything that looks like a password.
        return _redact_patterns(url)
    user = params.get("user")
    host = params.get("host") or params.get("hostaddr") or ""
    port = params.get("port")
    dbname = params.get("dbname") or ""
    return (
        "postgresql://"
        + (f"{user}@" if user else "")
        + str(host)
        + (f":{port}" if port else "")
        + f"/{dbname}"
    )


def _redact_patterns(text: str) -> str:
    text = re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text, flags=re.I)


class PostgresStore(LocalFeed):
    """Append-only event log in a PostgreSQL schema; safe to share between threads and
    between processes (several may write to the same schema at once; a collector also takes
    the writer lease of its sources, so each source has one collector)."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        schema: str = "supervisor",
        io_timeout_s: float = IO_TIMEOUT_S,
    ) -> None:
        self.url = safe_url(url)
        self.io_timeout_s = io_timeout_s
        self.schema = schema
        self.read_only = read_only
        self.channel = _channel(schema)
        self.where = f"{self.url} (schema {schema})"
        self._url = url
        self._secrets = self._find_secrets(url)
        self._listeners: list[Listener] = []
        self._write_lock = threading.Lock()
        self._ack_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._listen_lock = threading.Lock()
        self._seq_lock_key = _lock_key("seq", schema)
        self._writer: Connection | None = None
        self._acks: Connection | None = None
        self._reader: Connection | None = None
        self._listen_conn: Connection | None = None
        self._staged_on: Connection | None = None
        """The writer connection on which this session's staging table was made."""
        if not _HAVE_PSYCOPG:
            raise StoreError(f"{self.where}: PostgreSQL needs psycopg (pip install psycopg)")
        if len(schema.encode()) > 63 or not schema:
            raise StoreError(f"{self.where}: a schema name has 1 to 63 bytes")
        try:
            if read_only:
                self._reader = self._connect()
                self._check_schema(self._reader)
                return
            self._writer = self._connect()
            self._init_schema(self._writer)
            self._acks = self._connect()
            self._reader = self._connect()
        except BaseException:
            self.close()
            raise

    # -- connections -----------------------------------------------------------------------

    @staticmethod
    def _find_secrets(url: str) -> list[str]:
        try:
            password = conninfo_to_dict(url).get("password") if _HAVE_PSYCOPG else None
        except psycopg.Error:
            return []
        if not password:
            return []
        from urllib.parse import quote

        return sorted({str(password), quote(str(password), safe="")}, key=len, reverse=True)

    def _message(self, exc: BaseException) -> str:
        """The first line of a driver error, with the password (if any) taken out."""
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = lines[0] if lines else type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _redact_patterns(text)

    def _connect(self, *, listen: bool = False) -> Connection:
        try:
            params = conninfo_to_dict(self._url)
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: bad URL ({self._message(exc)})") from None
        extra: dict[str, Any] = {}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = _CONNECT_TIMEOUT_S
        if "application_name" not in params:
            extra["application_name"] = "supervisor-tui"
        # a dead peer noticed by the kernel too: keepalives when idle, and unacknowledged
        # data given up on after the deadline
        for option, value in (
            ("keepalives", 1),
            ("keepalives_idle", 10),
            ("keepalives_interval", 5),
            ("keepalives_count", 3),
            ("tcp_user_timeout", int(self.io_timeout_s * 1000)),
        ):
            if option not in params:
                extra[option] = value
        try:
            conn = psycopg.connect(self._url, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: cannot connect ({self._message(exc)})") from None
        try:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            if self.read_only and not listen:
                conn.execute("SET default_transaction_read_only = on")
            elif not listen:
                conn.execute("SET synchronous_commit = on")
                # a session that goes silent inside a transaction releases the seq lock
                conn.execute(
                    "SELECT set_config('idle_in_transaction_session_timeout', %s, false)",
                    (f"{int(self.io_timeout_s * 2000)}ms",),
                )
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"{self.where}: cannot connect ({self._message(exc)})") from None
        return conn

    def _live(self, name: str) -> Connection:
        """The role's connection, replaced by a new one if it broke (call with its lock)."""
        conn: Connection | None = getattr(self, name)
        if conn is None:
            if self.read_only and name != "_reader":
                raise StoreError(f"{self.where}: opened read-only")
            raise StoreError(f"{self.where}: store is closed")
        if conn.closed or conn.broken:
            conn.close()
            conn = self._connect()
            setattr(self, name, conn)
        return conn

    @contextmanager
    def _deadline(
        self, conn: Connection, what: str, seconds: float | None = None
    ) -> Iterator[None]:
        """Cut ``conn`` if the call inside takes longer than the deadline (no answer from a
        black-holed network): the blocked call then fails at once with a StoreError."""
        limit = self.io_timeout_s if seconds is None else seconds
        guard = threading.Lock()
        state = {"done": False, "fired": False}

        def cut() -> None:
            with guard:
                if state["done"]:
                    return
                state["fired"] = True
                try:
                    fd = conn.pgconn.socket
                    with socket.socket(fileno=os.dup(fd)) as sock:
                        sock.shutdown(socket.SHUT_RDWR)
                except (OSError, psycopg.Error):
                    pass

        timer = threading.Timer(limit, cut)
        timer.daemon = True
        timer.start()
        try:
            yield
        except psycopg.Error:
            if state["fired"]:
                raise StoreError(
                    f"{self.where}: {what}: no answer from the server for {limit:.0f} s "
                    "(the connection was cut; the next try reconnects)"
                ) from None
            raise
        finally:
            with guard:
                state["done"] = True
            timer.cancel()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: {what} ({self._message(exc)})") from None

    def _tables(self, conn: Connection) -> set[str]:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
            (self.schema,),
        ).fetchall()
        return {str(r[0]) for r in rows}

    def _schema_version(self, conn: Connection, tables: set[str]) -> int:
        if "meta" not in tables:
            raise StoreCorrupt(f"{self.where}: not a supervisor-tui store (no meta table)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            raise StoreCorrupt(f"{self.where}: not a supervisor-tui store (no schema version)")
        try:
            version = int(row[0])
        except ValueError:
            raise StoreCorrupt(
                f"{self.where}: not a supervisor-tui store (schema version {row[0]!r})"
            ) from None
        if version > SCHEMA_VERSION:
            raise StoreTooNew(
                f"{self.where}: written by a newer supervisor-tui (store schema {version}, "
                f"this version reads up to {SCHEMA_VERSION})"
            )
        return version

    def _init_schema(self, conn: Connection) -> None:
        with self._write_lock, self._errors("cannot create the store"), conn.transaction():
            # Several processes may open a new store at once: CREATE ... IF NOT EXISTS is not
            # safe against a concurrent CREATE, so they take turns.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key("init", self.schema),))
            tables = self._tables(conn)
            if tables:
                # Refuse a newer store before changing anything; leave a current one alone
                # (re-running the DDL would lock the events table against other writers).
                version = self._schema_version(conn, tables)
                if version == SCHEMA_VERSION and _TABLES.issubset(tables):
                    self._add_claim_columns(conn)
                    return
            conn.execute(sql.SQL(_SCHEMA).format(schema=sql.Identifier(self.schema)))
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO NOTHING",
                (str(SCHEMA_VERSION),),
            )

    def _add_claim_columns(self, conn: Connection) -> None:
        """A store made before write-backs were claimed gets the two columns (looked up
        first: an ALTER locks the table against every other writer, even as a no-op)."""
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'outbox'",
            (self.schema,),
        ).fetchall()
        if {"claimed_by", "claimed_until"} - {str(r[0]) for r in rows}:
            conn.execute(
                "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS claimed_by TEXT, "
                "ADD COLUMN IF NOT EXISTS claimed_until DOUBLE PRECISION"
            )

    def _check_schema(self, conn: Connection) -> None:
        with self._errors("cannot read the store"):
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
            if exists is None:
                raise StoreError(f"{self.where}: no such store (the schema does not exist)")
            self._schema_version(conn, self._tables(conn))

    # -- writing ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _notify(self, seq: int) -> None:
        for listener in self._listeners:
            listener(seq)

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.where}: opened read-only")

    def _take_seqs(self, conn: Connection) -> int:
        """Take the seq lock (until the end of the transaction); return the newest seq."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._seq_lock_key,))
        row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        assert row is not None
        return int(row[0])

    def _ring(self, conn: Connection, seq: int) -> None:
        """The doorbell: delivered when (and only if) the transaction commits."""
        conn.execute("SELECT pg_notify(%s, %s)", (self.channel, str(seq)))

    def append(
        self, events: Sequence[NewEvent], cursors: Mapping[str, str] | None = None
    ) -> list[Event]:
        self._writable()
        by_key: dict[tuple[str, str], NewEvent] = {}
        for e in events:
            by_key.setdefault((e.source, e.key), e)
        batch = list(by_key.values())
        rows = [(n, *row) for n, row in enumerate(stored_rows(batch), 1)]
        stored: list[Event] = []
        with self._write_lock, self._errors("cannot append"):
            conn = self._live("_writer")
            with self._deadline(conn, "cannot append"):
                if rows and self._staged_on is not conn:
                    conn.execute(_STAGING)  # autocommit: it outlives a batch rolled back
                    self._staged_on = conn
                with conn.transaction():
                    placed: list[Row] = []
                    with conn.cursor() as cur:
                        if rows:
                            with cur.copy(_COPY_BATCH) as copy:
                                copy.set_types(_STAGING_TYPES)
                                for row in rows:
                                    copy.write_row(row)
                        # Seqs in the order of commits (see the module notes), and without
                        # gaps: what is already stored is left out under the lock. All in
                        # one round trip: the lock is held for the server's work and the
                        # commit's round trip only.
                        with conn.pipeline():
                            if rows:
                                cur.execute(
                                    "SELECT pg_advisory_xact_lock(%s)", (self._seq_lock_key,)
                                )
                                cur.execute(_INSERT_BATCH, (self.channel,))
                            if cursors:
                                with conn.cursor() as marks:
                                    marks.executemany(_SAVE_CURSOR, list(cursors.items()))
                        if rows:
                            placed = cur.fetchall()
                    stored = numbered(
                        [int(seq) for _, seq in placed], [batch[n - 1] for n, _ in placed]
                    )
        if stored:
            self._notify(stored[-1].seq)
        return stored

    def append_durable(self, event: NewEvent, outbox: OutboxRequest | None = None) -> Event | None:
        self._writable()
        seq: int | None = None
        with self._ack_lock, self._errors(f"cannot record {event.kind}"):
            conn = self._live("_acks")
            with self._deadline(conn, f"cannot record {event.kind}"), conn.transaction():
                before = self._take_seqs(conn)
                seen = conn.execute(
                    "SELECT 1 FROM events WHERE source = %s AND key = %s",
                    (event.source, event.key),
                ).fetchone()
                if seen is None:
                    seq = before + 1
                    conn.execute(
                        f"INSERT INTO events ({_EVENT_COLUMNS}) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (
                            seq,
                            event.source,
                            event.key,
                            event.payload.KIND,
                            event.occurred_at,
                            event.received_at,
                            event.payload.model_dump_json(),
                        ),
                    )
                    if outbox is not None:
                        conn.execute(
                            "INSERT INTO outbox (event_seq, source, action, body, "
                            "next_attempt_at) VALUES (%s, %s, %s, %s, %s)",
                            (seq, outbox.source, outbox.action, outbox.body, event.received_at),
                        )
                    self._ring(conn, seq)
        if seq is None:
            return None
        stored = Event(seq=seq, **event.model_dump(exclude={"payload"}), payload=event.payload)
        self._notify(stored.seq)
        return stored

    def quarantine(self, source: str, kind: str, raw: str, reason: str, at: float) -> None:
        self._writable()
        with self._write_lock, self._errors("cannot quarantine a payload"):
            conn = self._live("_writer")
            with self._deadline(conn, "cannot quarantine a payload"):
                conn.execute(
                    "INSERT INTO quarantine (source, kind, reason, raw, received_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (source, kind, reason, raw, at),
                )

    def save_snapshot(self, seq: int, at: float, fmt: int, data: bytes) -> None:
        self._writable()
        with self._write_lock, self._errors("cannot save a snapshot"):
            conn = self._live("_writer")
            with self._deadline(conn, "cannot save a snapshot"):
                conn.execute(
                    "INSERT INTO snapshots (seq, at, format, data) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (seq) DO UPDATE SET "
                    "at = excluded.at, format = excluded.format, data = excluded.data",
                    (seq, at, fmt, data),
                )

    # -- reading ---------------------------------------------------------------------------

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        what = "cannot read the store"
        with self._read_lock, self._errors(what):
            conn = self._live("_reader")
            try:
                with self._deadline(conn, what):
                    return conn.execute(query, params).fetchall()
            except psycopg.OperationalError:
                if not conn.broken:
                    raise
            # The connection was lost (a server restart, an idle timeout): reading is
            # harmless to repeat, so once more on a new one.
            conn = self._live("_reader")
            with self._deadline(conn, what):
                return conn.execute(query, params).fetchall()

    def read_from(self, after_seq: int, limit: int = 10_000) -> list[Event]:
        rows = self._read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > %s ORDER BY seq LIMIT %s",
            (after_seq, limit),
        )
        return [self._event(row) for row in rows]

    def _event(self, row: Any) -> Event:
        return event_from_row(row, str(self.where))

    def read_rows_from(self, after_seq: int, limit: int = 10_000) -> list[EventRow]:
        """``read_from``'s rows, not yet events (``event_of`` makes each)."""
        rows: list[EventRow] = self._read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > %s ORDER BY seq LIMIT %s",
            (after_seq, limit),
        )
        return rows

    def event_of(self, row: EventRow) -> Event:
        return self._event(row)

    def read_range(self, after_seq: int, upto_seq: int) -> list[Event]:
        """Events with after_seq < seq <= upto_seq, in order."""
        if upto_seq <= after_seq:
            return []
        rows = self._read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > %s AND seq <= %s ORDER BY seq",
            (after_seq, upto_seq),
        )
        return [self._event(row) for row in rows]

    def timeline(self) -> tuple[list[int], list[float]]:
        """Every event's seq and the time it was received, in seq order (for replay)."""
        rows = self._read("SELECT seq, received_at FROM events ORDER BY seq")
        return [int(r[0]) for r in rows], [float(r[1]) for r in rows]

    def events_of_kind(self, kind: str) -> list[Event]:
        rows = self._read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE kind = %s ORDER BY seq", (kind,)
        )
        return [self._event(row) for row in rows]

    def snapshot_index(self) -> list[int]:
        """Seqs at which a FloorState snapshot is stored."""
        return [int(r[0]) for r in self._read("SELECT seq FROM snapshots ORDER BY seq")]

    def snapshot_formats(self) -> set[int]:
        return {int(r[0]) for r in self._read("SELECT DISTINCT format FROM snapshots")}

    def load_snapshot(self, seq: int) -> tuple[int, bytes] | None:
        rows = self._read("SELECT format, data FROM snapshots WHERE seq = %s", (seq,))
        return None if not rows else (int(rows[0][0]), bytes(rows[0][1]))

    def last_seq(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def get_cursor(self, source: str) -> str | None:
        rows = self._read("SELECT cursor FROM cursors WHERE source = %s", (source,))
        return None if not rows else str(rows[0][0])

    def quarantined(self, limit: int = 100) -> list[QuarantinedPayload]:
        rows = self._read(
            "SELECT id, source, kind, reason, raw, received_at FROM quarantine "
            "ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        return [QuarantinedPayload(*row) for row in rows]

    # -- following -------------------------------------------------------------------------

    def wait_for_new(self, timeout_s: float) -> int | None:
        """Wait up to ``timeout_s`` for a commit that adds events, on a connection of its own.

        Returns the newest seq announced, or None if none was. The first call (and the first
        after a lost connection, which is replaced at once) subscribes; it returns at once
        with the newest seq stored then, if there is any, so that nothing committed before
        the subscription is missed. This is a doorbell only: read the events with
        :meth:`read_from`. (:meth:`close` waits for a wait in another thread to end.)"""
        with self._listen_lock:
            subscribed = self._listen_conn is not None
            try:
                return self._wait(timeout_s)
            except psycopg.Error as exc:
                self._drop_listener()
                if not subscribed:
                    raise StoreError(
                        f"{self.where}: cannot listen ({self._message(exc)})"
                    ) from None
            try:  # the connection was lost while subscribed: subscribe again
                return self._wait(timeout_s)
            except psycopg.Error as exc:
                self._drop_listener()
                raise StoreError(f"{self.where}: cannot listen ({self._message(exc)})") from None

    def _drop_listener(self) -> None:
        if self._listen_conn is not None:
            self._listen_conn.close()
            self._listen_conn = None

    def _wait(self, timeout_s: float) -> int | None:
        conn = self._listen_conn
        fresh = conn is None or conn.closed or conn.broken
        if conn is None or fresh:
            self._drop_listener()
            conn = self._connect(listen=True)
            self._listen_conn = conn
        try:
            with self._deadline(conn, "cannot listen", timeout_s + self.io_timeout_s):
                return self._wait_on(conn, timeout_s, subscribe=fresh)
        except StoreError:
            self._drop_listener()
            raise

    def _wait_on(self, conn: Connection, timeout_s: float, *, subscribe: bool) -> int | None:
        if subscribe:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
            if row is not None and int(row[0]) > 0:
                return int(row[0])
        newest: int | None = None
        # Wait for one, then take whatever else has already arrived.
        waits: list[dict[str, Any]] = [
            {"timeout": max(0.0, timeout_s), "stop_after": 1},
            {"timeout": 0.0},
        ]
        for wait in waits:
            for note in conn.notifies(**wait):
                try:
                    seq = int(note.payload)
                except ValueError:
                    continue
                newest = seq if newest is None else max(newest, seq)
            if newest is None:
                break
        return newest

    # -- outbox ----------------------------------------------------------------------------

    def outbox_due(self, now: float, limit: int = 50) -> list[OutboxItem]:
        rows = self._read(
            "SELECT id, event_seq, source, action, body, attempts, next_attempt_at, last_error "
            "FROM outbox WHERE state = 'pending' AND next_attempt_at <= %s ORDER BY id LIMIT %s",
            (now, limit),
        )
        return [OutboxItem(*row) for row in rows]

    def write_back_outcomes(self) -> list[WriteBackOutcome]:
        """Every write-back the outbox holds, in the order the commands were made."""
        rows = self._read(
            "SELECT event_seq, source, action, state, attempts, last_error, delivered_at, "
            "next_attempt_at FROM outbox ORDER BY id"
        )
        return [WriteBackOutcome(*row) for row in rows]

    def outbox_pending_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0][0])

    def outbox_claim(
        self,
        now: float,
        claimer: str,
        limit: int = 50,
        claim_s: float = OUTBOX_CLAIM_S,
        sources: Collection[str] | None = None,
    ) -> list[OutboxItem]:
        self._writable()
        only = "" if sources is None else "AND source = ANY(%s) "
        named = [] if sources is None else [sorted(sources)]
        with self._ack_lock, self._errors("cannot claim write-backs"):
            conn = self._live("_acks")
            with self._deadline(conn, "cannot claim write-backs"), conn.transaction():
                # SKIP LOCKED: a row another collector is claiming this instant is its own
                rows = conn.execute(
                    "UPDATE outbox SET claimed_by = %s, claimed_until = %s WHERE id IN ("
                    "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= %s "
                    "AND (claimed_until IS NULL OR claimed_until < %s OR claimed_by = %s) "
                    f"{only}ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING "
                    "id, event_seq, source, action, body, attempts, next_attempt_at, last_error",
                    (claimer, now + claim_s, now, now, claimer, *named, limit),
                ).fetchall()
        return sorted((OutboxItem(*row) for row in rows), key=lambda item: item.id)

    def outbox_release_claims(self, keep: str, sources: Collection[str] | None = None) -> int:
        self._writable()
        only = "" if sources is None else " AND source = ANY(%s)"
        named = [] if sources is None else [sorted(sources)]
        with self._ack_lock, self._errors("cannot release claims"):
            conn = self._live("_acks")
            with self._deadline(conn, "cannot release claims"):
                cur = conn.execute(
                    "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
                    "WHERE state = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> %s"
                    + only,
                    (keep, *named),
                )
                return int(cur.rowcount)

    def writer_lease(self, holder: str, sources: Collection[str] = ()) -> _SourceLeases:
        self._writable()
        return _SourceLeases(self, holder, sources)

    def outbox_delivered(self, item_id: int, at: float) -> None:
        self._writable()
        with self._ack_lock, self._errors("cannot update the outbox"):
            conn = self._live("_acks")
            with self._deadline(conn, "cannot update the outbox"):
                conn.execute(
                    "UPDATE outbox SET state = 'delivered', delivered_at = %s, "
                    "attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL "
                    "WHERE id = %s",
                    (at, item_id),
                )

    def outbox_failed(self, item_id: int, error: str, retry_at: float | None) -> None:
        """Record a failed delivery: try again at ``retry_at``, or never when it is None."""
        self._writable()
        with self._ack_lock, self._errors("cannot update the outbox"):
            conn = self._live("_acks")
            with self._deadline(conn, "cannot update the outbox"):
                if retry_at is None:
                    conn.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = %s, "
                        "state = 'failed', claimed_by = NULL, claimed_until = NULL WHERE id = %s",
                        (error, item_id),
                    )
                else:
                    conn.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = %s, "
                        "next_attempt_at = %s, claimed_by = NULL, claimed_until = NULL "
                        "WHERE id = %s",
                        (error, retry_at, item_id),
                    )

    def close(self) -> None:
        for name, lock in (
            ("_writer", self._write_lock),
            ("_acks", self._ack_lock),
            ("_reader", self._read_lock),
            ("_listen_conn", self._listen_lock),
        ):
            with lock:
                conn: Connection | None = getattr(self, name, None)
                if conn is not None:
                    conn.close()
                    setattr(self, name, None)


def _hold_until_death(conn: Connection) -> None:
    """A session that holds a lease: the server notices a vanished holder within a minute,
    not hours, and lets its locks go; and it is never cut for sitting idle."""
    for name, value in (
        ("tcp_keepalives_idle", "10"),
        ("tcp_keepalives_interval", "5"),
        ("tcp_keepalives_count", "3"),
        ("idle_in_transaction_session_timeout", "0"),
    ):
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))


def _held_by(conn: Connection, what: str) -> str:
    """Who holds a lease, as its holder wrote it in the meta table ("pid N on HOST, since …")."""
    row = conn.execute("SELECT value FROM meta WHERE key = %s", (f"lease:{what}",)).fetchone()
    return holder_text(str(row[0])) if row else "another session"


def _say_held(conn: Connection, what: str, holder: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (%s, %s || ', since ' || "
        "to_char(now(), 'YYYY-MM-DD HH24:MI:SS TZ')) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (f"lease:{what}", holder),
    )


def _lock_ids(keys: Sequence[int]) -> list[list[int]]:
    """How pg_locks shows bigint advisory keys: their high and their low 32 bits."""
    return [[(key >> 32) & 0xFFFFFFFF for key in keys], [key & 0xFFFFFFFF for key in keys]]


_HELD = (
    "SELECT count(*) FROM pg_locks l JOIN unnest(%s::bigint[], %s::bigint[]) AS k (hi, lo) "
    "ON l.classid = k.hi::oid AND l.objid = k.lo::oid WHERE l.locktype = 'advisory' "
    "AND l.objsubid = 1 AND l.granted"
)
"""How many of the given advisory keys are held (add ``AND l.pid = pg_backend_pid()``: by
this session)."""


class _SourceLeases:
    """The writer lease of a collector on a PostgreSQL floor: one session-level advisory lock
    per source it reads (several collectors feed one floor, each its own sources), held on a
    connection of its own for the collector's life. Two collectors naming the same source:
    the second is refused with the source and its holder (written to the meta table).

    PostgreSQL drops the locks when that session ends: the collector died, or its machine or
    network did (the server's keepalives notice within ~25 s). That is the heartbeat: another
    collector may then take the sources over, and :meth:`verify` (every second) says whether
    they are still ours or takes them again. A collector that is alive but slow keeps them:
    no lock is ever taken from a live session, so two collectors never both think a source is
    theirs. (Were it to happen for a moment, the store would still keep one copy of each event:
    events are unique by source and key, and write-backs are claimed before they are sent.)

    The floor's rules are run by one collector, whichever takes the rules lock first; the
    others try each second and take over when its session ends (see :class:`_RulesWriter`).

    Every lease also holds the floor's old whole-floor key in shared mode, so a collector of
    an older version (which takes it exclusively) and this one refuse each other."""

    def __init__(self, store: PostgresStore, holder: str, sources: Collection[str]) -> None:
        self.store = store
        self.holder = holder
        self.sources: frozenset[str] | None = frozenset(sources)
        self._floor_key = _lock_key("writer", store.schema)
        self._keys = {name: _lock_key(f"source:{name}", store.schema) for name in sorted(sources)}
        self._rules_key = _lock_key("rules", store.schema)
        self._conn: Connection | None = None
        self._rules: _RulesWriter | None = None
        self._take()
        self._take_rules()

    def _take(self) -> None:
        store = self.store
        what = "cannot take the writer lease"
        conn = store._connect()
        try:
            with store._errors(what), store._deadline(conn, what):
                _hold_until_death(conn)
                row = conn.execute(
                    "SELECT pg_try_advisory_lock_shared(%s)", (self._floor_key,)
                ).fetchone()
                if row is None or not row[0]:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'writer'").fetchone()
                    who = holder_text(str(row[0])) if row else "another session"
                    raise StoreBusy(
                        f"{store.where}: another collector is writing to this floor ({who}), "
                        "an older supervisor-tui that holds all of it; stop it first"
                    )
                for name, key in self._keys.items():
                    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                    if row is None or not row[0]:
                        raise StoreBusy(
                            f"{store.where}: another collector is writing to this floor's "
                            f"source {name!r} ({_held_by(conn, f'source:{name}')}); the "
                            "collectors of one floor each read sources of their own: take "
                            f"{name!r} out of one config, or stop the other collector first"
                        )
                for name in self._keys:
                    _say_held(conn, f"source:{name}", self.holder)
        except BaseException:
            conn.close()  # the session ends: the locks taken so far go with it
            raise
        self._conn = conn

    def _take_rules(self) -> None:
        """Become the floor's rules runner if none is (a cheap look first: a store of its
        own is opened only when the rules lock is free)."""
        conn = self._conn
        if conn is None:
            return
        store = self.store
        what = "cannot look for the rules runner"
        try:
            with store._errors(what), store._deadline(conn, what, 10.0):
                row = conn.execute(_HELD, _lock_ids([self._rules_key])).fetchone()
            if row is not None and int(row[0]) > 0:
                return
            self._rules = _RulesWriter(store, self.holder, self._rules_key)
        except StoreError:
            return  # another collector took them first, or the store is in trouble: next time

    def verify(self) -> None:
        store = self.store
        conn = self._conn
        if conn is not None and not (conn.closed or conn.broken):
            what = "cannot check the writer lease"
            keys = [self._floor_key, *self._keys.values()]
            try:
                with store._errors(what), store._deadline(conn, what, 10.0):
                    mine = _HELD + " AND l.pid = pg_backend_pid()"
                    row = conn.execute(mine, _lock_ids(keys)).fetchone()
                if row is not None and int(row[0]) == len(keys):
                    self._check_rules()
                    return
            except StoreError:
                pass
        # the session holding the locks is gone, and the locks with it: take them again
        self._drop_rules()
        if conn is not None:
            conn.close()
            self._conn = None
        try:
            self._take()
        except StoreError as exc:
            raise StoreError(f"lost the writer lease: {exc}") from None
        self._take_rules()

    def _check_rules(self) -> None:
        if self._rules is not None and not self._rules.still_runs():
            self._drop_rules()
        if self._rules is None:
            self._take_rules()

    def _drop_rules(self) -> None:
        if self._rules is not None:
            self._rules.close()
            self._rules = None

    @property
    def runs_rules(self) -> bool:
        return self._rules is not None

    def append_rules(self, events: Sequence[NewEvent]) -> list[Event]:
        rules = self._rules
        if rules is None:
            raise StoreError(f"{self.store.where}: another collector runs the rules")
        stored = rules.append(events)
        if stored:  # this process's readers hear of it as of any other append of its own
            self.store._notify(stored[-1].seq)
        return stored

    def release(self) -> None:
        self._drop_rules()
        if self._conn is not None:
            self._conn.close()  # the session ends: PostgreSQL releases the locks
            self._conn = None


class _RulesWriter(PostgresStore):
    """The rules runner's own writer: its writing session holds the floor's rules lock, and
    takes it again (or fails) whenever the session is new. An escalation is thus stored only
    by the session holding the lock: a runner that lost it (its session was cut, another
    collector took over) cannot store one more, and the new runner, which reads the floor
    after taking the lock, has seen every one the old runner stored. Each escalation is
    raised once, whoever runs the rules."""

    def __init__(self, store: PostgresStore, holder: str, key: int) -> None:
        super().__init__(store._url, schema=store.schema, io_timeout_s=store.io_timeout_s)
        self._rules_key = key
        self._holder = holder
        self._fenced: Connection | None = None
        for name in ("_acks", "_reader"):  # it only appends
            conn: Connection | None = getattr(self, name)
            if conn is not None:
                conn.close()
                setattr(self, name, None)
        try:
            with self._write_lock:
                self._live("_writer")
        except BaseException:
            self.close()
            raise

    def _live(self, name: str) -> Connection:
        conn = super()._live(name)
        if name == "_writer" and conn is not self._fenced:
            self._fence(conn)
        return conn

    def _fence(self, conn: Connection) -> None:
        what = "cannot take the rules lease"
        with self._errors(what), self._deadline(conn, what):
            _hold_until_death(conn)
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._rules_key,)).fetchone()
            if row is None or not row[0]:
                raise StoreBusy(
                    f"{self.where}: another collector runs the rules ({_held_by(conn, 'rules')})"
                )
            _say_held(conn, "rules", self._holder)
        self._fenced = conn

    def still_runs(self) -> bool:
        """Its session is alive and holds the rules lock."""
        with self._write_lock:
            conn = self._writer
            if conn is None or conn is not self._fenced or conn.closed or conn.broken:
                return False
            try:
                what = "cannot check the rules lease"
                with self._errors(what), self._deadline(conn, what, 10.0):
                    conn.execute("SELECT 1")
            except StoreError:
                return False
            return True
