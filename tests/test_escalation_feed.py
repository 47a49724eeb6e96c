"""The escalation feed on a big floor: what an update repaints and whether it lays the screen out.

At 10,000 agents about 1,400 escalations are open and the count changes with nearly every
batch of events; each update laid the whole screen out (the feed's virtual size) and repainted
the whole feed (its counts in the border, then a refresh of every line). These tests count
the layouts and the lines repainted, never time them.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.geometry import Region

from supervisor_tui import i18n
from supervisor_tui.core import fmt
from supervisor_tui.core.projection import Escalation
from supervisor_tui.model import EscalationStatus, Severity
from supervisor_tui.widgets.escalations import (
    EscalationFeed,
    EscalationPane,
    FeedCounts,
    count_forms,
)

NOW = 2_000_000.0
HEIGHT = 12
"""Lines of escalations the feed shows in the app below (15 rows: border, counts, 12 lines,
border)."""


def escalation(seq: int, queue: str = "q1", *, age: float = 7230.0) -> Escalation:
    """Raised two hours ago: its age reads "2h00m" for the next 29 s (the clock alone
    repaints nothing in these tests)."""
    return Escalation(
        f"e{seq}",
        "sl",
        f"queue:{queue}",
        queue,
        None,
        None,
        Severity.WARNING,
        f"{queue} below target ({seq})",
        "",
        NOW - age,
        seq,
    )


class FeedApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.feed = EscalationFeed(id="feed")

    def compose(self) -> ComposeResult:
        yield EscalationPane(self.feed)


class Probe:
    """Counts the screen's layouts and the feed's repaints (the regions asked for; ``()`` is
    the whole feed)."""

    def __init__(self, app: FeedApp) -> None:
        self.layouts = 0
        self.repaints: list[tuple[Region, ...]] = []
        screen, feed = app.screen, app.feed
        layout, refresh = screen._refresh_layout, feed.refresh

        def counted_layout(*args: Any, **options: Any) -> Any:
            if not options.get("scroll"):
                self.layouts += 1
            return layout(*args, **options)

        def counted_refresh(*regions: Region, **options: Any) -> Any:
            self.repaints.append(regions)
            return refresh(*regions, **options)

        screen._refresh_layout = counted_layout  # type: ignore[method-assign]
        feed.refresh = counted_refresh  # type: ignore[method-assign]

    def lines(self, feed: EscalationFeed) -> set[int]:
        """The feed's lines (on screen, from its top) repainted since the last ``clear``."""
        lines: set[int] = set()
        for regions in self.repaints:
            for region in regions or (Region(0, 0, *feed.size),):
                lines.update(range(region.y, region.bottom))
        return lines & set(range(feed.size.height))

    def clear(self) -> None:
        self.layouts = 0
        self.repaints.clear()

    async def settle(self, pilot: Any) -> None:
        """Until a pause passes with no layout (one asked for lands at the screen's next
        idle moment, perhaps a pause later): bounded by count."""
        for _ in range(20):
            layouts = self.layouts
            await pilot.pause()
            if self.layouts == layouts:
                return


def shown_as_drawn_afresh(feed: EscalationFeed) -> None:
    """What the feed shows (its lines as the compositor would take them) is what it shows
    drawn again from nothing: no line left stale by a repaint skipped."""
    whole = Region(0, 0, *feed.size)
    shown = [strip.text for strip in feed.render_lines(whole)]
    feed._cache.clear()
    feed._styles_cache.clear()
    assert shown == [strip.text for strip in feed.render_lines(whole)]


async def test_an_update_repaints_the_lines_that_changed_and_lays_out_for_the_scrollbar() -> None:
    escalations = {f"e{i}": escalation(i) for i in range(40)}
    app = FeedApp()
    async with app.run_test(size=(100, HEIGHT + 3)) as pilot:
        feed = app.feed
        probe = Probe(app)
        feed.update(escalations, NOW, None)
        await probe.settle(pilot)
        assert feed.size.height == HEIGHT and feed.show_vertical_scrollbar
        assert feed.order[0] == "e39"  # newest first

        # one off screen acked, one off screen resolved: nothing on screen moves
        for changed, how in (("e5", EscalationStatus.ACKED), ("e7", EscalationStatus.RESOLVED)):
            escalations[changed].status = how
            probe.clear()
            feed.update(escalations, NOW + 1, {changed})
            await probe.settle(pilot)
            assert probe.layouts == 0, changed
            assert probe.lines(feed) == set(), changed
            shown_as_drawn_afresh(feed)
        assert "38 need ack" in app.query_one("FeedCounts").render_line(0).text

        # one on screen acked: that line alone
        escalations["e36"].status = EscalationStatus.ACKED
        probe.clear()
        feed.update(escalations, NOW + 2, {"e36"})
        await probe.settle(pilot)
        assert probe.layouts == 0
        assert probe.lines(feed) == {feed.order.index("e36")}
        shown_as_drawn_afresh(feed)

        # a new one on top moves every line down: all of them repaint, still no layout (the
        # scrollbar stays), and the scrollbar now measures 41; the lines that only moved
        # are the strips already made: only the new one and the one the cursor left are new
        escalations["e40"] = escalation(40)
        built: list[str] = []
        line = feed._line

        def counted_line(esc: Escalation, *args: Any) -> Any:
            built.append(esc.escalation_id)
            return line(esc, *args)

        feed._line = counted_line  # type: ignore[method-assign, assignment]
        probe.clear()
        feed.update(escalations, NOW + 3, {"e40"})
        await probe.settle(pilot)
        assert probe.layouts == 0
        assert probe.lines(feed) == set(range(HEIGHT))
        assert sorted(built) == ["e39", "e40"]
        del feed._line
        assert feed.virtual_size.height == 41
        assert feed.vertical_scrollbar.window_virtual_size == 41
        assert feed.max_scroll_y == 41 - HEIGHT
        shown_as_drawn_afresh(feed)

        # an escalation of another queue than the one filtered: nothing repaints, no layout
        feed.set_queue_filter("q1")
        await probe.settle(pilot)
        probe.clear()
        escalations["e41"] = escalation(41, "q2")
        feed.update(escalations, NOW + 4, {"e41"})
        await probe.settle(pilot)
        assert (probe.layouts, probe.lines(feed)) == (0, set())

        # fewer escalations than lines: the scrollbar goes (a layout), every line shows
        for esc_id in list(escalations)[: 40 - HEIGHT + 3]:
            del escalations[esc_id]
        probe.clear()
        feed.update(escalations, NOW + 5, set())
        await probe.settle(pilot)
        assert probe.layouts >= 1
        assert not feed.show_vertical_scrollbar
        shown_as_drawn_afresh(feed)
        lines = [strip.text for strip in feed.render_lines(Region(0, 0, *feed.size))]
        for y, esc_id in enumerate(feed.order):
            assert f"({esc_id[1:]})" in lines[y], (y, esc_id)
        assert all(not line.strip() for line in lines[len(feed.order) :])


async def test_the_counts_repaint_alone_and_the_scrolled_reader_sees_new_ones_counted() -> None:
    escalations = {f"e{i}": escalation(i) for i in range(30)}
    app = FeedApp()
    async with app.run_test(size=(100, HEIGHT + 3)) as pilot:
        feed = app.feed
        counts = app.query_one("FeedCounts")
        probe = Probe(app)
        feed.update(escalations, NOW, None)
        await probe.settle(pilot)
        assert counts.render_line(0).text.strip() == "30 open · 30 need ack"
        feed.focus()
        await pilot.press(*["down"] * 20)
        await probe.settle(pilot)
        probe.clear()
        assert feed.scroll_offset.y > 0 and feed.order.index("e29") < feed.scroll_offset.y
        # off screen above the view: one acked; the counts move, the feed does not
        escalations["e29"].status = EscalationStatus.ACKED
        feed.update(escalations, NOW + 1, {"e29"})
        await probe.settle(pilot)
        assert counts.render_line(0).text.strip() == "30 open · 29 need ack"
        assert (probe.layouts, probe.lines(feed)) == (0, set())
        shown_as_drawn_afresh(feed)
        # two arrive on top while the reader is down the list: counted, the cursor stays
        selected = feed.selected
        escalations["e30"], escalations["e31"] = escalation(30), escalation(31)
        feed.update(escalations, NOW + 2, {"e30", "e31"})
        await probe.settle(pilot)
        assert feed.selected is selected
        assert counts.render_line(0).text.strip() == "32 open · 31 need ack · 2 new ↑"
        assert probe.layouts == 0
        shown_as_drawn_afresh(feed)
        # the clock alone: ages read the same for a minute here, nothing repaints
        probe.clear()
        feed.tick(NOW + 2.5)
        await probe.settle(pilot)
        assert probe.lines(feed) == set()
        await pilot.press("home")
        await probe.settle(pilot)
        assert feed.selected is not None and feed.selected.escalation_id == "e31"
        assert counts.render_line(0).text.strip() == "32 open · 31 need ack"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
async def test_the_counts_shorten_their_words_to_fit_and_never_cut_the_need_ack_count(
    language: str,
) -> None:
    """A narrow pane (80 columns, a language with long words) shows the longest form of the
    counts that fits; the escalations that need an ack are counted whole in every form
    (Ukrainian at 80 columns cut "непідтверджено: 1" before its figure)."""
    escalations = {f"e{i}": escalation(i) for i in range(1250)}
    for i in range(16):
        escalations[f"e{i}"].status = EscalationStatus.ACKED
    need = fmt.count(1234)
    assert i18n.use(language) == language
    try:
        forms = count_forms(1250, 1234, 0)
        assert len(set(forms)) == len(forms)
        assert [cell_len(f) for f in forms] == sorted((cell_len(f) for f in forms), reverse=True)
        app = FeedApp()
        async with app.run_test(size=(100, HEIGHT + 3)) as pilot:
            app.feed.update(escalations, NOW, None)
            counts = app.query_one(FeedCounts)
            shown_forms = []
            for width in (100, 60, 44, 36, 30, 26, 22, 18, 14, 10, 7):
                await pilot.resize_terminal(width, HEIGHT + 3)
                await pilot.pause()
                room = counts.size.width
                line = counts.render_line(0).text.rstrip()
                assert cell_len(line) <= room and "…" not in line, (width, line)
                assert re.search(rf"(?<![\d,.]){re.escape(need)}(?![\d,.])", line), line
                # the longest form that fits: every longer one would not
                assert line in forms, (width, line)
                assert all(cell_len(f) > room for f in forms[: forms.index(line)]), (room, line)
                shown_forms.append(line)
            assert shown_forms[0] == forms[0] and shown_forms[-1] == forms[-1]
    finally:
        i18n.use("en")


def test_arrivals_above_a_scrolled_reader_are_counted_in_every_form() -> None:
    forms = count_forms(32, 31, 2)
    assert forms[0] == "32 open · 31 need ack · 2 new ↑"
    assert all("31" in form and "2" in form.split("31", 1)[1] for form in forms), forms
    assert forms[-1] == "▲31 · ↑2"
