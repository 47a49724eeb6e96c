"""Every action of the board, declared once.

Each entry says its binding id (what a site remaps in ``[keys]``), key, label, the modes it
applies to, whether it needs a selected escalation, and its help and palette text. The board
screen's bindings (a dialog on top takes the keys while it is open), the escalation feed's
bindings, ``check_action``, the help screen and the command palette are all built from
``ACTIONS``: adding an action is one entry here plus its ``action_*`` method on the board
screen (``screens/board.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum, StrEnum

from textual.binding import Binding, BindingsMap, BindingType

from supervisor_tui.i18n import N_, _


class Mode(StrEnum):
    """What the board is fed by, and what its operator may do."""

    LIVE = "live"
    """``run`` / ``demo``: this process records the floor."""
    HUB = "hub terminal"
    """``watch`` with a token that may act."""
    VIEW_ONLY = "view-only"
    """``watch`` with a token of scope "view": it may look, not act."""
    REPLAY = "replay"
    TRAINING = "training"


EVERY_MODE = frozenset(Mode)
ACTING = frozenset({Mode.LIVE, Mode.HUB, Mode.TRAINING})
"""Where ack, note, snooze and resolve are taken (training acts in memory only)."""
FOLLOWING = frozenset({Mode.LIVE, Mode.HUB, Mode.VIEW_ONLY})
PLAYING = frozenset({Mode.REPLAY, Mode.TRAINING})


class Selection(Enum):
    NONE = "none"
    """Needs no escalation."""
    ANY = "any"
    """Needs a selected escalation, open or not."""
    OPEN = "open"
    """Needs a selected escalation that is still open."""


class Where(Enum):
    BOARD = "board"
    """Bound on the board (the app)."""
    FEED = "feed"
    """Bound on the escalation feed (when it has focus)."""
    TEXTUAL = "textual"
    """Bound by Textual itself; listed in help only."""


@dataclass(frozen=True, slots=True)
class BoardAction:
    id: str
    """The binding id: the config's ``[keys]`` table remaps by it."""
    action: str
    """The Textual action, e.g. ``ack`` or ``replay_seek(-60)``."""
    key: str
    label: str
    """The footer's word."""
    help: str
    modes: frozenset[Mode] = EVERY_MODE
    selection: Selection = Selection.NONE
    palette: str | None = None
    """The command palette's title; None: not offered there."""
    palette_help: str = ""
    show: bool = True
    """In the footer (arrows and seeks are in help only)."""
    key_display: str | None = None
    beside_dialogs: bool = True
    """Left in the board's footer while a dialog is open (its key goes to the dialog then);
    False hides it, for keys a dialog uses itself (Enter, space, arrows)."""
    where: Where = Where.BOARD

    @property
    def name(self) -> str:
        """The action without its parameters, as ``check_action`` receives it."""
        return self.action.split("(")[0]

    @property
    def shown_key(self) -> str:
        return self.key_display or self.key

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.label,
            show=self.show,
            key_display=self.key_display,
            id=self.id,
            tooltip=self.help,
        )


ACTIONS: tuple[BoardAction, ...] = (
    BoardAction(
        "escalation.ack",
        "ack",
        "a",
        N_("Ack"),
        N_("acknowledge the selected escalation, with an optional note"),
        modes=ACTING,
        selection=Selection.OPEN,
        palette=N_("Ack selected escalation"),
        palette_help=N_("with an optional note"),
    ),
    BoardAction(
        "escalation.note",
        "note",
        "n",
        N_("Note"),
        N_("add a note to the selected escalation"),
        modes=ACTING,
        selection=Selection.ANY,
        palette=N_("Note on selected escalation"),
        palette_help=N_("adds a note"),
    ),
    BoardAction(
        "escalation.snooze",
        "snooze",
        "s",
        N_("Snooze"),
        N_("hide the selected escalation for a while"),
        modes=ACTING,
        selection=Selection.OPEN,
        palette=N_("Snooze selected escalation"),
        palette_help=N_("hide it for a while"),
    ),
    BoardAction(
        "escalation.resolve",
        "resolve",
        "r",
        N_("Resolve"),
        N_("close the selected escalation by hand"),
        modes=ACTING,
        selection=Selection.OPEN,
        palette=N_("Resolve selected escalation"),
        palette_help=N_("close it by hand"),
    ),
    BoardAction(
        "escalation.detail",
        "detail",
        "enter",
        N_("Detail"),
        N_("the selected escalation in full: ticket, history, write-backs"),
        selection=Selection.ANY,
        palette=N_("Escalation detail"),
        palette_help=N_("the selected escalation in full"),
        key_display="⏎",
        beside_dialogs=False,
    ),
    BoardAction(
        "board.filter",
        "filter",
        "slash",
        N_("Filter"),
        N_("show one queue, or all"),
        key_display="/",
    ),
    BoardAction(
        "board.pause",
        "pause",
        "p",
        N_("Pause"),
        N_("hold updates while you read (events are still recorded)"),
        modes=FOLLOWING,
        palette=N_("Pause / resume the board"),
        palette_help=N_("hold updates while you read"),
    ),
    BoardAction(
        "board.whatif",
        "whatif",
        "w",
        N_("What-if"),
        N_(
            "move agents between queues, add or remove them, or change a target, and see the "
            "projected SL and ASA (nothing changes in any helpdesk)"
        ),
        palette=N_("What-if"),
        palette_help=N_("move agents between queues, see the projected SL"),
        show=False,  # in help and the palette; the footer is full at 80 columns
    ),
    BoardAction(
        "app.help",
        "help",
        "question_mark",
        N_("Help"),
        N_("keys and formulas"),
        palette=N_("Help"),
        palette_help=N_("keys and formulas"),
        key_display="?",
    ),
    BoardAction("app.quit", "quit", "q", N_("Quit"), N_("quit (training: the score card first)")),
    BoardAction(
        "replay.play",
        "replay_play",
        "space",
        N_("Play/pause"),
        N_("play or pause the replay; at a decision point, let it go"),
        modes=PLAYING,
        beside_dialogs=False,
    ),
    BoardAction(
        "replay.faster",
        "replay_faster",
        "plus,equals_sign",
        N_("Faster"),
        N_("replay faster"),
        modes=PLAYING,
        beside_dialogs=False,
        key_display="+",
    ),
    BoardAction(
        "replay.slower",
        "replay_slower",
        "minus",
        N_("Slower"),
        N_("replay slower"),
        modes=PLAYING,
        beside_dialogs=False,
        key_display="-",
    ),
    BoardAction(
        "replay.back",
        "replay_seek(-60)",
        "left",
        N_("-1 min"),
        N_("back one minute"),
        modes=PLAYING,
        beside_dialogs=False,
        show=False,
        key_display="←",
    ),
    BoardAction(
        "replay.forward",
        "replay_seek(60)",
        "right",
        N_("+1 min"),
        N_("on one minute"),
        modes=PLAYING,
        beside_dialogs=False,
        show=False,
        key_display="→",
    ),
    BoardAction(
        "replay.back15",
        "replay_seek(-900)",
        "shift+left",
        N_("-15 min"),
        N_("back fifteen minutes"),
        modes=PLAYING,
        beside_dialogs=False,
        show=False,
        key_display="⇧←",
    ),
    BoardAction(
        "replay.forward15",
        "replay_seek(900)",
        "shift+right",
        N_("+15 min"),
        N_("on fifteen minutes"),
        modes=PLAYING,
        beside_dialogs=False,
        show=False,
        key_display="⇧→",
    ),
    BoardAction(
        "replay.goto",
        "replay_goto",
        "g",
        N_("Go to"),
        N_("go to a clock time"),
        modes=PLAYING,
        beside_dialogs=False,
    ),
    BoardAction(
        "replay.previous",
        "replay_previous",
        "left_square_bracket",
        N_("Prev esc"),
        N_("jump to the previous escalation"),
        modes=PLAYING,
        beside_dialogs=False,
        key_display="[",
    ),
    BoardAction(
        "replay.next",
        "replay_next",
        "right_square_bracket",
        N_("Next esc"),
        N_("jump to the next escalation"),
        modes=PLAYING,
        beside_dialogs=False,
        key_display="]",
    ),
    BoardAction(
        "feed.up",
        "cursor(-1)",
        "up,k",
        N_("Up"),
        N_("move up in the escalation feed"),
        show=False,
        key_display="↑ k",
        where=Where.FEED,
    ),
    BoardAction(
        "feed.down",
        "cursor(1)",
        "down,j",
        N_("Down"),
        N_("move down in the escalation feed"),
        show=False,
        key_display="↓ j",
        where=Where.FEED,
    ),
    BoardAction(
        "feed.top",
        "top",
        "home",
        N_("Newest"),
        N_("back to the newest escalation"),
        show=False,
        where=Where.FEED,
    ),
    BoardAction(
        "textual.focus",
        "",
        "tab",
        N_("Next panel"),
        N_("switch between panels"),
        show=False,
        where=Where.TEXTUAL,
    ),
    BoardAction(
        "textual.palette",
        "",
        "ctrl+p",
        N_("Commands"),
        N_("command palette"),
        show=False,
        where=Where.TEXTUAL,
    ),
)


def bindings(
    where: Where = Where.BOARD, actions: Iterable[BoardAction] = ACTIONS
) -> list[BindingType]:
    return [a.binding() for a in actions if a.where is where]


def speak(bindings: BindingsMap) -> None:
    """The footer's words and tooltips in the floor's language. Bindings are made when the screen's
    class is, before the language is chosen; each screen's own copy is translated."""
    for key, found in bindings.key_to_bindings.items():
        bindings.key_to_bindings[key] = [
            replace(
                b,
                description=_(b.description) if b.description else b.description,
                tooltip=_(b.tooltip) if b.tooltip else b.tooltip,
            )
            for b in found
        ]


def binding_ids(actions: Iterable[BoardAction] = ACTIONS) -> set[str]:
    """Every binding a site may remap with the config's ``[keys]`` table."""
    return {a.id for a in actions if a.where is not Where.TEXTUAL}


def by_name(actions: Iterable[BoardAction] = ACTIONS) -> dict[str, BoardAction]:
    """Entries by action name (``replay_seek`` for every seek: they share their modes)."""
    found: dict[str, BoardAction] = {}
    for entry in actions:
        if entry.action:
            found.setdefault(entry.name, entry)
    return found
