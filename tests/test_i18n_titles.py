"""Escalation titles are stored in English and said in the board's language (issue #21).

The rules word a title from one template and ``title_words`` reads it back with the same
template, so a recording made in English (or before this change) shows its escalations in
Japanese, and what came from the floor (queue names, tags, ticket numbers) is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_tui import i18n
from supervisor_tui.core.rules import (
    QUEUE_TITLE,
    QUEUE_TITLE_LEVEL,
    SLA_AT_RISK,
    SLA_BREACHED,
    TICKET_FLAGGED,
    title_words,
)
from supervisor_tui.model import EscalationRaised, EscalationResolved

from .conftest import record_floor

LANGUAGES = ["vi", "zh", "ja", "uk"]
ENGLISH_RULE_WORDS = re.compile(
    r"SLA breached|SLA at risk|service level|longest wait|abandonment|\bwaiting\b|"
    r"escalated by the helpdesk|\bTicket #|\bcleared\b|\bdue\b|\bon #"
)


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    assert i18n.use(request.param) == request.param
    yield request.param
    i18n.use("en")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str | None, str]]:
    """(title or resolve reason, queue name, ticket id) of each escalation a simulated
    morning's default rules raised and cleared, as stored."""
    store = record_floor(Path(tmp_path_factory.mktemp("titles")) / "floor.db")
    names = {}
    said: list[tuple[str, str | None, str]] = []
    events = list(store.read_from(0, 1_000_000))
    for event in events:
        queue = getattr(event.payload, "queue_id", None)
        name = getattr(event.payload, "name", None)
        if event.kind == "queue.upserted" and queue and name:
            names[queue] = name
    for event in events:
        p = event.payload
        if isinstance(p, EscalationRaised):
            said.append((p.title, names.get(p.queue_id or ""), p.ticket_id or ""))
        elif isinstance(p, EscalationResolved) and p.reason.startswith("cleared: "):
            said.append((p.reason, None, ""))
    store.close()
    return said


def test_the_morning_has_every_kind_of_title(
    recorded: list[tuple[str, str | None, str]],
) -> None:
    """The recording is not vacuous: queue figures and flagged tickets (SLA clocks' titles
    are worded from templates below)."""
    titles = [title for title, _, _ in recorded]
    assert any(": service level " in t for t in titles)
    assert any(": longest wait " in t for t in titles)
    assert any(t.startswith("Ticket #") for t in titles)


def test_english_titles_are_shown_as_stored(recorded: list[tuple[str, str | None, str]]) -> None:
    i18n.use("en")
    for title, _, _ in recorded:
        assert title_words(title) == title


def test_every_title_the_rules_word_is_said_in_the_language(
    language: str, recorded: list[tuple[str, str | None, str]]
) -> None:
    for title, queue, ticket in recorded:
        said = title_words(title)
        assert said != title, title
        assert not ENGLISH_RULE_WORDS.search(said), (title, said)
        if queue and title.startswith(queue):  # a queue's figure; a ticket's title has none
            assert said.startswith(queue), (title, said)
        if ticket:
            assert f"#{ticket}" in said, (title, said)


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30
).filter(lambda s: s.strip() == s and s)


@settings(max_examples=60, deadline=None)
@given(queue=names, tags=names)
def test_floor_words_inside_a_title_are_kept_whatever_they_contain(queue: str, tags: str) -> None:
    """A queue named "Billing: service level (≤ 80%)" or "サポート" is data: kept whole."""
    i18n.use("ja")
    try:
        title = QUEUE_TITLE_LEVEL.format(
            queue=queue, figure="service level", value="61%", level="≤ 60%"
        )
        said = title_words(title)
        assert said.startswith(queue)
        assert "サービスレベル 61%" in said
        plain = title_words(QUEUE_TITLE.format(queue=queue, figure="longest wait", value="2:44"))
        assert plain.startswith(queue) and plain.endswith("最長待ち 2:44")
        flagged = title_words(TICKET_FLAGGED.format(ticket="42", tags=tags))
        assert flagged.startswith("チケット #42") and flagged.endswith(tags)
        sla = title_words(SLA_BREACHED.format(metric="a metric we do not know", ticket="7"))
        assert "a metric we do not know" in sla and sla.startswith("SLA 違反")
        risk = title_words(SLA_AT_RISK.format(metric="first reply time", ticket="7", due="4:00"))
        assert risk == "SLA 期限間近: #7 の初回返信時間、残り 4:00"
    finally:
        i18n.use("en")


def test_a_title_of_another_shape_is_shown_as_stored(language: str) -> None:
    for title in ("made by a newer version", "Chat: a figure we never had 3", ""):
        assert title_words(title) == title


def test_a_ticket_row_that_shows_the_number_first_says_the_rest(language: str) -> None:
    """The feed shows "#50032" before the title: the words drop the number in every
    language (before, only the English "Ticket #…: " and " on #…" were taken out, so a
    Japanese row read "#11068 チケット : complaint")."""
    for title in (
        SLA_BREACHED.format(metric="total resolution time", ticket="50032"),
        SLA_AT_RISK.format(metric="first reply time", ticket="50032", due="4:00"),
        TICKET_FLAGGED.format(ticket="50032", tags="complaint"),
        "Ticket #50032: escalated by the helpdesk",
    ):
        short = title_words(title, without_ticket="50032")
        assert "50032" not in short and short.strip(), (title, short)
        assert not ENGLISH_RULE_WORDS.search(short), (title, short)
        assert "50032" in title_words(title)  # the detail and dialogs keep it
    assert title_words(TICKET_FLAGGED.format(ticket="7", tags="vip"), without_ticket="7") == "vip"
    # another ticket's number is not taken out
    assert "#8" in title_words(TICKET_FLAGGED.format(ticket="8", tags="vip"), without_ticket="7")


def test_english_rows_read_as_before() -> None:
    i18n.use("en")
    flagged = TICKET_FLAGGED.format(ticket="7", tags="complaint")
    assert title_words(flagged, without_ticket="7") == "complaint"
    breached = SLA_BREACHED.format(metric="first reply time", ticket="7")
    assert title_words(breached, without_ticket="7") == "SLA breached: first reply time"
