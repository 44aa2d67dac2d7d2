"""Conversations kept on disk, beside the index (``<index_dir>/conversations.sqlite``).

Each conversation belongs to an owner: the user name under ``--auth``, else the random
token of one browser. Every read and write names the owner, so nobody reaches another
owner's conversations. A turn keeps the question and the whole Answer (as JSON), so a
reload shows the answer with its sources exactly as it was. A turn answered again (Regenerate,
or its question edited) keeps its earlier versions; a turn also keeps the reader's feedback
(👍/👎 and an optional correction) and the follow-up questions checked for it.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from ancre.qa import Answer, Citation, Passage

FILENAME = "conversations.sqlite"
TITLE_CHARS = 80
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT, status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '', created REAL NOT NULL, PRIMARY KEY (conversation, seq));
CREATE TABLE IF NOT EXISTS earlier (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, version INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT,
    status TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', rating TEXT NOT NULL DEFAULT '',
    comment TEXT NOT NULL DEFAULT '', created REAL NOT NULL,
    PRIMARY KEY (conversation, seq, version));
"""
ADDED = {
    "rating": "TEXT NOT NULL DEFAULT ''",
    "comment": "TEXT NOT NULL DEFAULT ''",
    "suggestions": "TEXT NOT NULL DEFAULT '[]'",
}
"""Columns of ``turns`` added after the first version (added to older files on opening)."""
Rating = Literal["up", "down", ""]
COMMENT_CHARS = 1000


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created: float
    updated: float
    text: str = ""
    """The conversation's questions, one a line (what the sidebar's search looks into)."""


@dataclass
class Turn:
    """One question and what became of it: ``status`` is 'answered' (with ``answer``),
    'stopped' or 'failed' (``note`` says why, as a key of the page's texts)."""

    seq: int
    question: str
    answer: Answer | None
    status: str = "answered"
    note: str = ""
    rating: Rating = ""
    comment: str = ""
    """The reader's correction (or remark) given with a 👎."""
    suggestions: list[str] = field(default_factory=list)
    """Follow-up questions checked to be answerable from the same articles."""
    earlier: list[Turn] = field(default_factory=list)
    """The versions this one replaced, oldest first."""


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """The Answer that ``Answer.to_dict()`` gave (fields unknown to this version dropped)."""

    def build(cls: type, values: dict[str, Any]) -> Any:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    answer = build(Answer, data)
    answer.citations = [build(Citation, c) for c in data.get("citations", [])]
    answer.passages = [build(Passage, p) for p in data.get("passages", [])]
    return answer


def _answer(payload: str | None) -> Answer | None:
    return answer_from_dict(json.loads(payload)) if payload else None


def title_for(question: str) -> str:
    question = " ".join(question.split())
    return question if len(question) <= TITLE_CHARS else question[: TITLE_CHARS - 1] + "…"


class ConversationStore:
    """The conversations file. Nothing is written until the first conversation starts."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def beside(cls, index_dir: str | Path) -> ConversationStore:
        return cls(Path(index_dir).expanduser() / FILENAME)

    @contextmanager
    def _db(self, write: bool = False):
        if not write and not self.path.exists():
            yield None
            return
        with self._lock:
            if write and not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10)
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                if not self._ready:
                    conn.executescript(SCHEMA)
                    have = {row[1] for row in conn.execute("PRAGMA table_info(turns)")}
                    for name, kind in ADDED.items():
                        if name not in have:
                            conn.execute(f"ALTER TABLE turns ADD COLUMN {name} {kind}")
                    self._ready = True
                with conn:
                    yield conn
            finally:
                conn.close()

    def create(self, owner: str, title: str) -> Conversation:
        now = time.time()
        conv = Conversation(secrets.token_urlsafe(9), title_for(title), now, now)
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                (conv.id, owner, conv.title, now, now),
            )
        return conv

    def list(self, owner: str) -> list[Conversation]:
        """The owner's conversations, the most recently used first."""
        with self._db() as db:
            if db is None:
                return []
            rows = db.execute(
                "SELECT c.id, c.title, c.created, c.updated, "
                "coalesce((SELECT group_concat(question, char(10)) FROM turns t "
                "WHERE t.conversation = c.id), '') "
                "FROM conversations c WHERE c.owner = ? ORDER BY c.updated DESC",
                (owner,),
            ).fetchall()
        return [Conversation(*r) for r in rows]

    def get(self, owner: str, conv_id: str | None) -> Conversation | None:
        if not conv_id:
            return None
        with self._db() as db:
            if db is None:
                return None
            row = db.execute(
                "SELECT id, title, created, updated FROM conversations WHERE owner = ? AND id = ?",
                (owner, conv_id),
            ).fetchone()
        return Conversation(*row) if row else None

    def turns(self, owner: str, conv_id: str | None) -> list[Turn]:
        """The conversation's turns, each with its earlier versions."""
        if self.get(owner, conv_id) is None:
            return []
        with self._db() as db:
            rows = db.execute(
                "SELECT seq, question, answer, status, note, rating, comment, suggestions "
                "FROM turns WHERE conversation = ? ORDER BY seq",
                (conv_id,),
            ).fetchall()
            old = db.execute(
                "SELECT seq, question, answer, status, note, rating, comment FROM earlier "
                "WHERE conversation = ? ORDER BY seq, version",
                (conv_id,),
            ).fetchall()
        earlier: dict[int, list[Turn]] = {}
        for seq, q, a, status, note, rating, comment in old:
            earlier.setdefault(seq, []).append(
                Turn(seq, q, _answer(a), status, note, rating, comment)
            )
        return [
            Turn(
                seq,
                q,
                _answer(a),
                status,
                note,
                rating,
                comment,
                json.loads(suggested or "[]"),
                earlier.get(seq, []),
            )
            for seq, q, a, status, note, rating, comment, suggested in rows
        ]

    def save_turn(
        self, owner: str, conv_id: str, turn: Turn, *, replace: bool = False
    ) -> int | None:
        """Add ``turn`` (its seq is given here), or with ``replace`` put it in place of the turn
        of the same seq (a regenerated answer, or an edited question), which is kept as an
        earlier version. Returns the seq, or None when the conversation is not the owner's
        (deleted meanwhile)."""
        answer = turn.answer
        payload = json.dumps(answer.to_dict(), ensure_ascii=False) if answer else None
        seq = turn.seq if replace else None
        now = time.time()
        with self._db(write=True) as db:
            if not db.execute(
                "SELECT 1 FROM conversations WHERE owner = ? AND id = ?", (owner, conv_id)
            ).fetchone():
                return None
            if seq is None:
                seq = db.execute(
                    "SELECT coalesce(max(seq), -1) + 1 FROM turns WHERE conversation = ?",
                    (conv_id,),
                ).fetchone()[0]
            else:
                db.execute(
                    "INSERT INTO earlier SELECT conversation, seq, "
                    "(SELECT coalesce(max(version), -1) + 1 FROM earlier "
                    "WHERE conversation = ? AND seq = ?), "
                    "question, answer, status, note, rating, comment, created "
                    "FROM turns WHERE conversation = ? AND seq = ? AND status = 'answered'",
                    (conv_id, seq, conv_id, seq),
                )
            db.execute(
                "INSERT OR REPLACE INTO turns (conversation, seq, question, answer, status, note, "
                "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conv_id, seq, turn.question, payload, turn.status, turn.note, now),
            )
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conv_id))
        return seq

    def rate(
        self, owner: str, conv_id: str | None, seq: int, rating: Rating, comment: str = ""
    ) -> bool:
        """Keep the reader's 👍 / 👎 (``''`` takes it back) and correction on a turn."""
        if rating not in ("up", "down", ""):
            raise ValueError(f"rating must be 'up', 'down' or '', not {rating!r}")
        comment = " ".join((comment or "").split())[:COMMENT_CHARS]
        with self._db(write=True) as db:
            cur = db.execute(
                "UPDATE turns SET rating = ?, comment = ? WHERE seq = ? AND conversation = "
                "(SELECT id FROM conversations WHERE owner = ? AND id = ?)",
                (rating, comment, seq, owner, conv_id),
            )
        return cur.rowcount == 1

    def suggest(self, owner: str, conv_id: str | None, seq: int, questions: list[str]) -> bool:
        """Keep the follow-up questions checked for a turn."""
        with self._db(write=True) as db:
            cur = db.execute(
                "UPDATE turns SET suggestions = ? WHERE seq = ? AND conversation = "
                "(SELECT id FROM conversations WHERE owner = ? AND id = ?)",
                (json.dumps(questions, ensure_ascii=False), seq, owner, conv_id),
            )
        return cur.rowcount == 1

    def rated(self) -> list[tuple[str, Turn]]:
        """Every turn with a 👍 or a 👎, of every owner, with its conversation's id (what
        ``ancre eval --feedback-out`` turns into a question set)."""
        with self._db() as db:
            if db is None:
                return []
            rows = db.execute(
                "SELECT conversation, seq, question, answer, status, note, rating, comment "
                "FROM turns WHERE rating != '' ORDER BY created"
            ).fetchall()
        return [
            (conv, Turn(seq, q, _answer(a), status, note, rating, comment))
            for conv, seq, q, a, status, note, rating, comment in rows
        ]

    def rename(self, owner: str, conv_id: str | None, title: str) -> bool:
        title = title_for(title)
        if not title or not conv_id:
            return False
        with self._db(write=True) as db:
            cur = db.execute(
                "UPDATE conversations SET title = ? WHERE owner = ? AND id = ?",
                (title, owner, conv_id),
            )
        return cur.rowcount == 1

    def delete(self, owner: str, conv_id: str | None) -> bool:
        if not conv_id or not self.path.exists():
            return False
        with self._db(write=True) as db:
            cur = db.execute(
                "DELETE FROM conversations WHERE owner = ? AND id = ?", (owner, conv_id)
            )
        return cur.rowcount == 1
