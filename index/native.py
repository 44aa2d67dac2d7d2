"""Choices ancre makes for the native libraries of its process before they load.

OpenMP threads (llama.cpp, and also torch and FAISS) wait for each other at the end of
every parallel step. By default a waiting thread spins; when another process holds a core,
the spinning thread burns the time the other one needs and generation collapses. Gemma 3
270M on two cores shared with other jobs (load average about 9, fresh processes in turn):
1.5 tokens/s with two spinning threads, 9.0 with one thread, 12.4 with two passive threads
(docs/benchmarks.md). OpenMP reads the policy once, when it is first loaded, and torch ships
a ``libgomp.so.1`` that llama.cpp then shares: so the policy is set when ``ancre.index`` is
imported, before any of them loads. A policy the user set is kept.
"""

from __future__ import annotations

import os


def passive_openmp() -> None:
    """OpenMP threads sleep instead of spinning while they wait (``OMP_WAIT_POLICY``)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
