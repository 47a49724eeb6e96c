"""The board's one-line bars on a narrow screen: each is given its forms from the longest to
the shortest and shows the longest that fits, so a narrow terminal or a language with long
words shortens the words and never cuts an alert or a count off past the right edge."""

from __future__ import annotations

import re

import pytest
from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult

from supervisor_tui import i18n
from supervisor_tui.core import fmt
from supervisor_tui.screens.board import intraday_forms
from supervisor_tui.widgets.bar import Bar
from supervisor_tui.widgets.lines import fitting

OVER = ["Calls · Sales", "Calls · Support", "Chat", "Chat · VIP", "Email · Billing"]


def test_the_first_form_that_fits_else_the_last() -> None:
    forms = ("a long form", "shorter", "tiny")
    assert fitting(forms, 20) == "a long form"
    assert fitting(forms, 10) == "shorter"
    assert fitting(forms, 4) == "tiny"
    assert fitting(forms, 2) == "tiny"  # the caller cuts it
    assert fitting(forms, 0) == "a long form"  # no width yet: the whole line
    assert fitting(["宽宽宽", "ab"], 5) == "ab"  # wide characters count two cells
    with pytest.raises(ValueError):
        fitting([], 10)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_intraday_line_puts_its_alerts_first_when_it_does_not_fit(language: str) -> None:
    assert i18n.use(language) == language
    try:
        forms = intraday_forms((0.874, 0.95, 1234), (1815, 1710.4), OVER)
        plain = [form.plain for form in forms]
        lengths = [cell_len(p) for p in plain]
        assert lengths == sorted(lengths, reverse=True) and len(set(plain)) == len(plain)
        out = i18n._("{count} out of adherence").format(count=1234)
        assert all(out in p for p in plain), plain
        # the whole line: every figure and every queue over forecast
        whole = plain[0]
        assert all(queue in whole for queue in OVER), whole
        for figure in (fmt.percent(0.874), fmt.percent(0.95), "1815", "1710"):
            assert figure in whole, (figure, whole)
        # the shorter forms start with the alerts: out of adherence, then the queues over
        for form in plain[2:]:
            assert form.startswith("✖ " + out + " · ▲"), form
        assert re.search(r"Calls · Sales \+4\b", plain[-1]), plain[-1]
        # the alerts keep their colours wherever they are
        last = forms[-1]
        styles = {last.plain[s.start : s.end]: str(s.style) for s in last.spans}
        assert styles["✖ " + out] == "bold red", styles
    finally:
        i18n.use("en")


def test_a_quiet_day_has_no_alert_forms_and_no_dangling_separator() -> None:
    forms = intraday_forms((0.97, 1.0, 0), None, [])
    assert [f.plain for f in forms] == [
        "Adherence 97% · conformance 100% today",
        "Adherence 97% · conformance 100%",
    ]
    only_forecast = intraday_forms(None, (12, 10.0), ["Chat"])
    assert only_forecast[0].plain == "offered today 12 vs forecast 10 · ▲ over forecast: Chat"
    assert only_forecast[-1].plain == "▲ over forecast: Chat · offered today 12 vs forecast 10"


class BarApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Bar(id="bar")


async def test_a_bar_shows_the_form_that_fits_its_width_and_chooses_again_when_resized() -> None:
    forms = intraday_forms((0.874, 0.95, 12), (1815, 1710.4), OVER)
    app = BarApp()
    async with app.run_test(size=(220, 3)) as pilot:
        bar = app.query_one(Bar)
        bar.set_forms(forms)
        seen = []
        for width in (220, 180, 160, 100, 80, 60, 40):
            await pilot.resize_terminal(width, 3)
            await pilot.pause()
            shown = bar.render()
            assert isinstance(shown, Text)
            seen.append(shown.plain)
            line = app.screen._compositor.render_strips()[0].text
            assert "✖ 12 out of adherence" in line, (width, line)
            if shown.cell_len <= width:  # a form that fits: the longest of them
                assert all(f.cell_len > width for f in forms[: forms.index(shown)])
        assert seen[0] == forms[0].plain and seen[-1] == forms[-1].plain
        assert len(set(seen)) == len(forms) == 3
