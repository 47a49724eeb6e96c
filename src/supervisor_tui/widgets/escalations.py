"""The escalation feed: newest first, open ones above resolved ones, with a cursor.

Line API, one line per escalation, cached per line. The selection follows the escalation,
not the line, so new arrivals never move the cursor onto something else. When the reader
has scrolled down, new arrivals are counted ("3 new ↑") instead of pulling the view.

The counts ("1387 open · 1386 need ack") are a line of their own above the feed, in the same
border (``EscalationPane``): on a big floor they change with nearly every batch of events, and
a line repaints alone where a border title repaints the whole feed under it.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from supervisor_tui import actions
from supervisor_tui.core import fmt
from supervisor_tui.core.projection import Escalation
from supervisor_tui.core.rules import title_words
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import EscalationStatus, Severity
from supervisor_tui.widgets.lines import align_right, blank, fitting, text_strip

SEVERITY_LOOK = {
    Severity.CRITICAL: ("▲", N_("CRIT"), "bold red"),
    Severity.WARNING: ("△", N_("WARN"), "yellow"),
}
"""Glyph, word (translated where drawn) and colour of an escalation's severity."""


def _raised_title(esc: Escalation) -> str | None:
    del esc  # no live figures until the board gives them: each keeps its raise title
    return None


class FeedCounts(Widget):
    """One line: how many escalations are open, how many need an ack, how many arrived above
    a reader scrolled down the feed. It is given its forms from the longest to the shortest
    and shows the first that fits its width, so a narrow pane (80 columns, a long language)
    shortens its words instead of cutting a figure off: the need-ack count is in every form."""

    DEFAULT_CSS = """
    FeedCounts { height: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._forms: tuple[str, ...] = ("",)

    def show(self, forms: tuple[str, ...]) -> bool:
        """Repaint this line if it reads otherwise; whether it did."""
        if forms == self._forms:
            return False
        self._forms = forms
        self.refresh()
        return True

    @property
    def words(self) -> str:
        """The form shown at this width (the longest form before the first layout)."""
        return fitting(self._forms, self.size.width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y:
            return blank(width, self.rich_style)
        return text_strip(self.app.console, Text(self.words, "bold"), width, self.rich_style)


def count_forms(open_count: int, attention: int, unseen: int) -> tuple[str, ...]:
    """The feed's counts from the longest form to the shortest: all in words; the need-ack
    count in its short word; without the open count; the need-ack count alone by its glyph.
    The escalations that need somebody are counted in every form."""
    opened = fmt.count(open_count)
    need = fmt.count(attention)
    new = _("{count} new ↑").format(count=fmt.count(unseen)) if unseen else ""
    arrived = f"↑{fmt.count(unseen)}" if unseen else ""
    forms = [
        _("{open} open · {attention} need ack").format(open=opened, attention=need),
        _("{count} ack").format(count=need) + " · " + _("{count} open").format(count=opened),
        _("{count} ack").format(count=need),
        f"▲{need}",
    ]
    return tuple(
        " · ".join(part for part in (form, new if i < 2 else arrived) if part)
        for i, form in enumerate(forms)
    )


class EscalationFeed(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    EscalationFeed { height: 1fr; overflow-x: hidden; }
    """
    """Lines are cut to the feed's width, never scrolled across (a horizontal scrollbar came
    and went for a batch each time the vertical one appeared and narrowed the lines)."""

    BINDINGS = actions.bindings(actions.Where.FEED)

    class Selected(Message):
        def __init__(self, escalation_id: str | None) -> None:
            super().__init__()
            self.escalation_id = escalation_id

    def __init__(self, *, id: str | None = None, show_detail: bool = True) -> None:
        super().__init__(id=id)
        actions.speak(self._bindings)
        self.show_detail = show_detail
        self._escalations: dict[str, Escalation] = {}
        self._order: list[str] = []
        self._selected: str | None = None
        self._queue_filter: str | None = None
        self._realert: dict[str, float] = {}
        self._live: Callable[[Escalation], str | None] = _raised_title
        self._titles: dict[str, str] = {}
        """The live titles asked for so far at this clock, by escalation id."""
        self._now = 0.0
        self._unseen = 0
        self._follow_top = True
        """The reader has not moved the cursor off the top: it stays on the newest."""
        self._cache: dict[str, tuple[tuple[object, ...], Strip]] = {}
        """Each escalation's line as last drawn, wherever it is: an arrival on top moves
        every line down one, and each is still the same strip."""
        self._drawn: dict[int, tuple[object, ...]] = {}
        """What each line of the feed (by place in the order) showed when last drawn."""
        self._base: Style | None = None
        self.counts = FeedCounts()
        """The line above the feed that counts it (``EscalationPane`` shows both)."""

    # -- data -------------------------------------------------------------------------------

    @property
    def selected(self) -> Escalation | None:
        return None if self._selected is None else self._escalations.get(self._selected)

    @property
    def order(self) -> list[str]:
        """Escalation ids in the order shown."""
        return list(self._order)

    def set_realert(self, realert_after_s: dict[str, float]) -> None:
        self._realert = realert_after_s

    def set_live_titles(self, titles: Callable[[Escalation], str | None]) -> None:
        """How to title an escalation with the figure now (None: its raise title), asked
        only for the lines drawn and for the escalation acted on; the lines whose title
        reads otherwise repaint at the next ``tick`` or ``update``."""
        self._live = titles
        self._titles = {}

    def title_of(self, esc: Escalation, *, without_ticket: bool = False) -> str:
        """What the board calls the escalation, in its language, with today's figure
        (``without_ticket``: where the row shows the ticket's number first)."""
        return title_words(
            self._live_title(esc), without_ticket=esc.ticket_id if without_ticket else None
        )

    def _live_title(self, esc: Escalation) -> str:
        """The title as stored (the words follow it) with the figure now, once per clock."""
        title = self._titles.get(esc.escalation_id)
        if title is None:
            title = self._titles[esc.escalation_id] = self._live(esc) or esc.title
        return title

    def set_queue_filter(self, queue_id: str | None) -> None:
        self._queue_filter = queue_id
        self.update(self._escalations, self._now, changed=None)

    def update(
        self, escalations: dict[str, Escalation], now: float, changed: set[str] | None
    ) -> None:
        """Re-sort (cheap: a few thousand at most) and repaint the lines that read otherwise;
        ``changed=None`` means all."""
        self._escalations = escalations
        self._now = now
        before = set(self._order)
        at_top = self._is_at_top()
        chosen = [
            e
            for e in escalations.values()
            if self._queue_filter is None or e.queue_id == self._queue_filter
        ]
        chosen.sort(key=lambda e: (not e.is_open, -e.raised_seq))
        self._order = [e.escalation_id for e in chosen]
        arrived = [i for i in self._order if i not in before] if before else []
        if arrived and not at_top:
            self._unseen += len(arrived)
        # The selection stays on its escalation: a key pressed as something new arrives must
        # act on what the reader was looking at. It moves only when its escalation is gone.
        if self._selected not in self._order or (self._follow_top and self._order):
            selected = self._order[0] if self._order else None
            if selected != self._selected:
                self._selected = selected
                self.post_message(self.Selected(self._selected))
        self._measure(Size(self.scrollable_content_region.width, len(self._order)))
        self._title()
        self._repaint_changed()

    def tick(self, now: float) -> None:
        """The clock moved: the lines whose age, overdue mark or snooze countdown reads
        otherwise now repaint (an age past the hour reads "3h41m" for a minute, and the
        rest of the feed stays as it is)."""
        self._now = now
        self._title()
        self._repaint_changed()

    def _measure(self, size: Size) -> None:
        """The feed's length for its scrollbar. A change of virtual size lays the whole
        screen out, and the layout repaints the whole feed: that is needed only when the
        scrollbar comes or goes; otherwise the scrollbar alone is told (the width is the
        lines' own, the feed never scrolls across)."""
        if size == self.virtual_size:
            return
        scrollbar = size.height > self.container_size.height
        if not self.container_size or scrollbar != self.show_vertical_scrollbar:
            self.virtual_size = size
            return
        self.set_reactive(ScrollView.virtual_size, size)
        if scrollbar:
            self.vertical_scrollbar.window_virtual_size = size.height
        self.scroll_y = self.scroll_y  # validated again: a shorter feed may end above the view

    def _repaint_changed(self) -> None:
        """Repaint the lines on screen that read otherwise than when drawn, as one region
        from the first to the last (one region costs the compositor less than one a line);
        an arrival on top moves every line, and so repaints them all."""
        width = self.scrollable_content_region.width
        top = int(self.scroll_offset.y)
        length = len(self._order)
        changed: list[int] = []
        drawn = self._drawn
        for y in range(self.size.height):
            index = y + top
            if index >= length:
                if drawn.pop(index, None) is not None:  # an escalation's, now past the end
                    changed.append(y)
            elif drawn.get(index) != self._key(self._escalations[self._order[index]], width):
                changed.append(y)
        if changed:
            self.refresh(Region(0, changed[0], width, changed[-1] - changed[0] + 1))
        if len(self._cache) > 4 * self.size.height + 64:  # keep the lines on screen only
            shown = set(self._order[top : top + self.size.height])
            self._cache = {i: line for i, line in self._cache.items() if i in shown}

    def _is_at_top(self) -> bool:
        return self.scroll_offset.y == 0

    def _title(self) -> None:
        """The counts above the feed (repainted alone, when they read otherwise)."""
        open_count = sum(1 for i in self._order if self._escalations[i].is_open)
        attention = sum(1 for i in self._order if self._escalations[i].needs_attention(self._now))
        self.counts.show(count_forms(open_count, attention, self._unseen))

    # -- keys -------------------------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        if not self._order:
            return
        index = self._order.index(self._selected) if self._selected in self._order else 0
        index = max(0, min(len(self._order) - 1, index + step))
        self._select_index(index)

    def action_top(self) -> None:
        if self._order:
            self._select_index(0)

    def select_next_open(self, after: str) -> None:
        """After an ack or a resolve: the next escalation that needs somebody, below the
        one just handled (or the first above it), so the reader works down the list."""
        if after not in self._order:
            return
        at = self._order.index(after)
        ahead = self._order[at + 1 :] + self._order[:at]
        for esc_id in ahead:
            esc = self._escalations[esc_id]
            if esc.needs_attention(self._now):
                self.select(esc_id)
                return

    def _select_index(self, index: int) -> None:
        self._follow_top = index == 0
        self._selected = self._order[index]
        if index < self.size.height:
            self._unseen = 0
        self.scroll_to(
            y=max(0, index - self.size.height + 1)
            if index >= self.scroll_offset.y + self.size.height
            else min(int(self.scroll_offset.y), index),
            animate=False,
        )
        self.post_message(self.Selected(self._selected))
        self._title()
        self.refresh()

    def select(self, escalation_id: str) -> None:
        if escalation_id in self._order:
            self._select_index(self._order.index(escalation_id))

    # -- rendering --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = y + int(self.scroll_offset.y)
        if index >= len(self._order):
            self._drawn.pop(index, None)
            return blank(width, self._base_style())
        esc = self._escalations[self._order[index]]
        selected = esc.escalation_id == self._selected
        key = self._drawn[index] = self._key(esc, width)
        cached = self._cache.get(esc.escalation_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        text = self._line(esc, key[2], width)
        base = self._base_style()
        style = (
            base + Style(reverse=True)
            if selected and self.has_focus
            else (base + Style(underline=True) if selected else base)
        )
        strip = text_strip(self.app.console, text, width, style)
        self._cache[esc.escalation_id] = (key, strip)
        return strip

    def _key(self, esc: Escalation, width: int) -> tuple[int, int, tuple[object, ...]]:
        """What a line shows: the escalation's look, at this width, selected or not (and
        then with the feed focused or not: reversed or underlined)."""
        selected = esc.escalation_id == self._selected
        return (width, 2 if selected and self.has_focus else int(selected), self._look(esc))

    def _base_style(self) -> Style:
        """The feed's own style (its background), worked out once per look, not per line."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self._cache.clear()

    def _look(self, esc: Escalation) -> tuple[object, ...]:
        """Everything a line shows of the escalation, its clocks as they read (the age
        "3h41m" reads the same for a minute)."""
        now = self._now
        age = fmt.duration(now - esc.raised_at)
        overdue = now - esc.raised_at > self._realert.get(esc.rule_id, 300)
        snooze_left = (
            fmt.duration(esc.snoozed_until - now)
            if esc.is_snoozed(now) and esc.snoozed_until is not None
            else None
        )
        return (
            esc.escalation_id,
            esc.severity,
            esc.status,
            self._live_title(esc),
            esc.acked_by,
            esc.ack_note,
            len(esc.notes),
            snooze_left,
            age,
            overdue,
            esc.resolved_by,
            self.show_detail,
        )

    def _line(self, esc: Escalation, look: tuple[object, ...], width: int = 200) -> Text:
        """Severity, age, state and the ticket's id first: a short line cuts the title and
        the subject, never those. A narrow feed says them with glyphs ("▲ 2:05 ● #10225")."""
        now = self._now
        narrow = width < 60
        sev_glyph, sev_word, sev_style = SEVERITY_LOOK[esc.severity]
        text = Text(no_wrap=True)
        if not esc.is_open:
            text.append("✔ " if narrow else "✔ " + _("DONE") + " ", "green dim")
        else:
            text.append(f"{sev_glyph} " if narrow else f"{sev_glyph} {_(sev_word)} ", sev_style)
        age = fmt.duration(now - esc.raised_at)
        text.append(f"{age} " if narrow else f"{align_right(age, 6)} ", "dim")
        if esc.status is EscalationStatus.RESOLVED:
            who = esc.resolved_by or _("auto")
            text.append("" if narrow else _("resolved ({who})").format(who=who) + " ", "green dim")
        elif esc.is_snoozed(now) and esc.snoozed_until is not None:
            left = fmt.duration(esc.snoozed_until - now)
            said = left if narrow else _("snoozed {left}").format(left=left)
            text.append(f"⏾ {said} ", "dim")
        elif esc.status is EscalationStatus.ACKED:
            said = "" if narrow else _("ACKED {who}").format(who=esc.acked_by) + " "
            text.append(f"✔ {said}", "green")
        else:
            overdue = now - esc.raised_at > self._realert.get(esc.rule_id, 300)
            said = "" if narrow else (_("UNACKED") if overdue else _("NEW")) + " "
            word = ("⚠ " if overdue else "● ") + said
            text.append(word, "bold red" if overdue else "bold yellow")
        title = self.title_of(esc, without_ticket=bool(esc.ticket_id))
        if esc.ticket_id:
            text.append(Text(f"#{esc.ticket_id} ", style="bold"))
        text.append(Text(title, style="dim" if not esc.is_open else ""))
        if esc.status is EscalationStatus.ACKED and esc.ack_note:
            text.append(" — ", "dim")
            text.append(Text(f"“{esc.ack_note}”", style="italic"))
        if self.show_detail and esc.detail:
            text.append(" · ", "dim")
            text.append(Text(esc.detail, style="dim"))
        return text


class EscalationPane(Vertical):
    """The feed under its counts, in one border titled "Escalations"."""

    DEFAULT_CSS = """
    EscalationPane { height: 1fr; border: round $primary 40%; }
    EscalationPane:focus-within { border: round $accent; }
    """

    def __init__(self, feed: EscalationFeed, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.feed = feed
        self.border_title = _("Escalations")

    def compose(self) -> ComposeResult:
        yield self.feed.counts
        yield self.feed
