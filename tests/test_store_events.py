"""The events a store hands back from ``append`` and ``read_from`` are built without
validating them again (``store.base._built``): they must be the very events validation
would make, for every kind, in both stores, so nothing downstream (the fold, the hub,
pickling for a process) can tell them apart."""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import pydantic
import pytest

from supervisor_tui.model import Event, NewEvent, enums
from supervisor_tui.store import PostgresStore, SQLiteStore

from .conftest import record_floor, simulate
from .pg import new_schema


def validated(event: Event) -> Event:
    """The same event, through pydantic's validation."""
    return Event(
        seq=event.seq,
        source=event.source,
        key=event.key,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        payload=event.payload,
    )


def every_kind(tmp_path: Path) -> list[NewEvent]:
    """A simulated morning and the escalations the default rules raise on it: one event of
    each kind they make, and a few of the rest."""
    store = record_floor(tmp_path / "floor.db", until_s=3600)
    events = [
        NewEvent(
            source=e.source,
            key=e.key,
            occurred_at=e.occurred_at,
            received_at=e.received_at + 2.5,  # each time its own, to tell them apart
            payload=e.payload,
        )
        for e in store.read_from(0, 1_000_000)
    ]
    store.close()
    seen: dict[str, list[NewEvent]] = {}
    for e in events:
        seen.setdefault(e.kind, []).append(e)
    assert len(seen) >= 8, sorted(seen)
    return [e for same in seen.values() for e in same[:3]]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore | PostgresStore]:
    if request.param == "sqlite":
        opened: SQLiteStore | PostgresStore = SQLiteStore(tmp_path / "s.db")
    else:
        opened = PostgresStore(request.getfixturevalue("pg_url"), schema=new_schema())
    yield opened
    opened.close()


def test_appended_events_are_the_validated_events(
    store: SQLiteStore | PostgresStore, tmp_path: Path
) -> None:
    events = every_kind(tmp_path)
    repeats = events[:5]  # already stored: left out, and the seqs stay gapless
    stored = store.append(events) + store.append(repeats + simulate(seed=9, until_s=60)[:20])
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert stored == store.read_from(0, 10_000)
    given = {(e.source, e.key): e for e in events + simulate(seed=9, until_s=60)[:20]}
    for event in stored:
        new = given[(event.source, event.key)]
        assert event == Event(
            seq=event.seq, **new.model_dump(exclude={"payload"}), payload=new.payload
        )
    read = store.read_from(0, 10_000)  # built the same way from the rows
    for event in stored + read:
        again = validated(event)
        assert event == again
        assert event.model_dump() == again.model_dump()
        assert event.model_dump_json() == again.model_dump_json()
        assert event.model_fields_set == again.model_fields_set
        assert list(event.__dict__.items()) == list(again.__dict__.items())  # no more, in order
        assert hash(event) == hash(again)
        assert pickle.loads(pickle.dumps(event)) == again
        assert event.kind == again.kind
        with pytest.raises(pydantic.ValidationError):
            event.seq = 0  # type: ignore[misc]  # frozen, like any Event
    # the events share one fields set: a copy must not share it, nor change it
    moved = stored[0].model_copy(update={"seq": 10**9})
    assert moved.seq == 10**9 and stored[0].seq == 1
    assert moved.model_fields_set is not stored[0].model_fields_set
    assert stored[0].model_fields_set == validated(stored[0]).model_fields_set
    with pytest.raises(pydantic.ValidationError):
        stored[1].not_a_field = 0  # type: ignore[attr-defined]  # frozen: not added to the set
    assert stored[1].model_fields_set == validated(stored[1]).model_fields_set


VOCABULARY = [
    word for word in vars(enums).values() if isinstance(word, type) and issubclass(word, StrEnum)
]


@pytest.mark.parametrize("vocabulary", [v for v in VOCABULARY if len(v)], ids=lambda v: v.__name__)
def test_each_word_of_the_vocabulary_is_written_as_its_value(vocabulary: type[StrEnum]) -> None:
    """Payloads write the vocabulary's enums through pydantic's string serializer (its
    enum serializer reads ``value`` through a Python property): each member must still be
    written as its value, alone, optional or in a tuple, without a serializer warning, and
    read back as the member; a dump in Python keeps the member itself."""
    alone = pydantic.TypeAdapter(vocabulary)
    optional: pydantic.TypeAdapter[StrEnum | None] = pydantic.TypeAdapter(
        vocabulary | None  # type: ignore[arg-type]
    )
    many = pydantic.TypeAdapter(tuple[vocabulary, ...])  # type: ignore[valid-type]
    members = list(vocabulary)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for member in members:
            text = json.dumps(member.value).encode()
            assert alone.dump_json(member) == text
            assert optional.dump_json(member) == text
            assert alone.validate_json(text) is member
            assert alone.dump_python(member) is member
            assert alone.dump_python(member, mode="json") == member.value
            assert type(alone.dump_python(member, mode="json")) is str
        assert optional.dump_json(None) == b"null"
        assert (
            many.dump_json(tuple(members))
            == json.dumps([m.value for m in members], separators=(",", ":")).encode()
        )
        assert many.validate_json(many.dump_json(tuple(members))) == tuple(members)
