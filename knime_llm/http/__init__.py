"""Talking to the API: one row's request from the shared gate to its final reply.

:mod:`.sender` runs a row's attempts: it waits at the run's :class:`~.ratelimit.Gate` (shared
429 cooldown, slow start, per-minute budgets), posts through :mod:`.transport` (one aiohttp
session per run; :mod:`.streaming` assembles server-sent events) and acts on the pure decisions
of :mod:`.retry`. :mod:`.models` checks a connection with ``GET /models``.
"""
