"""The page's login check, with a limit on wrong passwords: Gradio's own check accepts any
number of attempts (30 in 0.1 s, then the right one), which matters once the chat listens
beyond this machine."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterable

MAX_FAILURES = 5
"""Wrong passwords for one user name within ``WINDOW`` seconds before its logins are refused."""
WINDOW = 60.0
MAX_NAMES = 10_000
"""User names whose failures are remembered (the oldest are forgotten first)."""


class LoginGuard:
    """``(username, password) -> bool`` for Gradio's ``auth``: true for an account of
    ``accounts``, except that after ``max_failures`` wrong passwords for a user name within
    ``window`` seconds every login as that user is refused (the right one too) until the
    window has passed."""

    def __init__(
        self,
        accounts: Iterable[tuple[str, str]],
        *,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.accounts = list(accounts)
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def __call__(self, username: str, password: str) -> bool:
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.pop(username, []) if now - t < self.window]
            if len(recent) >= self.max_failures:
                self._failures[username] = recent
                return False
            ok = False
            for user, secret in self.accounts:  # compare them all: no timing clue
                same = hmac.compare_digest(user.encode(), username.encode())
                ok |= same & hmac.compare_digest(secret.encode(), password.encode())
            if not ok:
                recent.append(now)
            if recent:
                self._failures[username] = recent
                while len(self._failures) > MAX_NAMES:
                    del self._failures[next(iter(self._failures))]
            return ok
