"""The web chat served in-process on 127.0.0.1 for the browser and HTTP tests: the sample
articles indexed with the hashing embedder, a scripted generator that takes its time (so a
test can act while an answer is being made), and everything else as ``ancre chat`` has it
(``serve.launch``: Host check, page language, login)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ancre.index import IndexSettings, build
from ancre.qa import Answerer, AnswerSettings, Retriever
from ancre.samples import ARTICLES
from conftest import HashEmbedder, ScriptedGenerator, free_port

TRAMWAY = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
BAKERY = "Quelle boulangerie a remporté le Grand Prix départemental de la baguette de tradition ?"
STATIONS = "Et combien de stations desservira-t-elle ?"


class SlowGenerator(ScriptedGenerator):
    """A scripted generator that waits ``delay`` seconds before each piece."""

    def __init__(self, reply: Any, delay: float, model_id: str = "scripted"):
        super().__init__(reply, model_id=model_id)
        self.delay = delay

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        for piece in super().generate(*args, **kwargs):
            time.sleep(self.delay)
            yield piece


def reply(prompt: str) -> str:
    """A verified answer for the tramway's date; an unverifiable draft otherwise (the
    answer is then the quoted evidence)."""
    if "13 septembre 2025" in prompt and "ouvrira" in prompt:
        return "Le samedi 13 septembre 2025 [1]."
    return "10,5 millions d'euros [2]."


@dataclass
class ChatServer:
    url: str
    index_dir: Path
    demo: Any
    generator: SlowGenerator

    def close(self) -> None:
        self.demo.close()


def start(
    root: Path,
    *,
    delay: float = 0.15,
    auth: list[tuple[str, str]] | None = None,
    allow_dirs: tuple[str, ...] = (),
    allow_host: tuple[str, ...] = (),
    corpus: Path = ARTICLES,
    suggester: Any = None,
    store: Any = None,
) -> ChatServer:
    """The chat on the sample articles; a test may pass its own ``suggester`` (instead of
    ``FollowUps``) and conversation ``store`` (one that takes its time)."""
    from ancre.ui.apiserve import api_routes
    from ancre.ui.app import create_app
    from ancre.ui.chat import WebChat
    from ancre.ui.conversations import ConversationStore
    from ancre.ui.followups import FollowUps
    from ancre.ui.library import Library
    from ancre.ui.openai_api import Gate
    from ancre.ui.serve import ServeSettings, launch

    index_dir = root / "index"
    embedder = HashEmbedder()
    build([corpus], index_dir=index_dir, embedder=embedder)
    retriever = Retriever.open(index_dir, embedder=embedder)
    generator = SlowGenerator(reply, delay, model_id="scripted-1b.gguf")

    def answerers(options: AnswerSettings) -> Answerer:
        return Answerer(retriever, None if options.llm == "none" else generator, options)

    library = Library(
        IndexSettings(index_dir=str(index_dir)), embedder=embedder, allow_dirs=allow_dirs
    )
    # the page, not the models, is tested: what fits is stated whatever the confidence
    settings = AnswerSettings(
        llm="gemma", max_question_chars=300, span_first_above=1.01, state_above=0.0
    )
    chat = WebChat(
        answerers,
        settings,
        store or ConversationStore.beside(index_dir),
        examples=library,
        suggester=suggester or FollowUps(answerers, settings),
    )
    demo = create_app(chat, library)
    settings = ServeSettings(port=free_port(), allow_host=allow_host)
    launch(demo, settings, auth, *api_routes(answerers, chat.settings, Gate([], auth or [])))
    return ChatServer(f"http://127.0.0.1:{settings.port}/", index_dir, demo, generator)
