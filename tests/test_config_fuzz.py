"""Fuzzing the configuration's front door (issue #19): whatever a file holds, ``load_config``
returns a Config or raises a ConfigError whose every line names the file; never another
exception.

Three kinds of input: random TOML documents (random keys, values of every TOML type, random
nesting), documents shaped like a configuration (its real section and key names, each source
and rule kind, random values), and random bytes, plus byte-level mutations of the example
config. ``make test`` runs a few dozen examples each (seconds); for a longer hunt:

    FUZZ_EXAMPLES=2000 .venv/bin/pytest -q -p no:cacheprovider tests/test_config_fuzz.py
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from supervisor_tui.config import Config, ConfigError, load_config

from .conftest import ROOT

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def models_of(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in get_args(tp) for m in models_of(arg)]


def known_keys(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every key name the configuration knows, at any depth: the fuzzer's vocabulary."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    keys = set(model.model_fields)
    for field in model.model_fields.values():
        for inner in models_of(field.annotation):
            keys |= known_keys(inner, seen)
    return keys


def kinds(field: str) -> list[str]:
    """The ``kind`` tags of the sources or rules."""
    annotation = Config.model_fields[field].annotation
    assert get_origin(annotation) is list
    return sorted(
        str(get_args(m.model_fields["kind"].annotation)[0])
        for m in models_of(annotation)
        if "kind" in m.model_fields
    )


KEYS = sorted(known_keys(Config))
SECTIONS = sorted(Config.model_fields)
SOURCE_KINDS = kinds("sources")
RULE_KINDS = kinds("rules")

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
key = st.one_of(st.sampled_from(KEYS), text)
scalar = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
    st.sampled_from(["127.0.0.1:8765", "0.0.0.0:99999", "view", "supervise", "wall", "~/x"]),
    st.sampled_from(SOURCE_KINDS + RULE_KINDS),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.dates(),
    st.times(),
)
value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=4),
    max_leaves=25,
)
table = st.dictionaries(key, value, max_size=6)


# few names, some hostile: repeats (refused, and named in the error) come up often
NAMES = st.sampled_from(["zendesk", "\x1b[2J", "a\nb", "\u202e", "x y"])


def with_kind(kinds: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda k, rest, name, ident: {**rest, "kind": k, "name": name, "id": ident},
        st.sampled_from(kinds),
        table,
        NAMES,
        NAMES,
    )


config_shaped = st.fixed_dictionaries(
    {},
    optional={
        "floor": table,
        "display": table,
        "store": table,
        "targets": st.one_of(
            table, st.builds(lambda q: {"queues": q}, st.dictionaries(text, table))
        ),
        "sources": st.lists(with_kind(SOURCE_KINDS), max_size=3),
        "webhooks": table,
        "hub": st.one_of(table, st.builds(lambda t: {"tokens": t}, st.lists(table, max_size=3))),
        "rules": st.lists(with_kind(RULE_KINDS), max_size=3),
        "keys": st.dictionaries(text, value, max_size=3),
        **{s: value for s in SECTIONS if s not in ("floor",)},
    },
)


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "floor.toml"


def load(path: Path, raw: bytes) -> None:
    path.write_bytes(raw)
    path.chmod(0o600)
    try:
        config = load_config(path)
    except ConfigError as exc:
        message = str(exc)
        # text from the file is data: no control character reaches the terminal
        assert all(c.isprintable() or c == "\n" for c in message), repr(message)
        lines = message.split("\n")
        assert lines, "an empty error"
        for line in lines:
            assert line.startswith(f"{path}:"), line
        return
    assert isinstance(config, Config)


@FUZZ
@given(doc=table)
def test_random_toml_documents(where: Path, doc: dict[str, Any]) -> None:
    load(where, tomli_w.dumps(doc).encode())


@FUZZ
@given(doc=config_shaped)
def test_documents_shaped_like_a_configuration(where: Path, doc: dict[str, Any]) -> None:
    load(where, tomli_w.dumps(doc).encode())


@FUZZ
@given(raw=st.binary(max_size=400))
def test_random_bytes(where: Path, raw: bytes) -> None:
    load(where, raw)


EXAMPLE = (ROOT / "config.example.toml").read_bytes()


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(EXAMPLE)), st.integers(0, 8), st.binary(max_size=8)),
        min_size=1,
        max_size=6,
    )
)
def test_the_example_config_mutated(where: Path, edits: list[tuple[int, int, bytes]]) -> None:
    raw = bytearray(EXAMPLE)
    for at, cut, insert in edits:
        raw[at : at + cut] = insert
    load(where, bytes(raw))


@FUZZ
@given(depth=st.integers(1, 3000), opener=st.sampled_from(["[", "{a = ", "[{b = "]))
def test_nesting_at_any_depth(where: Path, depth: int, opener: str) -> None:
    closer = {"[": "]", "{a = ": "}", "[{b = ": "}]"}[opener]
    section = ["keys", "rules", "floor"][depth % 3]
    load(where, f"{section} = {opener * depth}1{closer * depth}".encode())
