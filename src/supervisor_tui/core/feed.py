"""What the board reads, whatever is behind it.

A live floor reads the store its collector writes (``store.base.LocalFeed``); a hub terminal
reads its link to the hub (``hub.client.HubClient``); a replay reads its recording's store
while the replay controller moves its clock. The board follows any of them through
``FloorFeed`` and asks it about its link and what its operator may do, so it never needs to
know which one it has.
"""

from __future__ import annotations

from typing import Final, Protocol

from supervisor_tui.core.projection import FloorState
from supervisor_tui.i18n import N_, _
from supervisor_tui.model import Event
from supervisor_tui.store import Store
from supervisor_tui.store.base import Listener

LINK_LIVE: Final = "hub: live"
"""``link_status`` when the hub is there: a fixed value the board tests for; it shows it as
``hub_words(_("live"))``. Any other status is already in the floor's language."""


DEMO_FLOOR: Final = N_("Demo floor (simulated)")
"""The demo's floor name as configs, recordings and hub snapshots keep it (English): a
recording made in Japanese replays in Ukrainian with the Ukrainian name."""


def floor_words(name: str) -> str:
    """A floor's name as drawn: the demo's in the floor's language (with what follows it,
    " · shift.db"), a site's own name as it is: names are data."""
    if name.startswith(DEMO_FLOOR):
        return _(DEMO_FLOOR) + name[len(DEMO_FLOOR) :]
    return name


def hub_words(state: str) -> str:
    """The hub link in words: ``hub: {state}`` in the floor's language."""
    return _("hub: {state}").format(state=state)


def hub_state(link: str) -> str:
    """What a link status says after its ``hub:`` prefix (the top bar's cause)."""
    return link.removeprefix(hub_words(""))


class FloorFeed(Protocol):
    def read_from(self, after_seq: int, limit: int = 10_000) -> list[Event]:
        """Events after ``after_seq``, oldest first."""

    def add_listener(self, listener: Listener) -> None:
        """``listener(seq)`` is called (from any thread) when there may be more to read."""

    def take_snapshot(self) -> tuple[int, FloorState] | None:
        """A whole floor that replaces the board's (with the seq it is at), once; None
        when the feed has none to give."""

    def outbox_pending_count(self) -> int:
        """Acks and notes not yet confirmed by their helpdesk."""

    def link_status(self) -> str | None:
        """The link to where the floor is recorded, in words (``LINK_LIVE`` when all is
        well); None when there is no link to watch (the store or recording is local)."""

    @property
    def view_only(self) -> bool:
        """The operator may watch, not act (a hub token of scope "view")."""

    def start(self) -> None:
        """Called once the app's event loop runs."""


class LocalFloor(FloorFeed, Store, Protocol):
    """A store this process reads and writes: the board's feed and the desk's log."""
