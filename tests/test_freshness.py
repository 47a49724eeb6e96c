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


def test_a_narrow_bar_puts_trouble_first_and_shrinks_healthy_sources() -> None:
    """Four helpdesks on one bar: the one in trouble is never the one cut off."""
    sources = {
        name: SourceView(name, newest_event_at=NOW - 2, budget_left=0.7, poll_interval_s=10)
        for name in ("freshdesk", "jsm", "servicenow")
    }
    sources["zendesk"] = SourceView(
        "zendesk",
        state=HealthState.DEGRADED,
        reason="zendesk: 503",
        retry_at=NOW + 30,
        newest_event_at=NOW - 40,
    )
    wide = freshness_text(sources, NOW, 60).plain
    assert wide.startswith("◐ zendesk DEGRADED")
    assert "● jsm live · newest 0:02 ago · API budget 70% left · every 10s" in wide
    narrow = freshness_text(sources, NOW, 60, width=170)
    assert narrow.cell_len <= 170 < len(wide)
    assert "…" not in narrow.plain  # the short form fits: nothing is cut
    assert narrow.plain.startswith("◐ zendesk DEGRADED · 0:40 · zendesk: 503")
    assert "retry in 0:30" in narrow.plain
    assert "● jsm 0:02 · 70% budget" in narrow.plain
    assert "every 10s" not in narrow.plain


def test_one_source_in_a_narrow_bar_says_it_in_fewer_words_not_cut() -> None:
    source = SourceView("zendesk", newest_event_at=NOW - 3, budget_left=0.62, poll_interval_s=5)
    text = freshness_text({"zendesk": source}, NOW, 60, width=40).plain
    assert text == "● zendesk 0:03 · 62% budget"


def test_a_bar_too_short_for_every_source_folds_the_rest_and_names_the_worst() -> None:
    """Thirteen sources on an 80-cell bar: none is silently dropped."""
    sources = {
        f"desk{i:02d}": SourceView(f"desk{i:02d}", newest_event_at=NOW - 2) for i in range(12)
    }
    sources["zendesk"] = SourceView("zendesk", newest_event_at=NOW - 300)
    sources["desk07"].state = HealthState.DEGRADED
    sources["desk07"].reason = "503"
    text = freshness_text(sources, NOW, 60, width=80).plain
    assert len(text) <= 80 and "…" not in text
    assert text.startswith("◐ zendesk STALE")  # the worst first, with its word
    shown = [name for name in sources if name in text.split(" more")[0]]
    more = int(text.split("+")[-1].split(" more")[0])
    assert len(shown) + more == len(sources)
    assert "desk07 DEGRADED" in text


def test_the_worst_source_keeps_its_reason_when_the_others_shrink() -> None:
    sources = {
        name: SourceView(name, newest_event_at=NOW - 2, budget_left=0.7, poll_interval_s=10)
        for name in ("freshdesk", "jsm", "servicenow", "retail")
    }
    sources["zendesk"] = SourceView(
        "zendesk", state=HealthState.DOWN, reason="zendesk: 401 Unauthorized", health_at=NOW
    )
    sources["zendesk"].synced_at = NOW - 600
    sources["zendesk"].newest_event_at = NOW - 30
    text = freshness_text(sources, NOW, 60, width=100).plain
    assert len(text) <= 100
    assert text.startswith("✖ zendesk DOWN · 0:30 · zendesk: 401 Unauthorized")
    for name in ("freshdesk", "jsm", "servicenow", "retail"):
        assert name in text


def test_trouble_during_a_first_sync_with_data_is_degraded_not_never_connected() -> None:
    """A helpdesk reading its backlog slowly (budget) has connected: it is DEGRADED, with
    its reason; only one that sent nothing at all never connected."""
    reading = SourceView(
        "it", state=HealthState.DEGRADED, reason="SLA of 209 requests still to read", health_at=NOW
    )
    reading.newest_event_at = reading.data_at = NOW - 1
    text = freshness_text({"it": reading}, NOW, 60).plain
    assert text.startswith("◐ it DEGRADED · newest 0:01 ago · SLA of 209 requests")
    refused = SourceView(
        "it", state=HealthState.DEGRADED, reason="connection refused", health_at=NOW
    )
    refused.newest_event_at = NOW - 1
    assert freshness_text({"it": refused}, NOW, 60).plain.startswith(
        "✖ it NEVER CONNECTED · connection refused"
    )
