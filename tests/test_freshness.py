"""The freshness bar's words: live, stale, degraded with why and when it retries."""

from __future__ import annotations

from supervisor_tui.core.projection import SourceView
from supervisor_tui.model import HealthState
from supervisor_tui.widgets.freshness import freshness_text

NOW = 1_790_000_000.0


def test_live_source_with_its_budget() -> None:
    source = SourceView("zendesk", newest_event_at=NOW - 3, budget_left=0.62, poll_interval_s=5)
    text = freshness_text({"zendesk": source}, NOW, 60).plain
    assert text == "● zendesk live · newest 0:03 ago · API budget 62% left · every 5s"


def test_rate_limited_source_says_429_and_when_it_retries() -> None:
    source = SourceView(
        "zendesk",
        state=HealthState.DEGRADED,
        reason="zendesk: 429, retry in 9 s",
        retry_at=NOW + 9,
        budget_left=0.05,
        newest_event_at=NOW - 20,
    )
    text = freshness_text({"zendesk": source}, NOW, 60).plain
    assert "◐ zendesk DEGRADED" in text
    assert "zendesk: 429, retry in 9 s" in text and "retry in 0:09" in text
    assert "API budget 5% left" in text


def test_quiet_source_turns_stale_with_its_age() -> None:
    source = SourceView("zendesk", newest_event_at=NOW - 125)
    assert freshness_text({"zendesk": source}, NOW, 60).plain.startswith(
        "◐ zendesk STALE · newest 2:05 ago"
    )


def test_helpdesk_text_is_not_markup() -> None:
    source = SourceView(
        "[bold]x[/bold]", state=HealthState.DOWN, reason="[red]boom[/]", newest_event_at=NOW
    )
    text = freshness_text({source.name: source}, NOW, 60)
    assert "[bold]x[/bold]" in text.plain and "[red]boom[/]" in text.plain


def test_view_counts_say_counting_until_known() -> None:
    source = SourceView("zendesk", newest_event_at=NOW - 1)
    source.views = {"Escalated": None, "VIP": 12}
    text = freshness_text({"zendesk": source}, NOW, 60).plain
    assert text.endswith("· Escalated counting… · VIP 12")
    assert "Escalated 0" not in text
