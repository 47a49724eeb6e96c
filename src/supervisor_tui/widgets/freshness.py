"""The freshness bar: every source, how old its newest event is, and whether it is healthy.

The board never goes stale silently: a source with nothing new for longer than the
configured limit reads STALE with its age, in red, whatever its last health report said.
"""

from __future__ import annotations

from rich.text import Text

from supervisor_tui.core import fmt
from supervisor_tui.core.projection import SourceView
from supervisor_tui.model import HealthState
from supervisor_tui.widgets.bar import Bar

HEALTH_LOOK = {
    HealthState.CONNECTED: ("●", "live", "green"),
    HealthState.POLLING: ("●", "polling", "green"),
    HealthState.DEGRADED: ("◐", "DEGRADED", "bold yellow"),
    HealthState.DOWN: ("✖", "DOWN", "bold red"),
}
INTERNAL_SOURCES = {"rules", "operator"}


def freshness_text(sources: dict[str, SourceView], now: float, stale_after_s: float) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    shown = [s for name, s in sorted(sources.items()) if name not in INTERNAL_SOURCES]
    if not shown:
        text.append("○ no sources yet", "dim")
    for i, source in enumerate(shown):
        if i:
            text.append("   ")
        glyph, word, style = HEALTH_LOOK[source.state]
        age = now - source.newest_event_at if source.newest_event_at else None
        if source.state in (HealthState.CONNECTED, HealthState.POLLING) and (
            age is None or age > stale_after_s
        ):
            glyph, word, style = "◐", "STALE", "bold red"
        text.append(f"{glyph} ", style)
        text.append(Text(source.name, style="bold"))
        text.append(f" {word}", style)
        text.append(
            f" · newest {fmt.duration(age)} ago" if age is not None else " · nothing yet", "dim"
        )
        if source.state in (HealthState.DEGRADED, HealthState.DOWN) and source.reason:
            text.append(" · ")
            text.append(Text(source.reason, style=style))
        if source.retry_at is not None and source.retry_at > now:
            text.append(f" · retry in {fmt.duration(source.retry_at - now)}", "dim")
        if source.budget_left is not None:
            low = source.budget_left < 0.2
            text.append(
                f" · API budget {fmt.percent(source.budget_left)} left",
                "bold yellow" if low else "dim",
            )
        if source.poll_interval_s is not None:
            text.append(f" · every {source.poll_interval_s:.0f}s", "dim")
        for name, count in source.views.items():
            text.append(" · ")
            text.append(Text(name, style="bold"))
            text.append(
                f" {count}" if count is not None else " counting…", "dim" if count is None else ""
            )
    return text


class FreshnessBar(Bar):
    DEFAULT_CSS = """
    FreshnessBar { height: 1; background: $boost; padding: 0 1; }
    """

    def show(
        self,
        sources: dict[str, SourceView],
        now: float,
        stale_after_s: float,
        write_backs_pending: int = 0,
        link: str | None = None,
        alert: str | None = None,
    ) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if alert is not None:
            # the store refuses writes: the loudest thing on the bar, first
            text.append(f"✖ {alert}", "bold white on red")
            text.append("   ")
        if link is not None:
            # a watching terminal: first, whether the hub itself is there
            live = link == "hub: live"
            text.append("⇄ " if live else "◐ ", "green" if live else "bold red")
            text.append(link if live else link.upper(), "dim" if live else "bold red")
            text.append("   ")
        text.append_text(freshness_text(sources, now, stale_after_s))
        if write_backs_pending:
            # Acks saved here but not yet confirmed by the helpdesk: kept and retried.
            text.append(
                f"   ↗ {write_backs_pending} write-back"
                f"{'s' if write_backs_pending > 1 else ''} to the helpdesk pending",
                "bold yellow",
            )
        self.set_text(text)
