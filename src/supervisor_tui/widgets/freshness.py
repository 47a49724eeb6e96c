"""The freshness bar: every source, how old its newest event is, and whether it is healthy.

The board never goes stale silently: a source with nothing new for longer than the
configured limit reads STALE with its age, in red, whatever its last health report said.
"""

from __future__ import annotations

from rich.text import Text

from supervisor_tui.core import fmt
from supervisor_tui.core.feed import LINK_LIVE, hub_words
from supervisor_tui.core.freshness import (
    TROUBLE_RANK,
    SourceCondition,
    helpdesk_sources,
    source_age,
    source_condition,
)
from supervisor_tui.core.projection import SourceView
from supervisor_tui.i18n import N_, _, ngettext
from supervisor_tui.model import HealthState
from supervisor_tui.model.reasons import capability_label, source_reason
from supervisor_tui.widgets.bar import Bar
from supervisor_tui.widgets.lines import cut

CONDITION_LOOK: dict[SourceCondition, tuple[str, str, str]] = {
    SourceCondition.LIVE: ("●", N_("live"), "green"),
    SourceCondition.RECORDED: ("⏵", N_("recorded"), "cyan"),
    SourceCondition.HELD: ("⏸", N_("held"), "yellow"),
    SourceCondition.SYNCING: ("◌", N_("first sync…"), "cyan"),
    SourceCondition.LIMITED: ("◑", N_("LIMITED"), "bold yellow"),
    SourceCondition.DEGRADED: ("◐", N_("DEGRADED"), "bold yellow"),
    SourceCondition.STALE: ("◐", N_("STALE"), "bold red"),
    SourceCondition.DOWN: ("✖", N_("DOWN"), "bold red"),
    SourceCondition.NEVER: ("✖", N_("NEVER CONNECTED"), "bold red"),
}
"""Glyph, word (translated where drawn) and colour of each condition: colour never comes
alone."""
OUT_OF_DATE_WORD: dict[SourceCondition, str] = {
    SourceCondition.STALE: N_("STALE"),
    SourceCondition.DOWN: N_("DOWN"),
    SourceCondition.NEVER: N_("NEVER"),
}
"""The word a tile or a table row is dimmed with, beside the age of its newest event."""
QUIET = frozenset({SourceCondition.LIVE, SourceCondition.RECORDED, SourceCondition.HELD})
"""Conditions that need no reason on the bar: a short bar gives them their age only."""
DETAIL_LEVELS = 4
REASON_CELLS = 40
"""A reason in a short bar is cut to this (the full one is in the long form)."""


def freshness_text(
    sources: dict[str, SourceView],
    now: float,
    stale_after_s: float,
    width: int | None = None,
    *,
    paused: bool = False,
    replay: bool = False,
    cut_off: bool = False,
) -> Text:
    """Every source's freshness, worst first. When everything does not fit in ``width``
    cells the sources say it in fewer words, level by level; when even the fewest words do
    not fit, the last ones fold into "+N more · worst: …". No source is ever dropped."""
    shown = helpdesk_sources(sources)
    if not shown:
        return Text("○ " + _("no sources yet"), style="dim", no_wrap=True, overflow="ellipsis")
    looks = [
        (s, source_condition(s, now, stale_after_s, paused=paused, replay=replay, cut_off=cut_off))
        for s in shown
    ]
    looks.sort(key=lambda pair: -TROUBLE_RANK[pair[1]])  # worst first, else by name
    # Fewer words for the quiet sources first, then for the troubled ones from the least
    # troubled up: the worst keeps its reason and retry time longest.
    trouble = [i for i, (_, c) in enumerate(looks) if c not in QUIET]
    plans: list[list[int]] = []
    for t_level, q_level in ((0, 0), (1, 1), (1, 2), (1, 3)):
        plans.append([q_level if c in QUIET else t_level for _, c in looks])
    for k in range(len(trouble) - 1, -1, -1):  # reason only, from the least troubled up
        plan = list(plans[-1])
        for i in trouble[k:]:
            plan[i] = 2
        plans.append(plan)
    text = Text()
    for plan in plans:
        text = _join([_source_text(s, c, now, lv) for (s, c), lv in zip(looks, plan, strict=True)])
        if width is None or text.cell_len <= width:
            return text
    assert width is not None
    # The fewest words and still too long: fold the last sources into "+N more". Reasons
    # before names: the worst in full and as many as fit with their reason, else with
    # their word only; the rest counted.
    n = len(looks)
    last = DETAIL_LEVELS - 1
    with_reasons, without = ((1, 2), (2, 2)), ((1, last), (last, last))
    order = [(p, kept) for p in with_reasons for kept in range(n, 1, -1)]
    order += [(p, kept) for p in without for kept in range(n, 1, -1)]
    order += [(p, 1) for p in (*with_reasons, *without)]
    for (first_level, rest_level), kept in order:
        parts = [_source_text(*looks[0], now, first_level)]
        parts += [_source_text(s, c, now, rest_level) for s, c in looks[1:kept]]
        for brief in (False, True):
            text = _join([*parts, _more(looks[kept:], brief=brief)] if kept < n else parts)
            if text.cell_len <= width:
                return text
    text.truncate(width, overflow="ellipsis")
    return text


def _more(hidden: list[tuple[SourceView, SourceCondition]], *, brief: bool = False) -> Text:
    worst_source, worst_condition = hidden[0]
    glyph, word, style = CONDITION_LOOK[worst_condition]
    word = _(word)
    if brief:  # "+5 more ✖": how many, and how bad the worst of them is
        said = _("+{count} more").format(count=len(hidden))
        return Text(f"{said} ", style="dim") + Text(glyph, style=style)
    said = _("+{count} more · worst:").format(count=len(hidden))
    more = Text(f"{said} ", style="dim")
    more.append(f"{glyph} ", style)
    more.append(Text(worst_source.name, style="bold"))
    more.append(f" {word}", style)
    return more


def _join(parts: list[Text]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, part in enumerate(parts):
        if i:
            text.append("   " if part.cell_len > 12 else "  ")
        text.append_text(part)
    return text


def _source_text(source: SourceView, condition: SourceCondition, now: float, level: int) -> Text:
    """One source at a level of detail: 0 everything, 1 brief (a quiet source keeps its age
    and budget, trouble its reason and retry time), 2 the word and age, 3 glyph and name
    (and the word, for trouble)."""
    glyph, word, style = CONDITION_LOOK[condition]
    word = _(word)
    quiet = condition in QUIET
    age = source_age(source, now)
    never = condition is SourceCondition.NEVER
    age_text = "" if never else (_("nothing yet") if age is None else fmt.duration(age))
    text = Text()
    text.append(f"{glyph} ", style)
    text.append(Text(source.name, style="bold"))
    if level == 3:
        if not quiet:
            text.append(f" {word}", style)
        return text
    if level == 2 or (level == 1 and quiet):
        if not quiet:
            text.append(f" {word}", style)
        troubled = source.state in (HealthState.DEGRADED, HealthState.DOWN)
        if level == 2 and troubled and source.reason:
            # the reason is what a source in trouble has to say, more than its age
            text.append(" · ")
            text.append(Text(cut(source_reason(source), REASON_CELLS), style=style))
        elif age_text:
            text.append(f" {age_text}", "dim")
        if level == 2 and source.limits:
            text.append(f" ⚠{len(source.limits)}", "yellow")
        if level == 1 and source.budget_left is not None:
            low = source.budget_left < 0.2
            text.append(
                " · " + _("{share} budget").format(share=fmt.percent(source.budget_left)),
                "bold yellow" if low else "dim",
            )
        return text
    brief = level == 1
    text.append(f" {word}", style)
    if age_text:
        if brief or age is None:
            text.append(f" · {age_text}", "dim")
        else:
            text.append(" · " + _("newest {age} ago").format(age=age_text), "dim")
    if source.state in (HealthState.DEGRADED, HealthState.DOWN) and source.reason:
        text.append(" · ")
        text.append(Text(source_reason(source), style=style))
    if source.limits:
        # capabilities this account lacks: their figures show as unknown on the board
        if brief:
            said = _("{count} limited").format(count=len(source.limits))
            text.append(f" · ⚠ {said}", "yellow")
        else:
            names = ", ".join(
                (_("part of {capability}") if limit.partial else _("no {capability}")).format(
                    capability=capability_label(limit.capability)
                )
                for limit in source.limits
            )
            text.append(f" · ⚠ {names}", "yellow")
    if source.retry_at is not None and source.retry_at > now:
        said = _("retry in {duration}").format(duration=fmt.duration(source.retry_at - now))
        text.append(f" · {said}", "dim")
    if source.budget_left is not None:
        low = source.budget_left < 0.2
        text.append(
            " · "
            + (_("{share} budget") if brief else _("API budget {share} left")).format(
                share=fmt.percent(source.budget_left)
            ),
            "bold yellow" if low else "dim",
        )
    if brief:
        return text
    if source.poll_interval_s is not None:
        said = _("every {seconds}s").format(seconds=f"{source.poll_interval_s:.0f}")
        text.append(f" · {said}", "dim")
    for name, count in source.views.items():
        text.append(" · ")
        text.append(Text(name, style="bold"))
        text.append(
            f" {count}" if count is not None else " " + _("counting…"),
            "dim" if count is None else "",
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
        *,
        paused: bool = False,
        replay: bool = False,
    ) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if alert is not None:
            # the store refuses writes: the loudest thing on the bar, first
            text.append(f"✖ {alert}", "bold white on red")
            text.append("   ")
        if link is not None:
            # a watching terminal: first, whether the hub itself is there
            live = link == LINK_LIVE
            text.append("⇄ " if live else "◐ ", "green" if live else "bold red")
            said = hub_words(_("live")) if live else link.upper()
            text.append(said, "dim" if live else "bold red")
            text.append("   ")
        room = max(1, self.size.width - text.cell_len) if self.size.width else None
        pending = Text()
        if write_backs_pending:
            # Acks saved here but not yet confirmed by the helpdesk: kept and retried.
            said = ngettext(
                "{count} write-back to the helpdesk pending",
                "{count} write-backs to the helpdesk pending",
                write_backs_pending,
            ).format(count=write_backs_pending)
            pending.append(f"   ↗ {said}", "bold yellow")
            if room is not None and pending.cell_len > room // 3:
                said = _("{count} pending").format(count=write_backs_pending)
                pending = Text(f"   ↗ {said}", style="bold yellow")
        if room is not None:
            room = max(1, room - pending.cell_len)
        cut_off = link is not None and link != LINK_LIVE
        text.append_text(
            freshness_text(
                sources, now, stale_after_s, room, paused=paused, replay=replay, cut_off=cut_off
            )
        )
        text.append_text(pending)
        self.set_text(text)
