"""The readers' 👍 / 👎 as a question set that ``ancre eval`` reads (``ancre eval
--feedback-out FILE``): what users marked becomes test cases.

One JSON Lines record per rated answer, in the fields ``questions.read_questions`` takes
(``id``, ``question``, ``answers``, ``doc_id``, ``answerable``) plus what was said
(``rating``, ``comment``, ``given``, ``mode``), which the reader ignores:

- 👍 on a stated answer: its short answer is the gold answer, its first cited article the
  document: the answer must stay right.
- 👍 on an abstention: unanswerable: ancre must keep abstaining.
- 👎 with a correction: the correction is the gold answer (the comment box asks for the
  right answer), the article unknown.
- 👎 without one: answerable with no gold answer, the wrong answer kept in ``given``; eval
  counts it for abstention and coverage only, until someone writes the gold answer in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conversations import ConversationStore, Turn


def record(conversation: str, turn: Turn) -> dict[str, Any]:
    """The question-set record of one rated turn."""
    answer = turn.answer
    given = (answer.short_answer or answer.text) if answer else ""
    abstained = bool(answer and answer.abstained)
    out: dict[str, Any] = {
        "id": f"feedback:{conversation}:{turn.seq}",
        "question": turn.question,
        "answers": [],
        "doc_id": "",
        "answerable": True,
        "rating": turn.rating,
        "comment": turn.comment,
        "given": given,
        "mode": answer.mode if answer else turn.status,
    }
    if turn.rating == "up":
        if abstained:
            out["answerable"] = False
        elif answer is not None:
            out["answers"] = [answer.short_answer] if answer.short_answer else []
            out["doc_id"] = answer.citations[0].doc_id if answer.citations else ""
    elif turn.comment:
        out["answers"] = [turn.comment]
    return out


def write_question_set(store: ConversationStore, path: str | Path) -> tuple[Path, int, int]:
    """Write every rated answer of ``store`` to ``path`` (JSON Lines); returns the path and
    how many were marked right and wrong."""
    rows = [record(conv, turn) for conv, turn in store.rated()]
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    up = sum(r["rating"] == "up" for r in rows)
    return path, up, len(rows) - up
