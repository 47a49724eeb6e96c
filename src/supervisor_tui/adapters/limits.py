"""What a source's credentials or plan leave out: one figure each, never the source.

A stop-gap home until the adapter contract declares capabilities (issue #16): an adapter keeps
its limits here, says them in its "connected" health reason, and ``check`` can list them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    capability: str
    """The figure left out ("SLA definitions", "desk HR", "presence")."""
    reason: str
    """Why, in the floor's words ("desk HR: the token's user is a customer there, skipped")."""
    fix: str = ""
    """What would bring it back ("make the user an agent of HR"), where we know."""


class Limits:
    """The limits found so far, one per capability (the latest reason wins)."""

    def __init__(self) -> None:
        self._by: dict[str, Limit] = {}

    def note(self, capability: str, reason: str, fix: str = "") -> None:
        self._by[capability] = Limit(capability, reason, fix)

    def clear(self, capability: str) -> None:
        self._by.pop(capability, None)

    def __iter__(self) -> Iterator[Limit]:
        return iter(list(self._by.values()))

    def __len__(self) -> int:
        return len(self._by)

    def text(self) -> str:
        """The reasons, for a health line ("" when nothing is limited)."""
        return "; ".join(limit.reason for limit in self._by.values())


__all__ = ["Limit", "Limits"]
