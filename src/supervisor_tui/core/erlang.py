"""Erlang C staffing for queues where contacts wait for an agent (voice, chat).

The model assumes Poisson arrivals, exponential handle times, no abandonment and agents
who serve only this queue. Real floors abandon (which makes Erlang C pessimistic) and
share agents across queues (which makes it optimistic); the board labels the figure
"need" and shows it next to what the floor has, not as a forecast.

Erlang B is computed with the stable recursion B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1)),
which never forms A^N / N!, so it stays exact for hundreds of agents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_AGENTS = 5_000


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability with ``agents`` servers and ``traffic`` Erlangs offered."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must not be negative")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a contact waits (1.0 when the queue is unstable, agents <= traffic)."""
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1.0 - b))


@dataclass(frozen=True, slots=True)
class ErlangResult:
    agents: int
    traffic: float
    wait_probability: float
    service_level: float
    asa_s: float
    occupancy: float


def erlang_c_figures(
    agents: int, arrivals_per_s: float, aht_s: float, threshold_s: float
) -> ErlangResult:
    """Service level within ``threshold_s`` and ASA for a staffing level."""
    traffic = arrivals_per_s * aht_s
    if agents <= traffic:
        return ErlangResult(agents, traffic, 1.0, 0.0, math.inf, 1.0)
    pw = erlang_c(agents, traffic)
    sl = 1.0 - pw * math.exp(-(agents - traffic) * threshold_s / aht_s)
    asa = pw * aht_s / (agents - traffic)
    return ErlangResult(agents, traffic, pw, sl, asa, traffic / agents)


def agents_needed(arrivals_per_s: float, aht_s: float, threshold_s: float, sl_target: float) -> int:
    """Fewest agents for which the service level reaches ``sl_target``."""
    if arrivals_per_s <= 0 or aht_s <= 0:
        return 0
    traffic = arrivals_per_s * aht_s
    n = max(1, math.floor(traffic) + 1)
    while n < MAX_AGENTS:
        if erlang_c_figures(n, arrivals_per_s, aht_s, threshold_s).service_level >= sl_target:
            return n
        n += 1
    return MAX_AGENTS
