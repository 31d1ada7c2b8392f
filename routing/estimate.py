"""Estimated wait time: Erlang C where the model fits, observed throughput otherwise.

Erlang C (M/M/N) gives two things we use:

* for a task already waiting with ``k`` tasks ahead and every server busy, the wait is
  the time for ``k + 1`` service completions: ``(k + 1) * aht / n`` on average;
* for a *new* arrival, ``P(wait) * aht / (n - a)`` with offered load ``a = λ·aht``.

"Fits" means: servers and AHT are known and the queue is stable (``a < n``). Otherwise
(overloaded, or agents shared so unevenly that ``n`` means little) the observed answer
rate of the queue over the last window gives ``(k + 1) / rate``.
"""

from __future__ import annotations


def erlang_b(n: int, a: float) -> float:
    """Blocking probability, by the stable recurrence B(k) = aB(k-1) / (k + aB(k-1))."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(n: int, a: float) -> float:
    """Probability that an arrival waits (1.0 when the queue is unstable)."""
    if n <= 0 or a >= n:
        return 1.0
    if a <= 0:
        return 0.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1 - b))


def erlang_c_new_arrival_wait(n: int, arrival_rate: float, aht: float) -> float | None:
    """Mean wait of a new arrival, or None when the model does not fit (a >= n)."""
    a = arrival_rate * aht
    if n <= 0 or aht <= 0 or a >= n:
        return None
    return erlang_c(n, a) * aht / (n - a)


def position_wait(
    ahead: int,
    servers: float,
    aht: float | None,
    offered_load: float,
    answer_rate: float | None,
) -> tuple[float | None, str]:
    """(EWT seconds, method) for a task with ``ahead`` tasks in front of it."""
    if servers > 0 and aht and offered_load < servers:
        return (ahead + 1) * aht / servers, "erlang_c"
    if answer_rate and answer_rate > 0:
        return (ahead + 1) / answer_rate, "throughput"
    if servers > 0 and aht:
        return (ahead + 1) * aht / servers, "erlang_c"
    return None, "none"
