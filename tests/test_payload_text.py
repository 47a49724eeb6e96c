"""A payload read back from JSON text (a recording, a hub frame) is cleaned like one built
from a dict: every control character, escape introducer and direction override becomes a
space, whether the JSON carries it escaped (``\\u001b``, ``\\n``) or as the raw character, and
text with nothing to clean is kept as written."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_tui.model import parse_payload, printable

HOSTILE = [
    "\x1b[31mred\x1b[0m",  # an escape sequence
    "two\nlines\ttab",  # controls JSON writes as short escapes
    "\x9b31m C1 introducer",
    "\u202eevil override",
    "bell\x07 and nul-free",
    'quotes " and \\ backslash \x1b',
]


@pytest.mark.parametrize("ascii_only", [True, False])
@pytest.mark.parametrize("text", HOSTILE)
def test_controls_in_json_text_are_cleaned(text: str, ascii_only: bool) -> None:
    raw = json.dumps(
        {"queue_id": text, "name": f"Q {text}", "channel": "chat"}, ensure_ascii=ascii_only
    )
    parsed = parse_payload("queue.upserted", raw)
    assert parsed.model_dump()["name"] == printable(f"Q {text}")
    assert parsed.model_dump()["name"].isprintable()
    assert parsed.model_dump()["queue_id"] == printable(text)


@pytest.mark.parametrize(
    "text", ["plain", "Café · Ünïcode 中文", 'a "quoted" name', "back\\slash", "tab-free"]
)
def test_printable_text_is_kept_as_written(text: str) -> None:
    raw = json.dumps({"queue_id": "q", "name": text, "channel": "chat"}, ensure_ascii=False)
    assert parse_payload("queue.upserted", raw).model_dump()["name"] == text


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=64), st.text(max_size=32).map(str.encode)))
def test_a_snapshot_is_taken_as_printable_only_when_all_of_it_is(raw: bytes) -> None:
    """The scan that skips printable ASCII says "printable" only when decoding the whole and
    asking says so, and for text as written (valid UTF-8) it says the same."""
    from supervisor_tui.core.snapshot import all_printable

    whole = raw.decode("utf-8", "replace").isprintable()
    if all_printable(raw):
        assert whole
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert all_printable(raw) == whole


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.lists(st.text(max_size=16), max_size=3)))
def test_a_snapshot_skips_the_cleaning_only_when_every_text_in_it_is_printable(
    data: dict[str, list[str]],
) -> None:
    from supervisor_tui.core.snapshot import needs_care

    raw = json.dumps(data, ensure_ascii=False).encode()
    if not needs_care(raw):
        assert all(text.isprintable() for text in _strings(json.loads(raw)))


def test_quotes_slashes_and_backslashes_in_a_subject_need_no_cleaning() -> None:
    from supervisor_tui.core.snapshot import needs_care

    subject = 'Error "500" on C:\\Users\\ana / login'
    assert not needs_care(json.dumps({"subject": subject}, ensure_ascii=False).encode())
    assert needs_care(json.dumps({"subject": "bell\x07"}).encode())
    assert needs_care(json.dumps({"subject": "line\nbreak"}).encode())
    assert needs_care(json.dumps({"subject": "\u2028"}, ensure_ascii=False).encode())
