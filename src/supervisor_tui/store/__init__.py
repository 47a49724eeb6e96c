"""The append-only event log. Imports the model only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supervisor_tui.store.base import (
    SCHEMA_VERSION,
    OutboxItem,
    OutboxRequest,
    QuarantinedPayload,
    Store,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
    as_new,
    every_event,
)
from supervisor_tui.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from supervisor_tui.store.postgres import PostgresStore

__all__ = [
    "SCHEMA_VERSION",
    "OutboxItem",
    "OutboxRequest",
    "PostgresStore",
    "QuarantinedPayload",
    "SQLiteStore",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreTooNew",
    "as_new",
    "every_event",
]


def __getattr__(name: str) -> Any:
    # The PostgreSQL store (and psycopg) is loaded only by those who use it.
    if name == "PostgresStore":
        from supervisor_tui.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
