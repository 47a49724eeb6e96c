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


def freshness_text(
    sources: dict[str, SourceView], now: float, stale_after_s: float, width: int | None = None
) -> Text:
    """Every source's freshness. Sources in trouble come first, so a narrow bar never cuts
    them off; when everything does not fit in ``width`` cells, healthy sources shrink to
    their dot, name, age and budget (trouble keeps its reason and retry time)."""
    shown = [s for name, s in sorted(sources.items()) if name not in INTERNAL_SOURCES]
    if not shown:
        return Text("○ no sources yet", style="dim", no_wrap=True, overflow="ellipsis")
    looks = [(source, _look(source, now, stale_after_s)) for source in shown]
    looks.sort(key=lambda pair: 0 if pair[1][3] else 1)  # trouble first, else by name
    text = _join([_source_text(s, look, now, compact=False) for s, look in looks])
    if width is not None and text.cell_len > width and len(looks) > 1:
        text = _join(
            [_source_text(s, look, now, compact=not look[3], brief=True) for s, look in looks]
        )
    if width is not None:
        text.truncate(width, overflow="ellipsis")
    return text


Look = tuple[str, str, str, bool]
"""Glyph, word, style, and whether the source is in trouble (stale, degraded or down)."""


def _look(source: SourceView, now: float, stale_after_s: float) -> Look:
    glyph, word, style = HEALTH_LOOK[source.state]
    age = now - source.newest_event_at if source.newest_event_at else None
    if source.state in (HealthState.CONNECTED, HealthState.POLLING):
        if age is None or age > stale_after_s:
            return "◐", "STALE", "bold red", True
        return glyph, word, style, False
    return glyph, word, style, True


def _join(parts: list[Text]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, part in enumerate(parts):
        if i:
            text.append("   ")
        text.append_text(part)
    return text


def _source_text(
    source: SourceView, look: Look, now: float, *, compact: bool, brief: bool = False
) -> Text:
    """One source. ``compact``: a healthy source in a short bar (dot, name, age, budget).
    ``brief``: a source in trouble in a short bar keeps its reason and retry time, and says
    its age and budget in fewer words."""
    glyph, word, style, _trouble = look
    age = now - source.newest_event_at if source.newest_event_at else None
    text = Text()
    text.append(f"{glyph} ", style)
    text.append(Text(source.name, style="bold"))
    if compact:  # healthy, and the bar is short of room: the age and the budget say enough
        text.append(f" {fmt.duration(age)}" if age is not None else " nothing yet", "dim")
        if source.limits:
            text.append(f" ⚠{len(source.limits)}", "yellow")
        if source.budget_left is not None:
            low = source.budget_left < 0.2
            text.append(
                f" · {fmt.percent(source.budget_left)} budget", "bold yellow" if low else "dim"
            )
        return text
    text.append(f" {word}", style)
    if brief:
        text.append(f" · {fmt.duration(age)}" if age is not None else " · nothing yet", "dim")
    else:
        text.append(
            f" · newest {fmt.duration(age)} ago" if age is not None else " · nothing yet", "dim"
        )
    if source.state in (HealthState.DEGRADED, HealthState.DOWN) and source.reason:
        text.append(" · ")
        text.append(Text(source.reason, style=style))
    if source.limits:
        # capabilities this account lacks: their figures show as unknown on the board
        if brief:
            text.append(f" · ⚠ {len(source.limits)} limited", "yellow")
        else:
            names = ", ".join(
                ("part of " if limit.partial else "no ") + limit.capability.label
                for limit in source.limits
            )
            text.append(f" · ⚠ {names}", "yellow")
    if source.retry_at is not None and source.retry_at > now:
        text.append(f" · retry in {fmt.duration(source.retry_at - now)}", "dim")
    if source.budget_left is not None:
        low = source.budget_left < 0.2
        text.append(
            f" · {fmt.percent(source.budget_left)} budget"
            if brief
            else f" · API budget {fmt.percent(source.budget_left)} left",
            "bold yellow" if low else "dim",
        )
    if brief:
        return text
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
        room = max(1, self.size.width - text.cell_len) if self.size.width else None
        text.append_text(freshness_text(sources, now, stale_after_s, room))
        if write_backs_pending:
            # Acks saved here but not yet confirmed by the helpdesk: kept and retried.
            text.append(
                f"   ↗ {write_backs_pending} write-back"
                f"{'s' if write_backs_pending > 1 else ''} to the helpdesk pending",
                "bold yellow",
            )
        self.set_text(text)
