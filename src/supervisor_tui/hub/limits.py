"""What the network doors (the hub, the webhook endpoint) allow one peer and everyone.

A peer address gets at most ``per_peer`` connections and the door at most ``total``, so one
attacker cannot use up the process's file descriptors or memory, and a flood of refusals
writes a few log lines, not one per connection.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable


class Throttled:
    """Log lines for one kind of refusal: the first at once, then at most one every
    ``every`` seconds, saying how many were refused in between."""

    def __init__(
        self,
        logger: logging.Logger,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._quiet: Counter[str] = Counter()

    def warning(self, key: str, message: str) -> None:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._quiet[key] += 1
            return
        more = self._quiet.pop(key, 0)
        self._last[key] = now
        if len(self._last) > 1_000:  # many keys (peers): forget the oldest
            for old in list(self._last)[:500]:
                del self._last[old]
        suffix = f" (and {more} more like it since the last line)" if more else ""
        self.logger.warning("%s%s", message, suffix)


HUB_PER_PEER = 32
"""The hub's default for connections one address may hold: a wall of screens behind one
NAT, not a flood (``[hub] per_address``)."""
HUB_MAX_CONNECTIONS = 512
"""The hub's default for terminals held at once (``[hub] max_connections``)."""


class ConnectionLimits:
    """Open connections by peer address, against a cap per address and a cap in total."""

    def __init__(self, per_peer: int, total: int) -> None:
        self.per_peer = per_peer
        self.total = total
        self.open: Counter[str] = Counter()
        self.refused = 0
        self._count = 0

    def admit(self, peer: str) -> str | None:
        """Count the connection in, or say why not (then it is not counted)."""
        if self._count >= self.total:
            self.refused += 1
            return f"{self.total} connections open in total"
        if self.open[peer] >= self.per_peer:
            self.refused += 1
            return f"{self.per_peer} connections open from {peer}"
        self.open[peer] += 1
        self._count += 1
        return None

    def release(self, peer: str) -> None:
        self._count -= 1
        self.open[peer] -= 1
        if self.open[peer] <= 0:
            del self.open[peer]

    def count(self) -> int:
        return self._count


def peer_host(address: object) -> str:
    """The host part of a socket's peer address (a tuple for IP, a string for a Unix socket)."""
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address or "unknown")
