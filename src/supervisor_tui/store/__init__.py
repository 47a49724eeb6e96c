"""The append-only event log. Imports the model only."""

from supervisor_tui.store.base import (
    SCHEMA_VERSION,
    OutboxItem,
    OutboxRequest,
    QuarantinedPayload,
    Store,
    StoreCorrupt,
    StoreError,
    StoreTooNew,
)
from supervisor_tui.store.sqlite import SQLiteStore

__all__ = [
    "SCHEMA_VERSION",
    "OutboxItem",
    "OutboxRequest",
    "QuarantinedPayload",
    "SQLiteStore",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreTooNew",
]
