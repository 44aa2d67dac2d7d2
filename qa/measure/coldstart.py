"""The child process of the cold-start bench: ``python -m ancre.qa.measure.coldstart
INDEX_SETTINGS_JSON ANSWER_SETTINGS_JSON QUESTION`` answers one question in a fresh
interpreter and prints, as JSON, when the answer was ready and its peak memory. It imports
no more than a program that calls ``ancre.qa.ask`` would."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

HEAVY = ("torch", "transformers", "sentence_transformers", "nncf")
"""Libraries the query path should not need to import (OpenVINO and tokenizers serve it)."""


def peak_rss_kb() -> int:
    """Peak resident memory of this process in KiB: VmHWM (Linux, reset by exec), else
    ru_maxrss (which a child started by fork + exec may inherit from its parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def first_answer(index_settings: dict[str, Any], settings: dict[str, Any], question: str) -> dict:
    """Answer ``question`` with these settings (as dicts of their fields)."""
    from ancre.index import IndexSettings
    from ancre.qa import AnswerSettings, ask

    answer = ask(
        question,
        settings=AnswerSettings(**settings),
        index_settings=IndexSettings(**index_settings),
    )
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    return {"t_answer": time.time(), "peak_kb": peak_rss_kb(), "mode": answer.mode, "heavy": heavy}


if __name__ == "__main__":
    xs, s, question = sys.argv[1:4]
    print(json.dumps(first_answer(json.loads(xs), json.loads(s), question)))
