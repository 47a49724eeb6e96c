"""Wiring for one process: config → store, adapters, rules and the collector."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supervisor_tui.adapters.base import Adapter, TakesWebhooks, load_adapter_class
from supervisor_tui.adapters.simulator import SimulatorAdapter
from supervisor_tui.config import Config
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.hub.collector import Collector
from supervisor_tui.hub.webhooks import WebhookServer
from supervisor_tui.store import SQLiteStore
from supervisor_tui.store.postgres import PostgresStore


@dataclass
class LiveFloor:
    config: Config
    store: SQLiteStore | PostgresStore
    adapters: list[Adapter]
    collector: Collector
    rules: RuleEngine
    clock: Callable[[], float]


def build_live_floor(
    config: Config, db_path: Path | None = None, clock: Callable[[], float] | None = None
) -> LiveFloor:
    """``clock`` is the floor's time when it is not the wall clock (a sped-up demo)."""
    adapter_clock = clock or time.time
    adapters: list[Adapter] = []
    clock = adapter_clock
    for source in config.sources:
        cls = load_adapter_class(source.kind)
        settings = source.model_dump(exclude={"name", "kind"})
        adapter = cls.from_config(source.name, settings, adapter_clock)
        adapters.append(adapter)
        if isinstance(adapter, SimulatorAdapter) and adapter.options.speed != 1:
            clock = adapter.clock  # a time-compressed simulation runs the floor's clock
    url = None if db_path is not None else config.store.postgres_url()
    store: SQLiteStore | PostgresStore
    if url is not None:
        store = PostgresStore(url, schema=config.store.schema_name)
    else:
        store = SQLiteStore(db_path or config.store.resolved_path())
    rules = RuleEngine(list(config.rules))
    webhooks = None
    if config.webhooks.listen:
        host, port = config.webhooks.address()
        tls = None
        if config.webhooks.tls_cert and config.webhooks.tls_key:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(config.webhooks.tls_cert, config.webhooks.tls_key)
        targets = {a.name: a for a in adapters if isinstance(a, TakesWebhooks)}
        webhooks = WebhookServer(targets, host, port, tls)
    collector = Collector(store, adapters, rules, config.floor_targets(), clock, webhooks=webhooks)
    return LiveFloor(config, store, adapters, collector, rules, clock)
