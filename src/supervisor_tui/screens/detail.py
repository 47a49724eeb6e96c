"""An escalation in full: its title then and now, where it comes from, and everything done
about it (raised, stepped up, acked, noted, snoozed, resolved, reopened) with who and when."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from supervisor_tui.core import fmt
from supervisor_tui.core.projection import Escalation
from supervisor_tui.core.rules import title_words
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import Severity
from supervisor_tui.screens.prompt import Dialog


@dataclass(frozen=True, slots=True)
class EscalationView:
    """What the detail shows besides the escalation itself (worked out by the board)."""

    now_title: str
    queue_name: str | None
    show_subject: bool
    ticket_page: str | None = None
    """The helpdesk's own page of the ticket (None: its source has none)."""


def detail_text(
    esc: Escalation, view: EscalationView, clock_of: Callable[[float], str], now: float
) -> list[Text | Table]:
    """The detail's blocks; vendor text (titles, subjects, notes) is text, never markup."""
    head = Text()
    head.append(
        "▲ " + _("CRITICAL") + " " if esc.severity.rank == 2 else "△ " + _("WARNING") + " ", "bold"
    )
    head.append(Text(view.now_title, style="bold"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    # a run without spaces (a Chinese or Japanese sentence, a URL) folds by cells, never cut off
    facts.add_column(overflow="fold")
    raised_title = title_words(esc.history[0][1].split(": ", 1)[-1] if esc.history else esc.title)
    facts.add_row(
        _("raised"),
        _("{clock} ({duration} ago)").format(
            clock=clock_of(esc.raised_at), duration=fmt.duration(now - esc.raised_at)
        ),
    )
    facts.add_row(_("at raise"), Text(raised_title))
    if view.now_title != raised_title:  # a queue's figure moves; a ticket's flag does not
        facts.add_row(_("now"), Text(view.now_title))
    facts.add_row(_("state"), _state(esc, now, clock_of))
    if view.queue_name:
        facts.add_row(_("queue"), Text(view.queue_name))
    if esc.ticket_id:
        where = _("#{ticket} on {source}").format(
            ticket=esc.ticket_id, source=esc.ticket_source or "?"
        )
        facts.add_row(_("ticket"), Text(where))
        facts.add_row(_("page"), _page(view.ticket_page, esc.ticket_source))
    if view.show_subject and esc.detail:
        facts.add_row(_("subject"), Text(esc.detail))
    facts.add_row(_("rule"), Text(esc.rule_id))
    history = Table.grid(padding=(0, 2))
    history.add_column(style="dim", no_wrap=True)
    history.add_column(overflow="fold")
    entries: list[tuple[float, Text]] = [
        (at, Text(history_words(what))) for at, what in esc.history
    ]
    entries += [
        (at, Text(_("note by {name}: {note}").format(name=by, note=note)))
        for at, by, note in esc.notes
    ]
    if esc.acked_at is not None:
        entries.append((esc.acked_at, Text(_("acked by {name}").format(name=esc.acked_by))))
    if esc.snoozed_until is not None and esc.snoozed_by:
        ends = _("snooze by {name} ends (on this board only)").format(name=esc.snoozed_by)
        entries.append((esc.snoozed_until, Text(ends)))
    for at, what in sorted(entries, key=lambda pair: pair[0]):
        history.add_row(clock_of(at), what)
    blocks: list[Text | Table] = [
        head,
        Text(),
        facts,
        Text("\n" + _("History"), style="bold underline"),
        history,
    ]
    if esc.ticket_id:
        blocks += [
            Text(
                "\n" + _("Write-backs to {source}").format(source=esc.ticket_source or "?"),
                style="bold underline",
            ),
            _write_backs(esc, clock_of),
        ]
    return blocks


SEVERITY_WORDS: dict[str, str] = {
    Severity.WARNING: N_("warning"),
    Severity.CRITICAL: N_("critical"),
}
_RAISED = re.compile(
    r"(?:(raised|reopened), )?(" + "|".join(map(re.escape, SEVERITY_WORDS)) + r"): (.*)", re.DOTALL
)
_RESOLVED = re.compile(r"resolved by (.+?): (.*)", re.DOTALL)


def history_words(what: str) -> str:
    """A history entry in the floor's language. The projection words them in English (the
    rules read them back, and a hub's snapshot carries them to terminals in any language):
    its four shapes are put into the language here; any other entry is shown as it is."""
    if raised := _RAISED.fullmatch(what):
        how, severity, title = raised.groups()
        said = {
            "raised": _("raised, {severity}: {title}"),
            "reopened": _("reopened, {severity}: {title}"),
            None: _("{severity}: {title}"),
        }[how]
        return said.format(severity=_(SEVERITY_WORDS[severity]), title=title_words(title))
    if resolved := _RESOLVED.fullmatch(what):
        who, reason = resolved.groups()
        if who == "the rules":
            return _("resolved by the rules: {reason}").format(reason=title_words(reason))
        return _("resolved by {name}: {reason}").format(name=who, reason=reason)
    return what


def _page(url: str | None, source: str | None) -> Text:
    """A terminal link where the terminal supports them; the address itself either way."""
    if url is None:
        said = (
            _("{source} has no ticket page to link to").format(source=source)
            if source
            else _("this source has no ticket page to link to")
        )
        return Text(said, style="dim")
    return Text(url, style=Style(link=url, underline=True))


WRITE_BACK_LOOK = {
    "pending": ("…", N_("pending"), "yellow"),
    "retrying": ("↻", N_("retrying"), "yellow"),
    "delivered": ("✔", N_("delivered"), "green"),
    "failed": ("✖", N_("failed"), "bold red"),
}
"""Glyph, word (translated where drawn) and colour of each write-back state."""
WRITE_BACK_ACTIONS = {"ack": N_("ack"), "note": N_("note"), "resolve": N_("resolve")}
"""The outbox's action names, as the write-back table words them."""


def _write_backs(esc: Escalation, clock_of: Callable[[float], str]) -> Table | Text:
    """Each ack, note and resolve sent to the helpdesk, and what became of it; a snooze
    stays on the board."""
    if not esc.write_backs:
        return Text(
            _(
                "none yet: an ack, a note or a resolve is written to the ticket; a snooze "
                "stays on this board"
            ),
            style="dim",
        )
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for wb in esc.write_backs:
        look = WRITE_BACK_LOOK.get(wb.state)
        word, style = (f"{look[0]} {_(look[1])}", look[2]) if look else (wb.state, "")
        why = Text(wb.reason)  # the helpdesk's words are data, never markup
        if wb.state == "retrying" and wb.retry_at is not None:
            said = _("next try {clock}").format(clock=clock_of(wb.retry_at))
            why.append(f" · {said}", style="dim")
        elif wb.state == "delivered" and wb.at is not None:
            why.append(_("at {clock}").format(clock=clock_of(wb.at)), style="dim")
        table.add_row(
            clock_of(wb.requested_at),
            _(WRITE_BACK_ACTIONS.get(wb.action, wb.action)),
            Text(word, style=style),
            why,
        )
    return table


def _state(esc: Escalation, now: float, clock_of: Callable[[float], str]) -> Text:
    if not esc.is_open:
        at = clock_of(esc.resolved_at) if esc.resolved_at is not None else "?"
        said = (
            _("resolved by {name} at {clock}: {reason}").format(
                name=esc.resolved_by, clock=at, reason=esc.resolve_reason
            )
            if esc.resolved_by
            else _("resolved by the rules at {clock}: {reason}").format(
                clock=at, reason=esc.resolve_reason
            )
        )
        return Text(said)
    if esc.is_snoozed(now) and esc.snoozed_until is not None:
        return Text(
            _("snoozed by {name} for {duration}").format(
                name=esc.snoozed_by, duration=fmt.duration(esc.snoozed_until - now)
            )
        )
    if esc.acked_by:
        said = _("acked by {name}").format(name=esc.acked_by)
        if esc.ack_note:
            said = _("{acked}: “{note}”").format(acked=said, note=esc.ack_note)
        return Text(said)
    return Text(_("raised, nobody has acked it yet"), style="bold")


class EscalationDetail(Dialog):
    DEFAULT_CSS = """
    EscalationDetail { align: center middle; }
    EscalationDetail > VerticalScroll {
        width: 110; max-width: 100%; height: 80%; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    """
    BINDINGS = [Binding("escape,enter,q", "close", N_("Close"), id="detail.close")]

    def __init__(self, blocks: list[Text | Table]) -> None:
        super().__init__()
        self.blocks = blocks

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for block in self.blocks:
                yield Static(block)
            yield Static(Text("\n" + _("Esc or Enter to close"), style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
