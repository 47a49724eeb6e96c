"""Erlang C staffing for queues where contacts wait for an agent (voice, chat).

The model assumes Poisson arrivals, exponential handle times, no abandonment and agents
who serve only this queue. Real floors abandon (which makes Erlang C pessimistic) and
share agents across queues (which makes it optimistic); the board labels the figure
"need" and shows it next to what the floor has, not as a forecast.

Erlang B is computed with the stable recursion B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1)),
which never forms A^N / N!, so it stays exact for any number of agents. For large floors the
starting point comes from the sum 1/B(N) = Σ_j N!/((N-j)! A^j), whose terms near N ≈ A fall
like exp(-j²/2A): O(√A) steps instead of O(N). The staffing search then carries B(n) forward
one agent at a time, so sizing a queue costs O(√A + N - A), with no cap (10,000 agents in
well under a millisecond: `make bench`, bench_erlang).

Chat concurrency (``max_concurrent`` = m chats per agent) uses the usual approximation: each
agent is m servers, so N servers are sized by Erlang C for the chat traffic and the agents
needed are ⌈N ÷ m⌉ (CONCURRENCY_FORMULA). It assumes a chat is handled as fast whatever the
agent's other chats, so it understates need where concurrency slows agents down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from supervisor_tui.i18n import N_

CONCURRENCY_FORMULA = N_("agents = ⌈Erlang C servers ÷ max_concurrent⌉ (each agent is m servers)")
MAX_TRAFFIC = 10_000_000.0
"""Beyond ten million erlangs the figure is refused, not guessed (no floor is that large)."""


class ErlangError(ValueError):
    """Staffing cannot be computed for these inputs; the message says why."""


_SUM_FROM_AGENTS = 64
"""Below this many agents the recursion from B(0) is as cheap as anything else."""


def _erlang_b_recursion(agents: int, traffic: float, start: int = 0, b: float = 1.0) -> float:
    for n in range(start + 1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def _erlang_b_sum(agents: int, traffic: float) -> float:
    """B(N, A) from 1/B = Σ_j N!/((N-j)! A^j), the Poisson cdf over its pmf at N, summed
    from j = 0 until the terms no longer matter. Near N ≈ A the terms fall like
    exp(-j²/2A), so this costs O(√A) instead of O(N): a floor of 10,000 agents is sized in
    about a thousand steps. Only called where the terms cannot overflow (see erlang_b)."""
    inv = 1.0
    term = 1.0
    for i in range(agents):
        term *= (agents - i) / traffic
        inv += term
        if agents - i <= traffic and term < inv * 1e-17:
            break
    return 1.0 / inv


def _sum_reach(traffic: float) -> int:
    """The most agents for which the sum's terms stay far from overflow (at most about
    e^350), for this traffic: N - A within 10·√A + 50."""
    return math.floor(traffic + 10.0 * math.sqrt(traffic) + 50.0)


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability with ``agents`` servers and ``traffic`` Erlangs offered.

    Exact to rounding for any size: small floors (or traffic under 10 erlangs) use the
    recursion from B(0); large ones start from the sum at min(N, A + 10·√A + 50), which costs
    O(√A), then carry the recursion up to N (a heavily overstaffed queue)."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must not be negative")
    if agents < _SUM_FROM_AGENTS or traffic < 10.0:
        return _erlang_b_recursion(agents, traffic)
    start = min(agents, _sum_reach(traffic))
    return _erlang_b_recursion(agents, traffic, start, _erlang_b_sum(start, traffic))


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


def agents_needed(
    arrivals_per_s: float,
    aht_s: float,
    threshold_s: float,
    sl_target: float,
    max_concurrent: int = 1,
) -> int:
    """Fewest agents for which the service level reaches ``sl_target``: exact Erlang C for
    any traffic (no cap), and ⌈servers ÷ max_concurrent⌉ for agents who take several chats."""
    if arrivals_per_s <= 0 or aht_s <= 0:
        return 0
    if max_concurrent < 1:
        raise ErlangError(f"max_concurrent must be at least 1 (got {max_concurrent})")
    traffic = arrivals_per_s * aht_s
    if not math.isfinite(traffic) or traffic > MAX_TRAFFIC:
        raise ErlangError(f"{traffic:g} erlangs is beyond what staffing is computed for")
    if not 0 < sl_target < 1:
        raise ErlangError(f"the SL target must be between 0 and 1 (got {sl_target})")
    n = max(1, math.floor(traffic) + 1)
    b = erlang_b(n, traffic)
    while True:
        # Erlang C and the service level from B(n), as erlang_c_figures does
        pw = n * b / (n - traffic * (1.0 - b))
        sl = 1.0 - pw * math.exp(-(n - traffic) * threshold_s / aht_s)
        if sl >= sl_target:
            return -(-n // max_concurrent)
        n += 1
        b = traffic * b / (n + traffic * b)
