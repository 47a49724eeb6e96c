"""Shared fixtures: a simulated floor recorded into a real SQLite file, and a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from supervisor_tui import i18n
from supervisor_tui.adapters.simulator import FloorSimulation, SimOptions
from supervisor_tui.config import Config, default_rules
from supervisor_tui.core.projection import FloorState
from supervisor_tui.core.rules import RuleEngine
from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.model import NewEvent
from supervisor_tui.store import SQLiteStore

from .pg import pg_url as pg_url  # the PostgreSQL server fixture


@pytest.fixture(autouse=True)
def _english_unless_asked() -> Iterator[None]:
    """Every test starts in English, whatever the machine's locale or the last test chose."""
    i18n.use("en")
    yield
    i18n.use("en")


@pytest.fixture(autouse=True)
def _a_data_directory_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command run in-process (check, watch) logs to the data directory by default: the
    test's own, never the machine's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


EPOCH = 1_790_000_000.0  # the simulated floor's 08:00, fixed so screens are reproducible
ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def targets() -> FloorTargets:
    return FloorTargets(
        default=QueueTargets(), queues={"chat": QueueTargets(sl_threshold_s=60)}, utc_offset_s=0
    )


def rules() -> RuleEngine:
    config = Config.model_validate({"rules": default_rules()})
    return RuleEngine(list(config.rules))


def simulate(seed: int = 7, until_s: float = 3.5 * 3600, **options: object) -> list[NewEvent]:
    sim = FloorSimulation(SimOptions(seed=seed, **options), EPOCH)  # type: ignore[arg-type]
    return list(sim.advance(until_s))


def record_floor(
    path: Path, *, seed: int = 7, until_s: float = 3.5 * 3600, language: str = "en"
) -> SQLiteStore:
    """A store holding a simulated morning and the escalations the default rules raise (the
    floor's people, queues and tickets named in ``language``)."""
    store = SQLiteStore(path)
    store.append(simulate(seed, until_s, language=language), {"simulator": "test"})
    state = FloorState(targets())
    state.apply_all(store.read_from(0, 1_000_000))
    found = rules().evaluate(state, EPOCH + until_s)
    store.append(found)
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "floor.db")
    yield s
    s.close()
