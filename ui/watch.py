"""``ancre index watch SOURCE... --every 30m``: the build, again and again on a schedule,
with one line per run."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    """Seconds of an interval written ``90``, ``45s``, ``30m``, ``2h`` or ``1d``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "")
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"--every {text!r}: expected a duration such as 45s, 30m, 2h or 1d")
    return float(m.group(1)) * UNITS[m.group(2) or "s"]


def watch(
    run_once: Callable[[], str],
    every: float,
    *,
    runs: int | None = None,
    show: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Call ``run_once`` every ``every`` seconds (counted from each run's start), ``runs``
    times or until interrupted; shows the time and what it returns. A run that fails is
    shown and the next one still comes. Returns the number of runs."""
    done = 0
    while runs is None or done < runs:
        start = time.monotonic()
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        try:
            line = run_once()
        except (ValueError, OSError, RuntimeError) as err:
            line = f"failed: {err}"
        done += 1
        show(f"{stamp} {line}")
        if runs is not None and done >= runs:
            break
        sleep(max(0.0, every - (time.monotonic() - start)))
    return done
