"""What the web page does, without the page: the ``WebChat`` controller (no gradio import).

It answers through an ``Answerer`` factory (``Callable[[AnswerSettings], Answerer]``): the
server passes ``ancre.qa.answerer`` over the cached index, so choosing another generator
reuses the loaded index and embedder; tests pass an Answerer over fakes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ancre.index import Embedder, IndexSettings
from ancre.qa import Answerer, AnswerSettings

from .render import (
    DRAFT,
    NO_SOURCES,
    SEARCHING,
    STOPPED,
    error_message,
    escape_md,
    escape_md_inline,
    message_text,
    render_answer,
    render_panel,
    render_sources,
    texts_for,
)
from .uploads import MAX_UPLOAD_MB, UploadRefused, store_upload, uploads_dir

log = logging.getLogger(__name__)

AnswererFactory = Callable[[AnswerSettings], Answerer]


def generator_choices(current: str = "") -> list[str]:
    """The generators offered in the settings: the bundled ones that are installed, 'none',
    and the configured one if it is something else (a .gguf path, a server)."""
    from ancre.qa import installed_generators

    found = installed_generators()
    if current and current not in found:
        found.insert(0, current)
    return found


class WebChat:
    """The chat and the Index tab. Every per-browser value (messages, history, sources)
    comes in and goes out as arguments: nothing here is shared between sessions."""

    def __init__(
        self,
        answerers: AnswererFactory,
        settings: AnswerSettings,
        index_settings: IndexSettings,
        *,
        embedder: Embedder | None = None,
        allow_paths: bool = True,
        max_upload_mb: float = MAX_UPLOAD_MB,
    ):
        self.answerers = answerers
        self.settings = settings
        self.index_settings = index_settings
        self.embedder = embedder
        self.allow_paths = allow_paths
        self.max_upload_mb = max_upload_mb
        self.llms = generator_choices(settings.llm)
        self._build_lock = threading.Lock()

    def options(
        self, top_k: float | None, llm: str | None, temperature: float | None
    ) -> AnswerSettings:
        """This question's settings (the shared ones are never changed)."""
        changes: dict[str, Any] = {}
        if top_k:
            changes["top_k"] = int(top_k)
        if llm:
            changes["llm"] = llm
        if temperature is not None:
            changes["temperature"] = float(temperature)
        return replace(self.settings, **changes)

    # ---- chat
    def respond(
        self,
        message: str,
        chat: list | None,
        history: list | None,
        turns: list | None,
        top_k: float | None = None,
        llm: str | None = None,
        temperature: float | None = None,
    ) -> Iterator[tuple]:
        """One question: yields (textbox, chat messages, history, turns, sources panel) as
        the answer streams. ``history`` holds the raw {"role", "content"} turns given to the
        answerer; ``chat`` the escaped messages shown; ``turns`` the sources of each answer."""
        chat = self.stopped(chat)
        history = list(history or [])
        turns = list(turns or [])
        question = " ".join((message or "").split())
        if not question:
            yield "", list(chat), list(history), list(turns), render_panel(turns)
            return
        turn = len(turns)
        chat.append({"role": "user", "content": escape_md(question)})
        chat.append({"role": "assistant", "content": SEARCHING})
        panel = render_panel(turns)
        yield "", list(chat), list(history), list(turns), panel
        draft: list[str] = []
        options = self.options(top_k, llm, temperature)
        label = DRAFT + "\n\n" if options.llm not in ("", "none") else ""
        try:
            stream = self.answerers(options).stream(
                question, history=list(history), options=options
            )
            for event in stream:
                if event.kind != "draft":
                    continue
                draft.append(event.text)
                text = "".join(draft).strip()
                if text:
                    chat[-1] = {"role": "assistant", "content": label + escape_md(text) + " ▌"}
                    yield "", list(chat), list(history), list(turns), panel
            answer = stream.answer()
        except Exception as err:  # shown in the chat; the page stays usable
            log.exception("answering %r failed", question)
            chat[-1] = {"role": "assistant", "content": error_message(err)}
            yield "", list(chat), list(history), list(turns), panel
            return
        chat[-1] = {"role": "assistant", "content": render_answer(answer, turn)}
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]
        heading = texts_for(answer)["question"].format(n=turn + 1)
        turns.append({"question": question, "label": heading, "html": render_sources(answer, turn)})
        yield "", list(chat), list(history), list(turns), render_panel(turns)

    @staticmethod
    def clear() -> tuple:
        return "", [], [], [], NO_SOURCES

    @staticmethod
    def stopped(chat: list | None) -> list:
        """After Stop: answers left unfinished (their drafts are unverified) are dropped.
        Also run before each question: Gradio may deliver a cancelled answer's last update
        after the Stop handler's."""
        out = []
        for message in chat or []:
            if message.get("role") == "assistant":
                content = message_text(message)
                if content == SEARCHING or content.endswith("▌"):
                    message = {"role": "assistant", "content": STOPPED}
            out.append(message)
        return out

    # ---- index
    def stats_markdown(self) -> str:
        from ancre.index import IndexReader, StoreError

        try:
            with IndexReader(self.index_settings.index_dir) as reader:
                st = reader.stats()
        except StoreError as err:
            return "**Pas encore d’index.** " + escape_md_inline(str(err))
        rows = [
            ("Documents", st.get("documents", 0)),
            ("Passages (chunks)", st.get("chunks", 0)),
            ("Modèle d’embedding", st.get("embed_model", "?")),
            ("Générateur (LLM)", self.settings.llm),
            ("Dernière construction", st.get("built_at", "?")),
            ("Dossier", st.get("index_dir", self.index_settings.index_dir)),
        ]
        return "### L’index\n" + "\n".join(
            f"- **{escape_md_inline(k)}** : {escape_md_inline(str(v))}" for k, v in rows
        )

    def document_choices(self) -> list[tuple[str, str]]:
        from ancre.index import IndexReader, StoreError

        try:
            with IndexReader(self.index_settings.index_dir) as reader:
                docs = reader.documents()
        except StoreError:
            return []
        return [(f"{d['doc_id']} — {d['title'] or ''}"[:160], d["doc_id"]) for d in docs]

    def store_uploads(self, files: list | None) -> tuple[list[Path], list[str]]:
        """Copy uploaded files into the uploads folder; (stored paths, refusal messages)."""
        stored, refused = [], []
        for f in files or []:
            path = Path(getattr(f, "name", None) or str(f))
            try:
                stored.append(
                    store_upload(path, self.index_settings.index_dir, max_mb=self.max_upload_mb)
                )
            except UploadRefused as err:
                refused.append(str(err))
            except OSError as err:
                refused.append(f"{path.name}: {err.strerror or err}")
        return stored, refused

    def build(
        self, files: list | None, folder: str | None, progress: Callable[..., Any] | None = None
    ) -> str:
        """Store the uploads, then index the uploads folder (and ``folder``) incrementally.
        Returns a Markdown report."""
        from ancre import index

        def step(fraction: float, desc: str) -> None:
            if progress is not None:
                progress(fraction, desc=desc)

        lines = []
        step(0.0, "Copie des fichiers…")
        stored, refused = self.store_uploads(files)
        if stored:
            lines.append(
                f"- {len(stored)} fichier(s) reçu(s) : "
                + escape_md_inline(", ".join(p.name for p in stored))
            )
        lines += [f"- refusé : {escape_md_inline(r)}" for r in refused]
        sources: list[str | Path] = []
        up = uploads_dir(self.index_settings.index_dir)
        if up.is_dir() and any(up.iterdir()):
            sources.append(up)
        folder = (folder or "").strip()
        if folder:
            if not self.allow_paths:
                lines.append(
                    "- refusé : l’indexation d’un dossier du serveur est désactivée "
                    "quand la page est publique (--share ou --host non local)"
                )
            else:
                path = Path(folder).expanduser()
                if not path.exists():
                    lines.append(f"- introuvable : {escape_md_inline(folder)}")
                else:
                    sources.append(path)
        if not sources:
            return "\n".join(["Rien à indexer.", *lines])
        if not self._build_lock.acquire(blocking=False):
            return "Une construction est déjà en cours ; réessayez quand elle sera finie."
        try:
            step(0.1, "Indexation (lecture, découpage, embeddings)…")
            report = index.build(
                sources,
                settings=self.index_settings,
                embedder=self.embedder,
                progress=progress is not None,
            )
        except index.BuildLocked:
            return "Une autre construction écrit dans l’index ; réessayez dans un instant."
        except (index.StoreError, OSError, ValueError, RuntimeError) as err:
            log.exception("build failed")
            return "Échec de la construction : " + escape_md_inline(str(err))
        finally:
            self._build_lock.release()
        step(1.0, "Terminé")
        head = (
            f"**Index à jour** : {report.added} ajouté(s), {report.updated} mis à jour, "
            f"{report.unchanged} inchangé(s), {len(report.skipped)} ignoré(s) ; "
            f"{report.chunks} passages calculés en {report.seconds:.1f} s."
        )
        if report.reembedded:
            lines.insert(0, "- tout a été recalculé : " + escape_md_inline(report.reembedded))
        lines += [f"- ignoré : {escape_md_inline(str(s))}" for s in report.skipped]
        return "\n".join([head, *lines])

    def remove(self, doc_ids: list[str] | None) -> str:
        """Remove documents from the index, and their uploaded files once none of the file's
        documents is left (so that a later build does not bring them back)."""
        from ancre import index

        doc_ids = [d for d in (doc_ids or []) if d]
        if not doc_ids:
            return "Choisissez les documents à retirer."
        try:
            with index.IndexReader(self.index_settings.index_dir) as reader:
                docs = reader.documents()
            removed, missing = index.remove(
                doc_ids, settings=self.index_settings, embedder=self.embedder
            )
        except index.BuildLocked:
            return "Une construction écrit dans l’index ; réessayez dans un instant."
        except index.StoreError as err:
            return "Échec : " + escape_md_inline(str(err))
        up = uploads_dir(self.index_settings.index_dir).resolve()
        gone = set(removed)
        by_source: dict[str, set[str]] = {}
        for d in docs:
            by_source.setdefault(d.get("source") or "", set()).add(d["doc_id"])
        for source, ids in by_source.items():
            path = Path(source).resolve() if source else None
            if path and path.parent == up and ids <= gone and path.is_file():
                path.unlink()
        msg = f"{len(removed)} document(s) retiré(s)."
        if missing:
            msg += " Introuvables : " + escape_md_inline(", ".join(missing))
        return msg
