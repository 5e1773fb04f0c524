"""Per-row latencies shared by the load server and the floor, and the floor itself.

Every row's latency is a function of its row number alone (and a seed), so each client run
against the server sees exactly the same latencies, and the floor is computed on the very same
numbers. The row number travels in the prompt text (``"row 123: ..."``), see :func:`prompt`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence

MEAN_S = 0.050
SIGMA = 1.0
CAP_S = 2.0
SEED = 20261121


def prompt(row: int) -> str:
    """The prompt of row ``row``: the server reads the row number back from it."""
    return (
        f"row {row}: Summarise this customer review in one short sentence. "
        "The delivery was late, but the support team sorted it out quickly."
    )


def row_of(body: bytes) -> int:
    """The row number in a request body (the digits after the first ``row ``), or 0."""
    start = body.find(b"row ")
    if start < 0:
        return 0
    start += 4
    end = start
    while end < len(body) and 48 <= body[end] <= 57:
        end += 1
    return int(body[start:end]) if end > start else 0


def fixed(rows: int, seconds: float = MEAN_S) -> list[float]:
    """The same latency for every row."""
    return [seconds] * rows


def lognormal(
    rows: int, mean_s: float = MEAN_S, sigma: float = SIGMA, cap_s: float = CAP_S, seed: int = SEED
) -> list[float]:
    """Heavy-tailed latencies: lognormal with ``sigma``, capped at ``cap_s``, seeded.

    The values are scaled so that their mean over the ``rows`` rows is exactly ``mean_s`` (the
    same mean as the fixed shape, so both shapes have the same N·mean/C lower bound).
    """
    rng = random.Random(seed)
    mu = math.log(mean_s) - sigma * sigma / 2.0
    values = [rng.lognormvariate(mu, sigma) for _ in range(rows)]
    for _ in range(20):  # scaling then capping moves the mean a little: repeat until exact
        capped = [min(cap_s, v) for v in values]
        mean = sum(capped) / len(capped)
        if abs(mean - mean_s) < 1e-9:
            break
        values = [v * mean_s / mean for v in values]
    return [min(cap_s, v) for v in values]


def latencies(shape: str, rows: int) -> list[float]:
    """Latencies of a named shape: ``instant``, ``fixed`` or ``lognormal``."""
    if shape == "instant":
        return [0.0] * rows
    if shape == "fixed":
        return fixed(rows)
    if shape == "lognormal":
        return lognormal(rows)
    raise ValueError(f"unknown latency shape {shape!r}")


def sliding_window_floor(values: Sequence[float], concurrency: int) -> float:
    """Time a zero-overhead in-order sliding window with ``concurrency`` slots would take.

    Each row starts, in input order, the moment a slot is free; nothing else costs time. For a
    fixed latency L this is ceil(N/C)·L; with a heavy tail the last slow rows end the run later.
    """
    slots = [0.0] * min(concurrency, len(values))
    for latency in values:
        start = heapq.heappop(slots)
        heapq.heappush(slots, start + latency)
    return max(slots, default=0.0)


def groups_floor(values: Sequence[float], concurrency: int) -> float:
    """Time fixed groups of ``concurrency`` rows take when each group waits for its slowest row."""
    return sum(max(values[i : i + concurrency]) for i in range(0, len(values), concurrency))
