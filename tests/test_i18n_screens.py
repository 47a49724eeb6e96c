"""Everything around the board in Vietnamese, Chinese, Japanese and Ukrainian (issue #21):
help, the command palette, the ack, snooze and filter dialogs, the escalation detail and
the what-if, opened in the real app under Pilot on a recorded floor at 80×24. No English
word of theirs is left, and no line is wider than the screen or than its dialog, even
where every character takes two cells and a sentence has no spaces to wrap at."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.command import CommandPalette
from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import Input, Select, Static

from supervisor_tui import i18n
from supervisor_tui.app import SupervisorApp
from supervisor_tui.core.feed import LINK_LIVE, hub_words
from supervisor_tui.core.freshness import BoardStatus, board_status
from supervisor_tui.core.training import Decision, RecordedAction, TrainingSession
from supervisor_tui.screens.board import snooze_choice
from supervisor_tui.screens.detail import EscalationDetail, history_words
from supervisor_tui.screens.help import HelpScreen
from supervisor_tui.screens.prompt import ChoiceScreen, TextPrompt
from supervisor_tui.screens.whatif import WhatIfScreen
from supervisor_tui.widgets.freshness import FreshnessBar
from supervisor_tui.widgets.scoreline import ScoreLine

from .conftest import FakeClock
from .test_app import wait_for
from .test_i18n_board import LANGUAGES, language  # noqa: F401 (fixture)
from .test_snapshots import NOW, board_app, floor_file, settle  # noqa: F401 (fixture)

SIZE = (80, 24)
ENGLISH = re.compile(
    r"\b(Keys|Figures|contacts|Acknowledge|optional|confirm|cancel|Cancel|History|"
    r"Write-backs|nobody|acked|raised|helpdesks|half hours?|projected|Choose|Colours|press|"
    r"close|Close|Record|records|Filter|Show which|queue|minutes|hour|agents|today|selected|"
    r"what was done|note|rule|state|page|subject|when|offered|target|Snooze|Resolve|"
    r"escalation|move from|Score|decisions?|pending|delivered|ticket)\b"
)
"""Words of the dialogs' own English (the floor's data, queue names, ticket subjects and the
rules' titles, stay as recorded; acronyms such as SL, ASA, AHT and Erlang C are the same in
every language, per docs/glossary.md)."""


def data_words(app: SupervisorApp) -> list[str]:
    """What the floor's recording says in its own words: removed before looking for English."""
    state = app.board.state
    found = [q.name for q in state.queues.values()] + list(state.queues)
    found += list(state.sources)
    for esc in state.escalations.values():
        found += [esc.title, esc.detail, esc.rule_id, app.board.feed.title_of(esc)]
        found += [what.split(": ", 1)[-1] for _, what in esc.history]
    return sorted((w for w in found if w), key=len, reverse=True)


def shown(app: SupervisorApp, screen: Screen[Any]) -> str:
    """The screen as the terminal gets it and, for every Static of the dialog, its whole
    content (a scrolled help holds more than the screen shows). Each line fits."""
    width, height = SIZE
    lines = list(app.screen._compositor.render_strips())
    assert len(lines) == height
    texts = []
    for line in lines:
        assert cell_len(line.text) <= width, line.text
        texts.append(line.text)
    for static in screen.query(Static):
        size = static.size
        if not size.area:
            continue
        for strip in static.render_lines(Region(0, 0, size.width, size.height)):
            # a dialog's line never runs past its box (a wide character is never split)
            assert strip.cell_length <= size.width, strip.text
            texts.append(strip.text)
    return "\n".join(texts)


def english_left(app: SupervisorApp, text: str) -> list[str]:
    for word in data_words(app):
        text = text.replace(word, " ")
    return ENGLISH.findall(text)


async def test_every_dialog_speaks_the_language_and_fits(
    floor_file: Path,  # noqa: F811 (fixture)
    tmp_path: Path,
    language: str,  # noqa: F811 (fixture)
) -> None:
    app = board_app(floor_file, tmp_path, FakeClock(NOW))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.board
        board.feed.select(next(i for i in board.feed.order if board.state.escalations[i].ticket_id))
        await pilot.pause()

        async def opened(key: str, kind: type[Screen[Any]]) -> str:
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, kind), kind.__name__)
            await pilot.pause()
            return shown(app, app.screen)

        async def closed() -> None:
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is board, "the board again")

        checks: dict[str, str] = {}
        help_text = await opened("question_mark", HelpScreen)
        assert i18n._("Keys") in help_text and i18n._("Figures") in help_text
        assert i18n._("keys and formulas") in help_text, help_text
        checks["help"] = help_text
        await closed()

        ack = await opened("a", TextPrompt)
        assert i18n._("Acknowledge") in ack and i18n._("note (optional)") in ack
        checks["ack"] = ack
        await closed()

        snooze = await opened("s", ChoiceScreen)
        assert snooze_choice(15) in snooze and snooze_choice(60) in snooze
        checks["snooze"] = snooze
        await closed()

        checks["filter"] = await opened("slash", ChoiceScreen)
        assert i18n._("All queues") in checks["filter"]
        await closed()

        detail = await opened("enter", EscalationDetail)
        assert i18n._("History") in detail and i18n._("raised") in detail
        checks["detail"] = detail
        await closed()

        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfScreen), "the what-if")
        whatif = app.screen
        assert isinstance(whatif, WhatIfScreen)
        realtime = [qid for qid, _, live in whatif.queues if live]
        whatif.query_one("#from", Select).value = realtime[0]
        whatif.query_one("#to", Select).value = realtime[1]
        whatif.query_one("#agents", Input).value = "2"
        await wait_for(pilot, lambda: bool(whatif.results), "the projection")
        await pilot.pause()
        checks["what-if"] = shown(app, whatif)
        assert i18n._("now") in checks["what-if"], checks["what-if"]
        await closed()

        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.pause(0.5)
        checks["palette"] = shown(app, app.screen)
        assert i18n._("Ack selected escalation") in checks["palette"], checks["palette"]
        await closed()

        footer = shown(app, board).splitlines()[SIZE[1] - 1]
        assert i18n._("palette") in footer, footer
        for name, text in checks.items():
            left = english_left(app, text)
            assert not left, (name, left, text)


class ScoreLineApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ScoreLine(id="scoreline")


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_training_line_and_the_history_speak_the_language(lang: str) -> None:
    assert i18n.use(lang) == lang
    try:
        app = ScoreLineApp()
        async with app.run_test(size=SIZE):
            line = app.query_one(ScoreLine)
            line.show_hint()
            assert not re.search(r"\b(Training|press|start|snooze|score card)\b", line.said)
            decision = Decision(
                escalation_id="e1",
                title="Chat SL 41%",
                severity="critical",
                raised_at=NOW,
                recorded=RecordedAction("ack", 42.0),
                action="snooze",
                took_s=7.0,
                choice_score=0.6,
                reached=True,
            )
            line.show_scored(decision, (2, 70.0))
            said = line.said
        two = i18n.ngettext("{count} decision", "{count} decisions", 2).format(count=2)
        assert two in said and i18n._("snooze") in said and i18n._("ack") in said, said
        assert not re.search(r"\b(Score|you chose|recorded supervisor|decisions)\b", said), said
        card = TrainingSession("Kim", "shift.db").to_markdown()
        assert i18n._("Training score card: {trainee}").format(trainee="Kim") in card, card
        assert not re.search(
            r"\b(Score|Recording|Decision points|escalation|recorded supervisor|needed)\b", card
        ), card
        for entry in ("raised, critical: Chat SL 41%", "resolved by the rules: cleared"):
            worded = history_words(entry)
            assert not re.search(r"\b(raised|critical|resolved by)\b", worded), worded
    finally:
        i18n.use("en")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_hub_link_is_said_in_the_language(lang: str) -> None:
    """The freshness bar words a live hub in the language; a hub that is down puts its
    reason, without the "hub:" the bar already says, beside the top bar's word."""
    assert i18n.use(lang) == lang
    try:
        bar = FreshnessBar()
        bar.show({}, NOW, 60, link=LINK_LIVE)
        plain = bar.render().plain
        assert hub_words(i18n._("live")) in plain and not re.search(r"\blive\b", plain), plain
        down = hub_words(i18n._("reconnecting, trying now"))
        status = board_status({}, NOW, 60, hub_link=down)
        assert status.board is BoardStatus.HUB_DOWN
        assert status.cause == i18n._("reconnecting, trying now"), status.cause
    finally:
        i18n.use("en")
