"""Webhook deliveries already taken, so a captured one sent again does no work twice."""

from __future__ import annotations

from collections.abc import Callable


class SeenDeliveries:
    """Signatures of accepted deliveries, each kept for ``keep_s`` seconds and at most
    ``most`` of them (the oldest go first: a replay of it can only ask for a poll sooner,
    within the poll's limits)."""

    def __init__(self, keep_s: float, clock: Callable[[], float], most: int = 10_000) -> None:
        self.keep_s = keep_s
        self.clock = clock
        self.most = most
        self._until: dict[str, float] = {}  # in the order seen, so expiry is from the front
        self.replays = 0

    def first_time(self, signature: str) -> bool:
        """Whether this delivery is new (and remember it); False for a replay."""
        now = self.clock()
        for old, until in list(self._until.items()):
            if until > now:
                break
            del self._until[old]
        if signature in self._until:
            self.replays += 1
            return False
        while len(self._until) >= self.most:
            del self._until[next(iter(self._until))]
        self._until[signature] = now + self.keep_s
        return True

    def __len__(self) -> int:
        return len(self._until)
